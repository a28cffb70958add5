//! The checked-in fuzz corpus (`fuzz/corpus/<target>/`: seeds, and every
//! input that once made a target fail) through the same bodies the fuzzer
//! runs (`shared::fuzz`), on the stable toolchain, so that a fixed crash
//! stays fixed. `scripts/fuzz.sh` runs the coverage-guided fuzzer itself.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

fn run(target: &str, body: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no corpus in {}", dir.display());
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| body(&bytes));
        assert!(result.is_ok(), "{} fails", path.display());
    }
}

#[test]
fn sip_message() {
    run("sip_message", shared::fuzz::sip_message);
}

#[test]
fn sip_stream() {
    run("sip_stream", shared::fuzz::sip_stream);
}

#[test]
fn sip_transactions() {
    run("sip_transactions", shared::fuzz::sip_transactions);
}

#[test]
fn digest() {
    run("digest", shared::fuzz::digest);
}

#[test]
fn phone_number() {
    run("phone_number", shared::fuzz::phone_number);
}
