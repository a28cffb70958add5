//! What the app shows, as a pure reducer: every change arrives as an
//! [`Action`], so the flow (load → sign in → phone → sign out) is tested
//! without a browser. The call panel's part is [`call`].

pub mod admin;
pub mod call;
pub mod caller_id;

use std::rc::Rc;

use shared::api::{SessionInfo, SignInRequest, SipCredential};
use yew::Reducible;

use crate::phone::PhoneStatus;
use call::{CallUpdate, CallView};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AppState {
    /// Asking the gateway whether this browser has a session.
    #[default]
    Loading,
    SignIn {
        /// A sign-in request is in flight.
        busy: bool,
        /// What to tell the person about the last attempt.
        error: Option<String>,
    },
    Phone {
        session: Rc<SessionInfo>,
        status: PhoneStatus,
        signing_out: bool,
        /// Shared with the components that show it; replaced on every change.
        call: Rc<CallView>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `GET /api/v1/session` or a sign-in answered with a session.
    SessionStarted(Box<SessionInfo>),
    /// There is no session (401), or it could not be asked for (`error`).
    NoSession {
        error: Option<String>,
    },
    SignInSubmitted,
    SignInFailed(String),
    Phone(PhoneStatus),
    Call(CallUpdate),
    SignOutRequested,
    SignedOut,
}

impl AppState {
    /// The SIP credential the phone registers with while the phone page is
    /// up (sign-out included: the un-REGISTER still needs the phone).
    pub fn sip_credential(&self) -> Option<SipCredential> {
        match self {
            AppState::Phone { session, .. } => session.sip.clone(),
            _ => None,
        }
    }
}

/// Checks a sign-in form before it is sent; the message goes to
/// `#sign-in-error` like the server's own.
pub fn check_sign_in(request: &SignInRequest) -> Result<(), String> {
    if request.username.trim().is_empty() {
        Err("Enter your username.".to_owned())
    } else if request.password.is_empty() {
        Err("Enter your password.".to_owned())
    } else {
        Ok(())
    }
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let next = match (action, &*self) {
            (Action::SessionStarted(session), _) => AppState::Phone {
                status: if session.sip.is_some() {
                    PhoneStatus::Connecting
                } else {
                    PhoneStatus::NoPhone
                },
                session: Rc::new(*session),
                signing_out: false,
                call: Rc::default(),
            },
            (Action::NoSession { error }, _) => AppState::SignIn { busy: false, error },
            (Action::SignInSubmitted, AppState::SignIn { .. }) => AppState::SignIn {
                busy: true,
                error: None,
            },
            (Action::SignInFailed(message), AppState::SignIn { .. }) => AppState::SignIn {
                busy: false,
                error: Some(message),
            },
            (
                Action::Phone(status),
                AppState::Phone {
                    session,
                    signing_out,
                    call,
                    ..
                },
            ) if session.sip.is_some() => AppState::Phone {
                session: session.clone(),
                status,
                signing_out: *signing_out,
                call: call.clone(),
            },
            (
                Action::Call(update),
                AppState::Phone {
                    session,
                    status,
                    signing_out,
                    call,
                },
            ) if session.sip.is_some() => AppState::Phone {
                session: session.clone(),
                status: status.clone(),
                signing_out: *signing_out,
                call: Rc::new(call.apply(update)),
            },
            (
                Action::SignOutRequested,
                AppState::Phone {
                    session,
                    status,
                    call,
                    ..
                },
            ) => AppState::Phone {
                session: session.clone(),
                status: status.clone(),
                signing_out: true,
                call: call.clone(),
            },
            (Action::SignedOut, _) => AppState::SignIn {
                busy: false,
                error: None,
            },
            // Late news for a page no longer shown (a phone status after
            // sign-out, a sign-in answer after a reload…).
            _ => return self,
        };
        Rc::new(next)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use shared::api::{AccountInfo, Role};

    use super::*;

    fn session(with_phone: bool) -> SessionInfo {
        SessionInfo {
            account: AccountInfo {
                id: 7,
                username: "demo".to_owned(),
                display_name: "Demo Agent".to_owned(),
                role: Role::Agent,
            },
            sip: with_phone.then(|| SipCredential {
                username: "demo".to_owned(),
                password: "pw".to_owned(),
                realm: "gw.test".to_owned(),
                aor: "sip:demo@gw.test".to_owned(),
                display_name: "Demo Agent".to_owned(),
                expires_at: 2_000_000_000,
                ice: Default::default(),
            }),
            dialing: Default::default(),
        }
    }

    fn run(actions: impl IntoIterator<Item = Action>) -> AppState {
        let mut state = Rc::new(AppState::default());
        for action in actions {
            state = state.reduce(action);
        }
        Rc::unwrap_or_clone(state)
    }

    #[test]
    fn empty_fields_are_caught_before_sending() {
        let request = |username: &str, password: &str| SignInRequest {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        assert_eq!(
            check_sign_in(&request(" ", "pw")),
            Err("Enter your username.".to_owned())
        );
        assert_eq!(
            check_sign_in(&request("demo", "")),
            Err("Enter your password.".to_owned())
        );
        assert_eq!(check_sign_in(&request("demo", " ")), Ok(()));
    }

    #[test]
    fn no_session_shows_sign_in() {
        assert_eq!(
            run([Action::NoSession { error: None }]),
            AppState::SignIn {
                busy: false,
                error: None
            }
        );
    }

    #[test]
    fn failed_sign_in_shows_the_message_and_a_new_attempt_clears_it() {
        let failed = run([
            Action::NoSession { error: None },
            Action::SignInSubmitted,
            Action::SignInFailed("Wrong username or password.".to_owned()),
        ]);
        assert_eq!(
            failed,
            AppState::SignIn {
                busy: false,
                error: Some("Wrong username or password.".to_owned())
            }
        );
        let retrying = Rc::new(failed).reduce(Action::SignInSubmitted);
        assert_eq!(
            *retrying,
            AppState::SignIn {
                busy: true,
                error: None
            }
        );
    }

    #[test]
    fn session_leads_to_the_phone_and_its_status() {
        let state = run([
            Action::NoSession { error: None },
            Action::SignInSubmitted,
            Action::SessionStarted(Box::new(session(true))),
        ]);
        assert!(matches!(
            &state,
            AppState::Phone {
                status: PhoneStatus::Connecting,
                signing_out: false,
                ..
            }
        ));
        assert_eq!(state.sip_credential().unwrap().username, "demo");
        let state = Rc::new(state).reduce(Action::Phone(PhoneStatus::Registered));
        assert!(matches!(
            &*state,
            AppState::Phone {
                status: PhoneStatus::Registered,
                ..
            }
        ));
    }

    #[test]
    fn an_account_without_a_phone_stays_without() {
        let state = run([
            Action::SessionStarted(Box::new(session(false))),
            Action::Phone(PhoneStatus::Registered),
        ]);
        assert!(matches!(
            &state,
            AppState::Phone {
                status: PhoneStatus::NoPhone,
                ..
            }
        ));
        assert_eq!(state.sip_credential(), None);
    }

    #[test]
    fn call_updates_reach_the_call_panel_of_a_phone_only() {
        let dialing = || {
            Action::Call(CallUpdate::Dialing {
                number: "+14155552671".to_owned(),
            })
        };
        let state = run([Action::SessionStarted(Box::new(session(true))), dialing()]);
        let AppState::Phone { call, .. } = &state else {
            panic!("{state:?}");
        };
        assert_eq!(call.data_state(), "calling");
        // Registration news keeps the call as it is.
        let state = Rc::new(state).reduce(Action::Phone(PhoneStatus::Registered));
        assert!(matches!(&*state, AppState::Phone { call, .. } if call.data_state() == "calling"));
        // No phone, no call.
        let state = run([Action::SessionStarted(Box::new(session(false))), dialing()]);
        assert!(matches!(&state, AppState::Phone { call, .. } if call.data_state() == "idle"));
    }

    #[test]
    fn sign_out_keeps_the_phone_until_done_then_ignores_late_news() {
        let state = run([
            Action::SessionStarted(Box::new(session(true))),
            Action::Phone(PhoneStatus::Registered),
            Action::SignOutRequested,
            Action::Phone(PhoneStatus::SignedOut),
        ]);
        assert!(matches!(
            &state,
            AppState::Phone {
                status: PhoneStatus::SignedOut,
                signing_out: true,
                ..
            }
        ));
        let state = Rc::new(state).reduce(Action::SignedOut);
        assert_eq!(
            *state,
            AppState::SignIn {
                busy: false,
                error: None
            }
        );
        let late = state.clone().reduce(Action::Phone(PhoneStatus::Connecting));
        assert!(Rc::ptr_eq(&state, &late));
    }
}
