//! The B2BUA's [`MediaPort`] over the real [`MediaEngine`]: the sans-IO
//! core asks for media through this, and what the media tasks report comes
//! back to the driver as [`MediaEvent`]s, which [`deliver`] hands to the
//! core.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::media::{
    CallId, CarrierTarget, Codec, MediaControl, MediaEngine, MediaError, MediaEvent, StopReason,
};
use crate::sip::Now;
use crate::sip::b2bua::{InboundSetup, MediaCounts, MediaFailure, MediaPort, MediaSetup};
use crate::sip::core::SipCore;

pub struct EnginePort {
    engine: Arc<MediaEngine>,
    events: mpsc::UnboundedSender<MediaEvent>,
    calls: HashMap<CallId, MediaControl>,
}

impl EnginePort {
    pub fn new(engine: Arc<MediaEngine>, events: mpsc::UnboundedSender<MediaEvent>) -> Self {
        EnginePort {
            engine,
            events,
            calls: HashMap::new(),
        }
    }
}

/// The status a browser gets when media cannot be set up.
fn failure(e: &MediaError) -> MediaFailure {
    match e {
        MediaError::NoCommonCodec(_) => MediaFailure {
            code: 488,
            reason: format!("Not Acceptable Here ({e})"),
        },
        MediaError::BadOffer(_) | MediaError::BadAnswer(_) | MediaError::Srtp(_) => MediaFailure {
            code: 488,
            reason: format!("Not Acceptable Here ({e})"),
        },
        MediaError::NoPorts => MediaFailure {
            code: 503,
            reason: format!("Service Unavailable ({e})"),
        },
        _ => MediaFailure {
            code: 500,
            reason: format!("Server Internal Error ({e})"),
        },
    }
}

/// For a call whose media is gone (stopped, or never started).
fn ended() -> MediaFailure {
    MediaFailure {
        code: 500,
        reason: "Server Internal Error (the call's media has ended)".to_owned(),
    }
}

impl MediaPort for EnginePort {
    fn start_outbound(
        &mut self,
        call: CallId,
        browser_offer: &str,
        codecs: &[String],
        srtp_required: bool,
        carrier_ip: IpAddr,
    ) -> Result<MediaSetup, MediaFailure> {
        let codecs: Vec<Codec> = codecs.iter().filter_map(|c| c.parse().ok()).collect();
        let carrier = CarrierTarget {
            codecs: &codecs,
            srtp_required,
            ip: carrier_ip,
        };
        match self
            .engine
            .start_outbound(call, browser_offer, carrier, self.events.clone())
        {
            Ok(media) => {
                self.calls.insert(call, media.control);
                Ok(MediaSetup {
                    browser_answer: media.browser_answer,
                    carrier_offer: media.carrier_offer,
                })
            }
            Err(e) => Err(failure(&e)),
        }
    }

    fn start_inbound(
        &mut self,
        call: CallId,
        carrier_offer: &str,
        codecs: &[String],
        srtp_required: bool,
    ) -> Result<InboundSetup, MediaFailure> {
        let codecs: Vec<Codec> = codecs.iter().filter_map(|c| c.parse().ok()).collect();
        match self.engine.start_inbound(
            call,
            carrier_offer,
            &codecs,
            srtp_required,
            self.events.clone(),
        ) {
            Ok(media) => {
                self.calls.insert(call, media.control);
                Ok(InboundSetup {
                    browser_offer: media.browser_offer,
                    carrier_answer: media.carrier_answer,
                })
            }
            Err(e) => Err(failure(&e)),
        }
    }

    fn carrier_offer(
        &mut self,
        call: CallId,
        codecs: &[String],
        srtp_required: bool,
        carrier_ip: IpAddr,
    ) -> Result<String, MediaFailure> {
        let codecs: Vec<Codec> = codecs.iter().filter_map(|c| c.parse().ok()).collect();
        let carrier = CarrierTarget {
            codecs: &codecs,
            srtp_required,
            ip: carrier_ip,
        };
        match self.calls.get_mut(&call) {
            Some(control) => control
                .retarget(&self.engine, carrier)
                .map_err(|e| failure(&e)),
            None => Err(ended()),
        }
    }

    fn browser_answer(&mut self, call: CallId, sdp: &str) -> Result<(), MediaFailure> {
        match self.calls.get(&call) {
            Some(control) => control.browser_answer(sdp).map_err(|e| failure(&e)),
            None => Err(ended()),
        }
    }

    fn carrier_answer(&mut self, call: CallId, sdp: &str) -> Result<(), MediaFailure> {
        match self.calls.get(&call) {
            Some(control) => control
                .carrier_answer(sdp)
                .map(|_| ())
                .map_err(|e| failure(&e)),
            None => Err(ended()),
        }
    }

    fn browser_reoffer(&mut self, call: CallId, sdp: &str) {
        if let Some(control) = self.calls.get(&call) {
            control.browser_reoffer(sdp);
        }
    }

    fn carrier_reoffer(&mut self, call: CallId, sdp: &str) {
        if let Some(control) = self.calls.get(&call) {
            control.carrier_reoffer(sdp);
        }
    }

    fn set_hold(&mut self, call: CallId, held: bool) {
        if let Some(control) = self.calls.get(&call) {
            control.set_hold(held);
        }
    }

    fn stop(&mut self, call: CallId) {
        if let Some(control) = self.calls.remove(&call) {
            control.stop();
        }
    }
}

/// Hands a media task's report to the core.
pub fn deliver(core: &mut SipCore, now: Now, event: MediaEvent) {
    match event {
        MediaEvent::Connected { .. } => {}
        MediaEvent::BrowserAnswer { call, result } => core.media_browser_answer(call, result),
        MediaEvent::NoMedia {
            call,
            silent_for,
            leg,
        } => core.media_no_media(now, call, silent_for, leg),
        MediaEvent::Stopped {
            call,
            stats,
            reason,
        } => {
            let counts = MediaCounts {
                packets_to_carrier: stats.browser_to_carrier_packets,
                bytes_to_carrier: stats.browser_to_carrier_bytes,
                packets_from_carrier: stats.carrier_to_browser_packets,
                bytes_from_carrier: stats.carrier_to_browser_bytes,
            };
            let failure = match reason {
                StopReason::Requested => None,
                StopReason::Panicked(e) => Some(format!("panic: {e}")),
                StopReason::Error(e) => Some(e),
            };
            core.media_stopped_with_quality(now, call, counts, failure, *stats.quality);
        }
    }
}
