//! French and English interface. Each text is written in both languages
//! where it is used (`lang.t("Mentions", "Mentions")`), so a page's strings
//! stay next to its markup and no text can lack its translation. French is
//! the default when nothing says otherwise.

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};

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

    /// A date and time as people of this language write it (UTC).
    /// A time as the reader writes it, said to be UTC (what Vigie stores and
    /// shows: a reader in Paris adds one or two hours).
    pub fn datetime(self, t: DateTime<Utc>) -> String {
        match self {
            Lang::Fr => t.format("%d/%m/%Y %H:%M UTC").to_string(),
            Lang::En => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }

    pub fn date(self, t: DateTime<Utc>) -> String {
        match self {
            Lang::Fr => t.format("%d/%m/%Y").to_string(),
            Lang::En => t.format("%Y-%m-%d").to_string(),
        }
    }

    /// A duration in the largest sensible unit: `3 h 20 min`, `2 j`, `45 s`.
    pub fn duration(self, secs: i64) -> String {
        let s = secs.max(0);
        let day = self.t("j", "d");
        match s {
            0..=59 => format!("{s} s"),
            60..=3_599 => format!("{} min", s / 60),
            3_600..=86_399 => {
                let m = (s % 3_600) / 60;
                if m == 0 { format!("{} h", s / 3_600) } else { format!("{} h {m:02} min", s / 3_600) }
            }
            _ => {
                let h = (s % 86_400) / 3_600;
                if h == 0 { format!("{} {day}", s / 86_400) } else { format!("{} {day} {h} h", s / 86_400) }
            }
        }
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
        assert_eq!(Lang::Fr.decimal("-0.43"), "-0,43");
        // Times say they are UTC (a reader in Paris adds an hour or two).
        let t = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 24, 8, 5, 0).unwrap();
        assert_eq!(Lang::Fr.datetime(t), "24/11/2026 08:05 UTC");
        assert_eq!(Lang::En.datetime(t), "2026-11-24 08:05 UTC");
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
}
