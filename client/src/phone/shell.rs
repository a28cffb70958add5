//! The browser shell around [`Ua`]: the WebSocket, the one timer, the clock
//! and the randomness. Everything it decides comes from the `Ua`; this file
//! only carries commands out and events in.
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
use shared::api::SipCredential;
use shared::sip::register::RegistrationConfig;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};
use web_time::Instant;
use yew::Callback;

use super::ids;
use super::ua::{Command, PhoneStatus, Ua, UaEvent};

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
    socket: Option<Socket>,
    generation: u64,
    timer: Option<Timeout>,
    on_status: Callback<PhoneStatus>,
    on_signed_out: Vec<Box<dyn FnOnce()>>,
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
                socket: None,
                generation: 0,
                timer: None,
                on_status,
                on_signed_out: Vec::new(),
            })),
        };
        shell.inner.borrow_mut().ua.start(Instant::now());
        pump(&shell.inner);
        Ok(shell)
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
    }
}

/// Carries out what the `Ua` asks for, tells the page, re-arms the timer.
/// Callbacks run after the borrow ends, so they may call back into the shell.
fn pump(rc: &Rc<RefCell<Inner>>) {
    let mut statuses = Vec::new();
    let mut finished = Vec::new();
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
