//! The shipped list of high-risk and premium prefixes
//! (`shared/data/high_risk_prefixes.tsv`), compiled in with `include_str!`
//! and read into a longest-prefix-match table.

use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::DestinationClass;

/// The list as shipped. Admins may replace it at run time (the gateway
/// keeps their edit in its database and hands it to each phone in the
/// dialing profile); this is the default.
pub const SHIPPED: &str = include_str!("../../data/high_risk_prefixes.tsv");

/// Most entries an edited list may have.
pub const MAX_ENTRIES: usize = 5000;
/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 200;

/// One line of the list. In JSON: `{"prefix": "+44 9", "class":
/// "premium", "note": "…"}` (the prefix written with or without spaces,
/// answered without).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EntryJson", into = "EntryJson")]
pub struct PrefixEntry {
    /// Digits after the `+`, country code included: `"449"`, `"1876"`.
    pub digits: String,
    pub class: DestinationClass,
    pub note: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryJson {
    prefix: String,
    class: DestinationClass,
    note: String,
}

impl TryFrom<EntryJson> for PrefixEntry {
    type Error = String;

    fn try_from(e: EntryJson) -> Result<PrefixEntry, String> {
        let digits = parse_prefix(e.prefix.trim())?;
        let note = e.note.trim();
        if note.is_empty() {
            return Err(format!("the note of +{digits} is empty"));
        }
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(format!(
                "the note of +{digits} is longer than {MAX_NOTE_CHARS} characters"
            ));
        }
        Ok(PrefixEntry {
            digits,
            class: e.class,
            note: note.to_owned(),
        })
    }
}

impl From<PrefixEntry> for EntryJson {
    fn from(e: PrefixEntry) -> EntryJson {
        EntryJson {
            prefix: format!("+{}", e.digits),
            class: e.class,
            note: e.note,
        }
    }
}

/// Prefixes, longest match first. In JSON, a list of [`PrefixEntry`]; a
/// prefix listed twice does not deserialise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<PrefixEntry>", into = "Vec<PrefixEntry>")]
pub struct PrefixTable {
    /// Sorted by length, longest first, so the first match is the longest.
    entries: Vec<PrefixEntry>,
}

/// A line of a prefix list that does not parse: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

impl PrefixTable {
    /// Reads a list in the shipped file's format (see its header). Every
    /// line that is neither blank nor a `#` comment must parse; a prefix
    /// listed twice is an error too (which line would win is then unclear).
    pub fn parse(text: &str) -> Result<PrefixTable, ParseError> {
        let mut entries: Vec<PrefixEntry> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let err = |message: String| ParseError { line, message };
            let trimmed = raw.trim_end_matches('\r');
            if trimmed.trim().is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = trimmed.split('\t').collect();
            let [prefix, class, note] = fields[..] else {
                return Err(err(format!(
                    "expected 3 tab-separated fields (prefix, class, note), found {}",
                    fields.len()
                )));
            };
            let digits = parse_prefix(prefix).map_err(err)?;
            let class = parse_class(class).ok_or_else(|| {
                err(format!(
                    "unknown class {class:?} (premium, satellite, high_risk, non_geographic, toll_free, special)"
                ))
            })?;
            if note.trim().is_empty() {
                return Err(err("the note is empty".to_owned()));
            }
            if entries.iter().any(|e| e.digits == digits) {
                return Err(err(format!("+{digits} is listed twice")));
            }
            entries.push(PrefixEntry {
                digits,
                class,
                note: note.trim().to_owned(),
            });
        }
        entries.sort_by_key(|e| std::cmp::Reverse(e.digits.len()));
        Ok(PrefixTable { entries })
    }

    /// The entry with the longest prefix of `digits` (E.164 digits without `+`).
    pub fn lookup(&self, digits: &str) -> Option<&PrefixEntry> {
        self.entries.iter().find(|e| digits.starts_with(&e.digits))
    }

    pub fn entries(&self) -> &[PrefixEntry] {
        &self.entries
    }

    /// A table of `entries` (any order): an error names a prefix listed
    /// twice or a list too long.
    pub fn from_entries(mut entries: Vec<PrefixEntry>) -> Result<PrefixTable, String> {
        if entries.len() > MAX_ENTRIES {
            return Err(format!("the list has more than {MAX_ENTRIES} prefixes"));
        }
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        if let Some(twice) = entries.iter().find(|e| !seen.insert(e.digits.as_str())) {
            return Err(format!("+{} is listed twice", twice.digits));
        }
        // Longest first; equal lengths by digits, so that one list always
        // serialises the same way.
        entries.sort_by(|a, b| {
            b.digits
                .len()
                .cmp(&a.digits.len())
                .then_with(|| a.digits.cmp(&b.digits))
        });
        Ok(PrefixTable { entries })
    }
}

impl TryFrom<Vec<PrefixEntry>> for PrefixTable {
    type Error = String;

    fn try_from(entries: Vec<PrefixEntry>) -> Result<PrefixTable, String> {
        PrefixTable::from_entries(entries)
    }
}

impl From<PrefixTable> for Vec<PrefixEntry> {
    fn from(t: PrefixTable) -> Vec<PrefixEntry> {
        t.entries
    }
}

/// `+44 9` → `449`: a `+`, then digits in groups separated by single spaces.
pub fn parse_prefix(text: &str) -> Result<String, String> {
    let Some(rest) = text.strip_prefix('+') else {
        return Err(format!("the prefix {text:?} must start with '+'"));
    };
    let mut digits = String::with_capacity(rest.len());
    for group in rest.split(' ') {
        if group.is_empty() || !group.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "the prefix {text:?} must be '+' and digits (single spaces between groups)"
            ));
        }
        digits.push_str(group);
    }
    if digits.starts_with('0') {
        return Err(format!(
            "the prefix {text:?}: a country code cannot start with 0"
        ));
    }
    if digits.len() > crate::e164::MAX_DIGITS {
        return Err(format!("the prefix {text:?} is longer than a whole number"));
    }
    Ok(digits)
}

fn parse_class(text: &str) -> Option<DestinationClass> {
    Some(match text {
        "premium" => DestinationClass::Premium,
        "satellite" => DestinationClass::Satellite,
        "high_risk" => DestinationClass::HighRisk,
        "non_geographic" => DestinationClass::NonGeographic,
        "toll_free" => DestinationClass::TollFree,
        "special" => DestinationClass::Special,
        _ => return None,
    })
}

static SHIPPED_TABLE: LazyLock<Result<PrefixTable, ParseError>> =
    LazyLock::new(|| PrefixTable::parse(SHIPPED));

/// The shipped list. If it does not parse (an edit broke it and the tests
/// were not run) the table is empty and [`shipped_error`] says why, for a
/// program to check at start-up and refuse to run.
pub fn shipped() -> &'static PrefixTable {
    static EMPTY: PrefixTable = PrefixTable {
        entries: Vec::new(),
    };
    SHIPPED_TABLE.as_ref().unwrap_or(&EMPTY)
}

/// Why the shipped list does not parse, if it does not.
pub fn shipped_error() -> Option<&'static ParseError> {
    SHIPPED_TABLE.as_ref().err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_list_parses() {
        // Every non-comment line of the shipped file must be well formed:
        // a malformed line fails here instead of being skipped.
        let table = PrefixTable::parse(SHIPPED).unwrap_or_else(|e| panic!("{e}"));
        assert!(shipped_error().is_none());
        assert_eq!(shipped().entries().len(), table.entries().len());
        let data_lines = SHIPPED
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(table.entries().len(), data_lines);
        for prefix in ["870", "881", "882", "883", "979", "449", "1876", "53"] {
            assert!(
                table.entries().iter().any(|e| e.digits == prefix),
                "+{prefix} is in the shipped list"
            );
        }
    }

    #[test]
    fn the_longest_prefix_wins() {
        let table = PrefixTable::parse(
            "# comment\n\n+44\thigh_risk\twhole country\n+44 9\tpremium\tUK 09\n+44 98\tnon_geographic\tnarrower\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let class = |d: &str| table.lookup(d).map(|e| e.class);
        assert_eq!(class("449871234567"), Some(DestinationClass::NonGeographic));
        assert_eq!(class("449091234567"), Some(DestinationClass::Premium));
        assert_eq!(class("442079460958"), Some(DestinationClass::HighRisk));
        assert_eq!(class("33123456789"), None);
        assert_eq!(
            table.lookup("449091234567").map(|e| e.note.as_str()),
            Some("UK 09")
        );
    }

    #[test]
    fn the_table_round_trips_through_json_and_refuses_bad_entries() {
        let table = shipped().clone();
        let json = serde_json::to_string(&table).unwrap_or_else(|e| panic!("{e}"));
        let back: PrefixTable = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.entries().len(), table.entries().len());
        for e in table.entries() {
            assert_eq!(back.lookup(&e.digits).map(|b| &b.digits), Some(&e.digits));
        }
        let one: PrefixTable = serde_json::from_str(
            r#"[{"prefix":"+44 9","class":"premium","note":" UK 09 "},
                {"prefix":"+4498","class":"non_geographic","note":"narrower"}]"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(one.entries()[0].digits, "4498");
        assert_eq!(one.lookup("449012").map(|e| e.note.as_str()), Some("UK 09"));
        let json = serde_json::to_value(&one).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json[1]["prefix"], "+449");
        for (bad, needle) in [
            (
                r#"[{"prefix":"449","class":"premium","note":"x"}]"#,
                "must start with '+'",
            ),
            (
                r#"[{"prefix":"+449","class":"cheap","note":"x"}]"#,
                "unknown variant",
            ),
            (
                r#"[{"prefix":"+449","class":"premium","note":" "}]"#,
                "is empty",
            ),
            (
                r#"[{"prefix":"+449","class":"premium","note":"a"},{"prefix":"+44 9","class":"premium","note":"b"}]"#,
                "+449 is listed twice",
            ),
        ] {
            match serde_json::from_str::<PrefixTable>(bad) {
                Ok(_) => panic!("{bad} parsed"),
                Err(e) => assert!(e.to_string().contains(needle), "{bad}: {e}"),
            }
        }
    }

    #[test]
    fn malformed_lines_are_errors_with_their_line_number() {
        let cases = [
            ("+44 9\tpremium", 1, "expected 3 tab-separated fields"),
            (
                "#ok\n+44 9 premium note",
                2,
                "expected 3 tab-separated fields",
            ),
            ("44 9\tpremium\tx", 1, "must start with '+'"),
            ("+44  9\tpremium\tx", 1, "single spaces"),
            ("+44a\tpremium\tx", 1, "must be '+' and digits"),
            ("+\tpremium\tx", 1, "must be '+' and digits"),
            ("+044\tpremium\tx", 1, "cannot start with 0"),
            ("+449\tpremium-rate\tx", 1, "unknown class"),
            ("+449\tgeographic\tx", 1, "unknown class"),
            ("+449\tpremium\t ", 1, "the note is empty"),
            ("+449\tpremium\ta\n+44 9\thigh_risk\tb", 2, "listed twice"),
            ("+449\tpremium\ta\textra", 1, "found 4"),
        ];
        for (text, line, needle) in cases {
            match PrefixTable::parse(text) {
                Ok(_) => panic!("{text:?} parsed"),
                Err(e) => {
                    assert_eq!(e.line, line, "{text:?}: {e}");
                    assert!(e.message.contains(needle), "{text:?}: {e}");
                }
            }
        }
    }
}
