//! Reddit: search JSON, `GET /search.json?q=…&sort=new&limit=100&after=…`
//! (or `/r/<sub>/search.json?…&restrict_sr=1`), no key.
//!
//! A walk (see the [module docs](super)) follows `data.after` (the fullname of
//! the page's last post) down to the high-water mark; the sort key is
//! `created_utc`. `raw_json=1` asks for `<`, `>` and `&` unescaped in the
//! text. Reddit answers clients it blocks or throttles with an HTML page:
//! that is [`SocialError::NotJson`], and a 429 carries
//! `x-ratelimit-reset` as the retry delay.
//!
//! | `RawMention` | `t3` post field |
//! | --- | --- |
//! | `source_item_id` | `name` (`t3_…`, as the Reddit feeds give it) |
//! | `url` | `https://www.reddit.com` + `permalink` (the discussion, not a link post's target) |
//! | `title` | `title` (plain text) |
//! | `text` | `selftext` (plain Markdown); empty for link posts and for `[removed]`/`[deleted]` |
//! | `author` | `/u/<author>` (none for `[deleted]`) |
//! | `published_at` | `created_utc` |
//! | `site` | `www.reddit.com` |
//! | `lang` | none (Reddit does not say) |
//! | `engagement` | followers `subreddit_subscribers` (the community's members), likes `ups`, shares `num_crossposts`, comments `num_comments` |

use chrono::{DateTime, Utc};
use serde_json::Value;
use url::Url;
use vigie_model::{Engagement, RawMention, SourceKind};

use super::{
    Api, Cursor, Item, Page, RequestSpec, SocialError, WalkPage, adapt_items, advance_walk, check_query, count_at,
    endpoint, str_at,
};

/// Posts per page (the API's maximum).
pub const LIMIT: u32 = 100;

const API: Api = Api::Reddit;

fn valid_subreddit(s: &str) -> bool {
    (2..=21).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(crate) fn request(
    base: &Url,
    query: &str,
    subreddit: Option<&str>,
    cursor: &Cursor,
) -> Result<RequestSpec, SocialError> {
    let q = check_query(API, "search query", query)?;
    let sub = subreddit.map(|s| s.trim().trim_start_matches("/r/").trim_start_matches("r/")).filter(|s| !s.is_empty());
    let mut url = match sub {
        Some(sub) if valid_subreddit(sub) => endpoint(base, &format!("r/{sub}/search.json")),
        Some(sub) => {
            return Err(SocialError::Query {
                api: API,
                message: format!("{sub:?} is not a subreddit name (2 to 21 letters, digits or underscores)"),
            });
        }
        None => endpoint(base, "search.json"),
    };
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("q", &q).append_pair("sort", "new").append_pair("type", "link");
        pairs.append_pair("limit", &LIMIT.to_string()).append_pair("raw_json", "1");
        if sub.is_some() {
            pairs.append_pair("restrict_sr", "1");
        }
        if let Some(after) = cursor.walk.as_ref().and_then(|w| w.token.as_deref()) {
            pairs.append_pair("after", after);
        }
    }
    Ok(RequestSpec::json(url))
}

pub(crate) fn page(cursor: &Cursor, value: &Value) -> Result<Page, SocialError> {
    if value.get("kind").and_then(Value::as_str) != Some("Listing") {
        return Err(SocialError::shape(API, "expected a `Listing` (the `kind` field)"));
    }
    let Some(data) = value.get("data").filter(|d| d.is_object()) else {
        return Err(SocialError::shape(API, "the listing has no `data` object"));
    };
    let Some(children) = data.get("children").and_then(Value::as_array) else {
        return Err(SocialError::shape(API, "`data.children` is not an array"));
    };
    let after = match data.get("after") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(SocialError::shape(API, "`data.after` is not a string")),
    };
    let (items, skipped) = adapt_items(API, children, adapt);
    let next_token = after.filter(|_| !children.is_empty());
    Ok(advance_walk(API, cursor, WalkPage { items, skipped, next_token, bounded_below: false }))
}

fn created(d: &Value) -> Option<DateTime<Utc>> {
    let secs = d.get("created_utc")?.as_f64().filter(|s| s.is_finite())?;
    DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
}

fn adapt(child: &Value) -> Result<Item, String> {
    let kind = str_at(child, &["kind"]).unwrap_or_default();
    if kind != "t3" {
        return Err(format!("kind {kind:?} is not a post (t3)"));
    }
    let d = child.get("data").filter(|d| d.is_object()).ok_or("no `data`")?;
    let name = str_at(d, &["name"]).ok_or("no `name`")?;
    let at = created(d).ok_or("no valid `created_utc`")?;
    let permalink = str_at(d, &["permalink"]).filter(|p| p.starts_with('/')).ok_or("no `permalink`")?;
    let title = str_at(d, &["title"]).ok_or("no `title`")?;
    let selftext = str_at(d, &["selftext"]).filter(|t| !matches!(*t, "[removed]" | "[deleted]")).unwrap_or_default();
    let author = str_at(d, &["author"]).filter(|a| *a != "[deleted]").map(|a| format!("/u/{a}"));
    let followers = count_at(d, &["subreddit_subscribers"]);
    let mention = RawMention {
        source_item_id: Some(name.to_string()),
        url: Some(format!("https://www.reddit.com{permalink}")),
        title: Some(title.to_string()),
        text: selftext.to_string(),
        plain_text: true,
        author,
        published_at: Some(at),
        source_kind: Some(SourceKind::Reddit),
        site: Some("www.reddit.com".into()),
        lang: None,
        reach: None,
        engagement: Engagement {
            followers,
            likes: count_at(d, &["ups"]),
            shares: count_at(d, &["num_crossposts"]),
            comments: count_at(d, &["num_comments"]),
            views: None,
        },
    };
    Ok(Item { at, id: name.to_string(), mention })
}
