//! Small readers and writers over rsip messages that the B2BUA needs and
//! rsip does not offer in a convenient form: header values by name, tags,
//! URIs inside name-addrs, bodies.

use rsip::prelude::UntypedHeader;

/// The values of every header called `name` (case-insensitive; the
/// normaliser in `shared` has already expanded compact names), in order.
pub fn header_values(headers: &rsip::Headers, name: &str) -> Vec<String> {
    headers
        .iter()
        .filter_map(|h| {
            let line = h.to_string();
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
        .collect()
}

/// The first value of header `name`.
pub fn header(headers: &rsip::Headers, name: &str) -> Option<String> {
    header_values(headers, name).into_iter().next()
}

/// Splits a header value at commas that are outside quotes and `<…>`.
pub fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut angle) = (false, false);
    for c in value.chars() {
        match c {
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(current.trim().to_owned());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

/// The `tag` parameter of a From/To value.
pub fn tag(value: &str) -> Option<String> {
    param(value, "tag")
}

/// A parameter of a name-addr value, outside the `<…>` part.
pub fn param(value: &str, name: &str) -> Option<String> {
    let after = match value.rfind('>') {
        Some(i) => value.get(i + 1..)?,
        None => value,
    };
    after.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// The URI of a name-addr (`"Bob" <sip:bob@x>;tag=1` → `sip:bob@x`) or an
/// addr-spec (`sip:bob@x;tag=1` → `sip:bob@x`).
pub fn uri_of(value: &str) -> String {
    if let (Some(start), Some(end)) = (value.find('<'), value.find('>'))
        && start < end
    {
        return value
            .get(start + 1..end)
            .unwrap_or_default()
            .trim()
            .to_owned();
    }
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The user part of a SIP URI (`sip:+1555@x;user=phone` → `+1555`), without
/// parameters of the user part.
pub fn uri_user(uri: &str) -> Option<String> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .or_else(|| uri.strip_prefix("tel:"))?;
    let user = match rest.split_once('@') {
        Some((user, _)) => user,
        None if uri.starts_with("tel:") => rest.split(';').next().unwrap_or(rest),
        None => return None,
    };
    let user = user.split(';').next().unwrap_or(user);
    let user = user.split(':').next().unwrap_or(user);
    Some(percent_decode(user))
}

/// The host of a SIP URI, without port and parameters
/// (`sip:a@[::1]:5060;transport=ws` → `::1`).
pub fn uri_host(uri: &str) -> Option<String> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))?;
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let hostport = hostport.split([';', '?']).next().unwrap_or_default();
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        hostport.split(':').next().unwrap_or_default()
    };
    (!host.is_empty()).then(|| host.to_owned())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The body as text when it is SDP.
pub fn sdp_body(headers: &rsip::Headers, body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let content_type = header(headers, "Content-Type")?;
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    if !mime.eq_ignore_ascii_case("application/sdp") {
        return None;
    }
    std::str::from_utf8(body).ok().map(str::to_owned)
}

/// The CSeq number of a message.
pub fn cseq_number(headers: &rsip::Headers) -> Option<u32> {
    header(headers, "CSeq")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Sets a response's body, replacing its Content-Length.
pub fn set_body(response: &mut rsip::Response, content_type: &str, body: &str) {
    response
        .headers
        .retain(|h| !matches!(h, rsip::Header::ContentLength(_)));
    response
        .headers
        .push(rsip::headers::ContentType::new(content_type).into());
    response
        .headers
        .push(rsip::headers::ContentLength::new(body.len().to_string()).into());
    response.body = body.as_bytes().to_vec();
}

/// The media direction an SDP asks for (session or first media level):
/// `sendrecv` when it says none.
pub fn sdp_direction(sdp: &str) -> &'static str {
    for line in sdp.lines() {
        match line.trim() {
            "a=sendonly" => return "sendonly",
            "a=recvonly" => return "recvonly",
            "a=inactive" => return "inactive",
            "a=sendrecv" => return "sendrecv",
            _ => {}
        }
    }
    "sendrecv"
}

/// The same SDP with every direction attribute replaced by `direction` and
/// the `o=` session version set to `version`.
pub fn sdp_with_direction(sdp: &str, direction: &str, version: u64) -> String {
    let mut out = String::with_capacity(sdp.len() + 16);
    let mut had_direction = false;
    for line in sdp.lines() {
        let trimmed = line.trim_end();
        if matches!(
            trimmed,
            "a=sendonly" | "a=recvonly" | "a=inactive" | "a=sendrecv"
        ) {
            had_direction = true;
            out.push_str("a=");
            out.push_str(direction);
        } else if let Some(rest) = trimmed.strip_prefix("o=") {
            let mut fields: Vec<&str> = rest.split(' ').collect();
            let v = version.to_string();
            if fields.len() >= 3 {
                fields[2] = &v;
                out.push_str("o=");
                out.push_str(&fields.join(" "));
            } else {
                out.push_str(trimmed);
            }
        } else {
            out.push_str(trimmed);
        }
        out.push_str("\r\n");
    }
    if !had_direction {
        out.push_str("a=");
        out.push_str(direction);
        out.push_str("\r\n");
    }
    out
}

/// The direction that answers `offered` (RFC 3264 §6.1).
pub fn answer_direction(offered: &str) -> &'static str {
    match offered {
        "sendonly" => "recvonly",
        "recvonly" => "sendonly",
        "inactive" => "inactive",
        _ => "sendrecv",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_and_user() {
        assert_eq!(
            uri_of("\"A\" <sip:a@b;transport=ws>;tag=1"),
            "sip:a@b;transport=ws"
        );
        assert_eq!(uri_of("sip:a@b;tag=1"), "sip:a@b");
        assert_eq!(uri_user("sip:+1555@x;user=phone").as_deref(), Some("+1555"));
        assert_eq!(uri_user("sip:%2B44@x").as_deref(), Some("+44"));
        assert_eq!(
            uri_user("tel:+1555;phone-context=x").as_deref(),
            Some("+1555")
        );
        assert_eq!(uri_user("sip:host.only"), None);
        assert_eq!(uri_user("garbage"), None);
        assert_eq!(
            uri_user("sip:j.user@example.com").as_deref(),
            Some("j.user")
        );
        assert_eq!(
            uri_host("sip:j.user@example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            uri_host("sip:a@[::1]:5060;transport=ws").as_deref(),
            Some("::1")
        );
        assert_eq!(uri_host("sip:gw.test:5061").as_deref(), Some("gw.test"));
        assert_eq!(uri_host("sip:"), None);
    }

    #[test]
    fn tags_and_lists() {
        assert_eq!(tag("<sip:a@b;tag=no>;tag=yes").as_deref(), Some("yes"));
        assert_eq!(tag("<sip:a@b>"), None);
        assert_eq!(
            split_list("<sip:a;lr>, \"x,y\" <sip:b>"),
            vec!["<sip:a;lr>", "\"x,y\" <sip:b>"]
        );
    }

    #[test]
    fn directions() {
        let sdp =
            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n";
        let held = sdp_with_direction(sdp, "sendonly", 2);
        assert!(held.contains("a=sendonly\r\n") && held.contains("o=- 1 2 IN IP4"));
        assert_eq!(sdp_direction(&held), "sendonly");
        assert_eq!(answer_direction("sendonly"), "recvonly");
    }
}
