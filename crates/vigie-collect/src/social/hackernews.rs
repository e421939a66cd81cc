//! Hacker News: the Algolia search API, newest first,
//! `GET /api/v1/search_by_date?query=…&tags=(story,comment)&numericFilters=…&hitsPerPage=100`, no key.
//!
//! A walk (see the [module docs](super)) pages by *time window*, not by
//! `page` offsets (which shift as stories arrive and stop at 1,000 hits):
//! every request asks for `created_at_i>=<high-water mark>` and, past the
//! first page, `created_at_i<=<oldest hit collected so far>`; hits at the
//! window's edges that were already collected are recognised by id. Only when
//! a whole page falls in the window's last second does the walk take the
//! window's next `page` (the window is stable: new hits are above it). The
//! listing ends when a page holds every remaining hit (`nbHits`).
//!
//! | `RawMention` | hit field |
//! | --- | --- |
//! | `source_item_id` | `objectID` |
//! | `url` | `https://news.ycombinator.com/item?id=<objectID>` (the discussion; a story's link is its `url`) |
//! | `title` | story: `title` (HTML-escaped); comment: none, so that the story's title does not count as the comment's words |
//! | `text` | story: `story_text`; comment: `comment_text` (HTML, `plain_text` false) |
//! | `author` | `author` |
//! | `published_at` | `created_at_i` (the sort key), else `created_at` |
//! | `site` | `news.ycombinator.com` |
//! | `lang` | none |
//! | `engagement` | likes `points`, comments `num_comments` (stories) |

use chrono::{DateTime, Utc};
use serde_json::Value;
use url::Url;
use vigie_model::{Engagement, RawMention, SourceKind};

use super::{
    Api, Cursor, Item, Page, RequestSpec, SocialError, WalkPage, adapt_items, advance_walk, check_query, count_at,
    endpoint, escape_html, str_at, time_at,
};

/// Hits per page.
pub const LIMIT: u32 = 100;

const API: Api = Api::HackerNews;

pub(crate) fn request(base: &Url, query: &str, cursor: &Cursor) -> Result<RequestSpec, SocialError> {
    let q = check_query(API, "search query", query)?;
    let mut filters = Vec::new();
    if let Some(hw) = &cursor.high_water {
        filters.push(format!("created_at_i>={}", hw.at.timestamp()));
    }
    if let Some(floor) = cursor.walk.as_ref().and_then(|w| w.floor.as_ref()) {
        filters.push(format!("created_at_i<={}", floor.at.timestamp()));
    }
    let page = cursor.walk.as_ref().map_or(0, |w| page_of(w.token.as_deref()));
    let mut url = endpoint(base, "api/v1/search_by_date");
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("query", &q).append_pair("tags", "(story,comment)");
        if !filters.is_empty() {
            pairs.append_pair("numericFilters", &filters.join(","));
        }
        pairs.append_pair("hitsPerPage", &LIMIT.to_string());
        if page > 0 {
            pairs.append_pair("page", &page.to_string());
        }
    }
    Ok(RequestSpec::json(url))
}

pub(crate) fn page(cursor: &Cursor, value: &Value) -> Result<Page, SocialError> {
    let Some(hits) = value.get("hits").and_then(Value::as_array) else {
        return Err(SocialError::shape(API, "no `hits` array in the search output"));
    };
    let nb_hits = count_at(value, &["nbHits"]);
    let (items, skipped) = adapt_items(API, hits, adapt);
    // More remain in the window when Algolia counts more than it sent.
    let per_page = count_at(value, &["hitsPerPage"]).unwrap_or(u64::from(LIMIT));
    let served = count_at(value, &["page"]).unwrap_or(0).saturating_mul(per_page).saturating_add(hits.len() as u64);
    let remaining = match nb_hits {
        Some(n) => n > served,
        None => hits.len() as u64 >= per_page,
    };
    // The next window ends at the oldest hit collected. When every hit of the
    // page sits in the second the window already ends at (more hits in one
    // second than a page holds), that window does not move: take its next page.
    let previous_floor = cursor.walk.as_ref().and_then(|w| w.floor.as_ref());
    let stuck =
        previous_floor.is_some_and(|f| !items.is_empty() && items.iter().all(|i| i.at.timestamp() == f.at.timestamp()));
    let page = cursor.walk.as_ref().map_or(0, |w| page_of(w.token.as_deref()));
    let next_page = if stuck { page + 1 } else { 0 };
    let next_token = (remaining && !hits.is_empty()).then(|| format!("page:{next_page}"));
    Ok(advance_walk(API, cursor, WalkPage { items, skipped, next_token, bounded_below: true }))
}

/// The `page` of the current window, from the walk's token (`page:N`).
fn page_of(token: Option<&str>) -> u32 {
    token.and_then(|t| t.strip_prefix("page:")).and_then(|n| n.parse().ok()).unwrap_or(0).min(1000)
}

fn adapt(hit: &Value) -> Result<Item, String> {
    let id = match hit.get("objectID") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("no `objectID`".into()),
    };
    if !id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 20 {
        return Err(format!("`objectID` {id:?} is not an item number"));
    }
    let at = hit
        .get("created_at_i")
        .and_then(Value::as_i64)
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .or_else(|| time_at(hit, &["created_at"]))
        .ok_or("no valid `created_at_i`")?;
    let tags: Vec<&str> = hit
        .get("_tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let is_comment = tags.contains(&"comment") || hit.get("comment_text").is_some_and(Value::is_string);
    let (title, text) = if is_comment {
        let text = str_at(hit, &["comment_text"]).ok_or("comment without `comment_text`")?;
        (None, text.to_string())
    } else {
        let title = str_at(hit, &["title"]).map(escape_html);
        let text = str_at(hit, &["story_text"]).unwrap_or_default().to_string();
        if title.is_none() && text.is_empty() {
            return Err("story without `title` nor `story_text`".into());
        }
        (title, text)
    };
    let mention = RawMention {
        source_item_id: Some(id.clone()),
        url: Some(format!("https://news.ycombinator.com/item?id={id}")),
        title,
        text,
        plain_text: false,
        author: str_at(hit, &["author"]).map(str::to_string),
        published_at: Some(at),
        source_kind: Some(SourceKind::Hackernews),
        site: Some("news.ycombinator.com".into()),
        lang: None,
        reach: None,
        engagement: Engagement {
            followers: None,
            likes: count_at(hit, &["points"]),
            shares: None,
            comments: if is_comment { None } else { count_at(hit, &["num_comments"]) },
            views: None,
        },
    };
    Ok(Item { at, id, mention })
}
