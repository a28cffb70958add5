//! A bare SIP-over-WebSocket phone for tests and benchmarks that need many
//! calls without a browser: signs in over HTTP, REGISTERs with digest,
//! places calls with a canned WebRTC offer (the gateway's str0m answers it;
//! no ICE follows, so no audio), ACKs the 200 and hangs up.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::Gateway;
use crate::sip::{StreamEvent, WsPeer};

/// A WebRTC offer as Chromium writes it (trimmed to what str0m needs).
pub const OFFER: &str = "v=0\r\no=- 9055657906103917382 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0\r\na=msid-semantic: WMS s\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 8 126\r\n\
c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:TFkN\r\n\
a=ice-pwd:ws3Z+34xNjTse4UHd7pxyC7I\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 3D:2F:91:BE:B9:0F:0F:69:94:EE:72:AB:4E:98:56:91:03:E1:3E:6D:DE:D4:47:BB:EC:F7:82:B7:0A:58:56:3D\r\n\
a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=msid:s t\r\na=rtcp-mux\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:401344032 cname:bench\r\n";

/// One registered WebSocket flow of an agent.
pub struct Phone {
    ws: WsPeer,
    aor_user: String,
    host: String,
    seq: u32,
}

/// The first `name` header's value in a SIP message's text.
pub(crate) fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A response's status code; 0 for a request or anything else.
pub(crate) fn status(text: &str) -> u16 {
    if !text.starts_with("SIP/2.0 ") {
        return 0;
    }
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

impl Phone {
    /// Signs `username` in and registers a flow for it.
    pub async fn register(gateway: &Gateway, username: &str, password: &str) -> Result<Phone> {
        let session = gateway.sign_in(username, password).await?;
        let cred = session.info.sip.context("no SIP credential")?;
        let mut ws = WsPeer::connect(&gateway.ws_url()).await?;
        let aor_user = cred
            .aor
            .strip_prefix("sip:")
            .and_then(|a| a.split('@').next())
            .context("AOR")?
            .to_owned();
        let host = cred.aor.split('@').nth(1).context("AOR host")?.to_owned();
        let register = |auth: &str, cseq: u32| {
            format!(
                "REGISTER sip:{host} SIP/2.0\r\nVia: SIP/2.0/WSS bench.invalid;branch=z9hG4bKreg{cseq}\r\n\
                 Max-Forwards: 70\r\nFrom: <{aor}>;tag=benchreg\r\nTo: <{aor}>\r\nCall-ID: bench-reg\r\n\
                 CSeq: {cseq} REGISTER\r\nContact: <sip:bench@bench.invalid;transport=ws>;expires=600\r\n\
                 {auth}Content-Length: 0\r\n\r\n",
                aor = cred.aor
            )
        };
        let first = ws
            .exchange(register("", 1).as_bytes(), Duration::from_secs(5))
            .await?;
        let challenge = first
            .headers("WWW-Authenticate")
            .iter()
            .filter_map(|v| shared::sip::digest::Challenge::parse(v).ok())
            .find(|c| c.algorithm == shared::sip::digest::Algorithm::Sha256)
            .context("a SHA-256 challenge")?;
        let answer = shared::sip::digest::answer(
            &challenge,
            "REGISTER",
            &format!("sip:{host}"),
            &cred.username,
            &cred.password,
            "benchcnonce",
            1,
        );
        let auth = format!("Authorization: {}\r\n", answer.to_header_value());
        let ok = ws
            .exchange(register(&auth, 2).as_bytes(), Duration::from_secs(5))
            .await?;
        if ok.status != 200 {
            bail!("REGISTER answered {}: {}", ok.status, ok.text);
        }
        Ok(Phone {
            ws,
            aor_user,
            host,
            seq: 0,
        })
    }

    /// One call to `number`: INVITE, the time to the first 180/183, then
    /// the 200 is ACKed and the call hung up at once.
    pub async fn call(&mut self, number: &str) -> Result<Duration> {
        let (pdd, dialog) = self.call_and_hold(number).await?;
        self.hang_up(dialog).await?;
        Ok(pdd)
    }

    /// Places a call and leaves it up; [`Phone::hang_up`] ends it.
    pub async fn call_and_hold(&mut self, number: &str) -> Result<(Duration, Dialog)> {
        self.seq += 1;
        let call_id = crate::sip::unique("wsphone");
        let invite = format!(
            "INVITE sip:{number}@{host} SIP/2.0\r\nVia: SIP/2.0/WSS bench.invalid;branch=z9hG4bKinv{seq}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{user}@{host}>;tag=b{seq}\r\nTo: <sip:{number}@{host}>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:bench@bench.invalid;transport=ws>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{OFFER}",
            host = self.host,
            user = self.aor_user,
            seq = self.seq,
            len = OFFER.len(),
        );
        let sent = Instant::now();
        self.ws.send(invite.as_bytes()).await?;
        let mut pdd = None;
        loop {
            let text = match self.ws.recv(Duration::from_secs(10)).await? {
                StreamEvent::Message(m) => String::from_utf8_lossy(&m).into_owned(),
                other => bail!("no answer to the INVITE: {other:?}"),
            };
            if !text.starts_with("SIP/2.0") || header(&text, "Call-ID") != Some(call_id.as_str()) {
                continue;
            }
            match status(&text) {
                180 | 183 if pdd.is_none() => pdd = Some(sent.elapsed()),
                200 => {
                    let to = header(&text, "To").unwrap_or_default().to_owned();
                    let dialog = Dialog {
                        call_id: call_id.clone(),
                        from: format!("<sip:{}@{}>;tag=b{}", self.aor_user, self.host, self.seq),
                        to,
                    };
                    self.in_dialog(&dialog, "ACK", 1).await?;
                    return Ok((pdd.context("200 without a 180 first")?, dialog));
                }
                code if code >= 300 => bail!("the call failed: {text}"),
                _ => {}
            }
        }
    }
}

/// An answered call of a [`Phone`].
pub struct Dialog {
    call_id: String,
    from: String,
    to: String,
}

impl Phone {
    async fn in_dialog(&mut self, dialog: &Dialog, method: &str, cseq: u32) -> Result<()> {
        let req = format!(
            "{method} sip:gw@{host};transport=ws SIP/2.0\r\nVia: SIP/2.0/WSS bench.invalid;branch=z9hG4bK{method}{cseq}{id}\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {id}\r\nCSeq: {cseq} {method}\r\n\
             Content-Length: 0\r\n\r\n",
            host = self.host,
            from = dialog.from,
            to = dialog.to,
            id = dialog.call_id,
        );
        self.ws.send(req.as_bytes()).await
    }

    /// BYE, and its 200.
    pub async fn hang_up(&mut self, dialog: Dialog) -> Result<()> {
        self.in_dialog(&dialog, "BYE", 2).await?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let StreamEvent::Message(m) = self.ws.recv(Duration::from_secs(1)).await? {
                let text = String::from_utf8_lossy(&m);
                if text.starts_with("SIP/2.0")
                    && header(&text, "Call-ID") == Some(dialog.call_id.as_str())
                {
                    return Ok(());
                }
            }
        }
        bail!("no answer to the BYE")
    }
}
