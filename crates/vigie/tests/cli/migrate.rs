//! `vigie migrate --to postgres://…`: an installation moved from its SQLite
//! file to PostgreSQL reads back the same through every command.

use crate::support::{PgSchema, Vigie, testdata};

#[test]
fn an_installation_moves_to_postgres_and_reads_back_the_same() {
    let Some(pg) = PgSchema::create() else { return };
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Delta", "--query", "delta OR @delta"]).success();
    vigie.run(&["import", testdata("mentions.jsonl").as_str()]).code(1); // 3 bad lines in it
    vigie.run(&["user", "add", "marie", "--name", "Marie Dupont", "--role", "agent"]).success();
    vigie.run(&["token", "create", "zapier"]).success();
    let before = vigie.run(&["export", "--format", "jsonl"]).success().stdout;
    assert!(before.lines().count() > 5);
    let search = ["search", "delta", "--limit", "100", "--format", "json"];
    let searched = vigie.run(&search).success().stdout;

    let run = vigie.run(&["migrate", "--to", &pg.url()]).success();
    assert!(run.stdout.contains("migrated: every table matches"), "{}", run.stdout);
    let mentions = run.stdout.lines().find(|l| l.starts_with("mentions ")).expect("a line for mentions");
    let n = before.lines().count().to_string();
    assert_eq!(mentions.split_whitespace().take(3).collect::<Vec<_>>(), vec!["mentions", n.as_str(), n.as_str()]);
    assert!(mentions.ends_with(" ok"), "{mentions}");
    assert!(!run.stdout.contains("DIFFERS"));
    // Not on a terminal, the progress is a line per table.
    assert!(run.stderr.contains("copying mentions (") && run.stderr.contains("checking mentions ("), "{}", run.stderr);

    // Every command now reads PostgreSQL: the same export, the same search.
    let url = pg.url();
    let on_pg = |args: &[&str]| {
        let mut all = vec!["--database-url", url.as_str()];
        all.extend_from_slice(args);
        vigie.run(&all).success().stdout
    };
    assert_eq!(on_pg(&["export", "--format", "jsonl"]), before);
    assert_eq!(on_pg(&search), searched);
    assert!(on_pg(&["user", "list"]).contains("marie"));
    assert!(on_pg(&["token", "list"]).contains("zapier"));
    // New rows take new ids (the sequences start past the copied ones).
    on_pg(&["watch", "add", "United", "--query", "united"]);

    // Without the URL, commands refuse the SQLite copy left behind (a
    // forgotten cron line would collect and notify from it), until the
    // note is deleted.
    let stale = vigie.run(&["collect", "--once"]).code(2);
    assert!(stale.stderr.contains("This installation moved to PostgreSQL"), "{}", stale.stderr);
    assert!(stale.stderr.contains("--database-url or VIGIE_DATABASE_URL"), "{}", stale.stderr);
    // Migrating the stale copy again is refused as well.
    let again = vigie.run(&["migrate", "--to", &pg.url()]).code(2);
    assert!(again.stderr.contains("Migrating that copy again would bring back"), "{}", again.stderr);
    std::fs::remove_file(vigie.data_dir().join("MOVED-TO-POSTGRESQL")).unwrap();
    vigie.run(&["watch", "list"]).success();

    // A second run is refused: the target is not empty any more.
    let again = vigie.run(&["migrate", "--to", &pg.url()]).code(2);
    assert!(again.stderr.contains("the target database is not empty"), "{}", again.stderr);

    // Nothing to migrate, or a target that is not PostgreSQL: usage errors.
    let empty = Vigie::new();
    let none = empty.run(&["migrate", "--to", &pg.url()]).code(2);
    assert!(none.stderr.contains("there is no SQLite store to migrate"), "{}", none.stderr);
    assert!(vigie.run(&["migrate", "--to", "mysql://x"]).code(2).stderr.contains("must be a postgres:// URL"));
}

#[test]
fn an_unreachable_database_is_named_with_the_reason_at_once() {
    let vigie = Vigie::new();
    let started = std::time::Instant::now();
    // Nothing listens on port 1 of the loopback address.
    let run = vigie.run(&["--database-url", "postgres://vigie@127.0.0.1:1/vigie", "watch", "list"]).code(1);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "not after the pool's 30 s time-out");
    assert!(
        run.stderr.contains("cannot connect to PostgreSQL at 127.0.0.1:1 (database \"vigie\", user \"vigie\")"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("refused"), "{}", run.stderr);
}

#[test]
fn postgres_over_tls() {
    let Some(pg) = PgSchema::create() else { return };
    let ssl: String = pg.with(async |conn| sqlx::query_scalar("SHOW ssl").fetch_one(&mut *conn).await.unwrap());
    if ssl != "on" {
        eprintln!("TLS test skipped: this PostgreSQL server does not offer TLS (ssl = {ssl})");
        return;
    }
    let vigie = Vigie::new();
    let url = format!("{}&sslmode=require", pg.url());
    vigie.run(&["--database-url", &url, "watch", "add", "Acme", "--query", "acme"]).success();
    assert!(vigie.run(&["--database-url", &url, "watch", "list"]).success().stdout.contains("Acme"));
    // Certificates are checked when asked: a self-signed server certificate
    // (Debian's default) is refused by verify-full.
    let strict = format!("{}&sslmode=verify-full", pg.url());
    let refused = vigie.run(&["--database-url", &strict, "watch", "list"]).code(1);
    assert!(refused.stderr.contains("cannot connect to PostgreSQL"), "{}", refused.stderr);
}

#[test]
fn a_database_upgraded_by_a_newer_vigie_is_named_as_such() {
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    vigie.with_db(async |pool| {
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99, 'from the future', TRUE, x'00', 0)",
        )
        .execute(pool)
        .await
        .unwrap();
    });
    let run = vigie.run(&["watch", "list"]).code(1);
    assert!(run.stderr.contains("upgraded by a newer Vigie (its schema has migration 99"), "{}", run.stderr);
}

#[test]
fn a_role_that_may_not_create_tables_runs_on_an_up_to_date_database() {
    let Some(pg) = PgSchema::create() else { return };
    let vigie = Vigie::new();
    // The schema made by a role that may (here the server's superuser).
    vigie.run(&["--database-url", &pg.url(), "watch", "add", "Acme", "--query", "acme"]).success();
    let role = format!("vigie_rw_{}", std::process::id());
    let schema = pg.name.clone();
    let grants = [
        format!("CREATE ROLE \"{role}\" LOGIN"),
        format!("GRANT USAGE ON SCHEMA \"{schema}\" TO \"{role}\""),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"{schema}\" TO \"{role}\""),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA \"{schema}\" TO \"{role}\""),
    ];
    pg.with(async |conn| {
        for sql in &grants {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(&mut *conn).await.unwrap();
        }
    });
    let url = pg.url().replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    assert!(url.contains(&role), "{url}");
    let list = vigie.run(&["--database-url", &url, "watch", "list"]);
    let add = vigie.run(&["--database-url", &url, "watch", "add", "Rival", "--query", "rival"]);
    pg.with(async |conn| {
        for sql in [format!("DROP OWNED BY \"{role}\""), format!("DROP ROLE \"{role}\"")] {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *conn).await.unwrap();
        }
    });
    assert!(list.success().stdout.contains("Acme"));
    add.success();
}
