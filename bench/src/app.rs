//! The real application, served in this process on a loopback port, with a NAP's session.

use std::time::Duration;

use anyhow::Context;
use backend::identity::{Identity, IdentitySource};
use backend::Portal;
use server::startup::Application;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running portal and a logged-in NAP of [`crate::DOMAIN`].
pub struct RunningApp {
    /// `http://127.0.0.1:<port>`: also the `Origin` the same-origin check wants.
    pub base_url: String,
    /// `ra_session=…`, the `Cookie` header of the NAP's session.
    pub cookie: String,
    serving: JoinHandle<anyhow::Result<()>>,
}

impl RunningApp {
    /// Builds the application around `listener` as `ra-portal serve` does, serves it on this
    /// runtime, starts a session for a NAP of the domain and waits until `/health` answers.
    pub async fn start(portal: &Portal, listener: TcpListener) -> anyhow::Result<RunningApp> {
        let base_url = portal.config.base_url().to_owned();
        let app = Application::with_listener(portal.clone(), listener)?;
        let serving = tokio::spawn(app.run_until_stopped());
        let identity = Identity {
            user_id: "nora".into(),
            given_name: "Nora".into(),
            family_name: "Bench".into(),
            email: None,
            groups: vec![crate::NAP_GROUP.into(), "staff".into()],
            source: IdentitySource::Oidc,
        };
        let token = backend::sessions::start_session(
            &portal.pool,
            &identity,
            backend::clock::now(),
            &portal.config.session,
        )
        .await
        .context("starting the NAP's session")?;
        let cookie = format!("ra_session={}", token.expose_cookie_value());
        let client = reqwest::Client::new();
        let mut healthy = false;
        for _ in 0..100 {
            if let Ok(resp) = client.get(format!("{base_url}/health")).send().await {
                if resp.status().is_success() {
                    healthy = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::ensure!(healthy, "the portal at {base_url} did not answer /health");
        Ok(RunningApp {
            base_url,
            cookie,
            serving,
        })
    }

    /// Stops serving. Dropping the serving task drops its stop signal, so the application's
    /// outbox worker ends too (it is idle: nothing was queued while it ran).
    pub async fn stop(self) {
        self.serving.abort();
        let _ = self.serving.await;
        // Let the worker see its stop signal before anything is queued.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
