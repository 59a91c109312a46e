//! `build-site`: what the portal's site build needs, as cargo-leptos did it, without installing
//! cargo-leptos (about 20 minutes) or wasm-bindgen-cli (about 3.5 minutes) on a fresh machine.
//!
//!   cargo run -p site_build -- [--release] [--server-profile NAME]
//!
//! Builds the WASM client (`-p frontend`, profile `wasm-release` with `--release`, else dev), splits
//! it at its lazy functions and routes (leptos' wasm-split, as `cargo leptos build --split`), runs
//! wasm-bindgen through its library crate and, for release, wasm-opt from npm's binaryen; copies
//! the CSS and `public/`; names the client files by their content hash and writes brotli and gzip
//! copies beside them into `target/site`; builds the server (`-p server`, the dev profile, or
//! `release`/`--server-profile` with `--release`); and writes the names of this build's client
//! files into `client-hashes.txt` beside the server binary, which the server reads at start.
//! The server is built last, so a server binary never names files that are not there yet.

mod cargo;
mod client;
mod site;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};

/// What to build, from the command line.
pub struct Options {
    pub release: bool,
    pub server_profile: String,
    /// The workspace root (the parent of this crate).
    pub root: PathBuf,
    /// Cargo's target dir: `CARGO_TARGET_DIR`, else `<root>/target`.
    pub target_dir: PathBuf,
    /// Where the site goes: `LEPTOS_SITE_ROOT`, else `<root>/target/site` (as cargo-leptos).
    pub site_root: PathBuf,
}

fn parse_args() -> anyhow::Result<Options> {
    // `cargo run` names the package's folder at run time: the checkout being built. The folder it
    // was compiled in may be another checkout of this workspace, whose binary cargo reuses when
    // nothing it knows of changed (CI's clean clone beside a developer's checkout, sharing
    // ~/.cache/ra-portal/target): then the compile-time path would build the other checkout.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let root = manifest_dir
        .parent()
        .context("site_build lies inside the workspace")?
        .to_path_buf();
    let mut release = false;
    let mut server_profile = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--release" => release = true,
            "--server-profile" => {
                server_profile = Some(args.next().context("--server-profile needs a name")?)
            }
            "-h" | "--help" => {
                println!("usage: build-site [--release] [--server-profile NAME]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    let server_profile =
        server_profile.unwrap_or_else(|| if release { "release" } else { "dev" }.to_string());
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let site_root = std::env::var_os("LEPTOS_SITE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/site"));
    Ok(Options {
        release,
        server_profile,
        root,
        target_dir,
        site_root,
    })
}

fn main() -> anyhow::Result<()> {
    let opts = parse_args()?;
    let started = Instant::now();

    let step = Instant::now();
    let wasm = cargo::build_client(&opts)?;
    report("client (cargo, wasm32)", step);

    let step = Instant::now();
    let split = client::split(&opts, &wasm)?;
    report("wasm-split", step);

    let step = Instant::now();
    let bundle = client::bindgen(split)?;
    report("wasm-bindgen", step);

    let bundle = if opts.release {
        let step = Instant::now();
        let optimised = client::wasm_opt(&opts, bundle)?;
        report("wasm-opt -Oz", step);
        optimised
    } else {
        bundle
    };

    let step = Instant::now();
    let names = site::write(&opts, bundle)?;
    report("site (hash, CSS, assets, br + gzip)", step);

    let step = Instant::now();
    let exe_dir = cargo::build_server(&opts)?;
    report("server (cargo)", step);
    site::write_hash_file(&exe_dir, &names)?;
    site::prune(&opts)?;
    println!(
        "build-site: {} names {}.js/.wasm and {}",
        exe_dir.join(site::HASH_FILE).display(),
        names.client_stem(),
        names.css_file()
    );
    report("build-site total", started);
    Ok(())
}

fn report(what: &str, since: Instant) {
    println!("build-site: {what}: {:.1} s", since.elapsed().as_secs_f64());
}
