//! The site the server serves (`target/site`, as cargo-leptos lays it out): the client files named
//! by their content, each with a brotli and a gzip copy for content negotiation, the CSS, and
//! `public/`. And the file that tells a server binary which client files are its own.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

use crate::client::{self, Bundle};
use crate::Options;

/// The stem of the client files (`LEPTOS_OUTPUT_NAME`).
pub const OUTPUT_NAME: &str = "ra-portal";

/// Beside the server binary: the hashes of the client files it was built with, in the format of
/// leptos' `hash.txt` (`js: …`, `wasm: …`, `css: …`). The server reads it once at start
/// (server/src/site_files.rs), so a running server keeps naming the files of its own build.
pub const HASH_FILE: &str = "client-hashes.txt";

/// The names of one build's client files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// One hash for the JS glue and the WASM together: the glue is only valid with its WASM, and
    /// leptos names both from one stem.
    pub client: String,
    pub css: String,
}

impl Names {
    pub fn client_stem(&self) -> String {
        format!("{OUTPUT_NAME}.{}", self.client)
    }

    pub fn css_file(&self) -> String {
        format!("{OUTPUT_NAME}.{}.css", self.css)
    }

    /// The files of this build every page loads, compressed copies included (not the loader
    /// and the lazy modules, whose names depend on the split).
    #[cfg(test)]
    fn files(&self) -> BTreeSet<String> {
        let stem = self.client_stem();
        [
            format!("{stem}.js"),
            format!("{stem}.wasm"),
            self.css_file(),
        ]
        .into_iter()
        .flat_map(|f| [format!("{f}.br"), format!("{f}.gz"), f])
        .collect()
    }

    fn parse(text: &str) -> Option<Names> {
        let field = |key: &str| {
            text.lines().find_map(|line| {
                let (k, v) = line.split_once(':')?;
                (k.trim() == key).then(|| v.trim().to_string())
            })
        };
        let (js, wasm, css) = (field("js")?, field("wasm")?, field("css")?);
        (js == wasm).then_some(Names { client: js, css })
    }
}

/// 22 characters of base64url: 128 bits of SHA-256, as long as cargo-leptos' names.
fn content_hash(parts: &[&[u8]]) -> String {
    let mut sha = Sha256::new();
    for part in parts {
        sha.update(part);
    }
    Base64UrlUnpadded::encode_string(&sha.finalize()[..16])
}

/// Writes the client, the CSS and the assets into the site root and returns their names.
///
/// Every client file carries one hash, of all of them together (the glue, the main module, the
/// loader and the lazy modules only work with each other): `ra-portal.<hash>.js` and `.wasm`,
/// the loader `ra-portal.<hash>.split.js`, the lazy modules `ra-portal.<hash>.<stem>.wasm`. The
/// names inside the files are rewritten to match: the loader's in the glue and the WASM (the
/// placeholder has the hash's length), the glue's and the lazy modules' in the loader.
pub fn write(opts: &Options, bundle: Bundle) -> anyhow::Result<Names> {
    let pkg = opts.site_root.join("pkg");
    std::fs::create_dir_all(&pkg).with_context(|| format!("cannot create {}", pkg.display()))?;
    let css = std::fs::read(opts.root.join("style/main.css")).context("style/main.css")?;
    let mut parts: Vec<&[u8]> = vec![bundle.js.as_bytes(), &bundle.wasm, bundle.loader.as_bytes()];
    for (stem, module) in &bundle.lazy {
        parts.push(stem.as_bytes());
        parts.push(module);
    }
    let names = Names {
        client: content_hash(&parts),
        css: content_hash(&[&css]),
    };
    let stem = names.client_stem();
    let placeholder_loader = client::loader_file(client::HASH_PLACEHOLDER);
    let loader_file = client::loader_file(&names.client);
    // The glue's default WASM URL; leptos' hydration script passes the URL itself, but the glue
    // should not name a file that is not there.
    let js = bundle
        .js
        .replace(&format!("{OUTPUT_NAME}_bg.wasm"), &format!("{stem}.wasm"))
        .replace(&placeholder_loader, &loader_file);
    let mut loader = bundle.loader.replace(
        &format!("\"./{OUTPUT_NAME}.js\""),
        &format!("\"./{stem}.js\""),
    );
    for (lazy_stem, _) in &bundle.lazy {
        loader = loader.replace(
            &format!("\"./{lazy_stem}.wasm\""),
            &format!("\"./{stem}.{lazy_stem}.wasm\""),
        );
    }
    let quality = if opts.release {
        Quality::Best
    } else {
        Quality::Quick
    };
    let wasm = replace_bytes(&bundle.wasm, &placeholder_loader, &loader_file);
    write_with_copies(&pkg.join(format!("{stem}.wasm")), &wasm, quality)?;
    for (lazy_stem, module) in &bundle.lazy {
        let module = replace_bytes(module, &placeholder_loader, &loader_file);
        write_with_copies(
            &pkg.join(format!("{stem}.{lazy_stem}.wasm")),
            &module,
            quality,
        )?;
    }
    write_with_copies(&pkg.join(&loader_file), loader.as_bytes(), quality)?;
    write_with_copies(&pkg.join(format!("{stem}.js")), js.as_bytes(), quality)?;
    write_with_copies(&pkg.join(names.css_file()), &css, quality)?;
    copy_dir(&opts.root.join("public"), &opts.site_root)?;
    copy_api_docs(opts)?;
    Ok(names)
}

/// `bytes` with every `from` replaced by `to`, which must be as long (names inside a WASM module).
fn replace_bytes(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "a name inside WASM keeps its length");
    let (from, to) = (from.as_bytes(), to.as_bytes());
    let mut out = bytes.to_vec();
    let mut at = 0;
    while let Some(found) = out[at..].windows(from.len()).position(|w| w == from) {
        let start = at + found;
        out[start..start + to.len()].copy_from_slice(to);
        at = start + to.len();
    }
    out
}

/// Swagger UI's files from npm's `swagger-ui-dist` (end2end/package.json), which the REST API's
/// documentation page `/api/docs` loads from the portal itself (server/src/api_docs.rs): no CDN,
/// and `script-src 'self'` holds. Its starter and style are in `public/api-docs/`.
const API_DOCS_FILES: [&str; 3] = ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"];

fn copy_api_docs(opts: &Options) -> anyhow::Result<()> {
    let from = opts.root.join("end2end/node_modules/swagger-ui-dist");
    let to = opts.site_root.join("api-docs");
    std::fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    for name in API_DOCS_FILES {
        let source = from.join(name);
        anyhow::ensure!(
            source.is_file(),
            "npm's swagger-ui-dist is missing at {} (scripts/setup.sh installs it)",
            source.display()
        );
        std::fs::copy(&source, to.join(name))
            .with_context(|| format!("cannot copy {}", source.display()))?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Quality {
    /// Release: smallest on the wire; brotli 11 takes seconds on the WASM, once per build.
    Best,
    /// Debug builds are large and rebuilt often: fast settings.
    Quick,
}

/// Writes a client file and its `.br` and `.gz` copies. A name holds its content's hash, so an
/// existing file of that name is already right and is left alone (no recompression).
fn write_with_copies(path: &Path, bytes: &[u8], quality: Quality) -> anyhow::Result<()> {
    let with = |ext: &str| PathBuf::from(format!("{}.{ext}", path.display()));
    let (br, gz) = (with("br"), with("gz"));
    if path.is_file() && br.is_file() && gz.is_file() {
        // Fresh again, so a concurrent build's prune keeps them while this build goes on.
        for file in [&br, &gz, path] {
            std::fs::File::options()
                .append(true)
                .open(file)
                .and_then(|f| f.set_modified(SystemTime::now()))
                .with_context(|| format!("cannot touch {}", file.display()))?;
        }
        return Ok(());
    }
    let (br_quality, gz_level) = match quality {
        Quality::Best => (11, 9),
        Quality::Quick => (5, 6),
    };
    let mut brotli_bytes = Vec::new();
    {
        let params = brotli::enc::BrotliEncoderParams {
            quality: br_quality,
            lgwin: 22,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &bytes[..], &mut brotli_bytes, &params)?;
    }
    let mut gz_encoder =
        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(gz_level));
    gz_encoder.write_all(bytes)?;
    let gzip_bytes = gz_encoder.finish()?;
    // The compressed copies first: the server offers a file's copies once the file itself is there.
    write_atomically(&br, &brotli_bytes)?;
    write_atomically(&gz, &gzip_bytes)?;
    write_atomically(path, bytes)
}

/// A running server may serve the file while it is written: it sees the old file or the new one,
/// never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp-{}", path.display(), std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("{}", from.display()))? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Writes the hash file beside the server binary, after the binary is built.
pub fn write_hash_file(exe_dir: &Path, names: &Names) -> anyhow::Result<()> {
    let text = format!("js: {0}\nwasm: {0}\ncss: {1}\n", names.client, names.css);
    write_atomically(&exe_dir.join(HASH_FILE), text.as_bytes())
}

/// Files younger than this are kept: another build may have written them and still be building
/// its server, before its hash file names them; a server of an older build may still be serving.
const PRUNE_GRACE: Duration = Duration::from_secs(3600);

/// Removes client files no build names any more. Kept: the files every profile's hash file names
/// (debug, release and the run profile share `pkg/`, and one may be serving while another builds),
/// and files written within [`PRUNE_GRACE`]. Files without a hash in their name (cargo-leptos' own
/// output) are left alone.
pub fn prune(opts: &Options) -> anyhow::Result<()> {
    let mut keep = BTreeSet::new();
    for entry in std::fs::read_dir(&opts.target_dir)?.flatten() {
        if let Ok(text) = std::fs::read_to_string(entry.path().join(HASH_FILE)) {
            if let Some(names) = Names::parse(&text) {
                keep.insert(names.client);
                keep.insert(names.css);
            }
        }
    }
    let pkg = opts.site_root.join("pkg");
    for entry in std::fs::read_dir(&pkg)?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let young = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age < PRUNE_GRACE);
        let kept = hash_of_client_file(&name).is_some_and(|hash| keep.contains(hash));
        if hash_of_client_file(&name).is_some() && !kept && !young {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// The hash in a client file's name: `ra-portal.<22 characters>.(js|wasm|css)` or
/// `ra-portal.<22 characters>.<part>.(js|wasm)` (the split's loader and lazy modules), optionally
/// with `.br`/`.gz`. `None` for anything else.
fn hash_of_client_file(name: &str) -> Option<&str> {
    let name = name
        .strip_suffix(".br")
        .or_else(|| name.strip_suffix(".gz"))
        .unwrap_or(name);
    let rest = name.strip_prefix(OUTPUT_NAME)?.strip_prefix('.')?;
    let (hash, tail) = rest.split_once('.')?;
    let (part, ext) = match tail.rsplit_once('.') {
        Some((part, ext)) => (Some(part), ext),
        None => (None, tail),
    };
    let ok_part = part
        .is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    let ok_ext = matches!(
        (part, ext),
        (None, "js" | "wasm" | "css") | (Some(_), "js" | "wasm")
    );
    let ok_hash = hash.len() == 22
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (ok_part && ok_ext && ok_hash).then_some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p5_hash_file_round_trips_and_names_every_copy() {
        let names = Names {
            client: content_hash(&[b"glue", b"wasm"]),
            css: content_hash(&[b"css"]),
        };
        let dir = std::env::temp_dir().join(format!("site-build-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_hash_file(&dir, &names).unwrap();
        let text = std::fs::read_to_string(dir.join(HASH_FILE)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(Names::parse(&text), Some(names.clone()));
        let files = names.files();
        assert_eq!(files.len(), 9);
        assert!(
            files.iter().all(|f| hash_of_client_file(f).is_some()),
            "{files:?}"
        );
    }

    #[test]
    fn p5_only_hashed_client_files_are_pruned() {
        let hash = "AAAAAAAAAAAAAAAAAAAA-_";
        for name in [
            format!("ra-portal.{hash}.wasm.br"),
            format!("ra-portal.{hash}.split.js"),
            format!("ra-portal.{hash}.split_certificates.wasm.gz"),
            format!("ra-portal.{hash}.chunk_0_a_b.wasm"),
        ] {
            assert_eq!(hash_of_client_file(&name), Some(hash), "{name}");
        }
        for name in [
            "ra-portal.wasm",
            "ra-portal.css",
            "favicon.svg",
            "ra-portal.short.js",
            "ra-portal.AAAAAAAAAAAAAAAAAAAA-_.x.css",
            "ra-portal.AAAAAAAAAAAAAAAAAAAA-_..wasm",
        ] {
            assert_eq!(hash_of_client_file(name), None, "{name}");
        }
    }

    #[test]
    fn p4_a_name_inside_wasm_is_replaced_in_place() {
        let bytes = b"\0\x01./ra-portal.______________________.split.js\0tail";
        let out = replace_bytes(
            bytes,
            "ra-portal.______________________.split.js",
            "ra-portal.AAAAAAAAAAAAAAAAAAAA-_.split.js",
        );
        assert_eq!(out.len(), bytes.len());
        assert!(out.windows(8).any(|w| w == b"AAAAAAAA"));
        assert!(!out.windows(4).any(|w| w == b"____"));
    }
}
