//! Where the built web client (Trunk's `dist/`: `index.html`, the hashed
//! `.js`, `_bg.wasm` and `.css`) comes from: a directory, or the copy
//! compiled into the binary by the `embed-client` feature (`build.rs`), so
//! that a release binary needs no `dist/` beside it. A `static_dir` setting
//! always wins over the embedded copy; without either, `dist` as before.
//! `http::client_files` serves the files.

use std::path::PathBuf;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

mod generated {
    // `FILES`: (path relative to `dist/`, bytes), sorted by path; empty
    // without the `embed-client` feature.
    include!(concat!(env!("OUT_DIR"), "/embedded_client.rs"));
}

/// The client the gateway serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebClient {
    /// Read from this directory at each request (a rebuilt client is
    /// served without a restart).
    Directory(PathBuf),
    /// Compiled into the binary.
    Embedded,
}

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedFile {
    pub bytes: &'static [u8],
    /// A strong validator: the quoted start of the file's SHA-256.
    pub etag: &'static str,
    /// Trunk put a content hash in the name (`client-9e084ebd57527c72.js`):
    /// the file never changes under that name, so browsers may keep it.
    pub immutable: bool,
}

impl WebClient {
    /// `static_dir` when one is set, else the embedded client when the
    /// binary has one, else `dist`.
    pub fn choose(static_dir: Option<PathBuf>) -> WebClient {
        match static_dir {
            Some(dir) => WebClient::Directory(dir),
            None if has_embedded() => WebClient::Embedded,
            None => WebClient::Directory(PathBuf::from("dist")),
        }
    }

    /// The client's page, as built.
    pub async fn index_html(&self) -> Result<String, String> {
        match self {
            WebClient::Directory(dir) => {
                let index = dir.join("index.html");
                tokio::fs::read_to_string(&index)
                    .await
                    .map_err(|e| format!("{}: {e}", index.display()))
            }
            WebClient::Embedded => {
                let file = embedded("index.html").ok_or("no embedded index.html")?;
                String::from_utf8(file.bytes.to_vec())
                    .map_err(|e| format!("embedded index.html: {e}"))
            }
        }
    }

    /// Whether the page is there to serve (a directory may not hold a
    /// built client).
    pub fn is_built(&self) -> bool {
        match self {
            WebClient::Directory(dir) => dir.join("index.html").is_file(),
            WebClient::Embedded => embedded("index.html").is_some(),
        }
    }

    /// One line for `--check-config` and the start log.
    pub fn describe(&self) -> String {
        match self {
            WebClient::Directory(dir) if self.is_built() => {
                format!("web client from static_dir = {}", dir.display())
            }
            WebClient::Directory(dir) => format!(
                "web client from static_dir = {} (warning: no index.html: the web client \
                 is not built there)",
                dir.display()
            ),
            WebClient::Embedded => format!(
                "web client embedded in the binary ({} files, {} KiB)",
                generated::FILES.len(),
                generated::FILES.iter().map(|(_, b)| b.len()).sum::<usize>() / 1024
            ),
        }
    }
}

/// Whether this binary was built with a client inside (`embed-client`).
pub fn has_embedded() -> bool {
    !generated::FILES.is_empty()
}

/// The paths of the embedded files (none without `embed-client`).
pub fn embedded_names() -> impl Iterator<Item = &'static str> {
    generated::FILES.iter().map(|(name, _)| *name)
}

/// The embedded file at `path` (relative, `/`-separated, no leading `/`).
pub fn embedded(path: &str) -> Option<EmbeddedFile> {
    let at = generated::FILES
        .binary_search_by(|(name, _)| (*name).cmp(path))
        .ok()?;
    let (name, bytes) = generated::FILES[at];
    Some(EmbeddedFile {
        bytes,
        etag: etags()[at].as_str(),
        immutable: is_hashed_name(name),
    })
}

/// The ETags of `FILES`, in its order, hashed once on first use.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        generated::FILES
            .iter()
            .map(|(_, bytes)| {
                let digest = Sha256::digest(bytes);
                let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

/// Trunk's hashed asset names: `<name>-<16 hex digits>` before the
/// extension, the wasm's with `_bg` after the hash.
pub(crate) fn is_hashed_name(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split('.').next().unwrap_or(file);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    match stem.rsplit_once('-') {
        Some((name, hash)) => {
            !name.is_empty() && hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_hashed_names_are_immutable_and_others_are_not() {
        for hashed in [
            "client-9e084ebd57527c72.js",
            "client-9e084ebd57527c72_bg.wasm",
            "style-c321432d82a18352.css",
            "snippets/x-0123456789abcdef.js",
        ] {
            assert!(is_hashed_name(hashed), "{hashed}");
        }
        for plain in [
            "index.html",
            "client.js",
            "-9e084ebd57527c72.js",
            "client-9e084ebd57527c7.js",
            "client-9e084ebd57527cxz.js",
        ] {
            assert!(!is_hashed_name(plain), "{plain}");
        }
    }

    #[test]
    fn a_static_dir_wins_over_the_embedded_client() {
        assert_eq!(
            WebClient::choose(Some("/srv/dist".into())),
            WebClient::Directory("/srv/dist".into())
        );
        let default = WebClient::choose(None);
        if has_embedded() {
            assert_eq!(default, WebClient::Embedded);
            assert!(default.is_built());
            assert!(embedded("index.html").is_some());
        } else {
            assert_eq!(default, WebClient::Directory("dist".into()));
            assert!(embedded("index.html").is_none());
        }
    }
}
