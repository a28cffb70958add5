//! The call machines in one process on a simulated clock, quinn `Pair`
//! style: the phone's own UAC (`shared::sip::call::Call`) over a lossless
//! WebSocket hop ↔ the B2BUA ↔ a real carrier UAS (the demo carrier's
//! `Uas`) over a UDP hop that loses datagrams at a seeded rate. However the
//! losses fall, every call must end with both legs closed and exactly one
//! record.

use rand::{Rng, RngCore, SeedableRng};
use shared::e164::E164;
use shared::sip::call::{Call as PhoneCall, CallRequest, CallerIdentity};

use super::*;
use crate::demo_carrier::uas::{Transmit as UasTransmit, Uas, UasConfig, UasEvent};

const CARRIER_ADDR: &str = "127.0.0.1:5099";
const GATEWAY_UDP: &str = "127.0.0.1:5060";

struct World {
    b2bua: B2bua,
    carrier: Uas,
    phones: Vec<PhoneCall>,
    start: Instant,
    ms: u64,
    loss: f64,
    rng: StdRng,
    /// Datagrams on the UDP hop: (deliver at ms, to the carrier?, bytes).
    wire: Vec<(u64, bool, Vec<u8>)>,
    lost: usize,
    records: Vec<CallRecord>,
    agent: AgentInfo,
    routes: Vec<Route>,
}

fn identity(n: usize) -> CallerIdentity {
    CallerIdentity {
        aor: "sip:demo@gw.test".to_owned(),
        display_name: "Demo".to_owned(),
        username: "demo".to_owned(),
        password: "secret".to_owned(),
        instance_id: format!("urn:uuid:00000000-0000-4000-8000-{n:012}"),
        contact_user: format!("c{n}"),
        via_host: format!("p{n}.invalid"),
        user_agent: None,
    }
}

impl World {
    fn new(seed: u64, loss: f64) -> World {
        let media = Arc::new(Mutex::new(MediaLog::default()));
        let start = Instant::now();
        let mut agent = Harness::new().agent;
        agent.max_calls = 1000;
        World {
            b2bua: B2bua::new(
                B2buaConfig::new("127.0.0.1".parse().unwrap(), 5060, "gw.test"),
                Box::new(FakeMedia(media)),
                [7; 32],
            ),
            carrier: Uas::new(UasConfig {
                local: CARRIER_ADDR.parse().unwrap(),
                answer_delay: Duration::from_millis(300),
                timers: Timers::default(),
                seed,
            }),
            phones: Vec::new(),
            start,
            ms: 0,
            loss,
            rng: StdRng::seed_from_u64(seed),
            wire: Vec::new(),
            lost: 0,
            records: Vec::new(),
            agent,
            routes: vec![route()],
        }
    }

    fn now(&self) -> Now {
        let ms = i64::try_from(self.ms).unwrap();
        Now {
            instant: self.start + Duration::from_millis(self.ms),
            unix: 1_700_000_000 + ms / 1000,
            unix_ms: 1_700_000_000_000 + ms,
        }
    }

    fn dial(&mut self, n: usize, number: &str) {
        let now = self.now();
        let phone = PhoneCall::new(
            now.instant,
            identity(n),
            CallRequest {
                target: number.parse::<E164>().unwrap(),
                presenting: shared::sip::call::Presenting::Automatic,
                offer: BROWSER_OFFER.to_owned(),
            },
            {
                let mut rng = StdRng::seed_from_u64(n as u64);
                move || rng.next_u64()
            },
        )
        .unwrap();
        self.phones.push(phone);
    }

    /// Moves every message until nothing is left to move at this instant.
    fn settle(&mut self) {
        for _ in 0..50 {
            let mut moved = false;
            let now = self.now();
            // Phones → gateway (a WebSocket: reliable, in order).
            for i in 0..self.phones.len() {
                while let Some(message) = self.phones[i].poll_transmit() {
                    moved = true;
                    let conn = ConnId(i as u64 + 1);
                    match message {
                        rsip::SipMessage::Request(r) => {
                            let account = Some(self.agent.account_id);
                            let in_call = self.b2bua.handle_browser_request(now, conn, account, &r);
                            if !in_call && r.method == rsip::Method::Invite {
                                let agent = self.agent.clone();
                                let routes = self.routes.clone();
                                self.b2bua
                                    .handle_new_invite(now, conn, r, Some(&agent), &routes);
                            }
                        }
                        rsip::SipMessage::Response(r) => {
                            self.b2bua.handle_browser_response(now, conn, &r);
                        }
                    }
                }
            }
            // Gateway → phones (reliable) or → carrier (lossy UDP).
            let out: Vec<Transmit> = self.b2bua.drain_transmits().collect();
            for t in out {
                moved = true;
                match t.to {
                    Destination::Conn(ConnId(c)) => {
                        let phone = &mut self.phones[c as usize - 1];
                        let text = String::from_utf8(t.bytes).unwrap();
                        match rsip::SipMessage::try_from(text.as_str()).unwrap() {
                            rsip::SipMessage::Request(r) => phone.handle_request(now.instant, r),
                            rsip::SipMessage::Response(r) => {
                                phone.handle_response(now.instant, r, None)
                            }
                        }
                    }
                    Destination::Udp(_) => self.put_on_wire(true, t.bytes),
                    other => panic!("unexpected destination {other:?}"),
                }
            }
            for event in self.b2bua.drain_events().collect::<Vec<_>>() {
                if let B2buaEvent::Record(r) = event {
                    self.records.push(*r);
                }
            }
            // Carrier.
            while let Some(UasTransmit { bytes, .. }) = self.carrier.poll_transmit() {
                moved = true;
                self.put_on_wire(false, bytes);
            }
            while let Some(event) = self.carrier.poll_event() {
                moved = true;
                if let UasEvent::AnswerDue(call) = event {
                    let rtp = "127.0.0.1:40000".parse().unwrap();
                    self.carrier.accept(now.instant, call, rtp);
                }
            }
            // The wire, for what is due now.
            let due: Vec<(bool, Vec<u8>)> = {
                let ms = self.ms;
                let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.wire)
                    .into_iter()
                    .partition(|w| w.0 <= ms);
                self.wire = later;
                due.into_iter().map(|(_, c, b)| (c, b)).collect()
            };
            for (to_carrier, bytes) in due {
                moved = true;
                if to_carrier {
                    self.carrier
                        .handle_datagram(now.instant, GATEWAY_UDP.parse().unwrap(), &bytes);
                } else {
                    let text = String::from_utf8(bytes).unwrap();
                    let peer: SocketAddr = CARRIER_ADDR.parse().unwrap();
                    match rsip::SipMessage::try_from(text.as_str()).unwrap() {
                        rsip::SipMessage::Request(r) => {
                            self.b2bua.handle_carrier_request(
                                now,
                                peer,
                                Destination::Udp(peer),
                                &r,
                            );
                        }
                        rsip::SipMessage::Response(r) => {
                            self.b2bua.handle_carrier_response(now, r);
                        }
                    }
                }
            }
            if !moved {
                return;
            }
        }
        panic!("messages kept moving at one instant: a loop");
    }

    /// A datagram on the UDP hop: lost at the seeded rate, else delivered
    /// after 5–40 ms (so they may also arrive out of order).
    fn put_on_wire(&mut self, to_carrier: bool, bytes: Vec<u8>) {
        if self.rng.gen_bool(self.loss) {
            self.lost += 1;
            return;
        }
        let delay = self.rng.gen_range(5..40);
        self.wire.push((self.ms + delay, to_carrier, bytes));
    }

    /// Runs time forward by `ms` in 5 ms steps, firing every timer.
    fn run(&mut self, ms: u64) {
        let until = self.ms + ms;
        while self.ms < until {
            self.ms += 5;
            let now = self.now();
            self.b2bua.handle_timeout(now);
            self.carrier.handle_timeout(now.instant);
            for phone in &mut self.phones {
                if phone.poll_timeout().is_some_and(|t| t <= now.instant) {
                    phone.handle_timeout(now.instant);
                }
            }
            self.settle();
        }
    }
}

/// 20 calls over a carrier hop that loses `loss` of its datagrams: each
/// is placed, rings, is answered (unless the losses ran out its timers),
/// and hung up by the agent or by the carrier; then nothing is left.
fn lossy_run(seed: u64, loss: f64) -> World {
    let mut w = World::new(seed, loss);
    for n in 0..20 {
        w.dial(n, &format!("+1415555{:04}", 1000 + n));
        w.settle();
        w.run(50);
    }
    w.run(3_000);
    // The agents hang up half of the calls; the carrier never does in
    // this time, so the other half goes on until the agents hang up too.
    for i in (0..20).step_by(2) {
        let now = w.now();
        w.phones[i].hangup(now.instant);
        w.settle();
    }
    w.run(5_000);
    for i in (1..20).step_by(2) {
        let now = w.now();
        w.phones[i].hangup(now.instant);
        w.settle();
    }
    // Long enough for every retransmission and timer (64·T1 = 32 s) and
    // the wait for media counts.
    w.run(70_000);
    w
}

fn assert_all_closed(w: &World) {
    for (i, phone) in w.phones.iter().enumerate() {
        assert!(phone.is_terminated(), "phone {i} still has its call");
    }
    assert_eq!(w.b2bua.call_count(), 0, "the gateway still holds calls");
    assert_eq!(w.carrier.call_count(), 0, "the carrier still holds calls");
    assert_eq!(w.records.len(), 20, "one record per call");
    let mut ids: Vec<&str> = w.records.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 20, "records are not duplicated");
    assert!(w.b2bua.by_call_id.is_empty(), "no Call-ID is left bound");
}

#[test]
fn without_loss_every_call_is_answered_and_ends_cleanly() {
    let w = lossy_run(1, 0.0);
    assert_all_closed(&w);
    assert!(
        w.records
            .iter()
            .all(|r| r.final_code == 200 && r.answered_at.is_some()),
        "{:?}",
        w.records
            .iter()
            .map(|r| (r.final_code, &r.final_reason))
            .collect::<Vec<_>>()
    );
}

#[test]
fn with_a_lossy_carrier_hop_every_call_still_ends_with_both_legs_closed() {
    for seed in [11, 12, 13] {
        let w = lossy_run(seed, 0.2);
        assert!(w.lost > 10, "the run lost only {} datagrams", w.lost);
        assert_all_closed(&w);
        let answered = w.records.iter().filter(|r| r.answered_at.is_some()).count();
        // Retransmissions carry most calls through a 20 % loss.
        assert!(
            answered >= 15,
            "seed {seed}: only {answered} of 20 answered"
        );
    }
}
