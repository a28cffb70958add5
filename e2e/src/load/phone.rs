//! An agent phone of the load harness: one SIP-over-WebSocket flow that
//! registers (with digest when challenged) and places calls whose media is a
//! real WebRTC session made by str0m: full ICE as the controlling agent,
//! DTLS-SRTP, G.711 µ-law in 20 ms packets.
//!
//! Each packet's payload starts with the time it was sent (microseconds
//! since the run's epoch, big-endian); the echo carrier writes its own hold
//! time after it (see [`super::echo::HOLD_AT`]), so each echoed packet gives
//! the round trip through the target minus the carrier's time.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use str0m::change::SdpAnswer;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Candidate, Event, Input, Output, RtcConfig};
use tokio::net::UdpSocket;

use crate::sip::{StreamEvent, WsPeer};
use crate::ws_phone::{header, status};

/// Where the sender's timestamp sits in the payload.
const SENT_AT: std::ops::Range<usize> = 0..8;
/// One 20 ms G.711 frame.
const FRAME: usize = 160;
const PTIME: Duration = Duration::from_millis(20);
/// How far behind its 20 ms clock a phone may fall and still send what is
/// due; beyond that it starts its clock afresh.
const CATCH_UP: Duration = Duration::from_millis(100);
/// How long after the last packet sent its echo may still come back.
const DRAIN: Duration = Duration::from_millis(300);

/// A SIP credential to answer digest challenges with.
#[derive(Debug, Clone)]
pub struct Credential {
    pub username: String,
    pub password: String,
}

/// One registered WebSocket flow.
pub struct Phone {
    ws: WsPeer,
    /// User part of the address of record.
    pub user: String,
    /// Host of the address of record and of the request URIs.
    pub domain: String,
    tab: usize,
    calls: u32,
}

/// What one call measured.
#[derive(Debug, Clone, Default)]
pub struct CallOutcome {
    /// Why it failed, if it did (no 200, no ICE/DTLS, no audio back).
    pub failed: Option<String>,
    /// INVITE sent → 200 received.
    pub setup: Option<Duration>,
    /// 200 received → DTLS connected.
    pub connect: Option<Duration>,
    pub sent: u64,
    /// Echoed packets that came back.
    pub received: u64,
    /// Round trip minus the carrier's hold time, microseconds, per packet.
    pub added_us: Vec<u32>,
    /// RFC 3550-style smoothed variation of the round trip, microseconds.
    pub jitter_us: f64,
}

fn headers<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    head.split("\r\n")
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .flat_map(split_list)
        .collect()
}

/// The entries of a comma-separated header value; commas inside `<…>` or
/// quotes do not separate.
fn split_list(value: &str) -> Vec<&str> {
    let (mut parts, mut start, mut angle, mut quoted) = (Vec::new(), 0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                parts.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

fn body(text: &str) -> &str {
    text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The URI inside `<…>` of a header value, or the value up to `;`.
fn uri_of(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or(value),
    }
}

/// `sdp` as a browser takes it. rtpengine 10.5 answers a one-m-line
/// BUNDLE offer without `a=group:BUNDLE` and without `a=ssrc`, which
/// Chrome accepts (it plays the one audio stream that comes, whatever its
/// SSRC) and str0m refuses or, lacking the SSRC, drops every packet. So
/// the group is added when missing, and the echo carrier's SSRC when the
/// answer names none (a relay passes the carrier's SSRC through).
fn as_browsers_take_it(sdp: &str) -> String {
    let Some(mid) = sdp
        .split("\r\n")
        .find_map(|l| l.strip_prefix("a=mid:"))
        .map(str::trim)
    else {
        return sdp.to_owned();
    };
    let group = !sdp.contains("\na=group:");
    let ssrc = !sdp.contains("\na=ssrc:");
    let mut out = String::with_capacity(sdp.len() + 64);
    for line in sdp.split_inclusive("\r\n") {
        out.push_str(line);
        if group && line.starts_with("t=") {
            out.push_str(&format!("a=group:BUNDLE {mid}\r\n"));
        }
        if ssrc && line.starts_with("a=mid:") {
            out.push_str(&format!("a=ssrc:{} cname:echo\r\n", super::echo::ECHO_SSRC));
        }
    }
    out
}

/// The dialog of an answered call, for in-dialog requests.
struct Dialog {
    call_id: String,
    from: String,
    to: String,
    target: String,
    /// Route headers: the 200's Record-Route, reversed.
    route: Vec<String>,
    cseq: u32,
}

impl Phone {
    /// Opens `ws_url` and registers `user@domain`; answers a digest
    /// challenge with `credential`.
    pub async fn register(
        ws_url: &str,
        user: &str,
        domain: &str,
        tab: usize,
        credential: Option<&Credential>,
    ) -> Result<Phone> {
        let mut ws = WsPeer::connect(ws_url).await?;
        let register = |auth: &str, cseq: u32| {
            format!(
                "REGISTER sip:{domain} SIP/2.0\r\nVia: SIP/2.0/WSS t{tab}.invalid;branch=z9hG4bKr{tab}x{cseq}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:{user}@{domain}>;tag=r{tab}\r\nTo: <sip:{user}@{domain}>\r\n\
                 Call-ID: reg-{user}-{tab}\r\nCSeq: {cseq} REGISTER\r\n\
                 Contact: <sip:{user}@t{tab}.invalid;transport=ws>;expires=3600\r\n\
                 {auth}Content-Length: 0\r\n\r\n"
            )
        };
        let first = ws
            .exchange(register("", 1).as_bytes(), Duration::from_secs(15))
            .await?;
        let answer = if first.status == 401 || first.status == 407 {
            let credential = credential.context("challenged without a credential")?;
            let name = if first.status == 401 {
                "WWW-Authenticate"
            } else {
                "Proxy-Authenticate"
            };
            let challenge = first
                .headers(name)
                .iter()
                .filter_map(|v| shared::sip::digest::Challenge::parse(v).ok())
                .max_by_key(|c| c.algorithm == shared::sip::digest::Algorithm::Sha256)
                .context("a digest challenge")?;
            let answer = shared::sip::digest::answer(
                &challenge,
                "REGISTER",
                &format!("sip:{domain}"),
                &credential.username,
                &credential.password,
                &format!("load{tab}"),
                1,
            );
            let field = if first.status == 401 {
                "Authorization"
            } else {
                "Proxy-Authorization"
            };
            let auth = format!("{field}: {}\r\n", answer.to_header_value());
            ws.exchange(register(&auth, 2).as_bytes(), Duration::from_secs(15))
                .await?
        } else {
            first
        };
        if answer.status != 200 {
            bail!("REGISTER of {user} answered {}", answer.status);
        }
        Ok(Phone {
            ws,
            user: user.to_owned(),
            domain: domain.to_owned(),
            tab,
            calls: 0,
        })
    }

    /// Calls `number` with media from `media_ip`, sends audio until
    /// `hang_up_at`, hangs up and says what it measured. `epoch` is the
    /// run's time zero for the stamps in the payload.
    pub async fn call(
        &mut self,
        number: &str,
        media_ip: IpAddr,
        hang_up_at: Instant,
        epoch: Instant,
    ) -> CallOutcome {
        let mut outcome = CallOutcome::default();
        if let Err(e) = self
            .call_inner(number, media_ip, hang_up_at, epoch, &mut outcome)
            .await
        {
            outcome.failed = Some(format!("{e:#}"));
        }
        outcome
    }

    async fn call_inner(
        &mut self,
        number: &str,
        media_ip: IpAddr,
        hang_up_at: Instant,
        epoch: Instant,
        outcome: &mut CallOutcome,
    ) -> Result<()> {
        self.calls += 1;
        let socket = UdpSocket::bind((media_ip, 0))
            .await
            .context("binding the phone's media socket")?;
        let local = socket.local_addr()?;
        let mut config = RtcConfig::new().set_rtp_mode(true).clear_codecs();
        config.codec_config().enable_pcmu(true, false);
        config.codec_config().add_config(
            101.into(),
            None,
            Codec::Tele,
            Frequency::EIGHT_KHZ,
            None,
            FormatParams::parse_line("0-16"),
        );
        let mut rtc = config.build(Instant::now());
        rtc.add_local_candidate(
            Candidate::host(local, "udp").map_err(|e| anyhow!("host candidate: {e}"))?,
        );
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = change.apply().context("no offer to make")?;
        let offer = offer.to_sdp_string();

        let (user, domain, tab, n) = (&self.user, &self.domain, self.tab, self.calls);
        let call_id = format!("load-{user}-{tab}-{n}");
        let from = format!("<sip:{user}@{domain}>;tag=f{tab}x{n}");
        let invite = format!(
            "INVITE sip:{number}@{domain} SIP/2.0\r\n\
             Via: SIP/2.0/WSS t{tab}.invalid;branch=z9hG4bKi{tab}x{n}\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: <sip:{number}@{domain}>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:{user}@t{tab}.invalid;transport=ws;ob>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
            offer.len()
        );
        let sent = Instant::now();
        self.ws.send(invite.as_bytes()).await?;
        let ok = loop {
            let text = match self.ws.recv(Duration::from_secs(20)).await? {
                StreamEvent::Message(m) => String::from_utf8_lossy(&m).into_owned(),
                StreamEvent::Closed(why) => bail!("the WebSocket closed: {why:?}"),
                StreamEvent::Timeout => bail!("no final answer to the INVITE in 20 s"),
            };
            if header(&text, "Call-ID") != Some(call_id.as_str()) {
                continue;
            }
            match status(&text) {
                200 => break text,
                code if code >= 300 => {
                    let line = text.lines().next().unwrap_or_default().to_owned();
                    // The ACK a final error response needs goes hop by hop.
                    bail!("the INVITE was answered {line}");
                }
                _ => {}
            }
        };
        outcome.setup = Some(sent.elapsed());
        let answered = Instant::now();
        let mut dialog = Dialog {
            call_id: call_id.clone(),
            from,
            to: header(&ok, "To").unwrap_or_default().to_owned(),
            target: header(&ok, "Contact")
                .map(|c| uri_of(c).to_owned())
                .context("a 200 without Contact")?,
            route: headers(&ok, "Record-Route")
                .into_iter()
                .rev()
                .map(str::to_owned)
                .collect(),
            cseq: 1,
        };
        let answer_sdp = as_browsers_take_it(body(&ok));
        let answer = SdpAnswer::from_sdp_string(&answer_sdp)
            .map_err(|e| anyhow!("the answer does not parse: {e}:\n{answer_sdp}"))?;
        rtc.sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| anyhow!("the answer is not acceptable: {e}:\n{answer_sdp}"))?;
        self.ws
            .send(self.in_dialog(&dialog, "ACK", 1).as_bytes())
            .await?;

        // Media until hang-up time, then a little longer for the last
        // echoes to come back.
        let mut buf = vec![0u8; 2048];
        let mut connected = false;
        let mut next_send = Instant::now();
        // Well below 2^16: the upper bits would be the SRTP rollover counter.
        let mut seq: u64 = 1000;
        let mut ts: u32 = 0;
        let mut last_transit: Option<i64> = None;
        let stop_at = hang_up_at + DRAIN;
        let mut payload = vec![0xFFu8; FRAME];
        loop {
            // Drain str0m's output.
            let timeout = loop {
                match rtc.poll_output().map_err(|e| anyhow!("str0m: {e}"))? {
                    Output::Timeout(t) => break t,
                    Output::Transmit(t) => {
                        let _ = socket.try_send_to(&t.contents, t.destination);
                    }
                    Output::Event(Event::Connected) => {
                        connected = true;
                        outcome.connect = Some(answered.elapsed());
                        next_send = Instant::now();
                    }
                    Output::Event(Event::RtpPacket(p)) => {
                        let now_us = epoch.elapsed().as_micros() as i64;
                        if p.payload.len() >= super::echo::HOLD_AT.end {
                            let mut stamp = [0u8; 8];
                            stamp.copy_from_slice(&p.payload[SENT_AT]);
                            let mut hold = [0u8; 4];
                            hold.copy_from_slice(&p.payload[super::echo::HOLD_AT]);
                            let transit = now_us - i64::from_be_bytes(stamp);
                            let added = transit - i64::from(u32::from_be_bytes(hold));
                            outcome.received += 1;
                            outcome
                                .added_us
                                .push(u32::try_from(added.max(0)).unwrap_or(u32::MAX));
                            if let Some(last) = last_transit {
                                let d = (transit - last).abs() as f64;
                                outcome.jitter_us += (d - outcome.jitter_us) / 16.0;
                            }
                            last_transit = Some(transit);
                        }
                    }
                    Output::Event(Event::IceConnectionStateChange(
                        str0m::IceConnectionState::Disconnected,
                    )) if connected => {
                        bail!("ICE disconnected during the call");
                    }
                    Output::Event(_) => {}
                }
            };
            let now = Instant::now();
            if now >= stop_at {
                break;
            }
            if !connected && now >= answered + Duration::from_secs(10) {
                bail!("no ICE and DTLS within 10 s of the 200");
            }
            if connected && now < hang_up_at && now >= next_send {
                seq += 1;
                ts = ts.wrapping_add(FRAME as u32);
                let stamp = epoch.elapsed().as_micros() as u64;
                payload[SENT_AT].copy_from_slice(&stamp.to_be_bytes());
                payload[super::echo::HOLD_AT].fill(0);
                let mut api = rtc.direct_api();
                let stream = api.stream_tx_by_mid(mid, None).context("no send stream")?;
                stream.write_rtp(RtpWrite::new(
                    0.into(),
                    seq.into(),
                    ts,
                    now,
                    payload.clone(),
                ));
                outcome.sent += 1;
                next_send += PTIME;
                if next_send + CATCH_UP < now {
                    // Far behind (an overloaded harness): start afresh
                    // rather than burst. A wake a little late sends the
                    // packets due at once, so the rate stays 50 a second.
                    next_send = now + PTIME;
                }
                continue;
            }
            let mut wake = timeout.min(stop_at);
            if connected && now < hang_up_at {
                wake = wake.min(next_send);
            }
            tokio::select! {
                r = socket.recv_from(&mut buf) => {
                    let (n, source) = r.context("the media socket failed")?;
                    if let Ok(contents) = buf[..n].try_into() {
                        let input = Input::Receive(Instant::now(), Receive {
                            proto: Protocol::Udp,
                            source,
                            destination: local,
                            contents,
                        });
                        rtc.handle_input(input).map_err(|e| anyhow!("str0m input: {e}"))?;
                    }
                }
                m = self.ws.next_event() => match m {
                    StreamEvent::Message(m) => {
                        let text = String::from_utf8_lossy(&m).into_owned();
                        self.in_call(&text, &dialog).await?;
                    }
                    StreamEvent::Closed(why) => bail!("the WebSocket closed: {why:?}"),
                    StreamEvent::Timeout => {}
                },
                () = tokio::time::sleep_until(wake.into()) => {
                    rtc.handle_input(Input::Timeout(Instant::now()))
                        .map_err(|e| anyhow!("str0m timeout: {e}"))?;
                }
            }
        }
        if outcome.received == 0 {
            bail!("no audio came back ({} packets sent)", outcome.sent);
        }
        dialog.cseq += 1;
        let bye = self.in_dialog(&dialog, "BYE", dialog.cseq);
        self.ws.send(bye.as_bytes()).await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.ws.recv(left).await? {
                StreamEvent::Message(m) => {
                    let text = String::from_utf8_lossy(&m).into_owned();
                    if header(&text, "Call-ID") == Some(call_id.as_str())
                        && header(&text, "CSeq").is_some_and(|c| c.ends_with("BYE"))
                        && status(&text) >= 200
                    {
                        if status(&text) != 200 {
                            bail!("the BYE was answered {}: {bye}\n{ok}", status(&text));
                        }
                        return Ok(());
                    }
                    self.in_call(&text, &dialog).await?;
                }
                StreamEvent::Closed(why) => bail!("the WebSocket closed: {why:?}"),
                StreamEvent::Timeout => bail!("no answer to the BYE in 10 s"),
            }
        }
    }

    /// A message during the call: a retransmitted 200 is ACKed again, a
    /// request from the far end is answered (a BYE ends the call early,
    /// which is a failure of the run).
    async fn in_call(&mut self, text: &str, dialog: &Dialog) -> Result<()> {
        if header(text, "Call-ID") != Some(dialog.call_id.as_str()) {
            return Ok(());
        }
        if status(text) == 200 && header(text, "CSeq").is_some_and(|c| c.ends_with("INVITE")) {
            let ack = self.in_dialog(dialog, "ACK", 1);
            return self.ws.send(ack.as_bytes()).await;
        }
        if status(text) != 0 || text.starts_with("ACK ") {
            return Ok(());
        }
        let mut reply = super::echo::reply_head(text, "200 OK", None);
        reply.push_str("Content-Length: 0\r\n\r\n");
        self.ws.send(reply.as_bytes()).await?;
        if text.starts_with("BYE ") {
            bail!("the far end hung up during the call");
        }
        Ok(())
    }

    fn in_dialog(&self, dialog: &Dialog, method: &str, cseq: u32) -> String {
        let routes: String = dialog
            .route
            .iter()
            .map(|r| format!("Route: {r}\r\n"))
            .collect();
        let branch = if method == "ACK" {
            format!("z9hG4bKa{}x{cseq}", dialog.call_id)
        } else {
            format!("z9hG4bK{method}{}x{cseq}", dialog.call_id)
        };
        format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/WSS t{tab}.invalid;branch={branch}\r\n\
             Max-Forwards: 70\r\n{routes}From: {from}\r\nTo: {to}\r\nCall-ID: {id}\r\n\
             CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
            target = dialog.target,
            tab = self.tab,
            from = dialog.from,
            to = dialog.to,
            id = dialog.call_id,
        )
    }
}

/// The loopback address phones and carriers use unless told otherwise.
pub fn loopback() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_routes_split_outside_angle_brackets() {
        let text = "SIP/2.0 200 OK\r\nRecord-Route: <sip:127.0.0.1:5060;r2=on;lr>, <sip:127.0.0.1:8080;transport=ws;r2=on;lr>\r\nRecord-Route: \"a, b\" <sip:x;lr>\r\n\r\n";
        assert_eq!(
            headers(text, "Record-Route"),
            [
                "<sip:127.0.0.1:5060;r2=on;lr>",
                "<sip:127.0.0.1:8080;transport=ws;r2=on;lr>",
                "\"a, b\" <sip:x;lr>"
            ]
        );
    }

    #[test]
    fn an_answer_gets_the_group_and_ssrc_a_browser_would_assume() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:x1\r\n";
        let fixed = as_browsers_take_it(sdp);
        assert!(fixed.contains("t=0 0\r\na=group:BUNDLE x1\r\n"), "{fixed}");
        assert!(
            fixed.contains(&format!(
                "a=mid:x1\r\na=ssrc:{} cname:echo\r\n",
                super::super::echo::ECHO_SSRC
            )),
            "{fixed}"
        );
        let complete = fixed.clone();
        assert_eq!(as_browsers_take_it(&complete), complete);
    }
}
