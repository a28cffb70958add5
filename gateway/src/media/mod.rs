//! Per-call media: WebRTC (ICE-lite, DTLS-SRTP) toward the browser, RTP
//! (or SRTP with SDES keys) toward the carrier, G.711 and RFC 4733 telephone-event relayed
//! between them packet by packet (nothing is decoded).
//!
//! ```text
//!  browser (Chromium)          one tokio task per call (call.rs)                  carrier
//!                     ┌────────────────────────────────────────────────────────────┐
//!  ICE checks,        │ browser socket    str0m Rtc      Relay         carrier     │  RTP
//!  DTLS, SRTP  ◄─────►│ advertised:B ◄──► ICE-lite  ◄──► PT map   ◄──► socket :P   │◄──────►
//!  (rtcp-mux)         │ (host candidate)  DTLS-SRTP      SSRC/seq/ts   RTCP :P+1   │◄─────── RTCP
//!                     │                   RTP mode       latch, hold   (SR/RR)     │
//!                     └──────────────────────────▲─────────────┬───────────────────┘
//!                                   MediaControl │             │ MediaEvent: Connected,
//!                          (commands, SIP core) ─┘             ▼ BrowserAnswer, NoMedia, Stopped
//! ```
//!
//! [`MediaEngine::start_outbound`] runs synchronously on the SIP driver task:
//! it takes two port pairs, binds the browser socket (`B`; rtcp-mux, so `B+1`
//! is only reserved) and the carrier sockets (`P`, `P+1`), answers the
//! browser's offer with str0m, writes the carrier offer (the carrier's codec
//! order, only codecs the browser also offered, plus telephone-event) and
//! spawns the call's task (`call.rs`). From then on the core talks to the task
//! only through [`MediaControl`] (an unbounded channel, so signalling never
//! waits on media) and hears back through [`MediaEvent`]s.
//!
//! [`MediaEngine::start_inbound`] is the same for a call from a carrier, with
//! the offer/answer roles swapped on both legs:
//!
//! ```text
//!  carrier INVITE (RTP offer) ──► sdp::answer_offer: its first codec that the
//!                                 carrier's config allows (488 if none), its
//!                                 telephone-event PT, direction mirrored
//!  ◄── our RTP answer (c=/port of the carrier socket; sent with the 200)
//!  str0m sdp_api(): add_media(audio, sendrecv) + apply() ──► WebRTC offer for
//!      every ringing tab (ICE-lite, a=setup:actpass, that codec first, the
//!      other law second, telephone-event only if the carrier offered it)
//!  ... ringing (minutes, maybe): the task holds the SdpPendingOffer ...
//!  MediaControl::browser_answer(sdp) ──► parsed at once (BadAnswer on garbage,
//!      or on any answer after the first) ──► task: accept_answer(pending, …)
//!      ──► ICE, DTLS (either role), relaying; refused → Stopped(Error)
//! ```
//!
//! The carrier's offer already names its address, so the carrier leg knows
//! where to send from the start (and still latches onto the real source).
//! While the call rings, the browser leg counts as inactive: no silence
//! timer runs, carrier RTP (early media) latches but is dropped, and only
//! STUN reaches str0m, which keeps early checks until the answer names the
//! answering tab's ICE ufrag (every ringing tab got the same offer; the
//! other tabs' checks are then refused). Once the answer is applied the call
//! is the same as an outbound one: re-offers, hold and stop work alike.
//!
//! Files: `mod.rs` (this API, the engine), `call.rs` (the I/O shell: the task,
//! its sockets, driving str0m), and sans-IO parts: `relay.rs` (what crosses
//! and how it is rewritten), `rtp.rs` (RTP header, rewriter, G.711 law
//! tables), `sdp.rs` (carrier SDP, SDES `a=crypto`), `srtp.rs` (SRTP and
//! SRTCP protect/unprotect), `rtcp.rs` (the carrier leg's reports, loss,
//! jitter, round trip), `ports.rs` (port pool).
//!
//! # Invariants
//! - A call's media state is owned by its task; no lock is shared with
//!   signalling. The port pool is lock-free (one atomic flag per pair), and
//!   a pair is freed when the task ends, whatever way it ends.
//! - Every str0m call runs inside `catch_unwind` (str0m panics on its own
//!   bugs by design): a panic ends that call only, reported as
//!   [`StopReason::Panicked`]. Exactly one [`MediaEvent::Stopped`] ends every task.
//! - Nothing from the network is unwrapped: malformed datagrams on either
//!   socket are dropped (str0m authenticates everything on the browser leg;
//!   the carrier leg accepts only well-formed RTP with a negotiated PT).
//! - Each direction has its own SSRC (toward the browser: str0m's send
//!   stream; toward the carrier: ours). Sequence numbers continue by one
//!   across a source change, timestamps by the wall-clock gap (`rtp.rs`).
//! - Symmetric RTP: carrier-bound packets go to where the carrier's RTP
//!   really comes from (latched on its first valid packet), else to its SDP
//!   address. A latched source can only be replaced after it has been silent
//!   for 500 ms, or by a new carrier answer.
//! - Payloads are relayed unchanged. The one exception: if the carrier
//!   answers with the other G.711 law than the browser sends (the browser
//!   sends the first codec of our answer, which follows the carrier's
//!   order, so this needs a carrier that ignores its own preference), bytes
//!   are mapped μ-law ⇄ A-law by the ITU table (`law_converted_packets`),
//!   rather than leaving the call one-way silent.
//!
//! # Known limits
//! - Carrier-leg RTCP (`rtcp.rs`): we send SR/RR + SDES every 5 s to the
//!   carrier's RTP port + 1 (or where its RTCP comes from); `a=rtcp` and
//!   rtcp-mux toward carriers are not negotiated. Its reports give the
//!   far end's loss and jitter and the round trip. The browser leg's RTCP
//!   is str0m's own; its figures come from str0m's stats events.
//! - SRTP toward carriers is SDES only (`srtp.rs`: AES_CM_128_HMAC_SHA1_80
//!   and _32, SRTCP for the leg's reports, no MKI); DTLS-SRTP toward carriers is refused. A
//!   new carrier key is followed wherever it comes (183, 200, or its
//!   re-INVITE, whose answer repeats our offer and so our key).
//! - Carrier SDP is parsed by the small hand-written `sdp.rs` (c=, the
//!   first m=audio, rtpmap, telephone-event, direction, ptime): the subset is
//!   tiny and owning it lets us bound its work on hostile input. Host names in
//!   `c=` are not resolved.
//! - The no-media timer watches each leg: it fires when either leg sent
//!   nothing for `no_media_timeout` (a carrier gone without a BYE, a browser
//!   whose media broke), naming that leg, and never while held, nor while
//!   an inbound call rings.
//! - Inbound calls are tested here only with a str0m peer, which answers our
//!   `a=setup:actpass` with `passive` (we are the DTLS client); Chromium
//!   answers `active` (we are the server), the role outbound calls test.

#[doc(hidden)]
pub mod bench;
mod call;
pub(crate) use call::panic_message;
mod ports;
pub(crate) mod relay;
pub mod rtcp;
pub(crate) mod rtp;
pub(crate) mod sdp;
pub mod srtp;

use std::fmt;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::ops::RangeInclusive;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::config::DtlsCert;
use str0m::crypto::CryptoProvider;
use str0m::format::{Codec as Str0mCodec, FormatParams};
use str0m::media::{Direction as Str0mDirection, Frequency, MediaKind, Mid};
use str0m::{Candidate, Output, Rtc, RtcConfig};
use tokio::sync::mpsc;

use self::call::{Call, Command};
use self::ports::{PortLease, PortPool};
use self::relay::{BrowserPts, Relay};
pub use self::sdp::Crypto;
use self::srtp::SrtpKey;
pub use self::srtp::SrtpSuite;

/// The payload type we offer carriers for telephone-event/8000.
pub const CARRIER_TELEPHONE_EVENT_PT: u8 = 101;
/// The payload type str0m is configured with for telephone-event/8000 (it
/// answers with the browser's own number).
const BROWSER_TELEPHONE_EVENT_PT: u8 = 101;
/// A browser offer is a few kilobytes; refuse anything absurd before parsing.
const MAX_BROWSER_SDP: usize = 64 * 1024;
/// Default for [`MediaConfig::no_media_timeout`].
pub const DEFAULT_NO_MEDIA_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings of the media engine.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Address media sockets bind to (may be 0.0.0.0).
    pub bind_ip: IpAddr,
    /// Address written into SDP and the ICE candidate.
    pub advertised_ip: IpAddr,
    /// More addresses of this machine browsers may reach it at (another
    /// interface's: an office LAN beside a public address), offered as
    /// further host candidates on the same port. The socket binds all
    /// interfaces, so any of them reaches it.
    pub other_ips: Vec<IpAddr>,
    /// UDP ports for media; each call takes two even/odd pairs.
    pub rtp_ports: RangeInclusive<u16>,
    /// Silence on either leg (not on hold) this long → [`MediaEvent::NoMedia`].
    pub no_media_timeout: Duration,
    /// A dual-stack gateway's carrier sockets toward IPv6 carriers.
    pub ipv6: Option<Ipv6Media>,
}

/// Where carrier sockets toward IPv6 carriers bind, and the address our
/// SDP names to them (`c=IN IP6 …`). The browser side stays on the main
/// family: browsers reach us over the address of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Media {
    pub bind_ip: IpAddr,
    pub advertised_ip: IpAddr,
}

impl MediaConfig {
    /// Binds every interface of `advertised_ip`'s family, default timeout.
    pub fn new(advertised_ip: IpAddr, rtp_ports: RangeInclusive<u16>) -> MediaConfig {
        let bind_ip = match advertised_ip {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        MediaConfig {
            bind_ip,
            advertised_ip,
            other_ips: Vec::new(),
            rtp_ports,
            no_media_timeout: DEFAULT_NO_MEDIA_TIMEOUT,
            ipv6: None,
        }
    }
}

/// Identifies a call in events; chosen by the SIP core (the B2BUA's handle).
pub use shared::ids::CallId;

/// The codecs relayed between browser and carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 μ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The static payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    pub fn from_static_pt(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The other G.711 law.
    fn other(self) -> Codec {
        match self {
            Codec::Pcmu => Codec::Pcma,
            Codec::Pcma => Codec::Pcmu,
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A codec name in carrier configuration that is not PCMU or PCMA.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown codec `{0}` (supported: PCMU, PCMA)")]
pub struct UnknownCodec(pub String);

impl FromStr for Codec {
    type Err = UnknownCodec;

    /// `PCMU` / `PCMA`, case-insensitive (also `G711U`/`G711A`).
    fn from_str(s: &str) -> Result<Codec, UnknownCodec> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PCMU" | "G711U" | "G.711U" => Ok(Codec::Pcmu),
            "PCMA" | "G711A" | "G.711A" => Ok(Codec::Pcma),
            _ => Err(UnknownCodec(s.chars().take(32).collect())),
        }
    }
}

/// Media direction as written in SDP, from the writer's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn is_sending(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn is_receiving(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same stream seen from the other end (sendonly ⇄ recvonly).
    pub fn reverse(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }

    /// The SDP attribute name (`sendrecv`, ...).
    pub fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    pub fn from_attribute(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

impl From<str0m::media::Direction> for Direction {
    fn from(d: str0m::media::Direction) -> Direction {
        match d {
            str0m::media::Direction::SendRecv => Direction::SendRecv,
            str0m::media::Direction::SendOnly => Direction::SendOnly,
            str0m::media::Direction::RecvOnly => Direction::RecvOnly,
            str0m::media::Direction::Inactive => Direction::Inactive,
        }
    }
}

/// The carrier a call's media is set up for.
#[derive(Debug, Clone, Copy)]
pub struct CarrierTarget<'a> {
    /// The carrier's codecs in its order of preference.
    pub codecs: &'a [Codec],
    /// The carrier leg is SRTP (SDES) only.
    pub srtp_required: bool,
    /// The carrier's address: our carrier socket is of its family.
    pub ip: IpAddr,
}

/// Our side of the carrier leg: what [`carrier_sdp`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierLeg {
    /// Advertised address and RTP port of the carrier socket.
    pub address: SocketAddr,
    /// Codecs offered, in the carrier's order of preference.
    pub codecs: Vec<Codec>,
    /// telephone-event/8000 payload type, if the browser can do DTMF.
    pub telephone_event_pt: Option<u8>,
    /// `o=` session id (stays the same for the call; the version changes).
    pub session_id: u64,
    /// Our SDES key when the leg is SRTP (`RTP/SAVP`), else plain RTP.
    pub crypto: Option<Crypto>,
}

/// The `a=crypto` line we offer a carrier that requires SRTP: the suite
/// every SDES carrier speaks, with a fresh key.
fn our_crypto_offer() -> Crypto {
    Crypto {
        tag: 1,
        key: SrtpKey::random(SrtpSuite::AesCm128HmacSha1_80),
    }
}

/// Our SDP toward the carrier (offer, answer or re-INVITE); bump `version`
/// every time the content changes (RFC 3264 §8).
pub fn carrier_sdp(leg: &CarrierLeg, direction: Direction, version: u64) -> String {
    sdp::write(leg, direction, version)
}

/// What [`MediaEngine::start_outbound`] hands back.
#[derive(Debug)]
pub struct OutboundMedia {
    /// SDP answer for the browser (goes into the 183/200 toward it).
    pub browser_answer: String,
    /// SDP offer for the carrier's INVITE (`o=` version 1).
    pub carrier_offer: String,
    pub carrier_leg: CarrierLeg,
    pub control: MediaControl,
}

/// What [`MediaEngine::start_inbound`] hands back.
#[derive(Debug)]
pub struct InboundMedia {
    /// Our WebRTC offer for the ringing browser tab(s); the answering tab's
    /// SDP answer goes to [`MediaControl::browser_answer`].
    pub browser_offer: String,
    /// Our plain RTP answer to the carrier's offer (`o=` version 1).
    pub carrier_answer: String,
    pub carrier_leg: CarrierLeg,
    pub control: MediaControl,
}

/// Commands to one call's media task. Cheap to clone; never blocks.
#[derive(Clone)]
pub struct MediaControl {
    call: CallId,
    leg: Arc<CarrierLeg>,
    /// Outbound calls: the G.711 laws the browser offered, and the
    /// direction of our carrier offer (for [`Self::retarget`]).
    browser_codecs: Vec<Codec>,
    direction: Direction,
    /// Set while our WebRTC offer (inbound calls) waits for its answer;
    /// cleared by the first answer handed over, so only one is ever applied.
    awaiting_answer: Arc<AtomicBool>,
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedSender<MediaEvent>,
}

impl fmt::Debug for MediaControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaControl")
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

impl MediaControl {
    fn new(
        call: CallId,
        leg: &CarrierLeg,
        awaiting_answer: bool,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> (MediaControl, mpsc::UnboundedReceiver<Command>) {
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let control = MediaControl {
            call,
            leg: Arc::new(leg.clone()),
            browser_codecs: leg.codecs.clone(),
            direction: Direction::SendRecv,
            awaiting_answer: Arc::new(AtomicBool::new(awaiting_answer)),
            commands,
            events,
        };
        (control, commands_rx)
    }

    pub fn call(&self) -> CallId {
        self.call
    }

    /// Failover: the offer for the next carrier, in its codec order and
    /// with SRTP if it requires it (a new key). Its answer then goes to
    /// [`Self::carrier_answer`] as usual. The carrier socket stays, unless
    /// the next carrier is of the other IP family: then the task gets new
    /// ones from `engine` (in order, before that carrier's answer).
    pub fn retarget(
        &mut self,
        engine: &MediaEngine,
        carrier: CarrierTarget<'_>,
    ) -> Result<String, MediaError> {
        let (carrier_codecs, srtp_required) = (carrier.codecs, carrier.srtp_required);
        let mut codecs: Vec<Codec> = Vec::with_capacity(2);
        for c in carrier_codecs {
            if self.browser_codecs.contains(c) && !codecs.contains(c) {
                codecs.push(*c);
            }
        }
        if codecs.is_empty() {
            return Err(MediaError::NoCommonCodec(format!(
                "the browser offered none of this carrier's codecs ({})",
                sdp::codec_list(carrier_codecs)
            )));
        }
        let mut address = self.leg.address;
        if carrier.ip.is_ipv4() != address.is_ipv4() {
            let (sockets, rebound) = engine.bind_carrier(carrier.ip)?;
            self.commands
                .send(Command::CarrierSockets(Box::new(sockets)))
                .map_err(|_| MediaError::Ended)?;
            address = rebound;
        }
        let leg = CarrierLeg {
            address,
            codecs,
            crypto: srtp_required.then(our_crypto_offer),
            ..(*self.leg).clone()
        };
        let offer = carrier_sdp(&leg, self.direction, 1);
        self.leg = Arc::new(leg);
        Ok(offer)
    }

    /// A carrier re-INVITE's offer (hold, resume, a new key). Our answer
    /// repeats our offer; on an SRTP leg the key the carrier now sends with
    /// is followed. Garbage is ignored: the re-INVITE is still answered.
    pub fn carrier_reoffer(&self, sdp: &str) {
        let Ok(description) = sdp::parse(sdp) else {
            return;
        };
        if let Some(key) = sdp::reoffered_key(&self.leg, &description) {
            let _ = self.commands.send(Command::RemoteKey(key));
        }
    }

    /// The carrier's SDP from a 183 or 200. May come more than once (a later
    /// one replaces the address, codecs and latch). Parsed here, synchronously:
    /// an error means the answer was not applied (answer 488 with its text).
    /// Returns the carrier's chosen codec.
    pub fn carrier_answer(&self, sdp: &str) -> Result<Codec, MediaError> {
        let description =
            sdp::parse(sdp).map_err(|e| MediaError::BadAnswer(format!("carrier: {e}")))?;
        let negotiated = sdp::negotiate(&self.leg, &description)?;
        let codec = negotiated.codec;
        self.commands
            .send(Command::CarrierAnswer(negotiated))
            .map_err(|_| MediaError::Ended)?;
        Ok(codec)
    }

    /// The answering browser's SDP answer to [`InboundMedia::browser_offer`]
    /// (inbound calls). Parsed here, synchronously: garbage, or a second
    /// answer, is refused with [`MediaError::BadAnswer`] and changes nothing.
    /// The task then applies it; if str0m refuses it there, the call ends
    /// with [`MediaEvent::Stopped`] ([`StopReason::Error`]).
    pub fn browser_answer(&self, sdp: &str) -> Result<(), MediaError> {
        if sdp.len() > MAX_BROWSER_SDP {
            return Err(MediaError::BadAnswer(format!(
                "browser: {} bytes is too large",
                sdp.len()
            )));
        }
        let answer = catch_unwind(|| SdpAnswer::from_sdp_string(sdp))
            .map_err(|panic| {
                MediaError::BadAnswer(format!(
                    "browser: the WebRTC engine failed on it ({})",
                    call::panic_message(&*panic)
                ))
            })?
            .map_err(|e| MediaError::BadAnswer(format!("browser: {e}")))?;
        if answer.media_lines.is_empty() {
            return Err(MediaError::BadAnswer("browser: no m-line".into()));
        }
        // Claimed only once the answer is known to parse: a garbled answer
        // from one tab does not use up the call.
        if self
            .awaiting_answer
            .compare_exchange(true, false, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(MediaError::BadAnswer(
                "browser: no offer of ours is waiting for an answer".into(),
            ));
        }
        self.commands
            .send(Command::BrowserAnswer(Box::new(answer)))
            .map_err(|_| MediaError::Ended)
    }

    /// A browser re-INVITE's offer (hold: sendonly/inactive; resume:
    /// sendrecv). The answer comes back as [`MediaEvent::BrowserAnswer`].
    pub fn browser_reoffer(&self, sdp: &str) {
        if self
            .commands
            .send(Command::BrowserReoffer(sdp.to_owned()))
            .is_err()
        {
            let _ = self.events.send(MediaEvent::BrowserAnswer {
                call: self.call,
                result: Err(MediaError::Ended.to_string()),
            });
        }
    }

    /// The carrier leg is held (either side put the other on hold) or
    /// resumed: `true` stops relaying both ways on the carrier leg; `false`
    /// restores sendrecv. For one-way holds use [`Self::set_carrier_direction`].
    pub fn set_hold(&self, held: bool) {
        self.set_carrier_direction(if held {
            Direction::Inactive
        } else {
            Direction::SendRecv
        });
    }

    /// Our direction toward the carrier as negotiated in SDP: e.g. `RecvOnly`
    /// when the carrier holds us with music (it sends, we don't), `SendOnly`
    /// when we hold it.
    pub fn set_carrier_direction(&self, direction: Direction) {
        let _ = self.commands.send(Command::CarrierDirection(direction));
    }

    /// Ends the task; [`MediaEvent::Stopped`] follows with the final stats.
    pub fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }

    /// Test hook: makes the task panic inside its str0m-driving code.
    #[cfg(test)]
    fn inject_panic(&self) {
        let _ = self.commands.send(Command::Panic);
    }
}

/// What a call's media task tells the SIP core.
#[derive(Debug, Clone)]
pub enum MediaEvent {
    /// ICE and DTLS with the browser are done: media can flow on that leg.
    Connected { call: CallId },
    /// Answer to [`MediaControl::browser_reoffer`] (SDP or why not).
    BrowserAnswer {
        call: CallId,
        result: Result<String, String>,
    },
    /// Nothing received from `leg` for `no_media_timeout` while not on
    /// hold: hang up both legs. Sent once per silence.
    NoMedia {
        call: CallId,
        silent_for: Duration,
        leg: crate::sip::b2bua::SilentLeg,
    },
    /// The task ended (always the last event of a call).
    Stopped {
        call: CallId,
        stats: MediaStats,
        reason: StopReason,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// [`MediaControl::stop`], or every `MediaControl` was dropped.
    Requested,
    /// str0m (or our code) panicked; only this call ended.
    Panicked(String),
    /// The WebRTC session failed or was closed by the browser, or a socket broke.
    Error(String),
}

/// Counters of one call (payload bytes, headers excluded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaStats {
    pub browser_to_carrier_packets: u64,
    pub browser_to_carrier_bytes: u64,
    pub carrier_to_browser_packets: u64,
    pub carrier_to_browser_bytes: u64,
    pub dtmf_events_to_carrier: u64,
    pub dtmf_events_to_browser: u64,
    /// Packets whose G.711 law was converted (carrier chose the other law).
    pub law_converted_packets: u64,
    /// SRTP packets from the carrier dropped: wrong tag, replayed or malformed.
    pub srtp_rejected_packets: u64,
    /// Loss, jitter, round trip and MOS of each leg (`rtcp.rs`, str0m's
    /// stats for the browser leg).
    /// Boxed: it is most of the size of `MediaEvent::Stopped`.
    pub quality: Box<shared::api::CallQuality>,
    /// RTCP compound packets sent to and received from the carrier.
    pub carrier_rtcp_sent: u32,
    pub carrier_rtcp_received: u32,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    #[error("no free RTP ports left in the configured range")]
    NoPorts,
    /// The text says whose offer (`browser: …` or `carrier: …`).
    #[error("SDP offer not usable: {0}")]
    BadOffer(String),
    #[error("no common codec: {0}")]
    NoCommonCodec(String),
    /// SRTP required but not offered/answered, or no key we can use.
    #[error("SRTP: {0}")]
    Srtp(String),
    /// The text says whose answer (`browser: …` or `carrier: …`).
    #[error("SDP answer not usable: {0}")]
    BadAnswer(String),
    #[error("media socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("the call's media has already ended")]
    Ended,
    #[error("invalid media settings: {0}")]
    Config(String),
    #[error("media engine failure: {0}")]
    Internal(String),
}

/// Owns what all calls share: the DTLS certificate, the crypto provider and
/// the port pool.
pub struct MediaEngine {
    config: MediaConfig,
    cert: DtlsCert,
    crypto: Arc<CryptoProvider>,
    ports: Arc<PortPool>,
}

impl fmt::Debug for MediaEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaEngine")
            .field("config", &self.config)
            .field("port_pairs", &self.ports.capacity())
            .finish_non_exhaustive()
    }
}

impl MediaEngine {
    /// Checks the settings and makes the one DTLS certificate all calls use.
    pub fn new(config: MediaConfig) -> Result<Arc<MediaEngine>, MediaError> {
        if config.advertised_ip.is_unspecified() {
            return Err(MediaError::Config(
                "the advertised address cannot be 0.0.0.0 / ::".into(),
            ));
        }
        if config.bind_ip.is_ipv4() != config.advertised_ip.is_ipv4() {
            return Err(MediaError::Config(format!(
                "bind address {} and advertised address {} are of different IP families",
                config.bind_ip, config.advertised_ip
            )));
        }
        if let Some(v6) = config.ipv6
            && (!v6.bind_ip.is_ipv6()
                || !v6.advertised_ip.is_ipv6()
                || v6.advertised_ip.is_unspecified())
        {
            return Err(MediaError::Config(format!(
                "IPv6 media: bind {} and advertise {} must both be IPv6, the advertised one not ::",
                v6.bind_ip, v6.advertised_ip
            )));
        }
        if config.no_media_timeout.is_zero() {
            return Err(MediaError::Config(
                "no_media_timeout must be above 0".into(),
            ));
        }
        let ports = PortPool::new(&config.rtp_ports);
        if ports.capacity() < 2 {
            return Err(MediaError::Config(format!(
                "rtp_ports {}-{} holds {} even/odd port pair(s); a call needs 2",
                config.rtp_ports.start(),
                config.rtp_ports.end(),
                ports.capacity()
            )));
        }
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        let cert = catch_unwind(AssertUnwindSafe(|| {
            crypto.dtls_provider.generate_certificate()
        }))
        .ok()
        .flatten()
        .ok_or_else(|| MediaError::Internal("cannot generate the DTLS certificate".into()))?;
        Ok(Arc::new(MediaEngine {
            config,
            cert,
            crypto,
            ports,
        }))
    }

    /// How many calls the port range can hold at once.
    pub fn capacity(&self) -> usize {
        self.ports.capacity() / 2
    }

    /// Sets up an outbound call's media; see the module docs. Synchronous
    /// and quick (binds three sockets, runs str0m's offer/answer, spawns the
    /// task). Must be called from inside the tokio runtime.
    pub fn start_outbound(
        self: &Arc<Self>,
        call: CallId,
        browser_offer: &str,
        carrier: CarrierTarget<'_>,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> Result<OutboundMedia, MediaError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            MediaError::Internal("start_outbound must be called inside the tokio runtime".into())
        })?;
        if browser_offer.len() > MAX_BROWSER_SDP {
            return Err(MediaError::BadOffer(format!(
                "browser: {} bytes is too large",
                browser_offer.len()
            )));
        }
        let mut codecs: Vec<Codec> = Vec::with_capacity(2);
        for c in carrier.codecs {
            if !codecs.contains(c) {
                codecs.push(*c);
            }
        }
        if codecs.is_empty() {
            return Err(MediaError::NoCommonCodec(
                "no codec is configured for this carrier".into(),
            ));
        }
        let srtp_required = carrier.srtp_required;
        let offer = SdpOffer::from_sdp_string(browser_offer)
            .map_err(|e| MediaError::BadOffer(format!("browser: {e}")))?;

        let (sockets, carrier_address) = self.bind_call(carrier.ip)?;
        let candidate = sockets.candidate;
        let now = Instant::now();
        let answered = catch_unwind(AssertUnwindSafe(|| {
            self.answer_browser(now, offer, &codecs, candidate)
        }))
        .map_err(|panic| {
            MediaError::BadOffer(format!(
                "browser: the WebRTC engine failed on it ({})",
                call::panic_message(&*panic)
            ))
        })??;
        let (rtc, mid, browser_answer) = answered;
        let (pts, browser_direction) = call::browser_state(&rtc, mid);
        let common: Vec<Codec> = codecs
            .iter()
            .copied()
            .filter(|c| pts.of(*c).is_some())
            .collect();
        if common.is_empty() {
            return Err(MediaError::NoCommonCodec(format!(
                "the browser offered none of the carrier's codecs ({})",
                sdp::codec_list(&codecs)
            )));
        }
        let leg = CarrierLeg {
            address: carrier_address,
            codecs: common,
            telephone_event_pt: pts.telephone_event.map(|_| CARRIER_TELEPHONE_EVENT_PT),
            session_id: rand::random::<u32>().into(),
            crypto: srtp_required.then(our_crypto_offer),
        };
        let carrier_offer = carrier_sdp(&leg, browser_direction.reverse(), 1);

        let (mut control, commands_rx) = MediaControl::new(call, &leg, false, events.clone());
        control.browser_codecs = pts.codecs().collect();
        control.direction = browser_direction.reverse();
        let relay = self.relay(now, pts, browser_direction);
        let task = Call::new(call, rtc, mid, sockets, relay, events, commands_rx);
        runtime.spawn(task.run());
        Ok(OutboundMedia {
            browser_answer,
            carrier_offer,
            control,
            carrier_leg: leg,
        })
    }

    /// Sets up an inbound call's media; see the module docs. Synchronous and
    /// quick, like [`Self::start_outbound`]: answers the carrier's offer
    /// (the first of its codecs that `carrier_codecs` allows), makes the
    /// WebRTC offer for the browsers with str0m and spawns the task, which
    /// waits (as long as the call rings) for [`MediaControl::browser_answer`].
    pub fn start_inbound(
        self: &Arc<Self>,
        call: CallId,
        carrier_offer: &str,
        carrier_codecs: &[Codec],
        srtp_required: bool,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> Result<InboundMedia, MediaError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            MediaError::Internal("start_inbound must be called inside the tokio runtime".into())
        })?;
        let description =
            sdp::parse(carrier_offer).map_err(|e| MediaError::BadOffer(format!("carrier: {e}")))?;
        let mut negotiated = sdp::answer_offer(carrier_codecs, &description)?;
        let (crypto, srtp_keys) = sdp::answer_crypto(&description, srtp_required)?;
        negotiated.srtp = srtp_keys.clone();
        let codec = negotiated.codec;
        let telephone_event_pt = negotiated.telephone_event_pt;
        // Our direction toward the carrier mirrors its offer (RFC 3264 §6.1).
        let carrier_direction = negotiated.direction.reverse();

        // Media goes where the offer's c= says: our socket in that family.
        let carrier_ip = description.connection.unwrap_or(self.config.advertised_ip);
        let (sockets, carrier_address) = self.bind_call(carrier_ip)?;
        let candidate = sockets.candidate;
        // The carrier's codec first, so the browser sends it; the other law
        // second, in case the browser lacks it (the relay converts then).
        // telephone-event only if the carrier can take it: otherwise the
        // browser rightly reports DTMF as unavailable.
        let browser_codecs = [codec, codec.other()];
        let now = Instant::now();
        let offered = catch_unwind(AssertUnwindSafe(|| {
            self.offer_browser(
                now,
                &browser_codecs,
                telephone_event_pt.is_some(),
                candidate,
            )
        }))
        .map_err(|panic| {
            MediaError::Internal(format!(
                "the WebRTC engine failed making an offer ({})",
                call::panic_message(&*panic)
            ))
        })??;
        let (rtc, mid, browser_offer, pending) = offered;

        let leg = CarrierLeg {
            address: carrier_address,
            codecs: vec![codec],
            telephone_event_pt,
            session_id: rand::random::<u32>().into(),
            crypto,
        };
        let carrier_answer = carrier_sdp(&leg, carrier_direction, 1);

        let (control, commands_rx) = MediaControl::new(call, &leg, true, events.clone());
        // Until the browser answers, the browser leg counts as inactive: that
        // is a hold for the relay, so no silence timer runs while it rings.
        let mut relay = self.relay(now, BrowserPts::default(), Direction::Inactive);
        relay.set_carrier_direction(now, carrier_direction);
        relay.carrier_answered(now, negotiated);
        let mut task =
            Call::new(call, rtc, mid, sockets, relay, events, commands_rx).awaiting_answer(pending);
        task.set_srtp(srtp_keys.as_ref());
        runtime.spawn(task.run());
        Ok(InboundMedia {
            browser_offer,
            carrier_answer,
            carrier_leg: leg,
            control,
        })
    }

    /// A call's `Rtc`: ICE-lite with our one host candidate, the shared
    /// certificate, RTP mode, only `codecs` (in this order: str0m's SDP
    /// lists them so, and the browser sends the first it supports) and
    /// telephone-event/8000 if wanted.
    fn build_rtc(
        &self,
        now: Instant,
        codecs: &[Codec],
        telephone_event: bool,
        candidate: SocketAddr,
    ) -> Result<Rtc, MediaError> {
        let mut config = RtcConfig::new()
            .set_ice_lite(true)
            .set_rtp_mode(true)
            // The browser leg's RTCP figures (round trip, the browser's
            // loss and jitter reports) come out as stats events.
            .set_stats_interval(Some(Duration::from_secs(1)))
            .set_dtls_cert(self.cert.clone())
            .set_crypto_provider(Arc::clone(&self.crypto))
            .clear_codecs();
        for codec in codecs {
            match codec {
                Codec::Pcmu => config.codec_config().enable_pcmu(true, false),
                Codec::Pcma => config.codec_config().enable_pcma(true, false),
            }
        }
        if telephone_event {
            config.codec_config().add_config(
                BROWSER_TELEPHONE_EVENT_PT.into(),
                None,
                Str0mCodec::Tele,
                Frequency::EIGHT_KHZ,
                None,
                FormatParams::parse_line("0-16"),
            );
        }
        let mut rtc = config.build(now);
        let host = Candidate::host(candidate, "udp")
            .map_err(|e| MediaError::Config(format!("advertised address {candidate}: {e}")))?;
        rtc.add_local_candidate(host);
        // Further interfaces' addresses, same port (the socket binds them
        // all); one the browser cannot use simply never answers its checks.
        let family = candidate.is_ipv4();
        for ip in self
            .config
            .other_ips
            .iter()
            .filter(|ip| ip.is_ipv4() == family)
        {
            let other = SocketAddr::new(*ip, candidate.port());
            match Candidate::host(other, "udp") {
                Ok(host) => {
                    rtc.add_local_candidate(host);
                }
                Err(e) => tracing::debug!("no host candidate for {other}: {e}"),
            }
        }
        Ok(rtc)
    }

    /// Builds the call's `Rtc` and makes our WebRTC offer (one sendrecv
    /// audio m-line). Runs under `catch_unwind`.
    fn offer_browser(
        &self,
        now: Instant,
        codecs: &[Codec],
        telephone_event: bool,
        candidate: SocketAddr,
    ) -> Result<(Rtc, Mid, String, SdpPendingOffer), MediaError> {
        let mut rtc = self.build_rtc(now, codecs, telephone_event, candidate)?;
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Str0mDirection::SendRecv, None, None, None);
        let (offer, pending) = change
            .apply()
            .ok_or_else(|| MediaError::Internal("str0m made no offer for the audio".into()))?;
        drain_setup(&mut rtc).map_err(MediaError::Internal)?;
        Ok((rtc, mid, offer.to_sdp_string(), pending))
    }

    /// Builds the call's `Rtc` and answers the browser. Runs under `catch_unwind`.
    fn answer_browser(
        &self,
        now: Instant,
        offer: SdpOffer,
        codecs: &[Codec],
        candidate: SocketAddr,
    ) -> Result<(Rtc, Mid, String), MediaError> {
        // The answer follows the carrier's order, so the browser sends the
        // carrier's preferred codec.
        let mut rtc = self.build_rtc(now, codecs, true, candidate)?;
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| MediaError::BadOffer(format!("browser: {e}")))?;
        // The answer carries an a=mid for every m-line (str0m wrote it).
        let mid = answer
            .media_lines
            .iter()
            .map(|line| line.mid())
            .find(|mid| {
                rtc.media(*mid)
                    .is_some_and(|m| m.kind() == MediaKind::Audio && !m.disabled())
            })
            .ok_or_else(|| {
                MediaError::NoCommonCodec("the browser offered no G.711 audio".into())
            })?;
        drain_setup(&mut rtc).map_err(|e| MediaError::BadOffer(format!("browser: {e}")))?;
        Ok((rtc, mid, answer.to_sdp_string()))
    }

    /// A new call's relay: random SSRC (toward the carrier; str0m has its
    /// own toward the browser), sequence numbers and timestamps.
    fn relay(&self, now: Instant, browser: BrowserPts, browser_direction: Direction) -> Relay {
        Relay::new(
            now,
            browser,
            browser_direction,
            self.config.no_media_timeout,
            rtp::Rewriter::new(rand::random(), rand::random(), rand::random()),
            rtp::Rewriter::new(0, rand::random(), rand::random()),
        )
    }

    /// Binds a call's sockets: the browser's (`B`; rtcp-mux, `B+1` only
    /// reserved) and the carrier's (see [`Self::bind_carrier`]). Also
    /// returns the carrier socket's advertised address, for our SDP.
    fn bind_call(&self, carrier_ip: IpAddr) -> Result<(call::Sockets, SocketAddr), MediaError> {
        let (carrier, carrier_address) = self.bind_carrier(carrier_ip)?;
        let (browser_lease, browser, _) = self.bind(self.config.bind_ip, false)?;
        let sockets = call::Sockets {
            browser,
            candidate: SocketAddr::new(self.config.advertised_ip, browser_lease.rtp_port()),
            browser_lease,
            carrier,
        };
        Ok((sockets, carrier_address))
    }

    /// Binds carrier RTP and RTCP sockets in `carrier_ip`'s family; returns
    /// them with their advertised RTP address.
    fn bind_carrier(
        &self,
        carrier_ip: IpAddr,
    ) -> Result<(call::CarrierSockets, SocketAddr), MediaError> {
        let (bind_ip, advertised) = self.carrier_side(carrier_ip)?;
        let (lease, rtp, rtcp) = self.bind(bind_ip, true)?;
        let Some(rtcp) = rtcp else {
            return Err(MediaError::Internal("RTCP socket missing".into()));
        };
        let address = SocketAddr::new(advertised, lease.rtp_port());
        Ok((call::CarrierSockets { rtp, rtcp, lease }, address))
    }

    /// The bind and advertised address of carrier sockets toward a carrier
    /// at `ip`: the main ones when the family matches, else the IPv6 side.
    fn carrier_side(&self, ip: IpAddr) -> Result<(IpAddr, IpAddr), MediaError> {
        let main = (self.config.bind_ip, self.config.advertised_ip);
        match self.config.ipv6 {
            _ if ip.is_ipv4() == self.config.advertised_ip.is_ipv4() => Ok(main),
            Some(v6) if ip.is_ipv6() => Ok((v6.bind_ip, v6.advertised_ip)),
            _ => Err(MediaError::BadOffer(format!(
                "carrier: media at {ip} needs an IPv{} address of ours, and this gateway has none",
                if ip.is_ipv6() { 6 } else { 4 }
            ))),
        }
    }

    /// Takes a port pair and binds its even port (and the odd one for RTCP).
    /// A pair some other program holds is skipped.
    fn bind(
        &self,
        ip: IpAddr,
        with_rtcp: bool,
    ) -> Result<
        (
            PortLease,
            tokio::net::UdpSocket,
            Option<tokio::net::UdpSocket>,
        ),
        MediaError,
    > {
        for _ in 0..self.ports.capacity() {
            let lease = self.ports.acquire().ok_or(MediaError::NoPorts)?;
            let port = lease.rtp_port();
            let rtp = match bind_udp(SocketAddr::new(ip, port)) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e.into()),
            };
            let rtcp = if with_rtcp {
                match bind_udp(SocketAddr::new(ip, port + 1)) {
                    Ok(s) => Some(s),
                    Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                    Err(e) => return Err(e.into()),
                }
            } else {
                None
            };
            return Ok((lease, rtp, rtcp));
        }
        Err(MediaError::NoPorts)
    }
}

/// Drains a new `Rtc` (str0m's contract after a change); ICE-lite sends
/// nothing yet, and the events (media added) are known already.
fn drain_setup(rtc: &mut Rtc) -> Result<(), String> {
    for _ in 0..1000 {
        match rtc.poll_output() {
            Ok(Output::Timeout(_)) => break,
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

fn bind_udp(addr: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    let socket = StdUdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket)
}

#[cfg(test)]
mod tests;
