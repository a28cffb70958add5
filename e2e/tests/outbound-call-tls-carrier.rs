//! A carrier over TLS: SIPp behind socat's TLS terminator (Debian's SIPp is
//! built without TLS) with a certificate from a test CA. The gateway verifies
//! the certificate against the CA pinned in the carrier's settings and the
//! name (here the IP address) it connects to; the call has audio and a TLS
//! Via. A carrier whose certificate does not chain to its pinned CA is
//! refused: the call fails with a reason that says so, and the carrier's
//! status shows the error.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::sipp::{Sipp, SippMedia, SippOptions};
use e2e::socat::Socat;
use e2e::{Browser, Gateway, calls, http};
use shared::api::{HangupBy, SipTransport};

const ENDED: &str = r#"#call-state[data-state="ended"]"#;

fn openssl(dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .context("running openssl (Debian's openssl package)")?;
    if !out.status.success() {
        bail!(
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A CA (`<name>-ca.pem`) and, signed by it, a certificate for 127.0.0.1
/// (`<name>-server.pem` / `<name>-server.key`).
fn test_pki(dir: &Path, name: &str) -> Result<String> {
    let ca_key = format!("{name}-ca.key");
    let ca = format!("{name}-ca.pem");
    let key = format!("{name}-server.key");
    let csr = format!("{name}-server.csr");
    let cert = format!("{name}-server.pem");
    let ext = format!("{name}-ext.cnf");
    std::fs::write(dir.join(&ext), "subjectAltName=IP:127.0.0.1\n")?;
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} test CA"),
        ],
    )?;
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=127.0.0.1",
        ],
    )?;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    )?;
    Ok(std::fs::read_to_string(dir.join(&ca))?)
}

/// socat terminating TLS on 127.0.0.1 (its `port`) with `<name>-server.pem`
/// in front of `sipp`'s TCP port.
async fn tls_front(dir: &Path, name: &str, sipp: std::net::SocketAddr) -> Result<Socat> {
    Socat::start(
        dir,
        |port| {
            format!(
                "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,\
                 cert={name}-server.pem,key={name}-server.key,verify=0"
            )
        },
        &format!("TCP:{sipp}"),
    )
    .await
}

#[tokio::test]
async fn call_over_tls_with_a_pinned_ca_has_audio_and_a_tls_via() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let dir = tempfile::tempdir()?;
    let ca = test_pki(dir.path(), "good")?;
    let mut sipp = Sipp::start(SippOptions {
        media: SippMedia::Probe,
        tcp: true,
        ..SippOptions::carrier("uas-answer-echo.xml")
    })
    .await?;
    let front = tls_front(dir.path(), "good", sipp.sip_addr).await?;
    let port = front.port;
    calls::add_carrier(&gateway, "SIPp TLS", ([127, 0, 0, 1], port).into(), |c| {
        c.transport = SipTransport::Tls;
        c.tls_ca = Some(ca.clone());
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        calls::connected_with_audio(&browser).await?;
        calls::carrier_hears(&sipp, 50).await?;
        calls::hang_up(&browser).await?;
        sipp.wait(Duration::from_secs(15)).await?.ensure_success()?;
        let invite = sipp
            .received_request("INVITE")
            .context("SIPp received no INVITE")?;
        ensure!(invite.contains("Via: SIP/2.0/TLS "), "{invite}");
        ensure!(invite.contains(";transport=tls>"), "{invite}");
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.final_code == 200 && record.hangup_by == HangupBy::Agent,
            "{record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn certificate_from_another_ca_is_refused_with_a_clear_error() -> Result<()> {
    // Without the demo carrier: the refused carrier, once down, would
    // otherwise (rightly) be skipped for it.
    let mut gateway = Gateway::start_with(e2e::gateway::GatewayOptions {
        args: vec!["--demo-carrier".to_owned(), "false".to_owned()],
        ..Default::default()
    })
    .await?;
    gateway.require_client()?;
    let dir = tempfile::tempdir()?;
    test_pki(dir.path(), "real")?;
    let other_ca = test_pki(dir.path(), "other")?;
    let sipp = Sipp::start(SippOptions {
        tcp: true,
        timeout: Duration::from_secs(30),
        ..SippOptions::carrier("uas-answer-echo.xml")
    })
    .await?;
    let front = tls_front(dir.path(), "real", sipp.sip_addr).await?;
    let port = front.port;
    let carrier = calls::add_carrier(&gateway, "Wrong CA", ([127, 0, 0, 1], port).into(), |c| {
        c.transport = SipTransport::Tls;
        c.tls_ca = Some(other_ca.clone());
        c.qualify = true;
        c.qualify_interval_s = 1;
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        browser.wait_for(ENDED, Duration::from_secs(10)).await?;
        let reason = browser
            .wait_for_text("#call-end-reason", Duration::from_secs(5))
            .await?;
        ensure!(reason.to_lowercase().contains("unavailable"), "{reason:?}");
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.final_code == 503 && record.final_reason.contains("certificate"),
            "{record:?}"
        );
        ensure!(
            sipp.received_request("INVITE").is_none(),
            "SIPp got an INVITE"
        );
        // The carrier page's status says why.
        let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
        let status = e2e::eventually(
            "the carrier's status to show the TLS error",
            Duration::from_secs(10),
            || async {
                let r = http::get(
                    &gateway.url(&format!("/api/v1/carriers/{}/status", carrier.id)),
                    &[("cookie", admin.cookie.as_str())],
                )
                .await?;
                let text = r.text();
                Ok(text.contains("certificate").then_some(text))
            },
        )
        .await?;
        ensure!(status.contains("\"qualify\""), "{status}");
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
