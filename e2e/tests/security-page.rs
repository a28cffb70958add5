//! The Security page in Chromium, against the gateway's real ban list: an
//! admin opens it to the empty state (and the guard's settings as the
//! gateway runs them), a bad address in "Ban an address"
//! shows the gateway's message on the field, a good one (203.0.113.7, a
//! documentation address only listed, never contacted) appears in the
//! table with its reason, note and time left. A SIP scanner on another
//! loopback address (127.0.0.2, `User-Agent: friendly-scanner`) is banned
//! by the gateway itself and shows up without a click (the page reloads
//! every 5 s); its next message is dropped and counted as refused. Both
//! are unbanned from their rows and the empty state comes back. The page
//! is saved as `admin-security.png` (one ban) and
//! `admin-security-two-bans.png`.
//!
//! Alerts: the gateway runs with `--agent-calls-per-minute 1`; before the
//! admin signs in, the demo agent's JsSIP phone (on `/healthz` in the same
//! browser) calls a busy number twice and the second call is refused 403.
//! The Security page then lists the alert ("Calls a minute", demo, the
//! gateway's message) and the banner above the admin pages names it and
//! links to `#/security` (`admin-security-alert.png`).

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::admin::{self, Outcome};
use e2e::jssip::JsSip;
use e2e::sip::{OptionsRequest, UdpPeer};
use e2e::{Browser, Gateway, GatewayOptions, http};
use shared::api::BanEntry;

const FORM: &str = "form#ban-form";
const EMPTY: &str = "#bans-empty";
const MANUAL: &str = "203.0.113.7";
const SCANNER: &str = "127.0.0.2";
const WAIT: Duration = Duration::from_secs(10);
const ALERT_ROW: &str = r#"table#alerts tbody tr[data-kind="velocity"]"#;
const BANNER: &str = "a#alert-banner";

fn row(ip: &str) -> String {
    format!(r#"table#bans tbody tr[data-ip="{ip}"]"#)
}

#[tokio::test]
async fn admin_bans_and_unbans_addresses_on_the_security_page() -> Result<()> {
    let mut gateway = Gateway::start_with(GatewayOptions {
        args: vec!["--agent-calls-per-minute".to_owned(), "1".to_owned()],
        ..Default::default()
    })
    .await?;
    gateway.require_client()?;
    let api = gateway.sign_in("admin", &gateway.admin_password).await?;
    let cookie = [("cookie", api.cookie.as_str())];
    let demo = gateway.sign_in("demo", &gateway.demo_password).await?;
    let credential = demo.info.sip.clone().context("demo's SIP credential")?;
    let browser = Browser::start().await?;
    let result = async {
        // The demo agent over the limit, from a JsSIP phone on a page of
        // its own (the admin's sign-in below navigates it away).
        browser.goto(&gateway.url("/healthz")).await?;
        let phone = JsSip::start(browser.client()?, &gateway.ws_url(), &credential).await?;
        phone.wait_state("registered", WAIT).await?;
        // The demo carrier answers numbers ending in 486 busy, at once.
        phone.call("+14155550486").await?;
        let state = phone.wait_state("failed", WAIT).await?;
        ensure!(state.status == Some(486), "first call: {state:?}");
        phone.call("+14155550486").await?;
        let state = phone.wait_state("failed", WAIT).await?;
        ensure!(state.status == Some(403), "second call: {state:?}");
        let reason = state.reason.clone().unwrap_or_default();
        ensure!(reason.contains("over 1 calls a minute"), "{reason:?}");

        admin::sign_in(&browser, &gateway, "admin", &gateway.admin_password).await?;
        admin::open(&browser, "security").await?;
        let text = browser.wait_for_text(ALERT_ROW, WAIT).await?;
        for want in [
            "Calls a minute",
            "demo",
            "demo started more than 1 calls in a minute; the excess is refused",
            "just now",
        ] {
            ensure!(text.contains(want), "alert row lacks {want:?}: {text:?}");
        }
        ensure!(
            browser.count("#alerts-empty").await? == 0,
            "\"No alerts.\" shown with an alert"
        );
        let banner = browser.wait_for_text(BANNER, WAIT).await?;
        ensure!(
            banner
                == "⚠ demo started more than 1 calls in a minute; the excess is refused — see Security",
            "banner: {banner:?}"
        );
        let href = browser.attr(BANNER, "href").await?;
        ensure!(
            href.as_deref().is_some_and(|h| h.ends_with("#/security")),
            "banner links to {href:?}"
        );
        admin::screenshot(&browser, "security-alert").await?;
        // The banner is on every admin page, not only this one.
        admin::open(&browser, "carriers").await?;
        let banner = browser.wait_for_text(BANNER, WAIT).await?;
        ensure!(banner.contains("see Security"), "banner: {banner:?}");
        admin::open(&browser, "security").await?;

        let empty = browser.wait_for_text(EMPTY, WAIT).await?;
        ensure!(
            empty.contains("No banned addresses"),
            "empty state: {empty:?}"
        );
        // The guard's settings as the gateway runs them, not fixed text.
        let guard = browser.wait_for_text("dl#guard-settings", WAIT).await?;
        ensure!(
            guard.contains("10 failed authentications in 60 s")
                && guard.contains("15 min, doubling on each repeat up to 24 h"),
            "guard settings: {guard:?}"
        );

        // Not an address: the gateway's message, on the field.
        admin::fill(&browser, FORM, "ip", "not-an-ip").await?;
        match admin::submit(&browser, FORM).await? {
            Outcome::FieldError { field, message } => {
                ensure!(field == "ip", "error on {field}: {message}");
                ensure!(
                    message.contains("not an IPv4 or IPv6 address"),
                    "{message:?}"
                );
            }
            other => bail!("expected an error on the address, got {other:?}"),
        }
        admin::screenshot(&browser, "security-bad-address").await?;

        admin::fill(&browser, FORM, "ip", MANUAL).await?;
        admin::fill(&browser, FORM, "detail", "Probing extensions").await?;
        let done = admin::submit_ok(&browser, FORM).await?;
        ensure!(
            done.contains(&format!("Banned {MANUAL} until")),
            "form says {done:?}"
        );
        let text = browser.wait_for_text(&row(MANUAL), WAIT).await?;
        for want in ["Banned by an admin", "Probing extensions", "in 15 min"] {
            ensure!(text.contains(want), "row lacks {want:?}: {text:?}");
        }
        ensure!(
            browser.count(EMPTY).await? == 0,
            "empty state shown with a ban"
        );
        let listed: Vec<BanEntry> = http::get(&gateway.url("/api/v1/security/bans"), &cookie)
            .await?
            .json()?;
        ensure!(
            listed.len() == 1 && listed[0].ip == MANUAL && listed[0].reason == "manual",
            "{listed:?}"
        );
        admin::screenshot(&browser, "security").await?;

        // A scanner, banned by the gateway on its first message; the page
        // shows it on its next reload, without a click.
        let scanner = UdpPeer::bind_on(gateway.sip_udp, SCANNER.parse::<Ipv4Addr>()?).await?;
        let sent_by = scanner.local_addr()?.to_string();
        let mut probe = OptionsRequest::new("UDP", sent_by, gateway.sip_udp.to_string());
        probe
            .extra_headers
            .push("User-Agent: friendly-scanner".to_owned());
        scanner.send(&probe.to_bytes()).await?;
        let text = browser
            .wait_for_text(&format!(r#"{}[data-reason="scanner"]"#, row(SCANNER)), WAIT)
            .await?;
        ensure!(
            text.contains("Scanner") && text.contains("friendly-scanner"),
            "scanner row: {text:?}"
        );
        ensure!(
            scanner.recv(Duration::from_millis(300)).await?.is_none(),
            "the banned scanner got an answer"
        );
        // Its next message is dropped and counted; the page shows the count.
        scanner.send(&probe.to_bytes()).await?;
        let refused = format!("{} td.ban-refused", row(SCANNER));
        e2e::eventually("the scanner's refused count", WAIT, || async {
            Ok((browser.wait_for_text(&refused, WAIT).await? == "1").then_some(()))
        })
        .await?;
        admin::screenshot(&browser, "security-two-bans").await?;

        // Unban both from their rows (the confirm dialog says yes).
        browser
            .client()?
            .execute("window.confirm = () => true;", vec![])
            .await?;
        for ip in [MANUAL, SCANNER] {
            browser.click(&format!("{} button.unban", row(ip))).await?;
            e2e::eventually(&format!("the row of {ip} to go"), WAIT, || async {
                Ok((browser.count(&row(ip)).await? == 0).then_some(()))
            })
            .await?;
        }
        browser.wait_for(EMPTY, WAIT).await?;
        let listed: Vec<BanEntry> = http::get(&gateway.url("/api/v1/security/bans"), &cookie)
            .await?
            .json()?;
        ensure!(listed.is_empty(), "still banned: {listed:?}");
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
