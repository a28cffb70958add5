use shared::api::{CallAttempt, CallDirection, HangupBy, LiveCall};

use super::*;
use crate::sip::trunks::QualifyStatus;

fn record(carrier: &str, code: u16, answered: bool) -> CallRecord {
    CallRecord {
        id: "c1".to_owned(),
        direction: CallDirection::Outbound,
        account_id: None,
        agent: Some("demo".to_owned()),
        caller_id: None,
        dialled: "+14155550100".to_owned(),
        carrier_id: Some(CarrierId(1)),
        carrier: Some(carrier.to_owned()),
        invite_at: 1_000_000,
        ringing_at: Some(1_000_300),
        answered_at: answered.then_some(1_002_000),
        ended_at: 1_010_000,
        duration_s: if answered { 8 } else { 0 },
        final_code: code,
        final_reason: String::new(),
        hangup_by: HangupBy::Agent,
        packets_to_carrier: 400,
        bytes_to_carrier: 68_800,
        packets_from_carrier: 390,
        bytes_from_carrier: 67_080,
        attempts: vec![
            CallAttempt {
                carrier_id: Some(CarrierId(2)),
                carrier: "Backup \"B\"".to_owned(),
                code: 503,
                reason: "Service Unavailable".to_owned(),
                at: 999_000,
            },
            CallAttempt {
                carrier_id: Some(CarrierId(1)),
                carrier: carrier.to_owned(),
                code,
                reason: String::new(),
                at: 1_000_000,
            },
        ],
        estimated_cost: None,
        campaign_id: None,
        quality: None,
        destination_country: None,
    }
}

fn live(state: LiveCallState) -> LiveCall {
    LiveCall {
        id: "l1".to_owned(),
        direction: CallDirection::Outbound,
        agent: Some("demo".to_owned()),
        caller_id: None,
        dialled: "+14155550100".to_owned(),
        carrier_id: Some(CarrierId(1)),
        carrier: Some("Main".to_owned()),
        state,
        since_ms: 0,
    }
}

/// The samples of `text` as (name with labels, value), checking each
/// line's shape on the way.
fn samples(text: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let value: f64 = value.parse().expect("a number");
        out.push((series.to_owned(), value));
    }
    out
}

fn value(text: &str, series: &str) -> f64 {
    samples(text)
        .into_iter()
        .find(|(s, _)| s == series)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

#[test]
fn records_count_calls_attempts_setup_and_media_per_carrier() {
    let mut c = Counters::default();
    c.record(&record("Main", 200, true));
    c.record(&record("Main", 486, false));
    let names = HashMap::new();
    let text = render_with(
        &Snapshot {
            live: &[live(LiveCallState::Connected), live(LiveCallState::Ringing)],
            trunks: &[],
            carrier_names: &names,
            bans_in_force: 2,
            records_waiting: 3,
        },
        &c,
    );
    assert_eq!(
        value(&text, "gateway_active_calls{state=\"connected\"}"),
        1.0
    );
    assert_eq!(value(&text, "gateway_active_calls{state=\"ringing\"}"), 1.0);
    assert_eq!(value(&text, "gateway_active_calls{state=\"held\"}"), 0.0);
    assert_eq!(value(&text, "gateway_call_records_waiting"), 3.0);
    assert_eq!(
        value(&text, "gateway_active_calls_by_carrier{carrier=\"Main\"}"),
        2.0
    );
    assert_eq!(
        value(
            &text,
            "gateway_calls_total{direction=\"outbound\",carrier=\"Main\",outcome=\"answered\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "gateway_calls_total{direction=\"outbound\",carrier=\"Main\",outcome=\"busy\"}"
        ),
        1.0
    );
    // Label values are escaped.
    assert_eq!(
        value(
            &text,
            "gateway_carrier_attempts_total{carrier=\"Backup \\\"B\\\"\",code=\"503\"}"
        ),
        2.0
    );
    // 300 ms from INVITE to ringing: in the 0.5 bucket, not the 0.25 one.
    assert_eq!(
        value(
            &text,
            "gateway_call_setup_seconds_bucket{carrier=\"Main\",le=\"0.25\"}"
        ),
        0.0
    );
    assert_eq!(
        value(
            &text,
            "gateway_call_setup_seconds_bucket{carrier=\"Main\",le=\"0.5\"}"
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            "gateway_call_setup_seconds_bucket{carrier=\"Main\",le=\"+Inf\"}"
        ),
        2.0
    );
    assert_eq!(
        value(&text, "gateway_call_setup_seconds_sum{carrier=\"Main\"}"),
        0.6
    );
    assert_eq!(
        value(
            &text,
            "gateway_media_packets_total{carrier=\"Main\",direction=\"to_carrier\"}"
        ),
        800.0
    );
    assert_eq!(
        value(&text, "gateway_call_talk_seconds_total{carrier=\"Main\"}"),
        8.0
    );
    assert_eq!(value(&text, "gateway_bans"), 2.0);
    // Every family is declared once, before its samples.
    let mut declared = HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap_or_default().to_owned();
            assert!(declared.insert(name.clone()), "{name} declared twice");
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| declared.contains(*f)))
                .unwrap_or(name);
            assert!(declared.contains(family), "{name} before its # TYPE");
        }
    }
}

#[test]
fn registrations_trunk_changes_bans_follow_events() {
    let mut c = Counters::default();
    let reg = |user: &str, contact: &str| RegistrarEvent::Registered {
        aor_user: user.to_owned(),
        contact: contact.to_owned(),
    };
    c.registrar(&reg("Demo", "sip:a@x"));
    c.registrar(&reg("demo", "sip:a@x")); // a refresh
    c.registrar(&reg("bob", "sip:b@y"));
    c.registrar(&RegistrarEvent::Unregistered {
        aor_user: "demo".to_owned(),
        contact: "sip:a@x".to_owned(),
    });
    let status = |state| TrunkStatus {
        carrier_id: CarrierId(7),
        qualify: Some(QualifyStatus {
            state,
            rtt_ms: None,
            last_change_ms: None,
            last_error: None,
        }),
        registration: None,
        dns: None,
    };
    c.trunk(&status(QualifyState::Unknown));
    c.trunk(&status(QualifyState::Up));
    c.trunk(&status(QualifyState::Up));
    c.trunk(&status(QualifyState::Down));
    let names = HashMap::from([(CarrierId(7), "Main".to_owned())]);
    let text = render_with(
        &Snapshot {
            live: &[],
            trunks: &[status(QualifyState::Down)],
            carrier_names: &names,
            bans_in_force: 0,
            records_waiting: 0,
        },
        &c,
    );
    assert_eq!(value(&text, "gateway_registrations"), 1.0);
    assert_eq!(
        value(
            &text,
            "gateway_registrar_events_total{event=\"registered\"}"
        ),
        3.0
    );
    assert_eq!(
        value(&text, "gateway_trunk_state_changes_total{carrier=\"Main\"}"),
        2.0
    );
    assert_eq!(value(&text, "gateway_trunk_up{carrier=\"Main\"}"), 0.0);
    assert!(value(&text, "process_resident_memory_bytes") > 0.0);
    assert!(value(&text, "process_open_fds") > 0.0);
}
