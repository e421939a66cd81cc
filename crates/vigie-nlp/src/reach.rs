//! Reach: how many people could have seen a mention, and a 0–100 score that
//! compares a tweet, a news article and a forum post on one scale.
//!
//! Sources tell different things (a tweet's views or its author's followers,
//! a video's views, nothing at all for most feeds), so the estimate first puts
//! every mention into the same unit, *people who could have seen it*, then
//! scores that audience and the engagement on log scales. All the constants
//! are here; this documentation is the reference the user docs link to.
//!
//! # Audience
//!
//! The first rule that applies gives the audience, and the `basis` says which:
//!
//! 1. **`views`** — the source counted views (or impressions): audience = views.
//! 2. **`followers`** — audience = followers × the kind's *visibility*, the
//!    share of followers a post reaches (feeds are ranked; most followers never
//!    see a given post).
//! 3. **`site audience`** — the user configured the monthly visitors of the
//!    site or source: audience = monthly visitors × the kind's *share*, the part
//!    of a month's visitors one item reaches.
//! 4. **`default for <kind>`** — nothing known: a modest typical audience.
//!
//! People who liked, shared or commented saw it: when engagement exceeds the
//! audience so found, audience = engagement and the basis is **`engagement`**.
//!
//! | kind | visibility (× followers) | share (× monthly visitors) | default audience |
//! |---|---|---|---|
//! | news | 0.10 | 0.001 | 2,000 |
//! | blog | 0.10 | 0.02 | 150 |
//! | forum | 0.10 | 0.001 | 300 |
//! | review | 0.10 | 0.01 | 150 |
//! | twitter | 0.05 | 0.01 | 100 |
//! | facebook | 0.05 | 0.01 | 50 |
//! | instagram | 0.10 | 0.01 | 100 |
//! | linkedin | 0.08 | 0.01 | 200 |
//! | tiktok | 0.10 | 0.01 | 300 |
//! | mastodon | 0.20 | 0.01 | 50 |
//! | bluesky | 0.20 | 0.01 | 50 |
//! | reddit | 0.01 | 0.001 | 500 |
//! | youtube | 0.10 | 0.01 | 300 |
//! | hackernews | 0.10 | 0.001 | 1,000 |
//! | rss | 0.10 | 0.001 | 300 |
//! | web | 0.10 | 0.001 | 200 |
//! | other | 0.10 | 0.001 | 100 |
//!
//! Visibility follows the published organic-reach benchmarks (a few percent of
//! followers on ranked feeds such as Facebook and X, about a tenth on Instagram,
//! YouTube and TikTok, more on the chronological timelines of Mastodon and
//! Bluesky; Reddit's "followers" are a community's members, of whom a post
//! reaches about one in a hundred). Shares assume a news site or forum
//! publishes thousands of items a month and a blog tens. Defaults are
//! deliberately low: an unknown source should not outrank a measured one.
//! They are estimates of order of magnitude, which is all a log score needs.
//!
//! # Engagement
//!
//! engagement = likes + shares + comments (saturating; views are not
//! engagement).
//!
//! # Score
//!
//! ```text
//! score = min(100, 80 · log10(1 + audience) / 8  +  20 · log10(1 + engagement) / 6)
//! ```
//!
//! rounded to one decimal. The audience gives up to 80 points, 10 per decade
//! (100 people ≈ 20, 10,000 ≈ 40, 1 million ≈ 60, 100 million = 80); the
//! engagement up to 20 points, about 3.3 per decade (10 ≈ 3.5, 1,000 ≈ 10,
//! 1 million = 20). A default news article scores 33, a tweet by an account
//! with 1,000 followers and 10 likes 20.5, a video with a million views and
//! 20,000 interactions 74.3.
//!
//! **Monotonic:** raising a figure the source gave (followers, views, likes,
//! shares, comments, site audience) never lowers the audience, the engagement
//! or the score: each rule uses its figure through a non-decreasing function,
//! and the figures of lower-priority rules are ignored, not mixed in. A figure
//! given *for the first time* can change the basis: 10 counted views replace
//! an estimate from a million followers, because a count beats an estimate.

use serde::{Deserialize, Serialize};
use vigie_model::SourceKind;

/// What a source tells about a mention's audience; all optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachSignals {
    /// Followers (subscribers, members) of the author or community.
    pub followers: Option<u64>,
    pub likes: Option<u64>,
    pub shares: Option<u64>,
    pub comments: Option<u64>,
    /// Views or impressions counted by the source.
    pub views: Option<u64>,
    /// Monthly visitors configured by the user for a site or source.
    pub site_audience: Option<u64>,
}

/// The reach estimate of one mention (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reach {
    /// Estimated people who could have seen it.
    pub audience: u64,
    /// Likes + shares + comments.
    pub engagement: u64,
    /// 0..=100, comparable across sources.
    pub score: f32,
    /// What the audience was computed from: `views`, `followers`,
    /// `site audience`, `engagement` or `default for <kind>`.
    pub basis: &'static str,
}

/// Points the audience can give (at 10^[`AUDIENCE_TOP_DECADES`] people).
pub const AUDIENCE_POINTS: f64 = 80.0;
/// Audience worth all of [`AUDIENCE_POINTS`]: 10^8 people.
pub const AUDIENCE_TOP_DECADES: f64 = 8.0;
/// Points engagement can give (at 10^[`ENGAGEMENT_TOP_DECADES`] interactions).
pub const ENGAGEMENT_POINTS: f64 = 20.0;
/// Engagement worth all of [`ENGAGEMENT_POINTS`]: 10^6 interactions.
pub const ENGAGEMENT_TOP_DECADES: f64 = 6.0;

/// The constants of one kind of source (see the table in the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KindConstants {
    /// Share of followers one post reaches.
    pub visibility: f64,
    /// Share of a month's site visitors one item reaches.
    pub share: f64,
    /// Audience when nothing is known.
    pub default_audience: u64,
    /// The basis reported for the default.
    pub default_basis: &'static str,
}

/// The constants of `kind`.
pub const fn constants(kind: SourceKind) -> KindConstants {
    const fn k(
        visibility: f64,
        share: f64,
        default_audience: u64,
        default_basis: &'static str,
    ) -> KindConstants {
        KindConstants {
            visibility,
            share,
            default_audience,
            default_basis,
        }
    }
    match kind {
        SourceKind::News => k(0.10, 0.001, 2_000, "default for news"),
        SourceKind::Blog => k(0.10, 0.02, 150, "default for blog"),
        SourceKind::Forum => k(0.10, 0.001, 300, "default for forum"),
        SourceKind::Review => k(0.10, 0.01, 150, "default for review"),
        SourceKind::Twitter => k(0.05, 0.01, 100, "default for twitter"),
        SourceKind::Facebook => k(0.05, 0.01, 50, "default for facebook"),
        SourceKind::Instagram => k(0.10, 0.01, 100, "default for instagram"),
        SourceKind::Linkedin => k(0.08, 0.01, 200, "default for linkedin"),
        SourceKind::Tiktok => k(0.10, 0.01, 300, "default for tiktok"),
        SourceKind::Mastodon => k(0.20, 0.01, 50, "default for mastodon"),
        SourceKind::Bluesky => k(0.20, 0.01, 50, "default for bluesky"),
        SourceKind::Reddit => k(0.01, 0.001, 500, "default for reddit"),
        SourceKind::Youtube => k(0.10, 0.01, 300, "default for youtube"),
        SourceKind::Hackernews => k(0.10, 0.001, 1_000, "default for hackernews"),
        SourceKind::Rss => k(0.10, 0.001, 300, "default for rss"),
        SourceKind::Web => k(0.10, 0.001, 200, "default for web"),
        SourceKind::Other => k(0.10, 0.001, 100, "default for other"),
    }
}

/// `count × factor`, rounded, at least 1 when `count` is not 0 (someone
/// follows, someone visits: somebody may have seen it).
fn scaled(count: u64, factor: f64) -> u64 {
    if count == 0 {
        return 0;
    }
    // `as` saturates; rounding is non-decreasing, so the result is too.
    ((count as f64 * factor).round() as u64).max(1)
}

/// The 0–100 score of an audience and an engagement (formula in the module docs).
pub fn score(audience: u64, engagement: u64) -> f32 {
    let a = AUDIENCE_POINTS * (1.0 + audience as f64).log10() / AUDIENCE_TOP_DECADES;
    let e = ENGAGEMENT_POINTS * (1.0 + engagement as f64).log10() / ENGAGEMENT_TOP_DECADES;
    let s = (a + e).clamp(0.0, 100.0);
    ((s * 10.0).round() / 10.0) as f32
}

/// The reach of a mention of `kind` from what its source told.
pub fn estimate(kind: SourceKind, signals: &ReachSignals) -> Reach {
    let c = constants(kind);
    let engagement = [signals.likes, signals.shares, signals.comments]
        .into_iter()
        .flatten()
        .fold(0u64, u64::saturating_add);
    let (mut audience, mut basis) = if let Some(views) = signals.views {
        (views, "views")
    } else if let Some(followers) = signals.followers {
        (scaled(followers, c.visibility), "followers")
    } else if let Some(visitors) = signals.site_audience {
        (scaled(visitors, c.share), "site audience")
    } else {
        (c.default_audience, c.default_basis)
    };
    if engagement > audience {
        audience = engagement;
        basis = "engagement";
    }
    Reach {
        audience,
        engagement,
        score: score(audience, engagement),
        basis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn signals() -> ReachSignals {
        ReachSignals::default()
    }

    #[test]
    fn views_come_first() {
        let r = estimate(
            SourceKind::Youtube,
            &ReachSignals {
                views: Some(1_000_000),
                followers: Some(50_000_000),
                ..signals()
            },
        );
        assert_eq!(r.audience, 1_000_000);
        assert_eq!(r.basis, "views");
        assert_eq!(r.score, 60.0);
    }

    #[test]
    fn followers_times_visibility() {
        let r = estimate(
            SourceKind::Twitter,
            &ReachSignals {
                followers: Some(10_000),
                ..signals()
            },
        );
        assert_eq!(r.audience, 500);
        assert_eq!(r.basis, "followers");
        let r = estimate(
            SourceKind::Mastodon,
            &ReachSignals {
                followers: Some(10_000),
                ..signals()
            },
        );
        assert_eq!(r.audience, 2_000);
        // Followers win over a configured site audience.
        let r = estimate(
            SourceKind::Reddit,
            &ReachSignals {
                followers: Some(1_000_000),
                site_audience: Some(1),
                ..signals()
            },
        );
        assert_eq!((r.audience, r.basis), (10_000, "followers"));
    }

    #[test]
    fn one_follower_is_somebody() {
        let r = estimate(
            SourceKind::Reddit,
            &ReachSignals {
                followers: Some(1),
                ..signals()
            },
        );
        assert_eq!(r.audience, 1);
        let r = estimate(
            SourceKind::Reddit,
            &ReachSignals {
                followers: Some(0),
                ..signals()
            },
        );
        assert_eq!((r.audience, r.basis), (0, "followers"));
        assert_eq!(r.score, 0.0);
    }

    #[test]
    fn site_audience_times_share() {
        let r = estimate(
            SourceKind::News,
            &ReachSignals {
                site_audience: Some(20_000_000),
                ..signals()
            },
        );
        assert_eq!(r.audience, 20_000);
        assert_eq!(r.basis, "site audience");
        let r = estimate(
            SourceKind::Blog,
            &ReachSignals {
                site_audience: Some(5_000),
                ..signals()
            },
        );
        assert_eq!(r.audience, 100);
    }

    #[test]
    fn defaults_per_kind() {
        let r = estimate(SourceKind::News, &signals());
        assert_eq!(
            (r.audience, r.engagement, r.basis),
            (2_000, 0, "default for news")
        );
        assert_eq!(r.score, 33.0);
        for kind in SourceKind::ALL {
            let r = estimate(kind, &signals());
            assert_eq!(r.basis, format!("default for {kind}"), "{kind}");
            assert!(
                r.audience > 0 && r.score > 0.0 && r.score < 40.0,
                "{kind}: {r:?}"
            );
        }
    }

    #[test]
    fn engagement_adds_and_can_set_the_audience() {
        let quiet = estimate(
            SourceKind::Twitter,
            &ReachSignals {
                followers: Some(1_000),
                ..signals()
            },
        );
        let liked = estimate(
            SourceKind::Twitter,
            &ReachSignals {
                followers: Some(1_000),
                likes: Some(10),
                ..signals()
            },
        );
        assert_eq!(quiet.audience, liked.audience);
        assert_eq!(liked.engagement, 10);
        assert_eq!(liked.score, 20.5);
        assert!(liked.score > quiet.score);
        // 5,000 people engaged with a post the followers rule says 50 saw.
        let viral = estimate(
            SourceKind::Twitter,
            &ReachSignals {
                followers: Some(1_000),
                shares: Some(4_000),
                comments: Some(1_000),
                ..signals()
            },
        );
        assert_eq!(
            (viral.audience, viral.engagement, viral.basis),
            (5_000, 5_000, "engagement")
        );
    }

    #[test]
    fn documented_examples() {
        let video = estimate(
            SourceKind::Youtube,
            &ReachSignals {
                views: Some(1_000_000),
                likes: Some(15_000),
                comments: Some(5_000),
                ..signals()
            },
        );
        assert_eq!(video.score, 74.3);
        assert_eq!(score(100, 0), 20.0);
        assert_eq!(score(10_000, 0), 40.0);
        assert_eq!(score(100_000_000, 1_000_000), 100.0);
        assert_eq!(score(u64::MAX, u64::MAX), 100.0);
        assert_eq!(score(0, 0), 0.0);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        let r = estimate(
            SourceKind::Facebook,
            &ReachSignals {
                likes: Some(u64::MAX),
                shares: Some(u64::MAX),
                followers: Some(u64::MAX),
                ..signals()
            },
        );
        assert_eq!(r.engagement, u64::MAX);
        assert_eq!(r.audience, u64::MAX);
        assert_eq!(r.score, 100.0);
    }

    #[test]
    fn serde_round_trip_of_signals() {
        let s = ReachSignals {
            followers: Some(3),
            views: None,
            likes: Some(1),
            ..signals()
        };
        let json = serde_json::to_string(&s).unwrap_or_default();
        assert_eq!(serde_json::from_str::<ReachSignals>(&json).ok(), Some(s));
        let r = estimate(SourceKind::Blog, &ReachSignals::default());
        let json = serde_json::to_string(&r).unwrap_or_default();
        assert!(json.contains(r#""basis":"default for blog""#), "{json}");
    }

    fn opt() -> impl Strategy<Value = Option<u64>> {
        prop_oneof![
            Just(None),
            any::<u64>().prop_map(Some),
            (0u64..1_000_000).prop_map(Some)
        ]
    }

    fn any_signals() -> impl Strategy<Value = ReachSignals> {
        (opt(), opt(), opt(), opt(), opt(), opt()).prop_map(
            |(followers, likes, shares, comments, views, site_audience)| ReachSignals {
                followers,
                likes,
                shares,
                comments,
                views,
                site_audience,
            },
        )
    }

    /// Raises one field (0..6) of `s` by `by` (a missing figure counts as 0).
    fn raise(s: &ReachSignals, field: usize, by: u64) -> ReachSignals {
        let mut r = s.clone();
        let f = match field {
            0 => &mut r.followers,
            1 => &mut r.likes,
            2 => &mut r.shares,
            3 => &mut r.comments,
            4 => &mut r.views,
            _ => &mut r.site_audience,
        };
        *f = Some(f.unwrap_or(0).saturating_add(by));
        r
    }

    proptest! {
        #[test]
        fn more_never_lowers_the_score(
            s in any_signals(),
            field in 0usize..6,
            by in prop_oneof![0u64..1_000, any::<u64>()],
            kind in proptest::sample::select(SourceKind::ALL.to_vec()),
        ) {
            let before = estimate(kind, &s);
            // A figure the source gave, raised: never a lower score.
            let field_present = match field {
                0 => s.followers.is_some(),
                1 => s.likes.is_some(),
                2 => s.shares.is_some(),
                3 => s.comments.is_some(),
                4 => s.views.is_some(),
                _ => s.site_audience.is_some(),
            };
            let after = estimate(kind, &raise(&s, field, by));
            prop_assert!(after.engagement >= before.engagement);
            if field_present || (1..=3).contains(&field) {
                prop_assert!(after.score >= before.score, "{:?} -> {:?}", before, after);
                prop_assert!(after.audience >= before.audience, "{:?} -> {:?}", before, after);
            }
            prop_assert!((0.0..=100.0).contains(&after.score));
        }

        #[test]
        fn score_is_monotonic(a in any::<u64>(), b in any::<u64>(), e in any::<u64>(), f in any::<u64>()) {
            let (lo_a, hi_a) = (a.min(b), a.max(b));
            let (lo_e, hi_e) = (e.min(f), e.max(f));
            prop_assert!(score(hi_a, hi_e) >= score(lo_a, lo_e));
            prop_assert!(score(hi_a, lo_e) >= score(lo_a, lo_e));
            prop_assert!(score(lo_a, hi_e) >= score(lo_a, lo_e));
        }
    }
}
