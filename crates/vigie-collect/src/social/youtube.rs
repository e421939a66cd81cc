//! YouTube Data API v3: comment threads on all of a channel's videos,
//! `GET /youtube/v3/commentThreads?part=snippet&allThreadsRelatedToChannelId=…&order=time&maxResults=100&textFormat=plainText&key=…&pageToken=…`.
//!
//! A walk (see the [module docs](super)) follows `nextPageToken` down to the
//! high-water mark; the sort key is the top-level comment's `publishedAt`.
//! Replies are not listed (a thread's reply count is its `comments`). Errors
//! come as Google error bodies: `quotaExceeded` (403) is
//! [`SocialError::QuotaExceeded`], `keyInvalid` (400) an auth error,
//! `invalidPageToken` during a walk [`SocialError::StalePageToken`].
//! The API key travels in the URL: use [`RequestSpec::redacted`] in logs.
//!
//! | `RawMention` | comment thread field |
//! | --- | --- |
//! | `source_item_id` | `snippet.topLevelComment.id` |
//! | `url` | `https://www.youtube.com/watch?v=<videoId>&lc=<comment id>` |
//! | `title` | none |
//! | `text` | `textOriginal` when given (only to the author), else `textDisplay` (plain text: `textFormat=plainText`) |
//! | `author` | `authorDisplayName` (the `@handle`) |
//! | `published_at` | `publishedAt` |
//! | `site` | `www.youtube.com` |
//! | `lang` | none |
//! | `engagement` | likes `likeCount`, comments `snippet.totalReplyCount` |

use serde_json::Value;
use url::Url;
use vigie_model::{Engagement, RawMention, SourceKind};

use super::{
    Api, Cursor, Item, Page, RequestSpec, SocialError, WalkPage, adapt_items, advance_walk, count_at, endpoint, str_at,
    time_at,
};

/// Threads per page (the API's maximum).
pub const LIMIT: u32 = 100;

const API: Api = Api::YouTube;

fn valid_channel_id(id: &str) -> bool {
    (2..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(crate) fn request(
    base: &Url,
    channel_id: &str,
    api_key: &str,
    cursor: &Cursor,
) -> Result<RequestSpec, SocialError> {
    let channel = channel_id.trim();
    if !valid_channel_id(channel) {
        return Err(SocialError::Query {
            api: API,
            message: format!("{channel:?} is not a channel id (like UCxxxxxxxxxxxxxxxxxxxxxx)"),
        });
    }
    let key = api_key.trim();
    if key.is_empty() || key.len() > 256 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SocialError::Query {
            api: API,
            message: "no usable API key: set the YouTube Data API key in the configuration".into(),
        });
    }
    let mut url = endpoint(base, "commentThreads");
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("part", "snippet").append_pair("allThreadsRelatedToChannelId", channel);
        pairs.append_pair("order", "time").append_pair("maxResults", &LIMIT.to_string());
        pairs.append_pair("textFormat", "plainText");
        if let Some(token) = cursor.walk.as_ref().and_then(|w| w.token.as_deref()) {
            pairs.append_pair("pageToken", token);
        }
        pairs.append_pair("key", key);
    }
    let mut spec = RequestSpec::json(url);
    spec.secret_params.push("key");
    Ok(spec)
}

pub(crate) fn page(cursor: &Cursor, value: &Value) -> Result<Page, SocialError> {
    if let Some(kind) = value.get("kind").and_then(Value::as_str)
        && kind != "youtube#commentThreadListResponse"
    {
        return Err(SocialError::shape(API, format!("`kind` is {kind:?}, not youtube#commentThreadListResponse")));
    }
    let items = match value.get("items") {
        Some(Value::Array(items)) => items.as_slice(),
        // An empty list may omit `items`.
        None if value.get("kind").is_some() => &[],
        _ => return Err(SocialError::shape(API, "no `items` array in the commentThreads response")),
    };
    let next_token = match value.get("nextPageToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(SocialError::shape(API, "`nextPageToken` is not a string")),
    };
    let (adapted, skipped) = adapt_items(API, items, adapt);
    let next_token = next_token.filter(|_| !items.is_empty());
    Ok(advance_walk(API, cursor, WalkPage { items: adapted, skipped, next_token, bounded_below: false }))
}

fn adapt(thread: &Value) -> Result<Item, String> {
    let top =
        thread.pointer("/snippet/topLevelComment").filter(|t| t.is_object()).ok_or("no `snippet.topLevelComment`")?;
    let id = str_at(top, &["id"]).or_else(|| str_at(thread, &["id"])).ok_or("no comment `id`")?;
    let s = top.get("snippet").filter(|s| s.is_object()).ok_or("no `topLevelComment.snippet`")?;
    let at = time_at(s, &["publishedAt"]).ok_or("no valid `publishedAt`")?;
    let text = s
        .get("textOriginal")
        .and_then(Value::as_str)
        .or_else(|| s.get("textDisplay").and_then(Value::as_str))
        .ok_or("neither `textOriginal` nor `textDisplay`")?;
    let video = str_at(s, &["videoId"]).or_else(|| str_at(thread, &["snippet", "videoId"]));
    let url = video.map(|v| {
        let mut u = Url::parse("https://www.youtube.com/watch").unwrap_or_else(|_| unreachable!("constant URL"));
        u.query_pairs_mut().append_pair("v", v).append_pair("lc", id);
        u.to_string()
    });
    let mention = RawMention {
        source_item_id: Some(id.to_string()),
        url,
        title: None,
        text: text.to_string(),
        plain_text: true,
        author: str_at(s, &["authorDisplayName"]).map(str::to_string),
        published_at: Some(at),
        source_kind: Some(SourceKind::Youtube),
        site: Some("www.youtube.com".into()),
        lang: None,
        reach: None,
        engagement: Engagement {
            followers: None,
            likes: count_at(s, &["likeCount"]),
            shares: None,
            comments: count_at(thread, &["snippet", "totalReplyCount"]),
            views: None,
        },
    };
    Ok(Item { at, id: id.to_string(), mention })
}
