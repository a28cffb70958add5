//! Every earlier schema upgrades to the current one: for each migration N,
//! a real SQLite file is brought to N alone (the first N files of
//! `migrations/`, through sqlx's own migrator), given the data that schema
//! can hold (an account from 0001, a carrier from 0002), then opened by the
//! gateway (`db::open`, all migrations); the data is still there and the
//! current schema takes a first start and a call record.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use sqlx::sqlite::SqlitePoolOptions;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gw-migrate-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn migration_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn every_earlier_schema_upgrades_with_its_data() {
    let files = migration_files();
    assert_eq!(
        files.len() as i64,
        gateway::backup::schema_version(),
        "migrations are numbered 1..=N without gaps"
    );
    for n in 0..files.len() {
        let dir = scratch(&format!("v{n}"));
        let partial = dir.join("migrations");
        std::fs::create_dir_all(&partial).unwrap();
        for file in &files[..n] {
            std::fs::copy(file, partial.join(file.file_name().unwrap())).unwrap();
        }
        let url = format!("sqlite://{}?mode=rwc", dir.join("gateway.db").display());
        {
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .unwrap();
            if n > 0 {
                sqlx::migrate::Migrator::new(partial.as_path())
                    .await
                    .unwrap()
                    .run(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("schema {n}: {e}"));
            }
            if n >= 1 {
                sqlx::query(
                    "INSERT INTO accounts (username, display_name, role, password_hash, created_at)
                     VALUES ('old_agent', 'Old Agent', 'agent', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', 1)",
                )
                .execute(&pool)
                .await
                .unwrap();
            }
            if n >= 2 {
                sqlx::query("INSERT INTO carriers (name, host, created_at) VALUES ('Old Carrier', 'sip.old.example', 1)")
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        }

        let db = gateway::db::open(&url)
            .await
            .unwrap_or_else(|e| panic!("upgrading from schema {n}: {e}"));
        let old_agent: i64 =
            sqlx::query_scalar("SELECT count(*) FROM accounts WHERE username = 'old_agent'")
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(
            old_agent,
            i64::from(n >= 1),
            "schema {n}: the account survives"
        );
        let old_carrier: i64 =
            sqlx::query_scalar("SELECT count(*) FROM carriers WHERE name = 'Old Carrier'")
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(
            old_carrier,
            i64::from(n >= 2),
            "schema {n}: the carrier survives"
        );
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
