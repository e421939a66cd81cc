//! The loopback HTTP test server.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The body, as far as `Content-Length` says (at most [`MAX_REQUEST_BODY`];
    /// empty without it: chunked request bodies are not read).
    pub body: Vec<u8>,
}

/// The largest request body the server reads.
pub const MAX_REQUEST_BODY: usize = 16 * 1024 * 1024;

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub enum Body {
    Bytes(Vec<u8>),
    /// `count` chunks of `chunk`, with chunked transfer encoding (no Content-Length).
    Chunked {
        chunk: Vec<u8>,
        count: usize,
    },
    /// Declares `declared` bytes in Content-Length and sends `chunk` until the client goes away.
    Endless {
        declared: u64,
        chunk: Vec<u8>,
    },
    /// One byte every `every`, with a Content-Length for all of them.
    Trickle {
        bytes: Vec<u8>,
        every: Duration,
    },
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// Waited before the response is sent, without holding up other
    /// connections (unlike a handler that sleeps): a slow server that still
    /// serves requests concurrently.
    pub delay: Duration,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response { status, headers: Vec::new(), body: Body::Bytes(Vec::new()), delay: Duration::ZERO }
    }

    /// Answers after `delay`, other connections being served meanwhile.
    pub fn delayed(mut self, delay: Duration) -> Response {
        self.delay = delay;
        self
    }

    pub fn ok(body: impl Into<Vec<u8>>) -> Response {
        Response::new(200).body(body)
    }

    pub fn header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = Body::Bytes(body.into());
        self
    }

    pub fn with(mut self, body: Body) -> Response {
        self.body = body;
        self
    }
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// When requests arrived, and how many were being answered at once.
#[derive(Default)]
struct Log {
    arrivals: Mutex<Vec<(Instant, Request)>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// Counts a request as in flight until dropped.
struct InFlight<'a>(&'a Log);

impl<'a> InFlight<'a> {
    fn enter(log: &'a Log) -> InFlight<'a> {
        let now = log.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        log.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(log)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    written: Arc<AtomicU64>,
    requests: Arc<Mutex<Vec<Request>>>,
    log: Arc<Log>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts serving on an ephemeral port of 127.0.0.1 until dropped. The
    /// handler runs on the server's single thread: a handler that sleeps
    /// makes a slow server.
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let hits = Arc::new(AtomicUsize::new(0));
        let written = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::new(Log::default());
        let handler: Arc<Handler> = Arc::new(handler);
        let (stop, stopped) = oneshot::channel::<()>();
        let (h, w, r, l) = (hits.clone(), written.clone(), requests.clone(), log.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("server runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("tokio listener");
                let accept = async {
                    while let Ok((stream, _)) = listener.accept().await {
                        let (handler, hits, written, requests, log) =
                            (handler.clone(), h.clone(), w.clone(), r.clone(), l.clone());
                        tokio::spawn(async move {
                            let _ = serve(stream, &*handler, &hits, &written, &requests, &log).await;
                        });
                    }
                };
                tokio::select! {
                    () = accept => {}
                    _ = stopped => {}
                }
            });
        });
        TestServer { addr, hits, written, requests, log, stop: Some(stop), thread: Some(thread) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Body bytes the server managed to hand to the socket.
    pub fn body_bytes_written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    /// Requests received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Requests received so far for this path.
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// Requests received so far, in order, each with the time its head was read.
    pub fn arrivals(&self) -> Vec<(Instant, Request)> {
        self.log.arrivals.lock().unwrap().clone()
    }

    /// The most requests that were in flight at once: received (head read)
    /// and not yet answered (response head not yet written). A client that
    /// sent them all was waiting for all of them at that moment.
    pub fn max_in_flight(&self) -> usize {
        self.log.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    mut stream: TcpStream,
    handler: &Handler,
    hits: &AtomicUsize,
    written: &AtomicU64,
    requests: &Mutex<Vec<Request>>,
    log: &Log,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let end = head.windows(4).position(|w| w == b"\r\n\r\n").map_or(head.len(), |i| i + 4);
    let mut body = head.split_off(end);
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_string();
    let path = request_line.next().unwrap_or_default().to_string();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut request = Request { method, path, headers, body: Vec::new() };
    let declared = request.header("content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    let declared = declared.min(MAX_REQUEST_BODY);
    while body.len() < declared {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    body.truncate(declared);
    request.body = body;
    let in_flight = InFlight::enter(log);
    log.arrivals.lock().unwrap().push((Instant::now(), request.clone()));
    hits.fetch_add(1, Ordering::SeqCst);
    requests.lock().unwrap().push(request.clone());

    let response = handler(&request);
    if !response.delay.is_zero() {
        tokio::time::sleep(response.delay).await;
    }
    drop(in_flight);
    let mut out = format!("HTTP/1.1 {} {}\r\n", response.status, reason(response.status));
    for (k, v) in &response.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n");
    let has = |name: &str| response.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let bodiless = response.status == 304 || request.method == "HEAD";
    match &response.body {
        Body::Bytes(_) if bodiless => {}
        Body::Bytes(b) if !has("content-length") => out.push_str(&format!("Content-Length: {}\r\n", b.len())),
        Body::Chunked { .. } => out.push_str("Transfer-Encoding: chunked\r\n"),
        Body::Endless { declared, .. } => out.push_str(&format!("Content-Length: {declared}\r\n")),
        Body::Trickle { bytes, .. } => out.push_str(&format!("Content-Length: {}\r\n", bytes.len())),
        Body::Bytes(_) => {}
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes()).await?;

    let count = |n: usize| written.fetch_add(n as u64, Ordering::SeqCst);
    match response.body {
        Body::Bytes(_) if bodiless => {}
        Body::Bytes(b) => {
            stream.write_all(&b).await?;
            count(b.len());
        }
        Body::Chunked { chunk, count: n } => {
            for _ in 0..n {
                stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
                stream.write_all(&chunk).await?;
                stream.write_all(b"\r\n").await?;
                count(chunk.len());
            }
            stream.write_all(b"0\r\n\r\n").await?;
        }
        Body::Endless { declared, chunk } => {
            let mut sent = 0u64;
            while sent < declared {
                stream.write_all(&chunk).await?;
                sent += chunk.len() as u64;
                count(chunk.len());
            }
        }
        Body::Trickle { bytes, every } => {
            for b in bytes {
                stream.write_all(&[b]).await?;
                stream.flush().await?;
                count(1);
                tokio::time::sleep(every).await;
            }
        }
    }
    stream.flush().await?;
    stream.shutdown().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}
