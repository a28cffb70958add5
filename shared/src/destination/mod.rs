//! Where a number goes and what kind of number it is, for destination
//! policy (toll-fraud protection): the country (the NANP read by area code,
//! other countries by calling code) and a [`DestinationClass`] (premium,
//! toll-free, satellite, high-risk …) from the NANP plan and the shipped
//! prefix list ([`prefixes`]).
//!
//! Pure functions over tables compiled into the binary; the browser client
//! runs the same code to warn the agent before dialing.

pub mod nanp;
pub mod prefixes;
pub mod world;

use serde::{Deserialize, Serialize};

use crate::e164::E164;
pub use prefixes::{PrefixEntry, PrefixTable};

/// What kind of number a destination is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationClass {
    /// An ordinary number of a country (landline or mobile: neither the
    /// NANP nor this table tells them apart).
    Geographic,
    /// Free to the caller: NANP 8xx, international freephone +800.
    TollFree,
    /// Billed above the normal rate, part of it paid out to the callee:
    /// NANP 900 and 976 exchanges, national premium ranges (+44 9 …).
    Premium,
    /// Not tied to a place: NANP personal communications (5xx), UK 070,
    /// universal personal numbers (+878).
    NonGeographic,
    /// Satellite phones (+870 Inmarsat, +881): expensive, and a favourite
    /// of revenue-share fraud.
    Satellite,
    /// Named as a frequent international revenue share fraud (IRSF)
    /// destination by the shipped list.
    HighRisk,
    /// Not a subscriber number: NANP N11 codes in the place of an area code
    /// or exchange, NPA-555-1212 directory assistance.
    Special,
}

impl DestinationClass {
    /// "premium-rate numbers", as in "Calls to … are blocked".
    pub fn plural_words(self) -> &'static str {
        match self {
            DestinationClass::Geographic => "ordinary numbers",
            DestinationClass::TollFree => "toll-free numbers",
            DestinationClass::Premium => "premium-rate numbers",
            DestinationClass::NonGeographic => "non-geographic numbers",
            DestinationClass::Satellite => "satellite phones",
            DestinationClass::HighRisk => "high-risk destinations",
            DestinationClass::Special => "special service codes",
        }
    }
}

/// A number's destination, as [`classify`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// ISO 3166 alpha-2 of the country, `None` for codes no single country
    /// owns (NANP toll-free/premium/5xx, ITU global codes such as +881) and
    /// for unassigned country codes.
    pub iso: Option<&'static str>,
    /// Digits (without `+`) that name the place: the calling code, and in
    /// the NANP the area code too (`"1876"`, `"44"`, `"881"`).
    pub place_prefix: String,
    pub class: DestinationClass,
    /// Digits of the prefix that decided the class (`"1900"`, `"449"`);
    /// the place prefix for geographic numbers.
    pub class_prefix: String,
    /// The shipped list's note for the prefix that decided the class.
    pub note: Option<String>,
}

impl Destination {
    /// The country or network in words: "Jamaica", "the United Kingdom",
    /// "international networks", "North American toll-free numbers".
    pub fn place_name(&self) -> String {
        if let Some(name) = self.iso.and_then(world::country_name) {
            return name.to_owned();
        }
        if self.place_prefix.starts_with('1') {
            return format!("North American {}", self.class.plural_words());
        }
        match world::global_code_of(&self.place_prefix) {
            Some((_, name)) => name.to_owned(),
            None => format!("+{}", self.place_prefix),
        }
    }

    /// Numbers no single NANP member owns (`+1 800`, `+1 900`, `+1 500`).
    pub fn is_nanp_shared(&self) -> bool {
        self.iso.is_none() && self.place_prefix.starts_with('1')
    }
}

/// Reads `number` with the shipped prefix list.
pub fn classify(number: &E164) -> Destination {
    classify_with(number, prefixes::shipped())
}

/// Reads `number` with a given prefix list. The NANP plan and the list
/// both have their say: a class the plan gives (900, 8xx, 976 exchanges)
/// yields only to a longer listed prefix; a plain geographic reading yields
/// to any listed one (`+1 876` high-risk, `+53` high-risk).
pub fn classify_with(number: &E164, table: &PrefixTable) -> Destination {
    let digits = number.digits();
    // `specific`: the plan itself gave a class (NANP 900, 8xx, 976 …),
    // which a list entry overrides only with a longer prefix. A plain
    // reading (geographic, or a global code's default) yields to any entry.
    let (iso, place_prefix, class, class_len, specific) =
        if let Some(national) = digits.strip_prefix('1') {
            let reading = nanp::read(national);
            let place = digits.get(..4).unwrap_or(digits);
            (
                reading.iso,
                place.to_owned(),
                reading.class,
                1 + reading.decided_by,
                reading.class != DestinationClass::Geographic,
            )
        } else if let Some((code, iso)) = world::country_code_of(digits) {
            let class = DestinationClass::Geographic;
            (Some(iso), code.to_owned(), class, code.len(), false)
        } else if let Some((code, _)) = world::global_code_of(digits) {
            let class = DestinationClass::NonGeographic;
            (None, code.to_owned(), class, code.len(), false)
        } else {
            // An unassigned country code: name the first three digits.
            let code = digits.get(..3).unwrap_or(digits);
            let class = DestinationClass::Geographic;
            (None, code.to_owned(), class, code.len(), false)
        };
    let listed = table
        .lookup(digits)
        .filter(|e| !specific || e.digits.len() > class_len);
    match listed {
        Some(entry) => Destination {
            iso,
            place_prefix,
            class: entry.class,
            class_prefix: entry.digits.clone(),
            note: Some(entry.note.clone()),
        },
        None => Destination {
            iso,
            class,
            class_prefix: digits.get(..class_len).unwrap_or(digits).to_owned(),
            place_prefix,
            note: None,
        },
    }
}

/// Digits shown as people read them: the calling code (and NANP area code,
/// exchange) apart from the rest: `"1900"` → `+1 900`, `"449"` → `+44 9`,
/// `"12125551212"` → `+1 212 555 1212`.
pub fn show_prefix(digits: &str) -> String {
    let code_len = if digits.starts_with('1') {
        1
    } else if let Some((code, _)) = world::country_code_of(digits) {
        code.len()
    } else if let Some((code, _)) = world::global_code_of(digits) {
        code.len()
    } else {
        digits.len().min(3)
    };
    // Callers pass digits; anything else is shown whole rather than cut
    // inside a character.
    let (code, rest) = digits.split_at_checked(code_len).unwrap_or((digits, ""));
    let mut out = format!("+{code}");
    // NANP: 3-3-4; elsewhere the rest in one group.
    let groups: Vec<&str> = if code == "1" {
        let mut groups = Vec::new();
        let mut rest = rest;
        for len in [3, 3] {
            if rest.len() <= len {
                break;
            }
            let Some((head, tail)) = rest.split_at_checked(len) else {
                break;
            };
            groups.push(head);
            rest = tail;
        }
        groups.push(rest);
        groups
    } else {
        vec![rest]
    };
    for group in groups.into_iter().filter(|g| !g.is_empty()) {
        out.push(' ');
        out.push_str(group);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(s: &str) -> E164 {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// `(number, ISO, class, class prefix shown)`: one line per case.
    #[test]
    fn numbers_are_read_by_country_and_class() {
        use DestinationClass::*;
        let cases: &[(&str, Option<&str>, DestinationClass, &str)] = &[
            ("+12125550100", Some("US"), Geographic, "+1 212"),
            ("+14165550100", Some("CA"), Geographic, "+1 416"),
            ("+16135550199", Some("CA"), Geographic, "+1 613"),
            ("+18675550100", Some("CA"), Geographic, "+1 867"),
            ("+16005550100", Some("CA"), NonGeographic, "+1 600"),
            ("+18765550100", Some("JM"), HighRisk, "+1 876"),
            ("+16585550100", Some("JM"), HighRisk, "+1 658"),
            ("+12425550100", Some("BS"), Geographic, "+1 242"),
            ("+17875550100", Some("PR"), Geographic, "+1 787"),
            ("+18095550100", Some("DO"), HighRisk, "+1 809"),
            ("+16715550100", Some("GU"), Geographic, "+1 671"),
            ("+19005550100", None, Premium, "+1 900"),
            ("+12129765555", Some("US"), Premium, "+1 212 976"),
            ("+18765550100", Some("JM"), HighRisk, "+1 876"),
            ("+18769761234", Some("JM"), Premium, "+1 876 976"),
            ("+18005550100", None, TollFree, "+1 800"),
            ("+18885550100", None, TollFree, "+1 888"),
            ("+15005550100", None, NonGeographic, "+1 500"),
            ("+15335550100", None, NonGeographic, "+1 533"),
            ("+19115550100", None, Special, "+1 911"),
            ("+12124115555", Some("US"), Special, "+1 212 411"),
            ("+12125551212", Some("US"), Special, "+1 212 555 1212"),
            ("+442079460958", Some("GB"), Geographic, "+44"),
            ("+449098790000", Some("GB"), Premium, "+44 9"),
            ("+447012345678", Some("GB"), NonGeographic, "+44 70"),
            ("+4990012345678", Some("DE"), Premium, "+49 900"),
            ("+5371234567", Some("CU"), HighRisk, "+53"),
            ("+77012345678", Some("KZ"), Geographic, "+77"),
            ("+8816123456789", None, Satellite, "+881"),
            ("+870773123456", None, Satellite, "+870"),
            ("+88213123456", None, HighRisk, "+882"),
            ("+883510012345", None, HighRisk, "+883"),
            ("+80012345678", None, TollFree, "+800"),
            ("+9991234567", None, Geographic, "+999"),
        ];
        let mut failures = Vec::new();
        for &(number, iso, class, prefix) in cases {
            let d = classify(&e164(number));
            let got = (d.iso, d.class, show_prefix(&d.class_prefix));
            if got != (iso, class, prefix.to_owned()) {
                failures.push(format!(
                    "{number}: got {got:?}, want {:?}",
                    (iso, class, prefix)
                ));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn places_have_names() {
        let name = |n: &str| classify(&e164(n)).place_name();
        assert_eq!(name("+18765550100"), "Jamaica");
        assert_eq!(name("+14165550100"), "Canada");
        assert_eq!(name("+12125550100"), "the United States");
        assert_eq!(name("+18005550100"), "North American toll-free numbers");
        assert_eq!(name("+88213123456"), "international networks");
        assert_eq!(name("+9991234567"), "+999");
    }

    #[test]
    fn the_country_of_plus_one_numbers_is_read_by_area_code() {
        // `E164::country` (the numbering format) follows the area code too.
        let iso = |n: &str| e164(n).country().map(|c| c.iso);
        assert_eq!(iso("+14165550100"), Some("CA"));
        assert_eq!(iso("+18765550100"), Some("JM"));
        assert_eq!(iso("+12125550100"), Some("US"));
        // Shared codes have the US format.
        assert_eq!(iso("+19005550100"), Some("US"));
        assert_eq!(iso("+442079460958"), Some("GB"));
    }

    #[test]
    fn prefixes_are_shown_grouped() {
        assert_eq!(show_prefix("1"), "+1");
        assert_eq!(show_prefix("1876"), "+1 876");
        assert_eq!(show_prefix("1212976"), "+1 212 976");
        assert_eq!(show_prefix("12125551212"), "+1 212 555 1212");
        assert_eq!(show_prefix("449"), "+44 9");
        assert_eq!(show_prefix("44"), "+44");
        assert_eq!(show_prefix("8816"), "+881 6");
        // Not digits (a fuzzer's find): shown, never cut inside a character.
        assert_eq!(show_prefix("6(\u{4a2}46"), "+6(\u{4a2}46");
        assert_eq!(show_prefix("123456\u{4a2}78"), "+1 234 56\u{4a2}78");
        assert_eq!(show_prefix("3531550"), "+353 1550");
    }
}
