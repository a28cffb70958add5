//! Carrier-leg SDP (RFC 4566 / RFC 3264), the small G.711 subset we need:
//! `c=`, the first `m=audio` (port and payload types), `a=rtpmap`,
//! `a=fmtp` for telephone-event, the direction attributes and `a=ptime`.
//!
//! Sans-IO and pure: [`parse`] reads a carrier's SDP into [`Description`],
//! [`negotiate`] matches an answer against what we offered ([`CarrierLeg`]),
//! [`answer_offer`] picks what we answer to a carrier's offer (inbound
//! calls), and [`write`] builds our own offer or answer. Everything else in an SDP
//! (bandwidth, `a=rtcp`, other m-lines, unknown attributes) is skipped.
//!
//! Hand-written rather than taken from a crate: the subset is tiny, we only
//! ever read one m-line, and owning the parser lets us bound its work on
//! hostile input (size and line limits) and test exactly that. The browser
//! leg's SDP is parsed and written by str0m.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::srtp::{SrtpKey, SrtpSuite};
use super::{CarrierLeg, Codec, Direction, MediaError};

/// Larger SDP bodies are refused outright (a G.711 answer is ~300 bytes).
pub const MAX_SDP_LEN: usize = 16 * 1024;
/// At most this many payload types are looked at on the m-line.
const MAX_PAYLOAD_TYPES: usize = 64;
/// The `a=fmtp` we write for telephone-event (DTMF digits 0-9, *, #, A-D, flash).
const TELEPHONE_EVENT_FMTP: &str = "0-16";

/// What a carrier's SDP says about its audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// `c=` of the audio m-line, else the session's.
    pub connection: Option<IpAddr>,
    /// `m=audio` port; 0 means the stream was rejected.
    pub port: u16,
    /// The `m=audio` payload types in the carrier's order of preference.
    pub payload_types: Vec<u8>,
    /// `a=rtpmap:<pt> <name>/<rate>` of the audio m-line (name upper-cased).
    pub rtpmaps: Vec<RtpMap>,
    /// The direction attribute of the audio m-line, else the session's, else sendrecv.
    pub direction: Direction,
    /// `a=ptime` in milliseconds.
    pub ptime: Option<u32>,
    /// The m-line's profile is RTP/SAVP(F): SRTP with SDES keys.
    pub secure: bool,
    /// The usable `a=crypto` lines of the audio m-line, in order.
    pub cryptos: Vec<Crypto>,
    /// Why each other `a=crypto` line was skipped (for error messages).
    pub crypto_problems: Vec<String>,
}

/// An `a=crypto` line (RFC 4568) we can use: its tag and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    pub key: SrtpKey,
}

/// The SRTP keys of a carrier leg: ours (what we send with) and the
/// carrier's (what it sends with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    pub local: SrtpKey,
    pub remote: SrtpKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub pt: u8,
    pub name: String,
    pub rate: u32,
}

/// The result of matching a carrier's answer against our offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Where the SDP says to send RTP (symmetric RTP may latch elsewhere).
    pub remote: SocketAddr,
    /// The codec the carrier prefers (first accepted on its m-line).
    pub codec: Codec,
    /// Accepted codecs with the payload type the carrier uses for each.
    pub codecs: Vec<(Codec, u8)>,
    /// The carrier's telephone-event/8000 payload type, if it accepted one.
    pub telephone_event_pt: Option<u8>,
    /// The telephone-event payload type of our offer (what the carrier
    /// should send with).
    pub offered_telephone_event_pt: Option<u8>,
    /// The carrier's direction (from its point of view).
    pub direction: Direction,
    /// SRTP keys when the leg is encrypted.
    pub srtp: Option<SrtpKeys>,
}

impl Negotiated {
    /// The carrier's payload type for `codec`, if it accepted it.
    pub fn pt_of(&self, codec: Codec) -> Option<u8> {
        self.codecs
            .iter()
            .find(|(c, _)| *c == codec)
            .map(|(_, pt)| *pt)
    }
}

/// Parses a carrier's SDP. Never panics; every rejection says why.
pub fn parse(sdp: &str) -> Result<Description, String> {
    if sdp.len() > MAX_SDP_LEN {
        return Err(format!(
            "SDP of {} bytes is larger than {MAX_SDP_LEN}",
            sdp.len()
        ));
    }
    if !sdp.trim_start().starts_with("v=") {
        return Err("does not start with v=".into());
    }
    let mut session_connection = None;
    let mut session_direction = None;
    let mut audio: Option<Description> = None;
    let mut media_direction = None;
    let mut media_connection = None;
    // Where the parser is: session level, inside the first audio m-line, or
    // inside some other m-line (skipped).
    #[derive(PartialEq)]
    enum Section {
        Session,
        Audio,
        Other,
    }
    let mut section = Section::Session;

    for raw in sdp.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim_end();
        if line.is_empty() {
            continue;
        }
        let Some((kind, value)) = line.split_once('=') else {
            return Err(format!("line without `=`: {}", excerpt(line)));
        };
        match kind {
            "m" => {
                if audio.is_none() && value.split_ascii_whitespace().next() == Some("audio") {
                    audio = Some(parse_media_line(value)?);
                    section = Section::Audio;
                } else {
                    section = Section::Other;
                }
            }
            "c" if section != Section::Other => {
                let ip = parse_connection(value)?;
                if section == Section::Session {
                    session_connection = Some(ip);
                } else {
                    media_connection = Some(ip);
                }
            }
            "a" if section != Section::Other => {
                let (name, arg) = value.split_once(':').unwrap_or((value, ""));
                if let Some(direction) = Direction::from_attribute(name) {
                    if section == Section::Session {
                        session_direction = Some(direction);
                    } else {
                        media_direction = Some(direction);
                    }
                    continue;
                }
                let Some(media) = audio.as_mut().filter(|_| section == Section::Audio) else {
                    continue;
                };
                match name {
                    "rtpmap" => {
                        if let Some(map) = parse_rtpmap(arg)?
                            && !media.rtpmaps.iter().any(|m| m.pt == map.pt)
                        {
                            media.rtpmaps.push(map);
                        }
                    }
                    "ptime" => media.ptime = arg.trim().parse().ok().filter(|p| *p > 0),
                    "crypto" if media.cryptos.len() + media.crypto_problems.len() < 16 => {
                        match parse_crypto(arg) {
                            Ok(c) => media.cryptos.push(c),
                            Err(why) => media.crypto_problems.push(why),
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let mut media = audio.ok_or("no m=audio line")?;
    media.connection = media_connection.or(session_connection);
    media.direction = media_direction
        .or(session_direction)
        .unwrap_or(Direction::SendRecv);
    Ok(media)
}

fn excerpt(line: &str) -> String {
    line.chars().take(40).collect()
}

/// `audio <port>[/<count>] <proto> <fmt> ...`
fn parse_media_line(value: &str) -> Result<Description, String> {
    let mut parts = value.split_ascii_whitespace();
    let _audio = parts.next();
    let port = parts.next().ok_or("m=audio without a port")?;
    let port = port.split('/').next().unwrap_or(port);
    let port: u16 = port
        .parse()
        .map_err(|_| format!("m=audio port `{}` is not a number", excerpt(port)))?;
    let proto = parts.next().ok_or("m=audio without a transport")?;
    let secure = match proto {
        "RTP/AVP" | "RTP/AVPF" => false,
        "RTP/SAVP" | "RTP/SAVPF" => true,
        "UDP/TLS/RTP/SAVP" | "UDP/TLS/RTP/SAVPF" => {
            return Err(format!(
                "transport {proto} (DTLS-SRTP) is not supported toward carriers; \
                 use RTP/AVP or RTP/SAVP with SDES keys"
            ));
        }
        other => {
            return Err(format!(
                "transport `{}` is not RTP/AVP or RTP/SAVP",
                excerpt(other)
            ));
        }
    };
    let mut payload_types = Vec::new();
    for fmt in parts.take(MAX_PAYLOAD_TYPES) {
        let pt: u8 =
            fmt.parse().ok().filter(|pt| *pt <= 127).ok_or_else(|| {
                format!("m=audio format `{}` is not a payload type", excerpt(fmt))
            })?;
        if !payload_types.contains(&pt) {
            payload_types.push(pt);
        }
    }
    if payload_types.is_empty() && port != 0 {
        return Err("m=audio lists no payload type".into());
    }
    Ok(Description {
        connection: None,
        port,
        payload_types,
        rtpmaps: Vec::new(),
        direction: Direction::SendRecv,
        ptime: None,
        secure,
        cryptos: Vec::new(),
        crypto_problems: Vec::new(),
    })
}

/// `<tag> <crypto-suite> <key-params> [<session-params>]` (RFC 4568 §9.1).
fn parse_crypto(arg: &str) -> Result<Crypto, String> {
    let mut parts = arg.split_ascii_whitespace();
    let (Some(tag), Some(suite), Some(params)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("a=crypto:{} is incomplete", excerpt(arg)));
    };
    let Some(tag) = tag.parse::<u32>().ok().filter(|t| *t < 1_000_000_000) else {
        return Err(format!("a=crypto tag `{}` is not a number", excerpt(tag)));
    };
    let Some(suite) = SrtpSuite::from_name(suite) else {
        return Err(format!("crypto suite {} is not supported", excerpt(suite)));
    };
    if let Some(session) = parts.next() {
        // UNENCRYPTED_SRTP, KDR=… and the like change the packet format.
        return Err(format!(
            "{} with session parameter {} is not supported",
            suite.name(),
            excerpt(session)
        ));
    }
    let key = SrtpKey::from_key_params(suite, params)
        .map_err(|why| format!("{} key refused: {why}", suite.name()))?;
    Ok(Crypto { tag, key })
}

/// `IN IP4 <addr>[/ttl]` or `IN IP6 <addr>`.
fn parse_connection(value: &str) -> Result<IpAddr, String> {
    let mut parts = value.split_ascii_whitespace();
    let (Some("IN"), Some(family), Some(addr)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("c={} is not `IN IP4 <address>`", excerpt(value)));
    };
    let addr = addr.split('/').next().unwrap_or(addr);
    let ip: IpAddr = addr.parse().map_err(|_| {
        format!(
            "c= address `{}` is not an IP address (host names are not resolved)",
            excerpt(addr)
        )
    })?;
    match (family, ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Ok(ip),
        _ => Err(format!(
            "c= says {} but the address is {ip}",
            excerpt(family)
        )),
    }
}

/// `<pt> <name>/<rate>[/<channels>]`; `None` for a malformed but harmless line.
fn parse_rtpmap(arg: &str) -> Result<Option<RtpMap>, String> {
    let Some((pt, encoding)) = arg.trim().split_once(' ') else {
        return Ok(None);
    };
    let Some(pt) = pt.parse::<u8>().ok().filter(|pt| *pt <= 127) else {
        return Ok(None);
    };
    let mut fields = encoding.trim().split('/');
    let name = fields.next().unwrap_or("").to_ascii_uppercase();
    let Some(rate) = fields.next().and_then(|r| r.parse::<u32>().ok()) else {
        return Ok(None);
    };
    if name.is_empty() || name.len() > 32 {
        return Ok(None);
    }
    Ok(Some(RtpMap { pt, name, rate }))
}

/// Matches a carrier's answer against the offer we made on `leg`.
pub fn negotiate(leg: &CarrierLeg, answer: &Description) -> Result<Negotiated, MediaError> {
    if answer.port == 0 {
        return Err(MediaError::NoCommonCodec(format!(
            "the carrier rejected the audio stream (port 0); we offered {}",
            codec_list(&leg.codecs)
        )));
    }
    let (remote, direction) =
        remote_of(answer).map_err(|e| MediaError::BadAnswer(format!("carrier: {e}")))?;
    let found = match_payload_types(&leg.codecs, leg.telephone_event_pt.is_some(), answer);
    let Some(&(codec, _)) = found.codecs.first() else {
        return Err(MediaError::NoCommonCodec(format!(
            "the carrier answered {}; we offered {}",
            found.others_text(),
            codec_list(&leg.codecs)
        )));
    };
    let srtp = match (&leg.crypto, answer.secure) {
        (None, false) => None,
        (None, true) => {
            return Err(MediaError::BadAnswer(
                "carrier: it answered RTP/SAVP (SRTP) to our plain RTP/AVP offer".into(),
            ));
        }
        (Some(_), false) => {
            return Err(MediaError::Srtp(
                "the carrier answered with plain RTP; this carrier requires SRTP".into(),
            ));
        }
        (Some(ours), true) => {
            let theirs = matching_crypto(ours, &answer.cryptos).ok_or_else(|| {
                MediaError::Srtp(format!(
                    "the carrier's answer has no usable {} key{}",
                    ours.key.suite.name(),
                    problems_text(&answer.crypto_problems)
                ))
            })?;
            Some(SrtpKeys {
                local: ours.key.clone(),
                remote: theirs.key.clone(),
            })
        }
    };
    Ok(Negotiated {
        remote,
        codec,
        codecs: found.codecs,
        telephone_event_pt: found.telephone_event_pt,
        offered_telephone_event_pt: leg.telephone_event_pt,
        direction,
        srtp,
    })
}

/// A carrier re-INVITE's offer on an SRTP leg: the key it now sends with,
/// when it names one for our suite (same tag first). `None`: nothing to
/// follow (plain leg, plain offer, or no usable line).
pub fn reoffered_key(leg: &CarrierLeg, offer: &Description) -> Option<SrtpKey> {
    let ours = leg.crypto.as_ref()?;
    if !offer.secure {
        return None;
    }
    matching_crypto(ours, &offer.cryptos).map(|c| c.key.clone())
}

/// The carrier's `a=crypto` line for our suite: the one with our tag, else
/// the first of that suite (some carriers renumber).
fn matching_crypto<'a>(ours: &Crypto, theirs: &'a [Crypto]) -> Option<&'a Crypto> {
    theirs
        .iter()
        .find(|c| c.tag == ours.tag && c.key.suite == ours.key.suite)
        .or_else(|| theirs.iter().find(|c| c.key.suite == ours.key.suite))
}

fn problems_text(problems: &[String]) -> String {
    if problems.is_empty() {
        String::new()
    } else {
        format!(" ({})", problems.join("; "))
    }
}

/// What we answer to a carrier's SRTP choice: our own key for the first
/// usable `a=crypto` of its offer (same tag and suite), nothing for plain
/// RTP, and an error for plain RTP when SRTP is required or for SRTP
/// without a suite we speak.
pub fn answer_crypto(
    offer: &Description,
    srtp_required: bool,
) -> Result<(Option<Crypto>, Option<SrtpKeys>), MediaError> {
    if !offer.secure {
        if srtp_required {
            return Err(MediaError::Srtp(
                "the carrier offered plain RTP; this carrier requires SRTP".into(),
            ));
        }
        return Ok((None, None));
    }
    let Some(theirs) = offer.cryptos.first() else {
        return Err(MediaError::Srtp(format!(
            "the carrier offered SRTP without a key we can use (we speak {} and {}){}",
            SrtpSuite::AesCm128HmacSha1_80.name(),
            SrtpSuite::AesCm128HmacSha1_32.name(),
            problems_text(&offer.crypto_problems)
        )));
    };
    let ours = Crypto {
        tag: theirs.tag,
        key: SrtpKey::random(theirs.key.suite),
    };
    let keys = SrtpKeys {
        local: ours.key.clone(),
        remote: theirs.key.clone(),
    };
    Ok((Some(ours), Some(keys)))
}

/// Answers a carrier's offer (an inbound call): the first codec of its
/// m-line that `allowed` (the carrier's configured list) holds, and its
/// telephone-event payload type if it offered one. We answer with that one
/// codec only, so both sides send what the carrier prefers, and we receive
/// with the carrier's own payload type numbers (RFC 3264 §6.1 lets the
/// answerer pick its own, but mirroring them is what carriers expect).
pub fn answer_offer(allowed: &[Codec], offer: &Description) -> Result<Negotiated, MediaError> {
    if offer.port == 0 {
        return Err(MediaError::NoCommonCodec(
            "the carrier's offer disables its audio stream (port 0)".into(),
        ));
    }
    let (remote, direction) =
        remote_of(offer).map_err(|e| MediaError::BadOffer(format!("carrier: {e}")))?;
    let found = match_payload_types(allowed, true, offer);
    let Some(&chosen) = found.codecs.first() else {
        return Err(MediaError::NoCommonCodec(format!(
            "the carrier offered {}; this carrier is configured for {}",
            found.others_text(),
            codec_list(allowed)
        )));
    };
    Ok(Negotiated {
        remote,
        codec: chosen.0,
        codecs: vec![chosen],
        telephone_event_pt: found.telephone_event_pt,
        // Our answer uses the carrier's own number for it.
        offered_telephone_event_pt: found.telephone_event_pt,
        direction,
        srtp: None,
    })
}

/// Where the peer's RTP goes and its direction, from `c=` and the m-line.
fn remote_of(d: &Description) -> Result<(SocketAddr, Direction), String> {
    let ip = d.connection.ok_or("no c= line")?;
    if ip.is_multicast() || ip == IpAddr::V4(std::net::Ipv4Addr::BROADCAST) {
        return Err(format!("c= address {ip} is multicast or broadcast"));
    }
    // c=0.0.0.0 is the old RFC 2543 way to say hold (RFC 3264 §8.4).
    let direction = if ip.is_unspecified() {
        Direction::Inactive
    } else {
        d.direction
    };
    Ok((SocketAddr::new(ip, d.port), direction))
}

/// What an m-line holds that we can use, in its order.
struct Matched {
    /// Codecs of `allowed` with the peer's payload type for each.
    codecs: Vec<(Codec, u8)>,
    telephone_event_pt: Option<u8>,
    /// Everything else, for error messages.
    others: Vec<String>,
}

impl Matched {
    fn others_text(&self) -> String {
        if self.others.is_empty() {
            "no audio codec".to_string()
        } else {
            self.others.join(", ")
        }
    }
}

fn match_payload_types(allowed: &[Codec], telephone_event: bool, d: &Description) -> Matched {
    let mut found = Matched {
        codecs: Vec::new(),
        telephone_event_pt: None,
        others: Vec::new(),
    };
    for &pt in &d.payload_types {
        let map = d.rtpmaps.iter().find(|m| m.pt == pt);
        let codec = match map {
            Some(m) if m.rate == 8000 => m.name.parse::<Codec>().ok(),
            Some(_) => None,
            // Static payload types need no rtpmap (RFC 3551).
            None => Codec::from_static_pt(pt),
        };
        if let Some(codec) = codec.filter(|c| allowed.contains(c)) {
            if !found.codecs.iter().any(|(c, _)| *c == codec) {
                found.codecs.push((codec, pt));
            }
            continue;
        }
        if map.is_some_and(|m| m.name == "TELEPHONE-EVENT" && m.rate == 8000) {
            if telephone_event && found.telephone_event_pt.is_none() {
                found.telephone_event_pt = Some(pt);
            }
            continue;
        }
        found.others.push(match map {
            Some(m) => format!("{}/{} ({pt})", m.name, m.rate),
            None => format!("PT {pt}"),
        });
    }
    found
}

pub(crate) fn codec_list(codecs: &[Codec]) -> String {
    if codecs.is_empty() {
        return "no codec".into();
    }
    codecs
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Our SDP toward the carrier: every codec of `leg` in its order, then
/// telephone-event, 20 ms packets, and `direction`.
pub fn write(leg: &CarrierLeg, direction: Direction, version: u64) -> String {
    let ip = leg.address.ip();
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut pts: Vec<u8> = leg.codecs.iter().map(|c| c.payload_type()).collect();
    pts.extend(leg.telephone_event_pt);
    let pts: Vec<String> = pts.iter().map(u8::to_string).collect();
    let mut s = String::with_capacity(320);
    // `write!` to a String cannot fail.
    let _ = write!(
        s,
        "v=0\r\no=- {id} {version} IN {family} {ip}\r\ns=-\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
         m=audio {port} {profile} {pts}\r\n",
        id = leg.session_id,
        port = leg.address.port(),
        profile = if leg.crypto.is_some() {
            "RTP/SAVP"
        } else {
            "RTP/AVP"
        },
        pts = pts.join(" "),
    );
    if let Some(crypto) = &leg.crypto {
        let _ = write!(
            s,
            "a=crypto:{} {} {}\r\n",
            crypto.tag,
            crypto.key.suite.name(),
            crypto.key.key_params()
        );
    }
    for codec in &leg.codecs {
        let _ = write!(
            s,
            "a=rtpmap:{} {}/8000\r\n",
            codec.payload_type(),
            codec.name()
        );
    }
    if let Some(pt) = leg.telephone_event_pt {
        let _ = write!(
            s,
            "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} {TELEPHONE_EVENT_FMTP}\r\n"
        );
    }
    let _ = write!(s, "a=ptime:20\r\na={}\r\n", direction.attribute());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg() -> CarrierLeg {
        CarrierLeg {
            address: "192.0.2.10:20002".parse().expect("literal address"),
            codecs: vec![Codec::Pcma, Codec::Pcmu],
            telephone_event_pt: Some(101),
            session_id: 42,
            crypto: None,
        }
    }

    fn secure_leg() -> CarrierLeg {
        CarrierLeg {
            crypto: Some(Crypto {
                tag: 1,
                key: SrtpKey::random(SrtpSuite::AesCm128HmacSha1_80),
            }),
            ..leg()
        }
    }

    const KEY: &str = "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    #[test]
    fn srtp_offer_carries_our_key_and_the_answer_gives_theirs() {
        let ours = secure_leg();
        let offer = write(&ours, Direction::SendRecv, 1);
        assert!(
            offer.contains("m=audio 20002 RTP/SAVP 8 0 101\r\n"),
            "{offer}"
        );
        let parsed = parse(&offer).expect("our offer parses");
        assert!(parsed.secure);
        assert_eq!(parsed.cryptos, [ours.crypto.clone().expect("crypto")]);

        let answer = format!(
            "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/SAVP 8\r\n\
             a=crypto:1 AES_CM_128_HMAC_SHA1_80 {KEY}|2^31\r\n"
        );
        let n = negotiate(&ours, &parse(&answer).expect("valid")).expect("keys agree");
        let keys = n.srtp.expect("SRTP");
        assert_eq!(keys.local, ours.crypto.expect("crypto").key);
        assert_eq!(keys.remote.key_params(), KEY);

        // Plain RTP from a carrier we asked for SRTP: refused, clearly.
        let plain = parse("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 8\r\n").expect("v");
        let err = negotiate(&secure_leg(), &plain).expect_err("plain refused");
        assert!(err.to_string().contains("requires SRTP"), "{err}");
        // SRTP answered to a plain offer, or SAVP without a usable key.
        let savp = parse(
            "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/SAVP 8\r\n\
                          a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:xyz\r\n",
        )
        .expect("v");
        assert!(matches!(
            negotiate(&leg(), &savp),
            Err(MediaError::BadAnswer(_))
        ));
        let err = negotiate(&secure_leg(), &savp).expect_err("no usable key");
        assert!(
            err.to_string()
                .contains("AES_256_CM_HMAC_SHA1_80 is not supported"),
            "{err}"
        );
    }

    #[test]
    fn a_reinvite_with_a_new_key_is_followed_on_an_srtp_leg_only() {
        let reoffer = parse(&format!(
            "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/SAVP 8\r\n\
             a=crypto:1 AES_CM_128_HMAC_SHA1_80 {KEY}\r\na=sendonly\r\n"
        ))
        .expect("valid");
        let key = reoffered_key(&secure_leg(), &reoffer).expect("followed");
        assert_eq!(key.key_params(), KEY);
        assert_eq!(reoffered_key(&leg(), &reoffer), None, "plain leg");
        let plain = parse("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 8\r\n").expect("v");
        assert_eq!(reoffered_key(&secure_leg(), &plain), None, "plain offer");
    }

    #[test]
    fn an_srtp_offer_is_answered_with_our_own_key_for_its_first_usable_line() {
        let offer = parse(&format!(
            "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/SAVP 0\r\n\
             a=crypto:1 AEAD_AES_256_GCM inline:abc\r\n\
             a=crypto:2 AES_CM_128_HMAC_SHA1_32 {KEY}\r\n\
             a=crypto:3 AES_CM_128_HMAC_SHA1_80 {KEY}\r\n"
        ))
        .expect("valid");
        assert_eq!(offer.cryptos.len(), 2);
        assert_eq!(offer.crypto_problems.len(), 1);
        let (ours, keys) = answer_crypto(&offer, false).expect("usable");
        let ours = ours.expect("we answer with a key");
        assert_eq!(
            (ours.tag, ours.key.suite),
            (2, SrtpSuite::AesCm128HmacSha1_32)
        );
        let keys = keys.expect("keys");
        assert_eq!(keys.remote.key_params(), KEY);
        assert_ne!(keys.local, keys.remote);

        let plain = parse("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n").expect("v");
        assert_eq!(
            answer_crypto(&plain, false).expect("plain is fine"),
            (None, None)
        );
        let err = answer_crypto(&plain, true).expect_err("required");
        assert!(err.to_string().contains("requires SRTP"), "{err}");
        let keyless = parse(
            "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/SAVP 0\r\n\
                             a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:short\r\n",
        )
        .expect("v");
        let err = answer_crypto(&keyless, false).expect_err("no usable key");
        assert!(
            err.to_string().contains("not 30") || err.to_string().contains("base64"),
            "{err}"
        );
    }

    const ANSWER: &str = "v=0\r\no=carrier 1 1 IN IP4 198.51.100.7\r\ns=-\r\n\
        c=IN IP4 198.51.100.7\r\nt=0 0\r\n\
        m=audio 30000 RTP/AVP 8 96\r\na=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\na=ptime:20\r\na=sendrecv\r\n";

    #[test]
    fn parses_a_typical_answer() {
        let d = parse(ANSWER).expect("valid answer");
        assert_eq!(d.connection, Some("198.51.100.7".parse().expect("ip")));
        assert_eq!(d.port, 30000);
        assert_eq!(d.payload_types, [8, 96]);
        assert_eq!(d.direction, Direction::SendRecv);
        assert_eq!(d.ptime, Some(20));
        let n = negotiate(&leg(), &d).expect("common codec");
        assert_eq!(n.codec, Codec::Pcma);
        assert_eq!(n.codecs, [(Codec::Pcma, 8)]);
        assert_eq!(n.telephone_event_pt, Some(96));
        assert_eq!(n.remote, "198.51.100.7:30000".parse().expect("addr"));
    }

    #[test]
    fn media_level_overrides_session_level() {
        let sdp = "v=0\nc=IN IP4 10.0.0.1\na=sendonly\nm=audio 4000 RTP/AVP 0\n\
                   c=IN IP4 10.0.0.2\na=inactive\nm=video 5000 RTP/AVP 96\nc=IN IP4 10.0.0.3\na=recvonly\n";
        let d = parse(sdp).expect("valid");
        assert_eq!(d.connection, Some("10.0.0.2".parse().expect("ip")));
        assert_eq!(d.direction, Direction::Inactive);
        let sdp = "v=0\nc=IN IP4 10.0.0.1\na=sendonly\nm=audio 4000 RTP/AVP 0\n";
        let d = parse(sdp).expect("valid");
        assert_eq!(d.direction, Direction::SendOnly);
        assert_eq!(d.connection, Some("10.0.0.1".parse().expect("ip")));
    }

    #[test]
    fn static_types_need_no_rtpmap_and_dynamic_g711_is_understood() {
        let d = parse("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 18 0\r\n").expect("valid");
        let n = negotiate(&leg(), &d).expect("PCMU static");
        assert_eq!(n.codec, Codec::Pcmu);
        assert_eq!(n.telephone_event_pt, None);
        let d = parse(
            "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 97\r\na=rtpmap:97 pcmu/8000\r\n",
        )
        .expect("valid");
        assert_eq!(
            negotiate(&leg(), &d).expect("dynamic PCMU").codecs,
            [(Codec::Pcmu, 97)]
        );
    }

    #[test]
    fn no_common_codec_names_both_sides() {
        let d = parse(
            "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 18 9\r\na=rtpmap:18 G729/8000\r\n",
        )
        .expect("valid");
        let err = negotiate(&leg(), &d).expect_err("G.729 only");
        assert!(matches!(err, MediaError::NoCommonCodec(_)));
        assert_eq!(
            err.to_string(),
            "no common codec: the carrier answered G729/8000 (18), PT 9; we offered PCMA, PCMU"
        );
        // A codec we did not offer does not count, even if we know it.
        let only_pcmu = CarrierLeg {
            codecs: vec![Codec::Pcmu],
            ..leg()
        };
        let d = parse("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 8\r\n").expect("valid");
        assert!(matches!(
            negotiate(&only_pcmu, &d),
            Err(MediaError::NoCommonCodec(_))
        ));
        let d = parse("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 0 RTP/AVP 0\r\n").expect("valid");
        assert!(
            negotiate(&leg(), &d)
                .expect_err("rejected")
                .to_string()
                .contains("port 0")
        );
    }

    #[test]
    fn writes_an_offer_in_leg_order() {
        let sdp = write(&leg(), Direction::SendRecv, 1);
        assert_eq!(
            sdp,
            "v=0\r\no=- 42 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
             m=audio 20002 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
        );
        let held = write(&leg(), Direction::SendOnly, 2);
        assert!(held.contains("o=- 42 2 IN IP4"));
        assert!(held.ends_with("a=sendonly\r\n"));
        // Round trip: our own offer parses and negotiates to itself.
        let d = parse(&sdp).expect("our SDP parses");
        let n = negotiate(&leg(), &d).expect("negotiates");
        assert_eq!(n.codecs, [(Codec::Pcma, 8), (Codec::Pcmu, 0)]);
        assert_eq!(n.telephone_event_pt, Some(101));
        // Old-style hold is understood; multicast is refused.
        let hold = parse("v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n").expect("valid");
        assert_eq!(
            negotiate(&leg(), &hold).expect("hold").direction,
            Direction::Inactive
        );
        let multicast =
            parse("v=0\r\nc=IN IP4 224.2.1.1/127\r\nm=audio 4000 RTP/AVP 0\r\n").expect("valid");
        assert!(matches!(
            negotiate(&leg(), &multicast),
            Err(MediaError::BadAnswer(_))
        ));
        let v6 = CarrierLeg {
            address: "[2001:db8::1]:20000".parse().expect("v6"),
            ..leg()
        };
        let sdp = write(&v6, Direction::Inactive, 3);
        assert!(sdp.contains("c=IN IP6 2001:db8::1\r\n"));
        assert_eq!(
            parse(&sdp).expect("v6 parses").connection,
            Some("2001:db8::1".parse().expect("ip"))
        );
    }

    /// Answers `offer` for a carrier configured with `allowed` and writes
    /// our answer the way `start_inbound` does.
    fn answer(allowed: &[Codec], offer: &str) -> Result<(Negotiated, String), MediaError> {
        let n = answer_offer(allowed, &parse(offer).expect("offer parses"))?;
        let leg = CarrierLeg {
            address: "192.0.2.10:20002".parse().expect("literal address"),
            codecs: vec![n.codec],
            telephone_event_pt: n.telephone_event_pt,
            session_id: 42,
            crypto: None,
        };
        let sdp = write(&leg, n.direction.reverse(), 1);
        Ok((n, sdp))
    }

    const OFFER: &str = "v=0\r\no=carrier 5 5 IN IP4 198.51.100.7\r\ns=-\r\n\
        c=IN IP4 198.51.100.7\r\nt=0 0\r\n\
        m=audio 30000 RTP/AVP 18 8 0 96\r\na=rtpmap:18 G729/8000\r\na=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n\
        a=ptime:20\r\n";

    #[test]
    fn inbound_answer_takes_the_carriers_first_allowed_codec_and_its_event_pt() {
        let (n, sdp) = answer(&[Codec::Pcmu, Codec::Pcma], OFFER).expect("answerable");
        // The carrier's order wins over ours; G.729 is skipped.
        assert_eq!(n.codec, Codec::Pcma);
        assert_eq!(n.codecs, [(Codec::Pcma, 8)]);
        assert_eq!(n.telephone_event_pt, Some(96));
        assert_eq!(n.offered_telephone_event_pt, Some(96));
        assert_eq!(n.remote, "198.51.100.7:30000".parse().expect("addr"));
        assert_eq!(n.direction, Direction::SendRecv);
        assert_eq!(
            sdp,
            "v=0\r\no=- 42 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
             m=audio 20002 RTP/AVP 8 96\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
        );
        // The carrier's configuration narrows the choice.
        let (n, sdp) = answer(&[Codec::Pcmu], OFFER).expect("PCMU allowed");
        assert_eq!(n.codecs, [(Codec::Pcmu, 0)]);
        assert!(sdp.contains("m=audio 20002 RTP/AVP 0 96\r\n"), "{sdp}");
        // No telephone-event offered: none answered.
        let plain = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n";
        let (n, sdp) = answer(&[Codec::Pcmu], plain).expect("PCMU");
        assert_eq!(n.telephone_event_pt, None);
        assert!(sdp.contains("m=audio 20002 RTP/AVP 0\r\n"), "{sdp}");
        assert!(!sdp.contains("telephone-event"), "{sdp}");
        // Dynamic G.711 keeps the carrier's number.
        let dynamic =
            "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 97\r\na=rtpmap:97 PCMU/8000\r\n";
        let (n, _) = answer(&[Codec::Pcmu], dynamic).expect("dynamic PCMU");
        assert_eq!(n.codecs, [(Codec::Pcmu, 97)]);
    }

    #[test]
    fn inbound_answer_mirrors_the_offered_direction() {
        let cases = [
            ("a=sendrecv\r\n", Direction::SendRecv, "a=sendrecv"),
            ("a=sendonly\r\n", Direction::SendOnly, "a=recvonly"),
            ("a=recvonly\r\n", Direction::RecvOnly, "a=sendonly"),
            ("a=inactive\r\n", Direction::Inactive, "a=inactive"),
            ("", Direction::SendRecv, "a=sendrecv"),
        ];
        for (attribute, theirs, ours) in cases {
            let offer = format!("{OFFER}{attribute}");
            let (n, sdp) = answer(&[Codec::Pcmu], &offer).expect("answerable");
            assert_eq!(n.direction, theirs, "{attribute}");
            assert!(sdp.ends_with(&format!("{ours}\r\n")), "{attribute}: {sdp}");
        }
        // c=0.0.0.0: the old way to offer a held stream.
        let held = "v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n";
        let (n, sdp) = answer(&[Codec::Pcmu], held).expect("held offer");
        assert_eq!(n.direction, Direction::Inactive);
        assert!(sdp.ends_with("a=inactive\r\n"), "{sdp}");
    }

    #[test]
    fn inbound_answer_without_a_common_codec_says_what_was_offered() {
        let g729 = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 18 101\r\n\
                    a=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
        let err = answer(&[Codec::Pcmu, Codec::Pcma], g729).expect_err("G.729 only");
        assert!(matches!(err, MediaError::NoCommonCodec(_)), "{err}");
        assert_eq!(
            err.to_string(),
            "no common codec: the carrier offered G729/8000 (18); \
             this carrier is configured for PCMU, PCMA"
        );
        // G.711 offered, but not the law this carrier is configured for.
        let pcma = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 8\r\n";
        assert!(matches!(
            answer(&[Codec::Pcmu], pcma),
            Err(MediaError::NoCommonCodec(_))
        ));
        assert!(matches!(
            answer(&[], pcma),
            Err(MediaError::NoCommonCodec(_))
        ));
        let disabled = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 0 RTP/AVP 0\r\n";
        assert!(matches!(
            answer(&[Codec::Pcmu], disabled),
            Err(MediaError::NoCommonCodec(_))
        ));
        // No address, or a multicast one: the offer itself is bad.
        let no_c = "v=0\r\nm=audio 4000 RTP/AVP 0\r\n";
        let err = answer(&[Codec::Pcmu], no_c).expect_err("no c=");
        assert!(matches!(err, MediaError::BadOffer(_)), "{err}");
        assert_eq!(err.to_string(), "SDP offer not usable: carrier: no c= line");
        let multicast = "v=0\r\nc=IN IP4 224.2.1.1/127\r\nm=audio 4000 RTP/AVP 0\r\n";
        assert!(matches!(
            answer(&[Codec::Pcmu], multicast),
            Err(MediaError::BadOffer(_))
        ));
    }

    #[test]
    fn hostile_input_is_rejected_with_a_reason_not_a_panic() {
        let cases: &[(&str, &str)] = &[
            ("", "v="),
            ("garbage", "v="),
            ("v=0\r\n", "no m=audio"),
            ("v=0\r\nm=audio\r\n", "without a port"),
            ("v=0\r\nm=audio 99999 RTP/AVP 0\r\n", "not a number"),
            ("v=0\r\nm=audio 4000 UDP/TLS/RTP/SAVP 0\r\n", "DTLS-SRTP"),
            ("v=0\r\nm=audio 4000 TCP 0\r\n", "not RTP/AVP"),
            ("v=0\r\nm=audio 4000 RTP/AVP 300\r\n", "not a payload type"),
            ("v=0\r\nm=audio 4000 RTP/AVP\r\n", "no payload type"),
            (
                "v=0\r\nc=IN IP4 example.com\r\nm=audio 4000 RTP/AVP 0\r\n",
                "host names",
            ),
            ("v=0\r\nc=IN IP4 ::1\r\nm=audio 4000 RTP/AVP 0\r\n", "IP4"),
            ("v=0\r\nc=IN\r\nm=audio 4000 RTP/AVP 0\r\n", "IN IP4"),
            ("v=0\r\nno equals sign\r\n", "without `=`"),
        ];
        for (sdp, reason) in cases {
            let err = parse(sdp).expect_err(sdp);
            assert!(err.contains(reason), "{sdp:?}: {err}");
        }
        let huge = format!("v=0\r\n{}", "a=x\r\n".repeat(MAX_SDP_LEN));
        assert!(parse(&huge).expect_err("too big").contains("larger"));
        // Tolerated: odd rtpmaps, duplicate PTs, multi-byte text, bare LF, no c=.
        let odd = "v=0\nm=audio 4000 RTP/AVP 0 0 8\na=rtpmap:x\na=rtpmap:0 \u{1F600}/x\n\
                   a=rtpmap:200 PCMU/8000\na=ptime:abc\na=rtpmap:8\n";
        let d = parse(odd).expect("tolerated");
        assert_eq!(d.payload_types, [0, 8]);
        assert_eq!(d.ptime, None);
        assert!(matches!(
            negotiate(&leg(), &d),
            Err(MediaError::BadAnswer(_))
        ));
        // Arbitrary bytes (as text) never panic.
        const ALPHABET: &[u8] = b"v=0\r\nmc a:/ 0123456789IPN\x7f";
        let mut seed = 0x2545_f491_u32;
        for _ in 0..2000 {
            let len = (seed % 200) as usize;
            let text: String = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    ALPHABET[seed as usize % ALPHABET.len()] as char
                })
                .collect();
            if let Ok(d) = parse(&text) {
                let _ = negotiate(&leg(), &d);
                let _ = answer_offer(&[Codec::Pcmu, Codec::Pcma], &d);
            }
        }
    }
}
