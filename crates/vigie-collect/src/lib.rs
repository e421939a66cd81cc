//! Collection: fetching feeds over HTTP and turning them into [`RawMention`]s.
//!
//! # Design
//!
//! Two independent halves, joined by the caller (the scheduler):
//!
//! 1. **Fetch** ([`fetch`]): a [`Fetcher`] owns one reqwest client and does a
//!    conditional GET ([`FetchRequest`] carries the stored `ETag` /
//!    `Last-Modified`), returning the raw body or [`FetchOutcome::NotModified`].
//!    It is the only part that does IO, and it is defensive: body size cap
//!    counted after decompression, whole-request timeout, limited redirects,
//!    and the [`guard`] that keeps user-supplied URLs off loopback, intranet
//!    and cloud-metadata addresses (checked after DNS resolution, and for IP
//!    literals before sending and at every redirect hop). It is also polite:
//!    every request waits for a slot of its host ([`hosts`]: a few at once,
//!    starts spaced), and [`Fetcher::fetch_page`], for scraped pages, obeys
//!    the site's robots.txt ([`robots`]); feeds and APIs skip robots.txt.
//! 2. **Parse, then adapt** ([`feed`]): [`parse_feed`] lets feed-rs detect
//!    and parse the format (RSS 0.9x, RSS 1.0/RDF, RSS 2.0, Atom, JSON Feed)
//!    into its own model, then one adapter maps each entry to a
//!    [`RawMention`]. Parsing is pure: bytes in, value or error out, no IO.
//!
//! The adapter's mapping:
//!
//! | `RawMention` field | taken from |
//! | --- | --- |
//! | `source_item_id` | the entry id (RSS `guid`, Atom `id`, JSON `id`, a number taken as a string); `None` if absent (no made-up ids); the link itself when it is an anchor of a page (`/post/#comment-101`) |
//! | `url` | the first `alternate` link (RSS: else a permalink `guid`), resolved against the feed URL; Google redirect links unwrapped; `None` for an anchor of a page (a comment), which the canonical URL would fold into the page |
//! | `title` | the entry title, HTML kept |
//! | `text` | content body, else summary, else media description; HTML kept (Reddit's "submitted by … [link] [comments]" trailer dropped) |
//! | `plain_text` | the body is plain text by the feed's own word (Atom `type="text"`, JSON Feed `content_text` and `summary`); a title of the other kind is converted |
//! | `author` | the first author's name (Atom/JSON Feed: else the feed's author) |
//! | `published_at` | published, else updated, else `None` (the pipeline decides); dates feed-rs cannot read go through the HTML reader's (zone abbreviations, French names); a date still unreadable is `None` with a warning |
//! | `source_kind` | Reddit / Youtube / News / Hackernews / Bluesky when the feed's or the link's host says so, else `Rss` |
//! | `site` | Google News: the host of the item's `<source url>`; an anchor item: the link's host; else `None` (the pipeline derives it) |
//! | `reach` | `None` |
//! | `lang` | primary subtag of the entry's or the feed's language (`fr-FR` → `fr`) |
//!
//! Entries whose id repeats an earlier one in the same feed, and entries with
//! neither title nor text, are left out and listed in [`ParsedFeed::skipped`];
//! what was odd in the entries kept (an unreadable date, bytes not valid in
//! the charset) is in [`ParsedFeed::warnings`].
//!
//! Cleaning the HTML, canonicalizing URLs and deduplicating across fetches
//! belong to the pipeline, not here.
//!
//! # Errors
//!
//! [`FetchError`] and [`FeedError`] display messages meant for the person who
//! added the source ("HTTP 404 Not Found", "this is an HTML page, not a feed
//! …"). [`FetchError::is_transient`] and [`FetchError::retry_after`] drive
//! the scheduler's back-off.

pub mod feed;
pub mod fetch;
pub mod guard;
pub mod hosts;
pub mod html;
pub mod robots;
pub mod search;
pub mod social;

pub use feed::{FeedError, ParsedFeed, SkipReason, SkippedItem, parse_feed};
pub use fetch::{FetchConfig, FetchError, FetchOutcome, FetchRequest, Fetcher, MAX_ERROR_BODY_BYTES, RetryAfter};
pub use guard::{AddressClass, RefusedAddress, UrlRefused};
pub use hosts::{HostPolicy, jitter};
pub use robots::{PRODUCT_TOKEN, RobotsRules};
pub use vigie_model::RawMention;
