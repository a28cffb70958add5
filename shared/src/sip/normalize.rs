//! The normalising front end that runs before rsip.
//!
//! rsip 0.4 parses only a narrow, canonical subset of what RFC 3261 allows:
//! it fails on folded header lines and on `Via  :`, does not know compact
//! header names (`v:`, `i:`, `l:`), keeps only the first of several Via values
//! on one line, and takes "everything after the blank line" as the body,
//! ignoring Content-Length. Real peers send all of these, and so do the RFC
//! 4475 torture tests. Rather than fork rsip, every message is first split
//! here into a [`RawMessage`] — start line, one line per header value under its
//! canonical name, body cut at Content-Length — whose [`RawMessage::to_bytes`]
//! is the canonical form rsip does parse.
//!
//! The same [`RawMessage`] is what a 400 is built from when rsip still refuses
//! the message (see [`super::response::stateless_response`]): a broken message
//! must still be answered with its Via, From, To, Call-ID and CSeq, so this
//! layer keeps whatever headers it could read even when it reports an error.
//!
//! [`frame_stream`] cuts messages out of a TCP/TLS byte stream by the same
//! rules (RFC 3261 §18.3: on a stream, Content-Length is mandatory), and
//! recognises RFC 5626 CRLF keep-alives.
//!
//! Architecture invariant: nothing here panics on any input, and nothing
//! assumes the bytes are UTF-8 — headers must be (non-UTF-8 headers are a
//! 400), bodies may be binary.

use super::Transport;

/// One message split into its parts, with header names canonical and values
/// unfolded, trimmed and split one value per line where the grammar allows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawMessage {
    /// Request line or status line, whitespace between request-line elements
    /// collapsed to one space.
    pub start_line: String,
    /// `(canonical name, value)` in arrival order, e.g. `("Call-ID", "a@b")`.
    pub headers: Vec<(String, String)>,
    /// Exactly Content-Length bytes (or the rest of a datagram without one).
    pub body: Vec<u8>,
}

/// Why [`split`] refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// Nothing that could be a SIP start line: there is nobody to answer.
    #[error("{reason}")]
    NoStartLine { reason: String },
    /// The start line was read but the message is broken. `partial` holds
    /// the start line and every header that could be read (its body is
    /// empty), enough to build a stateless 400 when it is a request.
    #[error("{reason}")]
    Malformed { reason: String, partial: RawMessage },
}

impl NormalizeError {
    /// A short phrase for a reason phrase or a log, e.g. `Content-Length
    /// larger than message`.
    pub fn reason(&self) -> &str {
        match self {
            NormalizeError::NoStartLine { reason } | NormalizeError::Malformed { reason, .. } => {
                reason
            }
        }
    }

    /// The start line and headers read before the error, if a start line was.
    pub fn partial(&self) -> Option<&RawMessage> {
        match self {
            NormalizeError::NoStartLine { .. } => None,
            NormalizeError::Malformed { partial, .. } => Some(partial),
        }
    }
}

/// What [`frame_stream`] found at the start of a stream buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Not a whole message yet: read more.
    Incomplete,
    /// The first `len` bytes are one message (pass them to
    /// [`super::inbound`]).
    Complete { len: usize },
    /// The first `len` bytes are CR/LF keep-alives (RFC 5626 §3.5.1
    /// `CRLFCRLF` ping or `CRLF` pong): discard them.
    KeepAlive { len: usize },
    /// The stream cannot be framed (no usable Content-Length, or larger than
    /// [`MAX_FRAME_BYTES`]); it cannot be re-synchronised, so answer what can
    /// be answered and close.
    Invalid(String),
}

/// Largest message [`frame_stream`] will wait for. Larger ones are
/// [`Frame::Invalid`] so that a peer cannot make us buffer without bound.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

impl RawMessage {
    /// Whether the start line is a request line (else a status line).
    pub fn is_request(&self) -> bool {
        !self.start_line.starts_with("SIP/")
    }

    /// The first value of header `name` (case-insensitive, canonical long
    /// form, e.g. `"Call-ID"`; a compact form is accepted too).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers_named(name).next()
    }

    /// Every value of header `name`, in order (one per value for the headers
    /// that [`split`] splits at commas: Via, Contact, Route, Record-Route, …).
    pub fn headers_named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + use<'a> {
        let name = canonical_name(name);
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_str())
    }

    /// The canonical wire form: CRLF line ends, `Name: value` lines, and a
    /// single Content-Length that matches the body, written last.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.start_line.len()
                + self
                    .headers
                    .iter()
                    .map(|(n, v)| n.len() + v.len() + 4)
                    .sum::<usize>()
                + self.body.len()
                + 32,
        );
        out.extend_from_slice(self.start_line.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("Content-Length") {
                continue;
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

/// Splits one message (a datagram, a WebSocket frame, or one message cut by
/// [`frame_stream`]) into a [`RawMessage`].
///
/// Tolerated and normalised: CRLFs before the start line, LF-only line ends,
/// runs of spaces between request-line elements, folded header lines,
/// whitespace before the colon, compact names, several Via/Contact/Route/
/// Record-Route values on one line, whitespace around `;` `=` `/` in
/// structured headers, bytes after Content-Length (dropped, RFC 3261 §18.3).
///
/// Refused: a start line that is not UTF-8 or not three elements, header
/// lines that are not UTF-8 or have no colon, a duplicate or non-numeric
/// Content-Length, a Content-Length larger than the bytes present, and a
/// missing Content-Length on TCP/TLS.
pub fn split(bytes: &[u8], transport: Transport) -> Result<RawMessage, NormalizeError> {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    let mut lines = Lines { bytes, pos: start };
    let Some(first) = lines.next_line() else {
        return Err(NormalizeError::NoStartLine {
            reason: "empty message".into(),
        });
    };
    let start_line = std::str::from_utf8(first).map_err(|_| NormalizeError::NoStartLine {
        reason: "start line is not UTF-8".into(),
    })?;
    let mut msg = RawMessage::default();
    let mut error: Option<String> = None;
    match canonical_start_line(start_line) {
        Ok(line) => msg.start_line = line,
        Err(reason) => {
            msg.start_line = start_line.trim().to_owned();
            error = Some(reason.into());
        }
    }

    // Logical header lines (after unfolding), before name processing.
    let mut logical: Vec<(String, String)> = Vec::new();
    let mut header_section_ended = false;
    while let Some(line) = lines.next_line() {
        if line.is_empty() {
            header_section_ended = true;
            break;
        }
        let Ok(line) = std::str::from_utf8(line) else {
            error.get_or_insert_with(|| "header line is not UTF-8".into());
            continue;
        };
        if line.contains('\r') {
            error.get_or_insert_with(|| "bare CR in header line".into());
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let more = line.trim_matches([' ', '\t']);
            match logical.last_mut() {
                Some((_, value)) => {
                    if !more.is_empty() {
                        if !value.is_empty() {
                            value.push(' ');
                        }
                        value.push_str(more);
                    }
                }
                // Whitespace-only lines carry nothing; anything else before
                // the first header is a folded start line, which is illegal.
                None if more.is_empty() => {}
                None => {
                    error.get_or_insert_with(|| "continuation line before first header".into());
                }
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            error.get_or_insert_with(|| format!("header line without colon: {}", excerpt(line)));
            continue;
        };
        let name = name.trim_end_matches([' ', '\t']);
        if name.is_empty() || !name.chars().all(is_token_char) {
            error.get_or_insert_with(|| format!("invalid header name {}", excerpt(name)));
            continue;
        }
        logical.push((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()));
    }
    let body_start = lines.pos;

    for (name, value) in logical {
        let name = canonical_name(&name);
        let kind = kind_of(&name);
        if kind.splits_at_commas() {
            let mut any = false;
            for part in split_top_level_commas(&value) {
                let part = part.trim_matches([' ', '\t']);
                if !part.is_empty() {
                    msg.headers.push((name.clone(), kind.tidy(part)));
                    any = true;
                }
            }
            if !any {
                msg.headers.push((name, String::new()));
            }
        } else {
            let value = kind.tidy(&value);
            msg.headers.push((name, value));
        }
    }

    let malformed = |reason: String, msg: RawMessage| NormalizeError::Malformed {
        reason,
        partial: msg,
    };
    if let Some(reason) = error {
        return Err(malformed(reason, msg));
    }
    if !header_section_ended && matches!(transport, Transport::Tcp | Transport::Tls) {
        return Err(malformed("header section not terminated".into(), msg));
    }

    let available = bytes.len().saturating_sub(body_start);
    let declared = match content_length(&msg) {
        Ok(declared) => declared,
        Err(reason) => return Err(malformed(reason.into(), msg)),
    };
    let body_len = match declared {
        Some(n) if n > available => {
            return Err(malformed("Content-Length larger than message".into(), msg));
        }
        Some(n) => n,
        None if matches!(transport, Transport::Tcp | Transport::Tls) => {
            return Err(malformed(
                "missing Content-Length (required on TCP/TLS)".into(),
                msg,
            ));
        }
        None => available,
    };
    msg.body = bytes
        .get(body_start..body_start + body_len)
        .unwrap_or_default()
        .to_vec();
    Ok(msg)
}

/// Finds the first message in a TCP/TLS receive buffer. See [`Frame`].
pub fn frame_stream(buf: &[u8]) -> Frame {
    let crlf_run = buf
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(buf.len());
    if crlf_run > 0 {
        // A lone "\r\n" may be a pong or the first half of a ping; wait for
        // the rest only while the buffer is still a prefix of a ping.
        if crlf_run == buf.len() && crlf_run < 4 && b"\r\n\r\n".starts_with(buf) {
            return Frame::Incomplete;
        }
        return Frame::KeepAlive { len: crlf_run };
    }

    let mut lines = Lines { bytes: buf, pos: 0 };
    // Content-Length values, unfolded like split() does.
    let mut content_lengths: Vec<Vec<u8>> = Vec::new();
    let mut last_was_content_length = false;
    let mut first = true;
    let header_end = loop {
        let Some(line) = lines.next_line() else {
            break None;
        };
        // A line is only known to be whole once its LF has arrived.
        if lines.pos == 0 || buf.get(lines.pos - 1) != Some(&b'\n') {
            break None;
        }
        if line.is_empty() {
            break Some(lines.pos);
        }
        if first {
            first = false;
            continue;
        }
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            if last_was_content_length && let Some(value) = content_lengths.last_mut() {
                if !value.is_empty() {
                    value.push(b' ');
                }
                value.extend_from_slice(trim_bytes(line));
            }
            continue;
        }
        last_was_content_length = false;
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = trim_bytes(&line[..colon]);
            if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
                content_lengths.push(trim_bytes(&line[colon + 1..]).to_vec());
                last_was_content_length = true;
            }
        }
    };
    let Some(header_end) = header_end else {
        return if buf.len() > MAX_FRAME_BYTES {
            Frame::Invalid(format!(
                "header section larger than {MAX_FRAME_BYTES} bytes"
            ))
        } else {
            Frame::Incomplete
        };
    };
    let body_len = match content_lengths.as_slice() {
        [] => return Frame::Invalid("missing Content-Length".into()),
        [one] => match parse_length(one) {
            Some(n) => n,
            None => return Frame::Invalid("bad Content-Length".into()),
        },
        _ => return Frame::Invalid("multiple Content-Length headers".into()),
    };
    match header_end.checked_add(body_len) {
        Some(total) if total <= MAX_FRAME_BYTES => {
            if buf.len() >= total {
                Frame::Complete { len: total }
            } else {
                Frame::Incomplete
            }
        }
        _ => Frame::Invalid(format!("message larger than {MAX_FRAME_BYTES} bytes")),
    }
}

/// Line iterator over bytes: yields each line without its LF or CRLF.
/// After the last line, `pos` is where the next byte (the body) starts.
struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Lines<'a> {
    fn next_line(&mut self) -> Option<&'a [u8]> {
        let rest = self.bytes.get(self.pos..).filter(|r| !r.is_empty())?;
        let (line, advance) = match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => (&rest[..lf], lf + 1),
            None => (rest, rest.len()),
        };
        self.pos += advance;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

fn trim_bytes(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t'))
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or_default()
}

/// Content-Length is `1*DIGIT`; anything else (a sign, a fraction, a value
/// that does not fit) is refused rather than guessed at.
fn parse_length(value: &[u8]) -> Option<usize> {
    if value.is_empty() || value.len() > 12 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

fn content_length(msg: &RawMessage) -> Result<Option<usize>, &'static str> {
    let mut values = msg.headers_named("Content-Length");
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("multiple Content-Length headers");
    }
    parse_length(first.as_bytes())
        .map(Some)
        .ok_or("bad Content-Length")
}

/// Request lines get their elements re-joined with single spaces (RFC 4475
/// §3.1.2.9 lets us tolerate extra whitespace as long as none is forwarded);
/// status lines are `version SP code SP reason` with the reason kept as sent.
fn canonical_start_line(line: &str) -> Result<String, &'static str> {
    let line = line.trim_matches([' ', '\t']);
    if line.starts_with("SIP/") {
        let (version, rest) = line
            .split_once([' ', '\t'])
            .ok_or("status line without status code")?;
        let rest = rest.trim_start_matches([' ', '\t']);
        let (code, reason) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
        return Ok(format!("{version} {code} {reason}"));
    }
    let mut parts = line.split([' ', '\t']).filter(|p| !p.is_empty());
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(uri), Some(version), None) => Ok(format!("{method} {uri} {version}")),
        _ => Err("malformed request line"),
    }
}

/// A short, printable excerpt of untrusted text for a reason phrase.
fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(32).collect();
    if s.chars().count() > 32 {
        out.push('…');
    }
    out
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// Long names for compact forms (RFC 3261 §7.3.3 and the extensions that
/// define one), and the usual spelling of well-known names. Lower-case key.
const NAMES: &[(&str, &str)] = &[
    ("a", "Accept-Contact"),
    ("b", "Referred-By"),
    ("c", "Content-Type"),
    ("d", "Request-Disposition"),
    ("e", "Content-Encoding"),
    ("f", "From"),
    ("i", "Call-ID"),
    ("j", "Reject-Contact"),
    ("k", "Supported"),
    ("l", "Content-Length"),
    ("m", "Contact"),
    ("o", "Event"),
    ("r", "Refer-To"),
    ("s", "Subject"),
    ("t", "To"),
    ("u", "Allow-Events"),
    ("v", "Via"),
    ("x", "Session-Expires"),
    ("y", "Identity"),
    ("accept", "Accept"),
    ("accept-contact", "Accept-Contact"),
    ("accept-encoding", "Accept-Encoding"),
    ("accept-language", "Accept-Language"),
    ("alert-info", "Alert-Info"),
    ("allow", "Allow"),
    ("allow-events", "Allow-Events"),
    ("authentication-info", "Authentication-Info"),
    ("authorization", "Authorization"),
    ("call-id", "Call-ID"),
    ("call-info", "Call-Info"),
    ("contact", "Contact"),
    ("content-disposition", "Content-Disposition"),
    ("content-encoding", "Content-Encoding"),
    ("content-language", "Content-Language"),
    ("content-length", "Content-Length"),
    ("content-type", "Content-Type"),
    ("cseq", "CSeq"),
    ("date", "Date"),
    ("error-info", "Error-Info"),
    ("event", "Event"),
    ("expires", "Expires"),
    ("from", "From"),
    ("identity", "Identity"),
    ("in-reply-to", "In-Reply-To"),
    ("max-forwards", "Max-Forwards"),
    ("mime-version", "MIME-Version"),
    ("min-expires", "Min-Expires"),
    ("min-se", "Min-SE"),
    ("organization", "Organization"),
    ("p-asserted-identity", "P-Asserted-Identity"),
    ("p-preferred-identity", "P-Preferred-Identity"),
    ("path", "Path"),
    ("priority", "Priority"),
    ("privacy", "Privacy"),
    ("proxy-authenticate", "Proxy-Authenticate"),
    ("proxy-authorization", "Proxy-Authorization"),
    ("proxy-require", "Proxy-Require"),
    ("rack", "RAck"),
    ("reason", "Reason"),
    ("record-route", "Record-Route"),
    ("refer-to", "Refer-To"),
    ("referred-by", "Referred-By"),
    ("reject-contact", "Reject-Contact"),
    ("replaces", "Replaces"),
    ("reply-to", "Reply-To"),
    ("request-disposition", "Request-Disposition"),
    ("require", "Require"),
    ("retry-after", "Retry-After"),
    ("route", "Route"),
    ("rseq", "RSeq"),
    ("server", "Server"),
    ("service-route", "Service-Route"),
    ("session-expires", "Session-Expires"),
    ("sip-etag", "SIP-ETag"),
    ("sip-if-match", "SIP-If-Match"),
    ("subject", "Subject"),
    ("subscription-state", "Subscription-State"),
    ("supported", "Supported"),
    ("timestamp", "Timestamp"),
    ("to", "To"),
    ("unsupported", "Unsupported"),
    ("user-agent", "User-Agent"),
    ("via", "Via"),
    ("warning", "Warning"),
    ("www-authenticate", "WWW-Authenticate"),
];

/// The canonical spelling of a header name: compact forms expanded,
/// well-known names in their usual case, others unchanged.
pub fn canonical_name(name: &str) -> String {
    NAMES
        .iter()
        .find(|(key, _)| key.len() == name.len() && key.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_owned(), |(_, canonical)| (*canonical).to_owned())
}

/// How a header's value is tidied.
#[derive(Clone, Copy)]
enum Kind {
    /// `Via`: a list; LWS around `/ ; = :` removed (`SIP / 2.0 / UDP`).
    Via,
    /// name-addr lists (Contact, Route, Record-Route, Path, Service-Route).
    AddrList,
    /// Single name-addr headers (From, To, Reply-To …): LWS around `;` `=`.
    Addr,
    /// Runs of LWS collapsed (CSeq, Max-Forwards, Content-Length).
    Collapse,
    /// Kept as sent (apart from unfolding and trimming).
    Opaque,
}

fn kind_of(canonical: &str) -> Kind {
    match canonical {
        "Via" => Kind::Via,
        "Contact" | "Route" | "Record-Route" | "Path" | "Service-Route" => Kind::AddrList,
        "From" | "To" | "Reply-To" | "Refer-To" | "Referred-By" | "P-Asserted-Identity" => {
            Kind::Addr
        }
        "CSeq" | "Max-Forwards" | "Content-Length" | "Expires" | "Min-Expires" => Kind::Collapse,
        _ => Kind::Opaque,
    }
}

impl Kind {
    fn splits_at_commas(self) -> bool {
        matches!(self, Kind::Via | Kind::AddrList)
    }

    fn tidy(self, value: &str) -> String {
        match self {
            Kind::Via => tidy_lws(value, &[';', '=', '/', ':']),
            Kind::AddrList | Kind::Addr => tidy_lws(value, &[';', '=']),
            Kind::Collapse => tidy_lws(value, &[]),
            Kind::Opaque => value.to_owned(),
        }
    }
}

/// Outside quoted strings and `<…>`: runs of whitespace become one space,
/// and whitespace next to any of `tight` disappears (the grammar's `SEMI`,
/// `EQUAL`, `SLASH`, `COLON` all allow it). Inside quotes and angle brackets
/// nothing changes, so a URI with whitespace stays invalid for the validator.
fn tidy_lws(value: &str, tight: &[char]) -> String {
    // Most values have nothing to tidy; `[u8]::contains` is a memchr.
    if !value.as_bytes().contains(&b' ') && !value.as_bytes().contains(&b'\t') {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut pending_space = false;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut in_angle = false;
    for c in value.chars() {
        if in_quotes {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
            continue;
        }
        if in_angle {
            out.push(c);
            if c == '>' {
                in_angle = false;
            }
            continue;
        }
        if c == ' ' || c == '\t' {
            pending_space = true;
            continue;
        }
        if pending_space
            && !out.is_empty()
            && !tight.contains(&c)
            && !out.ends_with(|p: char| tight.contains(&p))
        {
            out.push(' ');
        }
        pending_space = false;
        match c {
            '"' => in_quotes = true,
            '<' => in_angle = true,
            _ => {}
        }
        out.push(c);
    }
    out
}

/// Splits a list header at commas that are outside quoted strings and `<…>`.
fn split_top_level_commas(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut in_angle = false;
    for (i, c) in value.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
            continue;
        }
        match c {
            '"' if !in_angle => in_quotes = true,
            '<' => in_angle = true,
            '>' => in_angle = false,
            ',' if !in_angle => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_removes_lws_around_separators_only_outside_quotes_and_angles() {
        assert_eq!(
            tidy_lws(
                "SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9",
                &[';', '=', '/', ':']
            ),
            "SIP/2.0/TCP spindle.example.com;branch=z9"
        );
        assert_eq!(
            tidy_lws("\"a ; b\"   < sip:x ; y >  ; q = 0.3", &[';', '=']),
            "\"a ; b\" < sip:x ; y >;q=0.3"
        );
    }

    #[test]
    fn commas_inside_quotes_and_angles_do_not_split() {
        assert_eq!(
            split_top_level_commas("\"a, \\\"b\" <sip:x?h=1,2>;p=\"c,d\", <sip:y>"),
            vec!["\"a, \\\"b\" <sip:x?h=1,2>;p=\"c,d\"", " <sip:y>"]
        );
    }

    #[test]
    fn canonical_names() {
        assert_eq!(canonical_name("i"), "Call-ID");
        assert_eq!(canonical_name("CALL-id"), "Call-ID");
        assert_eq!(canonical_name("X-Custom"), "X-Custom");
    }
}
