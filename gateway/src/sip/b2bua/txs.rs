//! A call's client transactions (RFC 3261 §17.1) toward its peers: each
//! request it sends runs in a `shared::sip::transaction` machine of its
//! own, keyed by branch; this table drives them and hands their events
//! back tagged with what the request was for.

use std::collections::HashMap;

use shared::sip::transaction::{ClientInvite, ClientNonInvite, Timers, TransactionKey, TxEvent};
use web_time::Instant;

use super::call::Out;
use crate::sip::core::Destination;
use crate::sip::is_reliable;

enum ClientTx {
    Invite(Box<ClientInvite>),
    NonInvite(Box<ClientNonInvite>),
}

impl ClientTx {
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            ClientTx::Invite(tx) => tx.poll_timeout(),
            ClientTx::NonInvite(tx) => tx.poll_timeout(),
        }
    }
}

struct Entry<P> {
    purpose: P,
    tx: ClientTx,
    dest: Destination,
}

/// The client transactions of one call; `P` says what each was for.
pub struct Txs<P> {
    map: HashMap<TransactionKey, Entry<P>>,
    timers: Timers,
}

impl<P: Copy> Txs<P> {
    pub fn new(timers: Timers) -> Self {
        Txs {
            map: HashMap::new(),
            timers,
        }
    }

    /// Starts a transaction for `request` toward `dest` and sends it. An
    /// INVITE gets an INVITE transaction. A request that has no key (it
    /// cannot happen for requests built by a `Dialog`, which always carry
    /// a branch) comes back as a transport error, never a silent drop.
    pub fn start(
        &mut self,
        now: Instant,
        purpose: P,
        request: rsip::Request,
        dest: Destination,
        out: &mut Out,
    ) -> Vec<(P, TxEvent)> {
        let Ok(key) = TransactionKey::for_sent_request(&request) else {
            tracing::warn!(method = %request.method, "a request we built has no transaction key");
            return vec![(purpose, TxEvent::TransportError)];
        };
        let reliable = is_reliable(dest);
        let tx = if request.method == rsip::Method::Invite {
            ClientTx::Invite(Box::new(ClientInvite::new(
                now,
                request,
                reliable,
                self.timers,
            )))
        } else {
            ClientTx::NonInvite(Box::new(ClientNonInvite::new(
                now,
                request,
                reliable,
                self.timers,
            )))
        };
        self.map.insert(key.clone(), Entry { purpose, tx, dest });
        self.drive(&key, out)
    }

    /// The key of the transaction a request was sent on, if it still runs.
    pub fn contains(&self, key: &TransactionKey) -> bool {
        self.map.contains_key(key)
    }

    /// A response to one of our requests; `None` when no transaction of
    /// this call matches it.
    pub fn handle_response(
        &mut self,
        now: Instant,
        response: rsip::Response,
        out: &mut Out,
    ) -> Option<Vec<(P, TxEvent)>> {
        let key = TransactionKey::for_response(&response).ok()?;
        let entry = self.map.get_mut(&key)?;
        match &mut entry.tx {
            ClientTx::Invite(tx) => tx.handle_response(now, response),
            ClientTx::NonInvite(tx) => tx.handle_response(now, response),
        }
        Some(self.drive(&key, out))
    }

    /// Our CANCEL for the INVITE `key` went out (§9.1: the INVITE
    /// transaction then waits for its 487 longer).
    pub fn cancel_sent(&mut self, now: Instant, key: &TransactionKey) {
        if let Some(Entry {
            tx: ClientTx::Invite(tx),
            ..
        }) = self.map.get_mut(key)
        {
            tx.handle_cancel_sent(now);
        }
    }

    /// Timers that are due.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Out) -> Vec<(P, TxEvent)> {
        let due: Vec<TransactionKey> = self
            .map
            .iter()
            .filter(|(_, e)| e.tx.poll_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        let mut events = Vec::new();
        for key in due {
            if let Some(entry) = self.map.get_mut(&key) {
                match &mut entry.tx {
                    ClientTx::Invite(tx) => tx.handle_timeout(now),
                    ClientTx::NonInvite(tx) => tx.handle_timeout(now),
                }
            }
            events.extend(self.drive(&key, out));
        }
        events
    }

    /// Nothing can reach `dest` (RFC 3261 §17.1.4): its transactions end
    /// with a transport error.
    pub fn transport_failed(
        &mut self,
        now: Instant,
        dest: Destination,
        out: &mut Out,
    ) -> Vec<(P, TxEvent)> {
        let keys: Vec<TransactionKey> = self
            .map
            .iter()
            .filter(|(_, e)| e.dest == dest)
            .map(|(k, _)| k.clone())
            .collect();
        let mut events = Vec::new();
        for key in keys {
            if let Some(entry) = self.map.get_mut(&key) {
                match &mut entry.tx {
                    ClientTx::Invite(tx) => tx.handle_transport_error(now),
                    ClientTx::NonInvite(tx) => tx.handle_transport_error(now),
                }
            }
            events.extend(self.drive(&key, out));
        }
        events
    }

    /// Forgets every transaction (a failed-over carrier's late answers
    /// then match nothing).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.map.values().filter_map(|e| e.tx.poll_timeout()).min()
    }

    /// Sends what the transaction has to send; returns its events, the
    /// end of the transaction removing it.
    fn drive(&mut self, key: &TransactionKey, out: &mut Out) -> Vec<(P, TxEvent)> {
        let Some(entry) = self.map.get_mut(key) else {
            return Vec::new();
        };
        let mut events = Vec::new();
        let mut terminated = false;
        let dest = entry.dest;
        let purpose = entry.purpose;
        loop {
            let message = match &mut entry.tx {
                ClientTx::Invite(tx) => tx.poll_transmit(),
                ClientTx::NonInvite(tx) => tx.poll_transmit(),
            };
            let Some(message) = message else { break };
            out.send_msg(dest, message);
        }
        loop {
            let event = match &mut entry.tx {
                ClientTx::Invite(tx) => tx.poll_event(),
                ClientTx::NonInvite(tx) => tx.poll_event(),
            };
            match event {
                Some(TxEvent::Terminated) => terminated = true,
                Some(e) => events.push((purpose, e)),
                None => break,
            }
        }
        if terminated {
            self.map.remove(key);
        }
        events
    }
}
