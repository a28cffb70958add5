//! The postMessage protocol between the host page's `<dialer-phone>`
//! element (`gateway/static/widget.js`) and this iframe, as pure functions:
//! what a message from the host asks of the phone, and which event a change
//! of the phone's state raises. Tested natively.
//!
//! Host → iframe: `{type: "dialer:init", token}` and
//! `{type: "dialer:command", name, args}`. Iframe → host:
//! `{type: "dialer:hello"}` (to each allowed origin: only the real parent's
//! is delivered) and `{type: "dialer:event", name, detail}`.

use serde::Deserialize;
use serde_json::{Value, json};
use shared::sip::call::Presenting;

use crate::phone::PhoneStatus;
use crate::state::call::{CallCommand, CallPhase, CallView, read_number};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type")]
pub enum HostMessage {
    #[serde(rename = "dialer:init")]
    Init { token: String },
    #[serde(rename = "dialer:command")]
    Command {
        name: String,
        #[serde(default)]
        args: Value,
    },
}

/// An event for the host page: `name` and its `detail`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostEvent {
    pub name: &'static str,
    pub detail: Value,
}

impl HostEvent {
    pub fn error(code: &str, message: &str) -> HostEvent {
        HostEvent {
            name: "error",
            detail: json!({"code": code, "message": message}),
        }
    }

    /// The message posted to the host.
    pub fn message(&self) -> Value {
        json!({"type": "dialer:event", "name": self.name, "detail": self.detail})
    }
}

/// What a host command asks of the phone, given the call as it is;
/// `Err` is an `error` event's (code, message).
pub fn commands(
    name: &str,
    args: &Value,
    call: &CallView,
    default_country: &str,
) -> Result<Vec<CallCommand>, (&'static str, String)> {
    let flag = || args.get("on").and_then(Value::as_bool).unwrap_or(true);
    match name {
        "dial" => {
            let number = args.get("number").and_then(Value::as_str).unwrap_or("");
            let number = read_number(number, default_country).map_err(|m| ("invalid_number", m))?;
            let presenting = match args.get("callerId").and_then(Value::as_str) {
                None | Some("") => Presenting::Automatic,
                Some(c) => Presenting::Number(
                    read_number(c, default_country).map_err(|m| ("invalid_number", m))?,
                ),
            };
            if call.in_call() {
                return Err(("busy", "A call is already in progress.".to_owned()));
            }
            Ok(vec![CallCommand::Dial(number, presenting)])
        }
        "hangup" if matches!(call.phase, CallPhase::Incoming(_)) => Ok(vec![CallCommand::Decline]),
        "hangup" => Ok(vec![CallCommand::Hangup]),
        "answer" => Ok(vec![CallCommand::Answer]),
        "mute" => Ok(vec![CallCommand::Mute(flag())]),
        "hold" if flag() != call.held => Ok(vec![CallCommand::ToggleHold]),
        "hold" => Ok(Vec::new()),
        "sendDtmf" => {
            let digits = args.get("digits").and_then(Value::as_str).unwrap_or("");
            if digits.is_empty()
                || !digits
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D'))
            {
                return Err((
                    "invalid_dtmf",
                    "DTMF digits are 0-9, *, # and A-D.".to_owned(),
                ));
            }
            Ok(digits.chars().map(CallCommand::Dtmf).collect())
        }
        _ => Err((
            "unknown_command",
            format!("The phone has no command `{name}`."),
        )),
    }
}

/// The event a registration change raises.
pub fn status_event(before: &PhoneStatus, now: &PhoneStatus) -> Option<HostEvent> {
    match now {
        PhoneStatus::Registered if before != now => Some(HostEvent {
            name: "registered",
            detail: json!({}),
        }),
        PhoneStatus::Failed { reason } if !matches!(before, PhoneStatus::Failed { .. }) => {
            Some(HostEvent::error("registration_failed", reason))
        }
        _ => None,
    }
}

/// The event a call change raises; `ended` is raised by the caller once
/// the record id is known (see [`ended`]).
pub fn phase_event(before: &CallPhase, now: &CallPhase) -> Option<HostEvent> {
    if std::mem::discriminant(before) == std::mem::discriminant(now) {
        return None;
    }
    match now {
        CallPhase::Incoming(view) => Some(HostEvent {
            name: "incoming",
            detail: json!({
                "caller": view.caller, "callerName": view.caller_name,
                "did": view.did, "didLabel": view.did_label,
            }),
        }),
        CallPhase::Ringing { number } => Some(HostEvent {
            name: "ringing",
            detail: json!({"number": number}),
        }),
        CallPhase::Connected { number, .. } => Some(HostEvent {
            name: "connected",
            detail: json!({"number": number}),
        }),
        _ => None,
    }
}

/// `reconnecting`: the phone lost its link mid-call (`true`) or the call
/// is back (`false`); nothing when it did not change.
pub fn reconnecting_event(before: bool, now: bool) -> Option<HostEvent> {
    (before != now).then(|| HostEvent {
        name: "reconnecting",
        detail: json!({ "reconnecting": now }),
    })
}

/// The call just ended (to be reported with [`ended`]).
pub fn just_ended(before: &CallPhase, now: &CallPhase) -> bool {
    matches!(now, CallPhase::Ended { .. })
        && !matches!(before, CallPhase::Ended { .. } | CallPhase::Idle)
}

/// A call is starting (the newest record id is noted, to tell its record).
pub fn just_started(before: &CallPhase, now: &CallPhase) -> bool {
    matches!(now, CallPhase::Calling { .. } | CallPhase::Incoming(_))
        && matches!(before, CallPhase::Idle | CallPhase::Ended { .. })
}

/// `ended`: the record id (`None` if it could not be found), duration in
/// seconds, the reason in words and the number.
pub fn ended(phase: &CallPhase, record_id: Option<String>) -> Option<HostEvent> {
    let CallPhase::Ended {
        number,
        reason,
        lasted,
    } = phase
    else {
        return None;
    };
    Some(HostEvent {
        name: "ended",
        detail: json!({
            "recordId": record_id,
            "duration": lasted.map_or(0, |d| d.as_secs()),
            "reason": reason,
            "number": number,
        }),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::state::call::IncomingView;

    #[test]
    fn reconnecting_is_raised_on_each_change_only() {
        assert_eq!(reconnecting_event(false, false), None);
        let lost = reconnecting_event(false, true).unwrap();
        assert_eq!(
            (lost.name, lost.detail),
            ("reconnecting", json!({"reconnecting": true}))
        );
        let back = reconnecting_event(true, false).unwrap();
        assert_eq!(back.detail, json!({"reconnecting": false}));
    }

    #[test]
    fn host_messages_are_read() {
        let init: HostMessage =
            serde_json::from_value(json!({"type": "dialer:init", "token": "dle_x"})).unwrap();
        assert_eq!(
            init,
            HostMessage::Init {
                token: "dle_x".into()
            }
        );
        assert!(serde_json::from_value::<HostMessage>(json!({"type": "other"})).is_err());
    }

    #[test]
    fn commands_map_to_the_phone() {
        let idle = CallView::default();
        let dial = commands("dial", &json!({"number": "+1 415 555 2671"}), &idle, "US").unwrap();
        assert!(
            matches!(&dial[..], [CallCommand::Dial(n, Presenting::Automatic)] if n.as_str() == "+14155552671")
        );
        assert_eq!(
            commands("dial", &json!({"number": ""}), &idle, "US")
                .unwrap_err()
                .0,
            "invalid_number"
        );
        assert_eq!(
            commands("mute", &json!({"on": false}), &idle, "US").unwrap(),
            vec![CallCommand::Mute(false)]
        );
        assert_eq!(
            commands("hold", &json!({"on": false}), &idle, "US").unwrap(),
            vec![]
        );
        assert_eq!(
            commands("sendDtmf", &json!({"digits": "1#"}), &idle, "US").unwrap(),
            vec![CallCommand::Dtmf('1'), CallCommand::Dtmf('#')]
        );
        assert_eq!(
            commands("sendDtmf", &json!({"digits": "x"}), &idle, "US")
                .unwrap_err()
                .0,
            "invalid_dtmf"
        );
        assert_eq!(
            commands("reboot", &json!({}), &idle, "US").unwrap_err().0,
            "unknown_command"
        );
        let ringing_in = CallView {
            phase: CallPhase::Incoming(IncomingView {
                call_id: "c".into(),
                caller: "+15550001111".into(),
                caller_name: None,
                did: Some("+15550100100".into()),
                did_label: None,
            }),
            ..CallView::default()
        };
        assert_eq!(
            commands("hangup", &json!({}), &ringing_in, "US").unwrap(),
            vec![CallCommand::Decline]
        );
        assert_eq!(
            commands(
                "dial",
                &json!({"number": "+14155552671"}),
                &ringing_in,
                "US"
            )
            .unwrap_err()
            .0,
            "busy"
        );
    }

    #[test]
    fn state_changes_raise_events() {
        let incoming = CallPhase::Incoming(IncomingView {
            call_id: "c".into(),
            caller: "+15550001111".into(),
            caller_name: None,
            did: Some("+15550100100".into()),
            did_label: None,
        });
        let event = phase_event(&CallPhase::Idle, &incoming).unwrap();
        assert_eq!(event.name, "incoming");
        assert_eq!(event.detail["caller"], "+15550001111");
        assert_eq!(event.detail["did"], "+15550100100");
        let ended_phase = CallPhase::Ended {
            number: "+1".into(),
            reason: "You hung up".into(),
            lasted: Some(std::time::Duration::from_secs(3)),
        };
        assert!(just_ended(&incoming, &ended_phase));
        assert!(!just_ended(&CallPhase::Idle, &ended_phase));
        let event = ended(&ended_phase, Some("r1".into())).unwrap();
        assert_eq!(
            event.detail,
            json!({"recordId": "r1", "duration": 3, "reason": "You hung up", "number": "+1"})
        );
        assert_eq!(
            status_event(&PhoneStatus::Connecting, &PhoneStatus::Registered)
                .unwrap()
                .name,
            "registered"
        );
        assert!(status_event(&PhoneStatus::Registered, &PhoneStatus::Registered).is_none());
    }
}
