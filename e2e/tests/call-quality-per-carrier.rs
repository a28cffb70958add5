//! Call quality, end to end: a call from Chromium through the gateway to
//! SIPp (the carrier, echoing RTP), with a lossy relay of the test's
//! between the gateway and SIPp's RTP socket. The relay drops every 20th
//! packet SIPp sends back (5 % loss) and holds every odd one 10 ms (an
//! RFC 3550 interarrival jitter of about 10 ms: the relay measures what it
//! really induced from its own send times, the timer rounding included). Its RTCP port (RTP + 1) is a
//! UDP peer that parses every report the gateway sends and answers each
//! SR with an RR after 300 ms claiming DLSR 100 ms: the gateway must
//! measure a 200 ms round trip.
//!
//! Checked: the reports are well-formed RFC 3550 compounds (SR/RR first,
//! SDES CNAME, lengths, the gateway's SSRC); the record's carrier leg shows
//! 5 ± 1 % loss and the induced jitter ± 1 ms, the RR's figures as the far end's
//! view and the 200 ms round trip; the Quality page (headless Chromium,
//! screenshot `admin-quality.png`) shows the same loss and jitter; the
//! agent's phone (getStats) warns of the loss during the call, and stays
//! quiet on a clean call.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::sipp::{Sipp, SippOptions};
use e2e::{Browser, Gateway, admin, calls};
use shared::quality::ReceiveStats;
use tokio::net::UdpSocket;

const CONNECTED: &str = r#"#call-state[data-state="connected"]"#;
/// Every Nth packet toward the gateway is dropped.
const DROP_EVERY: u16 = 20;
const INDUCED_LOSS: f64 = 100.0 / DROP_EVERY as f64;
/// Odd packets toward the gateway are held this long.
const HOLD_MS: u64 = 10;
const INDUCED_JITTER_MS: f64 = HOLD_MS as f64;
/// How long the RTCP peer holds an SR before its RR, and the DLSR it
/// claims: the round trip the gateway should measure is the difference.
const RR_AFTER_MS: u64 = 300;
const CLAIMED_DLSR_MS: u64 = 100;
const INJECTED_RTT_MS: i64 = (RR_AFTER_MS - CLAIMED_DLSR_MS) as i64;
/// What the peer's RR reports about the gateway's stream.
const RR_LOST: u32 = 3;
const RR_JITTER_UNITS: u32 = 40;
const PEER_SSRC: u32 = 0x0dec_afe0;

/// One RTCP packet of a compound the gateway sent.
#[derive(Debug, Clone)]
struct Report {
    pt: u8,
    ssrc: u32,
    /// SR: NTP timestamp and the sender's packet count.
    ntp: Option<u64>,
    packets: Option<u32>,
    /// Report blocks: (about SSRC, cumulative lost, jitter).
    blocks: Vec<(u32, i32, u32)>,
    cname: Option<String>,
}

/// Parses one RTCP compound strictly (RFC 3550 §6.1, §6.4, §6.5): every
/// packet version 2 with a length that fits, the first an SR or RR, an
/// SDES with a CNAME for the sender somewhere in it.
fn parse_compound(data: &[u8]) -> Result<Vec<Report>> {
    let mut out = Vec::new();
    let mut rest = data;
    ensure!(
        data.len().is_multiple_of(4),
        "compound of {} bytes",
        data.len()
    );
    while !rest.is_empty() {
        ensure!(rest.len() >= 4, "trailing {} bytes", rest.len());
        ensure!(rest[0] >> 6 == 2, "version {}", rest[0] >> 6);
        ensure!(rest[0] & 0x20 == 0, "padding set");
        let count = usize::from(rest[0] & 0x1f);
        let pt = rest[1];
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        ensure!(
            len <= rest.len(),
            "packet length {len} > {} left",
            rest.len()
        );
        let p = &rest[..len];
        rest = &rest[len..];
        let word = |i: usize| u32::from_be_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
        let mut report = Report {
            pt,
            ssrc: word(4),
            ntp: None,
            packets: None,
            blocks: Vec::new(),
            cname: None,
        };
        let blocks_at = match pt {
            200 => {
                ensure!(len == 28 + 24 * count, "SR of {len} bytes, {count} blocks");
                report.ntp = Some((u64::from(word(8)) << 32) | u64::from(word(12)));
                report.packets = Some(word(20));
                28
            }
            201 => {
                ensure!(len == 8 + 24 * count, "RR of {len} bytes, {count} blocks");
                8
            }
            202 => {
                ensure!(count == 1, "SDES with {count} chunks");
                let items = &p[8..];
                ensure!(
                    items.len() >= 2 && items[0] == 1,
                    "SDES without CNAME first"
                );
                let n = usize::from(items[1]);
                ensure!(items.len() > 2 + n, "CNAME past the packet");
                report.cname = Some(String::from_utf8_lossy(&items[2..2 + n]).into_owned());
                ensure!(items[2 + n] == 0, "SDES chunk not ended by a null item");
                out.push(report);
                continue;
            }
            other => bail!("unexpected RTCP packet type {other}"),
        };
        for i in 0..count {
            let b = blocks_at + 24 * i;
            let lost = ((word(b + 4) << 8) as i32) >> 8;
            report.blocks.push((word(b), lost, word(b + 12)));
        }
        out.push(report);
    }
    ensure!(
        matches!(out.first().map(|r| r.pt), Some(200 | 201)),
        "a compound must start with SR or RR: {out:?}"
    );
    let sender = out[0].ssrc;
    ensure!(
        out.iter()
            .any(|r| r.pt == 202 && r.ssrc == sender && r.cname.is_some()),
        "no SDES CNAME for {sender:#x}: {out:?}"
    );
    Ok(out)
}

/// The RR the peer answers an SR with: one block about the gateway's SSRC.
fn receiver_report(about: u32, lsr: u32, dlsr: u32) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&PEER_SSRC.to_be_bytes());
    p.extend_from_slice(&about.to_be_bytes());
    p.extend_from_slice(&RR_LOST.to_be_bytes()); // fraction 0, lost 3
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&RR_JITTER_UNITS.to_be_bytes());
    p.extend_from_slice(&lsr.to_be_bytes());
    p.extend_from_slice(&dlsr.to_be_bytes());
    p
}

/// The relay's RTP and RTCP sockets (an even port and the next).
async fn bind_pair() -> Result<(UdpSocket, UdpSocket)> {
    for _ in 0..50 {
        let rtp = UdpSocket::bind("127.0.0.1:0").await?;
        let port = rtp.local_addr()?.port();
        if port % 2 == 1 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind(("127.0.0.1", port + 1)).await {
            return Ok((rtp, rtcp));
        }
    }
    bail!("no free even/odd UDP port pair on 127.0.0.1")
}

struct Seen {
    /// Every compound parsed, or why it was not well-formed.
    compounds: Vec<Result<Vec<Report>, String>>,
    dropped: u32,
    forwarded_to_gateway: u32,
    /// The stream toward the gateway as the relay sent it (send instants):
    /// what was really induced, the 10 ms hold plus the timer's rounding
    /// and whatever jitter the path to the relay had already.
    induced: ReceiveStats,
    start: std::time::Instant,
}

impl Seen {
    fn new() -> Seen {
        Seen {
            compounds: Vec::new(),
            dropped: 0,
            forwarded_to_gateway: 0,
            induced: ReceiveStats::new(8000),
            start: std::time::Instant::now(),
        }
    }

    /// A packet leaves the relay toward the gateway now.
    fn sent(&mut self, data: &[u8]) {
        let word = |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        let seq = u16::from_be_bytes([data[2], data[3]]);
        let at = self.start.elapsed().as_micros() as u64;
        self.induced.packet(word(8), seq, word(4), at);
    }
}

/// Gateway ⇄ relay ⇄ SIPp's echo: toward the gateway, drop and hold.
fn run_relay(rtp: UdpSocket, echo: SocketAddr, seen: Arc<Mutex<Seen>>) {
    let rtp = Arc::new(rtp);
    tokio::spawn(async move {
        let mut gateway: Option<SocketAddr> = None;
        let mut buf = vec![0u8; 2048];
        loop {
            let Ok((n, from)) = rtp.recv_from(&mut buf).await else {
                continue;
            };
            let data = buf[..n].to_vec();
            if from != echo {
                gateway = Some(from);
                let _ = rtp.send_to(&data, echo).await;
                continue;
            }
            let (Some(to), true) = (gateway, data.len() >= 12) else {
                continue;
            };
            let seq = u16::from_be_bytes([data[2], data[3]]);
            if seq.is_multiple_of(DROP_EVERY) {
                if let Ok(mut s) = seen.lock() {
                    s.dropped += 1;
                }
                continue;
            }
            if let Ok(mut s) = seen.lock() {
                s.forwarded_to_gateway += 1;
            }
            if seq % 2 == 1 {
                let rtp = rtp.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(HOLD_MS)).await;
                    if let Ok(mut s) = seen.lock() {
                        s.sent(&data);
                    }
                    let _ = rtp.send_to(&data, to).await;
                });
            } else {
                if let Ok(mut s) = seen.lock() {
                    s.sent(&data);
                }
                let _ = rtp.send_to(&data, to).await;
            }
        }
    });
}

/// The carrier's RTCP port: parse everything, answer each SR with an RR.
fn run_rtcp_peer(rtcp: UdpSocket, seen: Arc<Mutex<Seen>>) {
    let rtcp = Arc::new(rtcp);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        loop {
            let Ok((n, from)) = rtcp.recv_from(&mut buf).await else {
                continue;
            };
            let parsed = parse_compound(&buf[..n]).map_err(|e| format!("{e:#}"));
            if let Ok(reports) = &parsed
                && let Some(sr) = reports.iter().find(|r| r.pt == 200)
                && let Some(ntp) = sr.ntp
            {
                let (about, lsr) = (sr.ssrc, (ntp >> 16) as u32);
                let dlsr = (CLAIMED_DLSR_MS * 65536 / 1000) as u32;
                let rtcp = rtcp.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(RR_AFTER_MS)).await;
                    let _ = rtcp.send_to(&receiver_report(about, lsr, dlsr), from).await;
                });
            }
            if let Ok(mut s) = seen.lock() {
                s.compounds.push(parsed);
            }
        }
    });
}

/// The first number in `text` ("5.1 % / 6.0 %" → 5.1).
fn first_number(text: &str) -> Result<f64> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no number in {text:?}"))
}

#[tokio::test]
async fn induced_loss_and_jitter_show_on_the_record_and_the_quality_page() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let (rtp, rtcp) = bind_pair().await?;
    let relay_port = rtp.local_addr()?.port();
    let mut sipp = Sipp::start(SippOptions {
        rtp_port: Some(relay_port),
        ..SippOptions::carrier("uas-answer-echo.xml")
    })
    .await?;
    let seen = Arc::new(Mutex::new(Seen::new()));
    run_relay(rtp, sipp.echo_addr, seen.clone());
    run_rtcp_peer(rtcp, seen.clone());
    calls::add_carrier(&gateway, "Lossy", sipp.sip_addr, |_| {}).await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "+44 20 7946 0000").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(20)).await?;
        calls::wait_for_audio(&browser, 50, Duration::from_secs(15)).await?;
        let started = std::time::Instant::now();
        // The gateway keeps the carrier's sequence gaps: the browser sees
        // the 5 % loss too, and the phone warns the agent.
        let warning = browser
            .wait_for_text(
                r#"#connection-quality[data-level="poor"]"#,
                Duration::from_secs(12),
            )
            .await?;
        ensure!(
            warning.contains("packet loss"),
            "the warning says {warning:?}"
        );
        // Three report intervals (the first after 2.5 s, then every 5 s).
        tokio::time::sleep(Duration::from_secs(14).saturating_sub(started.elapsed())).await;
        calls::hang_up(&browser).await?;
        sipp.wait(Duration::from_secs(15)).await?.ensure_success()?;

        // The carrier's view of our RTCP.
        let (compounds, dropped, forwarded, induced_jitter_ms) = {
            let s = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            (
                s.compounds.clone(),
                s.dropped,
                s.forwarded_to_gateway,
                s.induced.mean_jitter_ms(),
            )
        };
        eprintln!(
            "relay: {dropped} dropped, {forwarded} forwarded toward the gateway, \
             jitter as sent {induced_jitter_ms:.2} ms (hold {HOLD_MS} ms)"
        );
        // The hold dominates what the relay induced (the timer rounds up).
        ensure!(
            (INDUCED_JITTER_MS - 0.5..=INDUCED_JITTER_MS + 3.0).contains(&induced_jitter_ms),
            "the relay induced {induced_jitter_ms} ms of jitter"
        );
        ensure!(
            compounds.len() >= 2,
            "RTCP compounds received: {compounds:?}"
        );
        let reports: Vec<Vec<Report>> = compounds
            .into_iter()
            .collect::<Result<_, String>>()
            .map_err(|e| anyhow::anyhow!("a malformed RTCP compound from the gateway: {e}"))?;
        let srs: Vec<&Report> = reports.iter().flatten().filter(|r| r.pt == 200).collect();
        ensure!(!srs.is_empty(), "no SR from the gateway: {reports:?}");
        ensure!(
            srs.iter().all(|r| r.packets.unwrap_or(0) > 0),
            "SR with no packets: {srs:?}"
        );
        // The gateway reports the loss it saw on the echoed stream.
        let last_block = reports
            .iter()
            .flatten()
            .filter(|r| r.pt == 200 || r.pt == 201)
            .filter_map(|r| r.blocks.first())
            .next_back()
            .context("no report block from the gateway")?;
        ensure!(
            last_block.1 > 0,
            "the gateway's report block shows no loss: {last_block:?}"
        );

        let record = calls::demo_last_record(&gateway).await?;
        let quality = record.quality.context("the record has no quality")?;
        let carrier = quality.carrier.context("no carrier leg figures")?;
        let loss = carrier.received.loss_percent();
        let jitter_ms = carrier.received.jitter_us as f64 / 1000.0;
        eprintln!(
            "record: loss {loss:.2} % (induced {INDUCED_LOSS}), jitter {jitter_ms:.2} ms \
             (induced {induced_jitter_ms:.2}), rtt {:?} ms (injected {INJECTED_RTT_MS}), \
             MOS {:.2}, far end {:?}",
            carrier.rtt_ms,
            carrier.mos_x100 as f64 / 100.0,
            carrier.far_end
        );
        ensure!(
            (loss - INDUCED_LOSS).abs() <= 1.0,
            "loss {loss} %: {carrier:?}"
        );
        ensure!(
            (jitter_ms - induced_jitter_ms).abs() <= 1.0,
            "jitter {jitter_ms} ms, induced {induced_jitter_ms}: {carrier:?}"
        );
        let rtt = carrier.rtt_ms.context("no round trip measured")?;
        ensure!(
            (INJECTED_RTT_MS - 5..=INJECTED_RTT_MS + 30).contains(&rtt),
            "round trip {rtt} ms, injected {INJECTED_RTT_MS}"
        );
        let far = carrier.far_end.context("no far-end figures from its RR")?;
        ensure!(
            far.lost == i64::from(RR_LOST) && far.jitter_us == 5000,
            "far end: {far:?}"
        );
        ensure!(carrier.mos_x100 < 430, "MOS with 5 % loss: {carrier:?}");
        let browser_leg = quality.browser.context("no browser leg figures")?;
        ensure!(browser_leg.received.packets > 100, "{browser_leg:?}");

        // The Quality page, as an admin sees it.
        admin::sign_out(&browser).await?;
        admin::sign_in(&browser, &gateway, "admin", &gateway.admin_password).await?;
        admin::open(&browser, "quality").await?;
        let row = r#"table#quality-carriers tr[data-carrier="Lossy"]"#;
        let page_loss = browser
            .wait_for_text(
                &format!(r#"{row} td[data-figure="loss"]"#),
                Duration::from_secs(15),
            )
            .await?;
        let page_jitter = browser
            .wait_for_text(
                &format!(r#"{row} td[data-figure="jitter"]"#),
                Duration::from_secs(5),
            )
            .await?;
        let page_mos = browser
            .wait_for_text(
                &format!(r#"{row} td[data-figure="mos"]"#),
                Duration::from_secs(5),
            )
            .await?;
        browser
            .wait_for("svg#chart-mos circle", Duration::from_secs(5))
            .await?;
        browser
            .wait_for(
                &format!(r#"table#quality-worst tr[data-id="{}"]"#, record.id),
                Duration::from_secs(5),
            )
            .await?;
        let shot = admin::screenshot(&browser, "quality").await?;
        // The charts and the worst calls, further down.
        browser
            .client()?
            .execute(
                "document.getElementById('quality-charts-title').scrollIntoView()",
                vec![],
            )
            .await
            .context("scrolling to the charts")?;
        let charts = browser.client()?.screenshot().await?;
        std::fs::write(
            e2e::artifacts_dir().join("admin-quality-charts.png"),
            charts,
        )?;
        eprintln!(
            "page: loss {page_loss:?}, jitter {page_jitter:?}, MOS {page_mos:?}; {}",
            shot.display()
        );
        let page_loss = first_number(&page_loss)?;
        let page_jitter = first_number(&page_jitter)?;
        ensure!(
            (page_loss - INDUCED_LOSS).abs() <= 1.0,
            "the page shows loss {page_loss} %"
        );
        ensure!(
            (page_jitter - induced_jitter_ms).abs() <= 1.0,
            "the page shows jitter {page_jitter} ms, induced {induced_jitter_ms}"
        );
        let page_mos = first_number(&page_mos)?;
        ensure!(
            (page_mos - carrier.mos_x100 as f64 / 100.0).abs() < 0.01,
            "the page shows MOS {page_mos}, the record {}",
            carrier.mos_x100
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[test]
fn the_parser_refuses_what_rfc_3550_does() {
    // An RR alone: no SDES CNAME.
    let rr = receiver_report(1, 2, 3);
    assert!(parse_compound(&rr).is_err());
    // With a CNAME it is a compound.
    let mut ok = rr.clone();
    ok.extend_from_slice(&[0x81, 202, 0, 3]);
    ok.extend_from_slice(&PEER_SSRC.to_be_bytes());
    ok.extend_from_slice(&[1, 2, b'p', b'x', 0, 0, 0, 0]);
    assert_eq!(parse_compound(&ok).map(|r| r.len()).ok(), Some(2));
    // Cut short: the SDES length no longer fits.
    assert!(parse_compound(&ok[..ok.len() - 4]).is_err());
    // SDES first is not a compound.
    let mut sdes_first = ok[32..].to_vec();
    sdes_first.extend_from_slice(&rr);
    assert!(parse_compound(&sdes_first).is_err());
}

/// SRTCP with a real SRTP stack: baresip (SDES, mandatory SRTP) as the
/// carrier. It can only report on our stream if it authenticated and
/// decrypted our SRTCP sender report (its RR then carries our LSR), and we
/// only read its report if we authenticated its SRTCP: the record's far
/// end figures and round trip prove both directions.
#[tokio::test]
async fn srtcp_reports_cross_both_ways_with_baresip() -> Result<()> {
    use e2e::baresip::{Baresip, MediaEnc};
    use shared::api::SrtpMode;
    let mut gateway = Gateway::start_with(e2e::gateway::GatewayOptions {
        args: vec!["--demo-carrier".to_owned(), "false".to_owned()],
        ..Default::default()
    })
    .await?;
    gateway.require_client()?;
    let baresip = Baresip::echo_carrier(MediaEnc::SrtpMandatory, "+14155552671").await?;
    calls::add_carrier(&gateway, "baresip SRTP", baresip.sip_addr, |c| {
        c.srtp = SrtpMode::Required;
    })
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "+1 415 555 2671").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(20)).await?;
        calls::wait_for_audio(&browser, 50, Duration::from_secs(20)).await?;
        // Our reports at 2.5 s and 7.5 s; baresip's every 5 s.
        tokio::time::sleep(Duration::from_secs(13)).await;
        // A clean call: the phone does not cry wolf.
        let level = browser.attr("#connection-quality", "data-level").await?;
        ensure!(
            level.as_deref() == Some("good"),
            "connection quality {level:?}"
        );
        calls::hang_up(&browser).await?;
        let record = calls::demo_last_record(&gateway).await?;
        let carrier = record
            .quality
            .and_then(|q| q.carrier)
            .context("no carrier leg figures")?;
        eprintln!("SRTP carrier leg: {carrier:?}");
        ensure!(
            carrier.far_end.is_some(),
            "no report from baresip was read (SRTCP in): {carrier:?}"
        );
        let rtt = carrier
            .rtt_ms
            .context("baresip's reports carry no LSR of ours (SRTCP out)")?;
        ensure!(rtt < 100, "round trip on loopback: {rtt} ms");
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
