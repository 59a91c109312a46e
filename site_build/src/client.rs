//! From the compiled `.wasm` to what the browser loads: the client split at its lazy functions,
//! wasm-bindgen's JS glue, and the final WASM files.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context};
use wasm_bindgen_cli_support::Bindgen;

use crate::site::OUTPUT_NAME;
use crate::Options;

/// The client as the browser gets it, before its files are named by their hash.
pub struct Bundle {
    /// wasm-bindgen's ES module (`--target web`); it names the WASM file `<output>_bg.wasm`.
    pub js: String,
    /// The main module: what every page loads first.
    pub wasm: Vec<u8>,
    /// The split's loader (an ES module the glue imports) with the names it was made with
    /// ([`loader_file`] of [`HASH_PLACEHOLDER`]; the glue imports the main module as
    /// `./ra-portal.js`, the lazy modules as `./<stem>.wasm`).
    pub loader: String,
    /// The lazily loaded modules: their file stem as the loader names them, and their bytes.
    pub lazy: Vec<(String, Vec<u8>)>,
}

/// Stands for the client's hash in the loader's name until the hash is known: as long as a
/// hash, so the name can be replaced inside the WASM without moving a byte.
pub const HASH_PLACEHOLDER: &str = "______________________";

/// The file name of the split's loader for a client `hash`.
pub fn loader_file(hash: &str) -> String {
    format!("{OUTPUT_NAME}.{hash}.split.js")
}

/// The client split where it calls `#[lazy]` functions and `#[lazy_route]` views (leptos'
/// wasm-split, as `cargo leptos build --split` does it): the main module, the loader, and one
/// module per lazy part (plus chunks that several share), in `<target>/site-build/split`.
pub struct Split {
    main: PathBuf,
    loader: String,
    lazy: Vec<(String, Vec<u8>)>,
}

/// Splits the compiled client (built with `--emit-relocs`, see cargo.rs).
pub fn split(opts: &Options, wasm: &Path) -> anyhow::Result<Split> {
    crate::cargo::must_exist(wasm, "the compiled WASM client")?;
    let dir = opts.target_dir.join("site-build/split");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let input = std::fs::read(wasm)?;
    let main = dir.join("main.wasm");
    let link_name = format!("./{}", loader_file(HASH_PLACEHOLDER));
    let main_module = format!("./{OUTPUT_NAME}.js");
    let output = wasm_split_cli_support::transform({
        let mut split = wasm_split_cli_support::Options::new(&input);
        split.output_dir = &dir;
        split.main_out_path = &main;
        split.link_name = &link_name;
        split.main_module = &main_module;
        split
    })
    .map_err(|e| anyhow!("wasm-split failed on {}: {e:#}", wasm.display()))?;
    let loader = std::fs::read_to_string(dir.join(loader_file(HASH_PLACEHOLDER)))
        .context("wasm-split wrote no loader")?;
    let mut lazy = Vec::new();
    for path in output.split_modules {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .with_context(|| format!("odd module name {}", path.display()))?
            .to_string();
        lazy.push((stem, std::fs::read(&path)?));
    }
    lazy.sort();
    Ok(Split { main, loader, lazy })
}

/// Runs wasm-bindgen (the library the CLI is made of) as cargo-leptos runs the CLI: `--target web`,
/// on the split's main module, keeping the linker's exports the lazy modules need.
pub fn bindgen(split: Split) -> anyhow::Result<Bundle> {
    let wasm = &split.main;
    let mut output = Bindgen::new()
        .input_path(wasm)
        .out_name(OUTPUT_NAME)
        .typescript(false)
        .keep_lld_exports(true)
        .demangle(false)
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
        loader: split.loader,
        lazy: split.lazy,
    })
}

/// Shrinks the release WASM files with wasm-opt from npm's binaryen (Debian's binaryen 108
/// produces broken WASM), with the settings cargo-leptos uses.
pub fn wasm_opt(opts: &Options, mut bundle: Bundle) -> anyhow::Result<Bundle> {
    bundle.wasm = wasm_opt_one(opts, &bundle.wasm)?;
    for (_, module) in &mut bundle.lazy {
        *module = wasm_opt_one(opts, module)?;
    }
    Ok(bundle)
}

fn wasm_opt_one(opts: &Options, wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
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
    std::fs::write(&input, wasm)?;
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
    Ok(wasm)
}
