//! What a notification says, in four forms: an e-mail subject, plain text,
//! HTML and Slack/Mattermost mrkdwn.
//!
//! One [`View`] is built from the notice — every untrusted string cleaned
//! (control and bidi characters out, whitespace collapsed, length bounded),
//! every URL kept only if it is `http(s)` — and each form escapes it for
//! itself: HTML escapes `& < > " '` everywhere, text and attributes alike;
//! mrkdwn escapes `& < >` (so no `<!channel>` or `<url|label>` can be
//! smuggled in), breaks `@` mentions and Markdown links and images that
//! Mattermost would render, and builds its own links with a URL that cannot
//! close them.
//!
//! Every fixed word is in the channel's [`Language`] (French or English):
//! labels, the rule's meaning, figures (`8,2` in French), durations, the
//! alert's status and its title ([`Alert::title_in`](vigie_model::Alert::title_in),
//! made again from the alert's data). Only words change: cleaning, bounds
//! and escaping are the same in both languages.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use url::Url;
use vigie_model::zone::{self, Tz};
use vigie_model::{AlertRule, AlertStatus, Language, Severity};

use crate::{AlertMention, Notice};

/// Most mentions a notification shows.
pub const MAX_MENTIONS: usize = 5;
/// Longest excerpt of a mention's text, in characters.
pub const MAX_EXCERPT_CHARS: usize = 280;
const MAX_TITLE_CHARS: usize = 200;
const MAX_SUBJECT_TITLE_CHARS: usize = 120;
const MAX_NAME_CHARS: usize = 100;
const MAX_TERMS: usize = 12;
const MAX_TERM_CHARS: usize = 60;
const MAX_PAGES: usize = 5;
const MAX_URL_CHARS: usize = 2048;

/// A notification in every form it is sent in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line, no control characters: safe as an e-mail `Subject`.
    pub subject: String,
    pub text: String,
    /// A whole HTML document; nothing from a mention is markup.
    pub html: String,
    /// Slack/Mattermost mrkdwn for a webhook's `text` field.
    pub slack_text: String,
}

/// Where to see something in Vigie: a web page, or the command that shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Link {
    Web(String),
    Cli(String),
}

impl Link {
    pub(crate) fn web(&self) -> Option<&str> {
        match self {
            Link::Web(url) => Some(url),
            Link::Cli(_) => None,
        }
    }
}

/// A mention as shown: cleaned, bounded, its link kept only if http(s).
#[derive(Debug, Clone)]
pub(crate) struct MentionView {
    pub id: i64,
    pub url: Option<String>,
    pub title: Option<String>,
    pub excerpt: String,
    pub author: Option<String>,
    pub published_at: DateTime<Utc>,
    pub sentiment: Option<String>,
    pub reach: Option<f64>,
    pub vigie: Link,
}

/// The notice, cleaned once for every form.
pub(crate) struct View {
    pub lang: Language,
    /// The zone times are written in.
    pub zone: Tz,
    pub alert_id: i64,
    pub severity: Severity,
    pub rule: AlertRule,
    pub title: String,
    pub project: String,
    pub watch: Option<String>,
    /// "57 negative mentions"
    pub observed: String,
    /// "about 8.2 (6.9× expected)"
    pub expected: String,
    pub score: Option<String>,
    pub window: String,
    pub terms: Vec<String>,
    /// Evidence pages (http(s) only), and how many others were left out.
    pub pages: Vec<String>,
    pub pages_hidden: usize,
    pub mentions: Vec<MentionView>,
    /// How many mentions drove the alert in all.
    pub mentions_total: usize,
    pub events: i64,
    pub status: &'static str,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub vigie: Link,
    pub event_id: String,
}

/// Renders a notice: subject, plain text, HTML and mrkdwn, all saying which
/// rule fired and how urgent it is, observed against expected, the window,
/// the terms, the top mentions (at most [`MAX_MENTIONS`], each cut to
/// [`MAX_EXCERPT_CHARS`]) and links to them. Pure: no clock, no IO.
pub fn render(notice: &Notice<'_>) -> Rendered {
    let view = View::new(notice);
    Rendered { subject: subject(&view), text: text(&view), html: html(&view), slack_text: slack(&view) }
}

impl View {
    pub(crate) fn new(notice: &Notice<'_>) -> View {
        let alert = notice.alert;
        let ev = &alert.evidence;
        let base = notice.base_url.and_then(http_url).map(|u| u.trim_end_matches('/').to_string());
        let link = |kind: &str, id: i64| match &base {
            // The web app's pages live under their project: /p/{project}/alerts/{id}.
            Some(base) => Link::Web(format!("{base}/p/{}/{kind}s/{id}", notice.alert.project_id)),
            None => Link::Cli(format!("vigie {kind} show {id}")),
        };
        let lang = notice.lang;
        let (mut observed, expected) = observed_expected(alert.rule, ev.observed, ev.expected, lang);
        // Copies of one story (a syndicated article) are counted as mentions,
        // and said to be fewer stories.
        if let Some(stories) = alert.copied_stories() {
            let n = number(stories as f64, lang);
            observed.push_str(&match (lang, stories) {
                (Language::En, 1) => ", copies of one story".to_string(),
                (Language::En, _) => format!(", copies of {n} stories"),
                (Language::Fr, 1) => ", copies d’une seule histoire".to_string(),
                (Language::Fr, _) => format!(", copies de {n} histoires"),
            });
        }
        // Mentions from few authors (some posted again and again).
        if let Some(authors) = alert.few_authors() {
            let n = number(authors as f64, lang);
            observed.push_str(&match (lang, authors) {
                (Language::En, 1) => " (all by one author)".to_string(),
                (Language::En, _) => format!(" (by {n} authors)"),
                (Language::Fr, 1) => " (toutes d’un seul auteur)".to_string(),
                (Language::Fr, _) => format!(" ({n} auteurs)"),
            });
        }
        let http_pages: Vec<String> = ev.urls.iter().filter_map(|u| http_url(u)).collect();
        let pages_hidden = ev.urls.len() - http_pages.len().min(MAX_PAGES);
        let mentions: Vec<MentionView> =
            notice.mentions.iter().take(MAX_MENTIONS).map(|m| mention_view(m, link("mention", m.id))).collect();
        View {
            lang,
            zone: notice.zone,
            alert_id: alert.id,
            severity: alert.severity,
            rule: alert.rule,
            title: clean(&alert.title_in(lang, notice.watch), MAX_TITLE_CHARS),
            project: clean(notice.project, MAX_NAME_CHARS),
            watch: notice.watch.map(|w| clean(w, MAX_NAME_CHARS)).filter(|w| !w.is_empty()),
            observed,
            expected,
            score: ev.score.filter(|s| s.is_finite()).map(|s| decimal(format!("{s:.2}"), lang)),
            window: window(ev.window_start, ev.window_end, lang, notice.zone),
            terms: ev
                .terms
                .iter()
                .map(|t| clean(t, MAX_TERM_CHARS))
                .filter(|t| !t.is_empty())
                .take(MAX_TERMS)
                .collect(),
            pages: http_pages.into_iter().take(MAX_PAGES).collect(),
            pages_hidden,
            // The alert keeps the first mentions only (`mention_ids` is
            // capped); a count rule's observed figure is how many there are.
            mentions_total: alert.mention_ids.len().max(notice.mentions.len()).max(counted_mentions(alert)),
            mentions,
            events: alert.events,
            status: status_word(alert.status, lang),
            opened_at: alert.opened_at,
            updated_at: alert.updated_at,
            vigie: link("alert", alert.id),
            event_id: safe_event_id(notice.event_id),
        }
    }

    fn place(&self) -> String {
        match &self.watch {
            Some(watch) => format!("{} / {watch}", self.project),
            None => self.project.clone(),
        }
    }
}

fn mention_view(m: &AlertMention, vigie: Link) -> MentionView {
    MentionView {
        id: m.id,
        url: m.url.as_deref().and_then(http_url),
        title: m.title.as_deref().map(|t| clean(t, MAX_TITLE_CHARS)).filter(|t| !t.is_empty()),
        excerpt: clean(&m.text, MAX_EXCERPT_CHARS),
        author: m.author.as_deref().map(|a| clean(a, MAX_NAME_CHARS)).filter(|a| !a.is_empty()),
        published_at: m.published_at,
        sentiment: m.sentiment.as_deref().map(|s| clean(s, 20)).filter(|s| !s.is_empty()),
        reach: m.reach.filter(|r| r.is_finite()),
        vigie,
    }
}

/// The rule in words: a label and what it means.
fn rule_words(rule: AlertRule, lang: Language) -> (&'static str, &'static str) {
    let t = |fr, en| lang.t(fr, en);
    match rule {
        AlertRule::NegativeSurge => (
            t("Hausse des mentions négatives", "Negative surge"),
            t(
                "des mentions négatives bien au-dessus de leur niveau attendu",
                "negative mentions far above their expected level",
            ),
        ),
        AlertRule::VolumeSurge => (
            t("Hausse du volume", "Volume surge"),
            t("des mentions bien au-dessus de leur niveau attendu", "mentions far above their expected level"),
        ),
        AlertRule::HighReachNegative => (
            t("Mention négative à forte portée", "High-reach negative mention"),
            t("une mention négative à large audience", "a negative mention with a large audience"),
        ),
        AlertRule::TriggerTerm => (
            t("Terme déclencheur", "Trigger term"),
            t(
                "un terme déclencheur (boycott, arnaque, rappel…) dans une mention",
                "a trigger term (boycott, scam, recall…) in a mention",
            ),
        ),
        AlertRule::SearchRankEntry => (
            t("Nouveau résultat de recherche", "New search result"),
            t(
                "une nouvelle page en tête des résultats d'une veille de recherche",
                "a new page in the top results of a search watch",
            ),
        ),
    }
}

/// The severity as a word of the language (`critique`, `critical`).
fn severity_word(severity: Severity, lang: Language) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => lang.t("avertissement", "warning"),
        Severity::Critical => lang.t("critique", "critical"),
    }
}

/// The alert's status as a word of the language (an alert is feminine in French).
fn status_word(status: AlertStatus, lang: Language) -> &'static str {
    match status {
        AlertStatus::Open => lang.t("ouverte", "open"),
        AlertStatus::Acknowledged => lang.t("prise en compte", "acknowledged"),
        AlertStatus::Resolved => lang.t("résolue", "resolved"),
    }
}

/// A mention's sentiment as a word of the language; an unknown one as it is.
fn sentiment_word(sentiment: &str, lang: Language) -> String {
    match (sentiment, lang) {
        ("negative", Language::Fr) => "négatif".to_string(),
        ("neutral", Language::Fr) => "neutre".to_string(),
        ("positive", Language::Fr) => "positif".to_string(),
        (other, _) => other.to_string(),
    }
}

/// "57 negative mentions" and "about 8.2 (6.9× expected)", by rule.
/// How many mentions a rule that counts them (surges, trigger terms) saw.
fn counted_mentions(alert: &vigie_model::Alert) -> usize {
    match alert.rule {
        AlertRule::VolumeSurge | AlertRule::NegativeSurge | AlertRule::TriggerTerm => {
            let observed = alert.evidence.observed;
            if observed.is_finite() && observed > 0.0 { observed.round() as usize } else { 0 }
        }
        _ => 0,
    }
}

fn observed_expected(rule: AlertRule, observed: f64, expected: f64, lang: Language) -> (String, String) {
    let (o, e) = (number(observed, lang), number(expected, lang));
    let ratio = if expected > 0.0 && expected.is_finite() && observed.is_finite() {
        let r = decimal(format!("{:.1}", observed / expected), lang);
        match lang {
            Language::Fr => format!(" ({r}× l’attendu)"),
            Language::En => format!(" ({r}× expected)"),
        }
    } else {
        String::new()
    };
    // English plurals: "1 mention", "2 mentions".
    let s = if observed == 1.0 { "" } else { "s" };
    match (rule, lang) {
        (AlertRule::NegativeSurge, Language::En) => (format!("{o} negative mention{s}"), format!("about {e}{ratio}")),
        (AlertRule::NegativeSurge, Language::Fr) => (format!("{o} mentions négatives"), format!("environ {e}{ratio}")),
        (AlertRule::VolumeSurge, Language::En) => (format!("{o} mention{s}"), format!("about {e}{ratio}")),
        (AlertRule::VolumeSurge, Language::Fr) => (format!("{o} mentions"), format!("environ {e}{ratio}")),
        (AlertRule::HighReachNegative, Language::En) => (format!("reach {o}"), format!("threshold {e}")),
        (AlertRule::HighReachNegative, Language::Fr) => (format!("portée {o}"), format!("seuil {e}")),
        (AlertRule::TriggerTerm, Language::En) => {
            (format!("{o} mention{s} with a trigger term"), format!("threshold {e}"))
        }
        (AlertRule::TriggerTerm, Language::Fr) => {
            (format!("{o} mention(s) avec un terme déclencheur"), format!("seuil {e}"))
        }
        (AlertRule::SearchRankEntry, Language::En) => (format!("{o} new page{s} in the top results"), e),
        (AlertRule::SearchRankEntry, Language::Fr) => (format!("{o} nouvelle(s) page(s) en tête des résultats"), e),
    }
}

/// A decimal figure with a comma in French (`8,2`).
fn decimal(s: String, lang: Language) -> String {
    match lang {
        Language::Fr => s.replace('.', ","),
        Language::En => s,
    }
}

/// A figure as people read it: whole numbers without decimals.
fn number(x: f64, lang: Language) -> String {
    if !x.is_finite() {
        lang.t("n.d.", "n/a").to_string()
    } else if (x.fract() == 0.0 && x.abs() < 1e15) || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        decimal(format!("{x:.1}"), lang)
    } else {
        decimal(format!("{x:.2}"), lang)
    }
}

/// `2026-03-01 10:00 → 11:00 CET (1 h)` in `zone`: dates are written the
/// same way in both languages, the words around them are not.
fn window(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>, lang: Language, zone: Tz) -> String {
    match (start, end) {
        (Some(s), Some(e)) => {
            let (ls, le) = (s.with_timezone(&zone), e.with_timezone(&zone));
            let end = if ls.date_naive() == le.date_naive() { le.format("%H:%M") } else { le.format(FULL) };
            // A window across a change of the clocks names both offsets.
            let start_zone = ls.format("%Z").to_string();
            let end_zone = le.format("%Z").to_string();
            let start = if start_zone == end_zone { ls.format(FULL).to_string() } else { local(s, zone) };
            format!("{start} → {end} {end_zone} ({})", duration_words(e - s, lang))
        }
        (Some(s), None) => format!("{} {}", lang.t("depuis le", "since"), local(s, zone)),
        (None, Some(e)) => format!("{} {}", lang.t("jusqu’au", "until"), local(e, zone)),
        (None, None) => lang.t("non enregistrée", "not recorded").to_string(),
    }
}

const FULL: &str = "%Y-%m-%d %H:%M";

/// `45 min`, `1 h`, `1.5 h`, `2 days` (`2 jours`, `1,5 jour`).
fn duration_words(d: chrono::TimeDelta, lang: Language) -> String {
    let minutes = d.num_minutes().max(0);
    if minutes < 60 || (minutes % 60 != 0 && minutes < 180) {
        format!("{minutes} min")
    } else if minutes < 48 * 60 {
        let h = minutes as f64 / 60.0;
        if minutes % 60 == 0 { format!("{h:.0} h") } else { decimal(format!("{h:.1} h"), lang) }
    } else {
        let days = minutes as f64 / 1440.0;
        let figure = decimal(format!("{days:.1}"), lang).replace(".0", "").replace(",0", "");
        format!("{figure} {}", lang.t("jours", "days"))
    }
}

/// `2026-03-01 11:00 CET`: the time in `zone`, which it names.
fn local(t: DateTime<Utc>, zone: Tz) -> String {
    zone::format_in(zone, t, FULL)
}

/// One line of untrusted text: control, zero-width and bidi characters
/// dropped or made spaces, whitespace collapsed, cut to `max` characters
/// (with `…`).
pub(crate) fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut count = 0;
    let mut space = false;
    for c in s.chars() {
        let c = if c.is_control() || c.is_whitespace() { ' ' } else { c };
        if is_invisible(c) {
            continue;
        }
        if c == ' ' {
            space = !out.is_empty();
            continue;
        }
        if count >= max {
            out.push('…');
            return out;
        }
        if space {
            if count + 1 >= max {
                out.push('…');
                return out;
            }
            out.push(' ');
            count += 1;
            space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// Zero-width and bidirectional formatting characters (a reversed display
/// can make text or a link read as something else).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The URL, serialized (percent-encoded), if it is an absolute http(s) URL
/// with a host and not absurdly long; `None` otherwise (`javascript:`,
/// `data:`, relative…): such a URL is never shown.
pub(crate) fn http_url(s: &str) -> Option<String> {
    let s = s.trim();
    if s.len() > MAX_URL_CHARS {
        return None;
    }
    let url = Url::parse(s).ok()?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return None;
    }
    let out = url.to_string();
    (out.len() <= MAX_URL_CHARS && !out.chars().any(|c| c.is_whitespace() || c.is_control())).then_some(out)
}

/// The event id as sent in headers and ids: ASCII letters, digits, `_` and
/// `-` (anything else becomes `-`: it must fit a Message-ID), at most 128
/// characters.
pub(crate) fn safe_event_id(s: &str) -> String {
    let id: String = s
        .trim()
        .chars()
        .take(128)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-') { c } else { '-' })
        .collect();
    if id.is_empty() { "unknown".to_string() } else { id }
}

fn subject(v: &View) -> String {
    let (label, _) = rule_words(v.rule, v.lang);
    let title = clean(&v.title, MAX_SUBJECT_TITLE_CHARS);
    let title = if title.is_empty() { label.to_string() } else { title };
    let colon = v.lang.t("\u{a0}:", ":");
    clean(&format!("[Vigie {}] {}{colon} {title}", severity_word(v.severity, v.lang), v.place()), 250)
}

fn mention_meta(m: &MentionView, lang: Language, zone: Tz) -> String {
    let mut meta = Vec::new();
    if let Some(s) = &m.sentiment {
        meta.push(sentiment_word(s, lang));
    }
    if let Some(r) = m.reach {
        meta.push(format!("{} {}", lang.t("portée", "reach"), number(r, lang)));
    }
    if let Some(a) = &m.author {
        meta.push(format!("{} {a}", lang.t("par", "by")));
    }
    meta.push(local(m.published_at, zone));
    meta.join(" · ")
}

fn shown_of(v: &View) -> String {
    if v.mentions_total > v.mentions.len() {
        match v.lang {
            Language::Fr if v.mentions.len() == 1 => format!("la première sur {}", v.mentions_total),
            Language::Fr => format!("les {} premières sur {}", v.mentions.len(), v.mentions_total),
            Language::En => format!("top {} of {}", v.mentions.len(), v.mentions_total),
        }
    } else {
        format!("{}", v.mentions.len())
    }
}

/// The fixed words of a notification, in its language.
struct Words {
    lang: Language,
}

impl Words {
    fn t(&self, fr: &'static str, en: &'static str) -> &'static str {
        self.lang.t(fr, en)
    }

    /// A field label with its colon: `Project:`, `Projet :`.
    fn label(&self, fr: &str, en: &str) -> String {
        match self.lang {
            Language::Fr => format!("{fr}\u{a0}:"),
            Language::En => format!("{en}:"),
        }
    }

    /// `open · 3 event(s) · opened … · updated …`
    fn status_line(&self, v: &View) -> String {
        let (events, opened, updated) = match self.lang {
            Language::Fr => ("événement(s)", "ouverte le", "mise à jour le"),
            Language::En => ("event(s)", "opened", "updated"),
        };
        format!(
            "{} · {} {events} · {opened} {} · {updated} {}",
            v.status,
            v.events,
            local(v.opened_at, v.zone),
            local(v.updated_at, v.zone)
        )
    }

    /// `(2 more not shown)`
    fn more_pages(&self, n: usize) -> String {
        match self.lang {
            Language::Fr if n > 1 => format!("({n} autres non affichées)"),
            Language::Fr => format!("({n} autre non affichée)"),
            Language::En => format!("({n} more not shown)"),
        }
    }

    fn mention_title(&self, m: &MentionView) -> String {
        m.title.clone().unwrap_or_else(|| format!("Mention #{}", m.id))
    }

    fn open_alert(&self, id: i64) -> String {
        match self.lang {
            Language::Fr => format!("Ouvrir l’alerte #{id} dans Vigie"),
            Language::En => format!("Open alert #{id} in Vigie"),
        }
    }

    fn sent_by(&self) -> &'static str {
        self.t("Envoyé par Vigie · événement", "Sent by Vigie · event")
    }

    fn anomaly(&self) -> &'static str {
        self.t("(anomalie, de 0 à 1)", "(anomaly, 0 to 1)")
    }
}

// ---- plain text ----

fn text(v: &View) -> String {
    let w = Words { lang: v.lang };
    let (label, meaning) = rule_words(v.rule, v.lang);
    // Labels padded to one column: `Project:  Acme`.
    let field = |fr: &str, en: &str| format!("{:<10}", w.label(fr, en));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} #{} — {} — {label}",
        w.t("Alerte Vigie", "Vigie alert"),
        v.alert_id,
        severity_word(v.severity, v.lang).to_uppercase()
    );
    let _ = writeln!(s, "{}", v.title);
    let _ = writeln!(s);
    let _ = writeln!(s, "{}{}", field("Projet", "Project"), v.project);
    if let Some(watch) = &v.watch {
        let _ = writeln!(s, "{}{watch}", field("Veille", "Watch"));
    }
    let _ = writeln!(s, "{}{label} ({meaning})", field("Règle", "Rule"));
    let _ = writeln!(s, "{}{}", field("Observé", "Observed"), v.observed);
    let _ = writeln!(s, "{}{}", field("Attendu", "Expected"), v.expected);
    if let Some(score) = &v.score {
        let _ = writeln!(s, "{}{score} {}", field("Score", "Score"), w.anomaly());
    }
    let _ = writeln!(s, "{}{}", field("Fenêtre", "Window"), v.window);
    if !v.terms.is_empty() {
        let _ = writeln!(s, "{}{}", field("Termes", "Terms"), v.terms.join(", "));
    }
    let _ = writeln!(s, "{}{}", field("Statut", "Status"), w.status_line(v));
    if !v.pages.is_empty() || v.pages_hidden > 0 {
        let _ = writeln!(s, "\n{}", w.label("Pages", "Pages"));
        for p in &v.pages {
            let _ = writeln!(s, "  {p}");
        }
        if v.pages_hidden > 0 {
            let _ = writeln!(s, "  {}", w.more_pages(v.pages_hidden));
        }
    }
    if !v.mentions.is_empty() {
        let heading = match v.lang {
            Language::Fr => format!("Mentions à l’origine de l’alerte ({})\u{a0}:", shown_of(v)),
            Language::En => format!("Mentions that drove it ({}):", shown_of(v)),
        };
        let _ = writeln!(s, "\n{heading}");
        for (i, m) in v.mentions.iter().enumerate() {
            let _ = writeln!(s, "\n{}. {}", i + 1, w.mention_title(m));
            let _ = writeln!(s, "   {}", mention_meta(m, v.lang, v.zone));
            let _ = writeln!(s, "   \"{}\"", m.excerpt);
            if let Some(url) = &m.url {
                let _ = writeln!(s, "   {url}");
            }
            let (Link::Web(place) | Link::Cli(place)) = &m.vigie;
            let _ = writeln!(s, "   {} {place}", w.label("Dans Vigie", "In Vigie"));
        }
    }
    let _ = writeln!(s);
    let (Link::Web(place) | Link::Cli(place)) = &v.vigie;
    let _ = writeln!(s, "{} {place}", w.label("Voir l’alerte", "See the alert"));
    let _ = writeln!(s, "-- \n{} {}", w.sent_by(), v.event_id);
    s
}

// ---- HTML ----

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A link; `url` must come from [`http_url`] (or the checked base URL).
fn html_link(url: &str, label: &str) -> String {
    format!("<a href=\"{}\" rel=\"noopener noreferrer\">{}</a>", html_escape(url), html_escape(label))
}

fn html(v: &View) -> String {
    let w = Words { lang: v.lang };
    let (label, meaning) = rule_words(v.rule, v.lang);
    let e = html_escape;
    let color = match v.severity {
        Severity::Critical => "#b00020",
        Severity::Warning => "#b26a00",
        Severity::Info => "#1a5fb4",
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family:sans-serif;line-height:1.4;color:#222\">\n",
        v.lang.code(),
        e(&subject(v))
    );
    let _ = writeln!(
        s,
        "<p style=\"margin:0;color:{color};font-weight:bold\">{} · {} · {} #{}</p>",
        e(&severity_word(v.severity, v.lang).to_uppercase()),
        e(label),
        w.t("alerte", "alert"),
        v.alert_id
    );
    let _ = writeln!(s, "<h2 style=\"margin:.2em 0\">{}</h2>", e(&v.title));
    let _ = writeln!(s, "<table cellpadding=\"3\" style=\"border-collapse:collapse\">");
    let mut row = |k: &str, val: String| {
        let _ = writeln!(s, "<tr><th align=\"left\" valign=\"top\">{}</th><td>{val}</td></tr>", e(k));
    };
    row(w.t("Projet", "Project"), e(&v.project));
    if let Some(watch) = &v.watch {
        row(w.t("Veille", "Watch"), e(watch));
    }
    row(w.t("Règle", "Rule"), format!("{} ({})", e(label), e(meaning)));
    row(w.t("Observé", "Observed"), format!("<b>{}</b>", e(&v.observed)));
    row(w.t("Attendu", "Expected"), e(&v.expected));
    if let Some(score) = &v.score {
        row("Score", format!("{} {}", e(score), e(w.anomaly())));
    }
    row(w.t("Fenêtre", "Window"), e(&v.window));
    if !v.terms.is_empty() {
        let terms: Vec<String> = v.terms.iter().map(|t| format!("<code>{}</code>", e(t))).collect();
        row(w.t("Termes", "Terms"), terms.join(", "));
    }
    row(w.t("Statut", "Status"), e(&w.status_line(v)));
    let _ = writeln!(s, "</table>");
    if !v.pages.is_empty() || v.pages_hidden > 0 {
        let _ = writeln!(s, "<h3>Pages</h3>\n<ul>");
        for p in &v.pages {
            let _ = writeln!(s, "<li>{}</li>", html_link(p, p));
        }
        if v.pages_hidden > 0 {
            let _ = writeln!(s, "<li>{}</li>", e(&w.more_pages(v.pages_hidden)));
        }
        let _ = writeln!(s, "</ul>");
    }
    if !v.mentions.is_empty() {
        let heading = w.t("Mentions à l’origine de l’alerte", "Mentions that drove it");
        let _ = writeln!(s, "<h3>{heading} ({})</h3>\n<ol>", e(&shown_of(v)));
        for m in &v.mentions {
            let title = w.mention_title(m);
            let title = match &m.url {
                Some(url) => html_link(url, &title),
                None => e(&title),
            };
            let vigie = match &m.vigie {
                Link::Web(url) => html_link(url, w.t("dans Vigie", "in Vigie")),
                Link::Cli(cmd) => format!("<code>{}</code>", e(cmd)),
            };
            let _ = writeln!(
                s,
                "<li><p style=\"margin:.6em 0 0\"><b>{title}</b><br><small>{} · {vigie}</small></p>\n\
                 <blockquote style=\"margin:.3em 0 .3em 1em;color:#444\">{}</blockquote></li>",
                e(&mention_meta(m, v.lang, v.zone)),
                e(&m.excerpt)
            );
        }
        let _ = writeln!(s, "</ol>");
    }
    let see = match &v.vigie {
        Link::Web(url) => html_link(url, &w.open_alert(v.alert_id)),
        Link::Cli(cmd) => format!("{} <code>{}</code>", e(&w.label("Voir l’alerte", "See the alert")), e(cmd)),
    };
    let _ = writeln!(s, "<p>{see}</p>");
    let _ = writeln!(s, "<p style=\"color:#888;font-size:small\">{} {}</p>", e(w.sent_by()), e(&v.event_id));
    s.push_str("</body></html>\n");
    s
}

// ---- Slack / Mattermost mrkdwn ----

/// Escapes text for Slack/Mattermost: `& < >` as entities (Slack's rule:
/// nothing can open a `<…>` control sequence), `@` followed by a zero-width
/// space (no `@channel` / `@here` ping in Mattermost, which reads them in
/// plain text), and `![` / `](` broken the same way (no Markdown image or
/// link from a mention in Mattermost).
pub(crate) fn slack_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut prev = '\0';
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => out.push_str("@\u{200B}"),
            '[' if prev == '!' => out.push_str("\u{200B}["),
            '(' if prev == ']' => out.push_str("\u{200B}("),
            c => out.push(c),
        }
        prev = c;
    }
    out
}

/// `<url|label>`; `url` must come from [`http_url`]. A `|` or `>` in it
/// (which would end the URL early) is percent-encoded.
fn slack_link(url: &str, label: &str) -> String {
    let url = url.replace('|', "%7C").replace('>', "%3E").replace('<', "%3C");
    // `|` or `>` in a label would cut it short: they are escaped or replaced.
    let label = slack_escape(label).replace('|', "¦");
    format!("<{url}|{label}>")
}

fn slack(v: &View) -> String {
    let w = Words { lang: v.lang };
    let (label, _) = rule_words(v.rule, v.lang);
    let e = slack_escape;
    let mut s = String::new();
    let icon = match v.severity {
        Severity::Critical => ":rotating_light:",
        Severity::Warning => ":warning:",
        Severity::Info => ":information_source:",
    };
    let severity = severity_word(v.severity, v.lang).to_uppercase();
    let _ = writeln!(s, "{icon} *{severity} · {label}* — {}", e(&v.place()));
    let _ = writeln!(s, "*{}*", e(&v.title));
    let mut line = format!(
        "{} *{}* · {} {}",
        w.label("Observé", "Observed"),
        e(&v.observed),
        w.t("attendu", "expected"),
        e(&v.expected)
    );
    if let Some(score) = &v.score {
        let _ = write!(line, " · score {score}");
    }
    let _ = writeln!(s, "{line}");
    let _ = writeln!(s, "{} {}", w.label("Fenêtre", "Window"), e(&v.window));
    if !v.terms.is_empty() {
        let terms: Vec<String> = v.terms.iter().map(|t| e(t)).collect();
        let _ = writeln!(s, "{} {}", w.label("Termes", "Terms"), terms.join(", "));
    }
    let events = w.t("événement(s)", "event(s)");
    let _ = writeln!(s, "{} {} · {} {events}", w.label("Statut", "Status"), v.status, v.events);
    for p in &v.pages {
        let _ = writeln!(s, "• {}", slack_link(p, p));
    }
    if !v.mentions.is_empty() {
        let heading = format!("Mentions ({})", e(&shown_of(v)));
        let _ = writeln!(s, "{}", w.label(&heading, &heading));
        for m in &v.mentions {
            let title = w.mention_title(m);
            let title = match &m.url {
                Some(url) => slack_link(url, &title),
                None => e(&title),
            };
            let vigie = match &m.vigie {
                Link::Web(url) => slack_link(url, w.t("dans Vigie", "in Vigie")),
                Link::Cli(cmd) => format!("`{cmd}`"),
            };
            let _ = writeln!(s, "• {title} ({}) {vigie}\n> {}", e(&mention_meta(m, v.lang, v.zone)), e(&m.excerpt));
        }
    }
    match &v.vigie {
        Link::Web(url) => {
            let _ = write!(s, "{}", slack_link(url, &w.open_alert(v.alert_id)));
        }
        Link::Cli(cmd) => {
            let _ = write!(s, "{} `{cmd}`", w.label("Voir l’alerte", "See the alert"));
        }
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::TimeZone;
    use vigie_model::{Alert, AlertEvidence, AlertStatus};

    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, m, 0).unwrap()
    }

    fn alert() -> Alert {
        Alert {
            id: 42,
            project_id: 1,
            watch_id: Some(3),
            rule: AlertRule::NegativeSurge,
            severity: Severity::Critical,
            status: AlertStatus::Open,
            dedup_key: "negative_surge:3".into(),
            title: "Negative mentions of SNCF retards up sevenfold".into(),
            evidence: AlertEvidence {
                observed: 57.0,
                expected: 8.2,
                score: Some(0.973),
                window_start: Some(at(10, 0)),
                window_end: Some(at(11, 0)),
                terms: vec!["retard".into(), "remboursement".into()],
                urls: vec![],
                stories: vec![],
                window_stories: None,
                window_authors: None,
            },
            mention_ids: (1..=12).collect(),
            events: 3,
            opened_at: at(10, 5),
            updated_at: at(11, 2),
            acknowledged_at: None,
            resolved_at: None,
            acknowledged_by: None,
            resolved_by: None,
        }
    }

    fn mention(id: i64, text: &str, url: Option<&str>) -> AlertMention {
        AlertMention {
            id,
            url: url.map(str::to_string),
            title: Some(format!("Post {id}")),
            text: text.to_string(),
            author: Some("@jdupont".into()),
            published_at: at(10, 12),
            sentiment: Some("negative".into()),
            reach: Some(72.4),
        }
    }

    fn notice<'a>(alert: &'a Alert, mentions: &'a [AlertMention], base: Option<&'a str>) -> Notice<'a> {
        Notice {
            alert,
            project: "Acme",
            watch: Some("SNCF retards"),
            mentions,
            base_url: base,
            lang: Language::En,
            zone: Tz::UTC,
            event_id: "42-3",
        }
    }

    fn french<'a>(alert: &'a Alert, mentions: &'a [AlertMention], base: Option<&'a str>) -> Notice<'a> {
        Notice { lang: Language::Fr, ..notice(alert, mentions, base) }
    }

    #[test]
    fn explains_rule_observed_expected_window_and_terms_in_every_form() {
        let a = alert();
        let ms = [mention(1, "Encore 2h de retard", Some("https://x.example/p/1"))];
        let r = render(&notice(&a, &ms, None));
        for (form, body) in [("text", &r.text), ("html", &r.html), ("slack", &r.slack_text)] {
            assert!(body.contains("57 negative mentions"), "{form}: {body}");
            assert!(body.contains("about 8.2 (7.0× expected)"), "{form}: {body}");
            assert!(body.contains("2026-03-01 10:00 → 11:00 UTC (1 h)"), "{form}: {body}");
            assert!(body.contains("retard") && body.contains("remboursement"), "{form}");
            assert!(body.contains("Negative surge"), "{form}");
            assert!(body.contains("Encore 2h de retard"), "{form}");
            assert!(body.contains("vigie alert show 42"), "{form}: without a base URL, the command");
            assert!(body.contains("vigie mention show 1"), "{form}");
        }
        assert!(r.text.contains("CRITICAL"));
        assert!(r.text.contains("Score:    0.97"));
        assert!(r.text.contains("top 1 of 57"), "the surge counted 57 mentions (the alert keeps the first 12)");
        assert_eq!(r.subject, "[Vigie critical] Acme / SNCF retards: Negative mentions of SNCF retards up sevenfold");
    }

    #[test]
    fn links_go_to_the_web_ui_when_a_base_url_is_set() {
        let a = alert();
        let ms = [mention(7, "t", Some("https://x.example/p/7?a=1&b=2"))];
        let r = render(&notice(&a, &ms, Some("https://vigie.example.org/")));
        assert!(r.text.contains("See the alert: https://vigie.example.org/p/1/alerts/42"));
        assert!(r.text.contains("https://vigie.example.org/p/1/mentions/7"));
        assert!(r.html.contains("<a href=\"https://vigie.example.org/p/1/alerts/42\""));
        assert!(r.html.contains("<a href=\"https://x.example/p/7?a=1&amp;b=2\""), "{}", r.html);
        assert!(r.slack_text.contains("<https://vigie.example.org/p/1/alerts/42|Open alert #42 in Vigie>"));
        assert!(r.slack_text.contains("<https://x.example/p/7?a=1&b=2|Post 7>"), "{}", r.slack_text);
        assert!(!r.text.contains("vigie alert show"));
        // A base URL that is not http(s) is not used.
        let r = render(&notice(&a, &ms, Some("javascript:alert(1)")));
        assert!(r.text.contains("vigie alert show 42"));
    }

    #[test]
    fn only_http_urls_become_links() {
        let a = alert();
        let ms = [
            mention(1, "a", Some("javascript:alert(document.cookie)")),
            mention(2, "b", Some("data:text/html,<script>alert(1)</script>")),
            mention(3, "c", Some("  JavaScript:alert(1)")),
            mention(4, "d", Some("/relative/path")),
            mention(5, "e", Some("http://ok.example/\"onmouseover=\"x")),
        ];
        let r = render(&notice(&a, &ms, None));
        for body in [&r.text, &r.html, &r.slack_text] {
            assert!(!body.to_lowercase().contains("javascript:"), "{body}");
            assert!(!body.contains("data:text"), "{body}");
            assert!(!body.contains("/relative/path"), "{body}");
        }
        assert_eq!(r.html.matches("<a ").count(), 1, "{}", r.html);
        assert!(r.html.contains("href=\"http://ok.example/%22onmouseover=%22x\""), "{}", r.html);
    }

    #[test]
    fn hostile_mention_text_stays_text() {
        let mut a = alert();
        a.title = "Alert <b>bold</b>\r\nBcc: victim@example.com".into();
        a.evidence.terms = vec!["<script>x</script>".into(), "@channel".into()];
        let hostile = "<script>alert('x')</script> \"quoted\" & <!channel> @here ![img](https://t.example/p.png) \
                       [click](https://evil.example) \u{202E}txet desrever";
        let mut m = mention(1, hostile, None);
        m.title = Some("<img src=x onerror=alert(1)>".into());
        m.author = Some("<@U123>".into());
        let ms = [m];
        // The French title is made from the watch's name: a hostile one is cleaned and escaped as well.
        let watch = "SNCF <b>bold</b>\r\nBcc: victim@example.com @here";
        for lang in Language::ALL {
            let r = render(&Notice { watch: Some(watch), lang, ..notice(&a, &ms, None) });
            assert!(!r.html.contains("<script"), "{lang}: {}", r.html);
            assert!(!r.html.contains("<img"), "{lang}: {}", r.html);
            assert!(!r.html.contains("<b>bold"), "{lang}: {}", r.html);
            assert!(r.html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &quot;quoted&quot; &amp;"));
            assert!(!r.slack_text.contains("<!channel>") && r.slack_text.contains("&lt;!channel&gt;"));
            assert!(!r.slack_text.contains("<@U123>"));
            assert!(!r.slack_text.contains("@here"), "{lang}: an @here would ping in Mattermost");
            assert!(!r.slack_text.contains("@channel"), "{lang}: {}", r.slack_text);
            assert!(!r.slack_text.contains("![img]") && !r.slack_text.contains("](https://evil"));
            assert!(!r.slack_text.contains("<script>") && !r.slack_text.contains("<b>"), "{lang}: {}", r.slack_text);
            assert!(!r.text.contains('\u{202E}') && !r.html.contains('\u{202E}'));
            assert!(!r.subject.contains('\n') && !r.subject.contains('\r'), "{lang}: {:?}", r.subject);
            assert!(r.subject.contains("Bcc: victim"), "{lang}: kept as text on one line: {:?}", r.subject);
            assert!(!r.text.contains("\r\nBcc") && !r.text.contains("\nBcc"), "{lang}: {}", r.text);
        }
    }

    #[test]
    fn every_rule_speaks_french_to_a_french_channel() {
        let ms = [mention(1, "Encore 2h de retard", Some("https://x.example/p/1"))];
        let mut a = alert();
        let r = render(&french(&a, &ms, Some("https://vigie.example.org")));
        assert_eq!(
            r.subject,
            "[Vigie critique] Acme / SNCF retards : Hausse des mentions négatives pour la veille SNCF retards : \
             57 en 1 h, 8,2 attendues"
        );
        for (form, body) in [("text", &r.text), ("html", &r.html), ("slack", &r.slack_text)] {
            assert!(body.contains("57 mentions négatives"), "{form}: {body}");
            assert!(body.contains("environ 8,2 (7,0× l’attendu)"), "{form}: {body}");
            assert!(body.contains("2026-03-01 10:00 → 11:00 UTC (1 h)"), "{form}: {body}");
            assert!(body.contains("Hausse des mentions négatives"), "{form}");
            assert!(body.contains("ouverte · 3 événement(s)"), "{form}: {body}");
            assert!(body.contains("négatif · portée 72,4 · par @\u{200B}jdupont") || form != "slack", "{form}: {body}");
            assert!(body.contains("négatif · portée 72,4 · par @"), "{form}: {body}");
            assert!(body.contains("Ouvrir l’alerte #42 dans Vigie") || form == "text", "{form}: {body}");
            for english in
                ["Observed", "Expected", "Window", "Status", "expected", "event(s)", "reach", "Mentions that"]
            {
                assert!(!body.contains(english), "{form}: {english:?} in {body}");
            }
        }
        assert!(r.text.starts_with("Alerte Vigie #42 — CRITIQUE — Hausse des mentions négatives\n"), "{}", r.text);
        assert!(r.text.contains("Projet\u{a0}:  Acme\n"), "{}", r.text);
        assert!(r.text.contains("Observé\u{a0}: 57 mentions négatives\n"), "{}", r.text);
        assert!(r.text.contains("Score\u{a0}:   0,97 (anomalie, de 0 à 1)"), "{}", r.text);
        assert!(r.text.contains("Mentions à l’origine de l’alerte (la première sur 57)\u{a0}:"), "{}", r.text);
        assert!(r.text.contains("Voir l’alerte\u{a0}: https://vigie.example.org/p/1/alerts/42"), "{}", r.text);
        assert!(r.text.contains("Envoyé par Vigie · événement 42-3"), "{}", r.text);
        assert!(
            r.html.contains("<html lang=\"fr\">") && r.html.contains("<th align=\"left\" valign=\"top\">Fenêtre</th>")
        );
        assert!(
            r.slack_text
                .starts_with(":rotating_light: *CRITIQUE · Hausse des mentions négatives* — Acme / SNCF retards\n")
        );
        assert!(
            r.slack_text.contains("Observé\u{a0}: *57 mentions négatives* · attendu environ 8,2"),
            "{}",
            r.slack_text
        );

        a.rule = AlertRule::VolumeSurge;
        a.severity = Severity::Warning;
        a.status = AlertStatus::Acknowledged;
        a.evidence.window_end = Some(Utc.with_ymd_and_hms(2026, 3, 3, 10, 0, 0).unwrap());
        let r = render(&french(&a, &[], None));
        assert!(
            r.subject.starts_with("[Vigie avertissement] Acme / SNCF retards : Hausse des mentions pour la veille")
        );
        assert!(r.text.contains("Hausse du volume (des mentions bien au-dessus de leur niveau attendu)"), "{}", r.text);
        assert!(r.text.contains("(2 jours)") && r.text.contains("prise en compte ·"), "{}", r.text);
        assert!(r.text.contains("Voir l’alerte\u{a0}: vigie alert show 42"), "{}", r.text);

        a.rule = AlertRule::HighReachNegative;
        a.severity = Severity::Critical;
        a.status = AlertStatus::Resolved;
        (a.evidence.observed, a.evidence.expected) = (92.0, 70.0);
        (a.evidence.window_start, a.evidence.window_end) = (None, None);
        let r = render(&french(&a, &[], None));
        assert!(r.subject.ends_with("Mention négative à forte audience pour la veille SNCF retards (portée 92/100)"));
        assert!(r.text.contains("Observé\u{a0}: portée 92\nAttendu\u{a0}: seuil 70\n"), "{}", r.text);
        assert!(r.text.contains("Fenêtre\u{a0}: non enregistrée") && r.text.contains("résolue ·"), "{}", r.text);

        a.rule = AlertRule::TriggerTerm;
        a.evidence = AlertEvidence { observed: 1.0, terms: vec!["arnaque".into()], ..AlertEvidence::default() };
        let r = render(&french(&a, &[], None));
        assert!(r.subject.ends_with("« arnaque » dans les mentions de la veille SNCF retards"), "{}", r.subject);
        assert!(r.text.contains("1 mention(s) avec un terme déclencheur"), "{}", r.text);
        assert!(r.text.contains("Termes\u{a0}:  arnaque"), "{}", r.text);
        // Copies of one article: mentions, and how few stories they are.
        (a.evidence.observed, a.evidence.stories) = (4.0, vec![7]);
        let r = render(&french(&a, &[], None));
        assert!(r.text.contains("4 mention(s) avec un terme déclencheur, copies d’une seule histoire"), "{}", r.text);
        (a.evidence.observed, a.evidence.stories) = (5.0, vec![7, 9]);
        let r = render(&Notice { lang: Language::En, ..french(&a, &[], None) });
        assert!(r.text.contains("5 mentions with a trigger term, copies of 2 stories"), "{}", r.text);
        // A surge that a few authors posting again and again made.
        a.rule = AlertRule::VolumeSurge;
        a.evidence = AlertEvidence { observed: 50.0, expected: 2.0, window_authors: Some(11), ..a.evidence.clone() };
        a.evidence.stories.clear();
        let r = render(&Notice { lang: Language::En, ..french(&a, &[], None) });
        assert!(r.text.contains(" (by 11 authors)"), "{}", r.text);
        let r = render(&french(&a, &[], None));
        assert!(r.text.contains(" (11 auteurs)"), "{}", r.text);

        a.rule = AlertRule::SearchRankEntry;
        a.severity = Severity::Info;
        a.watch_id = None;
        a.evidence = AlertEvidence {
            observed: 3.0,
            expected: 10.0,
            terms: vec!["acme avis".into()],
            urls: vec!["https://news.example/a".into(), "javascript:x".into(), "data:y".into()],
            ..AlertEvidence::default()
        };
        let r = render(&Notice { watch: None, ..french(&a, &[], None) });
        assert_eq!(
            r.subject,
            "[Vigie info] Acme : Une nouvelle page est entrée dans les 10 premiers résultats pour « acme avis », au rang 3"
        );
        assert!(r.text.contains("3 nouvelle(s) page(s) en tête des résultats"), "{}", r.text);
        assert!(r.text.contains("(2 autres non affichées)") && r.html.contains("(2 autres non affichées)"));
    }

    #[test]
    fn an_english_channel_gets_the_stored_title() {
        let a = alert();
        let r = render(&notice(&a, &[], None));
        assert!(r.subject.ends_with(": Negative mentions of SNCF retards up sevenfold"), "{}", r.subject);
        assert!(r.html.contains("<html lang=\"en\">"));
        // A French channel whose alert's watch is gone: the stored title rather than none.
        let r = render(&Notice { watch: None, ..french(&a, &[], None) });
        assert!(r.subject.ends_with(" : Negative mentions of SNCF retards up sevenfold"), "{}", r.subject);
    }

    #[test]
    fn mentions_are_bounded_in_number_and_length() {
        let a = alert();
        let long = "mot ".repeat(500);
        let ms: Vec<AlertMention> = (1..=9).map(|i| mention(i, &long, None)).collect();
        let r = render(&notice(&a, &ms, None));
        assert!(r.text.contains("vigie mention show 5"));
        assert!(!r.text.contains("vigie mention show 6"));
        let view = View::new(&notice(&a, &ms, None));
        assert_eq!(view.mentions.len(), MAX_MENTIONS);
        for m in &view.mentions {
            assert!(m.excerpt.chars().count() <= MAX_EXCERPT_CHARS + 1, "{}", m.excerpt.chars().count());
            assert!(m.excerpt.ends_with('…'));
        }
        assert!(r.text.contains("top 5 of 57"));
    }

    #[test]
    fn each_rule_says_what_it_compares() {
        let mut a = alert();
        a.rule = AlertRule::HighReachNegative;
        a.evidence.observed = 87.0;
        a.evidence.expected = 70.0;
        a.evidence.window_start = None;
        a.evidence.window_end = None;
        let r = render(&notice(&a, &[], None));
        assert!(r.text.contains("Observed: reach 87"), "{}", r.text);
        assert!(r.text.contains("Expected: threshold 70"), "{}", r.text);
        assert!(r.text.contains("Window:   not recorded"));

        a.rule = AlertRule::SearchRankEntry;
        a.evidence.urls =
            vec!["https://news.example/a".into(), "javascript:alert(1)".into(), "https://news.example/b".into()];
        let r = render(&notice(&a, &[], None));
        assert!(r.text.contains("https://news.example/a") && r.text.contains("https://news.example/b"));
        assert!(r.text.contains("(1 more not shown)"), "{}", r.text);
        assert!(!r.html.contains("javascript"));
    }

    #[test]
    fn figures_windows_and_cleaning() {
        let (en, fr) = (Language::En, Language::Fr);
        assert_eq!(number(57.0, en), "57");
        assert_eq!(number(8.25, en), "8.2");
        assert_eq!(number(0.354, en), "0.35");
        assert_eq!(number(1234.5, en), "1234");
        assert_eq!(number(f64::NAN, en), "n/a");
        assert_eq!(
            (number(8.25, fr), number(0.354, fr), number(f64::NAN, fr)),
            ("8,2".into(), "0,35".into(), "n.d.".into())
        );
        assert_eq!(window(Some(at(10, 0)), Some(at(16, 0)), en, Tz::UTC), "2026-03-01 10:00 → 16:00 UTC (6 h)");
        assert_eq!(window(Some(at(10, 0)), Some(at(16, 0)), fr, Tz::UTC), "2026-03-01 10:00 → 16:00 UTC (6 h)");
        assert_eq!(window(Some(at(10, 0)), Some(at(10, 45)), fr, Tz::UTC), "2026-03-01 10:00 → 10:45 UTC (45 min)");
        assert_eq!(window(Some(at(10, 0)), Some(at(11, 30)), fr, Tz::UTC), "2026-03-01 10:00 → 11:30 UTC (90 min)");
        assert_eq!(window(Some(at(10, 0)), Some(at(14, 30)), fr, Tz::UTC), "2026-03-01 10:00 → 14:30 UTC (4,5 h)");
        let next_day = Utc.with_ymd_and_hms(2026, 3, 3, 10, 0, 0).unwrap();
        assert_eq!(
            window(Some(at(10, 0)), Some(next_day), en, Tz::UTC),
            "2026-03-01 10:00 → 2026-03-03 10:00 UTC (2 days)"
        );
        assert_eq!(
            window(Some(at(10, 0)), Some(next_day), fr, Tz::UTC),
            "2026-03-01 10:00 → 2026-03-03 10:00 UTC (2 jours)"
        );
        let later = Utc.with_ymd_and_hms(2026, 3, 11, 22, 0, 0).unwrap();
        assert_eq!(
            window(Some(at(10, 0)), Some(later), fr, Tz::UTC),
            "2026-03-01 10:00 → 2026-03-11 22:00 UTC (10,5 jours)"
        );
        assert_eq!(window(Some(at(10, 0)), None, fr, Tz::UTC), "depuis le 2026-03-01 10:00 UTC");
        assert_eq!(window(None, None, fr, Tz::UTC), "non enregistrée");
        // In the installation's zone, which the text names; a window across
        // a change of the clocks names both offsets (29 March 2026, Paris).
        let paris = zone::parse_zone("Europe/Paris").unwrap();
        assert_eq!(window(Some(at(10, 0)), Some(at(16, 0)), fr, paris), "2026-03-01 11:00 → 17:00 CET (6 h)");
        let (before, after) = (
            Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap(),
        );
        assert_eq!(window(Some(before), Some(after), en, paris), "2026-03-29 01:30 CET → 03:30 CEST (1 h)");
        assert_eq!(clean("  a\r\n\tb  \u{200B}c\u{202E}d ", 10), "a b cd");
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(safe_event_id("42-3"), "42-3");
        assert_eq!(safe_event_id("a.b:c_d"), "a-b-c_d");
        assert_eq!(safe_event_id("42\r\nBcc: x"), "42--Bcc--x");
        assert_eq!(safe_event_id(""), "unknown");
    }
}
