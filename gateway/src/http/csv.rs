//! A small RFC 4180 reader for uploaded CSV files: quoted fields (with `""`
//! for a quote, and line breaks inside quotes), CRLF or LF line ends, a
//! leading UTF-8 byte-order mark (spreadsheets write one), blank lines
//! skipped. Each record remembers the line it starts on, for error reports.

use axum::body::Body;
use axum::http::{HeaderMap, header};

use super::AppError;

/// An uploaded CSV file as text. `what` names the content for the 415
/// ("Send the {what} as a CSV file …") when `Content-Type` is not
/// `text/csv`; over `max_bytes` (by `Content-Length`, or once read) is
/// `too_large()`; text that is not UTF-8 is a 400.
pub async fn read_upload(
    headers: &HeaderMap,
    body: Body,
    what: &str,
    max_bytes: usize,
    too_large: impl Fn() -> AppError,
) -> Result<String, AppError> {
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/csv"));
    if !is_csv {
        return Err(AppError::UnsupportedMediaType {
            message: format!("Send the {what} as a CSV file with Content-Type: text/csv."),
        });
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_bytes as u64) {
        return Err(too_large());
    }
    // A read error here is the limit (the body is in memory or streaming
    // from a client that is still connected).
    let bytes = axum::body::to_bytes(body, max_bytes)
        .await
        .map_err(|_| too_large())?;
    String::from_utf8(bytes.to_vec()).map_err(|e| AppError::BadRequest {
        code: "invalid_body",
        message: format!(
            "The file is not UTF-8 text (byte {}).",
            e.utf8_error().valid_up_to()
        ),
        field: None,
    })
}

/// One record (row) of a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The line the record starts on, from 1.
    pub line: u32,
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("line {line}: a quoted field is never closed")]
    UnclosedQuote { line: u32 },
    #[error("line {line}: a quote may only follow a separator inside an unquoted field")]
    StrayQuote { line: u32 },
    #[error("more than {max} rows")]
    TooManyRows { max: usize },
}

/// Parses `text` into records; stops with an error once there are more
/// than `max_records`.
pub fn parse(text: &str, max_records: usize) -> Result<Vec<Record>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line: u32 = 1;
    let mut record_line: u32 = 1;
    // Whether the current field is quoted, and whether its quote closed.
    let mut quoted = false;
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line = line.saturating_add(1);
                    field.push('\n');
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !quoted => {
                quoted = true;
                in_quotes = true;
            }
            '"' => return Err(CsvError::StrayQuote { line }),
            ',' => {
                fields.push(std::mem::take(&mut field));
                quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                end_record(
                    &mut records,
                    &mut fields,
                    &mut field,
                    quoted,
                    record_line,
                    max_records,
                )?;
                quoted = false;
                line = line.saturating_add(1);
                record_line = line;
            }
            // After a closing quote only a separator or the line end may come.
            _ if quoted => return Err(CsvError::StrayQuote { line }),
            c => field.push(c),
        }
    }
    if in_quotes {
        return Err(CsvError::UnclosedQuote { line: record_line });
    }
    end_record(
        &mut records,
        &mut fields,
        &mut field,
        quoted,
        record_line,
        max_records,
    )?;
    Ok(records)
}

fn end_record(
    records: &mut Vec<Record>,
    fields: &mut Vec<String>,
    field: &mut String,
    quoted: bool,
    line: u32,
    max_records: usize,
) -> Result<(), CsvError> {
    let blank = fields.is_empty() && field.trim().is_empty() && !quoted;
    if blank {
        field.clear();
        return Ok(());
    }
    fields.push(std::mem::take(field));
    if records.len() >= max_records {
        return Err(CsvError::TooManyRows { max: max_records });
    }
    records.push(Record {
        line,
        fields: std::mem::take(fields),
    });
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check(text: &str, expect: &[(u32, &[&str])]) {
        let got = parse(text, 100).unwrap();
        let got: Vec<(u32, Vec<&str>)> = got
            .iter()
            .map(|r| (r.line, r.fields.iter().map(String::as_str).collect()))
            .collect();
        let expect: Vec<(u32, Vec<&str>)> = expect.iter().map(|(l, f)| (*l, f.to_vec())).collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn plain_rows_with_crlf_lf_blank_lines_and_bom() {
        check(
            "\u{feff}number,label\r\n+1555,Sales\n\n  \n+1666,\n",
            &[
                (1, &["number", "label"]),
                (2, &["+1555", "Sales"]),
                (5, &["+1666", ""]),
            ],
        );
        check("a,b", &[(1, &["a", "b"])]);
        check("", &[]);
    }

    #[test]
    fn quoted_fields_keep_commas_quotes_and_line_breaks() {
        check(
            "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\nnext,\"\"\n",
            &[
                (1, &["a,b", "say \"hi\"", "two\nlines"]),
                (3, &["next", ""]),
            ],
        );
    }

    #[test]
    fn malformed_quotes_and_too_many_rows_are_errors() {
        assert_eq!(
            parse("ok\n\"open,x\n", 10),
            Err(CsvError::UnclosedQuote { line: 2 })
        );
        assert_eq!(parse("a\"b\n", 10), Err(CsvError::StrayQuote { line: 1 }));
        assert_eq!(parse("\"a\"b\n", 10), Err(CsvError::StrayQuote { line: 1 }));
        assert_eq!(parse("1\n2\n3\n", 2), Err(CsvError::TooManyRows { max: 2 }));
    }
}
