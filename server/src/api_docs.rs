//! `/api/docs`: the REST API's interactive documentation (SPEC R21), Swagger UI over
//! `/api/v1/openapi.json`.
//!
//! Everything is served by the portal itself, nothing from a CDN: Swagger UI's files come from
//! npm's `swagger-ui-dist` (end2end/package.json, installed by scripts/setup.sh), which build-site
//! copies into the site as `/api-docs/` (site_build/src/site.rs); the starter is
//! `public/api-docs/init.js`. The page holds no inline script or style, so it runs under the
//! portal's policy (`script-src 'self'`, `style-src 'self'`), set here explicitly.

use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use app::i18n::Lang;

/// The page's policy: the portal's default without `'wasm-unsafe-eval'` (no WASM here) and with
/// `connect-src 'self'`, which "Try it out" needs for its calls to `/api/v1`.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Where build-site puts Swagger UI's files, under the site root.
pub const ASSETS_PATH: &str = "/api-docs";

/// The documentation page, in the language of the `lang` cookie or Accept-Language.
pub async fn page(headers: HeaderMap) -> Response {
    let cookie_lang = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("lang="));
    let accept = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let lang = Lang::negotiate(cookie_lang, accept);
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, DOCS_CSP),
        ],
        html(lang),
    )
        .into_response()
}

/// The page's own words; Swagger UI itself speaks English.
struct Texts {
    title: &'static str,
    intro: &'static str,
    tokens: &'static str,
    home: &'static str,
}

fn texts(lang: Lang) -> Texts {
    match lang {
        Lang::En => Texts {
            title: "REST API – My Email Domains",
            intro: "Every call needs an API token: make one on the API tokens page, then paste \
                    it into “Authorize”. The machine-readable description is",
            tokens: "API tokens",
            home: "Back to the portal",
        },
        Lang::De => Texts {
            title: "REST-API – Meine E-Mail-Domains",
            intro: "Jeder Aufruf braucht ein API-Token: Erzeugen Sie eines auf der Seite \
                    API-Tokens und fügen Sie es unter „Authorize“ ein. Die maschinenlesbare \
                    Beschreibung ist",
            tokens: "API-Tokens",
            home: "Zurück zum Portal",
        },
    }
}

fn html(lang: Lang) -> String {
    let t = texts(lang);
    format!(
        r#"<!DOCTYPE html>
<html lang="{tag}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
<link rel="stylesheet" href="{ASSETS_PATH}/docs.css">
</head>
<body>
<header class="api-docs-header">
<h1>{title}</h1>
<p>{intro} <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1).</p>
<nav><a href="/api-tokens">{tokens}</a> · <a href="/">{home}</a></nav>
</header>
<main id="swagger-ui" data-openapi-url="/api/v1/openapi.json"></main>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{ASSETS_PATH}/init.js"></script>
</body>
</html>
"#,
        tag = lang.tag(),
        title = t.title,
        intro = t.intro,
        tokens = t.tokens,
        home = t.home,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_the_docs_page_has_no_inline_script_or_style() {
        for lang in [Lang::En, Lang::De] {
            let page = html(lang);
            assert!(!page.contains("<style"), "{page}");
            assert!(!page.contains(" style="), "{page}");
            for script in page.split("<script").skip(1) {
                assert!(script.starts_with(" src=\"/"), "inline script: {script}");
                assert!(script.contains("></script>"), "{script}");
            }
            assert!(!page.contains("http://") && !page.contains("https://"));
        }
        assert!(DOCS_CSP.contains("script-src 'self';"));
        assert!(!DOCS_CSP.contains("unsafe"));
        assert!(html(Lang::De).contains("<html lang=\"de\">"));
    }
}
