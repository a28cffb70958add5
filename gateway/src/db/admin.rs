//! Administration: accounts as the API manages them, caller IDs and
//! campaigns (and the dialing profile made from them), API tokens, the audit
//! log, and the call intervals channel counts are computed from.

use std::collections::HashMap;

use shared::api::{
    ApiToken, AuditEntry, CallerIdChoice, Campaign, CampaignChoice, DialingProfile, Role,
};
use sqlx::Row;

use super::{ACCOUNT_COLUMNS, Account, Db, DbError, UpdateOutcome, account_from_row, role_str};

// ---------------------------------------------------------------- accounts

/// A validated account, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSettings {
    pub display_name: String,
    pub role: Role,
    pub enabled: bool,
    pub max_calls: u32,
    pub local_presence: bool,
}

/// Accounts with `id > after`, by id.
pub async fn accounts_page(
    db: &Db,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<Account>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id > ? ORDER BY id LIMIT ?"
    ))
    .bind(after.unwrap_or(0))
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows
        .iter()
        .map(account_from_row)
        .collect::<Result<_, _>>()?)
}

/// Inserts an account; `None` when the username is taken.
pub async fn create_account(
    db: &Db,
    username: &str,
    settings: &AccountSettings,
    password_hash: &str,
    now: i64,
) -> Result<Option<i64>, DbError> {
    let result = sqlx::query(
        "INSERT INTO accounts (username, display_name, role, password_hash, enabled, max_calls,
             local_presence, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(username)
    .bind(&settings.display_name)
    .bind(role_str(settings.role))
    .bind(password_hash)
    .bind(settings.enabled)
    .bind(i64::from(settings.max_calls))
    .bind(settings.local_presence)
    .bind(now)
    .execute(db)
    .await;
    match result {
        Ok(r) => Ok(Some(r.last_insert_rowid())),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub async fn update_account(
    db: &Db,
    id: i64,
    settings: &AccountSettings,
) -> Result<UpdateOutcome, DbError> {
    let r = sqlx::query(
        "UPDATE accounts SET display_name = ?, role = ?, enabled = ?, max_calls = ?,
             local_presence = ?
         WHERE id = ?",
    )
    .bind(&settings.display_name)
    .bind(role_str(settings.role))
    .bind(settings.enabled)
    .bind(i64::from(settings.max_calls))
    .bind(settings.local_presence)
    .bind(id)
    .execute(db)
    .await?;
    Ok(if r.rows_affected() == 0 {
        UpdateOutcome::NotFound
    } else {
        UpdateOutcome::Updated
    })
}

/// Sets a new password hash; false when there is no such account.
pub async fn set_password(db: &Db, id: i64, password_hash: &str) -> Result<bool, DbError> {
    let r = sqlx::query("UPDATE accounts SET password_hash = ? WHERE id = ?")
        .bind(password_hash)
        .bind(id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Ends every web session of an account; returns the ids of the SIP
/// credentials that went with them (deleted by cascade), for the registrar.
pub async fn end_account_sessions(db: &Db, account_id: i64) -> Result<Vec<i64>, DbError> {
    let mut tx = db.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM sip_credentials WHERE account_id = ?")
        .bind(account_id)
        .fetch_all(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sip_credentials WHERE account_id = ?")
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM web_sessions WHERE account_id = ?")
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(ids)
}

/// Enabled admins other than `except`.
pub async fn other_enabled_admins(db: &Db, except: i64) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM accounts WHERE role = 'admin' AND enabled = 1 AND id != ?",
    )
    .bind(except)
    .fetch_one(db)
    .await?)
}

/// Accounts holding an unexpired SIP credential (signed in with a phone).
pub async fn signed_in_accounts(db: &Db, now: i64) -> Result<Vec<i64>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT account_id FROM sip_credentials WHERE expires_at > ? ORDER BY account_id",
    )
    .bind(now)
    .fetch_all(db)
    .await?)
}

// -------------------------------------------------------------- caller IDs

/// An agent's own caller IDs as stored (whether or not they are still
/// enabled DIDs): the default, and the allowed list.
pub async fn own_caller_ids(
    db: &Db,
    account_id: i64,
) -> Result<(Option<String>, Vec<CallerIdChoice>), DbError> {
    let rows = sqlx::query(
        "SELECT number, label, is_default, allowed FROM agent_caller_ids
         WHERE account_id = ? ORDER BY is_default DESC, number",
    )
    .bind(account_id)
    .fetch_all(db)
    .await?;
    let mut default = None;
    let mut allowed = Vec::with_capacity(rows.len());
    for row in &rows {
        let number: String = row.try_get("number")?;
        if row.try_get::<bool, _>("is_default")? && default.is_none() {
            default = Some(number.clone());
        }
        if !row.try_get::<bool, _>("allowed")? {
            continue;
        }
        allowed.push(CallerIdChoice {
            number,
            label: row.try_get("label")?,
        });
    }
    Ok((default, allowed))
}

/// Replaces an agent's caller IDs. A default that is not in `allowed` (a
/// campaign's number) is stored as a row of its own that only marks the
/// default (`allowed = 0`).
pub async fn replace_caller_ids(
    db: &Db,
    account_id: i64,
    default: Option<&str>,
    allowed: &[CallerIdChoice],
) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM agent_caller_ids WHERE account_id = ?")
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    let mut rows: Vec<(&str, &str, bool, bool)> = allowed
        .iter()
        .map(|c| {
            let is_default = Some(c.number.as_str()) == default;
            (c.number.as_str(), c.label.as_str(), is_default, true)
        })
        .collect();
    if let Some(d) = default
        && !allowed.iter().any(|c| c.number == d)
    {
        rows.push((d, "", true, false));
    }
    for (number, label, is_default, allowed) in rows {
        sqlx::query(
            "INSERT INTO agent_caller_ids (account_id, number, label, is_default, allowed)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(account_id)
        .bind(number)
        .bind(label)
        .bind(is_default)
        .bind(allowed)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The enabled DIDs' labels by number: the numbers that may be presented.
pub async fn enabled_did_labels(db: &Db) -> Result<HashMap<String, String>, DbError> {
    let rows = sqlx::query("SELECT number, label FROM dids WHERE enabled = 1")
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("number")?, r.try_get("label")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// The numbers an agent may present through campaigns (enabled DIDs only),
/// labelled with the campaign's name.
pub async fn campaign_caller_ids(db: &Db, account_id: i64) -> Result<Vec<CallerIdChoice>, DbError> {
    let rows = sqlx::query(
        "SELECT n.number, MIN(c.name) AS campaign FROM campaign_agents a
         JOIN campaigns c ON c.id = a.campaign_id
         JOIN campaign_numbers n ON n.campaign_id = a.campaign_id
         JOIN dids d ON d.number = n.number AND d.enabled = 1
         WHERE a.account_id = ? GROUP BY n.number ORDER BY n.number",
    )
    .bind(account_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CallerIdChoice {
                number: r.try_get("number")?,
                label: r.try_get("campaign")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// The agent's campaigns with their numbers that are enabled DIDs, by name;
/// a campaign without one is left out (there is nothing it could present).
pub async fn agent_campaigns(db: &Db, account_id: i64) -> Result<Vec<CampaignChoice>, DbError> {
    let rows = sqlx::query(
        "SELECT c.id, c.name, n.number FROM campaign_agents a
         JOIN campaigns c ON c.id = a.campaign_id
         JOIN campaign_numbers n ON n.campaign_id = c.id
         JOIN dids d ON d.number = n.number AND d.enabled = 1
         WHERE a.account_id = ? ORDER BY c.name, c.id, n.number",
    )
    .bind(account_id)
    .fetch_all(db)
    .await?;
    let mut campaigns: Vec<CampaignChoice> = Vec::new();
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        let number: String = r.try_get("number")?;
        match campaigns.last_mut() {
            Some(last) if last.id == id => last.numbers.push(number),
            _ => campaigns.push(CampaignChoice {
                id,
                name: r.try_get("name")?,
                numbers: vec![number],
            }),
        }
    }
    Ok(campaigns)
}

/// What an agent's phone may dial with: the agent's own caller IDs and
/// their campaigns' numbers, each only while it is an enabled DID (the
/// owned-number check holds even after a DID is removed), and the default
/// if it is one of them.
pub async fn dialing_profile(
    db: &Db,
    account_id: i64,
    default_country: &str,
) -> Result<DialingProfile, DbError> {
    let owned = enabled_did_labels(db).await?;
    let (default, own) = own_caller_ids(db, account_id).await?;
    let campaigns = campaign_caller_ids(db, account_id).await?;
    let mut caller_ids: Vec<CallerIdChoice> = Vec::with_capacity(own.len() + campaigns.len());
    for choice in own.into_iter().chain(campaigns) {
        let Some(did_label) = owned.get(&choice.number) else {
            continue;
        };
        if caller_ids.iter().any(|c| c.number == choice.number) {
            continue;
        }
        let label = if choice.label.is_empty() {
            did_label.clone()
        } else {
            choice.label
        };
        caller_ids.push(CallerIdChoice {
            number: choice.number,
            label,
        });
    }
    let default_caller_id = default.filter(|d| caller_ids.iter().any(|c| &c.number == d));
    Ok(DialingProfile {
        default_country: default_country.to_owned(),
        caller_ids,
        default_caller_id,
        // Set by the caller (`http::agents::agent_info`).
        local_presence: false,
        destination_policies: Vec::new(),
        campaigns: agent_campaigns(db, account_id).await?,
        prefix_list: None,
    })
}

// --------------------------------------------------------------- campaigns

/// A validated campaign, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCampaign {
    pub name: String,
    /// E.164 numbers, each an enabled DID.
    pub numbers: Vec<String>,
    pub account_ids: Vec<i64>,
}

pub async fn campaigns_page(
    db: &Db,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<Campaign>, DbError> {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM campaigns WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after.unwrap_or(0))
            .bind(limit)
            .fetch_all(db)
            .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(c) = campaign(db, id).await? {
            out.push(c);
        }
    }
    Ok(out)
}

pub async fn campaign(db: &Db, id: i64) -> Result<Option<Campaign>, DbError> {
    let Some(row) = sqlx::query("SELECT id, name, created_at FROM campaigns WHERE id = ?")
        .bind(id)
        .fetch_optional(db)
        .await?
    else {
        return Ok(None);
    };
    let numbers = sqlx::query_scalar(
        "SELECT number FROM campaign_numbers WHERE campaign_id = ? ORDER BY number",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    let agents = sqlx::query_scalar(
        "SELECT a.username FROM campaign_agents c JOIN accounts a ON a.id = c.account_id
         WHERE c.campaign_id = ? ORDER BY a.username",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    Ok(Some(Campaign {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        numbers,
        agents,
        created_at: row.try_get("created_at")?,
    }))
}

/// The account ids of a campaign's agents.
pub async fn campaign_account_ids(db: &Db, id: i64) -> Result<Vec<i64>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT account_id FROM campaign_agents WHERE campaign_id = ?")
            .bind(id)
            .fetch_all(db)
            .await?,
    )
}

async fn replace_campaign_members(
    tx: &mut sqlx::SqliteConnection,
    id: i64,
    campaign: &NewCampaign,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM campaign_numbers WHERE campaign_id = ?")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM campaign_agents WHERE campaign_id = ?")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    for number in &campaign.numbers {
        sqlx::query("INSERT INTO campaign_numbers (campaign_id, number) VALUES (?, ?)")
            .bind(id)
            .bind(number)
            .execute(&mut *tx)
            .await?;
    }
    for account_id in &campaign.account_ids {
        sqlx::query("INSERT INTO campaign_agents (campaign_id, account_id) VALUES (?, ?)")
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Inserts a campaign; `None` when the name is taken.
pub async fn insert_campaign(
    db: &Db,
    campaign: &NewCampaign,
    now: i64,
) -> Result<Option<i64>, DbError> {
    let mut tx = db.begin().await?;
    let result = sqlx::query("INSERT INTO campaigns (name, created_at) VALUES (?, ?)")
        .bind(&campaign.name)
        .bind(now)
        .execute(&mut *tx)
        .await;
    let id = match result {
        Ok(r) => r.last_insert_rowid(),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    replace_campaign_members(&mut tx, id, campaign).await?;
    tx.commit().await?;
    Ok(Some(id))
}

pub async fn update_campaign(
    db: &Db,
    id: i64,
    campaign: &NewCampaign,
) -> Result<UpdateOutcome, DbError> {
    let mut tx = db.begin().await?;
    let result = sqlx::query("UPDATE campaigns SET name = ? WHERE id = ?")
        .bind(&campaign.name)
        .bind(id)
        .execute(&mut *tx)
        .await;
    match result {
        Ok(r) if r.rows_affected() == 0 => return Ok(UpdateOutcome::NotFound),
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Ok(UpdateOutcome::NameTaken);
        }
        Err(e) => return Err(e.into()),
    }
    replace_campaign_members(&mut tx, id, campaign).await?;
    tx.commit().await?;
    Ok(UpdateOutcome::Updated)
}

pub async fn delete_campaign(db: &Db, id: i64) -> Result<bool, DbError> {
    let r = sqlx::query("DELETE FROM campaigns WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() > 0)
}

// -------------------------------------------------------------- API tokens

const TOKEN_SELECT: &str = "SELECT t.id, t.name, a.username, t.created_at, t.last_used_at, \
     t.revoked FROM api_tokens t JOIN accounts a ON a.id = t.account_id";

fn token_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<ApiToken, sqlx::Error> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        account: row.try_get("username")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked: row.try_get("revoked")?,
    })
}

/// Stores a token's hash; returns its id.
pub async fn insert_api_token(
    db: &Db,
    account_id: i64,
    name: &str,
    token_hash: &str,
    now: i64,
) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO api_tokens (account_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(account_id)
    .bind(name)
    .bind(token_hash)
    .bind(now)
    .execute(db)
    .await?
    .last_insert_rowid())
}

pub async fn api_tokens_page(
    db: &Db,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<ApiToken>, DbError> {
    let rows = sqlx::query(&format!(
        "{TOKEN_SELECT} WHERE t.id > ? ORDER BY t.id LIMIT ?"
    ))
    .bind(after.unwrap_or(0))
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.iter().map(token_from_row).collect::<Result<_, _>>()?)
}

pub async fn api_token(db: &Db, id: i64) -> Result<Option<ApiToken>, DbError> {
    let row = sqlx::query(&format!("{TOKEN_SELECT} WHERE t.id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.as_ref().map(token_from_row).transpose()?)
}

/// Revokes a token (the row stays, for the record); false when there is no
/// such token.
pub async fn revoke_api_token(db: &Db, id: i64) -> Result<bool, DbError> {
    let r = sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// The enabled account behind an unrevoked token hash; notes the use.
pub async fn api_token_account(
    db: &Db,
    token_hash: &str,
    now: i64,
) -> Result<Option<Account>, DbError> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM api_tokens WHERE token_hash = ? AND revoked = 0")
            .bind(token_hash)
            .fetch_optional(db)
            .await?;
    let Some(id) = id else {
        return Ok(None);
    };
    sqlx::query("UPDATE api_tokens SET last_used_at = ? WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts
         WHERE id = (SELECT account_id FROM api_tokens WHERE id = ?) AND enabled = 1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.as_ref().map(account_from_row).transpose()?)
}

// --------------------------------------------------------------- audit log

/// One audit row, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: Option<String>,
    pub old_json: Option<String>,
    pub new_json: Option<String>,
}

pub async fn insert_audit(db: &Db, at_ms: i64, e: &NewAuditEntry<'_>) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, old_json, new_json)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(at_ms)
    .bind(e.actor)
    .bind(e.action)
    .bind(e.entity)
    .bind(&e.entity_id)
    .bind(&e.old_json)
    .bind(&e.new_json)
    .execute(db)
    .await?;
    Ok(())
}

/// Newest first, ids below `before`; only `entity` when given.
pub async fn audit_page(
    db: &Db,
    before: Option<i64>,
    entity: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditEntry>, DbError> {
    let rows = sqlx::query(
        "SELECT id, at, actor, action, entity, entity_id, old_json, new_json FROM audit_log
         WHERE id < ? AND (?2 IS NULL OR entity = ?2) ORDER BY id DESC LIMIT ?3",
    )
    .bind(before.unwrap_or(i64::MAX))
    .bind(entity)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                entity: r.try_get("entity")?,
                entity_id: r.try_get("entity_id")?,
                old_json: r.try_get("old_json")?,
                new_json: r.try_get("new_json")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

// ---------------------------------------------------------------- channels

/// A call's span on a carrier, for channel counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallSpan {
    /// Unix ms.
    pub start: i64,
    pub end: i64,
}

/// The calls on carrier `carrier_id` that were up at some point at or after
/// `since_ms` (a span that began earlier is cut at `since_ms`).
pub async fn carrier_call_spans_since(
    db: &Db,
    carrier_id: i64,
    since_ms: i64,
) -> Result<Vec<CallSpan>, DbError> {
    let rows = sqlx::query(
        "SELECT invite_at, ended_at FROM call_records WHERE carrier_id = ? AND ended_at >= ?",
    )
    .bind(carrier_id)
    .bind(since_ms)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CallSpan {
                start: r.try_get::<i64, _>("invite_at")?.max(since_ms),
                end: r.try_get("ended_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}
