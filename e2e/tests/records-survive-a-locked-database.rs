//! The database refuses writes mid-shift (another process holds SQLite's
//! write lock, as a backup tool or a stuck admin session would): calls go
//! on, their records wait in the gateway, `/healthz` says `degraded` with
//! the count and the reason, and once the lock is gone every record is
//! stored, in order, and an alert tells the admins what happened.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::{Browser, Gateway, calls, http};
use shared::api::{Alert, CallRecord, Health, Page};
use sqlx::Connection;

async fn health(gateway: &Gateway) -> Result<Health> {
    gateway.get("/healthz").await?.json()
}

/// The newest call records, as an admin lists them.
async fn records(gateway: &Gateway, cookie: &str) -> Result<Vec<CallRecord>> {
    let page: Page<CallRecord> = http::get(
        &gateway.url("/api/v1/calls?limit=10"),
        &[("cookie", cookie)],
    )
    .await?
    .json()?;
    Ok(page.items)
}

#[tokio::test]
async fn records_wait_while_the_database_is_locked_and_are_stored_after() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        ensure!(records(&gateway, &admin.cookie).await?.is_empty());

        // Another process takes the write lock and keeps it.
        let url = format!(
            "sqlite://{}",
            gateway.data_dir().join("gateway.db").display()
        );
        let mut locker = sqlx::SqliteConnection::connect(&url).await?;
        sqlx::query("BEGIN EXCLUSIVE").execute(&mut locker).await?;

        // Two calls while the lock lasts: both connect, talk and end.
        for _ in 0..2 {
            calls::dial(&browser, "4155552671").await?;
            calls::connected_with_audio(&browser).await?;
            calls::hang_up(&browser).await?;
        }
        let waiting = e2e::eventually(
            "healthz reporting the waiting records",
            Duration::from_secs(30),
            || async {
                let h = health(&gateway).await?;
                Ok((h.status == "degraded" && h.records_waiting == 2).then_some(h))
            },
        )
        .await?;
        let problem = waiting.database_problem.clone().unwrap_or_default();
        ensure!(problem.contains("locked"), "the reason: {waiting:?}");
        ensure!(
            records(&gateway, &admin.cookie).await?.is_empty(),
            "no record could have been stored under the lock"
        );

        // The lock goes: both records are stored, in order.
        sqlx::query("COMMIT").execute(&mut locker).await?;
        locker.close().await?;
        e2e::eventually("the records stored", Duration::from_secs(40), || async {
            let h = health(&gateway).await?;
            Ok((h.status == "ok" && h.records_waiting == 0).then_some(()))
        })
        .await?;
        let fresh = records(&gateway, &admin.cookie).await?;
        ensure!(fresh.len() == 2, "two records: {fresh:?}");
        ensure!(
            fresh[0].invite_at >= fresh[1].invite_at
                && fresh
                    .iter()
                    .all(|r| r.final_code == 200 && r.packets_from_carrier > 0),
            "{fresh:?}"
        );
        let alerts: Vec<Alert> = http::get(
            &gateway.url("/api/v1/security/alerts"),
            &[("cookie", admin.cookie.as_str())],
        )
        .await?
        .json()?;
        let alert = alerts
            .iter()
            .find(|a| a.kind == "records_delayed")
            .context("a records_delayed alert")?;
        ensure!(
            alert.message.contains("2 records were kept") && alert.message.contains("locked"),
            "{alert:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
