//! A carrier's registration (REGISTER with digest, refresh at half the
//! expiry, retry with backoff, un-REGISTER when given up), over
//! `shared::sip::register` in `ClientNonInvite` transactions.

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use shared::api::SipTransport;
use shared::sip::register::{
    Registration, RegistrationConfig, RegistrationEvent, RegistrationState, RegistrationTransport,
};
use shared::sip::transaction::{ClientNonInvite, Timers, TransactionKey, TxEvent};
use shared::sip::uac::is_plain_token;
use web_time::Instant;

use super::{TrunkConfig, TrunkRegistrationState, retry_delay};
use crate::sip::b2bua::Route;
use crate::sip::core::{Destination, Transmit};
use crate::sip::{Now, host_port, is_reliable};

pub(super) struct Register {
    /// `None` when the settings cannot register (state Off).
    pub(super) reg: Option<Registration>,
    pub(super) tx: Option<(TransactionKey, ClientNonInvite)>,
    pub(super) failures: u32,
    pub(super) retry_at: Option<Instant>,
    pub(super) state: TrunkRegistrationState,
    pub(super) expires_at_ms: Option<i64>,
    pub(super) last_error: Option<String>,
}

impl Register {
    pub(super) fn new(route: &Route, expires: u32, config: &TrunkConfig, rng: &mut StdRng) -> Self {
        let mut register = Register {
            reg: None,
            tx: None,
            failures: 0,
            retry_at: None,
            state: TrunkRegistrationState::Off,
            expires_at_ms: None,
            last_error: None,
        };
        let (Some(username), Some(secret)) = (
            route.username.as_deref().filter(|u| !u.is_empty()),
            route.secret.as_deref().filter(|s| !s.is_empty()),
        ) else {
            register.last_error = Some("registration needs a username and a secret".to_owned());
            return register;
        };
        let ours = config.local.toward_carrier(route);
        let transport = match route.transport {
            SipTransport::Tcp => RegistrationTransport::Tcp { port: ours.port },
            SipTransport::Tls => RegistrationTransport::Tls { port: ours.port },
            SipTransport::Udp => RegistrationTransport::Udp { port: ours.port },
        };
        // host_port(_, 5060): the host alone (an IPv6 address as its alias).
        let host = host_port(&route.host, 5060);
        let reg_config = RegistrationConfig {
            aor: format!("sip:{username}@{host}"),
            display_name: String::new(),
            username: username.to_owned(),
            password: secret.to_owned(),
            instance_id: String::new(),
            reg_id: 1,
            expires,
            contact_user: if is_plain_token(username) {
                username.to_owned()
            } else {
                "gw".to_owned()
            },
            via_host: ours.host,
            user_agent: None,
            transport,
        };
        let mut reg_rng = StdRng::seed_from_u64(rng.next_u64());
        match Registration::new(reg_config, move || reg_rng.next_u64()) {
            Ok(reg) => register.reg = Some(reg),
            // The error names the setting, never the secret.
            Err(e) => register.last_error = Some(e.to_string()),
        }
        register
    }

    pub(super) fn start(
        &mut self,
        now: Now,
        dest: Destination,
        timers: &Timers,
        out: &mut Vec<Transmit>,
    ) {
        let Some(reg) = &mut self.reg else {
            return;
        };
        self.retry_at = None;
        self.state = TrunkRegistrationState::Registering;
        reg.start(now.instant);
        self.pump(now, dest, timers, out);
    }

    /// Withdraws the binding: an un-REGISTER (no retries after it fails).
    pub(super) fn unregister(
        &mut self,
        now: Now,
        dest: Destination,
        timers: &Timers,
        out: &mut Vec<Transmit>,
    ) {
        let Some(reg) = &mut self.reg else {
            return;
        };
        self.retry_at = None;
        reg.unregister(now.instant);
        self.pump(now, dest, timers, out);
        // A failure while withdrawing is not retried.
        self.retry_at = None;
    }

    /// Done withdrawing: the binding is gone, or the carrier did not take
    /// the un-REGISTER (it lapses at its expiry then).
    pub(super) fn withdrawn(&self) -> bool {
        match &self.reg {
            None => true,
            Some(reg) => {
                matches!(
                    reg.state(),
                    RegistrationState::Unregistered | RegistrationState::Failed
                ) || self.state == TrunkRegistrationState::Failed
            }
        }
    }

    /// Timers of a registration being withdrawn: retransmissions and the
    /// transaction's end, never a retry or a refresh.
    pub(super) fn handle_timeout_leaving(
        &mut self,
        now: Now,
        dest: Destination,
        timers: &Timers,
        out: &mut Vec<Transmit>,
    ) {
        if let Some((_, tx)) = &mut self.tx {
            tx.handle_timeout(now.instant);
        }
        if let Some(reg) = &mut self.reg {
            reg.handle_timeout(now.instant);
        }
        self.pump(now, dest, timers, out);
        self.retry_at = None;
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.reg.as_ref().and_then(Registration::poll_timeout),
            self.tx.as_ref().and_then(|(_, tx)| tx.poll_timeout()),
            self.retry_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(super) fn handle_timeout(
        &mut self,
        now: Now,
        dest: Destination,
        timers: &Timers,
        out: &mut Vec<Transmit>,
    ) {
        if self.retry_at.is_some_and(|at| at <= now.instant) {
            self.start(now, dest, timers, out);
            return;
        }
        if let Some((_, tx)) = &mut self.tx {
            tx.handle_timeout(now.instant);
        }
        if let Some(reg) = &mut self.reg {
            reg.handle_timeout(now.instant);
        }
        self.pump(now, dest, timers, out);
    }

    pub(super) fn handle_response(
        &mut self,
        now: Now,
        key: &TransactionKey,
        response: &rsip::Response,
        dest: Destination,
        timers: &Timers,
        out: &mut Vec<Transmit>,
    ) {
        if let Some((tx_key, tx)) = &mut self.tx
            && tx_key == key
        {
            tx.handle_response(now.instant, response.clone());
            self.pump(now, dest, timers, out);
        }
    }

    /// Moves messages between the registration and its transaction until
    /// neither has anything more to say, then reads the registration's events.
    pub(super) fn pump(
        &mut self,
        now: Now,
        dest: Destination,
        timers: &Timers,
        out: &mut Vec<Transmit>,
    ) {
        let Some(reg) = &mut self.reg else {
            return;
        };
        let mut lost = false;
        loop {
            // A new REGISTER supersedes the one in flight (one at a time).
            while let Some(request) = reg.poll_transmit() {
                self.tx = TransactionKey::for_sent_request(&request).ok().map(|key| {
                    let tx = ClientNonInvite::new(now.instant, request, is_reliable(dest), *timers);
                    (key, tx)
                });
            }
            let Some((_, tx)) = &mut self.tx else {
                break;
            };
            while let Some(m) = tx.poll_transmit() {
                out.push(Transmit {
                    to: dest,
                    bytes: m.to_string().into_bytes(),
                });
            }
            let mut responses = Vec::new();
            let mut terminated = false;
            while let Some(event) = tx.poll_event() {
                match event {
                    TxEvent::Response(r) => responses.push(r),
                    TxEvent::TransportError => lost = true,
                    TxEvent::Terminated => terminated = true,
                    // The registration's own timer F reports the silence.
                    TxEvent::Timeout | TxEvent::Request(_) => {}
                }
            }
            if terminated {
                self.tx = None;
            }
            if responses.is_empty() {
                break;
            }
            for r in responses {
                reg.handle_response(now.instant, r);
            }
        }
        if lost {
            reg.transport_lost();
            self.tx = None;
            self.fail(now, "cannot reach the carrier".to_owned());
        }
        while let Some(event) = self.reg.as_mut().and_then(Registration::poll_event) {
            match event {
                RegistrationEvent::Registered { expires } => {
                    self.state = TrunkRegistrationState::Registered;
                    self.failures = 0;
                    self.expires_at_ms = Some(now.unix_ms + i64::from(expires) * 1000);
                }
                RegistrationEvent::Failed { code, reason } => {
                    self.fail(now, format!("{code} {reason}"));
                }
                RegistrationEvent::Unregistered => {}
            }
        }
    }

    pub(super) fn fail(&mut self, now: Now, error: String) {
        self.state = TrunkRegistrationState::Failed;
        self.expires_at_ms = None;
        self.last_error = Some(error);
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(now.instant + retry_delay(self.failures));
    }
}
