#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

//! PostgreSQL for the store's integration tests: a fresh schema per test.

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Runs `body` with the URL of the test server and a fresh schema name, then
/// drops the schema, whatever `body` did. Without a reachable server: skipped
/// (with the reason on stderr), or failed when `CI` is set.
pub async fn with_postgres<F, Fut>(body: F)
where
    F: FnOnce(String, String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use sqlx::Connection;
    use std::hash::{BuildHasher, Hasher};
    use std::io::Write;
    let url = std::env::var("VIGIE_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string());
    let reachable = tokio::time::timeout(std::time::Duration::from_secs(10), sqlx::PgConnection::connect(&url)).await;
    let reason = match reachable {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            None
        }
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("no answer within 10 s".to_string()),
    };
    if let Some(reason) = reason {
        if std::env::var_os("CI").is_some() {
            panic!("PostgreSQL at {url} is required when CI is set: {reason}");
        }
        // Straight to stderr: the test harness would hide eprintln! output of a passing test.
        let _ = writeln!(std::io::stderr(), "PostgreSQL tests skipped: {reason} ({url}; set VIGIE_TEST_PG_URL)");
        return;
    }
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let schema = format!("vigie_test_{}_{random:016x}", std::process::id());
    // Run in a task, so that a failure still drops the schema.
    let outcome = tokio::spawn(body(url.clone(), schema.clone())).await;
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("reconnect to drop the test schema");
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")))
        .execute(&mut conn)
        .await
        .expect("drop the test schema");
    let _ = conn.close().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the PostgreSQL suite did not finish: {e}"),
        }
    }
}
