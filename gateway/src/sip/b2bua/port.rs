//! The media engine as a call sees it: the [`MediaPort`] trait and what
//! goes through it. Every method returns at once; each call's media runs
//! on a task of its own (`crate::media`), and what it has to say later
//! comes back through the B2BUA's `media_*` inputs.

use shared::ids::CallId;
use std::net::IpAddr;

/// What the media side says back when it cannot do what was asked: the
/// status the browser gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFailure {
    pub code: u16,
    pub reason: String,
}

/// The two SDPs a new outbound call's media produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSetup {
    /// The answer to the browser's WebRTC offer.
    pub browser_answer: String,
    /// Our plain RTP offer to the carrier.
    pub carrier_offer: String,
}

/// The two SDPs a new inbound call's media produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSetup {
    /// Our WebRTC offer, sent to every ringing browser tab (only the tab
    /// that answers ever uses it: the others are cancelled first).
    pub browser_offer: String,
    /// Our plain RTP answer to the carrier's offer (sent with the 200).
    pub carrier_answer: String,
}

/// Media counts at the end of a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaCounts {
    pub packets_to_carrier: u64,
    pub bytes_to_carrier: u64,
    pub packets_from_carrier: u64,
    pub bytes_from_carrier: u64,
}

/// Which leg went silent (no RTP) for the no-media timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SilentLeg {
    /// The carrier sent nothing: it is gone (no BYE) or its media broke.
    Carrier,
    /// The agent's browser sent nothing.
    Browser,
}

impl SilentLeg {
    /// "from the carrier" / "from the agent's phone", for reasons.
    pub fn from_words(self) -> &'static str {
        match self {
            SilentLeg::Carrier => "from the carrier",
            SilentLeg::Browser => "from the agent's phone",
        }
    }
}

/// The media engine as a call sees it. Every method returns at once: the
/// work happens on each call's own task, and what it has to say later
/// comes back through [`super::B2bua::media_browser_answer`],
/// [`super::B2bua::media_no_media`] and [`super::B2bua::media_stopped`].
pub trait MediaPort: Send {
    /// `srtp_required`: the carrier leg is SRTP (SDES) only; `carrier_ip`:
    /// where the carrier is (our media socket is of its IP family).
    fn start_outbound(
        &mut self,
        call: CallId,
        browser_offer: &str,
        codecs: &[String],
        srtp_required: bool,
        carrier_ip: IpAddr,
    ) -> Result<MediaSetup, MediaFailure>;
    /// Failover: the carrier offer for the next carrier (its codec order,
    /// its SRTP setting), on the same media.
    fn carrier_offer(
        &mut self,
        call: CallId,
        codecs: &[String],
        srtp_required: bool,
        carrier_ip: IpAddr,
    ) -> Result<String, MediaFailure>;
    /// An inbound call: the carrier's offer in, our answer to it and a
    /// WebRTC offer for the browsers out.
    fn start_inbound(
        &mut self,
        call: CallId,
        carrier_offer: &str,
        codecs: &[String],
        srtp_required: bool,
    ) -> Result<InboundSetup, MediaFailure>;
    /// The answering browser's answer to [`InboundSetup::browser_offer`].
    fn browser_answer(&mut self, call: CallId, sdp: &str) -> Result<(), MediaFailure>;
    /// The carrier's SDP (from a 183 or the 200).
    fn carrier_answer(&mut self, call: CallId, sdp: &str) -> Result<(), MediaFailure>;
    /// A browser re-INVITE's offer (hold, resume).
    fn browser_reoffer(&mut self, call: CallId, sdp: &str);
    /// A carrier re-INVITE's offer: an SRTP leg follows a new key in it.
    fn carrier_reoffer(&mut self, _call: CallId, _sdp: &str) {}
    fn set_hold(&mut self, call: CallId, held: bool);
    /// Ends the call's media; [`super::B2bua::media_stopped`] follows.
    fn stop(&mut self, call: CallId);
}
