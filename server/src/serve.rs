//! Serves the router over HTTP/1.1 with hyper directly, because `axum::serve` offers no
//! way to bound a request's head: hyper would buffer up to ≈ 400 KiB of headers per connection.
//! Here a head is bounded by [`MAX_HEADER_BYTES`] (SPEC Q9); a larger one is answered 431 by hyper.
//! Graceful shutdown works as with `axum::serve`: on the signal no new connection is accepted,
//! requests in flight are answered, and idle connections are closed.

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// Largest request head (request line and all headers together) accepted (SPEC Q9).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Serves `router` on `listener` until `shutdown` completes, then waits for the connections to
/// finish their requests. Handlers can read the peer's address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    // Connections watch `stop` for the shutdown, and hold `open` until they are done.
    let (stop, stopping) = watch::channel(false);
    let (open, all_closed) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = router
            .clone()
            .map_request(move |mut req: Request<Incoming>| {
                // What `into_make_service_with_connect_info` would add.
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(Body::new)
            });
        tokio::spawn(serve_connection(
            stream,
            service,
            stopping.clone(),
            all_closed.clone(),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    drop(all_closed);
    open.closed().await;
    Ok(())
}

async fn serve_connection<S>(
    stream: tokio::net::TcpStream,
    service: S,
    mut stopping: watch::Receiver<bool>,
    _open: watch::Receiver<()>,
) where
    S: tower::Service<Request<Incoming>, Response = axum::response::Response>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    // Nagle's algorithm off, as `axum::serve` has it: a page is streamed in several writes, and
    // with Nagle each write after the first waits for the browser's delayed ACK (about 40 ms on
    // Linux) — the table page took 35–40 ms to render instead of 6 ms (P4, bench/results.md).
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    let mut builder = http1::Builder::new();
    builder
        .max_buf_size(MAX_HEADER_BYTES)
        // A head must arrive within this time (against connections that trickle headers).
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = stopping.wait_for(|stop| *stop) => {}
    }
    // Answers the request in flight, then closes (keep-alive off).
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// Like `axum::serve`: a connection that failed before it was accepted is skipped; anything else
/// (too many open files) is logged and retried after a pause, so the loop does not spin.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
