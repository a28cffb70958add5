//! Just enough SDP (RFC 4566, offer/answer per RFC 3264) for the demo
//! carrier: read an offer's first `RTP/AVP` audio stream, pick G.711 and
//! telephone-event from it, and write the answer.
//!
//! Every `m=` line of the offer gets one in the answer (RFC 3264 §6); all
//! but the first usable audio stream are refused with port 0.

use std::net::{IpAddr, SocketAddr};

use super::g711::Law;

/// Which way media flows (RFC 4566 §6), from the point of view of the side
/// that wrote the SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// RFC 3264 §6.1: the answer mirrors the offer.
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    /// Whether the side that wrote this direction sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn parse(attribute: &str) -> Option<Direction> {
        match attribute {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// One `m=` line of an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MediaLine {
    media: String,
    port: u16,
    proto: String,
    formats: Vec<String>,
}

/// What the carrier uses from an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    lines: Vec<MediaLine>,
    /// Index into `lines` of the stream we answer.
    audio: usize,
    /// Where the offerer wants RTP; `None` for port 0 or the RFC 2543 hold
    /// address `0.0.0.0`.
    pub remote: Option<SocketAddr>,
    /// The G.711 law and its payload type, the first of the offer's order.
    pub law: Law,
    pub payload_type: u8,
    /// The offer's telephone-event/8000 payload type, if any.
    pub telephone_event: Option<u8>,
    /// The offerer's direction (media level over session level).
    pub direction: Direction,
}

/// Why an offer cannot be answered; the INVITE gets 488.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("SDP is not UTF-8")]
    NotUtf8,
    #[error("no RTP/AVP audio stream")]
    NoAudio,
    #[error("no PCMU or PCMA in the audio stream")]
    NoCommonCodec,
}

impl Offer {
    pub fn parse(body: &[u8]) -> Result<Offer, SdpError> {
        let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
        let mut lines = Vec::new();
        let mut session_ip: Option<IpAddr> = None;
        let mut session_direction = Direction::SendRecv;
        // Per m-line: connection address, direction, rtpmaps.
        let mut media_ip: Vec<Option<IpAddr>> = Vec::new();
        let mut media_direction: Vec<Option<Direction>> = Vec::new();
        let mut rtpmaps: Vec<Vec<(String, String)>> = Vec::new();

        for line in text.lines() {
            let line = line.trim_end();
            let Some((kind, value)) = line.split_once('=') else {
                continue;
            };
            let in_media = !lines.is_empty();
            match kind {
                "m" => {
                    let mut parts = value.split_whitespace();
                    let (Some(media), Some(port), Some(proto)) =
                        (parts.next(), parts.next(), parts.next())
                    else {
                        continue;
                    };
                    // `port/count` (RFC 4566 §5.14): only the first port matters.
                    let port = port.split('/').next().unwrap_or("").parse().unwrap_or(0);
                    lines.push(MediaLine {
                        media: media.to_owned(),
                        port,
                        proto: proto.to_owned(),
                        formats: parts.map(str::to_owned).collect(),
                    });
                    media_ip.push(None);
                    media_direction.push(None);
                    rtpmaps.push(Vec::new());
                }
                "c" => {
                    // c=IN IP4 192.0.2.1[/ttl]
                    let ip = value
                        .split_whitespace()
                        .nth(2)
                        .and_then(|a| a.split('/').next())
                        .and_then(|a| a.parse().ok());
                    match media_ip.last_mut() {
                        Some(slot) if in_media => *slot = ip,
                        _ => session_ip = ip,
                    }
                }
                "a" => {
                    if let Some(direction) = Direction::parse(value) {
                        match media_direction.last_mut() {
                            Some(slot) if in_media => *slot = Some(direction),
                            _ => session_direction = direction,
                        }
                    } else if let Some(map) = value.strip_prefix("rtpmap:")
                        && let Some((pt, encoding)) = map.split_once(' ')
                        && let Some(slot) = rtpmaps.last_mut()
                    {
                        slot.push((pt.trim().to_owned(), encoding.trim().to_owned()));
                    }
                }
                _ => {}
            }
        }

        let mut found = None;
        for (i, line) in lines.iter().enumerate() {
            if line.media != "audio" || line.proto != "RTP/AVP" || line.port == 0 {
                continue;
            }
            if let Some(choice) = choose(&line.formats, &rtpmaps[i]) {
                found = Some((i, choice));
                break;
            }
        }
        let Some((audio, (law, payload_type, telephone_event))) = found else {
            let any_audio = lines
                .iter()
                .any(|l| l.media == "audio" && l.proto == "RTP/AVP" && l.port != 0);
            return Err(if any_audio {
                SdpError::NoCommonCodec
            } else {
                SdpError::NoAudio
            });
        };
        let ip = media_ip[audio].or(session_ip);
        let remote = ip
            .filter(|ip| !ip.is_unspecified())
            .map(|ip| SocketAddr::new(ip, lines[audio].port));
        Ok(Offer {
            audio,
            remote,
            law,
            payload_type,
            telephone_event,
            direction: media_direction[audio].unwrap_or(session_direction),
            lines,
        })
    }

    /// Whether we may send to the offerer: it receives (its direction) and
    /// gave a real address (`c=0.0.0.0` is RFC 2543 hold).
    pub fn we_send(&self) -> bool {
        self.direction.answer().sends() && self.remote.is_some()
    }

    /// The answer, from `local` (our RTP address). `session_version` must
    /// grow with each new answer in the dialog (RFC 3264 §8).
    pub fn answer(&self, local: SocketAddr, session_id: u64, session_version: u64) -> String {
        let ip_kind = if local.is_ipv4() { "IP4" } else { "IP6" };
        let ip = local.ip();
        let mut sdp = format!(
            "v=0\r\no=demo-carrier {session_id} {session_version} IN {ip_kind} {ip}\r\n\
             s=demo carrier\r\nc=IN {ip_kind} {ip}\r\nt=0 0\r\n"
        );
        for (i, line) in self.lines.iter().enumerate() {
            if i != self.audio {
                let format = line.formats.first().map_or("0", String::as_str);
                sdp.push_str(&format!("m={} 0 {} {format}\r\n", line.media, line.proto));
                continue;
            }
            let pt = self.payload_type;
            match self.telephone_event {
                Some(te) => {
                    sdp.push_str(&format!("m=audio {} RTP/AVP {pt} {te}\r\n", local.port()))
                }
                None => sdp.push_str(&format!("m=audio {} RTP/AVP {pt}\r\n", local.port())),
            }
            sdp.push_str(&format!("a=rtpmap:{pt} {}/8000\r\n", self.law.name()));
            if let Some(te) = self.telephone_event {
                sdp.push_str(&format!(
                    "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\n"
                ));
            }
            sdp.push_str("a=ptime:20\r\n");
            sdp.push_str(&format!("a={}\r\n", self.direction.answer().attribute()));
        }
        sdp
    }
}

/// The first G.711 format in the offer's order, and telephone-event/8000.
/// Static payload types 0 and 8 need no rtpmap (RFC 3551); a dynamic one
/// counts when its rtpmap names PCMU or PCMA at 8000 Hz.
fn choose(formats: &[String], rtpmaps: &[(String, String)]) -> Option<(Law, u8, Option<u8>)> {
    let encoding = |pt: &str| -> Option<String> {
        rtpmaps
            .iter()
            .find(|(p, _)| p == pt)
            .map(|(_, e)| e.to_ascii_lowercase())
    };
    let mut codec = None;
    let mut telephone_event = None;
    for format in formats {
        let Ok(pt) = format.parse::<u8>() else {
            continue;
        };
        if pt > 127 {
            continue;
        }
        let name = encoding(format);
        let law = match (pt, name.as_deref()) {
            (_, Some(n)) if n.starts_with("pcmu/8000") => Some(Law::Mu),
            (_, Some(n)) if n.starts_with("pcma/8000") => Some(Law::A),
            (0, None) => Some(Law::Mu),
            (8, None) => Some(Law::A),
            _ => None,
        };
        if let Some(law) = law {
            codec.get_or_insert((law, pt));
        }
        if name
            .as_deref()
            .is_some_and(|n| n.starts_with("telephone-event/8000"))
        {
            telephone_event.get_or_insert(pt);
        }
    }
    let (law, pt) = codec?;
    Some((law, pt, telephone_event))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GATEWAY_OFFER: &str = "v=0\r\no=gw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
        t=0 0\r\nm=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";

    #[test]
    fn picks_the_first_g711_of_the_offer_and_its_telephone_event() {
        let offer = Offer::parse(GATEWAY_OFFER.as_bytes()).expect("valid offer");
        assert_eq!(offer.law, Law::A);
        assert_eq!(offer.payload_type, 8);
        assert_eq!(offer.telephone_event, Some(101));
        assert_eq!(
            offer.remote,
            Some("127.0.0.1:40000".parse().expect("address"))
        );
        assert!(offer.we_send());
        let answer = offer.answer("127.0.0.1:5000".parse().expect("address"), 7, 8);
        assert!(
            answer.contains("m=audio 5000 RTP/AVP 8 101\r\n"),
            "{answer}"
        );
        assert!(
            answer.contains("a=rtpmap:101 telephone-event/8000\r\n"),
            "{answer}"
        );
        assert!(
            answer.contains("o=demo-carrier 7 8 IN IP4 127.0.0.1\r\n"),
            "{answer}"
        );
        assert!(answer.contains("a=sendrecv\r\n"), "{answer}");
    }

    #[test]
    fn hold_is_answered_recvonly_and_stops_our_sending() {
        let held =
            GATEWAY_OFFER.replace("a=fmtp:101 0-16\r\n", "a=fmtp:101 0-16\r\na=sendonly\r\n");
        let offer = Offer::parse(held.as_bytes()).expect("valid offer");
        assert_eq!(offer.direction, Direction::SendOnly);
        assert!(!offer.we_send());
        let answer = offer.answer("127.0.0.1:5000".parse().expect("address"), 1, 2);
        assert!(answer.contains("a=recvonly\r\n"), "{answer}");

        let old_style = GATEWAY_OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
        let offer = Offer::parse(old_style.as_bytes()).expect("valid offer");
        assert!(!offer.we_send());
    }

    #[test]
    fn other_streams_are_refused_with_port_zero() {
        let sdp = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=video 4000 RTP/AVP 96\r\n\
                   m=audio 4002 RTP/AVP 0\r\n";
        let offer = Offer::parse(sdp.as_bytes()).expect("valid offer");
        assert_eq!(offer.telephone_event, None);
        let answer = offer.answer("127.0.0.1:5000".parse().expect("address"), 1, 1);
        let m_lines: Vec<&str> = answer.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(m_lines, ["m=video 0 RTP/AVP 96", "m=audio 5000 RTP/AVP 0"]);
    }

    #[test]
    fn unusable_offers() {
        let opus = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n";
        assert_eq!(Offer::parse(opus.as_bytes()), Err(SdpError::NoCommonCodec));
        let webrtc = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n";
        assert_eq!(Offer::parse(webrtc.as_bytes()), Err(SdpError::NoAudio));
        assert_eq!(Offer::parse(b"\xff\xfe"), Err(SdpError::NotUtf8));
        assert_eq!(
            Offer::parse(b"m=audio 99999999 RTP/AVP 0"),
            Err(SdpError::NoAudio)
        );
        assert_eq!(Offer::parse(b""), Err(SdpError::NoAudio));
    }
}
