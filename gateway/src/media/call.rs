//! One call's media task: the I/O shell around str0m's `Rtc` (browser leg)
//! and the [`Relay`] (carrier leg).
//!
//! ```text
//!            ┌──────────── loop ────────────────────────────────────────────┐
//!            │ step(): drain rtc.poll_output() → Transmit / Event / Timeout │
//!            │         (RtpPacket → relay → carrier socket)                 │
//!            │         Timeout in the past → handle_input(Timeout), again   │
//!            │         no-media deadline passed → MediaEvent::NoMedia       │
//!            │ select! { command | browser datagram | carrier datagram |    │
//!            │           carrier RTCP (rtcp.rs) | sleep_until(deadline) }   │
//!            │ one mutation of the Rtc for what woke us, then loop          │
//!            └──────────────────────────────────────────────────────────────┘
//! ```
//!
//! An inbound call's task starts with our offer pending: until
//! [`Command::BrowserAnswer`] completes it, only STUN reaches the `Rtc`
//! and the relay treats the browser leg as inactive (ringing).
//!
//! Every piece of code that touches the `Rtc` runs through [`Call::guard`]
//! (`catch_unwind`); the whole task is wrapped once more so that a panic
//! anywhere still ends in exactly one `MediaEvent::Stopped`. Sending uses
//! `try_send_to`: a full socket buffer drops the datagram, as a network would.

use std::any::Any;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use futures_util::FutureExt as _;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec as Str0mCodec;
use str0m::media::{Frequency, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use shared::api::{LegQuality, StreamQuality};
use shared::quality::ReceiveStats;

use super::ports::PortLease;
use super::relay::{BrowserPts, Relay};
use super::rtcp::{self, Rtcp};
use super::sdp::{Negotiated, SrtpKeys};
use super::srtp::{SrtcpContext, SrtpContext, SrtpKey};
use super::{CallId, Direction, MediaEvent, MediaStats, StopReason};

/// Largest datagram read; longer ones are truncated (and then fail to parse).
const MAX_DATAGRAM: usize = 2048;
/// Bound on back-to-back "timeout already due" rounds in one step.
const MAX_DUE_ROUNDS: usize = 16;
/// Consecutive socket errors after which the call gives up.
const MAX_IO_ERRORS: u32 = 100;

pub(super) enum Command {
    CarrierAnswer(Negotiated),
    /// Boxed: an SDP is large next to the other commands.
    BrowserAnswer(Box<SdpAnswer>),
    BrowserReoffer(String),
    CarrierDirection(Direction),
    /// The carrier sends with this SRTP key from now on (its re-INVITE).
    RemoteKey(SrtpKey),
    /// Failover to a carrier of the other IP family: its sockets (boxed,
    /// like the answer). The old ones close, their ports go back.
    CarrierSockets(Box<CarrierSockets>),
    Stop,
    #[cfg(test)]
    Panic,
}

/// A call's sockets and the port pairs they hold.
pub(super) struct Sockets {
    pub browser: UdpSocket,
    /// Our ICE host candidate (the browser socket's advertised address);
    /// str0m wants it as the destination of what we receive.
    pub candidate: SocketAddr,
    /// The browser pair. Freed (dropped) when the task ends.
    #[expect(dead_code, reason = "held, never read: dropping it frees the ports")]
    pub browser_lease: PortLease,
    pub carrier: CarrierSockets,
}

/// The carrier's RTP and RTCP sockets and their port pair (freed when
/// dropped). Replaced when failover moves the call to a carrier of the
/// other IP family.
pub(super) struct CarrierSockets {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    #[expect(dead_code, reason = "held, never read: dropping it frees the ports")]
    pub lease: PortLease,
}

pub(super) struct Call {
    call: CallId,
    rtc: Rtc,
    mid: Mid,
    sockets: Sockets,
    relay: Relay,
    events: mpsc::UnboundedSender<MediaEvent>,
    commands: mpsc::UnboundedReceiver<Command>,
    connected: bool,
    /// Inbound calls: our offer, until the browser's answer is applied.
    pending_offer: Option<SdpPendingOffer>,
    /// Set by a command that ends the call; `step` returns it.
    failed: Option<StopReason>,
    out: Vec<u8>,
    /// SRTP toward the carrier, when the leg is encrypted.
    srtp: Option<CarrierSrtp>,
    /// The carrier leg's RTCP: our counts, its reports, ours to send.
    rtcp: Rtcp,
    /// Where the carrier's RTCP comes from (our reports go there).
    rtcp_source: Option<SocketAddr>,
    rtcp_out: Vec<u8>,
    /// The browser leg: what we receive (counted as for the carrier), and
    /// str0m's view of what the browser reports and the round trip.
    browser_rx: ReceiveStats,
    browser_epoch: Instant,
    browser_far: Option<StreamQuality>,
    browser_rtt: Option<std::time::Duration>,
    browser_sent: u64,
}

/// The two SRTP contexts of an encrypted carrier leg, with the keys they
/// were made from (a later answer with the same key keeps its state).
struct CarrierSrtp {
    local: SrtpKey,
    remote: SrtpKey,
    protect: SrtpContext,
    unprotect: SrtpContext,
    rtcp_protect: SrtcpContext,
    rtcp_unprotect: SrtcpContext,
}

/// What woke the task.
enum Wake {
    Command(Option<Command>),
    Browser(std::io::Result<(usize, SocketAddr)>),
    Carrier(std::io::Result<(usize, SocketAddr)>),
    CarrierRtcp(std::io::Result<(usize, SocketAddr)>),
    Timer,
}

impl Call {
    pub fn new(
        call: CallId,
        rtc: Rtc,
        mid: Mid,
        sockets: Sockets,
        relay: Relay,
        events: mpsc::UnboundedSender<MediaEvent>,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> Call {
        let now = Instant::now();
        let rtcp = Rtcp::new(now, relay.carrier_ssrc());
        Call {
            call,
            rtc,
            mid,
            sockets,
            relay,
            events,
            commands,
            connected: false,
            pending_offer: None,
            failed: None,
            out: Vec::with_capacity(MAX_DATAGRAM),
            srtp: None,
            rtcp,
            rtcp_source: None,
            rtcp_out: Vec::with_capacity(256),
            browser_rx: ReceiveStats::new(8000),
            browser_epoch: now,
            browser_far: None,
            browser_rtt: None,
            browser_sent: 0,
        }
    }

    /// The carrier leg's SRTP keys (`None`: plain RTP). A context whose key
    /// did not change keeps its rollover counter and replay window.
    pub fn set_srtp(&mut self, keys: Option<&SrtpKeys>) {
        let Some(keys) = keys else {
            self.srtp = None;
            return;
        };
        match &mut self.srtp {
            Some(s) => {
                if s.local != keys.local {
                    s.protect = SrtpContext::new(&keys.local);
                    s.rtcp_protect = SrtcpContext::new(&keys.local);
                    s.local = keys.local.clone();
                }
                if s.remote != keys.remote {
                    s.unprotect = SrtpContext::new(&keys.remote);
                    s.rtcp_unprotect = SrtcpContext::new(&keys.remote);
                    s.remote = keys.remote.clone();
                }
            }
            None => {
                self.srtp = Some(CarrierSrtp {
                    protect: SrtpContext::new(&keys.local),
                    unprotect: SrtpContext::new(&keys.remote),
                    rtcp_protect: SrtcpContext::new(&keys.local),
                    rtcp_unprotect: SrtcpContext::new(&keys.remote),
                    local: keys.local.clone(),
                    remote: keys.remote.clone(),
                })
            }
        }
    }

    /// An inbound call: `pending` is our offer to the browser, which the
    /// answer from [`Command::BrowserAnswer`] completes.
    pub fn awaiting_answer(mut self, pending: SdpPendingOffer) -> Call {
        self.pending_offer = Some(pending);
        self
    }

    /// The task body: runs the call, then reports `Stopped` exactly once.
    pub async fn run(self) {
        let call = self.call;
        let events = self.events.clone();
        let (stats, reason) = match AssertUnwindSafe(self.drive()).catch_unwind().await {
            Ok(done) => done,
            // Not reached through str0m (guarded below); kept so that nothing
            // can end a task silently.
            Err(panic) => (
                MediaStats::default(),
                StopReason::Panicked(panic_message(&*panic)),
            ),
        };
        debug!(call = call.0, ?reason, ?stats, "call media stopped");
        let _ = events.send(MediaEvent::Stopped {
            call,
            stats,
            reason,
        });
    }

    async fn drive(mut self) -> (MediaStats, StopReason) {
        let reason = self.drive_until_stopped().await;
        if !matches!(reason, StopReason::Panicked(_)) {
            // Say goodbye to the browser (DTLS close_notify); best effort.
            let _ = self.guard(|c| {
                let _ = c.rtc.close();
                for _ in 0..64 {
                    match c.rtc.poll_output() {
                        Ok(Output::Transmit(t)) => {
                            send(&c.sockets.browser, &t.contents, t.destination)
                        }
                        Ok(Output::Event(_)) => {}
                        Ok(Output::Timeout(_)) | Err(_) => break,
                    }
                }
            });
        }
        let mut stats = self.relay.stats.clone();
        stats.quality = Box::new(shared::api::CallQuality {
            carrier: self.rtcp.leg_quality(),
            browser: self.browser_quality(),
        });
        stats.carrier_rtcp_sent = self.rtcp.reports_sent;
        stats.carrier_rtcp_received = self.rtcp.reports_received;
        (stats, reason)
    }

    /// The browser leg's figures: our own count of what it sent us, its
    /// reports (via str0m) of what we sent it.
    fn browser_quality(&self) -> Option<LegQuality> {
        self.browser_rx.ssrc()?;
        let received = StreamQuality {
            packets: self.browser_rx.received() as i64,
            lost: self.browser_rx.lost() as i64,
            jitter_us: (self.browser_rx.mean_jitter_ms() * 1000.0).round() as i64,
        };
        let far_end = self.browser_far.map(|mut f| {
            f.packets = i64::try_from(self.browser_sent).unwrap_or(i64::MAX);
            f
        });
        Some(rtcp::leg(received, far_end, self.browser_rtt))
    }

    /// Runs `f` on the call; a panic inside becomes `Err(message)`.
    fn guard<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Result<T, String> {
        catch_unwind(AssertUnwindSafe(|| f(self))).map_err(|p| panic_message(&*p))
    }

    async fn drive_until_stopped(&mut self) -> StopReason {
        let mut browser_buf = vec![0u8; MAX_DATAGRAM];
        let mut carrier_buf = vec![0u8; MAX_DATAGRAM];
        let mut rtcp_buf = vec![0u8; MAX_DATAGRAM];
        let mut io_errors = 0u32;
        loop {
            let deadline = match self.guard(Call::step) {
                Ok(Ok(deadline)) => deadline,
                Ok(Err(reason)) => return reason,
                Err(panic) => return StopReason::Panicked(panic),
            };
            let wake = tokio::select! {
                cmd = self.commands.recv() => Wake::Command(cmd),
                r = self.sockets.browser.recv_from(&mut browser_buf) => Wake::Browser(r),
                r = self.sockets.carrier.rtp.recv_from(&mut carrier_buf) => Wake::Carrier(r),
                r = self.sockets.carrier.rtcp.recv_from(&mut rtcp_buf) => Wake::CarrierRtcp(r),
                () = tokio::time::sleep_until(deadline.into()) => Wake::Timer,
            };
            let now = Instant::now();
            let result = match wake {
                Wake::Command(None | Some(Command::Stop)) => return StopReason::Requested,
                Wake::Command(Some(command)) => self.guard(|c| c.on_command(now, command)),
                Wake::Browser(Ok((n, source))) => {
                    io_errors = 0;
                    let data = &browser_buf[..n];
                    self.guard(|c| c.on_browser(now, source, data))
                }
                Wake::Carrier(Ok((n, source))) => {
                    io_errors = 0;
                    let data = &carrier_buf[..n];
                    self.guard(|c| c.on_carrier(now, source, data))
                }
                Wake::CarrierRtcp(Ok((n, source))) => {
                    io_errors = 0;
                    let data = &rtcp_buf[..n];
                    self.guard(|c| c.on_carrier_rtcp(now, source, data))
                }
                Wake::Browser(Err(e)) | Wake::Carrier(Err(e)) | Wake::CarrierRtcp(Err(e)) => {
                    // E.g. ICMP port unreachable reported on a later read.
                    io_errors += 1;
                    debug!(call = self.call.0, "media socket: {e}");
                    if io_errors >= MAX_IO_ERRORS {
                        return StopReason::Error(format!("media socket keeps failing: {e}"));
                    }
                    Ok(())
                }
                Wake::Timer => self.guard(|c| {
                    if let Err(e) = c.rtc.handle_input(Input::Timeout(now)) {
                        debug!(call = c.call.0, "str0m timeout: {e}");
                    }
                }),
            };
            if let Err(panic) = result {
                return StopReason::Panicked(panic);
            }
        }
    }

    /// Drains str0m, feeds it due timeouts, checks the silence timer.
    /// Returns when to wake up next.
    fn step(&mut self) -> Result<Instant, StopReason> {
        if let Some(reason) = self.failed.take() {
            return Err(reason);
        }
        let mut now = Instant::now();
        let mut timeout = self.drain(now)?;
        for _ in 0..MAX_DUE_ROUNDS {
            if timeout > now {
                break;
            }
            if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
                debug!(call = self.call.0, "str0m timeout: {e}");
            }
            timeout = self.drain(now)?;
            now = Instant::now();
        }
        if !self.rtc.is_alive() {
            return Err(StopReason::Error(
                "the browser closed the WebRTC session".into(),
            ));
        }
        self.send_rtcp(now);
        if let Some((silent_for, leg)) = self.relay.poll_no_media(now) {
            let _ = self.events.send(MediaEvent::NoMedia {
                call: self.call,
                silent_for,
                leg,
            });
        }
        let deadline = [self.relay.no_media_deadline(), self.rtcp.poll_timeout()]
            .into_iter()
            .flatten()
            .fold(timeout, Instant::min);
        // Never spin: wake at least 1 ms from now.
        Ok(deadline.max(now + std::time::Duration::from_millis(1)))
    }

    /// `poll_output` until `Timeout`, handling transmits and events.
    fn drain(&mut self, now: Instant) -> Result<Instant, StopReason> {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => return Ok(t),
                Ok(Output::Transmit(t)) => send(&self.sockets.browser, &t.contents, t.destination),
                Ok(Output::Event(e)) => self.on_event(now, e),
                Err(e) => return Err(StopReason::Error(format!("WebRTC engine: {e}"))),
            }
        }
    }

    fn on_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::RtpPacket(p) => {
                let h = &p.header;
                let arrival = p.timestamp.saturating_duration_since(self.browser_epoch);
                self.browser_rx.packet(
                    *h.ssrc,
                    h.sequence_number,
                    h.timestamp,
                    arrival.as_micros() as u64,
                );
                if let Some(dest) = self.relay.browser_packet(
                    now,
                    *h.payload_type,
                    *h.ssrc,
                    h.sequence_number,
                    h.timestamp,
                    h.marker,
                    &p.payload,
                    &mut self.out,
                ) {
                    self.rtcp.sent(now, &self.out);
                    if let Some(srtp) = &mut self.srtp
                        && srtp.protect.protect(&mut self.out).is_err()
                    {
                        return;
                    }
                    send(&self.sockets.carrier.rtp, &self.out, dest);
                }
            }
            Event::Connected if !self.connected => {
                self.connected = true;
                debug!(call = self.call.0, "browser leg connected (ICE + DTLS)");
                let _ = self.events.send(MediaEvent::Connected { call: self.call });
            }
            Event::MediaChanged(m) if m.mid == self.mid => {
                let (pts, direction) = browser_state(&self.rtc, self.mid);
                self.relay.set_browser(now, pts, direction);
            }
            Event::MediaEgressStats(s) if s.mid == self.mid => {
                if let Some(rtt) = s.rtt {
                    self.browser_rtt = Some(rtt);
                }
                if let Some(remote) = s.remote {
                    self.browser_far = Some(StreamQuality {
                        packets: 0,
                        lost: i64::try_from(remote.packets_lost).unwrap_or(i64::MAX),
                        jitter_us: i64::from(remote.jitter) * 1_000_000 / 8000,
                    });
                }
            }
            Event::IceConnectionStateChange(state) => {
                debug!(call = self.call.0, ?state, "browser ICE state");
            }
            _ => {}
        }
    }

    fn on_browser(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        // Not answered yet: only STUN goes in. The answering tab starts its
        // ICE checks before its answer reaches us; str0m holds such requests
        // (at most 100, briefly) until the answer gives it the remote ufrag,
        // then answers those of that tab and drops the other ringing tabs'
        // (they all got the same offer). Nothing else can be valid before the
        // answer (RFC 7983: STUN's first byte is 0-3).
        if self.pending_offer.is_some() && data.first().is_none_or(|b| *b > 3) {
            return;
        }
        // Datagrams str0m cannot classify (not STUN/DTLS/RTP/RTCP) are dropped.
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.sockets.candidate,
                contents,
            },
        );
        if let Err(e) = self.rtc.handle_input(input) {
            debug!(call = self.call.0, "browser datagram rejected: {e}");
        }
    }

    fn on_carrier(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        // An encrypted leg: only authentic packets go on, decrypted.
        let data = match &mut self.srtp {
            None => data,
            Some(srtp) => match srtp.unprotect.unprotect(data) {
                Ok(plain) => plain,
                Err(why) => {
                    self.relay.stats.srtp_rejected_packets += 1;
                    if self.relay.stats.srtp_rejected_packets.is_power_of_two() {
                        debug!(call = self.call.0, ?why, %source, "carrier SRTP packet dropped");
                    }
                    return;
                }
            },
        };
        if !self.connected {
            // Still latch and keep the call alive; nothing to send on yet.
            let _ = self.relay.carrier_datagram(now, source, data, false);
            return;
        }
        let fields = rtp_fields(data);
        let Some((to, payload)) = self.relay.carrier_datagram(now, source, data, true) else {
            return;
        };
        if let Some((ssrc, seq, ts)) = fields {
            self.rtcp.received(now, ssrc, seq, ts);
        }
        self.browser_sent += 1;
        let payload: Vec<u8> = match to.convert {
            None => payload.to_vec(),
            Some(table) => payload.iter().map(|b| table[usize::from(*b)]).collect(),
        };
        let mut direct = self.rtc.direct_api();
        let Some(stream) = direct.stream_tx_by_mid(self.mid, None) else {
            return;
        };
        stream.write_rtp(
            RtpWrite::new(
                to.pt.into(),
                to.header.seq.into(),
                to.header.ts,
                now,
                payload,
            )
            .marker(to.header.marker),
        );
    }

    /// A datagram on the carrier's RTCP port: SRTCP on an encrypted leg
    /// (unauthentic ones are dropped), its reports into `rtcp`.
    fn on_carrier_rtcp(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        let plain;
        let data = match &mut self.srtp {
            None => data,
            Some(srtp) => match srtp.rtcp_unprotect.unprotect(data) {
                Ok(p) => {
                    plain = p;
                    &plain[..]
                }
                Err(why) => {
                    debug!(call = self.call.0, ?why, "carrier SRTCP packet dropped");
                    return;
                }
            },
        };
        // Only from the carrier's own address (its RTP's, or its SDP's).
        if self
            .relay
            .carrier_rtcp_destination()
            .is_none_or(|expected| expected.ip() != source.ip())
        {
            return;
        }
        self.rtcp_source = Some(source);
        self.rtcp.handle(now, ntp_now(), data);
    }

    /// Our report to the carrier, when one is due.
    fn send_rtcp(&mut self, now: Instant) {
        if !self.rtcp.poll_report(now, ntp_now(), &mut self.rtcp_out) {
            return;
        }
        let Some(dest) = self.rtcp_source.or(self.relay.carrier_rtcp_destination()) else {
            return;
        };
        if let Some(srtp) = &mut self.srtp
            && srtp.rtcp_protect.protect(&mut self.rtcp_out).is_err()
        {
            return;
        }
        send(&self.sockets.carrier.rtcp, &self.rtcp_out, dest);
    }

    fn on_command(&mut self, now: Instant, command: Command) {
        match command {
            Command::CarrierAnswer(answer) => {
                debug!(call = self.call.0, codec = %answer.codec, "carrier answer applied");
                self.set_srtp(answer.srtp.as_ref());
                self.relay.carrier_answered(now, answer);
                // A new answer (failover) may be another carrier.
                self.rtcp_source = None;
            }
            Command::BrowserAnswer(answer) => {
                if let Err(e) = self.apply_answer(now, *answer) {
                    warn!(call = self.call.0, "browser answer refused: {e}");
                    self.failed = Some(StopReason::Error(format!(
                        "the browser's SDP answer was refused: {e}"
                    )));
                }
            }
            Command::CarrierDirection(direction) => {
                self.relay.set_carrier_direction(now, direction);
            }
            Command::RemoteKey(key) => {
                if let Some(srtp) = &mut self.srtp
                    && srtp.remote != key
                {
                    debug!(
                        call = self.call.0,
                        "carrier SRTP key changed by its re-INVITE"
                    );
                    srtp.unprotect = SrtpContext::new(&key);
                    srtp.remote = key;
                }
            }
            Command::CarrierSockets(sockets) => {
                debug!(call = self.call.0, "carrier sockets replaced (failover)");
                self.sockets.carrier = *sockets;
            }
            Command::BrowserReoffer(sdp) => {
                let result = self.reoffer(now, &sdp);
                if let Err(e) = &result {
                    warn!(call = self.call.0, "browser re-offer refused: {e}");
                }
                let _ = self.events.send(MediaEvent::BrowserAnswer {
                    call: self.call,
                    result,
                });
            }
            Command::Stop => {}
            #[cfg(test)]
            Command::Panic => panic!("injected by a test"),
        }
    }

    /// Completes an inbound call's offer/answer; relaying may start once
    /// ICE and DTLS are done.
    fn apply_answer(&mut self, now: Instant, answer: SdpAnswer) -> Result<(), String> {
        let Some(pending) = self.pending_offer.take() else {
            // MediaControl lets only one answer through, and only for an offer.
            return Err("no offer is waiting for an answer".into());
        };
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| e.to_string())?;
        let (pts, direction) = browser_state(&self.rtc, self.mid);
        if pts.codecs().next().is_none() {
            return Err("it accepts neither PCMU nor PCMA".into());
        }
        debug!(call = self.call.0, ?direction, "browser answer applied");
        // Leaving the "ringing" hold starts the silence timer from now.
        self.relay.set_browser(now, pts, direction);
        Ok(())
    }

    fn reoffer(&mut self, now: Instant, sdp: &str) -> Result<String, String> {
        if self.pending_offer.is_some() {
            // accept_offer would throw away our own pending offer.
            return Err("the browser has not answered our offer yet".into());
        }
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| e.to_string())?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| e.to_string())?;
        let (pts, direction) = browser_state(&self.rtc, self.mid);
        self.relay.set_browser(now, pts, direction);
        Ok(answer.to_sdp_string())
    }
}

/// The browser leg's negotiated payload types and our direction toward it.
pub(super) fn browser_state(rtc: &Rtc, mid: Mid) -> (BrowserPts, Direction) {
    let Some(media) = rtc.media(mid) else {
        return (BrowserPts::default(), Direction::Inactive);
    };
    let mut pts = BrowserPts::default();
    if media.disabled() {
        return (pts, Direction::Inactive);
    }
    let remote = media.remote_pts();
    for p in rtc.codec_config().params() {
        if !remote.contains(&p.pt()) {
            continue;
        }
        let spec = p.spec();
        let slot = match spec.codec {
            Str0mCodec::PCMU => &mut pts.pcmu,
            Str0mCodec::PCMA => &mut pts.pcma,
            Str0mCodec::Tele if spec.clock_rate == Frequency::EIGHT_KHZ => &mut pts.telephone_event,
            _ => continue,
        };
        slot.get_or_insert(*p.pt());
    }
    (pts, media.direction().into())
}

/// SSRC, sequence number and timestamp of an RTP packet (version 2, at
/// least a fixed header).
fn rtp_fields(data: &[u8]) -> Option<(u32, u16, u32)> {
    if data.len() < 12 || data[0] >> 6 != 2 {
        return None;
    }
    let word = |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    Some((word(8), u16::from_be_bytes([data[2], data[3]]), word(4)))
}

/// The wall clock as an NTP timestamp (RTCP's clock).
fn ntp_now() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rtcp::ntp_of(since)
}

fn send(socket: &UdpSocket, data: &[u8], destination: SocketAddr) {
    if let Err(e) = socket.try_send_to(data, destination) {
        debug!("media send: {e}");
    }
}

pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".into()
    }
}
