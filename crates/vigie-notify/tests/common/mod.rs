//! A sample alert and its mentions, shared by the notifier tests.

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use vigie_model::{Alert, AlertEvidence, AlertRule, AlertStatus, Severity};
use vigie_notify::{AlertMention, Notice};

pub const HOSTILE: &str = "<script>alert('pwned')</script> \"quoted\" & <!channel> <@U024BE7LH> @here";

pub fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, h, m, 0).unwrap()
}

pub fn alert() -> Alert {
    Alert {
        id: 42,
        project_id: 1,
        watch_id: Some(3),
        rule: AlertRule::NegativeSurge,
        severity: Severity::Critical,
        status: AlertStatus::Open,
        dedup_key: "negative_surge:3".into(),
        title: "Négatif : 57 mentions de « SNCF retards » en une heure".into(),
        evidence: AlertEvidence {
            observed: 57.0,
            expected: 8.2,
            score: Some(0.97),
            window_start: Some(at(10, 0)),
            window_end: Some(at(11, 0)),
            terms: vec!["retard".into(), "remboursement".into()],
            urls: vec![],
            stories: vec![],
            window_stories: None,
            window_authors: None,
        },
        mention_ids: vec![101, 102, 103],
        events: 3,
        opened_at: at(10, 5),
        updated_at: at(11, 2),
        acknowledged_at: None,
        resolved_at: None,
        acknowledged_by: None,
        resolved_by: None,
    }
}

pub fn mentions() -> Vec<AlertMention> {
    vec![
        AlertMention {
            id: 101,
            url: Some("https://social.example/@jd/101".into()),
            title: None,
            text: "Encore 2h de retard sur la ligne, aucune info en gare.".into(),
            author: Some("@jd".into()),
            published_at: at(10, 12),
            sentiment: Some("negative".into()),
            reach: Some(72.0),
        },
        AlertMention {
            id: 102,
            url: Some("javascript:alert(document.cookie)".into()),
            title: Some("<img src=x onerror=alert(1)>".into()),
            text: HOSTILE.into(),
            author: None,
            published_at: at(10, 30),
            sentiment: Some("negative".into()),
            reach: None,
        },
    ]
}

pub fn notice<'a>(alert: &'a Alert, mentions: &'a [AlertMention]) -> Notice<'a> {
    Notice {
        alert,
        project: "Acme",
        watch: Some("SNCF retards"),
        mentions,
        base_url: Some("https://vigie.example.org"),
        lang: vigie_notify::Language::En,
        zone: vigie_model::zone::Tz::UTC,
        event_id: "42-3",
    }
}
