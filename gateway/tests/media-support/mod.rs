//! Test peers for the media engine, all on 127.0.0.1: a str0m `Rtc` playing
//! the browser (full ICE, DTLS client, RTP mode) and plain UDP sockets
//! playing the carrier.
#![allow(dead_code)] // each test file uses a different part

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway::media::{CallId, MediaConfig, MediaEngine, MediaEvent, MediaStats, StopReason};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::{Codec as Str0mCodec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// The browser's telephone-event payload type (Chrome uses 126 for 8 kHz).
pub const BROWSER_TE: u8 = 126;

pub fn engine(ports: std::ops::RangeInclusive<u16>, no_media: Duration) -> Arc<MediaEngine> {
    let ip = "127.0.0.1".parse().expect("loopback");
    let mut config = MediaConfig::new(ip, ports);
    config.bind_ip = ip;
    config.no_media_timeout = no_media;
    MediaEngine::new(config).expect("media engine")
}

/// An RTP packet as a peer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub pt: u8,
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
    /// When the peer got it.
    pub at: Instant,
}

pub struct Browser {
    pub rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    pub mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    pub received: Vec<Seen>,
    pub connected: bool,
    buf: Vec<u8>,
    seq: u64,
}

/// Called on every tick of [`Browser::pump_ticking`].
pub type OnTick<'a> = dyn FnMut(&mut Browser) + Send + 'a;

enum Wake {
    Datagram(usize, SocketAddr),
    Timer,
}

impl Browser {
    /// A browser offering PCMU, PCMA and telephone-event/8000 (PT 126).
    pub async fn new() -> Browser {
        Browser::with_codecs(&[Str0mCodec::PCMU, Str0mCodec::PCMA]).await
    }

    pub async fn with_codecs(codecs: &[Str0mCodec]) -> Browser {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("browser socket");
        let local = socket.local_addr().expect("browser address");
        let mut config = RtcConfig::new().set_rtp_mode(true).clear_codecs();
        for codec in codecs {
            match codec {
                Str0mCodec::PCMU => config.codec_config().enable_pcmu(true, false),
                Str0mCodec::PCMA => config.codec_config().enable_pcma(true, false),
                Str0mCodec::Opus => config.codec_config().enable_opus(true, false),
                other => panic!("test browser does not offer {other:?}"),
            }
        }
        config.codec_config().add_config(
            BROWSER_TE.into(),
            None,
            Str0mCodec::Tele,
            Frequency::EIGHT_KHZ,
            None,
            FormatParams::parse_line("0-16"),
        );
        let mut rtc = config.build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").expect("host candidate"));
        Browser {
            rtc,
            socket,
            local,
            mid: None,
            pending: None,
            received: Vec::new(),
            connected: false,
            buf: vec![0; 2048],
            seq: 100,
        }
    }

    /// The first offer, without candidates: like a browser that does not wait
    /// for ICE gathering (the ICE-lite side learns our address from checks).
    pub fn offer(&mut self) -> String {
        let mut change = self.rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = change.apply().expect("offer");
        self.mid = Some(mid);
        self.pending = Some(pending);
        let sdp = offer.to_sdp_string();
        let stripped = strip_candidates(&sdp);
        assert_ne!(sdp, stripped, "the offer had candidates to strip");
        stripped
    }

    /// A re-offer changing our direction (hold: SendOnly; resume: SendRecv).
    pub fn reoffer(&mut self, direction: Direction) -> String {
        let mut change = self.rtc.sdp_api();
        change.set_direction(self.mid.expect("media"), direction);
        let (offer, pending) = change.apply().expect("a change to offer");
        self.pending = Some(pending);
        self.flush();
        offer.to_sdp_string()
    }

    pub fn accept_answer(&mut self, answer: &str) {
        let answer = SdpAnswer::from_sdp_string(answer).expect("answer parses");
        let pending = self.pending.take().expect("an offer was made");
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("answer accepted");
        self.flush();
    }

    pub fn direction(&self) -> Direction {
        self.rtc
            .media(self.mid.expect("media"))
            .expect("media")
            .direction()
    }

    /// Writes one RTP packet (our own sequence numbers, continuous).
    pub fn send_rtp(&mut self, pt: u8, ts: u32, marker: bool, payload: &[u8]) {
        let mid = self.mid.expect("media");
        self.seq += 1;
        let seq = self.seq;
        let mut api = self.rtc.direct_api();
        let stream = api
            .stream_tx_by_mid(mid, None)
            .expect("browser send stream");
        stream.write_rtp(
            RtpWrite::new(pt.into(), seq.into(), ts, Instant::now(), payload.to_vec())
                .marker(marker),
        );
        self.flush();
    }

    pub fn ssrc(&mut self) -> u32 {
        let mid = self.mid.expect("media");
        *self
            .rtc
            .direct_api()
            .stream_tx_by_mid(mid, None)
            .expect("send stream")
            .ssrc()
    }

    /// Drains output and feeds due timeouts; returns the next deadline.
    fn flush(&mut self) -> Instant {
        for _ in 0..64 {
            let timeout = loop {
                match self.rtc.poll_output().expect("browser output") {
                    Output::Timeout(t) => break t,
                    Output::Transmit(t) => {
                        let _ = self.socket.try_send_to(&t.contents, t.destination);
                    }
                    Output::Event(e) => self.on_event(e),
                }
            };
            let now = Instant::now();
            if timeout > now {
                return timeout;
            }
            self.rtc
                .handle_input(Input::Timeout(now))
                .expect("browser timeout");
        }
        Instant::now() + Duration::from_millis(1)
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected => self.connected = true,
            Event::RtpPacket(p) => self.received.push(Seen {
                pt: *p.header.payload_type,
                ssrc: *p.header.ssrc,
                seq: p.header.sequence_number,
                ts: p.header.timestamp,
                marker: p.header.marker,
                payload: p.payload.to_vec(),
                at: Instant::now(),
            }),
            _ => {}
        }
    }

    /// Runs the browser for `limit` or until `done` holds.
    pub async fn pump_until(
        &mut self,
        limit: Duration,
        done: impl Fn(&Browser) -> bool + Sync,
    ) -> bool {
        let end = Instant::now() + limit;
        self.run(end, None, &done).await
    }

    /// Runs the browser until `end`, calling `on_tick` every `tick`.
    pub async fn pump_ticking(&mut self, end: Instant, tick: Duration, on_tick: &mut OnTick<'_>) {
        self.run(end, Some((tick, on_tick)), &|_| false).await;
    }

    async fn run(
        &mut self,
        end: Instant,
        mut tick: Option<(Duration, &mut OnTick<'_>)>,
        done: &(dyn Fn(&Browser) -> bool + Sync),
    ) -> bool {
        let mut next_tick = Instant::now();
        loop {
            if let Some((every, on_tick)) = tick.as_mut()
                && Instant::now() >= next_tick
            {
                on_tick(self);
                next_tick += *every;
            }
            let timeout = self.flush();
            if done(self) {
                return true;
            }
            let now = Instant::now();
            if now >= end {
                return false;
            }
            let mut wake = timeout.min(end);
            if tick.is_some() {
                wake = wake.min(next_tick);
            }
            let woke = tokio::select! {
                r = self.socket.recv_from(&mut self.buf) => {
                    let (n, source) = r.expect("browser recv");
                    Wake::Datagram(n, source)
                }
                () = tokio::time::sleep_until(wake.into()) => Wake::Timer,
            };
            let now = Instant::now();
            match woke {
                Wake::Datagram(n, source) => {
                    if let Ok(contents) = self.buf[..n].try_into() {
                        let input = Input::Receive(
                            now,
                            Receive {
                                proto: Protocol::Udp,
                                source,
                                destination: self.local,
                                contents,
                            },
                        );
                        self.rtc.handle_input(input).expect("browser input");
                    }
                }
                Wake::Timer => self
                    .rtc
                    .handle_input(Input::Timeout(now))
                    .expect("browser timeout"),
            }
        }
    }

    pub async fn pump(&mut self, duration: Duration) {
        self.pump_until(duration, |_| false).await;
    }
}

pub fn strip_candidates(sdp: &str) -> String {
    sdp.split_inclusive('\n')
        .filter(|l| !l.starts_with("a=candidate") && !l.starts_with("a=end-of-candidates"))
        .collect()
}

/// The port of the host candidate in the gateway's answer.
pub fn candidate_port(answer: &str) -> u16 {
    let line = answer
        .lines()
        .find(|l| l.starts_with("a=candidate"))
        .expect("the answer has our candidate");
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields[4], "127.0.0.1", "{line}");
    assert_eq!(fields[7], "host", "{line}");
    fields[5].parse().expect("candidate port")
}

/// A carrier's SDP answer: `pts` on the m-line, telephone-event as `te_pt`.
pub fn carrier_answer_sdp(port: u16, pts: &str, te_pt: Option<u8>, direction: &str) -> String {
    let mut s = format!(
        "v=0\r\no=carrier 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {pts}{}\r\n",
        te_pt.map(|pt| format!(" {pt}")).unwrap_or_default()
    );
    if let Some(pt) = te_pt {
        s.push_str(&format!(
            "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n"
        ));
    }
    s.push_str(&format!("a=ptime:20\r\na={direction}\r\n"));
    s
}

pub fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, u8::from(marker) << 7 | pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

pub fn parse_rtp(d: &[u8]) -> Seen {
    assert!(
        d.len() >= 12 && d[0] == 0x80,
        "plain RTP from the gateway: {d:?}"
    );
    Seen {
        pt: d[1] & 0x7f,
        marker: d[1] & 0x80 != 0,
        seq: u16::from_be_bytes([d[2], d[3]]),
        ts: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
        ssrc: u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
        payload: d[12..].to_vec(),
        at: Instant::now(),
    }
}

/// Everything waiting on `socket` now (non-blocking).
pub fn drain_socket(socket: &UdpSocket) -> Vec<Seen> {
    let mut buf = [0u8; 2048];
    let mut out = Vec::new();
    while let Ok((n, _)) = socket.try_recv_from(&mut buf) {
        out.push(parse_rtp(&buf[..n]));
    }
    out
}

/// A DTMF report (RFC 4733): event, end bit, volume 10, duration.
pub fn dtmf(event: u8, end: bool, duration: u16) -> Vec<u8> {
    let d = duration.to_be_bytes();
    vec![event, if end { 0x80 | 10 } else { 10 }, d[0], d[1]]
}

pub async fn next_event(events: &mut mpsc::UnboundedReceiver<MediaEvent>) -> MediaEvent {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("a media event within 5 s")
        .expect("events channel open")
}

/// Waits for `Stopped` (skipping other events) and returns its contents.
pub async fn stopped(
    events: &mut mpsc::UnboundedReceiver<MediaEvent>,
    call: CallId,
) -> (MediaStats, StopReason) {
    loop {
        if let MediaEvent::Stopped {
            call: c,
            stats,
            reason,
        } = next_event(events).await
        {
            assert_eq!(c, call);
            return (stats, reason);
        }
    }
}

/// Asserts each sequence number is the previous one plus one.
pub fn assert_continuous(seen: &[Seen], what: &str) {
    for pair in seen.windows(2) {
        assert_eq!(
            pair[1].seq,
            pair[0].seq.wrapping_add(1),
            "{what}: sequence not continuous: {:?} then {:?}",
            (pair[0].seq, pair[0].pt),
            (pair[1].seq, pair[1].pt)
        );
    }
}

/// A call whose browser leg is connected (ICE + DTLS done on both sides).
pub struct Setup {
    pub call: CallId,
    pub browser: Browser,
    pub media: gateway::media::OutboundMedia,
    pub events: mpsc::UnboundedReceiver<MediaEvent>,
}

/// A carrier on loopback with these codecs.
pub fn loopback_carrier(
    codecs: &[gateway::media::Codec],
    srtp_required: bool,
) -> gateway::media::CarrierTarget<'_> {
    gateway::media::CarrierTarget {
        codecs,
        srtp_required,
        ip: std::net::Ipv4Addr::LOCALHOST.into(),
    }
}

pub async fn connected_call(engine: &Arc<MediaEngine>, call: CallId) -> Setup {
    use gateway::media::Codec;
    let mut browser = Browser::new().await;
    let offer = browser.offer();
    let (tx, mut events) = mpsc::unbounded_channel();
    let media = engine
        .start_outbound(
            call,
            &offer,
            loopback_carrier(&[Codec::Pcmu, Codec::Pcma], false),
            tx,
        )
        .expect("outbound media");
    browser.accept_answer(&media.browser_answer);
    assert!(
        browser
            .pump_until(Duration::from_secs(5), |b| b.connected)
            .await,
        "browser connected within 5 s"
    );
    match next_event(&mut events).await {
        MediaEvent::Connected { call: c } => assert_eq!(c, call),
        other => panic!("expected Connected, got {other:?}"),
    }
    Setup {
        call,
        browser,
        media,
        events,
    }
}
