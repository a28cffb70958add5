//! A carrier's health line from `GET /api/v1/carriers/{id}/status`. That
//! answer's type lives in the gateway (not in `shared::api`), so it is read
//! here as plain JSON: `{qualify: {state, rtt_ms, last_error}|null,
//! registration: {state, last_error}|null, dns: {state, via, targets,
//! last_error}|null}` (`dns` is null for a host that is an IP address).

use serde_json::Value;

/// "Qualify: up (12 ms). Registration: registered." in words.
pub fn trunk_status_text(status: &Value) -> String {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let error = |v: &Value| {
        text(v, "last_error")
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    };
    let qualify = match status.get("qualify").filter(|v| !v.is_null()) {
        None => "Qualify off".to_owned(),
        Some(q) => match text(q, "state").as_deref() {
            Some("up") => match q.get("rtt_ms").and_then(Value::as_u64) {
                Some(ms) => format!("Answering OPTIONS ({ms} ms)"),
                None => "Answering OPTIONS".to_owned(),
            },
            Some("down") => format!("Not answering OPTIONS{}", error(q)),
            _ => "Checking with OPTIONS…".to_owned(),
        },
    };
    let registration = match status.get("registration").filter(|v| !v.is_null()) {
        None => "not registering".to_owned(),
        Some(r) => match text(r, "state").as_deref() {
            Some("registered") => "registered".to_owned(),
            Some("registering") => "registering…".to_owned(),
            Some("failed") => format!("registration failed{}", error(r)),
            _ => format!("registration off{}", error(r)),
        },
    };
    let dns = match status.get("dns").filter(|v| !v.is_null()) {
        None => String::new(),
        Some(d) => match text(d, "state").as_deref() {
            Some("failed") => format!(" Host does not resolve{}.", error(d)),
            Some("stale") => format!(
                " Host does not resolve now{}; its last addresses are used.",
                error(d)
            ),
            _ => {
                let targets: Vec<&str> = d
                    .get("targets")
                    .and_then(Value::as_array)
                    .map(|t| t.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                format!(
                    " Resolved by {}: {}.",
                    text(d, "via").unwrap_or_default(),
                    targets.join(", ")
                )
            }
        },
    };
    format!("{qualify}; {registration}.{dns}")
}

/// The carrier list's status cell: a state for styling (`up`, `down`,
/// `checking`, `off`) and a few words. Qualify decides; a failed
/// registration is "down" too, since the carrier will not send calls.
pub fn trunk_state(status: Option<&Value>) -> (&'static str, String) {
    let Some(status) = status else {
        return ("off", "Not watched".to_owned());
    };
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    // A host without an address gets no calls, whatever else is known.
    if let Some(dns) = status.get("dns").filter(|v| !v.is_null())
        && text(dns, "state").as_deref() == Some("failed")
    {
        return ("down", "Host does not resolve".to_owned());
    }
    let registration = status
        .get("registration")
        .filter(|v| !v.is_null())
        .and_then(|r| text(r, "state"));
    if registration.as_deref() == Some("failed") {
        return ("down", "Registration failed".to_owned());
    }
    match status.get("qualify").filter(|v| !v.is_null()) {
        Some(q) => match text(q, "state").as_deref() {
            Some("up") => match q.get("rtt_ms").and_then(Value::as_u64) {
                Some(ms) => ("up", format!("Up ({ms} ms)")),
                None => ("up", "Up".to_owned()),
            },
            Some("down") => ("down", "Down".to_owned()),
            _ => ("checking", "Checking…".to_owned()),
        },
        None => match registration.as_deref() {
            Some("registered") => ("up", "Registered".to_owned()),
            Some(_) => ("checking", "Registering…".to_owned()),
            None => ("off", "Not watched".to_owned()),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_list_cell_says_up_down_or_checking() {
        assert_eq!(trunk_state(None).0, "off");
        let up = json!({"qualify": {"state": "up", "rtt_ms": 3}, "registration": null});
        assert_eq!(trunk_state(Some(&up)), ("up", "Up (3 ms)".to_owned()));
        let down = json!({"qualify": {"state": "down"}, "registration": null});
        assert_eq!(trunk_state(Some(&down)).0, "down");
        let failed = json!({"qualify": {"state": "up"}, "registration": {"state": "failed"}});
        assert_eq!(trunk_state(Some(&failed)).0, "down");
        let registered = json!({"qualify": null, "registration": {"state": "registered"}});
        assert_eq!(
            trunk_state(Some(&registered)),
            ("up", "Registered".to_owned())
        );
        let unknown = json!({"qualify": {"state": "unknown"}});
        assert_eq!(trunk_state(Some(&unknown)).0, "checking");
        let unresolved = json!({"qualify": null, "registration": null,
            "dns": {"state": "failed", "last_error": "x.test: no such host (NXDOMAIN)"}});
        assert_eq!(
            trunk_state(Some(&unresolved)),
            ("down", "Host does not resolve".to_owned())
        );
        let resolved = json!({"qualify": null, "registration": null, "dns": {"state": "resolved"}});
        assert_eq!(trunk_state(Some(&resolved)).0, "off");
    }

    #[test]
    fn the_dns_state_reads_as_words() {
        assert_eq!(
            trunk_status_text(&json!({"qualify": null, "registration": null,
                "dns": {"state": "failed", "via": "", "targets": [],
                        "last_error": "gone.test: no such host (NXDOMAIN)"}})),
            "Qualify off; not registering. Host does not resolve: gone.test: no such host (NXDOMAIN)."
        );
        assert_eq!(
            trunk_status_text(&json!({"qualify": null, "registration": null,
                "dns": {"state": "resolved", "via": "SRV _sip._udp.carrier.test",
                        "targets": ["127.0.0.1:5070 (a.carrier.test, priority 10 weight 10)"]}})),
            "Qualify off; not registering. Resolved by SRV _sip._udp.carrier.test: \
             127.0.0.1:5070 (a.carrier.test, priority 10 weight 10)."
        );
    }

    #[test]
    fn every_state_reads_as_words() {
        assert_eq!(
            trunk_status_text(&json!({"carrier_id": 1, "qualify": null, "registration": null})),
            "Qualify off; not registering."
        );
        assert_eq!(
            trunk_status_text(&json!({
                "qualify": {"state": "up", "rtt_ms": 12, "last_change_ms": 1, "last_error": null},
                "registration": {"state": "failed", "expires_at_ms": null, "last_error": "403 Forbidden"}
            })),
            "Answering OPTIONS (12 ms); registration failed: 403 Forbidden."
        );
        assert_eq!(
            trunk_status_text(&json!({"qualify": {"state": "down", "last_error": "no answer"}})),
            "Not answering OPTIONS: no answer; not registering."
        );
    }
}
