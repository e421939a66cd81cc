//! One collection run of a social source over the crate's [`Fetcher`].

use vigie_model::RawMention;

use super::{Cursor, Endpoints, SocialError, SocialQuery, next_request_with, parse_page};
use crate::fetch::{FetchError, FetchOutcome, FetchRequest, Fetcher};

/// What one run collected. `items` and `cursor` always go together: store
/// the items, then save the cursor (one transaction is best). When `error` is
/// set, `items` and `cursor` are what the pages before the error gave, and
/// saving them loses nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOutcome {
    pub items: Vec<RawMention>,
    pub cursor: Cursor,
    /// Pages fetched and read.
    pub pages: u32,
    pub skipped: Vec<String>,
    pub warnings: Vec<String>,
    /// Why the run stopped early, if it did.
    pub error: Option<SocialError>,
}

/// Fetches pages of `q` from `cursor` until the gap since the last run is
/// filled or `max_pages` pages were read (the walk then resumes next run).
///
/// The fetcher keeps its own limits (timeouts, body cap, SSRF guard, one
/// slot per host). Each request carries the API's headers
/// ([`RequestSpec::headers`](super::RequestSpec)); a non-2xx answer reaches
/// [`parse_page`] with its status, `Retry-After`, `Content-Type` and the
/// first 64 KiB of its body, so an API's own reason (YouTube's
/// `quotaExceeded` 403) is read.
pub async fn run(
    fetcher: &Fetcher,
    q: &SocialQuery,
    cursor: &Cursor,
    endpoints: &Endpoints,
    max_pages: u32,
) -> RunOutcome {
    let api = q.api();
    let mut out = RunOutcome { cursor: cursor.clone(), ..RunOutcome::default() };
    while out.pages < max_pages.max(1) {
        let spec = match next_request_with(q, &out.cursor, endpoints) {
            Ok(spec) => spec,
            Err(e) => {
                out.error = Some(e);
                break;
            }
        };
        tracing::debug!(api = %api, url = %spec.redacted(), "social page");
        let request =
            FetchRequest { url: spec.url.to_string(), headers: spec.headers.clone(), ..FetchRequest::default() };
        let (status, headers, body) = match fetcher.fetch(&request).await {
            Ok(FetchOutcome::Fetched { body, content_type, .. }) => {
                let headers = content_type.map(|ct| vec![("Content-Type".to_string(), ct)]).unwrap_or_default();
                (200, headers, body)
            }
            Ok(FetchOutcome::NotModified) => {
                out.error = Some(SocialError::Shape { api, message: "HTTP 304 to an unconditional request".into() });
                break;
            }
            Err(FetchError::Status { status, retry_after, body, content_type, .. }) => {
                let mut headers = Vec::new();
                if let Some(r) = retry_after {
                    headers.push(("Retry-After".to_string(), retry_header(r)));
                }
                if let Some(ct) = content_type {
                    headers.push(("Content-Type".to_string(), ct));
                }
                (status, headers, body)
            }
            Err(e) => {
                let mut message = e.to_string();
                for secret in q.secrets() {
                    message = message.replace(secret, "REDACTED");
                }
                out.error = Some(SocialError::Transport {
                    api,
                    message,
                    transient: e.is_transient(),
                    retry_after: e.retry_after(),
                });
                break;
            }
        };
        match parse_page(q, &out.cursor, status, &headers, &body) {
            Ok(page) => {
                out.pages += 1;
                out.items.extend(page.items);
                out.skipped.extend(page.skipped);
                out.warnings.extend(page.warnings);
                out.cursor = page.next_cursor;
                if !page.more {
                    break;
                }
            }
            Err(SocialError::StalePageToken { .. }) => {
                let (cursor, warning) = out.cursor.abandon_walk();
                out.cursor = cursor;
                out.warnings.extend(warning);
            }
            Err(e) => {
                out.error = Some(e);
                break;
            }
        }
    }
    out
}

/// `Retry-After` back as a header value, for [`parse_page`].
fn retry_header(r: crate::fetch::RetryAfter) -> String {
    match r {
        crate::fetch::RetryAfter::Delay(d) => d.as_secs().to_string(),
        crate::fetch::RetryAfter::At(at) => at.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
    }
}
