//! Builds the axum application around the leptos pages and binds it, so tests can start the real
//! thing on port 0 and `main` can serve it.

use std::net::SocketAddr;
use std::sync::Arc;

use app::{shell, App};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use backend::mail::{run_outbox_worker, MailTransport, WorkerSettings};
use backend::Portal;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use serde::Serialize;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;

// Re-exported: the state used to live here, and handlers still name it `startup::AppState`.
pub use crate::app_state::AppState;
use crate::auth::{self, oidc::OidcProvider};
use crate::certificate_routes;
use crate::csv_routes;
use crate::metrics::{self, HttpMetrics};
use crate::own_origin::OwnOrigin;
use crate::security;
use crate::site_files::{self, Site};

/// `/health` reports the outbox worker dead when it has shown no sign of life for this long. It
/// beats at least every poll interval (5 s), also during a long round.
pub const WORKER_SILENCE_LIMIT_SECS: i64 = 60;

/// A bound, ready-to-serve portal.
pub struct Application {
    listener: TcpListener,
    router: Router,
    portal: Portal,
}

impl Application {
    /// Binds `portal.config.listen` (port 0 picks a free port) and builds the routes.
    pub async fn build(portal: Portal) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(portal.config.listen).await?;
        Application::with_listener(portal, listener)
    }

    /// Builds the routes around a listener bound elsewhere (tests bind port 0 first, so they know
    /// the base URL before the portal is configured).
    pub fn with_listener(portal: Portal, listener: TcpListener) -> anyhow::Result<Application> {
        Application::with_site(portal, listener, Site::from_env())
    }

    /// As [`Application::with_listener`], serving the client files of `site` (tests give their own).
    pub fn with_site(
        portal: Portal,
        listener: TcpListener,
        site: Site,
    ) -> anyhow::Result<Application> {
        site.client.check_present(&site.root);
        let leptos_options = leptos_options(listener.local_addr()?, &site);
        let own_origin = OwnOrigin::from_base_url(portal.config.base_url());
        let oidc = match &portal.config.oidc {
            Some(config) => Some(Arc::new(OidcProvider::new(
                config.clone(),
                portal.config.base_url(),
            )?)),
            None => None,
        };
        let sign_in = Arc::new(backend::sign_in::SignInGuard::new(
            portal.config.sign_in.clone(),
        ));
        let state = AppState {
            leptos_options,
            portal,
            own_origin,
            oidc,
            http_metrics: Arc::new(HttpMetrics::default()),
            sign_in,
        };
        Ok(Application {
            listener,
            portal: state.portal.clone(),
            router: router(state, &site),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish. Housekeeping (expired
    /// sessions) runs beside it.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tokio::spawn(housekeeping(self.portal.clone()));
        // Mail queued by the use cases is delivered by this instance's worker (beside those of other
        // instances on the same database); on shutdown it finishes the mail in flight and gives
        // up its claims, and anything still queued is sent by another instance or after the
        // next start.
        let transport = Arc::new(MailTransport::from_config(&self.portal.config)?);
        tracing::info!("mail is delivered {}", transport.describe());
        let (stop_worker, worker_stopped) = tokio::sync::watch::channel(false);
        // R23: expiry reminders and the NAPs' digest, stopped with the worker.
        let mut jobs_stopped = worker_stopped.clone();
        let reminder_job = tokio::spawn(backend::reminders::run_reminder_job(
            self.portal.clone(),
            async move {
                let _ = jobs_stopped.wait_for(|stopped| *stopped).await;
            },
        ));
        // R15: the CRL re-signed when due (the first one at start), so relying parties never see
        // one past its nextUpdate; stopped with the worker.
        let mut crl_stopped = worker_stopped.clone();
        let crl_refresher = tokio::spawn(backend::certificates::run_crl_refresher(
            self.portal.clone(),
            async move {
                let _ = crl_stopped.wait_for(|stopped| *stopped).await;
            },
        ));
        // R22: the NAPs' mail of each IdM sync run once it is quiet, stopped with the worker.
        let mut deprovisioning_stopped = worker_stopped.clone();
        let deprovisioning_job = tokio::spawn(backend::deprovisioning::run_deprovisioning_job(
            self.portal.clone(),
            async move {
                let _ = deprovisioning_stopped.wait_for(|stopped| *stopped).await;
            },
        ));
        let instance = backend::mail::worker::new_instance_id();
        let journal = backend::mail::journal::DeliveryJournal::open(
            &self.portal.config.data_dir.join("outbox-journal"),
            &instance,
        )?;
        let worker = tokio::spawn(run_outbox_worker(
            self.portal.pool.clone(),
            transport,
            WorkerSettings {
                heartbeat: Some(self.portal.outbox_heartbeat.clone()),
                instance,
                instance_timeout: std::time::Duration::from_secs(
                    self.portal.config.mail.instance_timeout_secs.max(1),
                ),
                journal: Some(Arc::new(journal)),
                ..WorkerSettings::default()
            },
            self.portal.outbox.clone(),
            worker_stopped,
        ));
        // With the peer's address, which `/metrics` checks, and bounded request heads (Q9).
        let served = crate::serve::serve(self.listener, self.router, shutdown_signal()).await;
        let _ = stop_worker.send(true);
        let _ = worker.await;
        let _ = reminder_job.await;
        let _ = crl_refresher.await;
        let _ = deprovisioning_job.await;
        served?;
        Ok(())
    }
}

/// Where the site lies and the stem of its client files, which leptos' hydration scripts name.
fn leptos_options(addr: SocketAddr, site: &Site) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(site.client.stem.clone())
        .site_root(site.root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build()
}

fn router(state: AppState, site: &Site) -> Router {
    // leptos_routes also serves the server functions (under /api), with the same context.
    let routes = route_list();
    let portal = state.portal.clone();
    let own_origin = state.own_origin.clone();
    let http_metrics = state.http_metrics.clone();
    let stylesheet = site.client.stylesheet_href();
    let pages = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics::metrics))
        .route("/auth/login", post(auth::local_login))
        .route("/auth/oidc/start", get(auth::oidc_start))
        .route("/auth/callback", get(auth::oidc_callback))
        .route("/auth/logout", post(auth::logout))
        .route(
            "/domains/{domain}/audit.csv",
            get(crate::audit_export::audit_csv_download),
        )
        .route("/domains/{domain}/csv", get(csv_routes::download))
        .route(
            "/certificates/{id}/download",
            get(certificate_routes::download),
        )
        .route(backend::ca::CRL_PATH, get(certificate_routes::crl_der))
        .route("/pki/ca.crl.pem", get(certificate_routes::crl_pem))
        .route(
            backend::ca::CA_CERTIFICATE_PATH,
            get(certificate_routes::ca_der),
        )
        .route("/pki/ca.pem", get(certificate_routes::ca_pem))
        // The REST API's documentation page (Swagger UI from the site's /api-docs/).
        .route("/api/docs", get(crate::api_docs::page))
        .merge(site_files::pkg_routes(&site.root))
        .leptos_routes_with_context(&state, routes, move || provide_context(portal.clone()), {
            let options = state.leptos_options.clone();
            let stylesheet = stylesheet.clone();
            move || shell(options.clone(), stylesheet.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            move |options| shell(options, stylesheet.clone()),
        ))
        .layer(RequestBodyLimitLayer::new(security::MAX_BODY_BYTES));
    // The CSV upload is the one place that takes a large body (SPEC §4: 20 MiB).
    let uploads = Router::new()
        .route("/domains/{domain}/csv/preview", post(csv_routes::preview))
        .route("/domains/{domain}/csv/apply", post(csv_routes::apply))
        .layer(RequestBodyLimitLayer::new(csv_routes::MAX_CSV_BYTES))
        .layer(axum::extract::DefaultBodyLimit::max(
            csv_routes::MAX_CSV_BYTES,
        ));
    // The IdM's SCIM endpoint reads no session cookie: merged after the session layer.
    let scim = Router::new().nest(
        crate::scim_routes::SCIM_PREFIX,
        crate::scim_routes::router(state.clone()),
    );
    let api = crate::api::router(state.clone());
    pages
        .merge(uploads)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::resolve_session,
        ))
        .with_state(state)
        .merge(scim)
        // The REST API, like SCIM, authenticates by bearer token and reads no session cookie.
        .merge(api)
        // Inside the origin check: a cross-site call is refused before its body is read.
        .layer(middleware::from_fn(
            crate::api_guard::guard_server_functions,
        ))
        .layer(middleware::from_fn_with_state(
            own_origin.clone(),
            security::same_origin_writes,
        ))
        .layer(middleware::from_fn(security::explain_too_large))
        .layer(middleware::from_fn(security::explain_bare_refusals))
        .layer(middleware::from_fn_with_state(
            own_origin,
            security::security_headers,
        ))
        .layer(middleware::from_fn_with_state(
            http_metrics,
            metrics::track_requests,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        // One span per request, so every log line of it names it; with the route template and
        // never the URI, which may hold a challenge token (Q6). One line per response.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(
                    DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                ),
        )
        // Outermost: the ID exists before the span is made. An ID the client (a proxy) sent is
        // kept, so its logs and ours can be matched.
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

fn request_span(request: &Request) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = %metrics::route_template(request),
        request_id = %id,
    )
}

/// The pages' routes, found by running the app once. Kept for the process's life because leptos
/// suppresses resource loading process-wide while it generates them: a page rendering at that
/// moment in another portal of the same process (tests start many) would hang for good
/// (leptos-rs/leptos#4773). It is a fact about the code, like a constant, not application state.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// What `/health` answers: public, so states only, no data.
#[derive(Serialize)]
struct HealthReport {
    /// `ok`, or `unavailable` when any part below is not `ok`.
    status: &'static str,
    /// `ok` or `unreachable`.
    database: &'static str,
    /// `ok`, or `stalled` when it has been silent longer than [`WORKER_SILENCE_LIMIT_SECS`].
    outbox_worker: &'static str,
    /// Seconds since the worker's last sign of life.
    outbox_worker_silent_secs: i64,
}

/// Liveness and readiness: the database answers and the outbox worker is alive. 503 names what
/// is wrong.
async fn health(State(portal): State<Portal>) -> Response {
    let database = match backend::run!(portal.pool, ex => sqlx::query_scalar::<_, i64>("SELECT CAST(1 AS BIGINT)")
        .fetch_one(ex)
        .await)
    {
        Ok(_) => "ok",
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            "unreachable"
        }
    };
    let silent = portal.outbox_heartbeat.silent_for(backend::clock::now());
    let outbox_worker = if silent > WORKER_SILENCE_LIMIT_SECS {
        tracing::error!(
            silent_secs = silent,
            "health check: the outbox worker shows no sign of life"
        );
        "stalled"
    } else {
        "ok"
    };
    let healthy = database == "ok" && outbox_worker == "ok";
    let report = HealthReport {
        status: if healthy { "ok" } else { "unavailable" },
        database,
        outbox_worker,
        outbox_worker_silent_secs: silent,
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}

/// Removes timed-out sessions every hour, so abandoned ones do not pile up (Q2).
async fn housekeeping(portal: Portal) {
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        match backend::sessions::purge_expired_sessions(
            &portal.pool,
            backend::clock::now(),
            &portal.config.session,
        )
        .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "expired sessions removed"),
            Err(e) => tracing::error!(error = ?e, "could not remove expired sessions"),
        }
        // Q7: sign-in events are kept for a bounded time.
        match backend::sign_in::purge_old_sign_in_events(
            &portal.pool,
            &portal.config.sign_in,
            backend::clock::now(),
        )
        .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "old sign-in events removed"),
            Err(e) => tracing::error!(error = %e, "could not remove old sign-in events"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
