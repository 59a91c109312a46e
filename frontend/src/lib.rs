//! The WASM entry point: takes over the server-rendered page so it reacts to clicks.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the hydration script the server puts into every page.
#[wasm_bindgen]
pub fn hydrate() {
    // A panic in the browser shows up in the console with its message instead of "unreachable".
    console_error_panic_hook::set_once();
    // `hydrate_lazy`, not `hydrate_body`: some routes come in modules of their own
    // (app/src/lazy_pages.rs), which the router loads before it hydrates their page.
    leptos::mount::hydrate_lazy(app::App);
}
