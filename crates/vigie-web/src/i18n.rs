//! French and English interface. Each text is written in both languages
//! where it is used (`lang.t("Mentions", "Mentions")`), so a page's strings
//! stay next to its markup and no text can lack its translation. French is
//! the default when nothing says otherwise.

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use vigie_model::zone::{self, Tz};

tokio::task_local! {
    /// The zone times are written in while a page, a report or an e-mail
    /// is rendered: the installation's (`WebConfig::zone`), set for every
    /// request by the router's layer and by background work around what it
    /// renders ([`in_zone`]). Outside of one: UTC.
    static ZONE: Tz;
}

/// Runs `work` with its times written in `zone`.
pub async fn in_zone<F: std::future::Future>(zone: Tz, work: F) -> F::Output {
    ZONE.scope(zone, work).await
}

/// The zone times are written in now (see [`in_zone`]).
pub fn current_zone() -> Tz {
    ZONE.try_with(|z| *z).unwrap_or(Tz::UTC)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl From<Lang> for vigie_model::Language {
    /// The reader's language as notifications and alert titles know it.
    fn from(lang: Lang) -> Self {
        match lang {
            Lang::Fr => vigie_model::Language::Fr,
            Lang::En => vigie_model::Language::En,
        }
    }
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fr" | "fr-fr" | "french" | "français" => Some(Lang::Fr),
            "en" | "en-gb" | "en-us" | "english" | "anglais" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The language charts write their own words in.
    pub fn chart(self) -> vigie_chart::Lang {
        match self {
            Lang::Fr => vigie_chart::Lang::Fr,
            Lang::En => vigie_chart::Lang::En,
        }
    }

    /// The first of French or English in `Accept-Language`, else English:
    /// for API clients with a token (scripts, other tools), whose messages
    /// are English unless they ask otherwise.
    pub fn from_accept_for_api(headers: &HeaderMap) -> Lang {
        let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if accept.trim().is_empty() { Lang::En } else { Lang::from_accept(headers) }
    }

    /// The first of French or English in the browser's `Accept-Language`.
    pub fn from_accept(headers: &HeaderMap) -> Lang {
        let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        for part in accept.split(',') {
            let tag = part.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if tag.starts_with("fr") {
                return Lang::Fr;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::Fr
    }

    /// The text in this language.
    pub fn t(self, fr: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }

    /// A date and time as people of this language write it, in the zone
    /// of the installation ([`current_zone`]), which it names: `24/11/2026
    /// 09:05 CET`.
    pub fn datetime(self, t: DateTime<Utc>) -> String {
        zone::format_in(current_zone(), t, self.datetime_format())
    }

    /// The local date of `t` (see [`Lang::datetime`]).
    pub fn date(self, t: DateTime<Utc>) -> String {
        zone::format_local(current_zone(), t, self.date_format())
    }

    pub fn datetime_format(self) -> &'static str {
        match self {
            Lang::Fr => "%d/%m/%Y %H:%M",
            Lang::En => "%Y-%m-%d %H:%M",
        }
    }

    pub fn date_format(self) -> &'static str {
        match self {
            Lang::Fr => "%d/%m/%Y",
            Lang::En => "%Y-%m-%d",
        }
    }

    /// A duration in the largest sensible unit, rounded to the nearest of
    /// its smallest part: `3 h 20 min`, `2 j`, `45 s` (155 s is `3 min`).
    pub fn duration(self, secs: i64) -> String {
        let s = secs.max(0);
        let day = self.t("j", "d");
        if s < 60 {
            return format!("{s} s");
        }
        let minutes = (s + 30) / 60;
        if minutes < 60 {
            return format!("{minutes} min");
        }
        if minutes < 24 * 60 {
            let (h, m) = (minutes / 60, minutes % 60);
            return if m == 0 { format!("{h} h") } else { format!("{h} h {m:02} min") };
        }
        let hours = (s + 1_800) / 3_600;
        let (d, h) = (hours / 24, hours % 24);
        if h == 0 { format!("{d} {day}") } else { format!("{d} {day} {h} h") }
    }

    /// A whole number with the language's thousands separator.
    pub fn number(self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let sep = self.t("\u{202f}", ",");
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push_str(sep);
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    }

    /// A percentage with one decimal.
    /// A number written with a point, as the reader writes it (a comma in French).
    /// A source kind as the reader names it (`review` is « avis »); the
    /// API and exports keep the stored name.
    pub fn source_kind(self, kind: vigie_model::SourceKind) -> &'static str {
        use vigie_model::SourceKind as K;
        match (self, kind) {
            (Lang::Fr, K::News) => "presse",
            (Lang::Fr, K::Review) => "avis",
            (Lang::Fr, K::Rss) => "flux RSS",
            (Lang::Fr, K::Other) => "autre",
            (_, K::Twitter) => "X (Twitter)",
            (_, K::Linkedin) => "LinkedIn",
            (_, K::Tiktok) => "TikTok",
            (_, K::Youtube) => "YouTube",
            (_, K::Hackernews) => "Hacker News",
            (_, K::Facebook) => "Facebook",
            (_, K::Instagram) => "Instagram",
            (_, K::Mastodon) => "Mastodon",
            (_, K::Bluesky) => "Bluesky",
            (_, K::Reddit) => "Reddit",
            (Lang::En, K::Rss) => "RSS feed",
            (_, other) => other.as_str(),
        }
    }

    /// The reader's name of a stored source kind name (`"review"`), or the
    /// name itself if it is none.
    pub fn source_kind_name(self, name: &str) -> String {
        name.parse::<vigie_model::SourceKind>().map_or_else(|_| name.to_string(), |k| self.source_kind(k).to_string())
    }

    /// A label the models write in English (an explanation's feature, a
    /// theme's clue, a reach basis), as the reader reads it; the words taken
    /// from the mention stay as they are. The API keeps the model's label.
    pub fn model_label(self, label: &str) -> String {
        if self == Lang::En {
            return label.to_string();
        }
        if let Some(words) = label.strip_prefix("lexicon: ") {
            return format!("lexique\u{a0}: {words}");
        }
        if let Some(kind) = label.strip_prefix("default for ") {
            return format!("valeur par défaut ({})", self.source_kind_name(kind));
        }
        match label {
            "negation" => "négation",
            "ALL CAPS" => "TOUT EN MAJUSCULES",
            "CAPS words" => "mots en majuscules",
            "elongation" => "lettres répétées",
            "sentence encoder" => "encodeur de phrases",
            "everything else" => "tout le reste",
            "classifier" => "classifieur",
            "views" => "vues",
            "followers" => "abonnés",
            "site audience" => "audience du site",
            "engagement" => "interactions",
            other => other,
        }
        .to_string()
    }

    pub fn decimal(self, formatted: &str) -> String {
        match self {
            Lang::Fr => formatted.replace('.', ","),
            Lang::En => formatted.to_string(),
        }
    }

    pub fn percent(self, ratio: f64) -> String {
        let v = if ratio.is_finite() { ratio * 100.0 } else { 0.0 };
        match self {
            Lang::Fr => format!("{v:.1}\u{a0}%").replace('.', ","),
            Lang::En => format!("{v:.1} %"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_the_language() {
        assert_eq!(Lang::Fr.number(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(Lang::En.number(-1_234), "-1,234");
        assert_eq!(Lang::En.number(12), "12");
        assert_eq!(Lang::Fr.percent(0.125), "12,5\u{a0}%");
        assert_eq!(Lang::En.duration(3_600 * 3 + 20 * 60), "3 h 20 min");
        assert_eq!(Lang::Fr.duration(2 * 86_400), "2 j");
        assert_eq!(Lang::En.duration(45), "45 s");
        // Rounded, not cut: 155 s is nearer 3 min than 2.
        assert_eq!(Lang::En.duration(155), "3 min");
        assert_eq!(Lang::En.duration(74), "1 min");
        assert_eq!(Lang::En.duration(3_599), "1 h");
        assert_eq!(Lang::En.duration(86_399), "1 d");
        assert_eq!(Lang::Fr.duration(2 * 86_400 + 3 * 3_600 + 1_799), "2 j 3 h");
        assert_eq!(Lang::Fr.decimal("-0.43"), "-0,43");
        // Outside of a zone's scope, times say they are UTC.
        let t = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 24, 8, 5, 0).unwrap();
        assert_eq!(Lang::Fr.datetime(t), "24/11/2026 08:05 UTC");
        assert_eq!(Lang::En.datetime(t), "2026-11-24 08:05 UTC");
    }

    #[tokio::test]
    async fn times_are_written_in_the_installation_zone_which_they_name() {
        let t = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 24, 23, 5, 0).unwrap();
        let paris = zone::parse_zone("Europe/Paris").unwrap();
        let (datetime, date) = in_zone(paris, async { (Lang::Fr.datetime(t), Lang::Fr.date(t)) }).await;
        // Already the 25th in Paris.
        assert_eq!(datetime, "25/11/2026 00:05 CET");
        assert_eq!(date, "25/11/2026");
        let montreal = zone::parse_zone("America/Montreal").unwrap();
        assert_eq!(in_zone(montreal, async { Lang::En.datetime(t) }).await, "2026-11-24 18:05 EST");
        // The scope ends with its work.
        assert_eq!(Lang::En.datetime(t), "2026-11-24 23:05 UTC");
    }

    #[test]
    fn accept_language_picks_the_first_known() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            "de-DE,en;q=0.8,fr;q=0.5".parse().unwrap_or(header::HeaderValue::from_static("")),
        );
        assert_eq!(Lang::from_accept(&h), Lang::En);
        assert_eq!(Lang::from_accept(&HeaderMap::new()), Lang::Fr);
    }

    #[test]
    fn source_kinds_are_named_the_readers_way() {
        use vigie_model::SourceKind;
        assert_eq!(Lang::Fr.source_kind(SourceKind::Review), "avis");
        assert_eq!(Lang::En.source_kind(SourceKind::Review), "review");
        assert_eq!(Lang::Fr.source_kind(SourceKind::Other), "autre");
        assert_eq!(Lang::Fr.source_kind(SourceKind::Forum), "forum");
        assert_eq!(Lang::Fr.source_kind_name("news"), "presse");
        assert_eq!(Lang::Fr.source_kind_name("not-a-kind"), "not-a-kind");
        assert_eq!(Lang::Fr.model_label("lexicon: not happy"), "lexique\u{a0}: not happy");
        assert_eq!(Lang::Fr.model_label("default for review"), "valeur par défaut (avis)");
        assert_eq!(Lang::Fr.model_label("classifier"), "classifieur");
        assert_eq!(Lang::Fr.model_label("pas terrible"), "pas terrible", "the author's words stay");
        assert_eq!(Lang::En.model_label("lexicon: not happy"), "lexicon: not happy");
        for kind in SourceKind::ALL {
            assert!(!Lang::Fr.source_kind(kind).is_empty() && !Lang::En.source_kind(kind).is_empty());
        }
    }
}
