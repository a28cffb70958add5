//! The browser shell around [`Ua`]: the WebSocket, the one timer, the clock
//! and the randomness; and, for calls, the glue between the `Ua`'s call
//! events and the media ([`Media`], [`Ringback`], [`devices`]). Everything
//! SIP decides comes from the `Ua`; this file only carries commands out and
//! events in, and reports what the call panel shows as [`CallUpdate`]s.
//!
//! Ownership: the shell's state lives in an `Rc<RefCell<Inner>>`; socket
//! handlers and the timer hold only a `Weak` to it, so dropping the last
//! [`PhoneShell`] (after [`PhoneShell::shutdown`]) frees everything. Every
//! socket gets a generation number, and handlers of a replaced socket are
//! detached before it is dropped, so a late event from an old socket never
//! reaches the `Ua`.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use shared::api::{IceConfig, SipCredential};
use shared::e164::E164;
use shared::sip::call::{CallEvent, CallRequest, EndCause, Presenting, Reoffer};
use shared::sip::register::RegistrationConfig;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen_futures::spawn_local;
use web_sys::{CloseEvent, Event, MessageEvent, PermissionStatus, WebSocket};
use web_time::Instant;
use yew::Callback;

use super::devices;
use super::ids;
use super::media::{Media, StartError};
use super::ringback::Ringback;
use super::ua::{Command, PhoneStatus, Ua, UaEvent};
use crate::state::call::{CallUpdate, IncomingView, end_reason, refusal};

/// sessionStorage key of this tab's RFC 5626 instance id.
const INSTANCE_KEY: &str = "dialer.sip-instance";
const USER_AGENT: &str = concat!("dialer-web/", env!("CARGO_PKG_VERSION"));

/// A running phone. Cheap to clone; all clones drive the same `Ua`.
#[derive(Clone)]
pub struct PhoneShell {
    inner: Rc<RefCell<Inner>>,
}

struct Inner {
    ua: Ua,
    url: String,
    /// The STUN/TURN servers every call's peer connection uses.
    ice: Rc<IceConfig>,
    socket: Option<Socket>,
    generation: u64,
    timer: Option<Timeout>,
    on_status: Callback<PhoneStatus>,
    on_call: Callback<CallUpdate>,
    on_signed_out: Vec<Box<dyn FnOnce()>>,
    call: CallSide,
    device_watch: Option<Closure<dyn FnMut()>>,
    permission_watch: Option<(PermissionStatus, Closure<dyn FnMut()>)>,
}

/// The browser side of the current call.
#[derive(Default)]
struct CallSide {
    /// One more per dial: async work of an older call finds it changed and
    /// lets go of what it made.
    seq: u64,
    /// Media being prepared: Call was pressed, the INVITE is not out yet.
    preparing: bool,
    media: Option<Media>,
    ringback: Option<Ringback>,
    early_media: bool,
    answered: bool,
    held: bool,
    hold_busy: bool,
    /// Said instead of the SIP reason when the call ends (we hung up
    /// because the media failed).
    end_reason: Option<String>,
    /// An incoming call ringing here: its Call-ID, offer and caller.
    incoming: Option<Ringing>,
    /// Answer was pressed; the media is being prepared.
    answering: bool,
    /// The next click or key resumes a ringtone the browser held back.
    gesture: Option<GestureWatch>,
}

struct Ringing {
    call_id: String,
    offer: String,
    caller: String,
    notification: Option<web_sys::Notification>,
}

impl Drop for Ringing {
    fn drop(&mut self) {
        // Answered, declined or gone: the desktop notification goes too.
        if let Some(notification) = &self.notification {
            notification.close();
        }
    }
}

/// A one-shot listener on the document for the next user gesture.
struct GestureWatch {
    handler: Closure<dyn FnMut(Event)>,
}

impl Drop for GestureWatch {
    fn drop(&mut self) {
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            for kind in ["pointerdown", "keydown"] {
                let _ = document.remove_event_listener_with_callback_and_bool(
                    kind,
                    self.handler.as_ref().unchecked_ref(),
                    true,
                );
            }
        }
    }
}

/// An open (or opening) WebSocket and the handlers attached to it.
struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        // Closing an already closed socket is a no-op; 1000 is always valid.
        let _ = self.ws.close_with_code(1000);
    }
}

impl PhoneShell {
    /// Starts a phone registering with `credential`; `on_status` hears every
    /// change of what the badge should show.
    pub fn start(
        credential: &SipCredential,
        on_status: Callback<PhoneStatus>,
        on_call: Callback<CallUpdate>,
    ) -> Result<PhoneShell, String> {
        let config = RegistrationConfig {
            aor: credential.aor.clone(),
            display_name: credential.display_name.clone(),
            username: credential.username.clone(),
            password: credential.password.clone(),
            instance_id: instance_id(),
            contact_user: ids::label(8, random_u64),
            via_host: format!("{}.invalid", ids::label(12, random_u64)),
            user_agent: Some(USER_AGENT.to_owned()),
            ..RegistrationConfig::default()
        };
        let ua = Ua::new(config, random_u64 as fn() -> u64)?;
        let url = websocket_url().ok_or("this page has no location to connect to")?;
        let shell = PhoneShell {
            inner: Rc::new(RefCell::new(Inner {
                ua,
                url,
                ice: Rc::new(credential.ice.clone()),
                socket: None,
                generation: 0,
                timer: None,
                on_status,
                on_call,
                on_signed_out: Vec::new(),
                call: CallSide::default(),
                device_watch: None,
                permission_watch: None,
            })),
        };
        shell.inner.borrow_mut().ua.start(Instant::now());
        pump(&shell.inner);
        shell.watch_devices();
        Ok(shell)
    }

    /// Calls `target`, presenting what the agent chose: microphone, peer
    /// connection and offer first, then the INVITE.
    pub fn dial(&self, target: E164, presenting: Presenting) {
        let seq = {
            let mut inner = self.inner.borrow_mut();
            if inner.call.preparing || inner.call.media.is_some() || inner.ua.in_call() {
                return;
            }
            let seq = inner.call.seq + 1;
            inner.call = CallSide {
                seq,
                preparing: true,
                ..CallSide::default()
            };
            // Until the INVITE is out, an incoming call gets 486.
            inner.ua.set_dialing(true);
            seq
        };
        emit(
            &self.inner,
            CallUpdate::Dialing {
                number: target.to_string(),
            },
        );
        let weak = Rc::downgrade(&self.inner);
        let ice = self.inner.borrow().ice.clone();
        spawn_local(async move {
            let started = Media::start(devices::chosen_mic(), &ice).await;
            let Some(rc) = weak.upgrade() else {
                if let Ok((media, _)) = started {
                    media.close();
                }
                return;
            };
            let current = {
                let mut inner = rc.borrow_mut();
                let current = inner.call.seq == seq && inner.call.preparing;
                if current {
                    inner.call.preparing = false;
                    // Still borrowed until place_call: no INVITE slips in.
                    inner.ua.set_dialing(false);
                }
                current
            };
            let (media, offer) = match started {
                Ok(started) if current => started,
                // Hung up while the microphone was being opened.
                Ok((media, _)) => return media.close(),
                Err(_) if !current => return,
                Err(StartError::Mic(problem)) => return emit(&rc, CallUpdate::MicFailed(problem)),
                Err(StartError::Other(error)) => {
                    return emit(
                        &rc,
                        CallUpdate::Ended {
                            reason: format!("The call could not start: {error}."),
                            at: Instant::now(),
                        },
                    );
                }
            };
            media_ready(&rc, &media);
            let placed = {
                let mut inner = rc.borrow_mut();
                inner.call.media = Some(media.clone());
                let request = CallRequest {
                    target,
                    presenting,
                    offer,
                };
                inner.ua.place_call(Instant::now(), request)
            };
            match placed {
                Ok(()) => pump(&rc),
                Err(error) => {
                    media.close();
                    rc.borrow_mut().call.media = None;
                    emit(
                        &rc,
                        CallUpdate::Ended {
                            reason: error.to_string(),
                            at: Instant::now(),
                        },
                    );
                }
            }
            // Device names are readable now that the microphone was allowed.
            refresh_devices(&rc);
        });
    }

    /// Answers the ringing incoming call: microphone, peer connection with
    /// the gateway's offer, the browser's answer, then 200 OK.
    pub fn answer(&self) {
        let (call_id, offer, seq) = {
            let mut inner = self.inner.borrow_mut();
            let call = &mut inner.call;
            let Some(ringing) = call.incoming.as_ref().filter(|_| !call.answering) else {
                return;
            };
            call.answering = true;
            call.ringback = None;
            call.gesture = None;
            (ringing.call_id.clone(), ringing.offer.clone(), call.seq)
        };
        emit(&self.inner, CallUpdate::Answering);
        let weak = Rc::downgrade(&self.inner);
        let ice = self.inner.borrow().ice.clone();
        spawn_local(async move {
            let started = Media::start_answering(devices::chosen_mic(), &ice, &offer).await;
            let Some(rc) = weak.upgrade() else {
                if let Ok((media, _)) = started {
                    media.close();
                }
                return;
            };
            let current = {
                let inner = rc.borrow();
                inner.call.seq == seq && inner.call.incoming.is_some()
            };
            let (media, answer) = match started {
                Ok(started) if current => started,
                // Cancelled while the microphone was being opened.
                Ok((media, _)) => return media.close(),
                Err(_) if !current => return,
                Err(error) => {
                    let reason = match error {
                        StartError::Mic(problem) => {
                            let reason = problem.explanation();
                            emit(&rc, CallUpdate::MicFailed(problem));
                            reason
                        }
                        StartError::Other(error) => {
                            format!("The call could not be answered: {error}.")
                        }
                    };
                    {
                        let mut inner = rc.borrow_mut();
                        inner.call.end_reason = Some(reason);
                        inner.ua.decline(Instant::now(), &call_id);
                    }
                    return pump(&rc);
                }
            };
            media_ready(&rc, &media);
            let answered = {
                let mut inner = rc.borrow_mut();
                inner.call.media = Some(media.clone());
                inner.ua.answer(Instant::now(), &call_id, answer)
            };
            if answered.is_err() {
                // The caller gave up in the meantime: its Ended is on the way.
                media.close();
                rc.borrow_mut().call.media = None;
            }
            pump(&rc);
            refresh_devices(&rc);
        });
    }

    /// Declines the ringing incoming call (486 Busy Here).
    pub fn decline(&self) {
        {
            let mut inner = self.inner.borrow_mut();
            let Some(call_id) = inner.call.incoming.as_ref().map(|r| r.call_id.clone()) else {
                return;
            };
            inner.call.end_reason = Some("You declined the call".to_owned());
            inner.ua.decline(Instant::now(), &call_id);
        }
        pump(&self.inner);
    }

    /// Hangs up (CANCEL or BYE), or stops a call still getting its media.
    pub fn hangup(&self) {
        let preparing = {
            let mut inner = self.inner.borrow_mut();
            if inner.call.preparing {
                inner.call.preparing = false;
                inner.call.seq += 1;
                inner.ua.set_dialing(false);
                true
            } else {
                inner.ua.hangup(Instant::now());
                false
            }
        };
        if preparing {
            emit(
                &self.inner,
                CallUpdate::Ended {
                    reason: end_reason(&EndCause::Local),
                    at: Instant::now(),
                },
            );
        } else {
            pump(&self.inner);
        }
    }

    /// Mutes or unmutes the microphone (the track keeps running, disabled:
    /// the far end hears silence).
    pub fn set_muted(&self, muted: bool) {
        let media = self.inner.borrow().call.media.clone();
        if let Some(media) = media {
            media.set_muted(muted);
            emit(&self.inner, CallUpdate::Muted(muted));
        }
    }

    /// Puts the far end on hold, or takes it off hold: a re-INVITE with a
    /// new offer (`a=sendonly` / `a=sendrecv`).
    pub fn toggle_hold(&self) {
        let (media, held, seq) = {
            let mut inner = self.inner.borrow_mut();
            // While the call waits for the link, hold must wait too.
            let waiting = inner.ua.call_waiting();
            let call = &mut inner.call;
            let Some(media) = call
                .media
                .clone()
                .filter(|_| call.answered && !call.hold_busy && !waiting)
            else {
                return;
            };
            call.hold_busy = true;
            (media, call.held, call.seq)
        };
        emit(&self.inner, CallUpdate::HoldPending);
        let reoffer = if held { Reoffer::Resume } else { Reoffer::Hold };
        let weak = Rc::downgrade(&self.inner);
        spawn_local(async move {
            let offer = media.reoffer(!held).await;
            let Some(rc) = weak.upgrade() else { return };
            let sent = match offer {
                Ok(sdp) => {
                    let mut inner = rc.borrow_mut();
                    if inner.call.seq != seq {
                        return;
                    }
                    inner
                        .ua
                        .reoffer(Instant::now(), reoffer, sdp)
                        .map_err(|e| e.to_string())
                }
                Err(error) => Err(error),
            };
            match sent {
                Ok(()) => pump(&rc),
                Err(error) => {
                    media.rollback(held).await;
                    rc.borrow_mut().call.hold_busy = false;
                    emit(
                        &rc,
                        CallUpdate::HoldFailed {
                            message: hold_failure(reoffer, &error),
                        },
                    );
                }
            }
        });
    }

    /// Sends one keypad tone in the call.
    pub fn dtmf(&self, tone: char) {
        let media = self.inner.borrow().call.media.clone();
        let Some(media) = media else { return };
        let update = if media.dtmf(tone) {
            CallUpdate::DtmfSent(tone)
        } else {
            CallUpdate::Notice(
                "Keypad tones cannot be sent on this call: the other side did not accept them."
                    .to_owned(),
            )
        };
        emit(&self.inner, update);
    }

    /// Uses microphone `id` (`""`: the default) from now on, in the call too.
    pub fn select_mic(&self, id: String) {
        devices::remember_mic(&id);
        let media = self.inner.borrow().call.media.clone();
        let weak = Rc::downgrade(&self.inner);
        spawn_local(async move {
            let switched = match media {
                Some(media) => media
                    .switch_microphone(Some(id).filter(|id| !id.is_empty()))
                    .await
                    .map_err(|problem| problem.explanation()),
                None => Ok(()),
            };
            let Some(rc) = weak.upgrade() else { return };
            if let Err(message) = switched {
                emit(&rc, CallUpdate::Notice(message));
            }
            refresh_devices(&rc);
        });
    }

    /// Plays the call on speaker `id` (`""`: the default).
    pub fn select_speaker(&self, id: String) {
        devices::remember_speaker(&id);
        let weak = Rc::downgrade(&self.inner);
        spawn_local(async move {
            let result = devices::set_speaker(&id).await;
            let Some(rc) = weak.upgrade() else { return };
            if let Err(error) = result {
                emit(
                    &rc,
                    CallUpdate::Notice(format!("The speaker could not be changed ({error}).")),
                );
            }
            refresh_devices(&rc);
        });
    }

    /// Lists devices now and whenever one comes or goes; follows the
    /// microphone permission so that a blocked microphone is explained
    /// before anyone presses Call.
    fn watch_devices(&self) {
        refresh_devices(&self.inner);
        let weak = Rc::downgrade(&self.inner);
        let watch = devices::watch(move || {
            if let Some(rc) = weak.upgrade() {
                refresh_devices(&rc);
            }
        });
        self.inner.borrow_mut().device_watch = watch;
        let weak = Rc::downgrade(&self.inner);
        spawn_local(async move {
            let on_change = {
                let weak = weak.clone();
                move |denied: bool| {
                    if let Some(rc) = weak.upgrade() {
                        let update = if denied {
                            CallUpdate::MicBlocked
                        } else {
                            CallUpdate::MicOk
                        };
                        emit(&rc, update);
                    }
                }
            };
            let watched = devices::watch_permission(on_change).await;
            if let Some(rc) = weak.upgrade() {
                rc.borrow_mut().permission_watch = watched;
            }
        });
    }

    /// Un-REGISTERs (up to ~2 s), closes the socket, then calls `done`.
    pub fn sign_out(&self, done: impl FnOnce() + 'static) {
        {
            let mut inner = self.inner.borrow_mut();
            inner.on_signed_out.push(Box::new(done));
            inner.ua.sign_out(Instant::now());
        }
        pump(&self.inner);
    }

    /// After a refusal: register again from scratch.
    pub fn retry(&self) {
        self.inner.borrow_mut().ua.retry(Instant::now());
        pump(&self.inner);
    }

    /// Stops without un-REGISTER (the page is going away; the gateway drops
    /// the binding when the socket closes).
    pub fn shutdown(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.timer = None;
        inner.socket = None;
        inner.on_signed_out.clear();
        inner.call.seq += 1;
        inner.call.preparing = false;
        inner.call.ringback = None;
        inner.call.gesture = None;
        inner.call.incoming = None;
        if let Some(media) = inner.call.media.take() {
            media.close();
        }
        if inner.device_watch.take().is_some() {
            devices::unwatch();
        }
        if let Some((status, _)) = inner.permission_watch.take() {
            status.set_onchange(None);
        }
    }
}

/// Reports `update` to the call panel (outside any borrow of the shell).
fn emit(rc: &Rc<RefCell<Inner>>, update: CallUpdate) {
    let on_call = rc.borrow().on_call.clone();
    on_call.emit(update);
}

fn refresh_devices(rc: &Rc<RefCell<Inner>>) {
    let weak = Rc::downgrade(rc);
    spawn_local(async move {
        let list = devices::list().await;
        if let Some(rc) = weak.upgrade() {
            emit(&rc, CallUpdate::Devices(list));
        }
    });
}

/// The call's media is up: the test hook, the microphone notice cleared,
/// the chosen speaker applied.
fn media_ready(rc: &Rc<RefCell<Inner>>, media: &Media) {
    expose_peer(media);
    emit(rc, CallUpdate::MicOk);
    let speaker = devices::chosen_speaker();
    if !speaker.is_empty() {
        spawn_local(async move {
            let _ = devices::set_speaker(&speaker).await;
        });
    }
}

/// Test and diagnostics hook: the current call's `RTCPeerConnection` as
/// `window.__dialerPeer`, so that WebDriver tests (and a person in the
/// console) can read `getStats()`. Set when a call starts.
fn expose_peer(media: &Media) {
    if let Some(window) = web_sys::window() {
        let _ = js_sys::Reflect::set(&window, &"__dialerPeer".into(), media.peer());
    }
}

/// The phone is registered again with the call still up: an ICE-restart
/// offer (the network may have changed) in a re-INVITE of the same dialog.
/// The media never stopped; audio comes back once the new ICE pair works.
fn resume_call(rc: &Rc<RefCell<Inner>>) {
    let (media, seq) = {
        let inner = rc.borrow();
        (inner.call.media.clone(), inner.call.seq)
    };
    let Some(media) = media else { return };
    let weak = Rc::downgrade(rc);
    spawn_local(async move {
        let offer = media.restart_offer().await;
        let Some(rc) = weak.upgrade() else { return };
        {
            let mut inner = rc.borrow_mut();
            if inner.call.seq != seq {
                return;
            }
            let now = Instant::now();
            let sent =
                offer.and_then(|sdp| inner.ua.restart_call(now, sdp).map_err(|e| e.to_string()));
            if let Err(error) = sent {
                inner.call.end_reason = Some(format!(
                    "The call could not be resumed after the connection dropped ({error})."
                ));
                inner.ua.hangup(now);
            }
        }
        pump(&rc);
    });
}

fn hold_failure(reoffer: Reoffer, detail: &str) -> String {
    let what = match reoffer {
        Reoffer::Hold => "The call could not be put on hold",
        Reoffer::Resume => "The call could not be taken off hold",
        Reoffer::Restart => "The call could not be resumed after the connection dropped",
    };
    format!("{what} ({detail}). Try again.")
}

/// What the shell does with news of the call: media, ringback, the panel.
fn on_call_event(rc: &Rc<RefCell<Inner>>, event: CallEvent) {
    let weak = Rc::downgrade(rc);
    let (media, seq) = {
        let inner = rc.borrow();
        (inner.call.media.clone(), inner.call.seq)
    };
    match event {
        CallEvent::Ringing => {
            {
                let mut inner = rc.borrow_mut();
                if !inner.call.early_media && inner.call.ringback.is_none() {
                    inner.call.ringback = Ringback::start(&devices::chosen_speaker());
                }
            }
            emit(rc, CallUpdate::Ringing);
        }
        CallEvent::RemoteAnswer { sdp, early } => {
            if early {
                {
                    let mut inner = rc.borrow_mut();
                    inner.call.early_media = true;
                    inner.call.ringback = None;
                }
                emit(rc, CallUpdate::EarlyMedia);
            }
            let Some(media) = media else { return };
            spawn_local(async move {
                let Err(error) = media.apply_answer(&sdp).await else {
                    return;
                };
                // The browser cannot use the far end's answer: no audio can
                // flow, so the call is ended rather than left silent.
                let Some(rc) = weak.upgrade() else { return };
                {
                    let mut inner = rc.borrow_mut();
                    if inner.call.seq != seq {
                        return;
                    }
                    inner.call.end_reason = Some(format!(
                        "{} (the browser refused the answer: {error})",
                        refusal(488, "").trim_end_matches('.')
                    ));
                    inner.ua.hangup(Instant::now());
                }
                pump(&rc);
            });
        }
        CallEvent::Answered => {
            {
                let mut inner = rc.borrow_mut();
                inner.call.answered = true;
                inner.call.ringback = None;
                inner.call.incoming = None;
                inner.call.answering = false;
            }
            emit(rc, CallUpdate::Answered { at: Instant::now() });
        }
        CallEvent::Restarted => emit(rc, CallUpdate::Reconnecting(false)),
        CallEvent::HoldChanged { held } => {
            {
                let mut inner = rc.borrow_mut();
                inner.call.held = held;
                inner.call.hold_busy = false;
            }
            emit(rc, CallUpdate::HoldChanged { held });
        }
        CallEvent::OfferRejected {
            reoffer: Reoffer::Restart,
            code,
            reason,
        } => {
            // The gateway no longer has the call (481: the grace ran out) or
            // cannot take the new offer: the call cannot come back.
            let held = {
                let mut inner = rc.borrow_mut();
                inner.call.end_reason = Some(format!(
                    "The call could not be resumed after the connection dropped ({code} {reason})."
                ));
                inner.ua.hangup(Instant::now());
                inner.call.held
            };
            if let Some(media) = media {
                spawn_local(async move { media.rollback(held).await });
            }
            pump(rc);
        }
        CallEvent::OfferRejected {
            reoffer,
            code,
            reason,
        } => {
            let held = {
                let mut inner = rc.borrow_mut();
                inner.call.hold_busy = false;
                inner.call.held
            };
            if let Some(media) = media {
                spawn_local(async move { media.rollback(held).await });
            }
            emit(
                rc,
                CallUpdate::HoldFailed {
                    message: hold_failure(reoffer, &format!("{code} {reason}")),
                },
            );
        }
        CallEvent::RemoteOffer { sdp } => {
            spawn_local(async move {
                let answer = match media {
                    Some(media) => media.answer(&sdp).await,
                    None => Err("no media".to_owned()),
                };
                let Some(rc) = weak.upgrade() else { return };
                {
                    let mut inner = rc.borrow_mut();
                    if inner.call.seq != seq {
                        return;
                    }
                    let now = Instant::now();
                    let _ = match answer {
                        Ok(answer) => inner.ua.accept_offer(now, answer),
                        Err(_) => inner.ua.reject_offer(now),
                    };
                }
                pump(&rc);
            });
        }
        CallEvent::Ended(cause) => {
            let (reason, ringing) = {
                let mut inner = rc.borrow_mut();
                let call = &mut inner.call;
                call.ringback = None;
                call.gesture = None;
                call.answering = false;
                let ringing = call.incoming.take();
                call.preparing = false;
                if let Some(media) = call.media.take() {
                    media.close();
                }
                (call.end_reason.take(), ringing)
            };
            if let (
                Some(ringing),
                EndCause::Cancelled {
                    answered_elsewhere: false,
                },
            ) = (ringing, &cause)
            {
                emit(
                    rc,
                    CallUpdate::Missed {
                        caller: ringing.caller.clone(),
                        at_ms: js_sys::Date::now() as i64,
                    },
                );
            }
            emit(
                rc,
                CallUpdate::Ended {
                    reason: reason.unwrap_or_else(|| end_reason(&cause)),
                    at: Instant::now(),
                },
            );
        }
    }
}

/// An INVITE rings this phone: the panel, the ringtone (or the hint that
/// it waits for a click), a desktop notification if allowed.
fn on_incoming(rc: &Rc<RefCell<Inner>>, info: shared::sip::incoming::IncomingInfo, offer: String) {
    let view = IncomingView {
        call_id: info.call_id.clone(),
        caller: info.caller.clone(),
        caller_name: info.caller_name.clone(),
        did: info.did.clone(),
        did_label: info.did_label.clone(),
    };
    let blocked = {
        let mut inner = rc.borrow_mut();
        let seq = inner.call.seq + 1;
        let ringtone = Ringback::ringtone(&devices::chosen_speaker());
        let blocked = ringtone.as_ref().is_some_and(Ringback::is_suspended);
        inner.call = CallSide {
            seq,
            ringback: ringtone,
            incoming: Some(Ringing {
                call_id: info.call_id.clone(),
                offer,
                caller: info.caller.clone(),
                notification: notify(&view),
            }),
            ..CallSide::default()
        };
        if blocked {
            inner.call.gesture = watch_gesture(Rc::downgrade(rc));
        }
        blocked
    };
    emit(rc, CallUpdate::Incoming(view));
    if blocked {
        emit(rc, CallUpdate::RingtoneBlocked(true));
    }
}

/// Resumes the ringtone on the next click or key anywhere on the page.
fn watch_gesture(weak: Weak<RefCell<Inner>>) -> Option<GestureWatch> {
    let document = web_sys::window()?.document()?;
    let handler = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
        let Some(rc) = weak.upgrade() else { return };
        let watch = {
            let mut inner = rc.borrow_mut();
            if let Some(ringtone) = &inner.call.ringback {
                ringtone.resume();
            }
            // One gesture is enough; the listener goes with the watch.
            inner.call.gesture.take()
        };
        if let Some(watch) = watch {
            emit(&rc, CallUpdate::RingtoneBlocked(false));
            // Not dropped here: this closure is the watch's own handler,
            // still running. A microtask later it is done.
            spawn_local(async move { drop(watch) });
        }
    });
    for kind in ["pointerdown", "keydown"] {
        document
            .add_event_listener_with_callback_and_bool(kind, handler.as_ref().unchecked_ref(), true)
            .ok()?;
    }
    Some(GestureWatch { handler })
}

/// A desktop notification for the call, if the person allowed them
/// (this page never asks: the browser's site settings do).
fn notify(view: &IncomingView) -> Option<web_sys::Notification> {
    if web_sys::Notification::permission() != web_sys::NotificationPermission::Granted {
        return None;
    }
    let options = web_sys::NotificationOptions::new();
    let did = view.did_text();
    if !did.is_empty() {
        options.set_body(&format!("To {did}"));
    }
    options.set_tag("dialer-incoming-call");
    options.set_require_interaction(true);
    let title = format!("Incoming call from {}", view.caller_text());
    web_sys::Notification::new_with_options(&title, &options).ok()
}

/// Carries out what the `Ua` asks for, tells the page, re-arms the timer.
/// Callbacks run after the borrow ends, so they may call back into the shell.
fn pump(rc: &Rc<RefCell<Inner>>) {
    let mut statuses = Vec::new();
    let mut finished = Vec::new();
    let mut call_events = Vec::new();
    let mut incoming = Vec::new();
    let mut call_waiting = false;
    let mut call_resume = false;
    let on_status = {
        let mut inner = rc.borrow_mut();
        let inner = &mut *inner;
        while let Some(command) = inner.ua.poll_command() {
            match command {
                Command::Connect => {
                    inner.generation += 1;
                    inner.socket = None;
                    match open_socket(&inner.url, Rc::downgrade(rc), inner.generation) {
                        Ok(socket) => inner.socket = Some(socket),
                        // A URL the browser refuses outright: count it as a
                        // failed attempt, the backoff applies.
                        Err(()) => inner.ua.handle_closed(Instant::now()),
                    }
                }
                Command::Send(text) => {
                    if let Some(socket) = &inner.socket {
                        // A failed send means the socket is closing; its close
                        // event follows and the Ua reconnects.
                        let _ = socket.ws.send_with_str(&text);
                    }
                }
                Command::Close => inner.socket = None,
            }
        }
        while let Some(event) = inner.ua.poll_event() {
            match event {
                UaEvent::Status(status) => statuses.push(status),
                UaEvent::SignedOut => finished.append(&mut inner.on_signed_out),
                UaEvent::Call(event) => call_events.push(event),
                UaEvent::Incoming { info, offer } => incoming.push((info, offer)),
                UaEvent::CallWaiting => call_waiting = true,
                UaEvent::CallResume => call_resume = true,
            }
        }
        inner.timer = inner.ua.poll_timeout().map(|at| {
            let wait = at.saturating_duration_since(Instant::now());
            // A timer firing a little early is harmless: the Ua re-arms.
            let millis = u32::try_from(wait.as_millis()).unwrap_or(u32::MAX / 2);
            let weak = Rc::downgrade(rc);
            Timeout::new(millis.saturating_add(1), move || {
                if let Some(rc) = weak.upgrade() {
                    rc.borrow_mut().ua.handle_timeout(Instant::now());
                    pump(&rc);
                }
            })
        });
        inner.on_status.clone()
    };
    for status in statuses {
        on_status.emit(status);
    }
    // A 183 with SDP says Ringing and brings early media at once: no local
    // ringback to start and stop again.
    if call_events
        .iter()
        .any(|e| matches!(e, CallEvent::RemoteAnswer { early: true, .. }))
    {
        rc.borrow_mut().call.early_media = true;
    }
    for (info, offer) in incoming {
        on_incoming(rc, info, offer);
    }
    for event in call_events {
        on_call_event(rc, event);
    }
    if call_waiting {
        emit(rc, CallUpdate::Reconnecting(true));
    }
    if call_resume {
        resume_call(rc);
    }
    for done in finished {
        done();
    }
}

/// Opens a WebSocket with subprotocol `sip` whose events reach the `Ua` as
/// long as it is the socket of `generation`.
fn open_socket(url: &str, weak: Weak<RefCell<Inner>>, generation: u64) -> Result<Socket, ()> {
    let ws = WebSocket::new_with_str(url, "sip").map_err(|_| ())?;

    // Runs `f` on the Ua if this socket is still the current one.
    fn with_ua(weak: &Weak<RefCell<Inner>>, generation: u64, f: impl FnOnce(&mut Ua)) {
        let Some(rc) = weak.upgrade() else { return };
        {
            let mut inner = rc.borrow_mut();
            if inner.generation != generation || inner.socket.is_none() {
                return;
            }
            f(&mut inner.ua);
        }
        pump(&rc);
    }

    let on_open = {
        let weak = weak.clone();
        Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            with_ua(&weak, generation, |ua| ua.handle_open(Instant::now()));
        })
    };
    let on_message = {
        let weak = weak.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            // SIP over WebSocket is text frames only (RFC 7118 §5); a binary
            // frame is not for us.
            if let Some(text) = event.data().as_string() {
                with_ua(&weak, generation, |ua| {
                    ua.handle_frame(Instant::now(), &text)
                });
            }
        })
    };
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
        with_ua(&weak, generation, |ua| ua.handle_closed(Instant::now()));
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // An error is always followed by a close event, which is what counts.
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    Ok(Socket {
        ws,
        _on_open: on_open,
        _on_message: on_message,
        _on_close: on_close,
    })
}

/// `ws://host/ws` on an http page, `wss://host/ws` on https.
fn websocket_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let protocol = location.protocol().ok()?;
    let host = location.host().ok()?;
    Some(super::websocket_url(&protocol, &host))
}

/// This tab's instance id: the one in sessionStorage, or a new one stored
/// there. Survives a reload of the tab (so the gateway replaces the old
/// binding) but not a new tab (which is another phone).
fn instance_id() -> String {
    let storage = web_sys::window().and_then(|w| w.session_storage().ok().flatten());
    if let Some(stored) = storage
        .as_ref()
        .and_then(|s| s.get_item(INSTANCE_KEY).ok().flatten())
        .filter(|v| ids::is_instance_id(v))
    {
        return stored;
    }
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&random_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&random_u64().to_le_bytes());
    let id = ids::instance_id(bytes);
    if let Some(storage) = storage {
        // Without storage (a locked-down browser) each load is a new instance;
        // the old binding then lasts until its socket closes, which is soon.
        let _ = storage.set_item(INSTANCE_KEY, &id);
    }
    id
}

/// 64 random bits from the browser's CSPRNG (`crypto.getRandomValues`).
fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::getrandom(&mut bytes).is_err() {
        // Only without Web Crypto, which every browser this runs in has;
        // these values name branches and tags, they guard no secret.
        return (js_sys::Math::random() * (u64::MAX as f64)) as u64 ^ (js_sys::Date::now() as u64);
    }
    u64::from_le_bytes(bytes)
}
