//! Password strength for the accounts of people (admins, supervisors,
//! agents): wherever a password is set (`http::agents`: a new account, an
//! admin's reset; `db::seed_if_empty`: the first admin from the
//! environment) it must pass [`check`]. No I/O.
//!
//! Three rules, the cheapest first, and the first one failed gives the
//! reason shown under the form's password field:
//! 1. length: [`MIN_LEN`] to [`MAX_LEN`] characters;
//! 2. not one of the common passwords shipped in
//!    `gateway/data/common-passwords.txt` (case does not matter);
//! 3. the zxcvbn estimator (Dropbox's model: dictionaries, keyboard walks,
//!    dates, repeats, l33t) scores it at least [`MIN_SCORE`] out of 4, with
//!    the username and display name counted as known words.
//!
//! The SIP credentials that sign-in hands out are random (`auth::random_token`)
//! and never pass through here.

use std::collections::HashSet;
use std::sync::OnceLock;

use zxcvbn::Score;

/// NIST SP 800-63B asks for at least 8; 12 leaves room for the
/// passphrases zxcvbn scores well.
pub const MIN_LEN: usize = 12;
/// Argon2 hashes any length, but nobody types more.
pub const MAX_LEN: usize = 128;
/// zxcvbn's 3: "safely unguessable", about 10^8 guesses or more.
pub const MIN_SCORE: Score = Score::Three;

/// Why a password is refused, in words for the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Weak(pub String);

/// Ok when `password` may be set for the account `user_inputs` name
/// (username, display name: a password made of them is weak).
pub fn check(password: &str, user_inputs: &[&str]) -> Result<(), Weak> {
    let len = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&len) {
        return Err(Weak(format!(
            "A password is {MIN_LEN} to {MAX_LEN} characters; this one has {len}."
        )));
    }
    if common().contains(password.to_lowercase().as_str()) {
        return Err(Weak(
            "This is one of the most common passwords; attackers try it first. Choose another."
                .to_owned(),
        ));
    }
    let inputs: Vec<&str> = user_inputs
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if estimate.score() >= MIN_SCORE {
        return Ok(());
    }
    let mut reason = String::from("This password is too easy to guess.");
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            reason.push(' ');
            reason.push_str(&warning.to_string());
        }
        for suggestion in feedback.suggestions() {
            reason.push(' ');
            reason.push_str(&suggestion.to_string());
        }
    }
    Err(Weak(reason))
}

/// The shipped list, read once.
fn common() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../data/common-passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(password: &str, inputs: &[&str]) -> Option<String> {
        check(password, inputs).err().map(|w| w.0)
    }

    #[test]
    fn short_and_overlong_passwords_are_refused_with_the_length() {
        let r = reason("Xq7#vT2!", &[]).unwrap_or_default();
        assert!(r.contains("12 to 128") && r.contains("has 8"), "{r}");
        let long = "a".repeat(129);
        assert!(reason(&long, &[]).is_some_and(|r| r.contains("has 129")));
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert!(common().len() > 8000, "{}", common().len());
        for p in ["1qaz2wsx3edc", "Q1W2E3R4T5Y6", "qwerty123456"] {
            let r = reason(p, &[]).unwrap_or_default();
            assert!(r.contains("most common"), "{p}: {r}");
        }
    }

    #[test]
    fn guessable_passwords_get_zxcvbn_reasons() {
        // Long enough, not on the list, but a repeat and a keyboard walk.
        let r = reason("abcabcabcabc", &[]).unwrap_or_default();
        assert!(r.starts_with("This password is too easy to guess."), "{r}");
        assert!(r.len() > "This password is too easy to guess.".len(), "{r}");
        assert!(reason("qwertyuiop[]", &[]).is_some());
        // The account's own names count as known words.
        assert!(reason("jsmithjsmith2", &["jsmith", "John Smith"]).is_some());
    }

    #[test]
    fn strong_passwords_pass() {
        for p in [
            "correct horse battery staple",
            "Tr0mb0ne-Kettle-Violet",
            "a-good-password-for-tests",
        ] {
            assert_eq!(check(p, &["demo"]), Ok(()), "{p}");
        }
    }
}
