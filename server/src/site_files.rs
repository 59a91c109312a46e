//! The compiled client the pages load (`/pkg/…`): which files belong to this server binary, and
//! how they are delivered (SPEC P4, P5).
//!
//! `build-site` (site_build/) names the client files by their content hash and writes the names
//! into `client-hashes.txt` beside the server binary it builds. The server reads that file once,
//! at start, so a page always names the client of the server's own build: after an upgrade a
//! browser loads the new client, and a server still running from before keeps naming its own
//! files. A hashed file never changes, so browsers may keep it for a year without asking again;
//! pages themselves stay `no-store` (security.rs). cargo-leptos writes unhashed names and no such
//! file; then the pages name those, and browsers must revalidate them.

use std::path::{Path, PathBuf};

use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, VARY};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower_http::services::ServeDir;

/// The stem of the client files (`LEPTOS_OUTPUT_NAME`, .cargo/config.toml).
pub const OUTPUT_NAME: &str = env!("LEPTOS_OUTPUT_NAME");

/// The file beside the server binary that names its client files (site_build/src/site.rs).
pub const HASH_FILE: &str = "client-hashes.txt";

/// For file names that hold their content's hash.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For unhashed names (cargo-leptos' output): may change under the same name, so revalidate.
const REVALIDATE: &str = "no-cache";

/// The names of the client files the pages load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFiles {
    /// The JS glue is `<stem>.js`, the WASM `<stem>.wasm` (leptos names both from one stem).
    pub stem: String,
    /// The stylesheet's file name.
    pub stylesheet: String,
}

impl ClientFiles {
    /// cargo-leptos' names, without hashes.
    pub fn unhashed() -> ClientFiles {
        ClientFiles {
            stem: OUTPUT_NAME.to_string(),
            stylesheet: format!("{OUTPUT_NAME}.css"),
        }
    }

    /// Reads a hash file (`js: …`, `wasm: …`, `css: …`, as leptos' `hash.txt`). The JS glue and
    /// the WASM must carry the same hash, as build-site writes them.
    pub fn from_hash_file(path: &Path) -> anyhow::Result<ClientFiles> {
        let text = std::fs::read_to_string(path)?;
        let field = |key: &str| {
            text.lines()
                .find_map(|line| {
                    let (k, v) = line.split_once(':')?;
                    (k.trim() == key).then(|| v.trim().to_string())
                })
                .filter(|hash| is_hash(hash))
                .ok_or_else(|| anyhow::anyhow!("{} names no valid `{key}:` hash", path.display()))
        };
        let (js, wasm, css) = (field("js")?, field("wasm")?, field("css")?);
        if js != wasm {
            anyhow::bail!(
                "{}: the JS glue and the WASM carry different hashes",
                path.display()
            );
        }
        Ok(ClientFiles {
            stem: format!("{OUTPUT_NAME}.{js}"),
            stylesheet: format!("{OUTPUT_NAME}.{css}.css"),
        })
    }

    /// The client files of the running binary: its hash file, unless there is none or it is
    /// older than the binary (then cargo-leptos rebuilt the binary since, with unhashed names).
    pub fn of_this_binary() -> ClientFiles {
        // `cargo leptos watch`/`serve` start the server with LEPTOS_HASH_FILES set; it rebuilds
        // the client under unhashed names, whatever an earlier build-site left beside the binary.
        if std::env::var("LEPTOS_HASH_FILES").is_ok_and(|v| v != "true") {
            return ClientFiles::unhashed();
        }
        let Some(exe) = std::env::current_exe().ok() else {
            return ClientFiles::unhashed();
        };
        let hash_file = exe.with_file_name(HASH_FILE);
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        match (modified(&hash_file), modified(&exe)) {
            (Some(hashes), Some(binary)) if hashes >= binary => {
                match ClientFiles::from_hash_file(&hash_file) {
                    Ok(files) => files,
                    Err(e) => {
                        tracing::error!(error = %e, "unreadable client hash file; unhashed names");
                        ClientFiles::unhashed()
                    }
                }
            }
            (Some(_), _) => {
                tracing::warn!(
                    file = %hash_file.display(),
                    "the client hash file is older than this binary (built by cargo-leptos \
                     since?); the pages name the unhashed client files"
                );
                ClientFiles::unhashed()
            }
            (None, _) => ClientFiles::unhashed(),
        }
    }

    /// The stylesheet's URL.
    pub fn stylesheet_href(&self) -> String {
        format!("/pkg/{}", self.stylesheet)
    }

    /// Logs a clear message when the site lacks a file the pages will name.
    pub fn check_present(&self, site_root: &Path) {
        let pkg = site_root.join("pkg");
        for file in [
            format!("{}.js", self.stem),
            format!("{}.wasm", self.stem),
            self.stylesheet.clone(),
        ] {
            // A warning, not an error: the pages still render and work without the client (no
            // hydration), and a server started only for its API or SCIM needs no site.
            if !pkg.join(&file).is_file() {
                tracing::warn!(
                    file,
                    site_root = %site_root.display(),
                    "a client file the pages name is not in the site; build it with build-site"
                );
            }
        }
    }
}

/// Where the compiled site lies and which client files are this binary's.
#[derive(Debug, Clone)]
pub struct Site {
    pub root: PathBuf,
    pub client: ClientFiles,
}

impl Site {
    /// `LEPTOS_SITE_ROOT` (default `target/site`, as cargo-leptos) and this binary's hash file.
    pub fn from_env() -> Site {
        let root = std::env::var_os("LEPTOS_SITE_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target/site"));
        Site {
            root,
            client: ClientFiles::of_this_binary(),
        }
    }
}

/// 22 characters of base64url (site_build's content hashes).
fn is_hash(s: &str) -> bool {
    s.len() == 22
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `ra-portal.<hash>.<ext>`: a name that holds its content's hash.
fn is_hashed_name(file: &str) -> bool {
    // `ra-portal.<hash>.js`, and the split client's `ra-portal.<hash>.split.js` and
    // `ra-portal.<hash>.<module>.wasm` (site_build/src/site.rs).
    file.strip_prefix(OUTPUT_NAME)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(hash, _rest)| is_hash(hash))
}

/// Serves `/pkg/…`: the brotli or gzip copy when the browser accepts it (`Accept-Encoding`), the
/// file itself otherwise, with caching headers for what it is.
pub fn pkg_routes<S: Clone + Send + Sync + 'static>(site_root: &Path) -> Router<S> {
    let files = ServeDir::new(site_root.join("pkg"))
        .precompressed_br()
        .precompressed_gzip()
        .append_index_html_on_directories(false);
    Router::new()
        .nest_service("/pkg", files)
        .layer(middleware::from_fn(caching_headers))
}

async fn caching_headers(req: Request, next: Next) -> Response {
    let file = req
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut resp = next.run(req).await;
    if matches!(resp.status(), StatusCode::OK | StatusCode::NOT_MODIFIED) {
        let h = resp.headers_mut();
        // The answer depends on Accept-Encoding: a shared cache must not give a br body to a
        // browser that asked for none.
        h.insert(VARY, HeaderValue::from_static("accept-encoding"));
        let policy = if is_hashed_name(&file) {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        h.insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p5_hashed_names_are_told_from_unhashed_ones() {
        assert!(is_hashed_name("ra-portal.AAAAAAAAAAAAAAAAAAAA-_.wasm"));
        assert!(is_hashed_name("ra-portal.AAAAAAAAAAAAAAAAAAAA-_.css"));
        assert!(!is_hashed_name("ra-portal.wasm"));
        assert!(!is_hashed_name("ra-portal.css"));
        assert!(!is_hashed_name("ra-portal.short.js"));
        assert!(!is_hashed_name("other.AAAAAAAAAAAAAAAAAAAA-_.js"));
    }
}
