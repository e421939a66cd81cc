//! Bluesky: the public AppView's post search,
//! `GET /xrpc/app.bsky.feed.searchPosts?q=…&sort=latest&limit=100&cursor=…`, no key.
//!
//! A walk (see the [module docs](super)) follows the opaque `cursor` down to
//! the high-water mark. The sort key is the lexicon's `sortAt`, which the
//! post view does not carry: it is taken as the earlier of `record.createdAt`
//! and `indexedAt` (a post dated in the future sorts at its indexing time).
//!
//! | `RawMention` | post view field |
//! | --- | --- |
//! | `source_item_id` | `uri` (`at://did:plc:…/app.bsky.feed.post/<rkey>`) |
//! | `url` | `https://bsky.app/profile/<author.handle>/post/<rkey>` (the DID when the handle is `handle.invalid`) |
//! | `title` | none |
//! | `text` | `record.text` (plain text) |
//! | `author` | `author.handle` |
//! | `published_at` | `record.createdAt`, else `indexedAt` |
//! | `site` | `bsky.app` |
//! | `lang` | first of `record.langs` |
//! | `engagement` | likes `likeCount`, shares `repostCount + quoteCount`, comments `replyCount` (no follower count in a post view) |

use serde_json::Value;
use url::Url;
use vigie_model::{Engagement, RawMention, SourceKind};

use super::{
    Api, Cursor, Item, Page, RequestSpec, SocialError, WalkPage, adapt_items, advance_walk, check_query, count_at,
    endpoint, lang_code, str_at, time_at,
};

/// Posts per page (the API's maximum).
pub const LIMIT: u32 = 100;

const API: Api = Api::Bluesky;

pub(crate) fn request(base: &Url, query: &str, cursor: &Cursor) -> Result<RequestSpec, SocialError> {
    let q = check_query(API, "search query", query)?;
    let mut url = endpoint(base, "xrpc/app.bsky.feed.searchPosts");
    url.query_pairs_mut().append_pair("q", &q).append_pair("sort", "latest").append_pair("limit", &LIMIT.to_string());
    if let Some(token) = cursor.walk.as_ref().and_then(|w| w.token.as_deref()) {
        url.query_pairs_mut().append_pair("cursor", token);
    }
    Ok(RequestSpec::json(url))
}

pub(crate) fn page(cursor: &Cursor, value: &Value) -> Result<Page, SocialError> {
    let Some(posts) = value.get("posts") else {
        return Err(SocialError::shape(API, "no `posts` array in the searchPosts output"));
    };
    let Some(posts) = posts.as_array() else {
        return Err(SocialError::shape(API, "`posts` is not an array"));
    };
    let next_token = match value.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(SocialError::shape(API, "`cursor` is not a string")),
    };
    let (items, skipped) = adapt_items(API, posts, adapt);
    // An empty page ends the listing whatever the cursor says.
    let next_token = next_token.filter(|_| !posts.is_empty());
    Ok(advance_walk(API, cursor, WalkPage { items, skipped, next_token, bounded_below: false }))
}

fn adapt(post: &Value) -> Result<Item, String> {
    let uri = str_at(post, &["uri"]).ok_or("no `uri`")?;
    let rest = uri.strip_prefix("at://").ok_or_else(|| format!("`uri` {uri:?} is not an at:// URI"))?;
    let mut parts = rest.split('/');
    let (Some(did), Some(collection), Some(rkey), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("`uri` {uri:?} is not at://<did>/<collection>/<rkey>"));
    };
    if collection != "app.bsky.feed.post" || did.is_empty() || rkey.is_empty() {
        return Err(format!("`uri` {uri:?} is not a post"));
    }
    let text = post.pointer("/record/text").and_then(Value::as_str).ok_or("no `record.text`")?;
    let created = time_at(post, &["record", "createdAt"]);
    let indexed = time_at(post, &["indexedAt"]);
    let at = match (created, indexed) {
        (Some(c), Some(i)) => c.min(i),
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Err("neither `record.createdAt` nor `indexedAt` is a valid time".into()),
    };
    let handle = str_at(post, &["author", "handle"]).filter(|h| *h != "handle.invalid");
    let profile = handle.unwrap_or(did);
    let mut url = Url::parse("https://bsky.app/profile/").map_err(|e| e.to_string())?;
    url.path_segments_mut().map_err(|()| "bad base URL")?.pop_if_empty().extend([profile, "post", rkey]);
    let shares = match (count_at(post, &["repostCount"]), count_at(post, &["quoteCount"])) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    };
    let lang = post.pointer("/record/langs").and_then(Value::as_array).and_then(|l| l.first()).and_then(Value::as_str);
    let mention = RawMention {
        source_item_id: Some(uri.to_string()),
        url: Some(url.to_string()),
        title: None,
        text: text.to_string(),
        plain_text: true,
        author: handle.map(str::to_string).or_else(|| Some(did.to_string())),
        published_at: created.or(indexed),
        source_kind: Some(SourceKind::Bluesky),
        site: Some("bsky.app".into()),
        lang: lang.and_then(lang_code),
        reach: None,
        engagement: Engagement {
            followers: None,
            likes: count_at(post, &["likeCount"]),
            shares,
            comments: count_at(post, &["replyCount"]),
            views: None,
        },
    };
    Ok(Item { at, id: uri.to_string(), mention })
}
