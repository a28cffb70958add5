//! Online backup and restore of the SQLite database, and the lock that
//! keeps two gateways (or a restore) off one data directory.
//!
//! - `gateway --backup-to FILE` copies the database with `VACUUM INTO`
//!   (a consistent snapshot, safe while the gateway runs: SQLite's WAL lets
//!   it read alongside the writers), then opens the copy and checks it
//!   (`PRAGMA integrity_check`, its schema version). An existing FILE is
//!   never overwritten.
//! - `gateway --restore-from FILE` puts a checked backup in place while the
//!   gateway is stopped (it refuses while `<data>/gateway.lock` is held).
//!   The current database is checkpointed and kept beside it as
//!   `gateway.db.before-restore-<unix time>`; a backup from a newer gateway
//!   (a schema this binary does not know) is refused. Migrations bring an
//!   older backup up to date at the next start.
//! - A running gateway holds an exclusive lock on `<data>/gateway.lock`
//!   (`File::try_lock`, an advisory `flock`), released when it exits,
//!   even by SIGKILL.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

/// What a backup holds, as checked after writing (or before restoring) it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub path: PathBuf,
    pub bytes: u64,
    pub schema_version: i64,
    pub call_records: i64,
    pub accounts: i64,
}

impl std::fmt::Display for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} bytes, schema {}, {} accounts, {} call records, integrity ok)",
            self.path.display(),
            self.bytes,
            self.schema_version,
            self.accounts,
            self.call_records
        )
    }
}

/// The database file a `sqlite:` URL names.
pub fn database_file(url: &str) -> Result<PathBuf, String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| format!("{url} is not a SQLite URL"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(format!("{url} names no database file"));
    }
    Ok(PathBuf::from(path))
}

/// Holds `<data>/gateway.lock` while the gateway runs; the lock goes with
/// the process.
pub fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File, String> {
    let path = data_dir.join("gateway.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another gateway is running on {} (it holds {})",
            data_dir.display(),
            path.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

/// The newest migration this binary knows.
pub fn schema_version() -> i64 {
    crate::db::MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or_default()
}

async fn open(path: &Path, read_only: bool) -> Result<SqliteConnection, String> {
    let url = format!("sqlite://{}", path.display());
    let options = SqliteConnectOptions::from_str(&url)
        .map_err(|e| e.to_string())?
        .create_if_missing(false)
        .read_only(read_only)
        .busy_timeout(std::time::Duration::from_secs(10));
    SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// Opens `path` and checks it is a sound database of ours.
pub async fn check(path: &Path) -> Result<Checked, String> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let mut conn = open(path, true).await?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| format!("{} is not a readable database: {e}", path.display()))?;
    if integrity != "ok" {
        return Err(format!("{} is damaged: {integrity}", path.display()));
    }
    let schema_version: i64 = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .map_err(|_| format!("{} is not a gateway database", path.display()))?;
    let count = |table: &'static str| format!("SELECT count(*) FROM {table}");
    let call_records: i64 = sqlx::query_scalar(&count("call_records"))
        .fetch_one(&mut conn)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let accounts: i64 = sqlx::query_scalar(&count("accounts"))
        .fetch_one(&mut conn)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let _ = conn.close().await;
    Ok(Checked {
        path: path.to_path_buf(),
        bytes,
        schema_version,
        call_records,
        accounts,
    })
}

/// `VACUUM INTO to` from the database at `database`, then checks the copy.
pub async fn backup(database: &Path, to: &Path) -> Result<Checked, String> {
    if to.exists() {
        return Err(format!(
            "{} exists: give a new file name (backups never overwrite)",
            to.display()
        ));
    }
    let to_text = to
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", to.display()))?;
    let mut conn = open(database, true).await?;
    sqlx::query("VACUUM INTO ?")
        .bind(to_text)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("backup to {} failed: {e}", to.display()))?;
    let _ = conn.close().await;
    check(to).await
}

/// Puts the backup at `from` in place of `database` (the gateway stopped:
/// `data_dir` must not be locked). Returns the backup's summary and where
/// the previous database was kept.
pub async fn restore(
    data_dir: &Path,
    database: &Path,
    from: &Path,
) -> Result<(Checked, Option<PathBuf>), String> {
    let _lock = lock_data_dir(data_dir).map_err(|e| format!("{e}: stop it first"))?;
    let checked = check(from).await?;
    let ours = schema_version();
    if checked.schema_version > ours {
        return Err(format!(
            "{} is from a newer gateway (schema {}, this one knows up to {ours})",
            from.display(),
            checked.schema_version
        ));
    }
    // A consistent copy next to the database first, so that a failure
    // leaves the current one untouched.
    let staged = database.with_extension("db.restoring");
    let _ = std::fs::remove_file(&staged);
    backup(from, &staged).await?;
    let kept = if database.exists() {
        // Everything committed goes into the main file before it moves.
        let mut conn = open(database, false).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .map_err(|e| format!("checkpointing {}: {e}", database.display()))?;
        let _ = conn.close().await;
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let kept = PathBuf::from(format!("{}.before-restore-{unix}", database.display()));
        std::fs::rename(database, &kept)
            .map_err(|e| format!("moving {} aside: {e}", database.display()))?;
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", database.display()));
            if side.exists() {
                std::fs::remove_file(&side)
                    .map_err(|e| format!("removing {}: {e}", side.display()))?;
            }
        }
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&staged, database).map_err(|e| format!("putting the backup in place: {e}"))?;
    Ok((checked, kept))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn database_files_come_from_sqlite_urls() {
        assert_eq!(
            database_file("sqlite:///var/lib/dialer/gateway.db?mode=rwc").unwrap(),
            PathBuf::from("/var/lib/dialer/gateway.db")
        );
        assert_eq!(
            database_file("sqlite:data/gateway.db").unwrap(),
            PathBuf::from("data/gateway.db")
        );
        assert!(database_file("postgres://x").is_err());
        assert!(database_file("sqlite::memory:").is_err());
    }

    #[test]
    fn a_locked_data_dir_cannot_be_locked_twice() {
        let dir = std::env::temp_dir().join(format!("gw-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let held = lock_data_dir(&dir).unwrap();
        let again = lock_data_dir(&dir).unwrap_err();
        assert!(again.contains("another gateway is running"), "{again}");
        drop(held);
        lock_data_dir(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_schema_version_is_the_newest_migration() {
        assert!(schema_version() >= 13);
    }
}
