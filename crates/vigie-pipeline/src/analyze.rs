//! The analyze step: what a mention says and how far it goes.
//!
//! For every mention, in the CPU half of the ingest path: the sentiment
//! verdict of the fast model (the project's retrained model when it has one),
//! its themes (keywords and the routing classifier), its near-duplicate
//! signature (stories are assigned after the insert, when ids are known) and
//! its reach. The encoder tier refines stored verdicts later (see
//! [`crate::refine`]).
//!
//! The same [`Analyzer`] serves `vigie analyze` (with the shipped models and
//! the default taxonomy), so what that command prints is what the pipeline
//! stores for a project that has not retrained its model or edited its themes.

use vigie_model::{Analysis, Contribution, Engagement, Mention, Polarity, ReachEstimate, Sentiment};
use vigie_nlp::neardup::{self, Signature};
use vigie_nlp::reach::{self, ReachSignals};
use vigie_sentiment::{FastModel, Label, LinearClassifier, Verdict};

use crate::models::FastRef;

use crate::themes::{CompiledThemes, ThemeClassifier};

/// The models and taxonomy one project analyzes with.
pub struct Analyzer {
    fast: FastRef,
    themes: CompiledThemes,
}

impl Analyzer {
    pub fn new(fast: FastRef, themes: CompiledThemes) -> Self {
        Analyzer { fast, themes }
    }

    pub fn fast_model(&self) -> &FastModel {
        &self.fast
    }

    pub fn themes(&self) -> &CompiledThemes {
        &self.themes
    }

    /// Sentiment, themes and reach of a normalized mention.
    pub fn analyze(&self, mention: &Mention, engagement: &Engagement) -> Analysis {
        let sentiment = self.sentiment(mention);
        let polarity = sentiment.as_ref().map(|s| s.label);
        Analysis {
            themes: self.themes.score(mention, polarity),
            sentiment,
            corrected: None,
            story_id: None,
            reach: Some(reach_of(mention, engagement)),
        }
    }

    /// The fast verdict, `None` for an unsupported language (see
    /// [`fast_reading`]).
    pub fn sentiment(&self, mention: &Mention) -> Option<Sentiment> {
        let text = sentiment_text(mention);
        fast_reading(&self.fast, &text, reading_language(mention)).map(|(v, _)| to_sentiment(v))
    }
}

/// The language the sentiment models read a mention in: its language when
/// it is sure, `None` (read as French and as English, see [`fast_reading`])
/// when it is unknown or a low-confidence guess of a third language — short
/// French complaints ("Service nul chez Acme", "Boycott Acme ! Scandale
/// total.") are often taken for Romanian or Afrikaans by trigram profiles.
pub fn reading_language(mention: &Mention) -> Option<&str> {
    match mention.lang.as_deref() {
        Some(l @ ("fr" | "en")) => Some(l),
        Some(_) if f64::from(mention.lang_confidence) < vigie_nlp::RELIABLE_CONFIDENCE => None,
        other => other,
    }
}

/// The fast model's verdict on a text and the language it was read as.
///
/// With a known language: that language's reading, `None` when it is not
/// French or English. A text too short for language identification ("great
/// service, thanks", "arnaque totale") is read as French and as English: a
/// polar verdict stands when the other reading agrees (the surer one) or
/// finds nothing (neutral: the words are the polar reading's language);
/// otherwise it is unknown (two "neutral" readings of a text in another
/// language are no evidence, and opposite ones contradict each other).
pub fn fast_reading(fast: &FastModel, text: &str, lang: Option<&str>) -> Option<(Verdict, &'static str)> {
    match lang {
        Some(lang) => {
            let code = ["fr", "en"].into_iter().find(|c| *c == lang)?;
            fast.predict(text, code).map(|v| (v, code))
        }
        None => {
            let en = fast.predict(text, "en")?;
            let fr = fast.predict(text, "fr")?;
            match (en.label, fr.label) {
                (Label::Neutral, Label::Neutral) => None,
                (a, b) if a == b => Some(if en.confidence >= fr.confidence { (en, "en") } else { (fr, "fr") }),
                (Label::Neutral, _) => Some((fr, "fr")),
                (_, Label::Neutral) => Some((en, "en")),
                _ => None,
            }
        }
    }
}

/// What the models read (sentiment and the routing classifier): the title,
/// then the text.
pub fn sentiment_text(mention: &Mention) -> String {
    match mention.title.as_deref() {
        Some(title) if !mention.text.starts_with(title) => format!("{title}. {}", mention.text),
        _ => mention.text.clone(),
    }
}

/// The near-duplicate signature of a mention (`None`: too little text).
pub fn signature_of(mention: &Mention) -> Option<Signature> {
    neardup::signature(mention.title.as_deref(), &mention.text)
}

/// The reach estimate from what the source gave.
pub fn reach_of(mention: &Mention, engagement: &Engagement) -> ReachEstimate {
    let signals = ReachSignals {
        // `reach` is the single audience figure older imports give.
        followers: engagement.followers.or(mention.reach.and_then(|r| u64::try_from(r).ok())),
        likes: engagement.likes,
        shares: engagement.shares,
        comments: engagement.comments,
        views: engagement.views,
        site_audience: None,
    };
    let r = reach::estimate(mention.source_kind, &signals);
    ReachEstimate { audience: r.audience, engagement: r.engagement, score: r.score, basis: r.basis.to_string() }
}

pub fn polarity_of(label: Label) -> Polarity {
    match label {
        Label::Negative => Polarity::Negative,
        Label::Neutral => Polarity::Neutral,
        Label::Positive => Polarity::Positive,
    }
}

pub fn label_of(polarity: Polarity) -> Label {
    match polarity {
        Polarity::Negative => Label::Negative,
        Polarity::Neutral => Label::Neutral,
        Polarity::Positive => Label::Positive,
    }
}

/// The model crate's verdict in the shared vocabulary, rounded for storage
/// (a tiny negative rounds to 0, not to -0, which PostgreSQL's `jsonb`
/// would store as 0 and a checksum would tell apart).
pub fn to_sentiment(v: Verdict) -> Sentiment {
    let round = |x: f32| (x * 1000.0).round() / 1000.0 + 0.0;
    Sentiment {
        label: polarity_of(v.label),
        score: round(v.score),
        confidence: round(v.confidence),
        model: v.model,
        explanation: v
            .explanation
            .into_iter()
            .map(|c| Contribution { feature: c.feature, weight: round(c.weight) })
            .collect(),
    }
}

/// The shipped routing model as a theme classifier: department probabilities
/// for the default themes, for French and English text.
pub struct RoutingClassifier {
    model: &'static LinearClassifier,
    /// Below this probability a department is not proposed.
    pub min_probability: f32,
}

impl RoutingClassifier {
    pub fn shipped() -> Self {
        RoutingClassifier { model: LinearClassifier::shipped_routing(), min_probability: 0.5 }
    }
}

impl ThemeClassifier for RoutingClassifier {
    fn classify(&self, text: &str, lang: Option<&str>) -> Vec<(String, f32)> {
        // Trained on English complaints only: silent on other languages
        // (the keywords still speak for them).
        if lang != Some("en") {
            return Vec::new();
        }
        self.model
            .predict(text, "en")
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, p)| *p >= self.min_probability)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use vigie_model::RawMention;
    use vigie_nlp::{NormalizeLimits, normalize};

    use super::*;

    fn mention(text: &str) -> Mention {
        let raw = RawMention { text: text.into(), plain_text: true, ..RawMention::default() };
        normalize(raw, Utc::now(), &NormalizeLimits::default()).unwrap()
    }

    fn verdict(text: &str) -> Option<Label> {
        let m = mention(text);
        fast_reading(FastModel::shipped(), &sentiment_text(&m), reading_language(&m)).map(|(v, _)| v.label)
    }

    #[test]
    fn short_french_complaints_get_a_verdict_whatever_the_trigram_guess() {
        for text in [
            "Service nul chez Acme",
            "Arnaque totale",
            "Scandale chez Acme, boycott !",
            "Boycott Acme ! Scandale total.",
            "Colis perdu, merci Acme",
        ] {
            let m = mention(text);
            assert!(
                reading_language(&m).is_none_or(|l| l == "fr"),
                "{text}: read as {:?} ({:?} at {})",
                reading_language(&m),
                m.lang,
                m.lang_confidence
            );
            assert_eq!(verdict(text), Some(Label::Negative), "{text} ({:?} at {})", m.lang, m.lang_confidence);
        }
    }

    #[test]
    fn a_sure_third_language_stays_unsupported() {
        let text =
            "El servicio de atención al cliente de Acme es muy malo y nunca contestan a los correos que les envío";
        let m = mention(text);
        assert_eq!(m.lang.as_deref(), Some("es"));
        assert_eq!(reading_language(&m), Some("es"));
        assert_eq!(verdict(text), None);
    }
}
