//! The SIP driver's connection table (sans-IO): which writer each stream
//! connection has, which connection reaches each TCP or TLS carrier, what
//! each of the core's transmits becomes, and what the core must hear when a
//! connection cannot be made, stops reading or closes. No sockets, no tasks,
//! no clock: the driver ([`super::driver`]) feeds it inputs and performs the
//! [`Action`]s it hands out with [`ConnTable::poll_action`].
//!
//! ```text
//!  transmit(Udp(addr))    ──► SendUdp (from the socket of addr's family)
//!  transmit(Conn(c))      ──► Write on c's writer | Dropped (c is gone)
//!  transmit(Tcp/Tls(addr)):
//!     a link to addr      ──► Write on it (queued here while connecting)
//!     none                ──► Connect { new conn }, bytes queued here
//!     TLS, no settings    ──► TransportFailed
//!  connected(c, writer)   ──► Write for every byte string queued for c
//!  connect_failed(c, why) ──► TransportFailed (c's carrier), link forgotten
//!  write_refused(c)       ──► TransportFailed (if c is a link) + ConnectionClosed
//!  closed(c)              ──► ConnectionClosed, link forgotten
//! ```
//!
//! `W` is a connection's writer (the driver's per-connection queue; a label
//! in the tests). A connection the table opened and lost (closed, refused
//! or failed) is forgotten; the next transmit to that carrier opens a new one.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use super::tls::TlsTarget;
use crate::sip::ConnId;
use crate::sip::core::Destination;

/// Why the core hears that a carrier's connection failed when it stops
/// taking our bytes.
pub const NOT_READING: &str = "the carrier's connection is not reading";

/// Why a transmit to a TLS address the routes do not name fails.
pub const NO_TLS_SETTINGS: &str = "no TLS settings for this address";

/// One of the gateway's SIP UDP sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpSocketId {
    /// The main socket (the family of `--sip-udp`).
    Main,
    /// A dual-stack gateway's IPv6 socket (`--sip-udp6`).
    Ipv6,
}

/// What the driver does for the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<W> {
    /// Send a datagram from `socket` to `to`.
    SendUdp {
        socket: UdpSocketId,
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    /// Queue `bytes` on the connection's writer, without waiting; a writer
    /// that will not take them is reported with
    /// [`ConnTable::write_refused`].
    Write {
        conn: ConnId,
        writer: W,
        bytes: Vec<u8>,
    },
    /// Open a connection toward a carrier, known as `conn` (over TLS with
    /// `tls`, else plain TCP). Report its writer with
    /// [`ConnTable::connected`] (the bytes for it wait here until then) and
    /// a connection that cannot be made with [`ConnTable::connect_failed`].
    Connect {
        conn: ConnId,
        addr: SocketAddr,
        tls: Option<TlsTarget>,
    },
    /// Tell the core the connection is gone (`SipCore::connection_closed`).
    ConnectionClosed(ConnId),
    /// Tell the core nothing can be sent to `dest`
    /// (`SipCore::transport_failed`).
    TransportFailed { dest: Destination, reason: String },
    /// Bytes for a connection that is gone were dropped (a response to a
    /// closed WebSocket, say): nothing to do but log it.
    Dropped { conn: ConnId },
}

/// A connection toward a carrier, keyed by what the core sends to: a TLS
/// and a plain TCP carrier on one address are two connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Link {
    Tcp(SocketAddr),
    Tls(SocketAddr),
}

impl Link {
    fn dest(self) -> Destination {
        match self {
            Link::Tcp(addr) => Destination::Tcp(addr),
            Link::Tls(addr) => Destination::Tls(addr),
        }
    }
}

pub struct ConnTable<W> {
    /// Whether there is an IPv6 UDP socket besides the main one.
    dual_stack: bool,
    /// The writer of every open connection, accepted or opened by us.
    writers: HashMap<ConnId, W>,
    /// Connections we opened toward carriers (open or still connecting).
    links: HashMap<Link, ConnId>,
    /// The same, the other way round.
    link_of: HashMap<ConnId, Link>,
    /// Bytes for connections being opened, until their writer is known.
    queued: HashMap<ConnId, Vec<Vec<u8>>>,
    /// Server names and pinned CAs of TLS carriers, by address.
    tls: HashMap<SocketAddr, TlsTarget>,
    actions: VecDeque<Action<W>>,
}

impl<W: Clone> ConnTable<W> {
    pub fn new(dual_stack: bool) -> Self {
        ConnTable {
            dual_stack,
            writers: HashMap::new(),
            links: HashMap::new(),
            link_of: HashMap::new(),
            queued: HashMap::new(),
            tls: HashMap::new(),
            actions: VecDeque::new(),
        }
    }

    /// The TLS carriers as the routes now name them. Open connections stay
    /// as they are; new ones use these settings.
    pub fn set_tls_targets(&mut self, targets: impl IntoIterator<Item = (SocketAddr, TlsTarget)>) {
        self.tls = targets.into_iter().collect();
    }

    /// A connection's writer: an accepted one (TCP, WebSocket), or one the
    /// table asked for with [`Action::Connect`]. Bytes waiting for it are
    /// handed out as writes, in order.
    pub fn connected(&mut self, conn: ConnId, writer: W) {
        for bytes in self.queued.remove(&conn).unwrap_or_default() {
            self.actions.push_back(Action::Write {
                conn,
                writer: writer.clone(),
                bytes,
            });
        }
        self.writers.insert(conn, writer);
    }

    /// The connection has closed (either side).
    pub fn closed(&mut self, conn: ConnId) {
        self.forget(conn);
        self.actions.push_back(Action::ConnectionClosed(conn));
    }

    /// A connection asked for with [`Action::Connect`] could not be made:
    /// what waits on that carrier fails now rather than at its timeout. A
    /// report about a connection already forgotten (and maybe replaced by a
    /// new one to the same carrier) changes nothing.
    pub fn connect_failed(&mut self, conn: ConnId, reason: &str) {
        if let Some(link) = self.forget(conn) {
            self.actions.push_back(Action::TransportFailed {
                dest: link.dest(),
                reason: reason.to_owned(),
            });
        }
    }

    /// The connection's writer would not take bytes (its queue is full: the
    /// peer does not read, or it has just closed). It is dropped rather
    /// than stall every other connection.
    pub fn write_refused(&mut self, conn: ConnId) {
        if let Some(link) = self.forget(conn) {
            self.actions.push_back(Action::TransportFailed {
                dest: link.dest(),
                reason: NOT_READING.to_owned(),
            });
        }
        self.actions.push_back(Action::ConnectionClosed(conn));
    }

    /// One of the core's transmits. `new_conn` names a connection the
    /// table decides to open (ids are shared with accepted connections).
    pub fn transmit(&mut self, to: Destination, bytes: Vec<u8>, new_conn: impl FnOnce() -> ConnId) {
        match to {
            Destination::Udp(addr) => {
                let socket = if self.dual_stack && addr.is_ipv6() {
                    UdpSocketId::Ipv6
                } else {
                    UdpSocketId::Main
                };
                self.actions.push_back(Action::SendUdp {
                    socket,
                    to: addr,
                    bytes,
                });
            }
            Destination::Conn(conn) => self.write(conn, bytes),
            Destination::Tcp(addr) => self.send_to_carrier(Link::Tcp(addr), bytes, new_conn),
            Destination::Tls(addr) => self.send_to_carrier(Link::Tls(addr), bytes, new_conn),
        }
    }

    pub fn poll_action(&mut self) -> Option<Action<W>> {
        self.actions.pop_front()
    }

    fn send_to_carrier(&mut self, link: Link, bytes: Vec<u8>, new_conn: impl FnOnce() -> ConnId) {
        if let Some(&conn) = self.links.get(&link) {
            self.write(conn, bytes);
            return;
        }
        let tls = match link {
            Link::Tcp(_) => None,
            Link::Tls(addr) => match self.tls.get(&addr) {
                Some(target) => Some(target.clone()),
                None => {
                    self.actions.push_back(Action::TransportFailed {
                        dest: link.dest(),
                        reason: NO_TLS_SETTINGS.to_owned(),
                    });
                    return;
                }
            },
        };
        let conn = new_conn();
        self.links.insert(link, conn);
        self.link_of.insert(conn, link);
        self.queued.insert(conn, vec![bytes]);
        let (Link::Tcp(addr) | Link::Tls(addr)) = link;
        self.actions.push_back(Action::Connect { conn, addr, tls });
    }

    fn write(&mut self, conn: ConnId, bytes: Vec<u8>) {
        if let Some(writer) = self.writers.get(&conn) {
            self.actions.push_back(Action::Write {
                conn,
                writer: writer.clone(),
                bytes,
            });
        } else if let Some(queue) = self.queued.get_mut(&conn) {
            queue.push(bytes);
        } else {
            self.actions.push_back(Action::Dropped { conn });
        }
    }

    /// Drops everything known about `conn`; its carrier link, if it was one.
    fn forget(&mut self, conn: ConnId) -> Option<Link> {
        self.writers.remove(&conn);
        self.queued.remove(&conn);
        let link = self.link_of.remove(&conn)?;
        self.links.remove(&link);
        Some(link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer in these tests is a label.
    type Table = ConnTable<&'static str>;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn actions(table: &mut Table) -> Vec<Action<&'static str>> {
        std::iter::from_fn(|| table.poll_action()).collect()
    }

    /// Hands out connection ids from 100 up, as the driver's counter does.
    struct Ids(u64);

    impl Ids {
        fn next(&mut self) -> impl FnOnce() -> ConnId + '_ {
            || {
                self.0 += 1;
                ConnId(self.0)
            }
        }
    }

    fn tls_target(name: &str) -> TlsTarget {
        TlsTarget {
            server_name: name.to_owned(),
            ca_pem: None,
        }
    }

    fn write(conn: u64, writer: &'static str, bytes: &[u8]) -> Action<&'static str> {
        Action::Write {
            conn: ConnId(conn),
            writer,
            bytes: bytes.to_vec(),
        }
    }

    fn connect(conn: u64, addr: SocketAddr, tls: Option<&str>) -> Action<&'static str> {
        Action::Connect {
            conn: ConnId(conn),
            addr,
            tls: tls.map(tls_target),
        }
    }

    #[test]
    fn udp_leaves_from_the_socket_of_the_peers_family() {
        let v4 = addr("192.0.2.1:5060");
        let v6 = addr("[2001:db8::1]:5060");
        let mut ids = Ids(100);
        for (dual_stack, peer, socket) in [
            (false, v4, UdpSocketId::Main),
            (false, v6, UdpSocketId::Main),
            (true, v4, UdpSocketId::Main),
            (true, v6, UdpSocketId::Ipv6),
        ] {
            let mut table = Table::new(dual_stack);
            table.transmit(Destination::Udp(peer), b"x".to_vec(), ids.next());
            assert_eq!(
                actions(&mut table),
                [Action::SendUdp {
                    socket,
                    to: peer,
                    bytes: b"x".to_vec()
                }],
                "dual stack {dual_stack}, peer {peer}"
            );
        }
        assert_eq!(ids.0, 100, "UDP opens no connection");
    }

    #[test]
    fn replies_go_to_the_connection_they_name_or_are_dropped() {
        let mut table = Table::new(false);
        let mut ids = Ids(100);
        table.connected(ConnId(7), "ws7");
        assert!(actions(&mut table).is_empty());
        table.transmit(Destination::Conn(ConnId(7)), b"200".to_vec(), ids.next());
        table.transmit(Destination::Conn(ConnId(8)), b"200".to_vec(), ids.next());
        assert_eq!(
            actions(&mut table),
            [write(7, "ws7", b"200"), Action::Dropped { conn: ConnId(8) }]
        );
        table.closed(ConnId(7));
        table.transmit(Destination::Conn(ConnId(7)), b"BYE".to_vec(), ids.next());
        assert_eq!(
            actions(&mut table),
            [
                Action::ConnectionClosed(ConnId(7)),
                Action::Dropped { conn: ConnId(7) }
            ]
        );
    }

    #[test]
    fn a_tcp_carrier_gets_one_connection_and_its_bytes_in_order() {
        let mut table = Table::new(false);
        let mut ids = Ids(100);
        let carrier = addr("192.0.2.9:5060");
        table.transmit(Destination::Tcp(carrier), b"INVITE".to_vec(), ids.next());
        // Before the driver has reported the writer, more bytes wait.
        table.transmit(Destination::Tcp(carrier), b"OPTIONS".to_vec(), ids.next());
        assert_eq!(actions(&mut table), [connect(101, carrier, None)]);
        table.connected(ConnId(101), "tcp101");
        table.transmit(Destination::Tcp(carrier), b"ACK".to_vec(), ids.next());
        // A request the carrier sent over it is answered over it too.
        table.transmit(Destination::Conn(ConnId(101)), b"200".to_vec(), ids.next());
        assert_eq!(
            actions(&mut table),
            [
                write(101, "tcp101", b"INVITE"),
                write(101, "tcp101", b"OPTIONS"),
                write(101, "tcp101", b"ACK"),
                write(101, "tcp101", b"200"),
            ]
        );
        assert_eq!(ids.0, 101, "one connection");
    }

    #[test]
    fn a_tls_carrier_is_reached_with_its_settings_and_apart_from_tcp() {
        let mut table = Table::new(false);
        let mut ids = Ids(100);
        let carrier = addr("192.0.2.9:5061");
        table.set_tls_targets([(carrier, tls_target("sip.carrier.example"))]);
        table.transmit(Destination::Tls(carrier), b"INVITE".to_vec(), ids.next());
        table.transmit(Destination::Tcp(carrier), b"OPTIONS".to_vec(), ids.next());
        assert_eq!(
            actions(&mut table),
            [
                connect(101, carrier, Some("sip.carrier.example")),
                connect(102, carrier, None),
            ]
        );
    }

    #[test]
    fn a_tls_address_without_settings_fails_at_once() {
        let mut table = Table::new(false);
        let mut ids = Ids(100);
        let unknown = addr("192.0.2.10:5061");
        table.set_tls_targets([(addr("192.0.2.9:5061"), tls_target("a.example"))]);
        table.transmit(Destination::Tls(unknown), b"BYE".to_vec(), ids.next());
        assert_eq!(
            actions(&mut table),
            [Action::TransportFailed {
                dest: Destination::Tls(unknown),
                reason: NO_TLS_SETTINGS.to_owned()
            }]
        );
        assert_eq!(ids.0, 100, "nothing opened");
    }

    #[test]
    fn a_failed_connect_fails_that_carrier_and_the_next_transmit_retries() {
        let mut table = Table::new(false);
        let mut ids = Ids(100);
        let carrier = addr("192.0.2.9:5061");
        table.set_tls_targets([(carrier, tls_target("a.example"))]);
        table.transmit(Destination::Tls(carrier), b"INVITE".to_vec(), ids.next());
        table.connected(ConnId(101), "tls101");
        table.connect_failed(ConnId(101), "TLS handshake with a.example failed: bad cert");
        table.transmit(Destination::Tls(carrier), b"INVITE 2".to_vec(), ids.next());
        assert_eq!(
            actions(&mut table),
            [
                connect(101, carrier, Some("a.example")),
                write(101, "tls101", b"INVITE"),
                Action::TransportFailed {
                    dest: Destination::Tls(carrier),
                    reason: "TLS handshake with a.example failed: bad cert".to_owned()
                },
                connect(102, carrier, Some("a.example")),
            ]
        );
        // A late report about the old connection leaves the new one alone.
        table.connect_failed(ConnId(101), "TCP connection timed out");
        table.connected(ConnId(102), "tls102");
        assert_eq!(actions(&mut table), [write(102, "tls102", b"INVITE 2")]);
    }

    #[test]
    fn a_carrier_connection_that_stops_reading_fails_its_carrier() {
        let mut table = Table::new(false);
        let mut ids = Ids(100);
        let carrier = addr("192.0.2.9:5060");
        table.transmit(Destination::Tcp(carrier), b"INVITE".to_vec(), ids.next());
        table.connected(ConnId(101), "tcp101");
        let _ = actions(&mut table);
        table.write_refused(ConnId(101));
        table.transmit(Destination::Tcp(carrier), b"INVITE 2".to_vec(), ids.next());
        assert_eq!(
            actions(&mut table),
            [
                Action::TransportFailed {
                    dest: Destination::Tcp(carrier),
                    reason: NOT_READING.to_owned()
                },
                Action::ConnectionClosed(ConnId(101)),
                connect(102, carrier, None),
            ]
        );
    }

    #[test]
    fn a_phone_that_stops_reading_is_closed() {
        let mut table = Table::new(false);
        let mut ids = Ids(100);
        table.connected(ConnId(5), "ws5");
        table.write_refused(ConnId(5));
        table.transmit(Destination::Conn(ConnId(5)), b"NOTIFY".to_vec(), ids.next());
        assert_eq!(
            actions(&mut table),
            [
                Action::ConnectionClosed(ConnId(5)),
                Action::Dropped { conn: ConnId(5) }
            ]
        );
    }

    #[test]
    fn a_closed_carrier_connection_is_opened_again_on_the_next_transmit() {
        let mut table = Table::new(false);
        let mut ids = Ids(100);
        let carrier = addr("[2001:db8::9]:5060");
        table.transmit(Destination::Tcp(carrier), b"OPTIONS".to_vec(), ids.next());
        table.connected(ConnId(101), "tcp101");
        table.closed(ConnId(101));
        // A connect failure reported after the close is about nothing left.
        table.connect_failed(ConnId(101), "reset");
        table.transmit(Destination::Tcp(carrier), b"OPTIONS".to_vec(), ids.next());
        assert_eq!(
            actions(&mut table),
            [
                connect(101, carrier, None),
                write(101, "tcp101", b"OPTIONS"),
                Action::ConnectionClosed(ConnId(101)),
                connect(102, carrier, None),
            ]
        );
    }

    #[test]
    fn new_tls_settings_apply_to_new_connections_only() {
        let mut table = Table::new(false);
        let mut ids = Ids(100);
        let carrier = addr("192.0.2.9:5061");
        table.set_tls_targets([(carrier, tls_target("old.example"))]);
        table.transmit(Destination::Tls(carrier), b"OPTIONS".to_vec(), ids.next());
        table.connected(ConnId(101), "tls101");
        table.set_tls_targets([(carrier, tls_target("new.example"))]);
        table.transmit(Destination::Tls(carrier), b"OPTIONS".to_vec(), ids.next());
        table.closed(ConnId(101));
        table.transmit(Destination::Tls(carrier), b"OPTIONS".to_vec(), ids.next());
        let all = actions(&mut table);
        assert_eq!(all[2], write(101, "tls101", b"OPTIONS"));
        assert_eq!(all[4], connect(102, carrier, Some("new.example")));
    }
}
