//! The demo carrier's RTP endpoint: a sans-IO [`Media`] (prompt, then echo)
//! and the small task that drives it on one UDP socket per call.
//!
//! ```text
//!   update(params) ──► Prompt ── every 20 ms one G.711 packet of the chime ──┐
//!                        │  (packets received meanwhile: dropped,          │
//!                        │   but their source is latched)                  │
//!                        ▼ prompt done                                     │
//!                      Echo ── each RTP packet received with the call's ───┤
//!                             G.711 or telephone-event payload type is     │
//!                             sent back re-stamped                         │
//!                                                                          ▼
//!          to the latched source of the last RTP packet (symmetric RTP),
//!          before any arrived to the offer's c=/m= address; nothing at all
//!          while `send` is false (held: we answered recvonly/inactive).
//! ```
//!
//! Re-stamping: our SSRC; our sequence numbers, one more per packet sent;
//! timestamps continue ours: the first echoed packet of an incoming SSRC
//! fixes `offset = next_timestamp - its timestamp`, and every later packet
//! of that SSRC is sent with `its timestamp + offset`. That keeps the
//! sender's timing, and a telephone-event's packets, which share one
//! timestamp (RFC 4733 §2.5.1.2), keep sharing it. Marker bits are kept.
//! No RTCP is sent or read.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::g711::{self, Law};

/// Samples in one 20 ms packet at 8 kHz.
const SAMPLES_PER_PACKET: usize = 160;
const PACKET_INTERVAL: Duration = Duration::from_millis(20);
/// If the task woke this late, restart the 20 ms clock instead of sending
/// a burst to catch up.
const MAX_LATENESS: Duration = Duration::from_millis(200);

/// What the SIP side negotiated, and whether we may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaParams {
    pub law: Law,
    pub payload_type: u8,
    pub telephone_event: Option<u8>,
    /// From the offer; used until RTP arrives from somewhere.
    pub remote: Option<SocketAddr>,
    /// False while the peer holds the call (our answer was recvonly or
    /// inactive).
    pub send: bool,
}

/// One call's media, sans-IO: packets and time in, packets and the next
/// deadline out.
#[derive(Debug)]
pub struct Media {
    params: Option<MediaParams>,
    ssrc: u32,
    seq: u16,
    /// The timestamp of the next packet we originate.
    timestamp: u32,
    prompt: Vec<i16>,
    /// Samples of the prompt sent so far.
    prompt_sent: usize,
    next_tick: Option<Instant>,
    latched: Option<SocketAddr>,
    /// (incoming SSRC, timestamp offset) of the stream being echoed.
    echo: Option<(u32, u32)>,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
}

impl Media {
    /// A stream with the given SSRC and random starting sequence number and
    /// timestamp (RFC 3550 §5.1), not sending until [`Media::update`].
    pub fn new(ssrc: u32, seq: u16, timestamp: u32) -> Self {
        Media {
            params: None,
            ssrc,
            seq,
            timestamp,
            prompt: g711::prompt_samples(),
            prompt_sent: 0,
            next_tick: None,
            latched: None,
            echo: None,
            out: VecDeque::new(),
        }
    }

    /// New parameters from an answer (the first one starts the prompt).
    pub fn update(&mut self, now: Instant, params: MediaParams) {
        let sending = params.send;
        self.params = Some(params);
        self.next_tick = (sending && !self.prompt_done()).then_some(now);
        self.handle_timeout(now);
    }

    /// An RTP datagram from `from`.
    pub fn handle_rtp(&mut self, _now: Instant, from: SocketAddr, datagram: &[u8]) {
        let Some(params) = &self.params else { return };
        let Some(rtp) = Rtp::parse(datagram) else {
            return;
        };
        let known = rtp.payload_type == params.payload_type
            || Some(rtp.payload_type) == params.telephone_event;
        if !known {
            return;
        }
        self.latched = Some(from);
        if !self.prompt_done() || !params.send {
            return;
        }
        let offset = match self.echo {
            Some((ssrc, offset)) if ssrc == rtp.ssrc => offset,
            _ => {
                let offset = self.timestamp.wrapping_sub(rtp.timestamp);
                self.echo = Some((rtp.ssrc, offset));
                offset
            }
        };
        let timestamp = rtp.timestamp.wrapping_add(offset);
        // Where a new incoming SSRC would be anchored.
        self.timestamp = timestamp.wrapping_add(SAMPLES_PER_PACKET as u32);
        let (payload_type, marker, payload) = (rtp.payload_type, rtp.marker, rtp.payload.to_vec());
        self.send(marker, payload_type, timestamp, &payload);
    }

    /// Sends the prompt packets that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(params) = &self.params else { return };
        let (law, payload_type) = (params.law, params.payload_type);
        while let Some(tick) = self.next_tick.filter(|t| *t <= now) {
            let start = self.prompt_sent;
            let end = (start + SAMPLES_PER_PACKET).min(self.prompt.len());
            let payload: Vec<u8> = self
                .prompt
                .get(start..end)
                .unwrap_or_default()
                .iter()
                .map(|s| law.encode(*s))
                .collect();
            let timestamp = self.timestamp;
            self.send(start == 0, payload_type, timestamp, &payload);
            self.timestamp = self.timestamp.wrapping_add(SAMPLES_PER_PACKET as u32);
            self.prompt_sent = end;
            self.next_tick = if self.prompt_done() {
                None
            } else if now.duration_since(tick) > MAX_LATENESS {
                Some(now + PACKET_INTERVAL)
            } else {
                Some(tick + PACKET_INTERVAL)
            };
        }
    }

    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_tick
    }

    pub fn prompt_done(&self) -> bool {
        self.prompt_sent >= self.prompt.len()
    }

    fn send(&mut self, marker: bool, payload_type: u8, timestamp: u32, payload: &[u8]) {
        let Some(params) = &self.params else { return };
        if !params.send {
            return;
        }
        let Some(to) = self.latched.or(params.remote) else {
            return;
        };
        let mut packet = Vec::with_capacity(12 + payload.len());
        packet.push(0x80);
        packet.push(if marker { 0x80 } else { 0 } | (payload_type & 0x7F));
        packet.extend_from_slice(&self.seq.to_be_bytes());
        packet.extend_from_slice(&timestamp.to_be_bytes());
        packet.extend_from_slice(&self.ssrc.to_be_bytes());
        packet.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.out.push_back((to, packet));
    }
}

/// The fields of an RTP packet (RFC 3550 §5.1) the echo needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtp<'a> {
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

impl<'a> Rtp<'a> {
    /// `None` for anything that is not a well-formed RTP version 2 packet.
    pub fn parse(b: &'a [u8]) -> Option<Rtp<'a>> {
        let first = *b.first()?;
        if first >> 6 != 2 || b.len() < 12 {
            return None;
        }
        let word = |at: usize| -> Option<u32> {
            Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
        };
        let mut start = 12 + 4 * usize::from(first & 0x0F);
        if first & 0x10 != 0 {
            let length = u16::from_be_bytes(b.get(start + 2..start + 4)?.try_into().ok()?);
            start += 4 + 4 * usize::from(length);
        }
        let mut end = b.len();
        if first & 0x20 != 0 {
            end = end.checked_sub(usize::from(*b.last()?))?;
        }
        let second = *b.get(1)?;
        Some(Rtp {
            marker: second & 0x80 != 0,
            payload_type: second & 0x7F,
            seq: u16::from_be_bytes(b.get(2..4)?.try_into().ok()?),
            timestamp: word(4)?,
            ssrc: word(8)?,
            payload: b.get(start..end)?,
        })
    }
}

/// What the SIP side tells a running media task.
#[derive(Debug)]
pub enum MediaCommand {
    Update(MediaParams),
}

/// Drives one call's [`Media`] on its socket until the command channel
/// closes (the call ended, or the carrier stopped).
pub async fn run(socket: UdpSocket, mut commands: mpsc::UnboundedReceiver<MediaCommand>) {
    let mut media = Media::new(rand::random(), rand::random(), rand::random());
    let mut buf = vec![0u8; 2048];
    loop {
        while let Some((to, packet)) = media.poll_transmit() {
            // A lost datagram is a lost datagram: RTP does not retry.
            let _ = socket.send_to(&packet, to).await;
        }
        let deadline = media.poll_timeout();
        tokio::select! {
            command = commands.recv() => match command {
                Some(MediaCommand::Update(params)) => media.update(Instant::now(), params),
                None => break,
            },
            received = socket.recv_from(&mut buf) => {
                // An error here is an ICMP unreachable from an earlier send.
                if let Ok((len, from)) = received {
                    media.handle_rtp(Instant::now(), from, buf.get(..len).unwrap_or_default());
                }
            }
            () = sleep_until(deadline) => media.handle_timeout(Instant::now()),
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> MediaParams {
        MediaParams {
            law: Law::Mu,
            payload_type: 0,
            telephone_event: Some(101),
            remote: Some("127.0.0.1:4000".parse().expect("address")),
            send: true,
        }
    }

    fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, (u8::from(marker) << 7) | pt];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&0xDEAD_BEEFu32.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn drain(media: &mut Media) -> Vec<(SocketAddr, Vec<u8>)> {
        std::iter::from_fn(|| media.poll_transmit()).collect()
    }

    #[test]
    fn prompt_then_echo_restamped_to_the_latched_source() {
        let t0 = Instant::now();
        let mut media = Media::new(7, 100, 1000);
        media.update(t0, params());
        let mut prompt = drain(&mut media);
        let mut now = t0;
        while let Some(next) = media.poll_timeout() {
            now = next;
            media.handle_timeout(now);
            prompt.extend(drain(&mut media));
        }
        assert_eq!(prompt.len(), 75, "1.5 s of 20 ms packets");
        assert!(now.duration_since(t0) >= Duration::from_millis(1480));
        let first = Rtp::parse(&prompt[0].1).expect("RTP");
        assert!(first.marker);
        assert_eq!((first.seq, first.timestamp, first.ssrc), (100, 1000, 7));
        let last = Rtp::parse(&prompt[74].1).expect("RTP");
        assert_eq!((last.seq, last.timestamp), (174, 1000 + 74 * 160));
        assert!(prompt.iter().all(|(to, _)| to.port() == 4000));

        let source: SocketAddr = "127.0.0.1:4002".parse().expect("address");
        media.handle_rtp(now, source, &rtp(0, false, 9, 50_000, &[0x42; 160]));
        media.handle_rtp(now, source, &rtp(101, true, 10, 50_160, &[5, 0x0A, 0, 160]));
        media.handle_rtp(now, source, &rtp(101, false, 11, 50_160, &[5, 0x0A, 1, 64]));
        media.handle_rtp(now, source, &rtp(13, false, 12, 50_320, &[0]));
        let echoed = drain(&mut media);
        assert_eq!(echoed.len(), 3, "comfort noise (PT 13) is not echoed");
        let parsed: Vec<Rtp> = echoed
            .iter()
            .map(|(_, p)| Rtp::parse(p).expect("RTP"))
            .collect();
        assert!(echoed.iter().all(|(to, _)| *to == source), "symmetric RTP");
        assert_eq!(parsed[0].payload, [0x42; 160]);
        assert_eq!(parsed[0].seq, 175);
        assert_eq!(parsed[0].timestamp, 1000 + 75 * 160);
        assert_eq!(parsed[0].ssrc, 7);
        assert_eq!(parsed[1].payload_type, 101);
        assert!(parsed[1].marker);
        assert_eq!(
            parsed[1].timestamp, parsed[2].timestamp,
            "one event, one timestamp"
        );
        assert_eq!(parsed[1].timestamp, parsed[0].timestamp + 160);
    }

    #[test]
    fn held_calls_send_nothing_and_resume_the_prompt() {
        let t0 = Instant::now();
        let mut media = Media::new(1, 1, 1);
        media.update(
            t0,
            MediaParams {
                send: false,
                ..params()
            },
        );
        assert!(drain(&mut media).is_empty());
        assert_eq!(media.poll_timeout(), None);
        media.handle_rtp(
            t0,
            "127.0.0.1:9".parse().expect("address"),
            &rtp(0, false, 1, 1, &[1]),
        );
        assert!(drain(&mut media).is_empty());
        media.update(t0, params());
        assert_eq!(
            drain(&mut media).len(),
            1,
            "the prompt starts when the hold ends"
        );
    }

    #[test]
    fn hostile_datagrams_are_ignored() {
        let mut media = Media::new(1, 1, 1);
        media.update(Instant::now(), params());
        drain(&mut media);
        let from: SocketAddr = "127.0.0.1:9".parse().expect("address");
        let cases: [&[u8]; 6] = [
            b"",
            &[0x80],
            &[0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0x8F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF],
            &[0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF],
        ];
        for case in cases {
            assert_eq!(Rtp::parse(case), None, "{case:?}");
            media.handle_rtp(Instant::now(), from, case);
        }
        assert!(drain(&mut media).is_empty());
    }
}
