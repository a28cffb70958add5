//! A carrier named by a host name (RFC 3263): the test's own DNS server
//! (dnsmasq) has a NAPTR record for `carrier.test` that points UDP at an
//! SRV name with two targets, two SIPp carriers at priority 10 and 20. A
//! browser call reaches the priority-10 target; when that target answers
//! 503 the same call lands on the priority-20 one. A carrier whose host
//! does not resolve is shown as down with the reason (API status), and a
//! name whose record changes is looked up again when its TTL runs out.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::dnsmasq::Dnsmasq;
use e2e::gateway::GatewayOptions;
use e2e::sipp::{Sipp, SippOptions};
use e2e::{Browser, Gateway, calls};
use serde_json::Value;

/// Each attempt of a call: the carrier and its answer.
fn tried(record: &shared::api::CallRecord) -> Vec<(&str, u16)> {
    record
        .attempts
        .iter()
        .map(|a| (a.carrier.as_str(), a.code))
        .collect()
}

/// The carrier's status as the carrier list reads it.
async fn carrier_status(gateway: &Gateway, id: i64) -> Result<Value> {
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let response = e2e::http::get(
        &gateway.url(&format!("/api/v1/carriers/{id}/status")),
        &[("cookie", admin.cookie.as_str())],
    )
    .await?;
    ensure!(response.status == 200, "status: {}", response.text());
    response.json()
}

#[tokio::test]
async fn srv_targets_in_priority_order_and_failover_to_the_second_on_503() -> Result<()> {
    let mut first = Sipp::carrier("uas-answer-echo.xml").await?;
    let mut second = Sipp::start(SippOptions {
        timeout: Duration::from_secs(120),
        ..SippOptions::carrier("uas-answer-echo.xml")
    })
    .await?;
    let (p1, p2) = (first.sip_addr.port(), second.sip_addr.port());
    let dns = Dnsmasq::start(
        &[
            "naptr-record=carrier.test,10,10,S,SIP+D2U,,_sip._udp.pool.carrier.test".to_owned(),
            format!("srv-host=_sip._udp.pool.carrier.test,b.carrier.test,{p2},20,10"),
            format!("srv-host=_sip._udp.pool.carrier.test,a.carrier.test,{p1},10,10"),
            "host-record=a.carrier.test,127.0.0.1".to_owned(),
            "host-record=b.carrier.test,127.0.0.1".to_owned(),
        ],
        30,
    )
    .await?;
    let mut gateway = Gateway::start_with(GatewayOptions {
        args: vec![
            "--dns-server".to_owned(),
            dns.addr.to_string(),
            "--failover-timeout-ms".to_owned(),
            "1000".to_owned(),
        ],
        ..Default::default()
    })
    .await?;
    gateway.require_client()?;
    // The default port: no port of its own, so NAPTR and SRV decide.
    let carrier = calls::add_carrier(&gateway, "By DNS", first.sip_addr, |c| {
        c.host = "carrier.test".to_owned();
        c.port = 5060;
    })
    .await?;
    let status = carrier_status(&gateway, carrier.id).await?;
    let dns_status = &status["dns"];
    ensure!(dns_status["state"] == "resolved", "{status}\n{}", dns.log());
    ensure!(
        dns_status["via"] == "SRV _sip._udp.pool.carrier.test (via NAPTR)",
        "{status}"
    );
    let targets: Vec<&str> = dns_status["targets"]
        .as_array()
        .context("targets")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    ensure!(
        targets.len() == 2
            && targets[0].starts_with(&format!("127.0.0.1:{p1} (a.carrier.test"))
            && targets[1].starts_with(&format!("127.0.0.1:{p2} (b.carrier.test")),
        "targets {targets:?}"
    );

    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        // 1. Both answer: the priority-10 target gets the call.
        calls::dial(&browser, "4155552671").await?;
        calls::connected_with_audio(&browser).await?;
        calls::hang_up(&browser).await?;
        first
            .wait(Duration::from_secs(10))
            .await?
            .ensure_success()?;
        ensure!(
            second.received_request("INVITE").is_none(),
            "the priority-20 target was called first:\n{}",
            second.messages()
        );
        let record = calls::demo_last_record(&gateway).await?;
        let attempts = tried(&record);
        ensure!(attempts == vec![("By DNS", 200)], "{record:?}");

        // 2. The priority-10 target now answers 503: the same call goes on
        // to the priority-20 target, within the one carrier.
        let mut unavailable = Sipp::start(SippOptions {
            sip_port: Some(p1),
            ..SippOptions::carrier("uas-unavailable.xml")
        })
        .await?;
        calls::dial(&browser, "4155552672").await?;
        calls::connected_with_audio(&browser).await?;
        calls::hang_up(&browser).await?;
        unavailable
            .wait(Duration::from_secs(10))
            .await?
            .ensure_success()?;
        second
            .wait(Duration::from_secs(10))
            .await?
            .ensure_success()?;
        let record = calls::demo_last_record(&gateway).await?;
        let attempts = tried(&record);
        ensure!(
            attempts == vec![("By DNS", 503), ("By DNS", 200)],
            "{record:?}"
        );
        ensure!(record.final_code == 200, "{record:?}");
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn a_host_that_does_not_resolve_is_shown_down_with_the_reason() -> Result<()> {
    // A TTL of 1 s: the gateway keeps the answer 5 s (its floor), then asks again.
    let mut dns = Dnsmasq::start(&["host-record=up.carrier.test,127.0.0.1".to_owned()], 1).await?;
    let mut gateway = Gateway::start_with(GatewayOptions {
        args: vec!["--dns-server".to_owned(), dns.addr.to_string()],
        ..Default::default()
    })
    .await?;
    let anywhere: std::net::SocketAddr = "127.0.0.1:5060".parse()?;
    let gone = calls::add_carrier(&gateway, "Gone", anywhere, |c| {
        c.host = "gone.carrier.test".to_owned();
    })
    .await?;
    // An explicit port: A/AAAA only, no SRV.
    let up = calls::add_carrier(&gateway, "Up", anywhere, |c| {
        c.host = "up.carrier.test".to_owned();
        c.port = 5090;
    })
    .await?;
    let status = carrier_status(&gateway, gone.id).await?;
    ensure!(status["dns"]["state"] == "failed", "{status}");
    let error = status["dns"]["last_error"].as_str().unwrap_or_default();
    ensure!(
        error.contains("gone.carrier.test") && error.contains("no such host"),
        "{status}"
    );
    let status = carrier_status(&gateway, up.id).await?;
    ensure!(
        status["dns"]["state"] == "resolved"
            && status["dns"]["via"] == "A/AAAA up.carrier.test"
            && status["dns"]["targets"][0]
                .as_str()
                .is_some_and(|t| t.starts_with("127.0.0.1:5090 ")),
        "{status}"
    );
    ensure!(
        !dns.log().contains("_sip._udp.up.carrier.test"),
        "an explicit port still asked for SRV:\n{}",
        dns.log()
    );
    // The record changes; once the answer's time is up the gateway asks
    // again, by itself, and shows (and calls) the new address.
    dns.restart(&["host-record=up.carrier.test,127.0.0.2".to_owned()], 1)
        .await?;
    let renewed = e2e::eventually(
        "the new address after the TTL",
        Duration::from_secs(15),
        || async {
            let status = carrier_status(&gateway, up.id).await?;
            let target = status["dns"]["targets"][0]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Ok(target.starts_with("127.0.0.2:5090 ").then_some(status))
        },
    )
    .await?;
    ensure!(renewed["dns"]["state"] == "resolved", "{renewed}");
    // The list the carrier page polls names the failed one too.
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let list: Value = e2e::http::get(
        &gateway.url("/api/v1/carriers/status"),
        &[("cookie", admin.cookie.as_str())],
    )
    .await?
    .json()?;
    ensure!(
        list["items"].as_array().is_some_and(|items| items
            .iter()
            .any(|s| s["carrier_id"] == gone.id && s["dns"]["state"] == "failed")),
        "{list}"
    );
    gateway.check_alive()
}
