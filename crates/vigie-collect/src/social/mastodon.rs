//! Mastodon: a hashtag timeline (`GET /api/v1/timelines/tag/:hashtag`) or the
//! status search (`GET /api/v2/search?type=statuses`) of one instance, no key.
//!
//! Paging goes *forward*: `min_id=<newest id collected>` returns the statuses
//! immediately newer than it (still listed newest first), so every page moves
//! [`Cursor::newest_id`] up and no walk state is needed. A run fetches until
//! a page comes back empty. The `Link` header carries the same ids as the
//! body (`rel="prev"` is `min_id=<newest on the page>`), so the body's ids are
//! used and the header is not needed. A new source takes the newest page.
//!
//! Status ids are decimal snowflakes on Mastodon (fixed-width base62 on
//! Pleroma/Akkoma): ordered by length, then text.
//!
//! | `RawMention` | status field |
//! | --- | --- |
//! | `source_item_id` | `id` (the instance's local id; the `url` is the dedup key) |
//! | `url` | `url`, else `uri` |
//! | `title` | `spoiler_text` (the content warning), HTML-escaped, else none |
//! | `text` | `content` (HTML, `plain_text` false) |
//! | `author` | `account.acct`, with the instance's host for local accounts (`alice@mastodon.social`) |
//! | `published_at` | `created_at` |
//! | `site` | host of the status URL (the author's instance) |
//! | `lang` | `language` |
//! | `engagement` | followers `account.followers_count`, likes `favourites_count`, shares `reblogs_count`, comments `replies_count` |
//! | `reach` | `account.followers_count` |

use std::cmp::Ordering;

use serde_json::Value;
use url::Url;
use vigie_model::{Engagement, RawMention, SourceKind};

use super::{
    Api, Cursor, MAX_ITEMS_PER_PAGE, Page, RequestSpec, SocialError, check_query, count_at, escape_html, host_of,
    lang_code, str_at, time_at,
};

/// Statuses per page (the API's maximum).
pub const LIMIT: u32 = 40;

const API: Api = Api::Mastodon;

/// Orders Mastodon ids: by length, then text (numeric for decimal ids).
pub fn compare_ids(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub(crate) fn request(
    instance: &Url,
    hashtag: Option<&str>,
    search: Option<&str>,
    cursor: &Cursor,
) -> Result<RequestSpec, SocialError> {
    if !matches!(instance.scheme(), "http" | "https") || instance.host_str().is_none() {
        return Err(SocialError::Query { api: API, message: format!("the instance {instance} is not an http(s) URL") });
    }
    let mut url = instance.clone();
    url.set_query(None);
    url.set_fragment(None);
    match (hashtag.map(str::trim).filter(|h| !h.is_empty()), search.map(str::trim).filter(|s| !s.is_empty())) {
        (Some(tag), None) => {
            let tag = tag.trim_start_matches('#');
            let tag = check_query(API, "hashtag", tag)?;
            if tag.chars().any(|c| c.is_whitespace() || c == '/' || c == '#') {
                return Err(SocialError::Query {
                    api: API,
                    message: format!("the hashtag {tag:?} must be one word (letters, digits, underscores)"),
                });
            }
            url.path_segments_mut()
                .map_err(|()| SocialError::Query {
                    api: API,
                    message: format!("the instance {instance} cannot take a path"),
                })?
                .pop_if_empty()
                .extend(["api", "v1", "timelines", "tag", &tag]);
            url.query_pairs_mut().append_pair("limit", &LIMIT.to_string());
        }
        (None, Some(search)) => {
            let q = check_query(API, "search", search)?;
            url.path_segments_mut()
                .map_err(|()| SocialError::Query {
                    api: API,
                    message: format!("the instance {instance} cannot take a path"),
                })?
                .pop_if_empty()
                .extend(["api", "v2", "search"]);
            url.query_pairs_mut()
                .append_pair("q", &q)
                .append_pair("type", "statuses")
                .append_pair("limit", &LIMIT.to_string());
        }
        (Some(_), Some(_)) => {
            return Err(SocialError::Query {
                api: API,
                message: "give either a hashtag or a search, not both (add two sources)".into(),
            });
        }
        (None, None) => {
            return Err(SocialError::Query { api: API, message: "give a hashtag or a search".into() });
        }
    }
    if let Some(min_id) = &cursor.newest_id {
        url.query_pairs_mut().append_pair("min_id", min_id);
    }
    Ok(RequestSpec::json(url))
}

pub(crate) fn page(instance: &Url, cursor: &Cursor, value: &Value) -> Result<Page, SocialError> {
    // The timeline is an array; the search an object with `statuses`.
    let list = match value {
        Value::Array(list) => list,
        Value::Object(o) => match o.get("statuses") {
            Some(Value::Array(list)) => list,
            Some(_) => return Err(SocialError::shape(API, "`statuses` is not an array")),
            None => return Err(SocialError::shape(API, "expected an array of statuses or an object with `statuses`")),
        },
        _ => return Err(SocialError::shape(API, "expected an array of statuses or an object with `statuses`")),
    };
    let instance_host = instance.host_str().unwrap_or_default().to_ascii_lowercase();
    let mut out = Page::default();
    let mut next = cursor.clone();
    let mut ignored_min_id = false;
    for (i, status) in list.iter().enumerate() {
        if i >= MAX_ITEMS_PER_PAGE {
            out.skipped.push(format!("{} statuses past the first {MAX_ITEMS_PER_PAGE} not read", list.len() - i));
            break;
        }
        let Some(id) = str_at(status, &["id"]).filter(|id| valid_id(id)) else {
            out.skipped.push(format!("status {i}: no valid `id`"));
            continue;
        };
        if let Some(newest) = &cursor.newest_id
            && compare_ids(id, newest) != Ordering::Greater
        {
            // An old server that ignores `min_id` sends the newest page again.
            ignored_min_id = true;
            continue;
        }
        match adapt(status, &instance_host) {
            Ok(m) => {
                if out.items.iter().any(|seen: &RawMention| seen.source_item_id.as_deref() == Some(id)) {
                    out.skipped.push(format!("status {i} ({id}): the same id appears earlier on the page"));
                    continue;
                }
                out.items.push(m);
            }
            Err(reason) => out.skipped.push(format!("status {i} ({id}): {reason}")),
        }
        // Even a skipped status moves the mark: it was seen, and will not get better.
        if next.newest_id.as_deref().is_none_or(|n| compare_ids(id, n) == Ordering::Greater) {
            next.newest_id = Some(id.to_string());
        }
    }
    if ignored_min_id {
        out.warnings.push(
            "the instance ignored `min_id` and sent statuses already collected; \
             statuses between pages may be missing (is it an old Mastodon version?)"
                .into(),
        );
    }
    // Forward paging is done when a page brings nothing newer; a new source takes one page.
    out.more = cursor.newest_id.is_some() && next.newest_id != cursor.newest_id && !ignored_min_id;
    out.next_cursor = next;
    Ok(out)
}

fn adapt(status: &Value, instance_host: &str) -> Result<RawMention, String> {
    if !status.is_object() {
        return Err("not an object".into());
    }
    // A boost carries the original in `reblog` (not in tag timelines, but be safe).
    let s = match status.get("reblog") {
        Some(inner @ Value::Object(_)) => inner,
        _ => status,
    };
    let content = s.get("content").and_then(Value::as_str).unwrap_or_default();
    let title = str_at(s, &["spoiler_text"]).map(escape_html);
    if content.trim().is_empty() && title.is_none() {
        return Err("no `content`".into());
    }
    let url = str_at(s, &["url"]).or_else(|| str_at(s, &["uri"])).map(str::to_string);
    let published_at = time_at(s, &["created_at"]);
    if published_at.is_none() {
        return Err("no valid `created_at`".into());
    }
    let author = str_at(s, &["account", "acct"]).map(|acct| {
        if acct.contains('@') || instance_host.is_empty() {
            acct.to_string()
        } else {
            format!("{acct}@{instance_host}")
        }
    });
    let followers = count_at(s, &["account", "followers_count"]);
    Ok(RawMention {
        source_item_id: str_at(status, &["id"]).map(str::to_string),
        site: url.as_deref().and_then(host_of),
        url,
        title,
        text: content.to_string(),
        plain_text: false,
        author,
        published_at,
        source_kind: Some(SourceKind::Mastodon),
        lang: str_at(s, &["language"]).and_then(lang_code),
        reach: followers.and_then(|f| i64::try_from(f).ok()),
        engagement: Engagement {
            followers,
            likes: count_at(s, &["favourites_count"]),
            shares: count_at(s, &["reblogs_count"]),
            comments: count_at(s, &["replies_count"]),
            views: None,
        },
    })
}
