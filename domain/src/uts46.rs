//! The UTS-46 (IDNA) mapping of a domain name to its ASCII form, from one of two sources.
//!
//! The server uses the `idna` crate (feature `uts46`): its result is what gets stored, so it
//! decides. The WASM client, which only pre-checks what a NAP types, asks the browser's URL
//! parser instead (feature `browser-uts46`): the URL Standard's "domain to ASCII" is UTS-46 too
//! (non-transitional, as `idna` is), and leaving idna's Unicode tables out of the client shrinks
//! its download (SPEC P4; bench/results.md, "Figures behind the code"). Both run after the same checks on the form as
//! entered and are followed by the same checks on the ASCII result (`address::domain_to_ascii`),
//! so they can differ only where two Unicode versions disagree; then the server's answer stands.

/// The ASCII form of `raw` (lower-case, IDN labels as punycode), or `Err` when UTS-46 refuses it.
///
/// `raw` holds no ASCII besides letters, digits, hyphens and dots (checked by the caller).
#[cfg(feature = "uts46")]
pub(crate) fn to_ascii(raw: &str) -> Result<String, ()> {
    use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
    // STD3 rules keep the result to letters, digits and hyphens. Hyphens in positions 3–4 of a
    // label stay allowed (only `xn--` labels are checked as punycode): such names exist and are
    // valid in DNS. Lengths are checked by the caller, with clearer messages.
    Uts46::new()
        .to_ascii(
            raw.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Ignore,
        )
        .map(|ascii| ascii.into_owned())
        .map_err(|_| ())
}

/// The ASCII form of `raw`, by the browser's URL parser (see the module documentation).
#[cfg(all(not(feature = "uts46"), feature = "browser-uts46"))]
pub(crate) fn to_ascii(raw: &str) -> Result<String, ()> {
    // Plain ASCII without punycode labels maps to its lower case: no need to ask the browser.
    if raw.is_ascii()
        && !raw.split('.').any(|label| {
            label
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
        })
    {
        return Ok(raw.to_ascii_lowercase());
    }
    // The caller let through no ASCII but letters, digits, hyphens and dots, so nothing in `raw`
    // can end the host early (no `/`, `:`, `@`, `?`, `#`, `%`); a host the URL parser reads as
    // an IPv4 address has a numeric last label, which the caller refuses afterwards.
    let url = web_sys::Url::new(&format!("http://{raw}/")).map_err(|_| ())?;
    Ok(url.hostname())
}

#[cfg(not(any(feature = "uts46", feature = "browser-uts46")))]
compile_error!("the domain crate needs feature `uts46` (server) or `browser-uts46` (WASM client)");
