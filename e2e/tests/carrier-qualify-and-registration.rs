//! Carrier trunks kept alive: a carrier that stops answering OPTIONS is
//! marked down and comes back by itself once it answers again, and the
//! carrier list in the admin pages (Chromium) shows both changes; a carrier
//! that wants registration gets a REGISTER with a correct digest, and the
//! refresh before the granted expiry runs out, and the un-REGISTER that
//! withdraws the binding when the carrier is removed. SIPp plays the
//! carrier.
//!
//! The carriers are configured through `POST /api/v1/carriers` (`qualify`,
//! `qualify_interval_s`, `register`, `register_expiry_s`); the tests read the
//! gateway's log line `carrier status carrier=NAME qualify=up|down
//! registration=…` and the carrier status endpoint.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::sipp::{Sipp, SippOptions, header, verify_digest};
use e2e::{Browser, Gateway, http};

/// Adds a carrier through the API as `admin`, with `extra` JSON fields
/// (the qualify and registration settings).
async fn add_carrier(
    gateway: &Gateway,
    name: &str,
    sip_addr: SocketAddr,
    extra: serde_json::Value,
) -> Result<i64> {
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let mut body = serde_json::json!({
        "name": name,
        "host": sip_addr.ip().to_string(),
        "port": sip_addr.port(),
        "transport": "udp",
        "codecs": ["PCMU", "PCMA"],
        "priority": 1,
        "enabled": true,
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let response = http::post_json(
        &gateway.url("/api/v1/carriers"),
        serde_json::to_vec(&body)?,
        &[("cookie", admin.cookie.as_str())],
    )
    .await?;
    if response.status != 201 {
        bail!(
            "POST /api/v1/carriers answered {}: {}",
            response.status,
            response.text()
        );
    }
    let carrier: serde_json::Value = response.json()?;
    carrier["id"].as_i64().context("the new carrier has no id")
}

/// Waits until the gateway's log has `needle` after byte `from`; returns
/// where it ends.
async fn logged_after(
    gateway: &Gateway,
    needle: &str,
    from: usize,
    timeout: Duration,
) -> Result<usize> {
    e2e::eventually(
        &format!("`{needle}` in the gateway log"),
        timeout,
        || async {
            let log = gateway.log();
            Ok(log
                .get(from..)
                .and_then(|rest| rest.find(needle))
                .map(|at| from + at + needle.len()))
        },
    )
    .await
    .with_context(|| format!("gateway log:\n{}", e2e::tail(&gateway.log(), 30)))
}

#[tokio::test]
async fn a_silent_carrier_goes_down_and_comes_back_by_itself() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    let options = SippOptions {
        calls: 100_000,
        ..SippOptions::carrier("uas-options.xml")
    };
    let mut sipp = Sipp::start(options.clone()).await?;
    gateway.require_client()?;
    let id = add_carrier(
        &gateway,
        "sipp-options",
        sipp.sip_addr,
        serde_json::json!({ "qualify": true, "qualify_interval_s": 1 }),
    )
    .await?;
    // An admin watches the carrier list while it happens.
    let browser = Browser::start().await?;
    let result = async {
        e2e::admin::sign_in(&browser, &gateway, "admin", &gateway.admin_password).await?;
        e2e::admin::open(&browser, "carriers").await?;
        watch_trunk(&mut gateway, &mut sipp, &browser, id, options).await
    }
    .await;
    browser.finish(result).await
}

/// The carrier list's status cell of carrier `id` in `state`.
async fn page_shows(browser: &Browser, id: i64, state: &str) -> Result<()> {
    browser
        .wait_for(
            &format!(r#"table#carriers tr[data-id="{id}"] td.trunk-state[data-state="{state}"]"#),
            Duration::from_secs(10),
        )
        .await
        .with_context(|| format!("the carrier page never showed the trunk {state}"))?;
    Ok(())
}

async fn watch_trunk(
    gateway: &mut Gateway,
    sipp: &mut Sipp,
    browser: &Browser,
    id: i64,
    options: SippOptions,
) -> Result<()> {
    let up = "carrier status carrier=sipp-options qualify=up";
    let down = "carrier status carrier=sipp-options qualify=down";
    let at = logged_after(gateway, up, 0, Duration::from_secs(10)).await?;
    page_shows(browser, id, "up").await?;
    let options_seen = sipp
        .received_request("OPTIONS")
        .context("SIPp received no OPTIONS")?;
    ensure!(
        header(&options_seen, "Max-Forwards").as_deref() == Some("70"),
        "{options_seen}"
    );

    // Silence: down after two missed probes (1 s apart), not after one.
    let stopped = std::time::Instant::now();
    sipp.stop()?;
    let at = logged_after(gateway, down, at, Duration::from_secs(8)).await?;
    let took = stopped.elapsed();
    ensure!(
        took >= Duration::from_millis(1500),
        "down after {took:?}: one lost OPTIONS must not be enough"
    );
    page_shows(browser, id, "down").await?;
    e2e::admin::screenshot(browser, "carriers-trunk-down").await?;

    // Back on the same port: up again after two answers, with no one
    // touching the carrier's settings.
    let mut again = Sipp::start(SippOptions {
        sip_port: Some(sipp.sip_addr.port()),
        ..options
    })
    .await?;
    logged_after(gateway, up, at, Duration::from_secs(8)).await?;
    page_shows(browser, id, "up").await?;
    ensure!(again.received_request("OPTIONS").is_some());
    again.stop()?;
    gateway.check_alive()
}

#[tokio::test]
async fn a_carrier_that_wants_registration_gets_digest_and_refreshes() -> Result<()> {
    registration_with_digest(false).await
}

/// The same registrar on `::1`, through a dual-stack gateway: the digest
/// is over the IPv6 Request-URI as sent (`sip:[::1]`).
#[tokio::test]
async fn an_ipv6_carrier_that_wants_registration_gets_digest_and_refreshes() -> Result<()> {
    registration_with_digest(true).await
}

async fn registration_with_digest(ipv6: bool) -> Result<()> {
    let mut gateway = if ipv6 {
        Gateway::start_with(e2e::gateway::GatewayOptions {
            args: vec!["--sip-udp6".to_owned(), "[::1]:0".to_owned()],
            ..Default::default()
        })
        .await?
    } else {
        Gateway::start().await?
    };
    // Where the carrier sees us: the socket of its family.
    let ours = if ipv6 {
        gateway.sip_udp6.context("sip_udp6")?
    } else {
        gateway.sip_udp
    };
    let mut sipp = Sipp::start(SippOptions {
        timeout: Duration::from_secs(20),
        ipv6,
        ..SippOptions::carrier("uas-register-digest.xml")
    })
    .await?;
    let host = if ipv6 { "[::1]" } else { "127.0.0.1" };
    let id = add_carrier(
        &gateway,
        "sipp-registrar",
        sipp.sip_addr,
        serde_json::json!({
            "username": "trunkuser",
            "secret": "trunksecret",
            "register": true,
            "register_expiry_s": 60,
            "qualify": false,
        }),
    )
    .await?;

    let at = logged_after(
        &gateway,
        "carrier status carrier=sipp-registrar qualify=off registration=registered",
        0,
        Duration::from_secs(10),
    )
    .await?;
    // The refresh it demands within the 4 s it granted (due at 2 s) is
    // granted 60 s; then the carrier is removed, and the scenario ends with
    // the un-REGISTER that withdraws the binding.
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let cookie = [("cookie", admin.cookie.as_str())];
    e2e::eventually(
        "the refresh granted 60 s",
        Duration::from_secs(10),
        || async {
            let status = http::get(
                &gateway.url(&format!("/api/v1/carriers/{id}/status")),
                &cookie,
            )
            .await?;
            let status: serde_json::Value = status.json()?;
            let expires = status["registration"]["expires_at_ms"]
                .as_i64()
                .unwrap_or(0);
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis();
            Ok((i128::from(expires) - i128::try_from(now_ms)? > 30_000).then_some(()))
        },
    )
    .await?;
    let removed = http::delete(&gateway.url(&format!("/api/v1/carriers/{id}")), &cookie).await?;
    ensure!(removed.status == 204, "DELETE answered {}", removed.status);
    let run = sipp.wait(Duration::from_secs(15)).await?;
    run.ensure_success()?;
    ensure!(
        run.logged("auth: accepted").is_some() && run.logged("refresh: accepted").is_some(),
        "SIPp logs:\n{}",
        run.logs
    );
    let registers: Vec<String> = run
        .received()
        .into_iter()
        .filter(|m| m.starts_with("REGISTER "))
        .collect();
    ensure!(registers.len() >= 4, "REGISTERs: {registers:#?}");
    let withdrawal = registers.last().context("no REGISTER")?;
    ensure!(
        run.logged("withdrawal: received").is_some()
            && header(withdrawal, "Call-ID") == header(&registers[0], "Call-ID"),
        "the un-REGISTER: {withdrawal}"
    );
    let first = &registers[0];
    ensure!(
        first.starts_with(&format!("REGISTER sip:{host} SIP/2.0")),
        "Request-URI: {first}"
    );
    let to = header(first, "To").unwrap_or_default();
    ensure!(to.contains(&format!("sip:trunkuser@{host}")), "To: {to}");
    let contact = header(first, "Contact").unwrap_or_default();
    ensure!(
        contact.starts_with(&format!("<sip:trunkuser@{ours}>"))
            && contact.contains("expires=60")
            && !contact.contains("+sip.instance"),
        "Contact: {contact}"
    );
    let via = header(first, "Via").unwrap_or_default();
    ensure!(
        via.starts_with(&format!("SIP/2.0/UDP {ours};branch=")) && via.contains("rport"),
        "Via: {via}"
    );
    for register in &registers[1..3] {
        verify_digest(register, "Authorization", "trunkuser", "trunksecret")?;
    }
    ensure!(
        header(&registers[2], "Call-ID") == header(first, "Call-ID"),
        "the refresh keeps the Call-ID"
    );

    // Secrets stay out of the log.
    ensure!(
        !gateway.log()[at..].contains("trunksecret") && !gateway.log().contains("trunksecret"),
        "the carrier secret appears in the gateway log"
    );
    gateway.check_alive()
}
