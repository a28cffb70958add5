//! The call's audio in the browser: the microphone (`getUserMedia`), the
//! `RTCPeerConnection`, the remote track on `audio#remote-audio`, keypad
//! tones (`RTCDTMFSender`, RFC 4733) and hold by renegotiation. A thin layer:
//! it does what [`super::shell`] asks and decides nothing about SIP.
//!
//! ICE: the STUN/TURN servers the gateway hands out with the SIP credential
//! (none unless it is set up with TURN; relay-only when it says so). The
//! gateway is ICE-lite and learns the browser's address (or its TURN
//! relay's) from the browser's connectivity checks, so the offer leaves as
//! soon as gathering completes or after [`GATHER_WAIT_MS`], whichever
//! comes first, with whatever candidates exist by then: a relay allocated
//! later still sends its checks.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    HtmlMediaElement, MediaStream, MediaStreamConstraints, MediaStreamTrack, RtcConfiguration,
    RtcIceGatheringState, RtcOfferOptions, RtcPeerConnection, RtcRtpTransceiver,
    RtcRtpTransceiverDirection, RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit,
    RtcTrackEvent,
};

use shared::api::IceConfig;

use crate::state::call::MicProblem;

/// The id of the element the far end's audio plays in.
pub const REMOTE_AUDIO_ID: &str = "remote-audio";
/// The longest the offer waits for ICE candidates.
pub const GATHER_WAIT_MS: i32 = 300;
/// RFC 4733 tone length and gap, in milliseconds.
const DTMF_DURATION_MS: u32 = 120;
const DTMF_GAP_MS: u32 = 70;

/// One call's media. Cheap to clone: every clone is the same connection.
#[derive(Clone)]
pub struct Media {
    pc: RtcPeerConnection,
    transceiver: RtcRtpTransceiver,
    /// The microphone track being sent (replaced when the mic changes).
    track: Rc<RefCell<MediaStreamTrack>>,
    muted: Rc<Cell<bool>>,
    _on_track: Rc<Closure<dyn FnMut(RtcTrackEvent)>>,
}

impl Media {
    /// Opens the microphone (`mic`: a device id, or `None` for the default),
    /// makes the peer connection and the SDP offer.
    pub async fn start(
        mic: Option<String>,
        ice: &IceConfig,
    ) -> Result<(Media, String), StartError> {
        let (track, pc) = microphone_and_peer(mic, ice).await?;
        let stream = MediaStream::new().map_err(|e| StartError::Other(js_error(&e)))?;
        stream.add_track(&track);
        let init = RtcRtpTransceiverInit::new();
        init.set_direction(RtcRtpTransceiverDirection::Sendrecv);
        init.set_streams(&Array::of1(&stream));
        let transceiver = pc.add_transceiver_with_media_stream_track_and_init(&track, &init);

        let on_track = Closure::<dyn FnMut(RtcTrackEvent)>::new(on_remote_track);
        pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
        let media = Media {
            pc,
            transceiver,
            track: Rc::new(RefCell::new(track)),
            muted: Rc::new(Cell::new(false)),
            _on_track: Rc::new(on_track),
        };
        match media.offer().await {
            Ok(sdp) => Ok((media, sdp)),
            Err(error) => {
                media.close();
                Err(StartError::Other(error))
            }
        }
    }

    /// For an incoming call: opens the microphone, makes the peer
    /// connection, applies the gateway's `offer`, and returns the answer.
    ///
    /// The answer leaves when ICE gathering completes or after
    /// [`GATHER_WAIT_MS`]. Gathering host candidates without STUN servers
    /// takes milliseconds and is awaited by its event, not by polling, so a
    /// background tab (whose timers the browser slows to 1 s or less often)
    /// answers just as fast. Candidates are a courtesy here: the gateway is
    /// ICE-lite, so the browser is the controlling agent, sends the
    /// connectivity checks itself, and the gateway learns our address from
    /// them (peer-reflexive).
    pub async fn start_answering(
        mic: Option<String>,
        ice: &IceConfig,
        offer: &str,
    ) -> Result<(Media, String), StartError> {
        let (track, pc) = microphone_and_peer(mic, ice).await?;
        let on_track = Closure::<dyn FnMut(RtcTrackEvent)>::new(on_remote_track);
        pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
        let fail = |pc: &RtcPeerConnection, track: &MediaStreamTrack, error: String| {
            track.stop();
            pc.set_ontrack(None);
            pc.close();
            StartError::Other(error)
        };
        let description = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        description.set_sdp(offer);
        if let Err(e) = JsFuture::from(pc.set_remote_description(&description)).await {
            return Err(fail(&pc, &track, js_error(&e)));
        }
        // addTrack takes the audio transceiver the offer created (one that
        // never sent) and makes it sendrecv.
        let stream = MediaStream::new().map_err(|e| fail(&pc, &track, js_error(&e)))?;
        stream.add_track(&track);
        pc.add_track_0(&track, &stream);
        let Some(transceiver) = pc
            .get_transceivers()
            .iter()
            .find_map(|t| t.dyn_into::<RtcRtpTransceiver>().ok())
        else {
            return Err(fail(&pc, &track, "the offer has no audio".to_owned()));
        };
        transceiver.set_direction(RtcRtpTransceiverDirection::Sendrecv);
        let media = Media {
            pc,
            transceiver,
            track: Rc::new(RefCell::new(track)),
            muted: Rc::new(Cell::new(false)),
            _on_track: Rc::new(on_track),
        };
        let answered = async {
            let answer = JsFuture::from(media.pc.create_answer())
                .await
                .map_err(|e| js_error(&e))?;
            media.set_local(&answer, RtcSdpType::Answer).await?;
            wait_for_gathering(&media.pc, GATHER_WAIT_MS).await;
            media.local_sdp()
        };
        match answered.await {
            Ok(sdp) => Ok((media, sdp)),
            Err(error) => {
                media.close();
                Err(StartError::Other(error))
            }
        }
    }

    /// The connection, for the test and diagnostics hook.
    pub fn peer(&self) -> &RtcPeerConnection {
        &self.pc
    }

    /// The far end's SDP answer to our offer.
    pub async fn apply_answer(&self, sdp: &str) -> Result<(), String> {
        let description = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        description.set_sdp(sdp);
        JsFuture::from(self.pc.set_remote_description(&description))
            .await
            .map(|_| ())
            .map_err(|e| js_error(&e))
    }

    /// A new offer putting the far end on hold (`a=sendonly`) or taking it
    /// off hold (`a=sendrecv`).
    pub async fn reoffer(&self, hold: bool) -> Result<String, String> {
        self.transceiver.set_direction(if hold {
            RtcRtpTransceiverDirection::Sendonly
        } else {
            RtcRtpTransceiverDirection::Sendrecv
        });
        self.offer().await
    }

    /// A new offer with new ICE credentials (an ICE restart, RFC 8445
    /// §9), the direction unchanged: the phone came back on a new
    /// connection, perhaps from another network.
    pub async fn restart_offer(&self) -> Result<String, String> {
        let options = RtcOfferOptions::new();
        options.set_ice_restart(true);
        self.offer_with(&options).await
    }

    /// The re-INVITE was refused: back to the stable state, direction as it
    /// was (`held`).
    pub async fn rollback(&self, held: bool) {
        self.transceiver.set_direction(if held {
            RtcRtpTransceiverDirection::Sendonly
        } else {
            RtcRtpTransceiverDirection::Sendrecv
        });
        let rollback = RtcSessionDescriptionInit::new(RtcSdpType::Rollback);
        let _ = JsFuture::from(self.pc.set_local_description(&rollback)).await;
    }

    /// Answers an offer from the far end (a re-INVITE).
    pub async fn answer(&self, offer: &str) -> Result<String, String> {
        let description = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        description.set_sdp(offer);
        JsFuture::from(self.pc.set_remote_description(&description))
            .await
            .map_err(|e| js_error(&e))?;
        let answer = JsFuture::from(self.pc.create_answer())
            .await
            .map_err(|e| js_error(&e))?;
        self.set_local(&answer, RtcSdpType::Answer).await?;
        self.local_sdp()
    }

    pub fn set_muted(&self, muted: bool) {
        self.muted.set(muted);
        self.track.borrow().set_enabled(!muted);
    }

    /// Sends one keypad tone (RFC 4733 telephone-event). `false` when the
    /// call cannot carry tones (the far end offered no telephone-event).
    pub fn dtmf(&self, tone: char) -> bool {
        let Some(sender) = self.transceiver.sender().dtmf() else {
            return false;
        };
        let can = Reflect::get(&sender, &"canInsertDTMF".into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if !can {
            return false;
        }
        // Tones queue behind those not yet played.
        let queued = sender.tone_buffer();
        sender.insert_dtmf_with_duration_and_inter_tone_gap(
            &format!("{queued}{tone}"),
            DTMF_DURATION_MS,
            DTMF_GAP_MS,
        );
        true
    }

    /// Switches to another microphone mid-call (`replaceTrack`: no
    /// renegotiation), keeping the mute state.
    pub async fn switch_microphone(&self, mic: Option<String>) -> Result<(), MicProblem> {
        let track = open_microphone(mic.as_deref()).await?;
        track.set_enabled(!self.muted.get());
        let sender = self.transceiver.sender();
        if let Err(error) = JsFuture::from(sender.replace_track(Some(&track))).await {
            track.stop();
            return Err(MicProblem::Other(js_error(&error)));
        }
        let old = self.track.replace(track);
        old.stop();
        Ok(())
    }

    /// Ends the media: microphone released, connection closed, remote
    /// audio detached.
    pub fn close(&self) {
        self.track.borrow().stop();
        self.pc.set_ontrack(None);
        self.pc.close();
        play_remote(None);
    }

    /// createOffer → setLocalDescription → wait for candidates (bounded).
    async fn offer(&self) -> Result<String, String> {
        self.offer_with(&RtcOfferOptions::new()).await
    }

    async fn offer_with(&self, options: &RtcOfferOptions) -> Result<String, String> {
        let offer = JsFuture::from(self.pc.create_offer_with_rtc_offer_options(options))
            .await
            .map_err(|e| js_error(&e))?;
        self.set_local(&offer, RtcSdpType::Offer).await?;
        let mut waited = 0;
        while waited < GATHER_WAIT_MS
            && self.pc.ice_gathering_state() != RtcIceGatheringState::Complete
        {
            sleep(20).await;
            waited += 20;
        }
        self.local_sdp()
    }

    async fn set_local(&self, description: &JsValue, kind: RtcSdpType) -> Result<(), String> {
        let sdp = Reflect::get(description, &"sdp".into())
            .ok()
            .and_then(|v| v.as_string())
            .ok_or("the browser made no SDP")?;
        let init = RtcSessionDescriptionInit::new(kind);
        init.set_sdp(&sdp);
        JsFuture::from(self.pc.set_local_description(&init))
            .await
            .map(|_| ())
            .map_err(|e| js_error(&e))
    }

    /// The local description as it stands, candidates gathered so far
    /// included.
    fn local_sdp(&self) -> Result<String, String> {
        self.pc
            .local_description()
            .map(|d| d.sdp())
            .filter(|sdp| !sdp.is_empty())
            .ok_or_else(|| "the browser made no SDP".to_owned())
    }
}

/// The microphone and a peer connection with the gateway's STUN/TURN
/// servers (see the module documentation), audio only on one bundled
/// transport.
async fn microphone_and_peer(
    mic: Option<String>,
    ice: &IceConfig,
) -> Result<(MediaStreamTrack, RtcPeerConnection), StartError> {
    let track = open_microphone(mic.as_deref())
        .await
        .map_err(StartError::Mic)?;
    let config = RtcConfiguration::new();
    config.set_ice_servers(&ice_servers(ice));
    if ice.relay_only {
        let _ = Reflect::set(&config, &"iceTransportPolicy".into(), &"relay".into());
    }
    let _ = Reflect::set(&config, &"bundlePolicy".into(), &"max-bundle".into());
    match RtcPeerConnection::new_with_configuration(&config) {
        Ok(pc) => Ok((track, pc)),
        Err(e) => {
            track.stop();
            Err(StartError::Other(js_error(&e)))
        }
    }
}

/// The `iceServers` array of an `RTCConfiguration`.
fn ice_servers(ice: &IceConfig) -> Array {
    let servers = Array::new();
    for server in &ice.servers {
        let entry = Object::new();
        let urls: Array = server.urls.iter().map(|u| JsValue::from_str(u)).collect();
        let _ = Reflect::set(&entry, &"urls".into(), &urls);
        if let Some(username) = &server.username {
            let _ = Reflect::set(&entry, &"username".into(), &username.into());
        }
        if let Some(credential) = &server.credential {
            let _ = Reflect::set(&entry, &"credential".into(), &credential.into());
        }
        servers.push(&entry);
    }
    servers
}

/// Plays the far end's track on `audio#remote-audio`.
fn on_remote_track(event: RtcTrackEvent) {
    let stream = match event.streams().get(0).dyn_into::<MediaStream>() {
        Ok(stream) => stream,
        Err(_) => match MediaStream::new() {
            Ok(stream) => {
                stream.add_track(&event.track());
                stream
            }
            Err(_) => return,
        },
    };
    play_remote(Some(&stream));
}

/// Resolves when ICE gathering completes (by its event, which background
/// tabs do not delay) or after `max_ms` (a timer, which they may).
async fn wait_for_gathering(pc: &RtcPeerConnection, max_ms: i32) {
    if pc.ice_gathering_state() == RtcIceGatheringState::Complete {
        return;
    }
    let mut handler: Option<Closure<dyn FnMut()>> = None;
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let on_change = {
            let pc = pc.clone();
            let resolve = resolve.clone();
            Closure::<dyn FnMut()>::new(move || {
                if pc.ice_gathering_state() == RtcIceGatheringState::Complete {
                    let _ = resolve.call0(&JsValue::NULL);
                }
            })
        };
        pc.set_onicegatheringstatechange(Some(on_change.as_ref().unchecked_ref()));
        handler = Some(on_change);
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, max_ms);
        }
    });
    let _ = JsFuture::from(promise).await;
    pc.set_onicegatheringstatechange(None);
    // The handler may go only now that the browser no longer holds it.
    drop(handler);
}

/// Why a call's media could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    Mic(MicProblem),
    Other(String),
}

/// `getUserMedia` for audio with the browser's voice processing on.
async fn open_microphone(device: Option<&str>) -> Result<MediaStreamTrack, MicProblem> {
    let devices = web_sys::window()
        .map(|w| w.navigator())
        .and_then(|n| n.media_devices().ok())
        .ok_or(MicProblem::Insecure)?;
    let audio = Object::new();
    for flag in ["echoCancellation", "noiseSuppression", "autoGainControl"] {
        let _ = Reflect::set(&audio, &flag.into(), &JsValue::TRUE);
    }
    if let Some(id) = device.filter(|id| !id.is_empty()) {
        let exact = Object::new();
        let _ = Reflect::set(&exact, &"exact".into(), &id.into());
        let _ = Reflect::set(&audio, &"deviceId".into(), &exact);
    }
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&audio);
    constraints.set_video(&JsValue::FALSE);
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|e| mic_problem(&e))?;
    let stream: MediaStream = JsFuture::from(promise)
        .await
        .map_err(|e| mic_problem(&e))?
        .dyn_into()
        .map_err(|_| MicProblem::Other("no media stream".to_owned()))?;
    stream
        .get_audio_tracks()
        .get(0)
        .dyn_into::<MediaStreamTrack>()
        .map_err(|_| MicProblem::NotFound)
}

/// The far end's audio on `audio#remote-audio` (or nothing).
fn play_remote(stream: Option<&MediaStream>) {
    let Some(audio) = remote_audio() else {
        return;
    };
    audio.set_src_object(stream);
    if stream.is_some() {
        // Autoplay is allowed: the call started with a click or a key press.
        // If the browser still says no, the element's own `autoplay` retries.
        if let Ok(promise) = audio.play() {
            wasm_bindgen_futures::spawn_local(async move {
                let _ = JsFuture::from(promise).await;
            });
        }
    }
}

/// `audio#remote-audio`, rendered by the phone page.
pub fn remote_audio() -> Option<HtmlMediaElement> {
    web_sys::window()?
        .document()?
        .get_element_by_id(REMOTE_AUDIO_ID)?
        .dyn_into()
        .ok()
}

fn mic_problem(error: &JsValue) -> MicProblem {
    let name = Reflect::get(error, &"name".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    let message = Reflect::get(error, &"message".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    MicProblem::from_error_name(&name, &message)
}

/// A JavaScript error as one line of text.
pub fn js_error(error: &JsValue) -> String {
    let field = |name: &str| {
        Reflect::get(error, &name.into())
            .ok()
            .and_then(|v| v.as_string())
            .filter(|s| !s.is_empty())
    };
    match (field("name"), field("message")) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (_, Some(message)) => message,
        (Some(name), None) => name,
        (None, None) => error
            .as_string()
            .unwrap_or_else(|| "unknown error".to_owned()),
    }
}

/// Resolves after `ms` milliseconds (at once without a window).
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let scheduled = web_sys::window().is_some_and(|w| {
            w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
                .is_ok()
        });
        if !scheduled {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}
