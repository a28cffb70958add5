//! The one entry point for bytes from the network.

use super::Transport;

/// Size limits applied before anything is parsed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest message accepted, headers and body together. Larger requests
    /// get 513 Message Too Large (when a response can be built), else are dropped.
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_message_bytes: 16 * 1024 }
    }
}

/// What to do with one message that arrived.
#[derive(Debug)]
pub enum Inbound {
    /// A request that passed validation. `unknown_method` is set when the
    /// method is one rsip cannot represent: the request was parsed with the
    /// method `OPTIONS` in its request line, the original token is kept here,
    /// and the caller must answer 501 (see [`super::response`]).
    Request {
        request: rsip::Request,
        unknown_method: Option<String>,
    },
    /// A response that parsed.
    Response(rsip::Response),
    /// A request we must refuse: send `response` (already serialised, e.g.
    /// `SIP/2.0 400 Bad Request - Missing Call-ID`) back on the transport it
    /// came from. `code` and `reason` are for logs and counters.
    Reject {
        response: Vec<u8>,
        code: u16,
        reason: String,
    },
    /// Nothing can be answered (no start line, a broken response, a response
    /// code above 699): drop it. `reason` is for logs at debug level.
    Drop { reason: String },
}

/// Parse and validate one message. For datagrams and WebSocket frames `bytes`
/// is the whole datagram/frame; for TCP it is one message as cut by
/// [`super::normalize::frame_stream`].
pub fn inbound(bytes: &[u8], transport: Transport, limits: Limits) -> Inbound {
    let _ = (bytes, transport, limits);
    todo!("helper: normalise, parse with rsip, validate")
}
