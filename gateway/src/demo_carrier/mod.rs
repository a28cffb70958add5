//! The built-in demo carrier: a small SIP UAS and RTP endpoint, so that a
//! fresh install can place calls with no real trunk. It is for the run
//! command to start on loopback (on a fresh database) and point a carrier
//! entry at: a new user dials any number, hears it ring, then a short
//! chime, then their own voice.
//!
//! It is a real peer, not a shortcut: it runs as tokio tasks in the gateway
//! process but shares nothing with the gateway except UDP datagrams on its
//! own sockets (one for SIP, one per call for RTP), exactly as a carrier
//! would. That is why it, and not only `gateway/src/media`, owns RTP
//! sockets: it is on the other side of the wire.
//!
//! ```text
//!   gateway (UAC)                          demo carrier (UAS)
//!      | INVITE (SDP offer: PCMU/PCMA, telephone-event) |
//!      |----------------------------------------------->|
//!      |<------------------------------------ 100 Trying|
//!      |<----------------------------------- 180 Ringing|  To tag, Contact
//!      |             ... answer_delay ...                |
//!      |<------------------------- 200 OK (SDP answer)  |  resent T1, 2·T1, … ≤ T2
//!      |ACK -------------------------------------------->|  until the ACK (64·T1: BYE)
//!      |<==== RTP: 1.5 s prompt (silence, two-tone chime) |
//!      |==== RTP ====================================>   |
//!      |<=================== the same packets, echoed ===|  after the prompt
//!      |re-INVITE a=sendonly --------------------------->|  hold: answer recvonly,
//!      |<---------------------------- 200 OK (recvonly) |  stop sending
//!      |BYE -------------------------------------------->|
//!      |<--------------------------------------- 200 OK |  media stops
//! ```
//!
//! Failure paths on demand, by the last three digits of the Request-URI's
//! user part (other characters are ignored, so `+1 555 0100-486` counts):
//!
//! | ends in | answer                                                      |
//! |---------|-------------------------------------------------------------|
//! | `486`   | 486 Busy Here                                               |
//! | `404`   | 404 Not Found                                               |
//! | `480`   | 480 Temporarily Unavailable                                 |
//! | `503`   | 503 Service Unavailable                                     |
//! | `408`   | 100, 180, then rings until the caller cancels or gives up   |
//!
//! Also: CANCEL while ringing → 200, then 487 to the INVITE; BYE → 200 and
//! the media stops; re-INVITE → 200 with a new answer (`sendonly` →
//! `recvonly`, `inactive` → `inactive`, `c=0.0.0.0` likewise stops our
//! sending); OPTIONS → 200; a request for a dialog it does not have → 481;
//! an INVITE without SDP → 488 (no delayed offer); a call ends itself after
//! [`MAX_CALL_DURATION`] (a BYE, or 480 if still ringing).
//!
//! Media ([`media`]): the first common codec of the offer's order among
//! PCMU and PCMA, plus telephone-event with the offer's payload type. The
//! prompt is generated G.711 in 20 ms packets with the carrier's own SSRC,
//! sequence numbers and timestamps. After it, every RTP packet received with
//! the call's audio *or telephone-event* payload type is echoed back,
//! re-stamped as a continuation of the carrier's stream (DTMF is echoed too:
//! a peer that watches its inbound RTP can see its digits came through).
//! Packets received during the prompt are not echoed. RTP is symmetric: it
//! goes to the source of the last RTP packet received, before any to the
//! offer's `c=`/`m=` address. No RTCP.
//!
//! Module map: [`uas`] is the sans-IO SIP side (calls, transactions),
//! [`media`] the sans-IO RTP side plus its small per-call task, [`sdp`] and
//! [`g711`] what they need; this file is the I/O shell that owns the SIP
//! socket and spawns the media tasks. Bytes from the network go through
//! `shared::sip::inbound`; nothing on that path unwraps.

pub mod g711;
pub mod media;
pub mod sdp;
pub mod uas;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use shared::sip::transaction::Timers;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use self::media::MediaCommand;
pub use self::uas::MAX_CALL_DURATION;
use self::uas::{Uas, UasConfig, UasEvent};

/// Where the demo carrier listens and how it behaves.
#[derive(Debug, Clone)]
pub struct DemoCarrierConfig {
    /// Address for the SIP socket and every RTP socket; 127.0.0.1.
    pub bind_ip: IpAddr,
    /// SIP UDP port; 0 picks a free one (see [`DemoCarrier::sip_addr`]).
    pub sip_port: u16,
    /// How long a call rings before it is answered.
    pub answer_delay: Duration,
}

impl Default for DemoCarrierConfig {
    fn default() -> Self {
        DemoCarrierConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            sip_port: 0,
            answer_delay: Duration::from_secs(1),
        }
    }
}

/// A running demo carrier. Dropping it (or [`DemoCarrier::stop`]) stops
/// its tasks; calls in progress end without a BYE.
#[derive(Debug)]
pub struct DemoCarrier {
    /// Where to send INVITEs: `sip:<number>@<sip_addr>`, UDP.
    pub sip_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl DemoCarrier {
    /// Stops the carrier. Its media tasks end with it (their command
    /// channels close).
    pub fn stop(self) {
        // Drop does the work.
    }

    /// Stops the carrier and waits until its SIP task has ended.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for DemoCarrier {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds the SIP socket and starts the carrier's task.
pub async fn start(config: DemoCarrierConfig) -> std::io::Result<DemoCarrier> {
    let socket = UdpSocket::bind(SocketAddr::new(config.bind_ip, config.sip_port)).await?;
    let sip_addr = socket.local_addr()?;
    let uas = Uas::new(UasConfig {
        local: sip_addr,
        answer_delay: config.answer_delay,
        timers: Timers::default(),
        seed: rand::random(),
    });
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(run(socket, config.bind_ip, uas, stopped));
    info!(%sip_addr, "demo carrier listening (SIP over UDP)");
    Ok(DemoCarrier {
        sip_addr,
        stop: Some(stop),
        task,
    })
}

/// The shell: one loop over the SIP socket, the UAS's next deadline and
/// the stop signal; media tasks are spawned and told what to do from here.
async fn run(socket: UdpSocket, bind_ip: IpAddr, mut uas: Uas, mut stopped: oneshot::Receiver<()>) {
    let mut media: HashMap<uas::CallId, mpsc::UnboundedSender<MediaCommand>> = HashMap::new();
    let mut buf = vec![0u8; 65_535];
    loop {
        drive(&socket, bind_ip, &mut uas, &mut media).await;
        let deadline = uas.poll_timeout();
        tokio::select! {
            _ = &mut stopped => break,
            received = socket.recv_from(&mut buf) => match received {
                Ok((len, from)) => {
                    let bytes = buf.get(..len).unwrap_or_default();
                    // RFC 5626 keep-alives carry no message.
                    if !bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
                        uas.handle_datagram(Instant::now(), from, bytes);
                    }
                }
                // ICMP port-unreachable from an earlier send, on some systems.
                Err(e) => debug!("demo carrier: SIP receive: {e}"),
            },
            () = sleep_until(deadline) => uas.handle_timeout(Instant::now()),
        }
    }
    debug!("demo carrier stopped");
}

/// Sends what the UAS wants sent and acts on its events, until it has
/// nothing more to say.
async fn drive(
    socket: &UdpSocket,
    bind_ip: IpAddr,
    uas: &mut Uas,
    media: &mut HashMap<uas::CallId, mpsc::UnboundedSender<MediaCommand>>,
) {
    loop {
        while let Some(t) = uas.poll_transmit() {
            if let Err(e) = socket.send_to(&t.bytes, t.to).await {
                debug!(to = %t.to, "demo carrier: SIP send: {e}");
            }
        }
        let Some(event) = uas.poll_event() else {
            return;
        };
        match event {
            UasEvent::AnswerDue(call) => {
                let bound = match UdpSocket::bind(SocketAddr::new(bind_ip, 0)).await {
                    Ok(rtp) => rtp.local_addr().map(|local| (rtp, local)),
                    Err(e) => Err(e),
                };
                match bound {
                    Ok((rtp, local)) => {
                        // False when the call went away meanwhile: the
                        // socket is simply dropped.
                        if uas.accept(Instant::now(), call, local) {
                            let (tx, rx) = mpsc::unbounded_channel();
                            tokio::spawn(media::run(rtp, rx));
                            media.insert(call, tx);
                        }
                    }
                    Err(e) => {
                        warn!("demo carrier: cannot bind an RTP socket: {e}");
                        uas.reject(Instant::now(), call, 503);
                    }
                }
            }
            UasEvent::Media { call, params } => {
                if let Some(tx) = media.get(&call) {
                    let _ = tx.send(MediaCommand::Update(params));
                }
            }
            UasEvent::Ended(call) => {
                // Dropping the sender ends the media task.
                media.remove(&call);
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
