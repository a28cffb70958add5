//! The load harness's carrier: a SIP UAS over UDP that answers every INVITE
//! at once with 200 (PCMU and telephone-event) and echoes each call's RTP
//! back from a socket of the call's own.
//!
//! Echoed packets keep their sequence numbers and timestamps but carry the
//! carrier's own SSRC ([`ECHO_SSRC`], as a real far end would), and the carrier writes how
//! long it held each packet into bytes 8..12 of the payload (microseconds,
//! big-endian), so that the phone can take the carrier's own time out of
//! the round trip. Only PCMU packets are echoed; the target's RTCP and
//! anything else that reaches the media socket is dropped.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use crate::ws_phone::header;

/// The SSRC of every echoed stream (each call has its own socket pair, so
/// one value for all is no clash); phones expect it where the target's
/// answer names no SSRC (see `phone::as_browsers_take_it`).
pub const ECHO_SSRC: u32 = 0x5EED_5EED;

/// Where the payload carries the carrier's hold time.
pub const HOLD_AT: std::ops::Range<usize> = 8..12;

/// Counters of the echo carrier.
#[derive(Debug, Default)]
pub struct EchoCounters {
    pub invites: AtomicU64,
    pub byes: AtomicU64,
    pub echoed: AtomicU64,
}

/// A running echo carrier; its tasks end when it is dropped.
pub struct EchoCarrier {
    pub sip: SocketAddr,
    pub counters: Arc<EchoCounters>,
    task: JoinHandle<()>,
}

impl Drop for EchoCarrier {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Dialog {
    tag: String,
    sdp: String,
    echo: JoinHandle<()>,
}

impl EchoCarrier {
    /// Starts the carrier on `ip` (SIP on an ephemeral port).
    pub async fn start(ip: IpAddr) -> Result<EchoCarrier> {
        let socket = UdpSocket::bind((ip, 0))
            .await
            .context("binding the echo carrier's SIP socket")?;
        let sip = socket.local_addr()?;
        let counters = Arc::new(EchoCounters::default());
        let task = tokio::spawn(serve(socket, ip, counters.clone()));
        Ok(EchoCarrier {
            sip,
            counters,
            task,
        })
    }
}

async fn serve(socket: UdpSocket, ip: IpAddr, counters: Arc<EchoCounters>) {
    let Ok(sip) = socket.local_addr() else {
        return;
    };
    let mut dialogs: HashMap<String, Dialog> = HashMap::new();
    let mut buf = vec![0u8; 65_535];
    let mut next_tag = 0u64;
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(text) = std::str::from_utf8(&buf[..n]) else {
            continue;
        };
        let method = text.split(' ').next().unwrap_or("");
        if method == "ACK" || method.starts_with("SIP/") {
            continue;
        }
        let Some(call_id) = header(text, "Call-ID").or_else(|| header(text, "i")) else {
            continue;
        };
        let reply = match method {
            // A retransmission or a re-INVITE: the same answer.
            "INVITE" if dialogs.contains_key(call_id) => dialogs
                .get(call_id)
                .map(|d| reply_to(text, "200 OK", Some(&d.tag), &d.sdp, sip)),
            "INVITE" => match UdpSocket::bind((ip, 0)).await {
                Ok(media) => {
                    counters.invites.fetch_add(1, Ordering::Relaxed);
                    let port = media.local_addr().map_or(0, |a| a.port());
                    next_tag += 1;
                    let dialog = Dialog {
                        tag: format!("echo{next_tag}"),
                        sdp: sdp(ip, port),
                        echo: tokio::spawn(echo(media, ECHO_SSRC, counters.clone())),
                    };
                    let reply = reply_to(text, "200 OK", Some(&dialog.tag), &dialog.sdp, sip);
                    dialogs.insert(call_id.to_owned(), dialog);
                    Some(reply)
                }
                Err(_) => Some(reply_to(text, "503 No Media Port", None, "", sip)),
            },
            "BYE" | "CANCEL" => {
                if let Some(dialog) = dialogs.remove(call_id) {
                    dialog.echo.abort();
                    counters.byes.fetch_add(1, Ordering::Relaxed);
                }
                Some(reply_to(text, "200 OK", None, "", sip))
            }
            _ => Some(reply_to(text, "200 OK", None, "", sip)),
        };
        if let Some(reply) = reply {
            let _ = socket.send_to(reply.as_bytes(), from).await;
        }
    }
}

fn sdp(ip: IpAddr, port: u16) -> String {
    format!(
        "v=0\r\no=echo 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
    )
}

/// The first lines of the answer `status` to `request`: its Via, From,
/// To (with `tag` added when it has none), Call-ID, CSeq and Record-Route.
pub(super) fn reply_head(request: &str, status: &str, tag: Option<&str>) -> String {
    let mut reply = format!("SIP/2.0 {status}\r\n");
    for line in request.split("\r\n") {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "via" | "v" | "from" | "f" | "call-id" | "i" | "cseq" | "record-route" => {
                reply.push_str(line);
                reply.push_str("\r\n");
            }
            "to" | "t" => {
                reply.push_str(line);
                if let Some(tag) = tag
                    && !line.contains(";tag=")
                {
                    reply.push_str(";tag=");
                    reply.push_str(tag);
                }
                reply.push_str("\r\n");
            }
            _ => {}
        }
    }
    reply
}

/// The answer `status` to `request` ([`reply_head`]), with a Contact and
/// `sdp` when it answers an INVITE with 200.
fn reply_to(
    request: &str,
    status: &str,
    tag: Option<&str>,
    sdp: &str,
    contact: SocketAddr,
) -> String {
    let method = request.split(' ').next().unwrap_or("");
    let mut reply = reply_head(request, status, tag);
    if method == "INVITE" && status.starts_with("200") {
        reply.push_str(&format!(
            "Contact: <sip:echo@{contact}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ));
    } else {
        reply.push_str("Content-Length: 0\r\n\r\n");
    }
    reply
}

async fn echo(media: UdpSocket, ssrc: u32, counters: Arc<EchoCounters>) {
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((n, from)) = media.recv_from(&mut buf).await else {
            continue;
        };
        let received = Instant::now();
        // PCMU RTP only, with a payload long enough to hold the phone's
        // stamp; CSRCs and a header extension (which a relay may pass on)
        // are stepped over.
        let Some(payload) = pcmu_payload(&buf[..n]) else {
            continue;
        };
        buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
        let held = u32::try_from(received.elapsed().as_micros()).unwrap_or(u32::MAX);
        buf[payload + HOLD_AT.start..payload + HOLD_AT.end].copy_from_slice(&held.to_be_bytes());
        if media.send_to(&buf[..n], from).await.is_ok() {
            counters.echoed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Where the payload of a PCMU RTP packet starts, if `packet` is one
/// whose payload can hold the phone's stamp and the carrier's hold time.
fn pcmu_payload(packet: &[u8]) -> Option<usize> {
    if packet.len() < 12 || packet[0] >> 6 != 2 || packet[1] & 0x7f != 0 {
        return None;
    }
    let mut start = 12 + 4 * usize::from(packet[0] & 0x0f);
    if packet[0] & 0x10 != 0 {
        let words = packet.get(start + 2..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    (packet.len() >= start + HOLD_AT.end).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_found_past_csrcs_and_extensions() {
        let mut plain = vec![0x80, 0x00, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4];
        plain.extend([0xFF; 160]);
        assert_eq!(pcmu_payload(&plain), Some(12));
        // One-byte-header extension of one word, after one CSRC.
        let mut ext = vec![0x91, 0x80, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4, 9, 9, 9, 9];
        ext.extend([0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0]);
        ext.extend([0xFF; 160]);
        assert_eq!(pcmu_payload(&ext), Some(24));
        // Not PCMU, not version 2, too short.
        let mut te = plain.clone();
        te[1] = 101;
        assert_eq!(pcmu_payload(&te), None);
        assert_eq!(pcmu_payload(&[0x40; 40]), None);
        assert_eq!(pcmu_payload(&plain[..20]), None);
        assert_eq!(pcmu_payload(&ext[..25]), None);
    }
}
