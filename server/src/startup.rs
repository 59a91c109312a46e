//! Builds the axum application around the leptos pages and binds it, so tests can start the real
//! thing on port 0 and `main` can serve it.

use std::net::SocketAddr;
use std::path::PathBuf;

use app::{shell, App};
use axum::extract::{FromRef, Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use backend::Portal;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;

use crate::security::{self, OwnOrigin};

/// The state axum hands to handlers.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Where the compiled site (WASM, JS, CSS, assets) lies, and its names.
    pub leptos_options: LeptosOptions,
    /// Database, configuration and services.
    pub portal: Portal,
    /// The origin state-changing requests must come from.
    pub own_origin: OwnOrigin,
}

/// A bound, ready-to-serve portal.
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Binds `portal.config.listen` (port 0 picks a free port) and builds the routes.
    pub async fn build(portal: Portal) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(portal.config.listen).await?;
        let leptos_options = leptos_options(listener.local_addr()?);
        let own_origin = OwnOrigin::from_base_url(portal.config.base_url());
        let state = AppState {
            leptos_options,
            portal,
            own_origin,
        };
        Ok(Application {
            listener,
            router: router(state),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        Ok(())
    }
}

/// Where cargo-leptos wrote the site. `LEPTOS_SITE_ROOT` overrides (cargo-leptos sets it itself).
fn leptos_options(addr: SocketAddr) -> LeptosOptions {
    let site_root = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
    LeptosOptions::builder()
        .output_name(env!("LEPTOS_OUTPUT_NAME"))
        .site_root(PathBuf::from(site_root).to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build()
}

fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let portal = state.portal.clone();
    let own_origin = state.own_origin.clone();
    Router::new()
        .route("/health", get(health))
        .route("/api/{*fn_name}", post(server_fn_handler))
        .leptos_routes_with_context(&state, routes, move || provide_context(portal.clone()), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
        .layer(middleware::from_fn_with_state(
            own_origin.clone(),
            security::same_origin_writes,
        ))
        .layer(RequestBodyLimitLayer::new(security::MAX_BODY_BYTES))
        .layer(middleware::from_fn(security::explain_too_large))
        .layer(middleware::from_fn_with_state(
            own_origin,
            security::security_headers,
        ))
}

/// Server functions, with the portal in their context.
async fn server_fn_handler(State(state): State<AppState>, req: Request) -> Response {
    let portal = state.portal.clone();
    handle_server_fns_with_context(move || provide_context(portal.clone()), req)
        .await
        .into_response()
}

/// Liveness and readiness: the database answers.
async fn health(State(portal): State<Portal>) -> Response {
    match sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(&portal.pool)
        .await
    {
        Ok(_) => (StatusCode::OK, "ok").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
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
