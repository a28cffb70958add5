//! With the `embed-client` feature, compiles the built web client (Trunk's
//! `dist/`, or the directory named by `GATEWAY_EMBED_DIR`) into the binary:
//! writes `$OUT_DIR/embedded_client.rs`, a table of `(path, bytes)` made of
//! `include_bytes!`, which `src/web_client.rs` includes. Without the feature
//! the table is empty and no `dist/` is needed, so `cargo check` and
//! `cargo clippy --all-targets` work on a fresh clone.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=GATEWAY_EMBED_DIR");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let table = if std::env::var_os("CARGO_FEATURE_EMBED_CLIENT").is_some() {
        let dir = match std::env::var_os("GATEWAY_EMBED_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist"),
        };
        embedded_table(&dir)
    } else {
        "pub static FILES: &[(&str, &[u8])] = &[];\n".to_owned()
    };
    let path = out_dir.join("embedded_client.rs");
    if let Err(e) = std::fs::write(&path, table) {
        fail(&format!("cannot write {}: {e}", path.display()));
    }
}

/// The table for every file under `dir`, which must hold `index.html`.
fn embedded_table(dir: &Path) -> String {
    let dir = match dir.canonicalize() {
        Ok(d) => d,
        Err(e) => fail(&format!(
            "the `embed-client` feature compiles the built web client into the binary, \
             but {} cannot be read ({e}): run `trunk build --release` first, or point \
             GATEWAY_EMBED_DIR at a built client",
            dir.display()
        )),
    };
    // A new, removed or changed file in the directory rebuilds the gateway.
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    collect(&dir, &dir, &mut files);
    files.sort();
    if !files.iter().any(|(name, _)| name == "index.html") {
        fail(&format!(
            "{} has no index.html: it is not a built web client (run `trunk build --release`)",
            dir.display()
        ));
    }
    let mut table = String::from("pub static FILES: &[(&str, &[u8])] = &[\n");
    for (name, path) in &files {
        println!("cargo::rerun-if-changed={}", path.display());
        // `{:?}` of a `str` is a valid Rust string literal.
        let _ = writeln!(
            table,
            "    ({name:?}, include_bytes!({:?})),",
            path.to_string_lossy()
        );
    }
    table.push_str("];\n");
    table
}

/// Every file below `dir`, as (path relative to `root` with `/`, full path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => fail(&format!("cannot list {}: {e}", dir.display())),
    };
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) => fail(&format!("cannot list {}: {e}", dir.display())),
        };
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((name, path));
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
