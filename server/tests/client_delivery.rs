//! How the client files reach the browser (SPEC P4, P5): content-hashed names the pages take from
//! the server binary's hash file, brotli and gzip copies chosen by `Accept-Encoding`, a year's
//! caching for hashed names only, and pages never cached. Against the real application, on a site
//! folder laid out as build-site writes it.

use std::path::Path;

use backend::config::Config;
use backend::Portal;
use server::site_files::{ClientFiles, Site, HASH_FILE};
use server::startup::Application;

const CLIENT_HASH: &str = "AbCdEfGhIjKlMnOpQrSt-_";
const CSS_HASH: &str = "ZyXwVuTsRqPoNmLkJiHg_-";

struct Served {
    address: String,
    _dir: tempfile::TempDir,
}

/// Writes a site with one build's files (each with distinct `.br` and `.gz` bodies, so the test
/// sees which one was sent) and its hash file, and starts the portal on it.
async fn serve_site() -> Served {
    server::telemetry::init();
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    for file in [
        format!("ra-portal.{CLIENT_HASH}.js"),
        format!("ra-portal.{CLIENT_HASH}.wasm"),
        format!("ra-portal.{CSS_HASH}.css"),
    ] {
        write(&pkg, &file, &format!("plain {file}"));
        write(&pkg, &format!("{file}.br"), &format!("brotli {file}"));
        write(&pkg, &format!("{file}.gz"), &format!("gzip {file}"));
    }
    // What cargo-leptos writes: unhashed names, no compressed copies.
    write(&pkg, "ra-portal.css", "unhashed css");
    let hash_file = dir.path().join(HASH_FILE);
    std::fs::write(
        &hash_file,
        format!("js: {CLIENT_HASH}\nwasm: {CLIENT_HASH}\ncss: {CSS_HASH}\n"),
    )
    .unwrap();
    let site = Site {
        root: dir.path().join("site"),
        client: ClientFiles::from_hash_file(&hash_file).unwrap(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let data = dir.path().join("data");
    let config = Config {
        base_url: address.clone(),
        data_dir: data,
        ..Config::default()
    };
    let portal = Portal::open(config).await.unwrap();
    let app = Application::with_site(portal, listener, site).unwrap();
    tokio::spawn(app.run_until_stopped());
    Served { address, _dir: dir }
}

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

/// No automatic decompression (reqwest is built without it): the test sees the bytes on the wire.
async fn get(address: &str, path: &str, accept_encoding: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(format!("{address}{path}"));
    if let Some(enc) = accept_encoding {
        req = req.header("accept-encoding", enc);
    }
    req.send().await.unwrap()
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p4_client_files_are_sent_precompressed_as_the_browser_accepts() {
    let app = serve_site().await;
    for file in [
        format!("ra-portal.{CLIENT_HASH}.wasm"),
        format!("ra-portal.{CLIENT_HASH}.js"),
        format!("ra-portal.{CSS_HASH}.css"),
    ] {
        let path = format!("/pkg/{file}");
        for (accept, encoding, body) in [
            (
                Some("gzip, deflate, br, zstd"),
                "br",
                format!("brotli {file}"),
            ),
            (Some("br;q=1.0, gzip;q=0.8"), "br", format!("brotli {file}")),
            (Some("gzip"), "gzip", format!("gzip {file}")),
            (Some("identity"), "", format!("plain {file}")),
            (None, "", format!("plain {file}")),
        ] {
            let resp = get(&app.address, &path, accept).await;
            assert_eq!(resp.status(), 200, "{path} {accept:?}");
            assert_eq!(
                header(&resp, "content-encoding"),
                encoding,
                "{path} {accept:?}"
            );
            // A shared cache must key the answer by what the browser accepts.
            assert_eq!(
                header(&resp, "vary").to_ascii_lowercase(),
                "accept-encoding",
                "{path}"
            );
            let expected_type = match file.rsplit('.').next().unwrap() {
                "wasm" => "application/wasm",
                "js" => "text/javascript",
                _ => "text/css",
            };
            assert!(
                header(&resp, "content-type").starts_with(expected_type),
                "{path}: {}",
                header(&resp, "content-type")
            );
            assert_eq!(resp.text().await.unwrap(), body, "{path} {accept:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p5_hashed_client_files_are_cached_for_a_year_and_pages_never() {
    let app = serve_site().await;
    let hashed = get(
        &app.address,
        &format!("/pkg/ra-portal.{CLIENT_HASH}.wasm"),
        Some("br"),
    )
    .await;
    assert_eq!(hashed.status(), 200);
    assert_eq!(
        header(&hashed, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    // The security headers are there on client files too.
    assert_eq!(header(&hashed, "x-content-type-options"), "nosniff");

    // An unhashed name may change its content (cargo-leptos' output): revalidate.
    let unhashed = get(&app.address, "/pkg/ra-portal.css", None).await;
    assert_eq!(unhashed.status(), 200);
    assert_eq!(header(&unhashed, "cache-control"), "no-cache");

    // A client file that is not there (an old build's name) is not kept either.
    let gone = get(
        &app.address,
        "/pkg/ra-portal.OldBuildOldBuildOldBui.wasm",
        Some("br"),
    )
    .await;
    assert_eq!(gone.status(), 404);
    assert_eq!(header(&gone, "cache-control"), "no-store");

    for path in ["/", "/login", "/no/such/page"] {
        let page = get(&app.address, path, Some("br")).await;
        assert_eq!(header(&page, "cache-control"), "no-store", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p5_pages_name_the_client_files_of_the_servers_own_build() {
    let app = serve_site().await;
    for path in ["/", "/login", "/no/such/page"] {
        let html = get(&app.address, path, None).await.text().await.unwrap();
        for name in [
            format!("/pkg/ra-portal.{CLIENT_HASH}.js"),
            format!("/pkg/ra-portal.{CLIENT_HASH}.wasm"),
            format!("/pkg/ra-portal.{CSS_HASH}.css"),
        ] {
            assert!(html.contains(&name), "{path} does not name {name}");
        }
        // Every client file the page names is of this build.
        let named: Vec<&str> = html
            .split("/pkg/")
            .skip(1)
            .map(|rest| rest.split(['"', '\'', ')']).next().unwrap_or_default())
            .collect();
        assert!(!named.is_empty());
        for file in named {
            assert!(
                file.contains(CLIENT_HASH) || file.contains(CSS_HASH),
                "{path} names {file}, which is not of this build"
            );
        }
    }
}

#[test]
fn p5_a_hash_file_with_a_glue_of_another_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(HASH_FILE);
    std::fs::write(
        &file,
        format!("js: {CLIENT_HASH}\nwasm: {CSS_HASH}\ncss: {CSS_HASH}\n"),
    )
    .unwrap();
    let err = ClientFiles::from_hash_file(&file).unwrap_err().to_string();
    assert!(err.contains("different hashes"), "{err}");
    std::fs::write(&file, "js: ../../etc\nwasm: x\ncss: y\n").unwrap();
    let err = ClientFiles::from_hash_file(&file).unwrap_err().to_string();
    assert!(err.contains("no valid `js:` hash"), "{err}");
}
