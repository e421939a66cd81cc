//! One module per subcommand.

pub mod alert;
pub mod analyze;
pub mod bench;
pub mod bench_alerts;
pub mod bench_analyze;
pub mod bench_collect;
pub mod bench_web;
pub mod collect;
pub mod demo;
pub mod detect;
pub mod eval;
pub mod eval_sentiment;
pub mod eval_spikes;
pub mod export;
pub mod import;
pub mod mention;
pub mod models;
pub mod reanalyze;
pub mod search;
pub mod serve;
pub mod source;
pub mod theme;
pub mod token;
pub mod train;
pub mod user;
pub mod watch;
