//! Raw SIP for the tests: build requests, point a message's top Via back at
//! the test, read responses, and talk to the gateway over UDP, TCP and
//! WebSocket (RFC 7118, subprotocol `sip`).
//!
//! These helpers are deliberately independent of `shared::sip`: the tests
//! check the gateway's bytes, not the gateway's parser against itself.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};

/// A token unique within this test process: `<pid>-<counter>-<nanos>`.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}{}-{n}-{nanos:x}", std::process::id())
}

/// A fresh RFC 3261 branch (`z9hG4bK…`).
pub fn new_branch() -> String {
    unique("z9hG4bK-e2e-")
}

/// An OPTIONS request to `target`, from a UA whose top Via names
/// `transport` and `sent_by` (with `;rport`).
#[derive(Debug, Clone)]
pub struct OptionsRequest {
    pub transport: String,
    pub sent_by: String,
    pub target: String,
    pub branch: String,
    pub call_id: String,
    pub from_tag: String,
    pub cseq: u32,
    /// Extra header lines, each without CRLF.
    pub extra_headers: Vec<String>,
}

impl OptionsRequest {
    pub fn new(transport: &str, sent_by: impl Into<String>, target: impl Into<String>) -> Self {
        OptionsRequest {
            transport: transport.to_owned(),
            sent_by: sent_by.into(),
            target: target.into(),
            branch: new_branch(),
            call_id: unique("e2e-call-"),
            from_tag: unique("tag-"),
            cseq: 1,
            extra_headers: Vec::new(),
        }
    }

    /// The header lines in order, for tests that leave some out.
    pub fn header_lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!(
                "Via: SIP/2.0/{} {};rport;branch={}",
                self.transport, self.sent_by, self.branch
            ),
            "Max-Forwards: 70".to_owned(),
            format!(
                "From: <sip:e2e-probe@{}>;tag={}",
                self.sent_by, self.from_tag
            ),
            format!("To: <sip:{}>", self.target),
            format!("Call-ID: {}", self.call_id),
            format!("CSeq: {} OPTIONS", self.cseq),
            "Accept: application/sdp".to_owned(),
        ];
        lines.extend(self.extra_headers.iter().cloned());
        lines.push("Content-Length: 0".to_owned());
        lines
    }

    pub fn request_line(&self) -> String {
        format!("OPTIONS sip:{} SIP/2.0", self.target)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        assemble(&self.request_line(), &self.header_lines())
    }

    /// The request with every header whose name is in `names` left out.
    pub fn without(&self, names: &[&str]) -> Vec<u8> {
        let lines: Vec<String> = self
            .header_lines()
            .into_iter()
            .filter(|line| {
                let name = line.split(':').next().unwrap_or("").trim();
                !names.iter().any(|n| n.eq_ignore_ascii_case(name))
            })
            .collect();
        assemble(&self.request_line(), &lines)
    }
}

fn assemble(start_line: &str, headers: &[String]) -> Vec<u8> {
    let mut text = format!("{start_line}\r\n");
    for line in headers {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// Points the message's top Via at `sent_by` (e.g. `127.0.0.1:40000`) and
/// adds `;rport`, keeping everything else byte for byte: its folding, its
/// odd spacing, its branch. A message without a Via header, or with one
/// this cannot read, is returned unchanged.
///
/// Corpus messages name hosts such as `192.0.2.2`; a UDP server answers at
/// the top Via, and no test may make the gateway send anywhere but loopback.
pub fn point_top_via_at(message: &[u8], sent_by: &str) -> Vec<u8> {
    match top_via_sent_by_span(message) {
        Some((start, end, has_rport)) => {
            let mut out = Vec::with_capacity(message.len() + sent_by.len() + 6);
            out.extend_from_slice(&message[..start]);
            out.extend_from_slice(sent_by.as_bytes());
            if !has_rport {
                out.extend_from_slice(b";rport");
            }
            out.extend_from_slice(&message[end..]);
            out
        }
        None => message.to_vec(),
    }
}

/// The `branch` parameter of the message's top Via, if it has one.
pub fn top_via_branch(message: &[u8]) -> Option<String> {
    let (_, end, _) = top_via_sent_by_span(message)?;
    let rest = &message[end..];
    let value_end = rest
        .iter()
        .position(|b| matches!(b, b',' | b'\r' | b'\n'))
        .unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..value_end])
        .split(';')
        .find_map(|p| {
            let (name, value) = p.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("branch")
                .then(|| value.trim().to_owned())
        })
}

/// Byte range of the top Via's sent-by, and whether that Via has `rport`.
fn top_via_sent_by_span(message: &[u8]) -> Option<(usize, usize, bool)> {
    let header_end = find(message, b"\r\n\r\n").unwrap_or(message.len());
    // Skip the start line.
    let mut pos = find(message, b"\r\n")? + 2;
    while pos < header_end {
        let line_end = find(&message[pos..], b"\r\n").map_or(message.len(), |i| pos + i);
        let line = &message[pos..line_end];
        if let Some(colon) = via_header_colon(line) {
            let mut i = pos + colon + 1;
            // SIP / 2.0 / transport, each part possibly surrounded by LWS.
            for k in 0..3 {
                i = skip_lws(message, i);
                let token_end = i + message[i..]
                    .iter()
                    .position(|b| !is_token_byte(*b))
                    .unwrap_or(message.len() - i);
                if token_end == i {
                    return None;
                }
                i = skip_lws(message, token_end);
                if k < 2 {
                    if message.get(i) != Some(&b'/') {
                        return None;
                    }
                    i += 1;
                }
            }
            let start = i;
            let end = start
                + message[start..]
                    .iter()
                    .position(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b';' | b','))
                    .unwrap_or(message.len() - start);
            if end == start {
                return None;
            }
            // The rest of this Via value (up to a comma or the next header).
            let mut value_end = end;
            while value_end < header_end {
                match message[value_end] {
                    b',' => break,
                    b'\r' if !matches!(message.get(value_end + 2), Some(b' ' | b'\t')) => break,
                    _ => value_end += 1,
                }
            }
            let params = String::from_utf8_lossy(&message[end..value_end]).to_ascii_lowercase();
            let has_rport = params
                .split(';')
                .any(|p| p.trim() == "rport" || p.trim().starts_with("rport="));
            return Some((start, end, has_rport));
        }
        pos = line_end + 2;
    }
    None
}

/// If `line` is a Via header line (`Via:`, `v:`, `Via  :`), the index of
/// its colon.
fn via_header_colon(line: &[u8]) -> Option<usize> {
    if line.first().is_none_or(|b| matches!(b, b' ' | b'\t')) {
        return None; // a continuation line
    }
    let colon = line.iter().position(|b| *b == b':')?;
    let name = String::from_utf8_lossy(&line[..colon]);
    let name = name.trim_end_matches([' ', '\t']);
    (name.eq_ignore_ascii_case("via") || name.eq_ignore_ascii_case("v")).then_some(colon)
}

fn skip_lws(message: &[u8], mut i: usize) -> usize {
    loop {
        match message.get(i) {
            Some(b' ' | b'\t') => i += 1,
            Some(b'\r')
                if message.get(i + 1) == Some(&b'\n')
                    && matches!(message.get(i + 2), Some(b' ' | b'\t')) =>
            {
                i += 3;
            }
            _ => return i,
        }
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A SIP response as read off the wire.
#[derive(Debug, Clone)]
pub struct SipResponse {
    pub status: u16,
    pub reason: String,
    /// The whole message, lossily decoded.
    pub text: String,
}

impl SipResponse {
    pub fn parse(bytes: &[u8]) -> Result<SipResponse> {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let start = text.lines().next().unwrap_or("");
        let mut parts = start.splitn(3, ' ');
        let (Some("SIP/2.0"), Some(code)) = (parts.next(), parts.next()) else {
            bail!("not a SIP/2.0 response: {start:?}\n{text}");
        };
        let status: u16 = code
            .parse()
            .with_context(|| format!("bad status code in {start:?}"))?;
        Ok(SipResponse {
            status,
            reason: parts.next().unwrap_or("").to_owned(),
            text,
        })
    }

    /// Values of every header called `name` (full or compact form), in
    /// order, unfolded, each header line taken whole.
    pub fn headers(&self, name: &str) -> Vec<String> {
        let wanted = canonical(name);
        let head = self.text.split("\r\n\r\n").next().unwrap_or("");
        let mut values: Vec<String> = Vec::new();
        let mut current: Option<bool> = None;
        for line in head.split("\r\n").skip(1) {
            if line.starts_with([' ', '\t']) {
                if current == Some(true)
                    && let Some(last) = values.last_mut()
                {
                    last.push(' ');
                    last.push_str(line.trim());
                }
                continue;
            }
            let Some((n, v)) = line.split_once(':') else {
                current = None;
                continue;
            };
            let matches = canonical(n.trim()) == wanted;
            current = Some(matches);
            if matches {
                values.push(v.trim().to_owned());
            }
        }
        values
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }

    /// The body (everything after the blank line).
    pub fn body(&self) -> &str {
        self.text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }
}

fn canonical(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "v" => "via",
        "f" => "from",
        "t" => "to",
        "i" => "call-id",
        "m" => "contact",
        "l" => "content-length",
        "c" => "content-type",
        "k" => "supported",
        other => other,
    }
    .to_owned()
}

/// A UDP socket on 127.0.0.1 talking to the gateway.
pub struct UdpPeer {
    socket: UdpSocket,
    gateway: SocketAddr,
}

impl UdpPeer {
    pub async fn bind(gateway: SocketAddr) -> Result<UdpPeer> {
        UdpPeer::bind_on(gateway, std::net::Ipv4Addr::LOCALHOST).await
    }

    /// A peer on another loopback address (`127.0.0.0/8` all reaches `lo`),
    /// e.g. one that is not any carrier's listed source.
    pub async fn bind_on(gateway: SocketAddr, ip: std::net::Ipv4Addr) -> Result<UdpPeer> {
        if !gateway.ip().is_loopback() || !ip.is_loopback() {
            bail!("refusing to send SIP to or from non-loopback {gateway} / {ip}");
        }
        let socket = UdpSocket::bind((ip, 0))
            .await
            .with_context(|| format!("binding a UDP socket on {ip}"))?;
        Ok(UdpPeer { socket, gateway })
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }

    pub async fn send(&self, bytes: &[u8]) -> Result<()> {
        let sent = self
            .socket
            .send_to(bytes, self.gateway)
            .await
            .with_context(|| format!("sending {} bytes to {}", bytes.len(), self.gateway))?;
        if sent != bytes.len() {
            bail!("sent {sent} of {} bytes", bytes.len());
        }
        Ok(())
    }

    /// The next datagram from the gateway, or `None` after `timeout`.
    pub async fn recv(&self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; 65_536];
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let received = tokio::time::timeout_at(deadline, self.socket.recv_from(&mut buf)).await;
            match received {
                Err(_) => return Ok(None),
                Ok(Err(e)) => return Err(e).context("receiving on UDP"),
                // Only the gateway's datagrams count.
                Ok(Ok((_, from))) if from != self.gateway => continue,
                Ok(Ok((len, _))) => return Ok(Some(buf[..len].to_vec())),
            }
        }
    }

    /// A carrier's INVITE from this peer to `number` at the gateway, with
    /// `sdp` as its offer (From +14155550123, a fresh Call-ID and branch).
    pub fn carrier_invite(&self, number: &str, sdp: &str) -> Result<Vec<u8>> {
        let local = self.local_addr()?;
        Ok(format!(
            "INVITE sip:{number}@{gw} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch={branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:+14155550123@{ip}>;tag=r1\r\n\
             To: <sip:{number}@{gw}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:carrier@{local}>\r\n\
             Content-Type: application/sdp\r\n\
             Content-Length: {len}\r\n\r\n{sdp}",
            gw = self.gateway,
            ip = local.ip(),
            branch = new_branch(),
            call_id = unique("carrier"),
            len = sdp.len(),
        )
        .into_bytes())
    }

    /// Sends `request` and returns the final response to it (provisional
    /// ones are skipped), each within 5 s.
    pub async fn final_response(&self, request: &[u8]) -> Result<SipResponse> {
        self.send(request).await?;
        loop {
            let bytes = self
                .recv(Duration::from_secs(5))
                .await?
                .context("no answer from the gateway")?;
            let response = SipResponse::parse(&bytes)?;
            if response.status >= 200 {
                return Ok(response);
            }
        }
    }

    /// Sends `request` and reads one response within `timeout`.
    pub async fn exchange(&self, request: &[u8], timeout: Duration) -> Result<Option<SipResponse>> {
        self.send(request).await?;
        match self.recv(timeout).await? {
            Some(bytes) => Ok(Some(SipResponse::parse(&bytes)?)),
            None => Ok(None),
        }
    }
}

/// A TCP connection to the gateway's SIP port.
pub struct TcpPeer {
    stream: TcpStream,
    buffer: Vec<u8>,
}

/// What a stream peer saw.
#[derive(Debug)]
pub enum StreamEvent {
    Message(Vec<u8>),
    /// The gateway closed the connection (for WebSocket: with this frame).
    Closed(Option<String>),
    Timeout,
}

impl TcpPeer {
    pub async fn connect(gateway: SocketAddr) -> Result<TcpPeer> {
        if !gateway.ip().is_loopback() {
            bail!("refusing to connect to non-loopback {gateway}");
        }
        let stream = TcpStream::connect(gateway)
            .await
            .with_context(|| format!("connecting to SIP over TCP at {gateway}"))?;
        Ok(TcpPeer {
            stream,
            buffer: Vec::new(),
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.stream.local_addr()?)
    }

    pub async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        // A gateway that closes early may make a large write fail.
        self.stream
            .write_all(bytes)
            .await
            .context("writing to SIP over TCP")
    }

    /// The next message (framed by Content-Length), a close, or a timeout.
    pub async fn recv(&mut self, timeout: Duration) -> Result<StreamEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(len) = complete_message_len(&self.buffer)? {
                let message: Vec<u8> = self.buffer.drain(..len).collect();
                return Ok(StreamEvent::Message(message));
            }
            let mut chunk = [0u8; 16 * 1024];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return Ok(StreamEvent::Timeout),
                Ok(Ok(0)) => return Ok(StreamEvent::Closed(None)),
                Ok(Ok(n)) => self.buffer.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => return Ok(StreamEvent::Closed(Some(e.to_string()))),
            }
        }
    }
}

/// Length of the first whole message in `buffer`, if there is one.
fn complete_message_len(buffer: &[u8]) -> Result<Option<usize>> {
    // Keep-alive CRLFs between messages.
    let start = buffer
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(buffer.len());
    let Some(head_len) = find(&buffer[start..], b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buffer[start..start + head_len]);
    let mut content_length = 0usize;
    for line in head.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':')
            && canonical(name.trim()) == "content-length"
        {
            content_length = value
                .trim()
                .parse()
                .with_context(|| format!("bad Content-Length from the gateway: {line:?}"))?;
        }
    }
    let total = start + head_len + 4 + content_length;
    Ok((buffer.len() >= total).then_some(total))
}

/// A SIP WebSocket connection to the gateway.
pub struct WsPeer {
    stream: WebSocketStream<TcpStream>,
    local: SocketAddr,
}

/// The answer to a WebSocket upgrade.
pub enum Upgrade {
    Accepted {
        peer: Box<WsPeer>,
        /// The subprotocol the gateway chose.
        protocol: Option<String>,
    },
    /// Refused with this HTTP status.
    Refused { status: u16, body: String },
}

/// Opens `url` (`ws://127.0.0.1:PORT/ws`) offering `protocols`.
pub async fn ws_upgrade(url: &str, protocols: &[&str]) -> Result<Upgrade> {
    let mut request = url
        .into_client_request()
        .with_context(|| format!("bad WebSocket URL {url}"))?;
    let host = request
        .uri()
        .authority()
        .ok_or_else(|| anyhow!("no host in {url}"))?
        .as_str()
        .to_owned();
    let addr: SocketAddr = host
        .parse()
        .with_context(|| format!("{host} is not an IP address and port"))?;
    if !addr.ip().is_loopback() {
        bail!("refusing to connect to non-loopback {addr}");
    }
    if !protocols.is_empty() {
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(&protocols.join(", "))?,
        );
    }
    let tcp = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let local = tcp.local_addr()?;
    let handshake = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::client_async(request, tcp),
    )
    .await
    .map_err(|_| anyhow!("no WebSocket handshake answer from {url} within 10 s"))?;
    match handshake {
        Ok((stream, response)) => {
            let protocol = response
                .headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Ok(Upgrade::Accepted {
                peer: Box::new(WsPeer { stream, local }),
                protocol,
            })
        }
        Err(tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Ok(Upgrade::Refused {
                status: response.status().as_u16(),
                body,
            })
        }
        Err(e) => Err(e).with_context(|| format!("WebSocket handshake with {url}")),
    }
}

impl WsPeer {
    /// Opens a SIP WebSocket (subprotocol `sip`), failing if refused.
    pub async fn connect(url: &str) -> Result<WsPeer> {
        match ws_upgrade(url, &["sip"]).await? {
            Upgrade::Accepted { peer, .. } => Ok(*peer),
            Upgrade::Refused { status, body } => {
                bail!("WebSocket upgrade with subprotocol sip refused: {status} {body}")
            }
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends one message in one frame: text when it is UTF-8, else binary.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let message = match std::str::from_utf8(bytes) {
            Ok(text) => Message::text(text),
            Err(_) => Message::binary(bytes.to_vec()),
        };
        self.stream
            .send(message)
            .await
            .context("sending a WebSocket frame")
    }

    /// The next SIP message, a close, or a timeout. Pings are answered by
    /// tungstenite and skipped.
    pub async fn recv(&mut self, timeout: Duration) -> Result<StreamEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Ok(StreamEvent::Timeout),
                Ok(next) => next,
            };
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Ok(StreamEvent::Message(text.as_bytes().to_vec()));
                }
                Some(Ok(Message::Binary(bytes))) => {
                    return Ok(StreamEvent::Message(bytes.to_vec()));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Close(frame))) => {
                    return Ok(StreamEvent::Closed(frame.map(describe_close)));
                }
                Some(Err(e)) => return Ok(StreamEvent::Closed(Some(e.to_string()))),
                None => return Ok(StreamEvent::Closed(None)),
            }
        }
    }

    /// The next SIP message or a close, however long it takes (no timer:
    /// for loops that wait on other things too).
    pub async fn next_event(&mut self) -> StreamEvent {
        loop {
            match self.stream.next().await {
                Some(Ok(Message::Text(text))) => {
                    return StreamEvent::Message(text.as_bytes().to_vec());
                }
                Some(Ok(Message::Binary(bytes))) => return StreamEvent::Message(bytes.to_vec()),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Close(frame))) => {
                    return StreamEvent::Closed(frame.map(describe_close));
                }
                Some(Err(e)) => return StreamEvent::Closed(Some(e.to_string())),
                None => return StreamEvent::Closed(None),
            }
        }
    }

    /// Sends `request` and reads one SIP response within `timeout`.
    pub async fn exchange(&mut self, request: &[u8], timeout: Duration) -> Result<SipResponse> {
        self.send(request).await?;
        match self.recv(timeout).await? {
            StreamEvent::Message(bytes) => SipResponse::parse(&bytes),
            StreamEvent::Closed(why) => bail!("the gateway closed the WebSocket: {why:?}"),
            StreamEvent::Timeout => bail!("no answer over WebSocket within {timeout:?}"),
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

fn describe_close(frame: CloseFrame) -> String {
    format!("{} {}", u16::from(frame.code), frame.reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_via_is_pointed_back_keeping_the_rest() {
        let msg = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx\r\nVia: SIP/2.0/UDP 192.0.2.9\r\n\r\n";
        let out = point_top_via_at(msg, "127.0.0.1:4000");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:4000;rport;branch=z9hG4bKx\r\nVia: SIP/2.0/UDP 192.0.2.9\r\n\r\n"
        );
    }

    #[test]
    fn folded_compact_and_spaced_vias() {
        // RFC 4475 wsinv: `Via  : SIP  /   2.0` folded over three lines.
        let msg = b"INVITE sip:a@b SIP/2.0\r\nTO : x\r\nVia  : SIP  /   2.0\r\n  /UDP\r\n    192.0.2.2;branch=390skdjuw\r\nv:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n\r\n";
        let out = String::from_utf8_lossy(&point_top_via_at(msg, "127.0.0.1:9")).into_owned();
        assert!(
            out.contains(
                "Via  : SIP  /   2.0\r\n  /UDP\r\n    127.0.0.1:9;rport;branch=390skdjuw\r\n"
            ),
            "{out}"
        );
        assert!(out.contains("spindle.example.com"), "{out}");

        let compact = b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/TCP h.example.com\r\n\r\n";
        let out = String::from_utf8_lossy(&point_top_via_at(compact, "127.0.0.1:9")).into_owned();
        assert!(
            out.contains("v: SIP/2.0/TCP 127.0.0.1:9;rport\r\n"),
            "{out}"
        );
    }

    #[test]
    fn existing_rport_is_not_doubled_and_no_via_is_left_alone() {
        let msg = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n\r\n";
        let out = String::from_utf8_lossy(&point_top_via_at(msg, "127.0.0.1:9")).into_owned();
        assert!(
            out.contains("Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-1;rport\r\n"),
            "{out}"
        );
        assert_eq!(top_via_branch(out.as_bytes()).as_deref(), Some("z9hG4bK-1"));
        let none = b"OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n\r\n";
        assert_eq!(top_via_branch(none), None);
        assert_eq!(point_top_via_at(none, "127.0.0.1:9"), none.to_vec());
    }

    #[test]
    fn response_headers_by_full_and_compact_name() {
        let r = SipResponse::parse(
            b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 127.0.0.1:1;received=127.0.0.1\r\nCall-ID: x\r\n\r\n",
        )
        .expect("a response");
        assert_eq!(r.status, 200);
        assert_eq!(r.reason, "OK");
        assert_eq!(
            r.header("Via").as_deref(),
            Some("SIP/2.0/UDP 127.0.0.1:1;received=127.0.0.1")
        );
        assert_eq!(r.header("i").as_deref(), Some("x"));
    }

    #[test]
    fn stream_framing() {
        let two = b"SIP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nabSIP/2.0 100 Trying\r\n";
        assert_eq!(complete_message_len(two).expect("framing"), Some(39));
        assert_eq!(complete_message_len(&two[..30]).expect("framing"), None);
    }
}
