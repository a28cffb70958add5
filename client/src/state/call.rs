//! What the phone panel shows about the call, as a pure model: the shell
//! reports [`CallUpdate`]s, [`CallView::apply`] folds them in, components
//! render the result. Also the words: why a call ended, what to do about a
//! microphone that cannot be used, how a typed number reads in E.164.

use std::time::Duration;

use shared::api::DialingProfile;
use shared::e164::{self, E164, NumberError};
use shared::policy::Refusal;
use shared::sip::call::{EndCause, Presenting};
use web_time::Instant;

/// Where the call is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CallPhase {
    /// No call (none yet, or the microphone stopped one from starting).
    #[default]
    Idle,
    /// Dialled: getting the microphone, then the INVITE is out.
    Calling { number: String },
    /// The far end is alerting.
    Ringing { number: String },
    /// An incoming call is ringing this phone (`#incoming-call`).
    Incoming(IncomingView),
    /// Answer was pressed: microphone, peer connection, 200 OK.
    Answering { number: String },
    /// Answered at `since` (held or not: see [`CallView::held`]).
    Connected { number: String, since: Instant },
    /// Over; `reason` is for the person, `lasted` the connected time.
    Ended {
        number: String,
        reason: String,
        lasted: Option<Duration>,
    },
}

/// Who is calling and what they dialled, as `#incoming-call` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingView {
    pub call_id: String,
    pub caller: String,
    pub caller_name: Option<String>,
    pub did: Option<String>,
    pub did_label: Option<String>,
}

impl IncomingView {
    /// `#incoming-caller`: "Ann Caller (+15551230000)" or the number.
    pub fn caller_text(&self) -> String {
        match &self.caller_name {
            Some(name) if name != &self.caller => format!("{name} ({})", self.caller),
            _ => self.caller.clone(),
        }
    }

    /// `#incoming-did`: "Sales line (+15550100100)", or what there is.
    pub fn did_text(&self) -> String {
        match (&self.did_label, &self.did) {
            (Some(label), Some(did)) => format!("{label} ({did})"),
            (Some(only), None) | (None, Some(only)) => only.clone(),
            (None, None) => String::new(),
        }
    }
}

/// A missed call shown in `#call-history` before its record arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissedCall {
    pub caller: String,
    /// Unix milliseconds.
    pub at_ms: i64,
}

/// Why the microphone cannot be used, from the `DOMException` name of
/// `getUserMedia`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MicProblem {
    /// `NotAllowedError`, `SecurityError`: the person or a policy said no.
    Blocked,
    /// `NotFoundError`, `OverconstrainedError`: no (such) microphone.
    NotFound,
    /// `NotReadableError`, `AbortError`: another app has it, or the OS failed.
    InUse,
    /// No `navigator.mediaDevices`: the page is not a secure context.
    Insecure,
    Other(String),
}

impl MicProblem {
    pub fn from_error_name(name: &str, message: &str) -> MicProblem {
        match name {
            "NotAllowedError" | "SecurityError" | "PermissionDeniedError" => MicProblem::Blocked,
            "NotFoundError" | "OverconstrainedError" | "DevicesNotFoundError" => {
                MicProblem::NotFound
            }
            "NotReadableError" | "AbortError" | "TrackStartError" => MicProblem::InUse,
            _ if message.is_empty() => MicProblem::Other(name.to_owned()),
            _ => MicProblem::Other(format!("{name}: {message}")),
        }
    }

    /// What `#mic-error` says: the problem, then how to fix it.
    pub fn explanation(&self) -> String {
        match self {
            MicProblem::Blocked => "Microphone access is blocked for this site, so calls cannot \
                start. To allow it, click the lock or microphone icon at the left of the address \
                bar, set Microphone to Allow, and reload the page if asked. Then press Call again."
                .to_owned(),
            MicProblem::NotFound => "No microphone was found. Plug in a headset or microphone \
                (or check it is enabled in your system's sound settings), then press Call again."
                .to_owned(),
            MicProblem::InUse => "The microphone could not be started: another application may be \
                using it. Close other apps that use the microphone, then press Call again."
                .to_owned(),
            MicProblem::Insecure => "This page cannot use the microphone because it was not \
                opened over a secure (https) connection. Ask your administrator for the secure \
                address of the dialer."
                .to_owned(),
            MicProblem::Other(detail) => format!(
                "The microphone could not be started ({detail}). Check your headset and try again."
            ),
        }
    }
}

/// An audio device the browser lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub label: String,
}

/// Microphones and speakers, and which are chosen (`""`: the system default).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Devices {
    pub mics: Vec<Device>,
    pub speakers: Vec<Device>,
    /// The browser can route the call's audio to a chosen output
    /// (`HTMLMediaElement.setSinkId`).
    pub can_choose_speaker: bool,
    pub mic: String,
    pub speaker: String,
}

/// What the shell reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallUpdate {
    /// Call pressed for `number` (E.164).
    Dialing {
        number: String,
    },
    Ringing,
    /// An INVITE from the gateway rings this phone.
    Incoming(IncomingView),
    /// Answer was pressed.
    Answering,
    /// The caller hung up before anyone answered (not "answered
    /// elsewhere"); `at_ms` is Unix milliseconds.
    Missed {
        caller: String,
        at_ms: i64,
    },
    /// The ringtone waits for a click (the browser's autoplay policy).
    RingtoneBlocked(bool),
    /// The far end's audio plays before the answer (183 with SDP).
    EarlyMedia,
    Answered {
        at: Instant,
    },
    HoldPending,
    HoldChanged {
        held: bool,
    },
    /// A hold or resume was refused; the call goes on as it was.
    HoldFailed {
        message: String,
    },
    /// The link to the gateway dropped mid-call and the call waits for the
    /// phone to reconnect (`true`), or it is back (`false`).
    Reconnecting(bool),
    Muted(bool),
    DtmfSent(char),
    /// A passing remark (a device switch failed, keypad tones unavailable).
    Notice(String),
    /// The call is over (or never started) and why, in words.
    Ended {
        reason: String,
        at: Instant,
    },
    /// The call did not start: the microphone could not be used.
    MicFailed(MicProblem),
    /// The microphone works (again) or was never asked for: no error shown.
    MicOk,
    /// The permission is known to be denied before any call.
    MicBlocked,
    Devices(Devices),
}

/// What the call panel asks of the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallCommand {
    /// Call a number, presenting what the agent chose.
    Dial(E164, Presenting),
    Answer,
    Decline,
    Hangup,
    Mute(bool),
    ToggleHold,
    Dtmf(char),
    /// A device id; `""` is the system default.
    SelectMic(String),
    SelectSpeaker(String),
}

/// The call panel's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallView {
    pub phase: CallPhase,
    pub muted: bool,
    pub held: bool,
    /// A hold or resume re-INVITE is in flight.
    pub hold_pending: bool,
    /// The call waits for the phone to reconnect (the customer is still
    /// on the line at the gateway).
    pub reconnecting: bool,
    /// The remote track plays before the answer, so no local ringback.
    pub early_media: bool,
    /// Keypad tones sent during this call, for the agent to see.
    pub dtmf: String,
    pub notice: Option<String>,
    pub mic_problem: Option<MicProblem>,
    pub devices: Devices,
    /// `#ringtone-blocked` is shown.
    pub ringtone_blocked: bool,
    /// Missed calls seen by this tab, newest first, shown at once.
    pub missed: Vec<MissedCall>,
    /// One more every time a call ends: the call history reloads.
    pub ended_count: u32,
}

impl CallView {
    pub fn apply(&self, update: CallUpdate) -> CallView {
        let mut next = self.clone();
        match update {
            CallUpdate::Dialing { number } => next.new_call(CallPhase::Calling { number }),
            CallUpdate::Incoming(view) => {
                if !self.in_call() {
                    next.new_call(CallPhase::Incoming(view));
                }
            }
            CallUpdate::Answering => {
                if let CallPhase::Incoming(view) = &self.phase {
                    next.phase = CallPhase::Answering {
                        number: view.caller.clone(),
                    };
                    next.ringtone_blocked = false;
                }
            }
            CallUpdate::Missed { caller, at_ms } => {
                next.missed.insert(0, MissedCall { caller, at_ms });
                next.missed.truncate(20);
            }
            CallUpdate::RingtoneBlocked(blocked) => {
                next.ringtone_blocked = blocked && matches!(self.phase, CallPhase::Incoming(_));
            }
            CallUpdate::Ringing => {
                if let CallPhase::Calling { number } = &self.phase {
                    next.phase = CallPhase::Ringing {
                        number: number.clone(),
                    };
                }
            }
            CallUpdate::EarlyMedia => {
                if self.in_call() {
                    next.early_media = true;
                }
            }
            CallUpdate::Answered { at } => {
                if let CallPhase::Calling { number }
                | CallPhase::Ringing { number }
                | CallPhase::Answering { number } = &self.phase
                {
                    next.phase = CallPhase::Connected {
                        number: number.clone(),
                        since: at,
                    };
                }
            }
            CallUpdate::HoldPending => next.hold_pending = self.in_call(),
            CallUpdate::HoldChanged { held } => {
                next.hold_pending = false;
                next.held = held && self.in_call();
            }
            CallUpdate::HoldFailed { message } => {
                next.hold_pending = false;
                next.notice = Some(message);
            }
            CallUpdate::Reconnecting(waiting) => {
                next.reconnecting = waiting && self.is_connected();
            }
            CallUpdate::Muted(muted) => next.muted = muted && self.in_call(),
            CallUpdate::DtmfSent(tone) => {
                if self.in_call() {
                    next.dtmf.push(tone);
                    // The last few are enough to see what went out.
                    let excess = next.dtmf.chars().count().saturating_sub(24);
                    next.dtmf = next.dtmf.chars().skip(excess).collect();
                }
            }
            CallUpdate::Notice(message) => next.notice = Some(message),
            CallUpdate::Ended { reason, at } => {
                let lasted = match &self.phase {
                    CallPhase::Connected { since, .. } => {
                        Some(at.saturating_duration_since(*since))
                    }
                    _ => None,
                };
                let number = match &self.phase {
                    CallPhase::Calling { number }
                    | CallPhase::Ringing { number }
                    | CallPhase::Answering { number }
                    | CallPhase::Connected { number, .. } => number.clone(),
                    CallPhase::Incoming(view) => view.caller.clone(),
                    // A late second report changes nothing.
                    CallPhase::Ended { .. } | CallPhase::Idle => return next,
                };
                next.phase = CallPhase::Ended {
                    number,
                    reason,
                    lasted,
                };
                next.muted = false;
                next.held = false;
                next.hold_pending = false;
                next.reconnecting = false;
                next.early_media = false;
                next.dtmf.clear();
                next.ringtone_blocked = false;
                next.ended_count = self.ended_count.wrapping_add(1);
            }
            CallUpdate::MicFailed(problem) => {
                next.mic_problem = Some(problem);
                if matches!(self.phase, CallPhase::Calling { .. }) {
                    next.phase = CallPhase::Idle;
                }
            }
            CallUpdate::MicOk => next.mic_problem = None,
            CallUpdate::MicBlocked => next.mic_problem = Some(MicProblem::Blocked),
            CallUpdate::Devices(devices) => next.devices = devices,
        }
        next
    }

    /// A call is being set up or is up (the call button is replaced by
    /// hang-up, the keypad sends tones).
    /// A call starts in `phase`: what the last one left is cleared.
    fn new_call(&mut self, phase: CallPhase) {
        self.phase = phase;
        self.muted = false;
        self.held = false;
        self.hold_pending = false;
        self.reconnecting = false;
        self.early_media = false;
        self.dtmf.clear();
        self.notice = None;
    }

    pub fn in_call(&self) -> bool {
        matches!(
            self.phase,
            CallPhase::Calling { .. }
                | CallPhase::Ringing { .. }
                | CallPhase::Incoming(_)
                | CallPhase::Answering { .. }
                | CallPhase::Connected { .. }
        )
    }

    /// Set up or up, not ringing in: the in-call controls apply.
    pub fn has_controls(&self) -> bool {
        self.in_call() && !matches!(self.phase, CallPhase::Incoming(_))
    }

    pub fn is_connected(&self) -> bool {
        matches!(self.phase, CallPhase::Connected { .. })
    }

    /// `data-state` of `#call-state`.
    pub fn data_state(&self) -> &'static str {
        match &self.phase {
            CallPhase::Idle => "idle",
            CallPhase::Calling { .. } => "calling",
            CallPhase::Ringing { .. } => "ringing",
            CallPhase::Incoming(_) => "incoming",
            CallPhase::Answering { .. } => "answering",
            CallPhase::Connected { .. } if self.reconnecting => "reconnecting",
            CallPhase::Connected { .. } if self.held => "held",
            CallPhase::Connected { .. } => "connected",
            CallPhase::Ended { .. } => "ended",
        }
    }

    /// The text of `#call-state`.
    pub fn label(&self) -> String {
        match &self.phase {
            CallPhase::Idle => "No call".to_owned(),
            CallPhase::Calling { number } => format!("Calling {number}…"),
            CallPhase::Ringing { number } => format!("Ringing {number}…"),
            CallPhase::Incoming(view) => format!("Incoming call from {}", view.caller_text()),
            CallPhase::Answering { number } => format!("Answering {number}…"),
            CallPhase::Connected { number, .. } if self.reconnecting => {
                format!("Reconnecting… {number} is still on the line")
            }
            CallPhase::Connected { number, .. } if self.held => format!("On hold: {number}"),
            CallPhase::Connected { number, .. } => format!("Connected to {number}"),
            CallPhase::Ended { number, .. } => format!("Call to {number} ended"),
        }
    }
}

/// What `#call-end-reason` says for a call that ended by `cause`: one
/// clause without a final full stop, or sentences where there is advice.
pub fn end_reason(cause: &EndCause) -> String {
    match cause {
        EndCause::Local => "You hung up".to_owned(),
        EndCause::Remote => "The other side hung up".to_owned(),
        EndCause::NoResponse => {
            "The phone server did not respond. Check your connection and try again.".to_owned()
        }
        EndCause::TransportLost => {
            "Network connection lost: the call was cut off. Your phone reconnects by itself."
                .to_owned()
        }
        EndCause::Cancelled {
            answered_elsewhere: true,
        } => "Answered on another phone".to_owned(),
        EndCause::Cancelled {
            answered_elsewhere: false,
        } => "Missed call: the caller hung up".to_owned(),
        EndCause::Refused { code, reason } | EndCause::Broken { code, reason } => {
            refusal(*code, reason)
        }
    }
}

/// The words for a final SIP status.
pub fn refusal(code: u16, reason: &str) -> String {
    match code {
        486 | 600 => "Busy: the number you called is on another call".to_owned(),
        408 | 480 => "No answer".to_owned(),
        603 => "The call was declined".to_owned(),
        404 | 484 | 604 => "Number not found: check the number and try again".to_owned(),
        500 | 502 | 503 => {
            "The phone carrier is unavailable right now. Try again in a moment.".to_owned()
        }
        488 | 606 => {
            "The call could not connect: no common audio format (codec mismatch)".to_owned()
        }
        403 => "You are not allowed to call this number".to_owned(),
        _ => {
            let reason = reason.trim();
            if reason.is_empty() {
                format!("Call failed ({code})")
            } else {
                format!("Call failed ({code} {reason})")
            }
        }
    }
}

/// `mm:ss` (minutes keep counting past 59).
pub fn clock(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    format!("{:02}:{:02}", secs / 60, secs % 60)
}

/// A typed number in E.164 for `default_country` (ISO code), or what is
/// wrong with it, as a sentence.
pub fn read_number(input: &str, default_country: &str) -> Result<E164, String> {
    let input = clean_number(input);
    if input.is_empty() {
        return Err("Enter a number to call.".to_owned());
    }
    let result = match e164::country(default_country) {
        Some(country) => e164::normalize(&input, country),
        // A country the table does not know: international form only. The
        // country handed over then plays no part (the number carries its own).
        None if input.starts_with('+') || input.starts_with("00") => e164::country("GB")
            .map_or(Err(NumberError::NotInternational), |any| {
                e164::normalize(&input, any)
            }),
        None => {
            return Err(
                "Type the number with its country code, starting with + (for example +44 20 7946 0958)."
                    .to_owned(),
            );
        }
    };
    result.map_err(|error| sentence(&error.to_string()))
}

/// Why the dial pad will not call what is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotDialable {
    /// Not a number yet, or not a valid one: what is wrong, as a sentence.
    Invalid(String),
    /// A valid number that a destination policy of the agent refuses.
    Refused(E164, Refusal),
}

impl NotDialable {
    /// What the dial pad shows under the number.
    pub fn message(&self) -> String {
        match self {
            NotDialable::Invalid(message) => message.clone(),
            NotDialable::Refused(_, refusal) => sentence(&refusal.reason),
        }
    }
}

/// A typed number read as [`read_number`] does, then checked against the
/// agent's destination policies with the prefix list in force (the same
/// check the gateway makes), so that the pad says before dialing that the
/// number is not allowed, and why. No policies in the profile: nothing is
/// refused here.
pub fn read_dialable(input: &str, profile: &DialingProfile) -> Result<E164, NotDialable> {
    let number = read_number(input, &profile.default_country).map_err(NotDialable::Invalid)?;
    match profile.check(&number) {
        Ok(()) => Ok(number),
        Err(refusal) => Err(NotDialable::Refused(number, refusal)),
    }
}

/// Pasted text made typeable: invisible formatting characters (bidi marks,
/// zero-width spaces, which CRMs and spreadsheets carry along) dropped, any
/// kind of space or line break made one plain space, the ends trimmed.
pub fn clean_number(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
            | '\u{ad}' => {}
            c if c.is_whitespace() => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c => out.push(c),
        }
    }
    out.trim().to_owned()
}

/// `too short: 5 digits…` → `Too short: 5 digits….`
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Instant {
        use std::sync::OnceLock;
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        *ORIGIN.get_or_init(Instant::now) + Duration::from_secs(secs)
    }

    fn run(updates: impl IntoIterator<Item = CallUpdate>) -> CallView {
        updates
            .into_iter()
            .fold(CallView::default(), |view, update| view.apply(update))
    }

    fn dialing() -> CallUpdate {
        CallUpdate::Dialing {
            number: "+14155552671".to_owned(),
        }
    }

    #[test]
    fn a_call_goes_through_its_states() {
        let view = run([]);
        assert_eq!(
            (view.data_state(), view.label().as_str()),
            ("idle", "No call")
        );
        let view = run([dialing()]);
        assert_eq!(view.data_state(), "calling");
        assert_eq!(view.label(), "Calling +14155552671…");
        let view = view.apply(CallUpdate::Ringing);
        assert_eq!(view.data_state(), "ringing");
        let view = view.apply(CallUpdate::Answered { at: at(10) });
        assert_eq!(view.data_state(), "connected");
        assert!(view.is_connected());
        let view = view
            .apply(CallUpdate::HoldPending)
            .apply(CallUpdate::HoldChanged { held: true });
        assert_eq!(view.data_state(), "held");
        assert_eq!(view.label(), "On hold: +14155552671");
        let view = view.apply(CallUpdate::HoldChanged { held: false });
        assert_eq!(view.data_state(), "connected");
        let view = view.apply(CallUpdate::Ended {
            reason: "The other side hung up".to_owned(),
            at: at(95),
        });
        assert_eq!(view.data_state(), "ended");
        assert_eq!(
            view.phase,
            CallPhase::Ended {
                number: "+14155552671".to_owned(),
                reason: "The other side hung up".to_owned(),
                lasted: Some(Duration::from_secs(85)),
            }
        );
        // A second report of the end does not replace the first.
        let again = view.apply(CallUpdate::Ended {
            reason: "You hung up".to_owned(),
            at: at(96),
        });
        assert_eq!(again, view);
        // The next call starts clean.
        let next = view.apply(CallUpdate::Muted(true)).apply(dialing());
        assert_eq!(next.data_state(), "calling");
        assert!(!next.muted);
    }

    #[test]
    fn answer_without_ringing_and_mute_only_in_a_call() {
        let view = run([
            CallUpdate::Muted(true),
            dialing(),
            CallUpdate::Answered { at: at(1) },
        ]);
        assert!(!view.muted);
        assert_eq!(view.data_state(), "connected");
        assert!(view.apply(CallUpdate::Muted(true)).muted);
    }

    #[test]
    fn a_blocked_microphone_stops_the_call_before_it_starts() {
        let view = run([dialing(), CallUpdate::MicFailed(MicProblem::Blocked)]);
        assert_eq!(view.data_state(), "idle");
        assert!(
            view.mic_problem
                .as_ref()
                .is_some_and(|p| p.explanation().contains("address bar"))
        );
        let view = view.apply(CallUpdate::MicOk);
        assert_eq!(view.mic_problem, None);
    }

    #[test]
    fn microphone_errors_are_classified_by_name() {
        assert_eq!(
            MicProblem::from_error_name("NotAllowedError", "Permission denied"),
            MicProblem::Blocked
        );
        assert_eq!(
            MicProblem::from_error_name("NotFoundError", ""),
            MicProblem::NotFound
        );
        assert_eq!(
            MicProblem::from_error_name("NotReadableError", "Could not start audio source"),
            MicProblem::InUse
        );
        assert_eq!(
            MicProblem::from_error_name("TypeError", "bad"),
            MicProblem::Other("TypeError: bad".to_owned())
        );
    }

    #[test]
    fn end_reasons_read_as_sentences() {
        let refused = |code: u16, reason: &str| {
            end_reason(&EndCause::Refused {
                code,
                reason: reason.to_owned(),
            })
        };
        for code in [486, 600] {
            assert!(refused(code, "x").starts_with("Busy"), "{code}");
        }
        for code in [408, 480] {
            assert_eq!(refused(code, "x"), "No answer");
        }
        assert_eq!(refused(603, "Decline"), "The call was declined");
        for code in [404, 484, 604] {
            assert!(refused(code, "x").starts_with("Number not found"), "{code}");
        }
        for code in [500, 502, 503] {
            assert!(
                refused(code, "x").contains("carrier is unavailable"),
                "{code}"
            );
        }
        for code in [488, 606] {
            assert!(refused(code, "x").contains("codec mismatch"), "{code}");
        }
        assert_eq!(
            refused(403, "Forbidden"),
            "You are not allowed to call this number"
        );
        assert_eq!(
            refused(482, "Loop Detected"),
            "Call failed (482 Loop Detected)"
        );
        assert_eq!(refused(499, " "), "Call failed (499)");
        assert_eq!(end_reason(&EndCause::Remote), "The other side hung up");
        assert!(end_reason(&EndCause::TransportLost).starts_with("Network connection lost"));
    }

    #[test]
    fn the_timer_shows_minutes_and_seconds() {
        assert_eq!(clock(Duration::from_millis(999)), "00:00");
        assert_eq!(clock(Duration::from_secs(65)), "01:05");
        assert_eq!(clock(Duration::from_secs(3600 + 61)), "61:01");
    }

    #[test]
    fn typed_numbers_are_read_for_the_default_country() {
        assert_eq!(
            read_number("(415) 555-2671", "US").map(|n| n.to_string()),
            Ok("+14155552671".to_owned())
        );
        assert_eq!(
            read_number("020 7946 0958", "GB").map(|n| n.to_string()),
            Ok("+442079460958".to_owned())
        );
        assert_eq!(
            read_number("  ", "US"),
            Err("Enter a number to call.".to_owned())
        );
        let short = read_number("555", "US").unwrap_err();
        assert!(short.starts_with("US numbers have 10 digits"), "{short}");
        assert!(short.ends_with('.'));
        assert!(
            read_number("1-800-FLOWERS", "US")
                .unwrap_err()
                .contains("'F'")
        );
        // A country the table does not know: international form only.
        assert_eq!(
            read_number("+44 20 7946 0958", "KE").map(|n| n.to_string()),
            Ok("+442079460958".to_owned())
        );
        assert!(
            read_number("0712 345678", "KE")
                .unwrap_err()
                .contains("country code")
        );
    }

    #[test]
    fn the_pad_says_which_numbers_the_policy_refuses() {
        use shared::policy::{DestinationPolicy, RefusalCode};
        let us_only = DialingProfile {
            destination_policies: vec![DestinationPolicy {
                allowed_countries: vec!["US".to_owned()],
                ..DestinationPolicy::default()
            }],
            ..DialingProfile::default()
        };
        let read = |typed: &str, profile: &DialingProfile| match read_dialable(typed, profile) {
            Ok(number) => format!("ok {number}"),
            Err(NotDialable::Refused(number, refusal)) => {
                format!(
                    "{number} {}: {}",
                    refusal.code.as_str(),
                    NotDialable::Refused(number.clone(), refusal).message()
                )
            }
            Err(NotDialable::Invalid(message)) => format!("invalid: {message}"),
        };
        assert_eq!(read("(212) 555-0100", &us_only), "ok +12125550100");
        assert_eq!(
            read("1 900 555 0100", &us_only),
            "+19005550100 premium: Calls to premium-rate numbers (+1 900) are blocked."
        );
        assert_eq!(
            read("876 555 0100", &us_only),
            "+18765550100 country_not_allowed: Calls to Jamaica (+1 876) are not allowed for this agent."
        );
        assert_eq!(
            read("+1 416 555 0100", &us_only),
            "+14165550100 country_not_allowed: Calls to Canada (+1 416) are not allowed for this agent."
        );
        assert_eq!(
            read("+44 909 879 0000", &us_only),
            "+449098790000 country_not_allowed: Calls to the United Kingdom (+44) are not allowed for this agent."
        );
        // A number still being typed says what is missing, not a refusal.
        assert!(read("876 55", &us_only).starts_with("invalid: US numbers have 10 digits"));
        // Canada allowed: +1 416 goes through, +1 900 is still premium.
        let us_ca = DialingProfile {
            destination_policies: vec![DestinationPolicy {
                allowed_countries: vec!["US".to_owned(), "CA".to_owned()],
                ..DestinationPolicy::default()
            }],
            ..DialingProfile::default()
        };
        assert_eq!(read("416 555 0100", &us_ca), "ok +14165550100");
        assert!(matches!(
            read_dialable("900 555 0100", &us_ca),
            Err(NotDialable::Refused(_, r)) if r.code == RefusalCode::Premium
        ));
        // No policies (an older gateway): the pad refuses nothing.
        assert_eq!(
            read("1 900 555 0100", &DialingProfile::default()),
            "ok +19005550100"
        );
    }

    #[test]
    fn profiles_without_policies_still_parse() {
        let old = r#"{"default_country":"US","caller_ids":[],"default_caller_id":null}"#;
        let profile: DialingProfile = serde_json::from_str(old).unwrap();
        assert!(profile.destination_policies.is_empty());
        let new = r#"{"default_country":"US","caller_ids":[],"default_caller_id":null,
            "destination_policies":[{"allowed_countries":["US"]}]}"#;
        let profile: DialingProfile = serde_json::from_str(new).unwrap();
        assert!(
            profile.destination_policies[0].block_premium,
            "premium blocked by default"
        );
    }

    #[test]
    fn pasted_text_loses_invisible_characters() {
        assert_eq!(
            clean_number("\u{202a}+1\u{a0}(415)\u{200b} 555-2671\u{202c}\n"),
            "+1 (415) 555-2671"
        );
        assert_eq!(
            read_number("\u{200e}+44\u{2009}20\u{2009}7946\u{2009}0958", "US")
                .map(|n| n.to_string()),
            Ok("+442079460958".to_owned())
        );
    }

    fn ringing_in() -> IncomingView {
        IncomingView {
            call_id: "in-1".to_owned(),
            caller: "+15551230000".to_owned(),
            caller_name: Some("Ann".to_owned()),
            did: Some("+15550100100".to_owned()),
            did_label: Some("Sales line".to_owned()),
        }
    }

    #[test]
    fn an_incoming_call_is_answered_then_ends() {
        let now = Instant::now();
        let view = CallView::default().apply(CallUpdate::Incoming(ringing_in()));
        assert_eq!(view.data_state(), "incoming");
        assert!(view.in_call() && !view.has_controls());
        assert_eq!(ringing_in().caller_text(), "Ann (+15551230000)");
        assert_eq!(ringing_in().did_text(), "Sales line (+15550100100)");
        let view = view.apply(CallUpdate::RingtoneBlocked(true));
        assert!(view.ringtone_blocked);
        let view = view.apply(CallUpdate::Answering);
        assert_eq!(view.data_state(), "answering");
        assert!(!view.ringtone_blocked && view.has_controls());
        let view = view.apply(CallUpdate::Answered { at: now });
        assert_eq!(view.data_state(), "connected");
        let view = view.apply(CallUpdate::Ended {
            reason: "x".to_owned(),
            at: now,
        });
        assert_eq!(view.data_state(), "ended");
        assert_eq!(view.ended_count, 1);
    }

    #[test]
    fn a_missed_call_is_listed_at_once() {
        let view = CallView::default()
            .apply(CallUpdate::Incoming(ringing_in()))
            .apply(CallUpdate::Missed {
                caller: "+15551230000".to_owned(),
                at_ms: 5,
            });
        assert_eq!(view.missed.len(), 1);
        assert_eq!(
            end_reason(&EndCause::Cancelled {
                answered_elsewhere: true
            }),
            "Answered on another phone"
        );
    }
}
