//! Inbound calls, one test per behaviour: every tab rings and the first
//! answer wins, the caller hangs up, refusals, declines, ring groups in
//! order.
#![allow(clippy::unwrap_used)]

use super::*;
use shared::ids::{AccountId, CallId};

const TAB_1: ConnId = ConnId(21);
const TAB_2: ConnId = ConnId(22);

fn demo_dids() -> crate::sip::dids::DidTable {
    use crate::sip::dids::{Did, DidTable, DidTarget};
    DidTable::new(vec![
        Did {
            number: "+14155550150".to_owned(),
            label: "Sales line".to_owned(),
            carrier_id: None,
            target: DidTarget::Agent {
                account_id: AccountId(1),
                username: "demo".to_owned(),
            },
        },
        Did {
            number: "+14155550199".to_owned(),
            label: "Closed".to_owned(),
            carrier_id: None,
            target: DidTarget::Reject { code: 603 },
        },
    ])
}

fn tabs(online: bool) -> impl Fn(&str) -> Vec<ForkTarget> {
    move |user: &str| {
        if !online || user != "demo" {
            return Vec::new();
        }
        [TAB_1, TAB_2]
            .into_iter()
            .map(|conn| ForkTarget {
                conn,
                contact: format!("sip:tab{}@abc.invalid;transport=ws", conn.0),
                account_id: AccountId(1),
                username: "demo".to_owned(),
            })
            .collect()
    }
}

impl Harness {
    /// A carrier's INVITE to `did`, from the carrier's address.
    fn carrier_invite(&mut self, did: &str, online: bool) {
        let text = format!(
            "INVITE sip:{did}@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKcarrier1\r\n\
             Max-Forwards: 70\r\n\
             From: \"Alice Caller\" <sip:+14155550123@127.0.0.1>;tag=ctag\r\n\
             To: <sip:{did}@127.0.0.1>\r\n\
             Call-ID: carrier-call-1\r\n\
             CSeq: 10 INVITE\r\n\
             Contact: <sip:carrier@127.0.0.1:5099>\r\n\
             Content-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{CARRIER_SDP}",
            CARRIER_SDP.len()
        );
        let request = rsip::Request::try_from(text.as_bytes()).unwrap();
        let now = self.now();
        let route = self.routes[0].clone();
        let dids = demo_dids();
        let bindings = tabs(online);
        self.b2bua.handle_inbound_invite(
            now,
            CARRIER.parse().unwrap(),
            Destination::Udp(CARRIER.parse().unwrap()),
            shared::sip::Transport::Udp,
            request,
            &route,
            &dids,
            &bindings,
        );
    }

    /// A request from the carrier inside the inbound call.
    fn carrier_sends(&mut self, method: &str, cseq: u32, with_tag: Option<&str>) {
        let to_tag = with_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let text = format!(
            "{method} sip:gw@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKcarrier{cseq}\r\n\
             Max-Forwards: 70\r\n\
             From: \"Alice Caller\" <sip:+14155550123@127.0.0.1>;tag=ctag\r\n\
             To: <sip:+14155550150@127.0.0.1>{to_tag}\r\n\
             Call-ID: carrier-call-1\r\n\
             CSeq: {cseq} {method}\r\n\
             Content-Length: 0\r\n\r\n"
        );
        let request = rsip::Request::try_from(text.as_bytes()).unwrap();
        let now = self.now();
        assert!(self.b2bua.handle_carrier_request(
            now,
            CARRIER.parse().unwrap(),
            Destination::Udp(CARRIER.parse().unwrap()),
            &request
        ));
    }

    /// A tab answers `invite` (a text we sent it).
    fn tab_responds(&mut self, conn: ConnId, invite: &str, code: u16, body: &str) {
        let mut text = format!("SIP/2.0 {code} Whatever\r\n");
        for line in invite.lines() {
            let lower = line.to_ascii_lowercase();
            if ["via:", "from:", "call-id:", "cseq:"]
                .iter()
                .any(|h| lower.starts_with(h))
            {
                text.push_str(line);
                text.push_str("\r\n");
            } else if lower.starts_with("to:") {
                text.push_str(&format!("{line};tag=tab{}\r\n", conn.0));
            } else if line.is_empty() {
                break;
            }
        }
        if body.is_empty() {
            text.push_str("Content-Length: 0\r\n\r\n");
        } else {
            text.push_str(&format!(
                "Contact: <sip:tab@abc.invalid;transport=ws>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        }
        let response = rsip::Response::try_from(text.as_bytes()).unwrap();
        let now = self.now();
        assert!(self.b2bua.handle_browser_response(now, conn, &response));
    }

    pub(super) fn sent_to(&mut self, to: Destination) -> Vec<String> {
        self.pull();
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.buf)
            .into_iter()
            .partition(|(d, _)| *d == to);
        self.buf = rest;
        mine.into_iter().map(|(_, t)| t).collect()
    }
}

#[test]
fn inbound_call_rings_every_tab_and_the_first_answer_wins() {
    let mut h = Harness::new();
    let carrier = Destination::Udp(CARRIER.parse().unwrap());
    h.carrier_invite("+14155550150", true);
    let to_carrier = h.sent_to(carrier);
    assert!(
        status(&to_carrier[0]).starts_with("SIP/2.0 100"),
        "{to_carrier:?}"
    );
    assert!(
        status(&to_carrier[1]).starts_with("SIP/2.0 180"),
        "{to_carrier:?}"
    );
    let invite_1 = h.sent_to(Destination::Conn(TAB_1)).remove(0);
    let invite_2 = h.sent_to(Destination::Conn(TAB_2)).remove(0);
    for invite in [&invite_1, &invite_2] {
        assert!(invite.starts_with("INVITE sip:tab"), "{invite}");
        assert_eq!(
            header_line(invite, "X-Dialer-DID"),
            Some("X-Dialer-DID: +14155550150")
        );
        assert!(
            invite.contains("X-Dialer-DID-Label: Sales line"),
            "{invite}"
        );
        assert!(
            header_line(invite, "From")
                .unwrap()
                .contains("\"Alice Caller\" <sip:+14155550123@"),
            "{invite}"
        );
        assert!(invite.ends_with(BROWSER_OFFER), "{invite}");
    }
    assert_ne!(
        header_line(&invite_1, "Call-ID"),
        header_line(&invite_2, "Call-ID"),
        "each tab is its own dialog"
    );
    h.tab_responds(TAB_1, &invite_1, 180, "");
    h.tab_responds(TAB_2, &invite_2, 180, "");
    h.advance(2000);
    h.tab_responds(TAB_2, &invite_2, 200, "v=0\r\nanswer-from-tab-2\r\n");

    let to_tab_2 = h.sent_to(Destination::Conn(TAB_2));
    assert!(
        to_tab_2
            .iter()
            .any(|t| t.starts_with("ACK sip:tab@abc.invalid")),
        "{to_tab_2:?}"
    );
    let to_tab_1 = h.sent_to(Destination::Conn(TAB_1));
    let cancel = to_tab_1
        .iter()
        .find(|t| t.starts_with("CANCEL "))
        .expect("CANCEL to the other tab");
    assert!(cancel.contains("Call completed elsewhere"), "{cancel}");
    assert_eq!(header_line(cancel, "Via"), header_line(&invite_1, "Via"));
    let ok = h.sent_to(carrier);
    assert!(status(&ok[0]).starts_with("SIP/2.0 200"), "{ok:?}");
    assert!(ok[0].contains("m=audio 30004 RTP/AVP 0 101"), "{}", ok[0]);
    assert!(header_line(&ok[0], "Contact").is_some());
    assert_eq!(
        h.media.lock().unwrap().answers,
        vec![(CallId(1), "v=0\r\nanswer-from-tab-2\r\n".to_owned())]
    );
    // The other tab's 487 gets its ACK.
    h.tab_responds(TAB_1, &invite_1, 487, "");
    assert!(h.sent_to(Destination::Conn(TAB_1))[0].starts_with("ACK sip:tab21@"));

    // No ACK yet: the 200 is sent again (T1), until the ACK comes.
    h.advance(600);
    assert_eq!(h.sent_to(carrier).len(), 1, "200 retransmitted");
    let tag = header_line(&ok[0], "To")
        .unwrap()
        .split("tag=")
        .nth(1)
        .unwrap()
        .to_owned();
    h.carrier_sends("ACK", 10, Some(&tag));
    h.advance(5000);
    assert!(
        h.sent_to(carrier).is_empty(),
        "no more retransmissions after the ACK"
    );

    h.advance(10_000);
    h.carrier_sends("BYE", 11, Some(&tag));
    assert!(status(&h.sent_to(carrier)[0]).starts_with("SIP/2.0 200"));
    let bye = h.sent_to(Destination::Conn(TAB_2));
    assert!(bye[0].starts_with("BYE sip:tab@abc.invalid"), "{bye:?}");
    h.media_stops(MediaCounts {
        packets_to_carrier: 500,
        ..MediaCounts::default()
    });
    let r = &h.records()[0];
    assert_eq!(r.direction, CallDirection::Inbound);
    assert_eq!(r.dialled, "+14155550150");
    assert_eq!(r.caller_id.as_deref(), Some("+14155550123"));
    assert_eq!(r.agent.as_deref(), Some("demo"));
    assert_eq!(r.hangup_by, HangupBy::Remote);
    assert_eq!(r.final_code, 200);
    assert_eq!(r.duration_s, 15, "answered at 2 s, BYE at 17.6 s");
    assert!(r.answered_at.is_some());
    assert_eq!(h.b2bua.call_count(), 0);
}

#[test]
fn caller_hangs_up_while_ringing_cancels_every_tab_and_is_a_missed_call() {
    let mut h = Harness::new();
    let carrier = Destination::Udp(CARRIER.parse().unwrap());
    h.carrier_invite("+14155550150", true);
    let invite_1 = h.sent_to(Destination::Conn(TAB_1)).remove(0);
    let invite_2 = h.sent_to(Destination::Conn(TAB_2)).remove(0);
    h.tab_responds(TAB_1, &invite_1, 180, "");
    h.sent();
    h.carrier_sends("CANCEL", 10, None);
    let to_carrier = h.sent_to(carrier);
    assert!(
        to_carrier
            .iter()
            .any(|t| status(t).starts_with("SIP/2.0 200"))
    );
    assert!(
        to_carrier
            .iter()
            .any(|t| status(t).starts_with("SIP/2.0 487"))
    );
    let cancel = h.sent_to(Destination::Conn(TAB_1));
    assert!(cancel[0].starts_with("CANCEL "), "{cancel:?}");
    assert!(
        !cancel[0].contains("Reason:"),
        "the caller hung up: no Reason"
    );
    // Tab 2 had not even said 180: its CANCEL waits for one (RFC 3261 §9.1).
    assert!(h.sent_to(Destination::Conn(TAB_2)).is_empty());
    h.tab_responds(TAB_2, &invite_2, 180, "");
    assert!(h.sent_to(Destination::Conn(TAB_2))[0].starts_with("CANCEL "));
    h.media_stops(MediaCounts::default());
    let r = &h.records()[0];
    assert_eq!(r.final_code, 487);
    assert_eq!(r.hangup_by, HangupBy::Remote);
    assert!(r.answered_at.is_none(), "missed");
    assert_eq!(r.agent.as_deref(), Some("demo"));
}

#[test]
fn inbound_refusals_unknown_did_nobody_online_rejecting_did() {
    let mut h = Harness::new();
    let carrier = Destination::Udp(CARRIER.parse().unwrap());
    h.carrier_invite("+15559999999", true);
    assert!(status(&h.sent_to(carrier)[0]).starts_with("SIP/2.0 404"));
    h.carrier_invite("+14155550150", false);
    let sent = h.sent_to(carrier);
    assert!(status(&sent[0]).starts_with("SIP/2.0 480"), "{sent:?}");
    h.carrier_invite("+14155550199", true);
    assert!(status(&h.sent_to(carrier)[0]).starts_with("SIP/2.0 603"));
    let records = h.records();
    assert_eq!(records.len(), 3);
    assert_eq!(records[1].final_code, 480);
    assert_eq!(
        records[1].agent.as_deref(),
        Some("demo"),
        "a missed call for the agent"
    );
    assert!(
        h.media.lock().unwrap().started.is_empty(),
        "no media for refusals"
    );
}

#[test]
fn tabs_that_all_decline_give_the_carrier_busy() {
    let mut h = Harness::new();
    let carrier = Destination::Udp(CARRIER.parse().unwrap());
    h.carrier_invite("+14155550150", true);
    let invite_1 = h.sent_to(Destination::Conn(TAB_1)).remove(0);
    let invite_2 = h.sent_to(Destination::Conn(TAB_2)).remove(0);
    h.sent();
    h.tab_responds(TAB_1, &invite_1, 486, "");
    assert!(h.sent_to(carrier).is_empty(), "the other tab still rings");
    h.tab_responds(TAB_2, &invite_2, 486, "");
    let sent = h.sent_to(carrier);
    assert!(status(&sent[0]).starts_with("SIP/2.0 486"), "{sent:?}");
}

// -------------------------------------------------------------------
// Failover and channel limits
// -------------------------------------------------------------------

#[test]
fn in_order_ring_group_rings_one_member_after_the_other() {
    use crate::sip::dids::{Did, DidTable, DidTarget, RingStrategy};
    let mut h = Harness::new();
    let carrier = Destination::Udp(CARRIER.parse().unwrap());
    let dids = DidTable::new(vec![Did {
        number: "+14155550160".to_owned(),
        label: "Support".to_owned(),
        carrier_id: None,
        target: DidTarget::Group {
            name: "Support".to_owned(),
            strategy: RingStrategy::InOrder,
            members: vec!["alice".to_owned(), "bob".to_owned()],
            member_timeout: Duration::from_secs(15),
            fallback_code: Some(486),
        },
    }]);
    let bindings = |user: &str| -> Vec<ForkTarget> {
        let conn = match user {
            "alice" => TAB_1,
            "bob" => TAB_2,
            _ => return Vec::new(),
        };
        vec![ForkTarget {
            conn,
            contact: format!("sip:{user}@abc.invalid;transport=ws"),
            account_id: AccountId(i64::try_from(conn.0).unwrap()),
            username: user.to_owned(),
        }]
    };
    let text = format!(
        "INVITE sip:+14155550160@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKgroup1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:+14155550123@127.0.0.1>;tag=g\r\nTo: <sip:+14155550160@127.0.0.1>\r\n\
         Call-ID: group-call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:c@127.0.0.1:5099>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{CARRIER_SDP}",
        CARRIER_SDP.len()
    );
    let now = h.now();
    let route = h.routes[0].clone();
    h.b2bua.handle_inbound_invite(
        now,
        CARRIER.parse().unwrap(),
        carrier,
        shared::sip::Transport::Udp,
        rsip::Request::try_from(text.as_bytes()).unwrap(),
        &route,
        &dids,
        &bindings,
    );
    let to_alice = h.sent_to(Destination::Conn(TAB_1));
    assert!(to_alice[0].starts_with("INVITE sip:alice@"), "{to_alice:?}");
    assert!(
        h.sent_to(Destination::Conn(TAB_2)).is_empty(),
        "bob waits his turn"
    );
    h.tab_responds(TAB_1, &to_alice[0], 180, "");
    h.advance(15_000);
    let cancel = h.sent_to(Destination::Conn(TAB_1));
    assert!(
        cancel.iter().any(|t| t.starts_with("CANCEL ")),
        "{cancel:?}"
    );
    let to_bob = h.sent_to(Destination::Conn(TAB_2));
    assert!(to_bob[0].starts_with("INVITE sip:bob@"), "{to_bob:?}");
    // Bob does not answer either: the group's fallback status.
    h.tab_responds(TAB_2, &to_bob[0], 180, "");
    h.sent();
    h.advance(15_000);
    let out = h.sent_to(carrier);
    assert!(
        out.iter().any(|t| status(t).starts_with("SIP/2.0 486")),
        "{out:?}"
    );
}

/// A call to the demo DID answered on `tab` and acknowledged by the
/// carrier, all output consumed: the tab's INVITE and our To tag toward
/// the carrier.
fn answered_on(tab: ConnId) -> (Harness, String, String) {
    let mut h = Harness::new();
    let carrier = Destination::Udp(CARRIER.parse().unwrap());
    h.carrier_invite("+14155550150", true);
    h.sent_to(carrier);
    let invite = h.sent_to(Destination::Conn(tab)).remove(0);
    h.tab_responds(tab, &invite, 200, "v=0\r\nanswer\r\n");
    let ok = h.sent_to(carrier);
    let tag = header_line(&ok[0], "To")
        .unwrap()
        .split("tag=")
        .nth(1)
        .unwrap()
        .to_owned();
    h.carrier_sends("ACK", 10, Some(&tag));
    h.sent();
    (h, invite, tag)
}

#[test]
fn the_answering_phone_reconnects_and_keeps_the_call() {
    let (mut h, invite_2, tag) = answered_on(TAB_2);
    let carrier = Destination::Udp(CARRIER.parse().unwrap());

    let now = h.now();
    h.b2bua.connection_closed(now, TAB_2);
    assert!(
        h.sent_to(carrier).is_empty(),
        "the caller stays on the line"
    );
    assert_eq!(h.b2bua.live_calls()[0].state, LiveCallState::Reconnecting);
    h.advance(4_000);

    // The phone is back on connection 9 and restarts ICE in the same dialog.
    let call_id = header_line(&invite_2, "Call-ID").unwrap().to_owned();
    let our_tag = header_line(&invite_2, "From").unwrap().to_owned();
    let our_tag = our_tag.split("tag=").nth(1).unwrap();
    let sdp = "v=0\r\na=ice-ufrag:back\r\na=sendrecv\r\n";
    let reinvite = format!(
        "INVITE sip:gw@gw.test SIP/2.0\r\nVia: SIP/2.0/WSS abc.invalid;branch=z9hG4bKback\r\n\
         Max-Forwards: 70\r\nFrom: <sip:demo@gw.test>;tag=tab2tag\r\nTo: <sip:gw@gw.test>;tag={our_tag}\r\n\
         {call_id}\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    let request = rsip::Request::try_from(reinvite.as_bytes()).unwrap();
    let now = h.now();
    let back = ConnId(9);
    assert!(
        !h.b2bua
            .handle_browser_request(now, back, Some(AccountId(2)), &request),
        "another agent's phone cannot take it"
    );
    assert!(
        h.b2bua
            .handle_browser_request(now, back, Some(AccountId(1)), &request)
    );
    assert_eq!(h.b2bua.live_calls()[0].state, LiveCallState::Connected);
    h.b2bua
        .media_browser_answer(CallId(1), Ok("v=0\r\nours\r\n".to_owned()));
    assert!(h.sent_to(Destination::Conn(back))[0].starts_with("SIP/2.0 200"));

    h.advance(40_000);
    assert!(h.sent_to(carrier).is_empty(), "no BYE: the call went on");
    h.carrier_sends("BYE", 11, Some(&tag));
    assert!(status(&h.sent_to(carrier)[0]).starts_with("SIP/2.0 200"));
    let bye = h.sent_to(Destination::Conn(back));
    assert!(
        bye[0].starts_with("BYE "),
        "the BYE reaches the new connection: {bye:?}"
    );
}

#[test]
fn the_answering_phone_that_never_comes_back_ends_the_call_after_the_grace() {
    let (mut h, _, _) = answered_on(TAB_1);
    let carrier = Destination::Udp(CARRIER.parse().unwrap());
    let now = h.now();
    h.b2bua.connection_closed(now, TAB_1);
    h.advance(30_000);
    let to_carrier = h.sent_to(carrier);
    assert!(
        to_carrier.iter().any(|t| t.starts_with("BYE ")),
        "{to_carrier:?}"
    );
    h.media_stops(MediaCounts::default());
    let r = &h.records()[0];
    assert_eq!(r.hangup_by, HangupBy::Agent);
    assert!(
        r.final_reason.contains("did not come back in 30 s"),
        "{}",
        r.final_reason
    );
}
