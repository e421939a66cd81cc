//! The language of what Vigie writes for people outside the web UI
//! (notifications), and an alert's title in either language.
//!
//! An alert's title is derived from its structured data — rule, watch name,
//! evidence — by [`alert_title`], so the English title stored when the
//! alert opens and the French one shown to a French reader come from one
//! function. The stored title stays English (the API and existing data keep
//! it); [`Alert::title_in`] gives the reader's.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Alert, AlertEvidence, AlertRule, Severity};

/// French or English: a notification channel's language, and the language
/// an alert title is written in. French is the default (Vigie's main
/// audience).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Fr,
    En,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::Fr, Language::En];

    /// `fr` or `en`, as stored and accepted.
    pub fn code(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }

    /// The text in this language.
    pub fn t<'a>(self, fr: &'a str, en: &'a str) -> &'a str {
        match self {
            Language::Fr => fr,
            Language::En => en,
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A language name that is not `fr` or `en`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language {given:?}: expected fr or en")]
pub struct UnknownLanguage {
    pub given: String,
}

impl FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fr" => Ok(Language::Fr),
            "en" => Ok(Language::En),
            _ => Err(UnknownLanguage { given: s.to_string() }),
        }
    }
}

/// A figure with `decimals` decimals, with a decimal comma in French.
fn figure(x: f64, decimals: usize, lang: Language) -> String {
    let s = format!("{x:.decimals$}");
    match lang {
        Language::Fr => s.replace('.', ","),
        Language::En => s,
    }
}

/// An expected count, with a decimal point: one decimal (`8.2`), two below
/// one (`0.03`: a small brand's half hour), `< 0.01` below that; never a
/// misleading `0.0`.
pub fn expected_count(x: f64) -> String {
    match x {
        x if x >= 0.95 || x <= 0.0 => format!("{x:.1}"),
        x if x >= 0.005 => format!("{x:.2}"),
        _ => "< 0.01".to_string(),
    }
}

fn expectation(x: f64, lang: Language) -> String {
    let s = expected_count(x);
    match lang {
        Language::Fr => s.replace('.', ","),
        Language::En => s,
    }
}

/// `1 h` for whole hours, else `45 min` (the span of a surge's window).
pub fn span_words(secs: i64) -> String {
    if secs % 3600 == 0 { format!("{} h", secs / 3600) } else { format!("{} min", secs / 60) }
}

/// A quoted term: `“arnaque”`, `« arnaque »`.
fn quoted(term: &str, lang: Language) -> String {
    match lang {
        Language::Fr => format!("«\u{a0}{term}\u{a0}»"),
        Language::En => format!("“{term}”"),
    }
}

/// One line saying what happened, in `lang`, from the alert's structured
/// data: its rule, its severity (a negative page entering search results is
/// critical), the name of its watch (`None`: the whole project) and its
/// evidence. In English it is the title the pipeline stores when the alert
/// opens:
///
/// - trigger term: `“arnaque” in mentions of Acme` (the first term);
/// - high-reach negative: `Negative mention of Acme with a large audience (reach 92/100)`;
/// - surges: `Surge of negative mentions about Acme: 57 in 1 h, 8.2 expected`
///   (the span is the evidence's window);
/// - search rank entry: `A negative page entered the top 10 for “acme avis” at rank 3`.
pub fn alert_title(
    rule: AlertRule,
    severity: Severity,
    watch: Option<&str>,
    evidence: &AlertEvidence,
    lang: Language,
) -> String {
    let ev = evidence;
    let term = ev.terms.first().map(String::as_str).unwrap_or_default();
    match (rule, lang) {
        (AlertRule::TriggerTerm, Language::En) => {
            format!("{} in mentions of {}", quoted(term, lang), watch.unwrap_or("the project"))
        }
        (AlertRule::TriggerTerm, Language::Fr) => {
            format!("{} dans les mentions {}", quoted(term, lang), of_watch_fr(watch))
        }
        (AlertRule::HighReachNegative, Language::En) => format!(
            "Negative mention of {} with a large audience (reach {}/100)",
            watch.unwrap_or("the project"),
            figure(ev.observed, 0, lang)
        ),
        (AlertRule::HighReachNegative, Language::Fr) => format!(
            "Mention négative à forte audience {} (portée {}/100)",
            for_watch_fr(watch),
            figure(ev.observed, 0, lang)
        ),
        (AlertRule::NegativeSurge | AlertRule::VolumeSurge, _) => {
            let span = match (ev.window_start, ev.window_end) {
                (Some(s), Some(e)) => span_words((e - s).num_seconds().max(0)),
                _ => "?".to_string(),
            };
            let (observed, expected) = (figure(ev.observed, 0, lang), expectation(ev.expected, lang));
            let negative = rule == AlertRule::NegativeSurge;
            match lang {
                Language::En => format!(
                    "Surge of {} about {}: {observed} in {span}, {expected} expected",
                    if negative { "negative mentions" } else { "mentions" },
                    watch.unwrap_or("the project"),
                ),
                Language::Fr => format!(
                    "Hausse des mentions{} {}\u{a0}: {observed} en {span}, {expected} attendues",
                    if negative { " négatives" } else { "" },
                    for_watch_fr(watch),
                ),
            }
        }
        (AlertRule::SearchRankEntry, _) => {
            let negative = severity == Severity::Critical;
            let (rank, top) = (figure(ev.observed, 0, lang), figure(ev.expected, 0, lang));
            match lang {
                Language::En => format!(
                    "{} page entered the top {top} for {} at rank {rank}",
                    if negative { "A negative" } else { "A new" },
                    quoted(term, lang)
                ),
                Language::Fr => format!(
                    "{} est entrée dans les {top} premiers résultats pour {}, au rang {rank}",
                    if negative { "Une page négative" } else { "Une nouvelle page" },
                    quoted(term, lang)
                ),
            }
        }
    }
}

/// `de la veille Acme`, `du projet`.
fn of_watch_fr(watch: Option<&str>) -> String {
    match watch {
        Some(w) => format!("de la veille {w}"),
        None => "du projet".to_string(),
    }
}

/// `pour la veille Acme`, `pour le projet`.
fn for_watch_fr(watch: Option<&str>) -> String {
    match watch {
        Some(w) => format!("pour la veille {w}"),
        None => "pour le projet".to_string(),
    }
}

impl Alert {
    /// The title in `lang`. English: the stored title, as it always was.
    /// French: made again from the rule, the evidence and `watch` (the name
    /// of the alert's watch, which the caller looks up); the stored title
    /// when the alert has a watch whose name is not known (deleted since),
    /// or a term rule whose evidence lost its term.
    ///
    /// A surge alert that grew over several events is titled with its whole
    /// window, where the stored English title speaks of the window of its
    /// largest count.
    pub fn title_in(&self, lang: Language, watch: Option<&str>) -> String {
        let watch_gone = self.watch_id.is_some() && watch.is_none() && self.rule != AlertRule::SearchRankEntry;
        let needs_term = matches!(self.rule, AlertRule::TriggerTerm | AlertRule::SearchRankEntry);
        if lang == Language::En || watch_gone || (needs_term && self.evidence.terms.is_empty()) {
            return self.title.clone();
        }
        alert_title(self.rule, self.severity, watch, &self.evidence, lang)
    }

    /// How many stories a trigger-term alert's mentions, or a surge's
    /// mentions in the window, are, when copies (a syndicated article) make
    /// them fewer than its mentions; `None` else.
    pub fn copied_stories(&self) -> Option<usize> {
        let stories = match self.rule {
            AlertRule::TriggerTerm => self.evidence.stories.len(),
            AlertRule::NegativeSurge | AlertRule::VolumeSurge => {
                usize::try_from(self.evidence.window_stories?).unwrap_or(usize::MAX)
            }
            _ => return None,
        };
        (stories > 0 && (stories as f64) < self.evidence.observed.round()).then_some(stories)
    }

    /// How many authors a surge's mentions in the window come from, when
    /// they are few for them (half as many or fewer: some posted again and
    /// again, "50 mentions from 11 authors"); `None` else.
    pub fn few_authors(&self) -> Option<usize> {
        if !matches!(self.rule, AlertRule::NegativeSurge | AlertRule::VolumeSurge) {
            return None;
        }
        let authors = usize::try_from(self.evidence.window_authors?).unwrap_or(usize::MAX);
        (authors > 0 && 2.0 * authors as f64 <= self.evidence.observed.round()).then_some(authors)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::AlertStatus;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).single().unwrap_or_default()
    }

    fn evidence(observed: f64, expected: f64) -> AlertEvidence {
        AlertEvidence { observed, expected, ..AlertEvidence::default() }
    }

    #[test]
    fn languages_parse_from_their_codes_only() {
        assert_eq!("fr".parse::<Language>(), Ok(Language::Fr));
        assert_eq!(" EN ".parse::<Language>(), Ok(Language::En));
        let err = "de".parse::<Language>().unwrap_err();
        assert_eq!(err.to_string(), "unknown language \"de\": expected fr or en");
        assert_eq!(Language::default(), Language::Fr);
        assert_eq!(serde_json::to_string(&Language::En).ok().as_deref(), Some("\"en\""));
    }

    #[test]
    fn trigger_term_titles() {
        let ev = AlertEvidence { terms: vec!["arnaque".into()], ..evidence(1.0, 0.0) };
        let t = |w, l| alert_title(AlertRule::TriggerTerm, Severity::Critical, w, &ev, l);
        assert_eq!(t(Some("Acme"), Language::En), "“arnaque” in mentions of Acme");
        assert_eq!(t(None, Language::En), "“arnaque” in mentions of the project");
        assert_eq!(t(Some("Acme"), Language::Fr), "«\u{a0}arnaque\u{a0}» dans les mentions de la veille Acme");
        assert_eq!(t(None, Language::Fr), "«\u{a0}arnaque\u{a0}» dans les mentions du projet");
    }

    #[test]
    fn high_reach_titles() {
        let ev = evidence(92.4, 70.0);
        let t = |l| alert_title(AlertRule::HighReachNegative, Severity::Critical, Some("Acme"), &ev, l);
        assert_eq!(t(Language::En), "Negative mention of Acme with a large audience (reach 92/100)");
        assert_eq!(t(Language::Fr), "Mention négative à forte audience pour la veille Acme (portée 92/100)");
    }

    #[test]
    fn surge_titles() {
        let mut ev = AlertEvidence {
            window_start: Some(at(13, 5)),
            window_end: Some(at(14, 5)),
            score: Some(0.99),
            ..evidence(57.0, 8.25)
        };
        let t = |r, ev: &AlertEvidence, l| alert_title(r, Severity::Critical, Some("Acme"), ev, l);
        assert_eq!(
            t(AlertRule::NegativeSurge, &ev, Language::En),
            "Surge of negative mentions about Acme: 57 in 1 h, 8.2 expected"
        );
        assert_eq!(
            t(AlertRule::NegativeSurge, &ev, Language::Fr),
            "Hausse des mentions négatives pour la veille Acme\u{a0}: 57 en 1 h, 8,2 attendues"
        );
        ev.window_start = Some(at(13, 20));
        assert_eq!(
            t(AlertRule::VolumeSurge, &ev, Language::En),
            "Surge of mentions about Acme: 57 in 45 min, 8.2 expected"
        );
        assert_eq!(
            t(AlertRule::VolumeSurge, &ev, Language::Fr),
            "Hausse des mentions pour la veille Acme\u{a0}: 57 en 45 min, 8,2 attendues"
        );
        // A small brand's expectation is not written "0.0".
        for (expected, en, fr) in [(0.03, "0.03", "0,03"), (0.004, "< 0.01", "< 0,01"), (0.97, "1.0", "1,0")] {
            let ev = AlertEvidence { expected, ..ev.clone() };
            assert!(t(AlertRule::VolumeSurge, &ev, Language::En).ends_with(&format!("57 in 45 min, {en} expected")));
            assert!(t(AlertRule::VolumeSurge, &ev, Language::Fr).ends_with(&format!("57 en 45 min, {fr} attendues")));
        }
    }

    #[test]
    fn search_rank_titles() {
        let ev = AlertEvidence {
            terms: vec!["acme avis".into()],
            urls: vec!["https://blog.example/acme".into()],
            ..evidence(3.0, 10.0)
        };
        let t = |s, l| alert_title(AlertRule::SearchRankEntry, s, None, &ev, l);
        assert_eq!(t(Severity::Critical, Language::En), "A negative page entered the top 10 for “acme avis” at rank 3");
        assert_eq!(t(Severity::Info, Language::En), "A new page entered the top 10 for “acme avis” at rank 3");
        assert_eq!(
            t(Severity::Critical, Language::Fr),
            "Une page négative est entrée dans les 10 premiers résultats pour «\u{a0}acme avis\u{a0}», au rang 3"
        );
        assert_eq!(
            t(Severity::Info, Language::Fr),
            "Une nouvelle page est entrée dans les 10 premiers résultats pour «\u{a0}acme avis\u{a0}», au rang 3"
        );
    }

    #[test]
    fn an_alert_is_titled_in_the_readers_language() {
        let mut alert = Alert {
            id: 1,
            project_id: 1,
            watch_id: Some(3),
            rule: AlertRule::TriggerTerm,
            severity: Severity::Warning,
            status: AlertStatus::Open,
            dedup_key: "trigger_term:3:boycott".into(),
            title: "“boycott” in mentions of Acme".into(),
            evidence: AlertEvidence { terms: vec!["boycott".into()], ..evidence(1.0, 0.0) },
            mention_ids: vec![],
            events: 1,
            opened_at: at(10, 0),
            updated_at: at(10, 0),
            acknowledged_at: None,
            resolved_at: None,
            acknowledged_by: None,
            resolved_by: None,
        };
        assert_eq!(alert.title_in(Language::En, Some("Acme")), "“boycott” in mentions of Acme");
        assert_eq!(
            alert.title_in(Language::Fr, Some("Acme")),
            "«\u{a0}boycott\u{a0}» dans les mentions de la veille Acme"
        );
        // The watch is gone: the stored title rather than a wrong place.
        assert_eq!(alert.title_in(Language::Fr, None), "“boycott” in mentions of Acme");
        alert.watch_id = None;
        assert_eq!(alert.title_in(Language::Fr, None), "«\u{a0}boycott\u{a0}» dans les mentions du projet");
        alert.evidence.terms.clear();
        assert_eq!(alert.title_in(Language::Fr, None), "“boycott” in mentions of Acme", "no term to say");

        // Copies: trigger terms count their stories, surges their window's.
        alert.evidence = AlertEvidence { stories: vec![1, 7], ..evidence(5.0, 0.0) };
        assert_eq!(alert.copied_stories(), Some(2));
        alert.evidence.stories = vec![1, 2, 3, 4, 5];
        assert_eq!(alert.copied_stories(), None, "no copies, nothing to say");
        alert.rule = AlertRule::VolumeSurge;
        alert.evidence = AlertEvidence { window_stories: Some(3), ..evidence(40.0, 4.0) };
        assert_eq!(alert.copied_stories(), Some(3));
        alert.evidence.window_stories = None;
        assert_eq!(alert.copied_stories(), None, "a window too large to read whole says nothing");
        // Authors: said when they are few for the mentions.
        alert.evidence.window_authors = Some(11);
        assert_eq!(alert.few_authors(), Some(11), "40 mentions from 11 authors");
        alert.evidence.window_authors = Some(21);
        assert_eq!(alert.few_authors(), None, "most wrote once");
        alert.rule = AlertRule::HighReachNegative;
        alert.evidence = AlertEvidence { window_stories: Some(1), ..evidence(92.0, 70.0) };
        assert_eq!(alert.copied_stories(), None, "a reach is no count of mentions");
        assert_eq!(alert.few_authors(), None);
    }
}
