//! `gateway --backup-to` copies the database of a running gateway and
//! checks the copy; `--restore-from` is refused while a gateway runs on the
//! data directory, and once it has stopped puts the backup back (the old
//! database kept aside); a second gateway on the same data directory is
//! refused. All through the real binary on a real SQLite file.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use sqlx::Connection;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gw-backup-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gateway(data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GATEWAY_") {
            command.env_remove(&key);
        }
    }
    command
        .env("GATEWAY_ADMIN_PASSWORD", "Backup-admin-pass-1")
        .env("GATEWAY_DEMO_PASSWORD", "Backup-demo-pass-1")
        .args(["--http-listen", "127.0.0.1:0"])
        .args(["--sip-udp", "127.0.0.1:0", "--sip-tcp", "127.0.0.1:0"])
        .args(["--advertised-address", "127.0.0.1"])
        .arg("--data-dir")
        .arg(data);
    command
}

/// Starts the gateway and waits for its ready line.
fn start(data: &Path) -> Child {
    let mut child = gateway(data)
        .args(["--demo-carrier", "false"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(line.starts_with("gateway ready"), "{line:?}");
    child
}

fn run(data: &Path, args: &[&str]) -> Output {
    gateway(data).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn accounts(db: &Path) -> i64 {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query_scalar("SELECT count(*) FROM accounts")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn backup_while_running_restore_once_stopped() {
    let data = scratch("data");
    let backups = scratch("out");
    let file = backups.join("monday.db");
    let mut running = start(&data);

    // One gateway per data directory.
    let second = run(&data, &[]);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    assert!(
        text(&second).contains("another gateway is running"),
        "{}",
        text(&second)
    );

    // An online backup, checked.
    let out = run(&data, &["--backup-to", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.starts_with("backup written: "), "{said}");
    assert!(
        said.contains("integrity ok") && said.contains("2 accounts"),
        "{said}"
    );
    // Never over an existing file.
    let again = run(&data, &["--backup-to", file.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("never overwrite"), "{}", text(&again));

    // No restore under a running gateway.
    let refused = run(&data, &["--restore-from", file.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused).contains("stop it first"),
        "{}",
        text(&refused)
    );

    // Killed outright: the lock goes with the process.
    running.kill().unwrap();
    running.wait().unwrap();
    let db = data.join("gateway.db");
    {
        // The database changes after the backup (an account goes).
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query("DELETE FROM accounts WHERE username = 'demo'")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    assert_eq!(accounts(&db).await, 1);

    let restored = run(&data, &["--restore-from", file.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", text(&restored));
    assert!(text(&restored).contains("previous database is kept as"));
    assert_eq!(accounts(&db).await, 2, "the backup's accounts are back");
    let kept: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("before-restore"))
        .collect();
    assert_eq!(kept.len(), 1, "the replaced database is kept");
    assert_eq!(accounts(&kept[0].path()).await, 1);

    // A damaged file is not restored.
    let junk = backups.join("junk.db");
    std::fs::write(&junk, b"not a database at all").unwrap();
    let bad = run(&data, &["--restore-from", junk.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert_eq!(accounts(&db).await, 2, "nothing changed");

    // And the gateway starts on the restored database.
    let mut back = start(&data);
    back.kill().unwrap();
    back.wait().unwrap();
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_dir_all(&backups);
}
