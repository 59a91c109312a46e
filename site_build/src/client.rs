//! From the compiled `.wasm` to what the browser loads: wasm-bindgen's JS glue and the final WASM.

use std::path::Path;
use std::process::Command;

use anyhow::{anyhow, bail, Context};
use wasm_bindgen_cli_support::Bindgen;

use crate::Options;

/// The client as the browser gets it, before it is named by its hash.
pub struct Bundle {
    /// wasm-bindgen's ES module (`--target web`); it names the WASM file `<output>_bg.wasm`.
    pub js: String,
    pub wasm: Vec<u8>,
}

/// Runs wasm-bindgen (the library the CLI is made of) as cargo-leptos runs the CLI: `--target web`.
pub fn bindgen(wasm: &Path) -> anyhow::Result<Bundle> {
    crate::cargo::must_exist(wasm, "the compiled WASM client")?;
    let mut output = Bindgen::new()
        .input_path(wasm)
        .out_name(crate::site::OUTPUT_NAME)
        .typescript(false)
        .web(true)
        .map_err(|e| anyhow!("wasm-bindgen: {e}"))?
        .generate_output()
        .map_err(|e| anyhow!("wasm-bindgen failed on {}: {e:#}", wasm.display()))?;
    // Snippets would be further JS files the glue imports by fixed names; the client has none,
    // and hashing them would need rewriting those imports. Say so rather than ship a broken site.
    if !output.snippets().values().all(Vec::is_empty) || !output.local_modules().is_empty() {
        bail!("the WASM client now has JS snippets, which build-site does not place yet");
    }
    Ok(Bundle {
        js: output.js().to_string(),
        wasm: output.wasm_mut().emit_wasm(),
    })
}

/// Shrinks the release WASM with wasm-opt from npm's binaryen (Debian's binaryen 108 produces
/// broken WASM), with the settings cargo-leptos uses.
pub fn wasm_opt(opts: &Options, bundle: Bundle) -> anyhow::Result<Bundle> {
    let wasm_opt = opts.root.join("end2end/node_modules/.bin/wasm-opt");
    if !wasm_opt.exists() {
        bail!(
            "wasm-opt from npm's binaryen is missing at {} (scripts/setup.sh installs it)",
            wasm_opt.display()
        );
    }
    let scratch = opts.target_dir.join("site-build");
    std::fs::create_dir_all(&scratch)?;
    let input = scratch.join("client.wasm");
    let output = scratch.join("client.opt.wasm");
    std::fs::write(&input, &bundle.wasm)?;
    let status = Command::new(&wasm_opt)
        .args([
            "-Oz",
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
        ])
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .status()
        .with_context(|| format!("could not start {}", wasm_opt.display()))?;
    if !status.success() {
        bail!("wasm-opt failed ({status})");
    }
    let wasm = std::fs::read(&output)?;
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
    Ok(Bundle { wasm, ..bundle })
}
