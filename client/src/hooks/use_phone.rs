use std::cell::RefCell;
use std::rc::Rc;

use shared::api::SipCredential;
use shared::e164::E164;
use shared::sip::call::Presenting;
use yew::prelude::*;

use crate::phone::{PhoneShell, PhoneStatus};
use crate::state::call::CallUpdate;

/// Controls the phone started by [`use_phone`].
#[derive(Clone)]
pub struct PhoneHandle {
    shell: Rc<RefCell<Option<PhoneShell>>>,
}

impl PhoneHandle {
    /// Un-REGISTERs and disconnects, then calls `done` (at once if there is
    /// no phone).
    pub fn sign_out(&self, done: impl FnOnce() + 'static) {
        // Clone out of the cell: `done` may end up dropping the phone.
        let shell = self.shell.borrow().clone();
        match shell {
            Some(shell) => shell.sign_out(done),
            None => done(),
        }
    }

    /// Registers again after a refusal.
    pub fn retry(&self) {
        self.with(PhoneShell::retry);
    }

    pub fn dial(&self, target: E164, presenting: Presenting) {
        self.with(|shell| shell.dial(target, presenting));
    }

    pub fn answer(&self) {
        self.with(PhoneShell::answer);
    }

    pub fn decline(&self) {
        self.with(PhoneShell::decline);
    }

    pub fn hangup(&self) {
        self.with(PhoneShell::hangup);
    }

    pub fn set_muted(&self, muted: bool) {
        self.with(|shell| shell.set_muted(muted));
    }

    pub fn toggle_hold(&self) {
        self.with(PhoneShell::toggle_hold);
    }

    pub fn dtmf(&self, tone: char) {
        self.with(|shell| shell.dtmf(tone));
    }

    pub fn select_mic(&self, id: String) {
        self.with(|shell| shell.select_mic(id));
    }

    pub fn select_speaker(&self, id: String) {
        self.with(|shell| shell.select_speaker(id));
    }

    /// Runs `f` on the phone, if there is one, outside the cell's borrow
    /// (the phone may report back into this hook's owner synchronously).
    fn with(&self, f: impl FnOnce(&PhoneShell)) {
        let shell = self.shell.borrow().clone();
        if let Some(shell) = shell {
            f(&shell);
        }
    }
}

/// Runs a phone registering with `credential` while it is `Some`; a new
/// credential (a new sign-in) means a new phone. `on_status` hears what the
/// registration badge should show, `on_call` what the call panel should.
#[hook]
pub fn use_phone(
    credential: Option<SipCredential>,
    on_status: Callback<PhoneStatus>,
    on_call: Callback<CallUpdate>,
) -> PhoneHandle {
    let shell = use_mut_ref(|| None::<PhoneShell>);
    {
        let shell = shell.clone();
        use_effect_with(credential, move |credential| {
            if let Some(credential) = credential {
                match PhoneShell::start(credential, on_status.clone(), on_call.clone()) {
                    Ok(started) => *shell.borrow_mut() = Some(started),
                    Err(reason) => on_status.emit(PhoneStatus::Failed { reason }),
                }
            }
            move || {
                let stopped = shell.borrow_mut().take();
                if let Some(stopped) = stopped {
                    stopped.shutdown();
                }
            }
        });
    }
    PhoneHandle { shell }
}
