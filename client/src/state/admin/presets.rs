//! The carrier form's presets (`shared::carrier_presets`): the form values a
//! chosen preset and region fill in, and the lines the form shows about it.
//! Filling only sets fields; the admin may change any of them afterwards.

use shared::carrier_presets::{CarrierPreset, CarrierPresets};

use super::forms::enum_str;

/// The carrier-form fields (by `CarrierInput` name) and the values that
/// `preset` fills them with; `region` indexes its regions (out of range:
/// the first). A preset without regions ("other") leaves the host alone.
/// Username and secret are never touched: they are the admin's own.
pub fn preset_values(preset: &CarrierPreset, region: usize) -> Vec<(&'static str, String)> {
    let mut values = Vec::new();
    if let Some(r) = preset.regions.get(region).or(preset.regions.first()) {
        values.push(("host", r.host.clone()));
    }
    values.extend([
        ("port", preset.port.to_string()),
        ("transport", enum_str(&preset.transport)),
        ("register", preset.register.to_string()),
        ("inbound_sources", preset.inbound_sources.join("\n")),
        ("number_format", enum_str(&preset.number_format)),
        ("inbound_number_from", enum_str(&preset.inbound_number_from)),
        ("codecs", preset.codecs.join(", ")),
    ]);
    values
}

/// The words under the preset choice: how the carrier signs us in, where
/// the data comes from and when it was checked, and what to verify (the
/// preset's notes are shown apart, folded).
pub fn preset_summary(presets: &CarrierPresets, preset: &CarrierPreset) -> Vec<String> {
    let mut lines = vec![format!("Sign-in: {}.", preset.auth.describe())];
    if preset.id != "other" {
        lines.push(format!(
            "As documented by {}, checked {} from what we knew of their pages; confirm on their site.",
            preset.name, presets.checked
        ));
    }
    if !preset.uncertain.is_empty() {
        let fields: Vec<&str> = preset.uncertain.iter().map(|f| field_label(f)).collect();
        lines.push(format!("Check on their page: {}.", fields.join(", ")));
    }
    lines
}

/// A preset field's name as the form labels it.
fn field_label(field: &str) -> &str {
    match field {
        "regions" => "host names by region",
        "inbound_sources" => "signalling addresses (source addresses)",
        "number_format" => "number format",
        "inbound_number_from" => "where the dialled number is",
        "register" => "registration",
        "auth" => "sign-in",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preset_fills_every_field_it_documents() {
        let presets = shared::carrier_presets::shipped().expect("shipped presets");
        let twilio = presets.get("twilio").expect("twilio");
        let values = preset_values(twilio, 1);
        let get = |name: &str| {
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("host"), Some("{trunk}.pstn.ashburn.twilio.com"));
        assert_eq!(get("port"), Some("5060"));
        assert_eq!(get("transport"), Some("udp"));
        assert_eq!(get("number_format"), Some("e164"));
        assert_eq!(get("inbound_number_from"), Some("request_uri"));
        assert_eq!(get("codecs"), Some("PCMU, PCMA"));
        assert_eq!(get("register"), Some("false"));
        assert!(get("inbound_sources").is_some_and(|s| s.contains("54.172.60.0/30\n")));
        assert_eq!(get("username"), None);
        // Out of range: the first region.
        let first = preset_values(twilio, 99);
        assert_eq!(first[0].1, "{trunk}.pstn.twilio.com");
        // "Other" has no host to give.
        let other = presets.get("other").expect("other");
        assert!(preset_values(other, 0).iter().all(|(n, _)| *n != "host"));
        let vonage = presets.get("vonage").expect("vonage");
        assert!(
            preset_values(vonage, 0).contains(&("number_format", "e164_without_plus".to_owned()))
        );
    }

    #[test]
    fn the_summary_says_how_to_sign_in_and_what_to_check() {
        let presets = shared::carrier_presets::shipped().expect("shipped presets");
        let bandwidth = presets.get("bandwidth").expect("bandwidth");
        let lines = preset_summary(&presets, bandwidth);
        assert_eq!(
            lines[0],
            "Sign-in: by your public IP address (no username)."
        );
        assert!(lines[1].contains("checked 2026-12"), "{lines:?}");
        assert!(
            lines[2].starts_with("Check on their page: host names by region"),
            "{lines:?}"
        );
        let other = presets.get("other").expect("other");
        assert!(
            preset_summary(&presets, other)
                .iter()
                .all(|l| !l.contains("checked"))
        );
    }
}
