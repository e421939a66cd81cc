//! Themes: what a mention is about, and the department that answers it.
//!
//! A project's taxonomy is a list of [`Theme`]s, each defined by keywords in
//! the query language (so users write them like watches and `vigie theme
//! test` shows what they catch). New projects start from [`default_themes`],
//! one theme per department a company usually has; the project then edits its
//! own copy.
//!
//! Where labelled data exists, a learned classifier adds to the keywords: the
//! shipped routing model (trained on the airline complaints' reasons, see the
//! sentiment crate's model card) scores the default themes whose key is one of
//! its classes. It was trained on complaints, so it only speaks for mentions
//! that are not positive. A theme's score combines both sources of evidence as
//! independent ones: `1 − (1 − keywords)(1 − classifier)`.

use vigie_model::{Mention, Polarity, Theme, ThemeScore};
use vigie_query::{Query, WatchSet};
use vigie_store::NewTheme;

use crate::analyze::sentiment_text;
use crate::ingest::document;

/// Score of a theme found by one keyword; each further distinct keyword adds
/// [`KEYWORD_STEP`], up to [`KEYWORD_MAX`].
pub const KEYWORD_SCORE: f32 = 0.8;
pub const KEYWORD_STEP: f32 = 0.05;
pub const KEYWORD_MAX: f32 = 0.95;
/// Themes scoring below this are not attached to the mention.
pub const MIN_THEME_SCORE: f32 = 0.5;

/// The default taxonomy: `(key, name, department, query)`. Keywords are French
/// and English; accents and case are ignored by the query language, `*` is a
/// prefix.
pub const DEFAULT_THEMES: &[(&str, &str, &str, &str)] = &[
    (
        "customer_service",
        "Customer service",
        "Customer service",
        r#""service client" OR "service clients" OR "customer service" OR "customer care" OR "relation client" OR sav
           OR "no answer" OR "no response" OR "on hold" OR "hold music" OR "call center" OR "call centre" OR hotline
           OR "still waiting" OR "never called back" OR "hung up" OR "pas de réponse" OR "aucune réponse" OR "sans réponse"
           OR "personne ne répond" OR "injoignable" OR "joindre" OR "conseiller" OR "conseillère" OR "réclamation"
           OR "reclamation" OR "complaint" OR "rappeler" OR "call back" OR "callback" OR "helpline""#,
    ),
    (
        "delivery_logistics",
        "Delivery and logistics",
        "Logistics and operations",
        r#"livraison OR livré OR livrée OR livreur OR colis OR "pas reçu" OR "jamais reçu" OR "toujours pas reçu"
           OR expédition OR expédié OR retard OR retardé OR "en retard" OR annulé OR annulée OR annulation
           OR delivery OR delivered OR parcel OR package OR shipping OR shipment OR shipped OR tracking OR "never arrived"
           OR "not arrived" OR delay OR delayed OR late OR cancelled OR canceled OR cancellation OR "missed connection"
           OR luggage OR baggage OR bag OR bags OR suitcase OR bagage OR bagages OR valise OR queue OR "long line"
           OR "long lines" OR "file d'attente" OR stuck OR stranded OR rebook OR rebooked"#,
    ),
    (
        "product_quality",
        "Product quality",
        "Product",
        r#"défectueux OR défectueuse OR cassé OR cassée OR "en panne" OR panne OR "ne marche pas" OR "ne fonctionne pas"
           OR qualité OR abîmé OR abimé OR périmé OR "mauvaise qualité" OR défaut
           OR broken OR defective OR faulty OR "doesn't work" OR "does not work" OR "stopped working" OR quality
           OR damaged OR "poor quality" OR malfunction OR dirty OR uncomfortable OR "seat" OR seats OR legroom
           OR wifi OR "wi-fi" OR entertainment OR food OR meal OR snacks"#,
    ),
    (
        "price_billing",
        "Price and billing",
        "Billing",
        r#"prix OR tarif OR tarifs OR facture OR facturé OR facturation OR remboursement OR rembourser OR remboursé
           OR "trop cher" OR cher OR prélèvement OR prélevé OR frais OR arnaque
           OR price OR prices OR pricing OR refund OR refunded OR reimburse* OR bill OR billing OR billed OR invoice
           OR charged OR fee OR fees OR overcharged OR expensive OR "rip off" OR ripoff OR voucher OR refund*"#,
    ),
    (
        "website_app",
        "Website and app",
        "Digital",
        r#""site web" OR "site internet" OR appli OR application OR "mon compte" OR connexion OR "mot de passe" OR bug OR bugs
           OR bogue OR "page d'erreur" OR "en ligne" OR réservation OR réserver
           OR website OR "web site" OR app OR login OR "log in" OR password OR account OR online OR crash OR crashed
           OR crashes OR "error message" OR booking OR checkin OR "check-in" OR "check in"
           OR reservation OR "boarding pass""#,
    ),
    (
        "staff_hr",
        "Staff and HR",
        "Human resources",
        r#"personnel OR employé OR employée OR employés OR salarié OR salariés OR vendeur OR vendeuse OR hôtesse
           OR steward OR équipage OR grève OR licenciement OR harcèlement OR "conditions de travail" OR impoli OR malpoli
           OR staff OR employee OR employees OR crew OR "flight attendant" OR "flight attendants" OR attendant OR pilot
           OR pilots OR rude OR unprofessional OR strike OR layoff OR layoffs OR harassment OR "gate agent""#,
    ),
    (
        "legal",
        "Legal",
        "Legal",
        r#"avocat OR plainte OR procès OR tribunal OR justice OR "mise en demeure" OR rgpd OR "données personnelles"
           OR illégal OR "porter plainte" OR "class action" OR "action de groupe" OR lawsuit OR sue OR suing OR lawyer
           OR attorney OR illegal OR gdpr OR "data breach" OR "fuite de données" OR fraud OR fraude OR "dgccrf""#,
    ),
    (
        "environment_csr",
        "Environment and CSR",
        "CSR",
        r#"environnement OR écologie OR écologique OR pollution OR climat OR "huile de palme" OR déforestation
           OR greenwashing OR plastique OR emballage OR rse OR "bilan carbone" OR carbone OR "éthique"
           OR environment OR environmental OR sustainability OR sustainable OR "palm oil" OR deforestation OR climate
           OR emissions OR plastic OR packaging OR csr OR ethical OR boycott"#,
    ),
    (
        "safety",
        "Safety",
        "Quality and safety",
        r#"danger OR dangereux OR dangereuse OR sécurité OR accident OR blessé OR blessure OR intoxication
           OR "rappel produit" OR "rappel de produit" OR incendie OR explosion OR allergie OR toxique
           OR dangerous OR unsafe OR safety OR injury OR injured OR "food poisoning" OR recall OR "caught fire" OR explosion
           OR allergic OR toxic OR hazard OR "emergency landing" OR turbulence"#,
    ),
];

/// French names of the default themes, by key.
const FRENCH_NAMES: &[(&str, &str)] = &[
    ("customer_service", "Service client"),
    ("delivery_logistics", "Livraison et logistique"),
    ("product_quality", "Qualité des produits"),
    ("price_billing", "Prix et facturation"),
    ("website_app", "Site web et application"),
    ("staff_hr", "Personnel et RH"),
    ("legal", "Juridique"),
    ("environment_csr", "Environnement et RSE"),
    ("safety", "Sécurité"),
];

/// A theme's name for a French reader: the French name of a default theme
/// whose name the project kept as seeded, else the project's own name.
pub fn french_name<'a>(key: &str, name: &'a str) -> &'a str {
    let seeded = DEFAULT_THEMES.iter().any(|(k, n, _, _)| *k == key && *n == name);
    match FRENCH_NAMES.iter().find(|(k, _)| *k == key) {
        Some((_, french)) if seeded => french,
        _ => name,
    }
}

/// The default taxonomy as themes to seed a new project with.
pub fn default_themes() -> Vec<NewTheme> {
    DEFAULT_THEMES
        .iter()
        .map(|(key, name, department, query)| NewTheme {
            key: (*key).to_string(),
            name: (*name).to_string(),
            department: (*department).to_string(),
            query: squash(query),
        })
        .collect()
}

/// One line per query: the constants above are wrapped for reading.
fn squash(query: &str) -> String {
    query.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks a theme key: lower-case ASCII letters, digits and `_`.
pub fn validate_theme_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > 64 {
        return Err("a theme key has 1 to 64 characters".into());
    }
    if !key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return Err(format!("theme key {key:?} may only hold lower-case letters, digits and '_'"));
    }
    Ok(())
}

/// A learned theme classifier: class names (theme keys) with probabilities,
/// best first.
pub trait ThemeClassifier: Send + Sync {
    /// `lang` is the mention's language, if known; a classifier trained on
    /// one language returns nothing for the others.
    fn classify(&self, text: &str, lang: Option<&str>) -> Vec<(String, f32)>;
}

/// A project's themes, compiled once per ingest run.
pub struct CompiledThemes {
    set: WatchSet,
    themes: Vec<Theme>,
    classifier: Option<Box<dyn ThemeClassifier>>,
}

impl CompiledThemes {
    /// Compiles the themes' queries. A theme whose stored query no longer
    /// parses is reported, with the theme's key.
    pub fn new(themes: Vec<Theme>, classifier: Option<Box<dyn ThemeClassifier>>) -> Result<Self, String> {
        let mut queries: Vec<(i64, Query)> = Vec::with_capacity(themes.len());
        for (i, theme) in themes.iter().enumerate() {
            let q = vigie_query::parse(&theme.query).map_err(|e| format!("theme {:?}: {e}", theme.key))?;
            queries.push((i as i64, q));
        }
        Ok(CompiledThemes { set: WatchSet::new(queries), themes, classifier })
    }

    pub fn themes(&self) -> &[Theme] {
        &self.themes
    }

    /// The themes of a mention with their scores, best first. `polarity` is
    /// the mention's sentiment: the classifier speaks only for complaints.
    pub fn score(&self, mention: &Mention, polarity: Option<Polarity>) -> Vec<ThemeScore> {
        let mut scores: Vec<ThemeScore> = Vec::new();
        if !self.set.is_empty() {
            for (i, terms) in self.set.match_document(&document(mention)) {
                let Some(theme) = usize::try_from(i).ok().and_then(|i| self.themes.get(i)) else {
                    continue;
                };
                let mut distinct: Vec<String> = terms.into_iter().map(|t| t.trim_matches('"').to_string()).collect();
                distinct.sort();
                distinct.dedup();
                let extra = distinct.len().saturating_sub(1) as f32;
                let score = (KEYWORD_SCORE + KEYWORD_STEP * extra).min(KEYWORD_MAX);
                scores.push(ThemeScore { theme: theme.key.clone(), score, evidence: distinct });
            }
        }
        if let Some(classifier) = &self.classifier
            && polarity != Some(Polarity::Positive)
        {
            let text = sentiment_text(mention);
            for (class, p) in classifier.classify(&text, mention.lang.as_deref()) {
                if !self.themes.iter().any(|t| t.key == class) {
                    continue;
                }
                match scores.iter_mut().find(|s| s.theme == class) {
                    Some(s) => {
                        s.score = 1.0 - (1.0 - s.score) * (1.0 - p);
                        s.evidence.push("classifier".into());
                    }
                    None => scores.push(ThemeScore { theme: class, score: p, evidence: vec!["classifier".into()] }),
                }
            }
        }
        scores.retain(|s| s.score >= MIN_THEME_SCORE);
        scores.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.theme.cmp(&b.theme)));
        for s in &mut scores {
            s.score = (s.score * 1000.0).round() / 1000.0;
        }
        scores
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::Utc;
    use vigie_model::SourceKind;

    use super::*;

    fn themes() -> Vec<Theme> {
        default_themes()
            .into_iter()
            .enumerate()
            .map(|(i, t)| Theme {
                id: i as i64 + 1,
                key: t.key,
                name: t.name,
                department: t.department,
                query: t.query,
            })
            .collect()
    }

    fn mention(text: &str) -> Mention {
        Mention {
            id: 0,
            source_kind: SourceKind::Twitter,
            source_item_id: None,
            url: None,
            title: None,
            text: text.into(),
            author: None,
            site: None,
            published_at: Utc::now(),
            collected_at: Utc::now(),
            lang: None,
            lang_confidence: 0.0,
            reach: None,
            content_hash: String::new(),
            dedup_key: String::new(),
            analysis: Default::default(),
        }
    }

    struct Fixed(Vec<(String, f32)>);
    impl ThemeClassifier for Fixed {
        fn classify(&self, _: &str, _: Option<&str>) -> Vec<(String, f32)> {
            self.0.clone()
        }
    }

    fn keys(scores: &[ThemeScore]) -> Vec<&str> {
        scores.iter().map(|s| s.theme.as_str()).collect()
    }

    #[test]
    fn every_default_theme_parses_and_has_a_valid_key() {
        let compiled = CompiledThemes::new(themes(), None).unwrap();
        assert_eq!(compiled.themes().len(), 9);
        for t in default_themes() {
            validate_theme_key(&t.key).unwrap();
        }
    }

    #[test]
    fn keywords_find_themes_in_both_languages() {
        let c = CompiledThemes::new(themes(), None).unwrap();
        let s = c.score(&mention("Toujours pas reçu mon colis, et le service client ne répond pas"), None);
        assert_eq!(keys(&s), vec!["delivery_logistics", "customer_service"], "{s:?}");
        assert_eq!(s[0].evidence, vec!["colis", "pas reçu", "toujours pas reçu"], "{s:?}");
        assert_eq!(s[1].evidence, vec!["service client"], "{s:?}");
        let s = c.score(&mention("I was overcharged and still no refund"), None);
        assert_eq!(keys(&s), vec!["price_billing"]);
        assert!(s[0].score > KEYWORD_SCORE, "two keywords score above one");
        assert!(c.score(&mention("Quelle belle journée"), None).is_empty());
    }

    #[test]
    fn the_classifier_adds_evidence_only_for_complaints() {
        let clf =
            Fixed(vec![("staff_hr".into(), 0.7), ("delivery_logistics".into(), 0.6), ("unknown_class".into(), 0.9)]);
        let c = CompiledThemes::new(themes(), Some(Box::new(clf))).unwrap();
        let m = mention("the crew on my flight was amazing");
        let s = c.score(&m, Some(Polarity::Negative));
        assert_eq!(keys(&s), vec!["staff_hr", "delivery_logistics"], "{s:?}");
        // crew (keyword 0.8) combined with 0.7: 1 - 0.2 * 0.3 = 0.94.
        assert!((s[0].score - 0.94).abs() < 1e-3, "{s:?}");
        assert_eq!(s[0].evidence, vec!["crew".to_string(), "classifier".into()]);
        // Positive mentions: keywords only.
        assert_eq!(keys(&c.score(&m, Some(Polarity::Positive))), vec!["staff_hr"]);
    }

    #[test]
    fn default_themes_have_french_names_until_renamed() {
        for (key, name, department, _) in DEFAULT_THEMES {
            assert_ne!(french_name(key, name), *name, "{key} has no French name");
            let french = vigie_model::department_name(department, vigie_model::Language::Fr);
            assert_ne!(french, *department, "department {department} has no French name");
        }
        assert_eq!(french_name("customer_service", "Customer service"), "Service client");
        assert_eq!(french_name("customer_service", "SAV et hotline"), "SAV et hotline", "a project's own name stands");
        assert_eq!(french_name("palm_oil", "Palm oil"), "Palm oil");
    }

    #[test]
    fn everyday_words_do_not_raise_departments() {
        let c = CompiledThemes::new(themes(), None).unwrap();
        let s = c.score(&mention("This new album is fire, the manager of the band is a legend, see the site"), None);
        assert!(s.is_empty(), "{s:?}");
        let s = c.score(&mention("Le site de l'équipe de France au tribunal de l'opinion: un agent libre"), None);
        assert_eq!(keys(&s), vec!["legal"], "{s:?}");
    }

    #[test]
    fn theme_keys_are_checked() {
        assert!(validate_theme_key("palm_oil").is_ok());
        assert!(validate_theme_key("Palm oil").is_err());
        assert!(validate_theme_key("").is_err());
    }
}
