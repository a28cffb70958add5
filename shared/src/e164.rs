//! Phone numbers in E.164 form (`+` and at most 15 digits), and turning what
//! a person types into one.
//!
//! Agents type numbers the way they are written locally: `(415) 555-2671`,
//! `020 7946 0958`, `0044 20 7946 0958`, `+44 (0)20 7946 0958`. Carriers
//! want E.164. [`normalize`] bridges the two with a *default country* (the
//! agent's or the campaign's) that says how national numbers look there:
//! its calling code, trunk prefix (`0` in most of Europe, `1` in the NANP),
//! international prefix (`00`, `011`, `0011`) and national number lengths.
//!
//! A validated number is its own type, [`E164`] (parse, don't validate): a
//! function taking `E164` cannot be handed a raw string by mistake, and serde
//! refuses invalid numbers at the API boundary.
//!
//! Deliberately not here: full per-country numbering plans (libphonenumber's
//! data is megabytes; the browser client compiles this module). Countries
//! outside [`COUNTRIES`] are still accepted in international form, checked
//! only against E.164's overall length.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Fewest digits (country code included) accepted. E.164 sets no minimum;
/// the shortest numbers in service are 7 digits (Niue, St Helena: `+683
/// 4002`), so fewer is certainly a typo.
pub const MIN_DIGITS: usize = 7;
/// ITU-T E.164 §6: at most 15 digits, country code included.
pub const MAX_DIGITS: usize = 15;

/// A number in E.164 form: `+`, a country code that does not start with 0,
/// and [`MIN_DIGITS`]..=[`MAX_DIGITS`] digits in all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

impl E164 {
    /// `+14155552671`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the `+`.
    pub fn digits(&self) -> &str {
        self.0.get(1..).unwrap_or_default()
    }

    /// The country this number belongs to, if it is one of [`COUNTRIES`].
    /// `+1` numbers are read by area code ([`crate::destination::nanp`]):
    /// `+1 416` is CA, `+1 876` JM; non-geographic codes (`+1 800`, `+1 900`,
    /// `+1 500`) give the US entry, whose format they share —
    /// [`crate::destination::classify`] tells them apart.
    pub fn country(&self) -> Option<&'static Country> {
        country_of(self.digits())
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for E164 {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Parses a number that is already E.164 (`+` and digits, nothing else).
/// Use [`normalize`] for what people type.
impl FromStr for E164 {
    type Err = NumberError;

    fn from_str(s: &str) -> Result<E164, NumberError> {
        let digits = s.strip_prefix('+').ok_or(NumberError::NotInternational)?;
        if let Some(c) = digits.chars().find(|c| !c.is_ascii_digit()) {
            return Err(NumberError::InvalidCharacter(c));
        }
        from_international_digits(digits)
    }
}

impl TryFrom<String> for E164 {
    type Error = NumberError;

    fn try_from(s: String) -> Result<E164, NumberError> {
        s.parse()
    }
}

impl From<E164> for String {
    fn from(n: E164) -> String {
        n.0
    }
}

/// Why a number was refused. The messages are meant for the agent who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("the number is empty")]
    Empty,
    #[error("{0:?} is not allowed in a phone number")]
    InvalidCharacter(char),
    #[error("'+' may only stand at the start of the number")]
    MisplacedPlus,
    #[error("an E.164 number starts with '+'")]
    NotInternational,
    #[error("a country code cannot start with 0")]
    InvalidCountryCode,
    #[error("too short: {digits} digits, at least {MIN_DIGITS} are needed with the country code")]
    TooShort { digits: usize },
    #[error("too long: {digits} digits, at most {MAX_DIGITS} are allowed with the country code")]
    TooLong { digits: usize },
    #[error(
        "{country} numbers have {expected} digits after the country code, this one has {digits}"
    )]
    WrongLength {
        country: &'static str,
        digits: usize,
        expected: String,
    },
    #[error("in North America neither the area code nor the exchange can start with 0 or 1")]
    InvalidNanp,
}

/// How numbers are written in one country.
#[derive(Debug, PartialEq, Eq)]
pub struct Country {
    /// ISO 3166-1 alpha-2, upper case.
    pub iso: &'static str,
    /// Without `+`: `"1"`, `"44"`, `"353"`.
    pub calling_code: &'static str,
    /// Dialled before national numbers and dropped in international form
    /// (`0` in GB, `1` in the NANP); `None` where the leading digit is part
    /// of the number (Italy, Spain, Denmark…).
    pub trunk_prefix: Option<&'static str>,
    /// Dialled before a country code (`00`, `011`, `0011`).
    pub international_prefix: &'static str,
    /// Lengths of the national significant number (after the country code).
    pub national_lengths: &'static [usize],
}

impl Country {
    fn is_nanp(&self) -> bool {
        self.calling_code == "1"
    }

    fn expected_lengths(&self) -> String {
        match self.national_lengths {
            [] => String::new(),
            [one] => one.to_string(),
            [first, _, .., last] if last - first + 1 == self.national_lengths.len() => {
                format!("{first} to {last}")
            }
            [init @ .., last] => {
                let init: Vec<String> = init.iter().map(usize::to_string).collect();
                format!("{} or {last}", init.join(", "))
            }
        }
    }
}

macro_rules! country {
    ($iso:literal, $cc:literal, $trunk:expr, $intl:literal, $lengths:expr) => {
        Country {
            iso: $iso,
            calling_code: $cc,
            trunk_prefix: $trunk,
            international_prefix: $intl,
            national_lengths: $lengths,
        }
    };
}

/// The countries whose national formats [`normalize`] understands.
/// Lengths are those of the national significant number (ITU-T national
/// numbering plans, simplified to the ranges in common use). Every member of
/// the NANP is here (they share one format) so that a `+1` number has its
/// real country; [`crate::destination::nanp`] maps area codes to them.
pub const COUNTRIES: &[Country] = &[
    country!("US", "1", Some("1"), "011", &[10]),
    country!("CA", "1", Some("1"), "011", &[10]),
    country!("GB", "44", Some("0"), "00", &[9, 10]),
    country!("DE", "49", Some("0"), "00", &[6, 7, 8, 9, 10, 11, 12, 13]),
    country!("FR", "33", Some("0"), "00", &[9]),
    country!("ES", "34", None, "00", &[9]),
    country!("IT", "39", None, "00", &[6, 7, 8, 9, 10, 11]),
    country!("NL", "31", Some("0"), "00", &[9]),
    country!("BE", "32", Some("0"), "00", &[8, 9]),
    country!("IE", "353", Some("0"), "00", &[7, 8, 9]),
    country!("AU", "61", Some("0"), "0011", &[9]),
    country!("NZ", "64", Some("0"), "00", &[8, 9, 10]),
    country!("IN", "91", Some("0"), "00", &[10]),
    country!("BR", "55", Some("0"), "00", &[10, 11]),
    country!("MX", "52", None, "00", &[10]),
    country!("ZA", "27", Some("0"), "00", &[9]),
    country!("PH", "63", Some("0"), "00", &[8, 9, 10]),
    country!("JP", "81", Some("0"), "010", &[9, 10]),
    country!("SG", "65", None, "000", &[8]),
    country!("AE", "971", Some("0"), "00", &[8, 9]),
    country!("SE", "46", Some("0"), "00", &[7, 8, 9]),
    country!("NO", "47", None, "00", &[8]),
    country!("DK", "45", None, "00", &[8]),
    country!("PL", "48", None, "00", &[9]),
    country!("PT", "351", None, "00", &[9]),
    country!("CH", "41", Some("0"), "00", &[9]),
    country!("AT", "43", Some("0"), "00", &[7, 8, 9, 10, 11, 12, 13]),
    // The rest of the NANP: Caribbean, Atlantic and Pacific members.
    country!("AG", "1", Some("1"), "011", &[10]),
    country!("AI", "1", Some("1"), "011", &[10]),
    country!("AS", "1", Some("1"), "011", &[10]),
    country!("BB", "1", Some("1"), "011", &[10]),
    country!("BM", "1", Some("1"), "011", &[10]),
    country!("BS", "1", Some("1"), "011", &[10]),
    country!("DM", "1", Some("1"), "011", &[10]),
    country!("DO", "1", Some("1"), "011", &[10]),
    country!("GD", "1", Some("1"), "011", &[10]),
    country!("GU", "1", Some("1"), "011", &[10]),
    country!("JM", "1", Some("1"), "011", &[10]),
    country!("KN", "1", Some("1"), "011", &[10]),
    country!("KY", "1", Some("1"), "011", &[10]),
    country!("LC", "1", Some("1"), "011", &[10]),
    country!("MP", "1", Some("1"), "011", &[10]),
    country!("MS", "1", Some("1"), "011", &[10]),
    country!("PR", "1", Some("1"), "011", &[10]),
    country!("SX", "1", Some("1"), "011", &[10]),
    country!("TC", "1", Some("1"), "011", &[10]),
    country!("TT", "1", Some("1"), "011", &[10]),
    country!("VC", "1", Some("1"), "011", &[10]),
    country!("VG", "1", Some("1"), "011", &[10]),
    country!("VI", "1", Some("1"), "011", &[10]),
];

/// The country with ISO code `iso` (case-insensitive).
pub fn country(iso: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|c| c.iso.eq_ignore_ascii_case(iso))
}

/// Turns a number as typed into E.164, reading national numbers as
/// `default_country` writes them.
///
/// Accepted: visual separators (spaces, `-`, `.`, `/`, parentheses), a
/// leading `tel:`, `+` or the country's international prefix (or `00`)
/// before a country code, `+44 (0)20…` (the trunk prefix after the country
/// code is dropped), national numbers with or without the trunk prefix,
/// NANP numbers with or without the leading `1`. Letters are refused,
/// vanity numbers included (`1-800-FLOWERS` is better typed as digits than
/// guessed at).
pub fn normalize(input: &str, default_country: &Country) -> Result<E164, NumberError> {
    let trimmed = input.trim();
    let trimmed = match trimmed.get(..4) {
        Some(scheme) if scheme.eq_ignore_ascii_case("tel:") => trimmed.get(4..).unwrap_or_default(),
        _ => trimmed,
    };
    let mut digits = String::with_capacity(trimmed.len());
    let mut plus = false;
    for c in trimmed.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if digits.is_empty() && !plus => plus = true,
            '+' => return Err(NumberError::MisplacedPlus),
            ' ' | '\t' | '-' | '.' | '/' | '(' | ')' | '\u{a0}' | '\u{2010}'..='\u{2015}' => {}
            c => return Err(NumberError::InvalidCharacter(c)),
        }
    }
    if digits.is_empty() {
        return Err(NumberError::Empty);
    }
    if plus {
        return from_international_digits(&digits);
    }
    if let Some(rest) = digits.strip_prefix(default_country.international_prefix) {
        return from_international_digits(rest);
    }
    if let Some(rest) = digits.strip_prefix("00") {
        return from_international_digits(rest);
    }
    national(&digits, default_country)
}

fn national(digits: &str, country: &Country) -> Result<E164, NumberError> {
    let nsn = match country.trunk_prefix {
        // In the NANP the leading 1 is optional: strip it only from 11
        // digits (a 10-digit number cannot start with 1: area codes are
        // 2-9, which check_national enforces).
        Some(trunk) if country.is_nanp() => match digits.strip_prefix(trunk) {
            Some(rest) if rest.len() == 10 => rest,
            _ => digits,
        },
        Some(trunk) => digits.strip_prefix(trunk).unwrap_or(digits),
        None => digits,
    };
    check_national(nsn, country)?;
    from_international_digits(&format!("{}{nsn}", country.calling_code))
}

/// Length (and NANP shape) of a national significant number.
fn check_national(nsn: &str, country: &Country) -> Result<(), NumberError> {
    if !country.national_lengths.contains(&nsn.len()) {
        return Err(NumberError::WrongLength {
            country: country.iso,
            digits: nsn.len(),
            expected: country.expected_lengths(),
        });
    }
    if country.is_nanp() {
        let b = nsn.as_bytes();
        // NXX-NXX-XXXX: N is 2-9.
        if b.first().is_some_and(|d| *d < b'2') || b.get(3).is_some_and(|d| *d < b'2') {
            return Err(NumberError::InvalidNanp);
        }
    }
    Ok(())
}

/// `digits` start with a country code.
fn from_international_digits(digits: &str) -> Result<E164, NumberError> {
    if digits.is_empty() {
        return Err(NumberError::TooShort { digits: 0 });
    }
    if digits.starts_with('0') {
        return Err(NumberError::InvalidCountryCode);
    }
    let mut digits = digits.to_owned();
    let country = country_of(&digits);
    if let Some(country) = country {
        let nsn = &digits[country.calling_code.len()..];
        // `+44 (0)20 7946 0958`: a trunk prefix written after the country
        // code is a common habit; drop it when that makes the length right.
        if let Some(trunk) = country.trunk_prefix.filter(|_| !country.is_nanp())
            && let Some(rest) = nsn.strip_prefix(trunk)
            && !country.national_lengths.contains(&nsn.len())
            && country.national_lengths.contains(&rest.len())
        {
            digits = format!("{}{rest}", country.calling_code);
        }
    }
    if digits.len() < MIN_DIGITS {
        return Err(NumberError::TooShort {
            digits: digits.len(),
        });
    }
    if digits.len() > MAX_DIGITS {
        return Err(NumberError::TooLong {
            digits: digits.len(),
        });
    }
    if let Some(country) = country {
        check_national(&digits[country.calling_code.len()..], country)?;
    }
    Ok(E164(format!("+{digits}")))
}

/// The table entry whose calling code starts `digits` (calling codes are a
/// prefix code, so at most one code matches). In the NANP the area code
/// picks the member; while it is incomplete (or not a member's), the US
/// entry stands for the format they all share.
fn country_of(digits: &str) -> Option<&'static Country> {
    if let Some(national) = digits.strip_prefix('1') {
        let iso = national
            .get(..3)
            .and_then(crate::destination::nanp::country_of_area_code)
            .unwrap_or("US");
        return country(iso);
    }
    COUNTRIES
        .iter()
        .find(|c| digits.starts_with(c.calling_code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_country_is_found_by_its_iso_code() {
        for c in COUNTRIES {
            assert_eq!(country(&c.iso.to_lowercase()), Some(c));
            assert!(!c.national_lengths.is_empty(), "{}", c.iso);
        }
        assert_eq!(country("XX"), None);
    }

    #[test]
    fn expected_lengths_read_well() {
        let gb = country("GB").map(Country::expected_lengths);
        assert_eq!(gb.as_deref(), Some("9 or 10"));
        let de = country("DE").map(Country::expected_lengths);
        assert_eq!(de.as_deref(), Some("6 to 13"));
    }
}
