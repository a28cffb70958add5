//! A carrier's health line from `GET /api/v1/carriers/{id}/status`. That
//! answer's type lives in the gateway (not in `shared::api`), so it is read
//! here as plain JSON: `{qualify: {state, rtt_ms, last_error}|null,
//! registration: {state, last_error}|null}`.

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
    format!("{qualify}; {registration}.")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
