//! A carrier's rate table: price per minute by E.164 prefix, read from CSV,
//! and the estimated cost of a call from it.
//!
//! Money is never a float here. Prices and costs are integers of
//! 1/10000 of the carrier's currency (`PRICE_SCALE`): `0.0123` per minute
//! is `123`. Calls are billed per second: a call of `d` seconds at `p` per
//! minute costs `p × d / 60`, rounded up to the next 1/10000.

use serde::{Deserialize, Serialize};

/// Units of price per unit of currency: prices are in 1/10000.
pub const PRICE_SCALE: i64 = 10_000;
/// Most rows a table may have.
pub const MAX_RATES: usize = 100_000;
/// Highest price per minute accepted: 1000.0000 of the currency.
pub const MAX_PRICE: i64 = 1_000 * PRICE_SCALE;
/// Longest description kept.
pub const MAX_DESCRIPTION: usize = 200;
/// Line errors reported at most (the file may have many more).
pub const MAX_LINE_ERRORS: usize = 20;

/// One row of a rate table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// E.164 digits without `+` (1–15 digits), e.g. `"4420"`.
    pub prefix: String,
    /// Price per minute in 1/10000 of the carrier's currency.
    pub price_per_minute: i64,
    #[serde(default)]
    pub description: Option<String>,
}

/// A bad CSV line: 1-based line number (header included) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLineError {
    pub line: u32,
    pub error: String,
}

impl std::fmt::Display for RateLineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

/// Why a CSV file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatesCsvError {
    /// More than `MAX_RATES` rows.
    TooManyRows,
    /// The first bad lines (at most `MAX_LINE_ERRORS`), and how many there
    /// were in all.
    BadLines {
        errors: Vec<RateLineError>,
        total: usize,
    },
}

impl std::fmt::Display for RatesCsvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RatesCsvError::TooManyRows => write!(f, "more than {MAX_RATES} rows"),
            RatesCsvError::BadLines { errors, total } => {
                write!(f, "{total} bad line(s): ")?;
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        write!(f, "; ")?;
                    }
                    write!(f, "{e}")?;
                }
                if *total > errors.len() {
                    write!(f, "; …")?;
                }
                Ok(())
            }
        }
    }
}

/// A carrier's rates, kept sorted by prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateTable {
    rates: Vec<Rate>,
}

impl RateTable {
    /// A table from rows (a later duplicate prefix replaces an earlier one).
    pub fn new(rows: Vec<Rate>) -> Self {
        let mut rates = rows;
        // Stable sort, then keep the last of each prefix.
        rates.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        let mut out: Vec<Rate> = Vec::with_capacity(rates.len());
        for r in rates {
            match out.last_mut() {
                Some(last) if last.prefix == r.prefix => *last = r,
                _ => out.push(r),
            }
        }
        RateTable { rates: out }
    }

    pub fn rates(&self) -> &[Rate] {
        &self.rates
    }

    pub fn into_rates(self) -> Vec<Rate> {
        self.rates
    }

    /// The rate with the longest prefix of `number` (E.164, `+` optional).
    pub fn lookup(&self, number: &str) -> Option<&Rate> {
        let digits = number.strip_prefix('+').unwrap_or(number);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        (1..=digits.len().min(15)).rev().find_map(|n| {
            let p = &digits[..n];
            self.rates
                .binary_search_by(|r| r.prefix.as_str().cmp(p))
                .ok()
                .map(|i| &self.rates[i])
        })
    }

    /// Estimated cost of a call of `duration_s` seconds to `number`, in
    /// 1/10000 of the currency; `None` when no prefix matches.
    pub fn cost(&self, number: &str, duration_s: i64) -> Option<i64> {
        self.lookup(number)
            .map(|r| cost(r.price_per_minute, duration_s))
    }

    /// Parses `prefix,price_per_minute[,description]` lines. The first line
    /// is skipped when its first field is not digits (a header). Blank
    /// lines are skipped. `price_per_minute` is a decimal with at most 4
    /// places (`0.0123`); the prefix may start with `+`. The description
    /// is the rest of the line (commas included), surrounding quotes
    /// removed.
    pub fn parse_csv(text: &str) -> Result<RateTable, RatesCsvError> {
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        let mut total = 0usize;
        for (i, line) in text.lines().enumerate() {
            let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let line = line.trim_start_matches('\u{feff}').trim();
            if line.is_empty() {
                continue;
            }
            if i == 0 {
                let first = line.split(',').next().unwrap_or("").trim();
                let first = first.trim_matches('"');
                let first = first.strip_prefix('+').unwrap_or(first);
                if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
            }
            match parse_line(line) {
                Ok(r) => {
                    if rows.len() >= MAX_RATES {
                        return Err(RatesCsvError::TooManyRows);
                    }
                    rows.push(r);
                }
                Err(error) => {
                    total += 1;
                    if errors.len() < MAX_LINE_ERRORS {
                        errors.push(RateLineError {
                            line: line_no,
                            error,
                        });
                    }
                }
            }
        }
        if total > 0 {
            return Err(RatesCsvError::BadLines { errors, total });
        }
        Ok(RateTable::new(rows))
    }
}

/// Cost of `duration_s` seconds at `price_per_minute` (both in 1/10000),
/// billed per second and rounded up; 0 for a call of 0 s or less.
pub fn cost(price_per_minute: i64, duration_s: i64) -> i64 {
    if duration_s <= 0 || price_per_minute <= 0 {
        return 0;
    }
    let total = i128::from(price_per_minute) * i128::from(duration_s);
    let c = (total + 59) / 60;
    i64::try_from(c).unwrap_or(i64::MAX)
}

/// Checks a prefix (1–15 digits, `+` allowed in front) and returns its digits.
pub fn check_prefix(prefix: &str) -> Result<String, String> {
    let p = prefix.trim().trim_matches('"').trim();
    let digits = p.strip_prefix('+').unwrap_or(p);
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "prefix `{}` is not 1 to 15 digits",
            truncate(prefix.trim(), 20)
        ));
    }
    if digits.starts_with('0') {
        return Err(format!(
            "prefix `{digits}` starts with 0 (E.164 country codes do not)"
        ));
    }
    Ok(digits.to_owned())
}

/// Parses a decimal price (`1`, `0.5`, `0.0123`) into 1/10000 units.
pub fn parse_price(s: &str) -> Result<i64, String> {
    let t = s.trim().trim_matches('"').trim();
    let bad = || {
        format!(
            "price `{}` is not a number like 0.0123 (at most 4 decimals)",
            truncate(s.trim(), 20)
        )
    };
    let (int, frac) = match t.split_once('.') {
        Some((a, b)) => (a, b),
        None => (t, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 4
        || int.len() > 9
    {
        return Err(bad());
    }
    let int: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut frac_v: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    for _ in frac.len()..4 {
        frac_v *= 10;
    }
    let v = int * PRICE_SCALE + frac_v;
    if v > MAX_PRICE {
        return Err(format!(
            "price {t} is over the limit of {} per minute",
            MAX_PRICE / PRICE_SCALE
        ));
    }
    Ok(v)
}

/// Formats 1/10000 units with two decimals, cut (not rounded), as people
/// read amounts of money (`1500` → `0.15`, `123` → `0.01`); rate tables
/// keep the four of [`format_price`].
pub fn format_money(v: i64) -> String {
    let text = format_price(v);
    match text.split_once('.') {
        Some((whole, fraction)) => format!("{whole}.{}", fraction.get(..2).unwrap_or(fraction)),
        None => text,
    }
}

/// Formats 1/10000 units as a decimal (`123` → `0.0123`).
pub fn format_price(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let scale = PRICE_SCALE.unsigned_abs();
    format!("{sign}{}.{:04}", a / scale, a % scale)
}

fn parse_line(line: &str) -> Result<Rate, String> {
    let mut parts = line.splitn(3, ',');
    let prefix = parts.next().unwrap_or("");
    let Some(price) = parts.next() else {
        return Err("expected prefix,price_per_minute[,description]".to_owned());
    };
    let prefix = check_prefix(prefix)?;
    let price_per_minute = parse_price(price)?;
    let description = parts
        .next()
        .map(|d| d.trim().trim_matches('"').trim().to_owned())
        .filter(|d| !d.is_empty());
    if let Some(d) = &description {
        if d.chars().count() > MAX_DESCRIPTION {
            return Err(format!(
                "description is longer than {MAX_DESCRIPTION} characters"
            ));
        }
        if d.chars().any(char::is_control) {
            return Err("description has control characters".to_owned());
        }
    }
    Ok(Rate {
        prefix,
        price_per_minute,
        description,
    })
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {

    #[test]
    fn money_has_two_decimals_cut() {
        assert_eq!(format_money(1500), "0.15");
        assert_eq!(format_money(123), "0.01");
        assert_eq!(format_money(220_000), "22.00");
        assert_eq!(format_money(0), "0.00");
    }

    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let t =
            RateTable::parse_csv("prefix,price\n44,0.0100\n4420,0.0050,London\n1,0.002\n").unwrap();
        assert_eq!(t.lookup("+442071234567").unwrap().prefix, "4420");
        assert_eq!(t.lookup("+447700900123").unwrap().prefix, "44");
        assert_eq!(t.lookup("12125550100").unwrap().price_per_minute, 20);
        assert!(t.lookup("+33123456789").is_none());
        assert!(t.lookup("").is_none());
        assert!(t.lookup("+44abc").is_none());
        assert_eq!(
            t.lookup("+442071234567").unwrap().description.as_deref(),
            Some("London")
        );
    }

    #[test]
    fn per_second_billing_rounds_up() {
        // 0.0100/min for 61 s: 100 × 61 / 60 = 101.67 → 102.
        assert_eq!(cost(100, 61), 102);
        assert_eq!(cost(100, 60), 100);
        assert_eq!(cost(60, 1), 1);
        assert_eq!(cost(1, 1), 1);
        assert_eq!(cost(100, 0), 0);
        assert_eq!(cost(0, 100), 0);
        assert_eq!(cost(MAX_PRICE, i64::MAX), i64::MAX);
        let t = RateTable::parse_csv("44,0.01").unwrap();
        assert_eq!(t.cost("+441", 61), Some(102));
        assert_eq!(t.cost("+331", 61), None);
    }

    #[test]
    fn prices_parse_exactly() {
        assert_eq!(parse_price("0.0123"), Ok(123));
        assert_eq!(parse_price("1"), Ok(10_000));
        assert_eq!(parse_price("1.5"), Ok(15_000));
        assert_eq!(parse_price(".5"), Ok(5_000));
        assert_eq!(parse_price("\"0.02\""), Ok(200));
        assert_eq!(parse_price("1000"), Ok(MAX_PRICE));
        assert!(parse_price("1000.0001").is_err());
        assert!(parse_price("-1").is_err());
        assert!(parse_price("0.00001").is_err());
        assert!(parse_price("1e3").is_err());
        assert!(parse_price("").is_err());
        assert!(parse_price(".").is_err());
        assert!(parse_price("99999999999999999999").is_err());
        assert_eq!(format_price(123), "0.0123");
        assert_eq!(format_price(15_000), "1.5000");
    }

    #[test]
    fn bad_lines_are_numbered() {
        let err = RateTable::parse_csv(
            "prefix,price_per_minute,description\n44,0.01\n\nabc,0.01\n1,-2\n1234567890123456,1\n33\n",
        )
        .unwrap_err();
        let RatesCsvError::BadLines { errors, total } = err else {
            panic!("expected bad lines");
        };
        assert_eq!(total, 4);
        let lines: Vec<u32> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![4, 5, 6, 7]);
        assert!(errors[0].error.contains("prefix"), "{}", errors[0].error);
        assert!(errors[1].error.contains("price"), "{}", errors[1].error);
        assert!(errors[3].error.contains("expected"), "{}", errors[3].error);
    }

    #[test]
    fn header_is_optional_and_duplicates_keep_the_last() {
        let t = RateTable::parse_csv("+44,0.01\n44,0.02,\"UK, all\"\n").unwrap();
        assert_eq!(t.rates().len(), 1);
        assert_eq!(t.rates()[0].price_per_minute, 200);
        assert_eq!(t.rates()[0].description.as_deref(), Some("UK, all"));
        assert!(RateTable::parse_csv("").unwrap().rates().is_empty());
        assert!(
            RateTable::parse_csv("prefix,price\n")
                .unwrap()
                .rates()
                .is_empty()
        );
    }

    #[test]
    fn too_many_rows_and_many_errors_are_capped() {
        let mut big = String::new();
        for i in 0..=MAX_RATES {
            big.push_str(&format!("{},0.01\n", 1_000_000 + i));
        }
        assert_eq!(RateTable::parse_csv(&big), Err(RatesCsvError::TooManyRows));
        let bad = "x,1\n".repeat(50);
        let RatesCsvError::BadLines { errors, total } = RateTable::parse_csv(&bad).unwrap_err()
        else {
            panic!("expected bad lines");
        };
        assert_eq!(total, 49); // the first line is taken for a header
        assert_eq!(errors.len(), MAX_LINE_ERRORS);
    }
}
