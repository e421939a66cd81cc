//! Test helpers shared by Vigie's crates (dev-dependency only).
//!
//! [`http::TestServer`]: a tiny HTTP/1.1 server on 127.0.0.1, hand-written on
//! a tokio `TcpListener` rather than a framework because the tests need
//! responses no well-behaved server sends: bodies that trickle a byte a
//! second, endless chunked bodies, lying headers. It runs on its own thread
//! and runtime, so synchronous tests (which block on a `vigie` process) and
//! async tests use it alike. One request per connection (`Connection: close`).
//!
//! [`browser::Browser`]: a headless Chromium driven through chromedriver, for
//! end-to-end tests of the web UI; it skips (returns `None`) where no browser
//! is installed, unless `CI` is set.
//!
//! [`smtp::SmtpServer`]: a real SMTP server (aiosmtpd) on 127.0.0.1 that
//! keeps what it accepted, or refuses or defers on purpose.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod browser;
pub mod http;
pub mod smtp;
