//! The phone: a SIP user agent registering over a WebSocket and placing
//! calls with WebRTC audio.
//!
//! - [`ua`]: the user agent as a sans-IO state machine (link, reconnect,
//!   registration, sign-out, the current call) around
//!   `shared::sip::register` and `shared::sip::call`; tested natively.
//! - [`backoff`], [`ids`]: reconnect delays; instance ids and random labels.
//! - [`shell`]: the browser side (WebSocket, timer, clock, randomness) and
//!   the glue from call events to media. The only file here that touches
//!   the network.
//! - [`media`] (microphone, `RTCPeerConnection`, remote audio, DTMF),
//!   [`ringback`] (WebAudio tone), [`devices`] (device lists, speaker choice,
//!   microphone permission): thin web-sys layers that decide nothing.

pub mod backoff;
pub mod devices;
pub mod ids;
pub mod media;
pub mod ringback;
pub mod shell;
pub mod ua;

pub use shell::PhoneShell;
pub use ua::PhoneStatus;

/// The gateway's SIP WebSocket for a page at `protocol` (`http:`/`https:`)
/// and `host` (with port): `ws://host/ws` or `wss://host/ws`.
pub fn websocket_url(protocol: &str, host: &str) -> String {
    let scheme = if protocol.eq_ignore_ascii_case("https:") {
        "wss"
    } else {
        "ws"
    };
    format!("{scheme}://{host}/ws")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_follows_the_page_scheme() {
        assert_eq!(
            websocket_url("http:", "127.0.0.1:8080"),
            "ws://127.0.0.1:8080/ws"
        );
        assert_eq!(
            websocket_url("https:", "dialer.example.com"),
            "wss://dialer.example.com/ws"
        );
    }
}
