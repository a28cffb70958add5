//! SIP over UDP: one receive loop feeding the core.

use std::sync::Arc;

use shared::sip::Transport;
use tokio::net::UdpSocket;
use tracing::warn;

use super::{CoreInput, SipHandle};
use crate::sip::core::Source;

/// Largest datagram read; bigger ones arrive truncated and are refused by
/// the message layer's size limit.
const MAX_DATAGRAM: usize = 65_535;

pub async fn receive_loop(socket: Arc<UdpSocket>, core: SipHandle) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let bans = core.bans();
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((len, peer)) => {
                // Keep-alives (RFC 5626 CRLF pings) carry no message; a
                // banned source's datagrams never reach the core (the
                // cheap path while a flood goes on).
                if buf[..len].iter().all(|b| matches!(b, b'\r' | b'\n'))
                    || bans.refuses(peer.ip(), super::now().unix)
                {
                    continue;
                }
                let source = Source {
                    transport: Transport::Udp,
                    peer,
                    conn: None,
                };
                core.send(CoreInput::Message {
                    source,
                    bytes: buf[..len].to_vec(),
                })
                .await;
            }
            // ICMP port-unreachable from an earlier send shows up here on
            // some systems; it concerns that peer only.
            Err(e) => warn!("UDP receive: {e}"),
        }
    }
}
