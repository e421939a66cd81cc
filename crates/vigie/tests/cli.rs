//! End-to-end tests of the `vigie` binary: each test runs the real compiled
//! binary against a temporary data directory (no mocks), and the feed tests
//! against a small HTTP server on 127.0.0.1.
//!
//! One test binary with a module per area (ripgrep style), so the binary and
//! the helpers are built once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

#[path = "cli/alerts.rs"]
mod alerts;
#[path = "cli/analysis.rs"]
mod analysis;
#[path = "cli/analyze.rs"]
mod analyze;
#[path = "cli/bad_input.rs"]
mod bad_input;
#[path = "cli/bench.rs"]
mod bench;
#[path = "cli/collect.rs"]
mod collect;
#[path = "cli/crash.rs"]
mod crash;
#[path = "cli/demo.rs"]
mod demo;
#[path = "cli/detect.rs"]
mod detect;
#[path = "cli/eval.rs"]
mod eval;
#[path = "cli/export.rs"]
mod export;
#[path = "cli/help.rs"]
mod help;
#[path = "cli/import.rs"]
mod import;
#[path = "cli/migrate.rs"]
mod migrate;
#[path = "cli/search.rs"]
mod search;
#[path = "cli/sources.rs"]
mod sources;
#[path = "cli/users.rs"]
mod users;
#[path = "cli/watch.rs"]
mod watch;
#[path = "cli/worker.rs"]
mod worker;
