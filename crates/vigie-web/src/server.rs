//! The HTTP/1.1 server loop: connections accepted from a listener, each
//! served by hyper with the router, under the installation's [`Timeouts`].
//!
//! `axum::serve` sets no timer, so a client could hold a connection (a task
//! and a file descriptor) forever by sending its headers byte by byte, or
//! never sending a request at all. Here hyper reads each request's headers,
//! and waits for the next request on a kept-alive connection, for at most
//! [`Timeouts::headers`]; a request's body must arrive whole within
//! [`Timeouts::body`] ([`body_deadline`]).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Body as _, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tower_service::Service;

use crate::AppState;

/// How long requests under way may take to finish once the server stops.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long a client may take to send a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To send a request's headers, counted from the connection's opening
    /// or the previous answer: an idle kept-alive connection is closed after
    /// this too.
    pub headers: Duration,
    /// To send a request's whole body, counted from the end of its headers.
    pub body: Duration,
}

impl Default for Timeouts {
    /// 30 s for the headers (a browser or an API client sends them at
    /// once), 60 s for a body (the largest accepted, 32 MB, at about
    /// 4 Mbit/s).
    fn default() -> Self {
        Timeouts { headers: Duration::from_secs(30), body: Duration::from_secs(60) }
    }
}

/// Serves `router(state)` on `listener` until `shutdown` completes. Then no
/// new connection is accepted, idle ones are closed, and requests under way
/// get [`SHUTDOWN_GRACE`] to finish; connections still open after that are
/// left to the process's exit.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let timeouts = state.config.timeouts;
    let mut app = crate::router(state).into_make_service_with_connect_info::<SocketAddr>();
    // A value sent on `stopping` asks every connection to finish its
    // request and close; each holds an `open` receiver, so `all_closed`
    // completes when the last one has ended.
    let (stopping, stop_seen) = tokio::sync::watch::channel(());
    let (all_closed, open) = tokio::sync::watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(service) = app.call(remote).await;
        let service = TowerToHyperService::new(service);
        let mut stop_seen = stop_seen.clone();
        let open = open.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(timeouts.headers);
            let mut connection = pin!(builder.serve_connection(TokioIo::new(stream), service));
            let served = tokio::select! {
                served = connection.as_mut() => served,
                _ = stop_seen.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = served {
                tracing::debug!(%remote, error = %e, "connection ended");
            }
            drop(open);
        });
    }
    drop(listener);
    let _ = stopping.send(());
    drop(open);
    if tokio::time::timeout(SHUTDOWN_GRACE, all_closed.closed()).await.is_err() {
        tracing::warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "connections still open when stopping: closed");
    }
    Ok(())
}

/// An error from `accept`: a connection that failed before it was accepted
/// is skipped; anything else (out of file descriptors) is logged and waited
/// out for a second rather than retried in a busy loop.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "cannot accept connections; trying again in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Middleware: the request's body must arrive whole within
/// [`Timeouts::body`]; past that, reading it fails, and the handler answers
/// as for any unreadable body.
pub(crate) async fn body_deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config.timeouts.body;
    let req = req.map(|body| {
        if body.is_end_stream() {
            return body;
        }
        Body::new(DeadlineBody { inner: body, deadline: Box::pin(tokio::time::sleep(limit)), limit })
    });
    next.run(req).await
}

/// Whether reading a body failed because it did not arrive within
/// [`Timeouts::body`].
pub(crate) fn too_slow(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = cause {
        if error.is::<BodyTooSlow>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// A body that fails once its deadline has passed.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} s", .0.as_secs())]
struct BodyTooSlow(Duration);

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTooSlow(this.limit))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
