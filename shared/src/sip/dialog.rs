//! Requests inside a dialog (RFC 3261 §12.2.1.1), built from the dialog's
//! state as typed rsip messages.
//!
//! Nothing here formats a request as text to parse it back: every field is
//! already a value (the remote target a parsed [`rsip::Uri`], header values
//! strings that came from parsed messages or from our own state), so
//! building a request cannot fail, and a BYE can never be lost to a parse
//! error on the way out. The gateway's B2BUA builds every request it sends
//! on either leg of a call from a [`Dialog`]; the phone's own dialogs live in
//! [`super::call`] and [`super::incoming`].

use rsip::headers::{
    CSeq, CallId, ContentLength, ContentType, From, MaxForwards, Route, To, UntypedHeader, Via,
};

/// How our Via header names us: `SIP/2.0/<proto> <sent_by>;branch=…`, with
/// `;rport` (RFC 3581) where the peer may be behind a NAT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViaSpec {
    /// `UDP`, `TCP`, `TLS`, `WS` or `WSS`.
    pub proto: &'static str,
    /// `host[:port]`.
    pub sent_by: String,
    pub rport: bool,
}

impl ViaSpec {
    /// The Via header with branch `z9hG4bK<branch>` (the RFC 3261 magic
    /// cookie is always ours to add).
    pub fn header(&self, branch: &str) -> rsip::Header {
        let rport = if self.rport { ";rport" } else { "" };
        Via::new(format!(
            "SIP/2.0/{} {};branch=z9hG4bK{branch}{rport}",
            self.proto, self.sent_by
        ))
        .into()
    }
}

/// One side of a dialog: what a request inside it is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub call_id: String,
    /// Our From value: a name-addr with our tag.
    pub local: String,
    /// Our To value: the peer's name-addr, with its tag once known.
    pub remote: String,
    /// The Request-URI of requests inside the dialog: the peer's Contact,
    /// or the initial Request-URI until it sent one.
    pub target: rsip::Uri,
    /// Route header values, in the order they are sent.
    pub route_set: Vec<String>,
    /// The CSeq number of our last request.
    pub cseq: u32,
}

impl Dialog {
    /// A new request with the next CSeq number (BYE, re-INVITE, INFO…).
    pub fn next_request(
        &mut self,
        method: rsip::Method,
        via: &ViaSpec,
        branch: &str,
    ) -> rsip::Request {
        self.cseq += 1;
        self.request(method, self.cseq, via, branch)
    }

    /// A request with CSeq number `cseq` (an ACK carries its INVITE's).
    /// Headers: Via, Max-Forwards, Route…, From, To, Call-ID, CSeq; more
    /// may be pushed before [`finish`] adds the body and Content-Length.
    pub fn request(
        &self,
        method: rsip::Method,
        cseq: u32,
        via: &ViaSpec,
        branch: &str,
    ) -> rsip::Request {
        let mut headers = rsip::Headers::default();
        headers.push(via.header(branch));
        headers.push(MaxForwards::new("70").into());
        for route in &self.route_set {
            headers.push(Route::new(route.clone()).into());
        }
        headers.push(From::new(self.local.clone()).into());
        headers.push(To::new(self.remote.clone()).into());
        headers.push(CallId::new(self.call_id.clone()).into());
        headers.push(CSeq::new(format!("{cseq} {method}")).into());
        rsip::Request {
            method,
            uri: self.target.clone(),
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        }
    }

    /// Takes what a dialog-establishing response to our request says about
    /// the peer (RFC 3261 §12.1.2): its To (with its tag), its Contact as
    /// the remote target (kept as it was when the Contact is not a URI we
    /// can read) and the Record-Route set, reversed.
    pub fn learn_from_response(&mut self, response: &rsip::Response) {
        if let Some(to) = header_value(&response.headers, "To") {
            self.remote = to;
        }
        if let Some(target) =
            header_value(&response.headers, "Contact").and_then(|c| contact_uri(&c))
        {
            self.target = target;
        }
        let mut routes = record_routes(&response.headers);
        routes.reverse();
        self.route_set = routes;
    }
}

/// Adds a header as it is (`name: value`).
pub fn push_header(request: &mut rsip::Request, name: &str, value: impl Into<String>) {
    request
        .headers
        .push(rsip::Header::Other(name.to_owned(), value.into()));
}

/// Ends a request: the body with its Content-Type (none: `Content-Length: 0`).
pub fn finish(request: &mut rsip::Request, body: Option<(&str, &str)>) {
    match body {
        Some((content_type, body)) => {
            request
                .headers
                .push(ContentType::new(content_type.to_owned()).into());
            request
                .headers
                .push(ContentLength::new(body.len().to_string()).into());
            request.body = body.as_bytes().to_vec();
        }
        None => request.headers.push(ContentLength::new("0").into()),
    }
}

/// A `sip:user@host[:port]` URI, built from its parts (infallible: rsip
/// prints a host given as a domain exactly as written, which is how IPv6
/// aliases and literals stay intact).
pub fn sip_uri(user: Option<&str>, host: &str, port: Option<u16>) -> rsip::Uri {
    rsip::Uri {
        scheme: Some(rsip::Scheme::Sip),
        auth: user.map(|u| rsip::Auth {
            user: u.to_owned(),
            password: None,
        }),
        host_with_port: rsip::HostWithPort {
            host: rsip::Host::Domain(host.to_owned().into()),
            port: port.map(Into::into),
        },
        params: Vec::new(),
        headers: Vec::new(),
    }
}

/// The URI inside a Contact, Route or name-addr value (`<…>`, or the bare
/// URI up to its parameters), parsed.
pub fn contact_uri(value: &str) -> Option<rsip::Uri> {
    let text = match (value.find('<'), value.find('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value.split(';').next().unwrap_or(value).trim(),
    };
    let text = text.trim();
    let scheme = text.get(..5).unwrap_or(text).to_ascii_lowercase();
    if !(scheme.starts_with("sip:") || scheme.starts_with("sips:")) {
        return None;
    }
    let mut uri = rsip::Uri::try_from(text).ok()?;
    // rsip prints a parsed `transport` parameter in upper case
    // (`transport=WS`); a peer's target goes back exactly as it wrote it.
    if let Some(value) = param_text(text, "transport") {
        for param in uri.params.iter_mut() {
            if matches!(param, rsip::Param::Transport(_)) {
                *param = rsip::Param::Other("transport".into(), Some(value.clone().into()));
            }
        }
    }
    Some(uri)
}

/// The text of a URI parameter's value, as written (`;name=value`).
fn param_text(uri: &str, name: &str) -> Option<String> {
    let lower = uri.to_ascii_lowercase();
    let at = lower.find(&format!(";{name}="))? + name.len() + 2;
    let value: String = uri[at..]
        .chars()
        .take_while(|c| !matches!(c, ';' | '?' | '>'))
        .collect();
    (!value.is_empty()).then_some(value)
}

/// The first value of a header by name (case-insensitive), as text.
fn header_value(headers: &rsip::Headers, name: &str) -> Option<String> {
    headers.iter().find_map(|h| {
        let text = h.to_string();
        let (n, v) = text.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// Every Record-Route value, one per route (comma-joined values split).
fn record_routes(headers: &rsip::Headers) -> Vec<String> {
    headers
        .iter()
        .filter_map(|h| {
            let text = h.to_string();
            let (n, v) = text.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case("Record-Route")
                .then(|| v.trim().to_owned())
        })
        .flat_map(|v| split_name_addrs(&v))
        .collect()
}

/// Splits `<a>, <b;lr>` at the commas outside angle brackets and quotes.
fn split_name_addrs(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ',' if !quoted && depth <= 0 => {
                out.push(value[start..i].trim().to_owned());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim().to_owned());
    out.retain(|s| !s.is_empty());
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn dialog() -> Dialog {
        Dialog {
            call_id: "abc@gw".to_owned(),
            local: "<sip:gw@10.0.0.1>;tag=ours".to_owned(),
            remote: "<sip:+14155550100@carrier.example>".to_owned(),
            target: sip_uri(Some("+14155550100"), "carrier.example", Some(5080)),
            route_set: Vec::new(),
            cseq: 1,
        }
    }

    fn udp() -> ViaSpec {
        ViaSpec {
            proto: "UDP",
            sent_by: "10.0.0.1".to_owned(),
            rport: true,
        }
    }

    #[test]
    fn a_bye_is_built_from_the_dialog_and_parses_back_the_same() {
        let mut d = dialog();
        let mut bye = d.next_request(rsip::Method::Bye, &udp(), "x1");
        push_header(&mut bye, "Reason", "SIP;cause=200;text=\"done\"");
        finish(&mut bye, None);
        let text = bye.to_string();
        assert_eq!(
            text,
            "BYE sip:+14155550100@carrier.example:5080 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx1;rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:gw@10.0.0.1>;tag=ours\r\n\
             To: <sip:+14155550100@carrier.example>\r\n\
             Call-ID: abc@gw\r\n\
             CSeq: 2 BYE\r\n\
             Reason: SIP;cause=200;text=\"done\"\r\n\
             Content-Length: 0\r\n\r\n"
        );
        let parsed = rsip::Request::try_from(text.as_bytes()).unwrap();
        assert_eq!(parsed.to_string(), text);
        assert_eq!(d.cseq, 2);
    }

    #[test]
    fn a_2xx_sets_the_remote_tag_target_and_reversed_route_set() {
        let mut d = dialog();
        let response = rsip::Response::try_from(
            "SIP/2.0 200 OK\r\n\
             Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\n\
             Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\n\
             Record-Route: <sip:p3.example;lr>\r\n\
             From: <sip:gw@10.0.0.1>;tag=ours\r\n\
             To: <sip:+14155550100@carrier.example>;tag=theirs\r\n\
             Call-ID: abc@gw\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:callee@192.0.2.9:5070;transport=udp>\r\n\
             Content-Length: 0\r\n\r\n"
                .as_bytes(),
        )
        .unwrap();
        d.learn_from_response(&response);
        assert_eq!(d.remote, "<sip:+14155550100@carrier.example>;tag=theirs");
        assert_eq!(
            d.target.to_string(),
            "sip:callee@192.0.2.9:5070;transport=udp"
        );
        assert_eq!(
            contact_uri("<sip:x@abc.invalid;transport=ws>")
                .unwrap()
                .to_string(),
            "sip:x@abc.invalid;transport=ws"
        );
        assert_eq!(
            d.route_set,
            [
                "<sip:p3.example;lr>",
                "<sip:p2.example;lr>",
                "<sip:p1.example;lr>"
            ]
        );
        let mut ack = d.request(rsip::Method::Ack, 1, &udp(), "a");
        finish(&mut ack, None);
        let text = ack.to_string();
        assert!(text.starts_with("ACK sip:callee@192.0.2.9:5070;transport=udp SIP/2.0\r\n"));
        assert!(text.contains("Route: <sip:p3.example;lr>\r\nRoute: <sip:p2.example;lr>\r\n"));
        assert!(text.contains("CSeq: 1 ACK\r\n"));
    }

    #[test]
    fn an_unreadable_contact_keeps_the_old_target() {
        let mut d = dialog();
        let response = rsip::Response::try_from(
            "SIP/2.0 200 OK\r\n\
             Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\n\
             From: <sip:gw@10.0.0.1>;tag=ours\r\n\
             To: <sip:b@c>;tag=t\r\n\
             Call-ID: abc@gw\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <no uri here>\r\n\
             Content-Length: 0\r\n\r\n"
                .as_bytes(),
        )
        .unwrap();
        d.learn_from_response(&response);
        assert_eq!(
            d.target.to_string(),
            "sip:+14155550100@carrier.example:5080"
        );
    }

    #[test]
    fn a_body_gets_its_type_and_length() {
        let d = dialog();
        let mut invite = d.request(rsip::Method::Invite, 2, &udp(), "b");
        finish(&mut invite, Some(("application/sdp", "v=0\r\n")));
        let text = invite.to_string();
        assert!(
            text.ends_with("Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n")
        );
    }
}
