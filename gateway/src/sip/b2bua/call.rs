//! What every call machine shares: its output queue, the environment it
//! is handed for each input, and how a call's life ends.
//!
//! A call ([`super::outbound::OutboundCall`], [`super::inbound::InboundCall`])
//! is a sans-IO machine in str0m's `Rtc` shape: the router hands it inputs
//! (`handle_*` with `now`), it queues what to send and what happened
//! ([`Out`]), and says when it next wants the time (`poll_timeout`). It
//! owns its legs, its client transactions and its record; it reaches the
//! media engine only through the [`MediaPort`] in [`Env`].

use shared::ids::{CallId, CarrierId};
use std::collections::VecDeque;

use rand::Rng;
use rand::rngs::StdRng;
use shared::api::{CallRecord, LiveCall};
use shared::sip::transaction::TransactionKey;
use web_time::Instant;

use super::port::MediaPort;
use super::{B2buaConfig, Progress};
use crate::sip::core::{Destination, Transmit};

/// What a call is handed with each input: the settings, the media engine,
/// the random generator (tags, branches, Call-IDs) and how many channels
/// other calls hold on a carrier.
pub struct Env<'a> {
    pub config: &'a B2buaConfig,
    pub media: &'a mut dyn MediaPort,
    pub rng: &'a mut StdRng,
    /// Calls (not ended) on carrier `id`, the handled call left out.
    pub channels: &'a dyn Fn(CarrierId) -> usize,
    /// Who is over a daily limit (a campaign's is checked once the call's
    /// campaign is known).
    pub blocks: &'a super::blocks::Blocks,
}

impl Env<'_> {
    /// A random hex token.
    pub fn token(&mut self, len: usize) -> String {
        token(self.rng, len)
    }
}

/// A random hex token of `len` characters.
pub fn token(rng: &mut StdRng, len: usize) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    (0..len)
        .map(|_| char::from(HEX[rng.gen_range(0..HEX.len())]))
        .collect()
}

/// What a call tells the router, besides its transmits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutput {
    /// Messages with this Call-ID now belong to the call (a new leg).
    Bind(String),
    /// Messages with this Call-ID no longer do (a leg given up).
    Unbind(String),
    /// Placed toward a carrier (a first attempt or a failover).
    Placed { agent: String, carrier: String },
    /// Started, answered, ended: for integrations (webhooks).
    Progress(Progress, LiveCall),
    /// The record so far (at the start and at the answer), kept by the
    /// shell so that a gateway killed mid-call still records the call.
    Snapshot(Box<CallRecord>),
    /// The call is over: its record, once.
    Record(Box<CallRecord>),
}

/// A message to send, and whether it answers a carrier's request whose
/// retransmissions the router should answer with it again.
#[derive(Debug)]
pub struct Outgoing {
    pub transmit: Transmit,
    pub cache: Option<TransactionKey>,
}

/// A call's output queue (drained by the router after every input).
#[derive(Debug, Default)]
pub struct Out {
    transmits: VecDeque<Outgoing>,
    events: VecDeque<CallOutput>,
}

impl Out {
    pub fn send(&mut self, to: Destination, bytes: Vec<u8>) {
        self.transmits.push_back(Outgoing {
            transmit: Transmit { to, bytes },
            cache: None,
        });
    }

    /// Sends `message`.
    pub fn send_msg(&mut self, to: Destination, message: impl ToString) {
        self.send(to, message.to_string().into_bytes());
    }

    /// Sends a response to a carrier request, kept for its retransmissions.
    pub fn answer(&mut self, to: Destination, bytes: Vec<u8>, key: Option<TransactionKey>) {
        self.transmits.push_back(Outgoing {
            transmit: Transmit { to, bytes },
            cache: key,
        });
    }

    pub fn event(&mut self, event: CallOutput) {
        self.events.push_back(event);
    }

    pub fn poll_transmit(&mut self) -> Option<Outgoing> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<CallOutput> {
        self.events.pop_front()
    }
}

/// The end of every call's life, the same for both directions: signalling
/// over → media stopped → its counts arrive (or `media_grace` passes) →
/// the record is emitted and the call is done.
#[derive(Debug)]
pub struct Life {
    pub record: CallRecord,
    /// The call's media task still runs (its counts are still to come).
    pub media: bool,
    /// Signalling is over.
    pub ended: bool,
    /// The record is out; the router drops the call.
    pub done: bool,
    /// Emit the record by then even if the media never reports.
    pub flush_deadline: Option<Instant>,
    /// Answered was reported (Progress).
    answered_reported: bool,
}

impl Life {
    pub fn new(record: CallRecord) -> Life {
        Life {
            record,
            media: false,
            ended: false,
            done: false,
            flush_deadline: None,
            answered_reported: false,
        }
    }

    /// The media task stopped and reported its counts.
    pub fn media_reported(&mut self, counts: super::port::MediaCounts) {
        self.media = false;
        super::record::apply_counts(&mut self.record, counts);
    }

    /// Reports the call as started.
    pub fn started(&self, out: &mut Out, live: LiveCall) {
        out.event(CallOutput::Progress(Progress::Started, live));
        out.event(CallOutput::Snapshot(Box::new(self.record.clone())));
    }

    /// Reports the call as answered (once).
    pub fn answered(&mut self, out: &mut Out, live: LiveCall) {
        if !self.answered_reported {
            self.answered_reported = true;
            out.event(CallOutput::Progress(Progress::Answered, live));
            out.event(CallOutput::Snapshot(Box::new(self.record.clone())));
        }
    }

    /// Signalling is over: close the record, stop the media and wait for
    /// its counts (or finish at once when there is no media).
    pub fn end(&mut self, id: CallId, now: &crate::sip::Now, env: &mut Env, out: &mut Out) {
        if self.ended {
            return;
        }
        self.ended = true;
        super::record::close(&mut self.record, now);
        if self.media {
            self.flush_deadline = Some(now.instant + env.config.media_grace);
            env.media.stop(id);
        } else {
            self.finish(out);
        }
    }

    /// Emits the record (once): the call is done.
    pub fn finish(&mut self, out: &mut Out) {
        if self.done {
            return;
        }
        self.done = true;
        self.flush_deadline = None;
        // The state it was last in: answered or not.
        let state = if self.record.answered_at.is_some() {
            shared::api::LiveCallState::Connected
        } else {
            shared::api::LiveCallState::Ringing
        };
        let live = super::record::live(&self.record, state);
        out.event(CallOutput::Progress(Progress::Ended, live));
        out.event(CallOutput::Record(Box::new(self.record.clone())));
    }
}
