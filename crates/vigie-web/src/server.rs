//! The HTTP/1.1 server loop: connections accepted from a listener, each
//! served by hyper with the router, under the installation's [`Timeouts`].
//!
//! `axum::serve` sets no timer, so a client could hold a connection (a task
//! and a file descriptor) forever by sending its headers byte by byte, never
//! sending a request at all, dribbling a body, or never reading the answer.
//! Here hyper reads each request's headers, and waits for the next request
//! on a kept-alive connection, for at most [`Timeouts::headers`]; a body
//! must keep coming ([`Timeouts::body_idle`]) and arrive whole within
//! [`Timeouts::body_total`] ([`body_deadline`]); an answer the client stops
//! reading for [`Timeouts::write`] ends the connection ([`WriteDeadline`]).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Body as _, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use crate::AppState;

/// How long requests under way may take to finish once the server stops.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long a client may take to send a request and to read its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To send a request's headers, counted from the connection's opening
    /// or the previous answer: an idle kept-alive connection is closed after
    /// this too.
    pub headers: Duration,
    /// Longest pause while sending a body.
    pub body_idle: Duration,
    /// To send a whole body, counted from the end of its headers.
    pub body_total: Duration,
    /// Longest pause while reading an answer (the server waiting to write).
    pub write: Duration,
}

impl Default for Timeouts {
    /// 30 s for the headers (a browser or an API client sends them at
    /// once); a body may pause 30 s and take 10 minutes in all (the largest
    /// accepted, 32 MB, at 450 kbit/s); an answer may wait 60 s for its
    /// reader.
    fn default() -> Self {
        Timeouts {
            headers: Duration::from_secs(30),
            body_idle: Duration::from_secs(30),
            body_total: Duration::from_secs(600),
            write: Duration::from_secs(60),
        }
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
) -> io::Result<()> {
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
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors, say: waited out rather than
                    // retried in a busy loop.
                    tracing::error!(error = %e, "cannot accept connections; trying again in a second");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        () = &mut shutdown => break,
                    }
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
            let io = TokioIo::new(WriteDeadline::new(stream, timeouts.write));
            let mut connection = pin!(builder.serve_connection(io, service));
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

/// A connection that failed before it was accepted: skipped.
fn is_connection_error(e: &io::Error) -> bool {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset)
}

/// A connection whose writes fail once one has waited `limit` for the
/// client to read.
pub(crate) struct WriteDeadline<IO> {
    io: IO,
    limit: Duration,
    /// Armed while a write waits.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<IO> WriteDeadline<IO> {
    pub(crate) fn new(io: IO, limit: Duration) -> Self {
        WriteDeadline { io, limit, stalled: None }
    }

    /// `poll` is a write's outcome: progress disarms the deadline, a wait
    /// arms it, and a wait past it is an error.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let limit = self.limit;
        let stalled = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(stalled.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the client read nothing of the answer for {} s", limit.as_secs()),
        )))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for WriteDeadline<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_shutdown(cx);
        self.watch(cx, poll)
    }
}

/// Middleware: the request's body must keep coming (a pause of at most
/// [`Timeouts::body_idle`]) and arrive whole within
/// [`Timeouts::body_total`]; past either, reading it fails, and the handler
/// answers as for any unreadable body.
pub(crate) async fn body_deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let timeouts = state.config.timeouts;
    let req = req.map(|body| {
        if body.is_end_stream() {
            return body;
        }
        let now = Instant::now();
        Body::new(DeadlineBody {
            inner: body,
            idle: Box::pin(tokio::time::sleep_until(now + timeouts.body_idle)),
            total: Box::pin(tokio::time::sleep_until(now + timeouts.body_total)),
            timeouts,
        })
    });
    next.run(req).await
}

/// Whether reading a body failed because it was larger than the limit
/// given to `axum::body::to_bytes`.
pub(crate) fn too_large(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// A body that fails once it pauses too long or takes too long in all.
struct DeadlineBody {
    inner: Body,
    idle: Pin<Box<Sleep>>,
    total: Pin<Box<Sleep>>,
    timeouts: Timeouts,
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
enum BodyTooSlow {
    #[error("the request body stopped coming for {} s", .0.as_secs())]
    Paused(Duration),
    #[error("the request body did not arrive whole within {} s", .0.as_secs())]
    Late(Duration),
}

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            let next = Instant::now() + this.timeouts.body_idle;
            this.idle.as_mut().reset(next);
            return Poll::Ready(frame);
        }
        if this.total.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTooSlow::Late(this.timeouts.body_total)))));
        }
        if this.idle.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTooSlow::Paused(this.timeouts.body_idle)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn an_answer_nobody_reads_fails_after_the_write_limit_and_one_read_goes_on() {
        let limit = Duration::from_millis(200);
        // A pipe that holds 1 KiB: the second KiB waits for its reader.
        let (server, mut client) = tokio::io::duplex(1024);
        let mut server = WriteDeadline::new(server, limit);
        server.write_all(&[b'a'; 1024]).await.unwrap();
        let started = std::time::Instant::now();
        let stuck = server.write_all(&[b'b'; 1024]).await.unwrap_err();
        assert_eq!(stuck.kind(), io::ErrorKind::TimedOut);
        assert!(stuck.to_string().contains("read nothing of the answer"), "{stuck}");
        assert!(started.elapsed() >= limit);

        // A reader that keeps reading, however slowly, is served whole.
        let (server, mut client2) = tokio::io::duplex(1024);
        let mut server = WriteDeadline::new(server, limit);
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            let mut chunk = [0u8; 512];
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                match client2.read(&mut chunk).await.unwrap() {
                    0 => return all,
                    n => all.extend_from_slice(&chunk[..n]),
                }
            }
        });
        server.write_all(&[b'c'; 8192]).await.unwrap();
        server.shutdown().await.unwrap();
        drop(server);
        assert_eq!(reader.await.unwrap().len(), 8192);
        let mut first = [0u8; 4];
        client.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"aaaa");
    }
}
