//! The WASM entry point: takes over the server-rendered page so it reacts to clicks.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the hydration script the server puts into every page.
#[wasm_bindgen]
pub fn hydrate() {
    // A panic in the browser shows up in the console with its message instead of "unreachable".
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
