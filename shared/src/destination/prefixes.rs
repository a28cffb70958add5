//! The shipped list of high-risk and premium prefixes
//! (`shared/data/high_risk_prefixes.tsv`), compiled in with `include_str!`
//! and read into a longest-prefix-match table.

use std::fmt;
use std::sync::LazyLock;

use super::DestinationClass;

/// The list as shipped: edit the file, rebuild.
pub const SHIPPED: &str = include_str!("../../data/high_risk_prefixes.tsv");

/// One line of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixEntry {
    /// Digits after the `+`, country code included: `"449"`, `"1876"`.
    pub digits: String,
    pub class: DestinationClass,
    pub note: String,
}

/// Prefixes, longest match first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
