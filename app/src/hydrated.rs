//! The mark that the WASM client has taken over a page.

use leptos::prelude::*;

/// Marks `<body data-hydrated>` once the WASM client has taken over the page, so browser tests
/// (and people reading the DOM) know clicks will be handled: called by each routed page, as its
/// effects run after it is hydrated (a lazy page, `crate::lazy_pages`, only after its module has
/// arrived). Effects run only in the browser. Also keeps the browser's time zone in a cookie for
/// the next requests (see `time_zone`).
pub fn mark_hydrated() {
    Effect::new(move |_| {
        // Every routed page calls this; only the first after the page load has anything to do
        // (a navigation inside the client finds the body marked and the zone remembered).
        let Some(body) = document().body() else {
            return;
        };
        if body.get_attribute("data-hydrated").as_deref() == Some("true") {
            return;
        }
        #[cfg(feature = "hydrate")]
        crate::time_zone::remember_browser_zone();
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
