//! Query strings for list requests: page size and cursor, the call
//! filters, all percent-encoded.

/// Records per page on the admin lists.
pub const PAGE_SIZE: u32 = 50;

/// Percent-encodes a query value (everything but RFC 3986 unreserved
/// characters), so a `+` in a number stays a plus.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `path` with `params` added (empty values left out).
pub fn with_params(path: &str, params: &[(&str, &str)]) -> String {
    let mut out = path.to_owned();
    for (name, value) in params {
        if value.trim().is_empty() {
            continue;
        }
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(name);
        out.push('=');
        out.push_str(&encode(value.trim()));
    }
    out
}

/// One page of the list at `path`: the first (`cursor: None`) or the next.
pub fn page_path(path: &str, cursor: Option<&str>) -> String {
    with_params(
        path,
        &[
            ("limit", &PAGE_SIZE.to_string()),
            ("cursor", cursor.unwrap_or_default()),
        ],
    )
}

/// The filters of the call records page, as the API names them. `from`
/// and `to` are Unix milliseconds (the page converts the dates it shows).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallFilters {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub agent: String,
    pub carrier_id: String,
    pub did: String,
    pub direction: String,
    pub outcome: String,
}

impl CallFilters {
    /// `path` with the filters set.
    pub fn apply(&self, path: &str) -> String {
        let from = self.from.map(|v| v.to_string()).unwrap_or_default();
        let to = self.to.map(|v| v.to_string()).unwrap_or_default();
        with_params(
            path,
            &[
                ("from", &from),
                ("to", &to),
                ("agent", &self.agent),
                ("carrier_id", &self.carrier_id),
                ("did", &self.did),
                ("direction", &self.direction),
                ("outcome", &self.outcome),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_encoded_and_empty_ones_left_out() {
        assert_eq!(encode("+1 415"), "%2B1%20415");
        assert_eq!(
            page_path("/api/v1/calls", Some("1700000000000.ab-c")),
            "/api/v1/calls?limit=50&cursor=1700000000000.ab-c"
        );
        assert_eq!(page_path("/api/v1/dids", None), "/api/v1/dids?limit=50");
    }

    #[test]
    fn call_filters_build_the_query_and_stack_with_paging() {
        let filters = CallFilters {
            from: Some(1_700_000_000_000),
            agent: "demo".to_owned(),
            did: "+14155550188".to_owned(),
            direction: "inbound".to_owned(),
            ..CallFilters::default()
        };
        let path = filters.apply("/api/v1/calls");
        assert_eq!(
            path,
            "/api/v1/calls?from=1700000000000&agent=demo&did=%2B14155550188&direction=inbound"
        );
        assert_eq!(page_path(&path, None), format!("{path}&limit=50"));
        assert_eq!(
            CallFilters::default().apply("/api/v1/calls.csv"),
            "/api/v1/calls.csv"
        );
    }
}
