//! The two cargo builds, with the settings cargo-leptos uses, so both tools (and `cargo test`,
//! through scripts/env.sh) share compiled dependencies instead of rebuilding each other's.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use crate::Options;

/// Server and client must be compiled with exactly this, or hydration fails on mismatched marker
/// nodes (Cargo.toml, `always-erase-components`); any other RUSTFLAGS would also rebuild everything.
const RUSTFLAGS: &str = "--cfg erase_components";

/// The client is linked with its relocations kept: wasm-split needs them to cut it apart
/// (`cargo leptos build --split` adds the same). Only the client's own target dir sees it.
const CLIENT_RUSTFLAGS: &str = "--cfg erase_components -Clink-args=--emit-relocs";

/// The profile of the WASM client in release builds (Cargo.toml: small beats fast for a download).
const CLIENT_RELEASE_PROFILE: &str = "wasm-release";

/// What `cargo run` sets for build-site itself. Build scripts (ring's, through the `cc` crate)
/// name some of them in `rerun-if-env-changed`, which cargo checks against its own environment:
/// passed on, they would make every build here rebuild ring and all that depends on it, and the
/// next plain `cargo test` rebuild it all again.
const CARGO_RUN_VARS: &[&str] = &[
    "CARGO",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
];

fn cargo(opts: &Options) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_") || CARGO_RUN_VARS.contains(&name.as_ref()) {
            cmd.env_remove(name.as_ref());
        }
    }
    cmd.current_dir(&opts.root)
        .env("RUSTFLAGS", RUSTFLAGS)
        // Cargo prefers this over RUSTFLAGS; an outer cargo may have set it.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("CARGO_TARGET_DIR", &opts.target_dir)
        // Read by leptos at compile time (also set in .cargo/config.toml).
        .env("LEPTOS_OUTPUT_NAME", crate::site::OUTPUT_NAME);
    cmd
}

/// The directory cargo puts a profile's output in.
fn profile_dir(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "release" | "bench" => "release",
        other => other,
    }
}

/// Builds the WASM client and returns the path of its `.wasm`. Into `<target>/front`, where
/// cargo-leptos builds it too.
pub fn build_client(opts: &Options) -> anyhow::Result<PathBuf> {
    let profile = if opts.release {
        CLIENT_RELEASE_PROFILE
    } else {
        "dev"
    };
    let front = opts.target_dir.join("front");
    let mut cmd = cargo(opts);
    cmd.env("RUSTFLAGS", CLIENT_RUSTFLAGS);
    cmd.args(["build", "--package=frontend", "--lib"])
        .arg(format!("--target-dir={}", front.display()))
        .args([
            "--target=wasm32-unknown-unknown",
            "--no-default-features",
            "--locked",
        ])
        .arg(format!("--profile={profile}"));
    run(cmd, "the WASM client")?;
    Ok(front
        .join("wasm32-unknown-unknown")
        .join(profile_dir(profile))
        .join("frontend.wasm"))
}

/// Builds the server binary and returns the directory it lies in.
pub fn build_server(opts: &Options) -> anyhow::Result<PathBuf> {
    let mut cmd = cargo(opts);
    cmd.args([
        "build",
        "--package=server",
        "--bin=ra-portal",
        "--no-default-features",
        "--locked",
    ])
    .arg(format!("--profile={}", opts.server_profile));
    run(cmd, "the server")?;
    Ok(opts.target_dir.join(profile_dir(&opts.server_profile)))
}

fn run(mut cmd: Command, what: &str) -> anyhow::Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("could not start cargo to build {what}"))?;
    if !status.success() {
        bail!("cargo could not build {what} ({status})");
    }
    Ok(())
}

/// Whether a file exists; for messages naming what is missing.
pub fn must_exist(path: &Path, what: &str) -> anyhow::Result<()> {
    if !path.is_file() {
        bail!("{what} is missing: {}", path.display());
    }
    Ok(())
}
