//! One module per subcommand.

pub mod bench;
pub mod collect;
pub mod demo;
pub mod eval;
pub mod export;
pub mod import;
pub mod search;
pub mod source;
pub mod watch;
