use std::cell::RefCell;
use std::rc::Rc;

use shared::api::SipCredential;
use yew::prelude::*;

use crate::phone::{PhoneShell, PhoneStatus};

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
        let shell = self.shell.borrow().clone();
        if let Some(shell) = shell {
            shell.retry();
        }
    }
}

/// Runs a phone registering with `credential` while it is `Some`; a new
/// credential (a new sign-in) means a new phone. `on_status` hears what the
/// registration badge should show.
#[hook]
pub fn use_phone(
    credential: Option<SipCredential>,
    on_status: Callback<PhoneStatus>,
) -> PhoneHandle {
    let shell = use_mut_ref(|| None::<PhoneShell>);
    {
        let shell = shell.clone();
        use_effect_with(credential, move |credential| {
            if let Some(credential) = credential {
                match PhoneShell::start(credential, on_status.clone()) {
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
