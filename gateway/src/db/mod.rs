//! The SQLite database: schema migrations (`gateway/migrations`), first-start
//! accounts and the queries of the rest of the gateway. Queries are plain
//! `sqlx::query` calls so that building needs no database.

use std::path::Path;
use std::str::FromStr;

use rand::Rng;
use shared::api::Role;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

use crate::auth;

mod admin;
mod alerts;
mod bans;
mod calls;
mod dids;
mod limits;
mod policy;
mod progress;
mod quality;
mod rates;
pub use admin::*;
pub use alerts::*;
pub use bans::*;
pub use calls::*;
pub use dids::*;
pub use limits::*;
pub use policy::*;
pub use progress::*;
pub use quality::*;
pub use rates::*;

pub type Db = SqlitePool;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Other(String),
}

/// Opens (creating when missing) and migrates the database.
pub async fn open(url: &str) -> Result<Db, DbError> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// The schema's migrations, compiled in.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What first start created, for the console message.
pub struct FirstStart {
    /// Where random passwords were written, when they were generated.
    pub credentials_file: Option<std::path::PathBuf>,
}

/// On an empty database creates `admin`, the demo agent `demo`, the demo
/// carrier and a demo DID ringing `demo` (an upgraded database gets no DID).
/// The passwords come from `GATEWAY_ADMIN_PASSWORD` / `GATEWAY_DEMO_PASSWORD`,
/// or are generated and written to `<data_dir>/initial-credentials.txt` (mode
/// 0600) — never to the log. A weak password from the environment
/// (`crate::password::check`) is refused and nothing is created.
pub async fn seed_if_empty(
    db: &Db,
    data_dir: &Path,
    now: i64,
) -> Result<Option<FirstStart>, DbError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(db)
        .await?;
    if count > 0 {
        return Ok(None);
    }
    let mut generated = Vec::new();
    let mut password_for = |var: &str, user: &str| match std::env::var(var) {
        Ok(p) if !p.is_empty() => p,
        _ => {
            let p = random_password();
            generated.push(format!("{user}\t{p}"));
            p
        }
    };
    let admin_password = password_for("GATEWAY_ADMIN_PASSWORD", "admin");
    let demo_password = password_for("GATEWAY_DEMO_PASSWORD", "demo");
    // A password from the environment meets the rules the admin form
    // applies; a generated one (16 random characters) passes them anyway.
    for (var, user, name, password) in [
        (
            "GATEWAY_ADMIN_PASSWORD",
            "admin",
            "Administrator",
            &admin_password,
        ),
        (
            "GATEWAY_DEMO_PASSWORD",
            "demo",
            "Demo Agent",
            &demo_password,
        ),
    ] {
        crate::password::check(password, &[user, name])
            .map_err(|weak| DbError::Other(format!("{var} is refused: {weak}")))?;
    }
    let admin_hash = hash_blocking(admin_password).await?;
    let demo_hash = hash_blocking(demo_password).await?;
    insert_account(db, "admin", "Administrator", Role::Admin, &admin_hash, now).await?;
    let demo = insert_account(db, "demo", "Demo Agent", Role::Agent, &demo_hash, now).await?;
    let demo_carrier = insert_carrier(db, &demo_carrier_input(), true, now).await?;
    // A number to try an inbound call on: the demo carrier can call it.
    insert_did(
        db,
        &NewDid {
            number: DEMO_DID.to_owned(),
            label: "Demo line".to_owned(),
            carrier_id: demo_carrier,
            target: StoredTarget::Agent(demo),
            enabled: true,
        },
        now,
    )
    .await?;

    let credentials_file = if generated.is_empty() {
        None
    } else {
        let path = data_dir.join("initial-credentials.txt");
        let text = format!(
            "# First-start passwords. Sign in, change them, then delete this file.\n{}\n",
            generated.join("\n")
        );
        write_private(&path, &text)
            .map_err(|e| DbError::Other(format!("cannot write {}: {e}", path.display())))?;
        Some(path)
    };
    Ok(Some(FirstStart { credentials_file }))
}

/// The DID seeded on first start, routed to the `demo` agent.
pub const DEMO_DID: &str = "+14155550150";

/// The built-in demo carrier's row: it answers every number with a tone and
/// then echoes the caller's voice (see `crate::demo_carrier`). Its host and
/// port are wherever the demo carrier listens, so they are placeholders here.
fn demo_carrier_input() -> shared::api::CarrierInput {
    shared::api::CarrierInput {
        name: "Demo carrier".to_owned(),
        host: "127.0.0.1".to_owned(),
        port: 5070,
        transport: shared::api::SipTransport::Udp,
        username: None,
        secret: None,
        from_user: None,
        from_domain: None,
        caller_id: Some("+15550100000".to_owned()),
        codecs: vec!["PCMU".to_owned(), "PCMA".to_owned()],
        priority: 100,
        number_format: shared::api::NumberFormat::E164,
        tech_prefix: String::new(),
        enabled: true,
        // Its address comes from the process (`crate::carriers` adds it).
        inbound_sources: Vec::new(),
        inbound_number_from: shared::api::InboundNumberFrom::RequestUri,
        realm: None,
        weight: 1,
        max_channels: None,
        register: false,
        register_expiry_s: 3600,
        // It is always up: nothing to ask.
        qualify: false,
        qualify_interval_s: 30,
        tls_ca: None,
        srtp: Default::default(),
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

async fn hash_blocking(password: String) -> Result<String, DbError> {
    auth::hash_password_in_turn(password)
        .await
        .map_err(DbError::Other)
}

pub async fn insert_account(
    db: &Db,
    username: &str,
    display_name: &str,
    role: Role,
    password_hash: &str,
    now: i64,
) -> Result<i64, DbError> {
    let id = sqlx::query(
        "INSERT INTO accounts (username, display_name, role, password_hash, created_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(username)
    .bind(display_name)
    .bind(role_str(role))
    .bind(password_hash)
    .bind(now)
    .execute(db)
    .await?
    .last_insert_rowid();
    Ok(id)
}

pub(crate) fn role_str(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Supervisor => "supervisor",
        Role::Agent => "agent",
    }
}

fn parse_role(s: &str) -> Role {
    match s {
        "admin" => Role::Admin,
        "supervisor" => Role::Supervisor,
        // The schema's CHECK constraint allows nothing else.
        _ => Role::Agent,
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub enabled: bool,
    pub max_calls: u32,
    pub local_presence: bool,
    pub created_at: i64,
}

pub(crate) fn account_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Account, sqlx::Error> {
    Ok(Account {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: parse_role(row.try_get::<&str, _>("role")?),
        password_hash: row.try_get("password_hash")?,
        enabled: row.try_get("enabled")?,
        // The API keeps it in 1..=100.
        max_calls: u32::try_from(row.try_get::<i64, _>("max_calls")?).unwrap_or(1),
        local_presence: row.try_get("local_presence")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Every account, by id (for validating DID and ring-group targets).
pub async fn accounts(db: &Db) -> Result<Vec<Account>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id"
    ))
    .fetch_all(db)
    .await?;
    Ok(rows
        .iter()
        .map(account_from_row)
        .collect::<Result<_, _>>()?)
}

/// `failed_sign_ins` and `locked_until` (migration 0001) are no longer
/// read or written: failed sign-ins are counted per source in memory
/// (`http::sign_in_limit`).
pub(crate) const ACCOUNT_COLUMNS: &str = "id, username, display_name, role, password_hash, enabled, \
     max_calls, local_presence, created_at";

pub async fn account_by_id(db: &Db, id: i64) -> Result<Option<Account>, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.as_ref().map(account_from_row).transpose()?)
}

pub async fn account_by_username(db: &Db, username: &str) -> Result<Option<Account>, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username = ?"
    ))
    .bind(username)
    .fetch_optional(db)
    .await?;
    Ok(row.as_ref().map(account_from_row).transpose()?)
}

pub async fn insert_session(
    db: &Db,
    token_hash: &str,
    account_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO web_sessions (token_hash, account_id, created_at, expires_at)
         VALUES (?, ?, ?, ?)",
    )
    .bind(token_hash)
    .bind(account_id)
    .bind(now)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The account behind a live session token hash.
pub async fn session_account(
    db: &Db,
    token_hash: &str,
    now: i64,
) -> Result<Option<Account>, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts
         WHERE id = (SELECT account_id FROM web_sessions WHERE token_hash = ? AND expires_at > ?)
           AND enabled = 1"
    ))
    .bind(token_hash)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(row.as_ref().map(account_from_row).transpose()?)
}

/// Deletes a session and (by cascade) the SIP credentials issued with it.
pub async fn delete_session(db: &Db, token_hash: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM web_sessions WHERE token_hash = ?")
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// A SIP credential as the registrar needs it: HA1 values, never the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipCredentialRecord {
    pub id: i64,
    pub account_id: i64,
    pub session: String,
    pub username: String,
    pub realm: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
    pub expires_at: i64,
}

/// Stores a SIP credential and returns its id.
pub async fn insert_sip_credential(db: &Db, c: &SipCredentialRecord) -> Result<i64, DbError> {
    let id = sqlx::query(
        "INSERT INTO sip_credentials
             (account_id, session, username, realm, ha1_md5, ha1_sha256, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(c.account_id)
    .bind(&c.session)
    .bind(&c.username)
    .bind(&c.realm)
    .bind(&c.ha1_md5)
    .bind(&c.ha1_sha256)
    .bind(c.expires_at)
    .execute(db)
    .await?
    .last_insert_rowid();
    Ok(id)
}

/// Unexpired SIP credentials, loaded into the registrar at start.
pub async fn live_sip_credentials(db: &Db, now: i64) -> Result<Vec<SipCredentialRecord>, DbError> {
    let rows = sqlx::query(
        "SELECT id, account_id, session, username, realm, ha1_md5, ha1_sha256, expires_at
         FROM sip_credentials WHERE expires_at > ?",
    )
    .bind(now)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SipCredentialRecord {
                id: r.try_get("id")?,
                account_id: r.try_get("account_id")?,
                session: r.try_get("session")?,
                username: r.try_get("username")?,
                realm: r.try_get("realm")?,
                ha1_md5: r.try_get("ha1_md5")?,
                ha1_sha256: r.try_get("ha1_sha256")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Removes expired sessions and credentials.
pub async fn purge_expired(db: &Db, now: i64) -> Result<(), DbError> {
    sqlx::query("DELETE FROM web_sessions WHERE expires_at <= ?")
        .bind(now)
        .execute(db)
        .await?;
    sqlx::query("DELETE FROM sip_credentials WHERE expires_at <= ?")
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// Ids of the SIP credentials issued with one session.
pub async fn session_credential_ids(db: &Db, token_hash: &str) -> Result<Vec<i64>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM sip_credentials WHERE session = ?")
            .bind(token_hash)
            .fetch_all(db)
            .await?,
    )
}
