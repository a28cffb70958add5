//! Carrier presets: what Twilio Elastic SIP Trunking, Telnyx, Vonage and
//! Bandwidth document for a SIP trunk (host names per region, transport and
//! port, sign-in by IP or credentials, their signalling addresses for the
//! inbound allowlist, number format, where the DID is, codecs), and an
//! "other" blank. The data is `shared/data/carrier-presets.json`, compiled
//! in; the carrier form fills its fields from a preset and every field
//! stays editable. Each preset names the fields that should be checked on
//! the carrier's own page (`uncertain`), and the file the month it was
//! written against.

use serde::Deserialize;

use crate::api::{InboundNumberFrom, NumberFormat, SipTransport};

/// The shipped file.
pub const PRESETS_JSON: &str = include_str!("../data/carrier-presets.json");

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierPresets {
    /// The month the data was written against, `YYYY-MM`.
    pub checked: String,
    /// Where the data comes from, and how far to trust it.
    pub source: String,
    pub presets: Vec<CarrierPreset>,
}

/// One carrier's documented settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierPreset {
    /// Stable key: `twilio`, `telnyx`, `vonage`, `bandwidth`, `other`.
    pub id: String,
    pub name: String,
    /// The carrier's own page on SIP trunking (empty for "other").
    pub url: String,
    /// Host names (or addresses) by region, the first the default. A
    /// `{trunk}` in one is the customer's own name, to be replaced.
    pub regions: Vec<PresetRegion>,
    pub transport: SipTransport,
    pub port: u16,
    pub auth: PresetAuth,
    /// Whether the carrier sends calls only to a registered account.
    pub register: bool,
    /// The carrier's published signalling addresses (IPs or CIDRs): the
    /// inbound allowlist.
    pub inbound_sources: Vec<String>,
    pub number_format: NumberFormat,
    pub inbound_number_from: InboundNumberFrom,
    pub codecs: Vec<String>,
    /// What else to do, in sentences for the admin.
    pub notes: Vec<String>,
    /// Fields (by this struct's names) to check on the carrier's page.
    pub uncertain: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetRegion {
    pub name: String,
    pub host: String,
}

/// How the carrier recognises our calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresetAuth {
    /// Our public IP address, registered with the carrier.
    Ip,
    /// A username and secret (digest).
    Credentials,
    /// Either, or both.
    IpOrCredentials,
}

impl PresetAuth {
    /// In words, for the form.
    pub fn describe(self) -> &'static str {
        match self {
            PresetAuth::Ip => "by your public IP address (no username)",
            PresetAuth::Credentials => "by username and secret",
            PresetAuth::IpOrCredentials => "by your public IP address, or username and secret",
        }
    }
}

/// The fields `uncertain` may name.
const FIELDS: &[&str] = &[
    "regions",
    "transport",
    "port",
    "auth",
    "register",
    "inbound_sources",
    "number_format",
    "inbound_number_from",
    "codecs",
];

/// The shipped presets (a broken file is an error, never a panic; a test
/// holds the shipped one to [`CarrierPresets::check`]).
pub fn shipped() -> Result<CarrierPresets, String> {
    let presets: CarrierPresets =
        serde_json::from_str(PRESETS_JSON).map_err(|e| format!("carrier-presets.json: {e}"))?;
    presets.check()?;
    Ok(presets)
}

impl CarrierPresets {
    /// The preset with this id.
    pub fn get(&self, id: &str) -> Option<&CarrierPreset> {
        self.presets.iter().find(|p| p.id == id)
    }

    /// Every preset complete: the five carriers there, ids unique, a name,
    /// an `https` link (but "other"), at least one region with a host (but
    /// "other"), a port, codecs the gateway knows, sources that are IPs or
    /// CIDRs, `uncertain` naming real fields, `checked` a `YYYY-MM`.
    pub fn check(&self) -> Result<(), String> {
        let month = self.checked.split_once('-');
        if !month.is_some_and(|(y, m)| {
            y.len() == 4
                && m.len() == 2
                && y.bytes().all(|b| b.is_ascii_digit())
                && m.parse::<u8>().is_ok_and(|m| (1..=12).contains(&m))
        }) {
            return Err(format!("checked `{}` is not YYYY-MM", self.checked));
        }
        for id in ["twilio", "telnyx", "vonage", "bandwidth", "other"] {
            if self.presets.iter().filter(|p| p.id == id).count() != 1 {
                return Err(format!("preset `{id}` missing or repeated"));
            }
        }
        for p in &self.presets {
            let bad = |what: &str| Err(format!("preset `{}`: {what}", p.id));
            if p.name.trim().is_empty() {
                return bad("no name");
            }
            if p.id != "other" {
                if !p.url.starts_with("https://") {
                    return bad("no https link to the carrier's page");
                }
                if p.regions.is_empty() {
                    return bad("no region");
                }
            }
            if p.regions.iter().any(|r| {
                r.name.trim().is_empty() || r.host.trim().is_empty() || r.host.contains(' ')
            }) {
                return bad("a region without a name or host");
            }
            if p.port == 0 {
                return bad("port 0");
            }
            if p.codecs.is_empty()
                || p.codecs
                    .iter()
                    .any(|c| !matches!(c.as_str(), "PCMU" | "PCMA"))
            {
                return bad("codecs must be PCMU and/or PCMA");
            }
            if let Some(s) = p.inbound_sources.iter().find(|s| !is_ip_or_cidr(s)) {
                return bad(&format!("inbound source `{s}` is not an IP or CIDR"));
            }
            if let Some(f) = p.uncertain.iter().find(|f| !FIELDS.contains(&f.as_str())) {
                return bad(&format!("uncertain names no field `{f}`"));
            }
            if p.register && p.auth == PresetAuth::Ip {
                return bad("registration needs credentials");
            }
        }
        Ok(())
    }
}

/// `192.0.2.1`, `2001:db8::1` or either with a `/prefix` in range.
fn is_ip_or_cidr(text: &str) -> bool {
    let (ip, prefix) = match text.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (text, None),
    };
    let Ok(ip) = ip.parse::<core::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|p| p <= max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_presets_parse_and_are_complete() {
        let presets = shipped().expect("the shipped file is valid");
        assert_eq!(presets.presets.len(), 5);
        let twilio = presets.get("twilio").expect("twilio");
        assert_eq!(twilio.name, "Twilio Elastic SIP Trunking");
        assert!(twilio.regions[0].host.ends_with(".pstn.twilio.com"));
        assert_eq!(twilio.number_format, NumberFormat::E164);
        let vonage = presets.get("vonage").expect("vonage");
        assert_eq!(vonage.number_format, NumberFormat::E164WithoutPlus);
        let bandwidth = presets.get("bandwidth").expect("bandwidth");
        assert_eq!(bandwidth.auth, PresetAuth::Ip);
        assert!(!bandwidth.register);
        let telnyx = presets.get("telnyx").expect("telnyx");
        assert!(telnyx.register && telnyx.auth == PresetAuth::Credentials);
    }

    #[test]
    fn incomplete_presets_are_refused() {
        let good = shipped().expect("valid");
        let mut no_link = good.clone();
        no_link.presets[0].url = String::new();
        assert!(no_link.check().expect_err("refused").contains("link"));
        let mut bad_source = good.clone();
        bad_source.presets[0]
            .inbound_sources
            .push("10.0.0.0/33".into());
        assert!(
            bad_source
                .check()
                .expect_err("refused")
                .contains("10.0.0.0/33")
        );
        let mut missing = good.clone();
        missing.presets.retain(|p| p.id != "bandwidth");
        assert!(missing.check().expect_err("refused").contains("bandwidth"));
        let mut bad_field = good.clone();
        bad_field.presets[1].uncertain.push("colour".into());
        assert!(bad_field.check().expect_err("refused").contains("colour"));
        let mut bad_month = good;
        bad_month.checked = "2026-13".into();
        assert!(bad_month.check().is_err());
        assert!(serde_json::from_str::<CarrierPresets>("{\"checked\": 1}").is_err());
    }

    #[test]
    fn sources_are_ips_or_cidrs() {
        for ok in ["192.0.2.1", "192.0.2.0/24", "2001:db8::/32", "2001:db8::1"] {
            assert!(is_ip_or_cidr(ok), "{ok}");
        }
        for bad in [
            "192.0.2.0/33",
            "sip.example.com",
            "2001:db8::/129",
            "1.2.3.4/x",
            "",
        ] {
            assert!(!is_ip_or_cidr(bad), "{bad}");
        }
    }
}
