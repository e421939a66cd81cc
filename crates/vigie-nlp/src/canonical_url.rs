//! Canonical URLs: one spelling per page, so that the same article reached
//! through a newsletter link, a feed and a share button is stored once.

use url::Url;

/// Query parameters that only track who clicked where.
fn is_tracking_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_")
        || matches!(
            lower.as_str(),
            "fbclid" | "gclid" | "dclid" | "gbraid" | "wbraid" | "msclkid" | "mc_cid" | "mc_eid"
                | "igshid" | "yclid" | "_hsenc" | "_hsmi" | "mkt_tok" | "ref_src" | "ref_url"
                | "at_medium" | "at_campaign" | "xtor"
        )
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a valid URL: {0}")]
    Invalid(String),
    #[error("unsupported URL scheme {0:?} (only http and https are stored)")]
    Scheme(String),
    #[error("URL is longer than {max} characters")]
    TooLong { max: usize },
}

pub const MAX_URL_LEN: usize = 4096;

/// Whether a URL fragment names one comment or post of a page, as blogs and
/// forums write their anchors: `comment-101` (WordPress), `c1234` (Blogger),
/// `p5678` (phpBB), `post-12`, `reply_3`, `msg42`, `review-7`.
pub fn is_comment_anchor(fragment: &str) -> bool {
    const WORDS: [&str; 11] =
        ["comment", "comments", "reply", "post", "p", "c", "msg", "message", "answer", "review", "r"];
    let lower = fragment.to_ascii_lowercase();
    let digits = lower.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let word = &lower[..lower.len() - digits.len()];
    let digits = digits.strip_prefix(['-', '_']).unwrap_or(digits);
    WORDS.contains(&word) && !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Canonical form: http(s) only, lower-case host (the `url` crate also
/// punycodes it), default port dropped, fragment dropped (but a
/// single-page route's or a comment's: [`is_comment_anchor`]), tracking
/// parameters removed (the others keep their order), empty query removed.
pub fn canonical_url(input: &str) -> Result<String, UrlError> {
    let input = input.trim();
    if input.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong { max: MAX_URL_LEN });
    }
    let mut url = Url::parse(input).map_err(|e| UrlError::Invalid(e.to_string()))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(UrlError::Scheme(other.to_string())),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::Invalid("no host".into()));
    }
    // A fragment is a place in the page, except in the routes of
    // single-page applications (`#/post/2`, `#!/post/2`), where it names the
    // page, and in a comment's anchor (`#comment-101`), which names the
    // comment: those stay.
    if !url.fragment().is_some_and(|f| f.starts_with('/') || f.starts_with('!') || is_comment_anchor(f))
    {
        url.set_fragment(None);
    }
    // Filter the raw `k=v` pieces, keeping the survivors spelled as they were:
    // decoding and re-encoding would turn `%20` into `+` and give the same
    // page two spellings.
    let query = url.query().map(str::to_string);
    if let Some(query) = query {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|piece| !piece.is_empty())
            .filter(|piece| {
                let name = piece.split('=').next().unwrap_or("");
                let decoded = url::form_urlencoded::parse(name.as_bytes()).next().map(|(k, _)| k.into_owned());
                !is_tracking_param(decoded.as_deref().unwrap_or(name))
            })
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.set_query(Some(&kept.join("&")));
        }
    }
    // The url crate lower-cases the host and drops default ports already;
    // a trailing dot on the host is the same host.
    if let Some(host) = url.host_str()
        && let Some(stripped) = host.strip_suffix('.') {
            let stripped = stripped.to_string();
            url.set_host(Some(&stripped)).map_err(|e| UrlError::Invalid(e.to_string()))?;
        }
    Ok(url.into())
}

/// The site of a URL: its host without a leading `www.`.
pub fn site_of(url: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    let host = parsed.host_str()?.to_ascii_lowercase();
    Some(host.strip_prefix("www.").unwrap_or(&host).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_parameters_fragment_and_host_case_are_normalized() {
        let u = canonical_url("HTTPS://WWW.LeMonde.FR:443/eco/article.html?utm_source=tw&id=4&fbclid=x#com")
            .unwrap();
        assert_eq!(u, "https://www.lemonde.fr/eco/article.html?id=4");
        assert_eq!(canonical_url("http://a.fr/x?utm_medium=a").unwrap(), "http://a.fr/x");
        assert_eq!(canonical_url("http://a.fr.").unwrap(), "http://a.fr/");
        // The routes of single-page applications name pages: kept.
        assert_eq!(canonical_url("https://example.org/#/post/2").unwrap(), "https://example.org/#/post/2");
        assert_eq!(canonical_url("https://example.org/#!/post/2").unwrap(), "https://example.org/#!/post/2");
        // A comment's anchor names the comment; other anchors are places.
        assert_eq!(
            canonical_url("https://blog.example.fr/acme/#comment-101").unwrap(),
            "https://blog.example.fr/acme/#comment-101"
        );
        assert_eq!(canonical_url("https://blog.example.fr/acme/#respond").unwrap(), "https://blog.example.fr/acme/");
        for anchor in ["comment-101", "c1234", "p5678", "post_12", "Reply-3", "msg42"] {
            assert!(is_comment_anchor(anchor), "{anchor}");
        }
        for place in ["respond", "comments", "comment-", "section-2", "top", "c", "p12a", "xtor=RSS-3"] {
            assert!(!is_comment_anchor(place), "{place}");
        }
        assert_eq!(canonical_url("https://example.org/page#comments").unwrap(), "https://example.org/page");
    }

    #[test]
    fn kept_parameters_keep_their_spelling() {
        let a = canonical_url("https://a.fr/p?id=a%20b&utm_source=x").unwrap();
        let b = canonical_url("https://a.fr/p?id=a%20b").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, "https://a.fr/p?id=a%20b");
        assert_eq!(canonical_url("https://a.fr/p?&utm_campaign=z&&q=1").unwrap(), "https://a.fr/p?q=1");
    }

    #[test]
    fn non_web_schemes_are_refused() {
        assert!(matches!(canonical_url("javascript:alert(1)"), Err(UrlError::Scheme(_))));
        assert!(matches!(canonical_url("file:///etc/passwd"), Err(UrlError::Scheme(_))));
        assert!(matches!(canonical_url("not a url"), Err(UrlError::Invalid(_))));
    }

    #[test]
    fn site_drops_www() {
        assert_eq!(site_of("https://www.Example.com/a").as_deref(), Some("example.com"));
        assert_eq!(site_of("https://blog.example.com/a").as_deref(), Some("blog.example.com"));
    }
}
