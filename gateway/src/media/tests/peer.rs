//! A test browser for inbound calls: a full-ICE str0m `Rtc` on its own
//! loopback socket that takes the gateway's offer and answers it, the way a
//! ringing tab does when the agent picks up.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction as Str0mDirection, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Event, Input, Output, Rtc};
use tokio::net::UdpSocket;

/// An RTP packet the peer received: payload type and payload.
pub type Seen = (u8, Vec<u8>);

pub struct Peer {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    pub mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    pub received: Vec<Seen>,
    pub connected: bool,
    seq: u64,
    buf: Vec<u8>,
}

impl Peer {
    /// A browser that can do PCMU, PCMA and telephone-event/8000.
    pub async fn new() -> Peer {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("peer socket");
        let local = socket.local_addr().expect("peer address");
        Peer {
            // Its own telephone-event PT is 126; as answerer it takes ours.
            rtc: super::browser_rtc(local),
            socket,
            local,
            mid: None,
            pending: None,
            received: Vec::new(),
            connected: false,
            seq: 1000,
            buf: vec![0; 2048],
        }
    }

    /// Accepts the gateway's offer; returns the SDP answer. ICE checks start
    /// at once (like a browser after setLocalDescription).
    pub fn answer(&mut self, offer: &str) -> String {
        let offer = SdpOffer::from_sdp_string(offer).expect("the gateway's offer parses");
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .expect("the gateway's offer is acceptable");
        self.mid = answer
            .media_lines
            .iter()
            .map(|line| line.mid())
            .find(|mid| self.rtc.media(*mid).is_some());
        assert!(self.mid.is_some(), "an audio m-line");
        self.flush();
        answer.to_sdp_string()
    }

    /// A re-offer with our direction changed (hold: SendOnly).
    pub fn reoffer(&mut self, direction: Str0mDirection) -> String {
        let mut change = self.rtc.sdp_api();
        change.set_direction(self.mid.expect("media"), direction);
        let (offer, pending) = change.apply().expect("a change to offer");
        self.pending = Some(pending);
        self.flush();
        offer.to_sdp_string()
    }

    pub fn accept_answer(&mut self, answer: &str) {
        let answer = SdpAnswer::from_sdp_string(answer).expect("answer parses");
        let pending = self.pending.take().expect("an offer was made");
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("answer accepted");
        self.flush();
    }

    pub fn direction(&self) -> Str0mDirection {
        self.rtc
            .media(self.mid.expect("media"))
            .expect("media")
            .direction()
    }

    pub fn send_rtp(&mut self, pt: u8, ts: u32, payload: &[u8]) {
        let mid = self.mid.expect("media");
        self.seq += 1;
        let seq = self.seq;
        let mut api = self.rtc.direct_api();
        let stream = api.stream_tx_by_mid(mid, None).expect("send stream");
        stream.write_rtp(RtpWrite::new(
            pt.into(),
            seq.into(),
            ts,
            Instant::now(),
            payload.to_vec(),
        ));
        self.flush();
    }

    /// Drains output and feeds due timeouts; returns the next deadline.
    fn flush(&mut self) -> Instant {
        for _ in 0..64 {
            let timeout = loop {
                match self.rtc.poll_output().expect("peer output") {
                    Output::Timeout(t) => break t,
                    Output::Transmit(t) => {
                        let _ = self.socket.try_send_to(&t.contents, t.destination);
                    }
                    Output::Event(Event::Connected) => self.connected = true,
                    Output::Event(Event::RtpPacket(p)) => self
                        .received
                        .push((*p.header.payload_type, p.payload.to_vec())),
                    Output::Event(_) => {}
                }
            };
            let now = Instant::now();
            if timeout > now {
                return timeout;
            }
            self.rtc
                .handle_input(Input::Timeout(now))
                .expect("peer timeout");
        }
        Instant::now() + Duration::from_millis(1)
    }

    /// Runs the peer for at most `limit`, until `done` holds.
    pub async fn pump_until(&mut self, limit: Duration, done: impl Fn(&Peer) -> bool) -> bool {
        let end = Instant::now() + limit;
        loop {
            let timeout = self.flush();
            if done(self) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            tokio::select! {
                r = self.socket.recv_from(&mut self.buf) => {
                    let (n, source) = r.expect("peer recv");
                    if let Ok(contents) = self.buf[..n].try_into() {
                        let input = Input::Receive(
                            Instant::now(),
                            Receive {
                                proto: Protocol::Udp,
                                source,
                                destination: self.local,
                                contents,
                            },
                        );
                        self.rtc.handle_input(input).expect("peer input");
                    }
                }
                () = tokio::time::sleep_until(timeout.min(end).into()) => {}
            }
        }
    }

    pub async fn pump(&mut self, duration: Duration) {
        self.pump_until(duration, |_| false).await;
    }
}

/// The kind str0m gave the negotiated m-line (a sanity check for tests).
pub fn is_audio(peer: &Peer) -> bool {
    peer.mid
        .and_then(|mid| peer.rtc.media(mid))
        .is_some_and(|m| m.kind() == MediaKind::Audio)
}
