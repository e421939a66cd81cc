//! Behaviour of the shipped models, their files, and training.

use proptest::prelude::*;
use vigie_sentiment::{
    ClassExample, Contribution, EncoderHead, Example, FastModel, HeadOptions, HeadSet, Label,
    LinearClassifier, ModelError, ReviewOptions, TrainOptions, TrainSet, oof_fast_probabilities,
    train, train_encoder_head, train_sets,
};

fn m() -> &'static FastModel {
    FastModel::shipped()
}

fn score(text: &str, lang: &str) -> f32 {
    match m().predict(text, lang) {
        Some(v) => v.score,
        None => panic!("no verdict for {text:?}"),
    }
}

fn label(text: &str, lang: &str) -> Label {
    match m().predict(text, lang) {
        Some(v) => v.label,
        None => panic!("no verdict for {text:?}"),
    }
}

fn features(text: &str, lang: &str) -> Vec<Contribution> {
    m().predict(text, lang)
        .map(|v| v.explanation)
        .unwrap_or_default()
}

#[test]
fn shipped_models_decode() {
    assert_eq!(m().id(), "fast-v1");
    assert_eq!(LinearClassifier::shipped_routing().id(), "routing-v1");
    // the head file is empty until `vigie train sentiment` writes it; when it
    // is there it must decode
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/model/encoder-head-v1.bin"
    ))
    .unwrap_or_default();
    assert_eq!(EncoderHead::shipped().is_some(), !bytes.is_empty());
}

#[test]
fn negation() {
    assert!(score("pas bon", "fr") < score("bon", "fr"));
    assert!(score("c'est pas bon du tout", "fr") < 0.0);
    assert!(score("not bad", "en") > score("bad", "en"));
    assert!(score("not good at all", "en") < 0.0);
    // French customer-service complaints are rare in the French training
    // data (reviews and DEFT tweets): the short complaint leans negative
    // without always winning over neutral; see MODEL_CARD.md.
    let p = m()
        .probabilities("jamais reçu ma commande", "fr")
        .unwrap_or_default();
    assert!(p[0] > p[2], "{p:?}");
    assert!(score("jamais reçu ma commande", "fr") < score("bien reçu ma commande", "fr"));
    assert_eq!(label("never received my refund", "en"), Label::Negative);
    let p = m()
        .probabilities("I never received my order", "en")
        .unwrap_or_default();
    assert!(p[0] > p[2], "{p:?}");
}

#[test]
fn intensifiers_and_dampeners() {
    assert!(score("très bon film", "fr") >= score("un peu bon film", "fr"));
    assert!(score("the food was really great", "en") > score("the food was kind of great", "en"));
}

#[test]
fn elongation_emoji_caps() {
    assert_eq!(label("sooo good", "en"), Label::Positive);
    assert!(score("trooop bien ce film", "fr") > score("trop nul ce film", "fr"));
    assert!(score("trooop bien ce film", "fr") > 0.0);
    assert!(score("merci 😍", "fr") > score("merci 😡", "fr"));
    assert!(score("ok :)", "en") > score("ok :(", "en"));
    assert_eq!(label("😡😡😡", "fr"), Label::Negative);
    let caps = features("WORST AIRLINE EVER NEVER AGAIN", "en");
    assert!(caps.iter().any(|c| c.feature == "ALL CAPS"), "{caps:?}");
}

#[test]
fn complaint_patterns() {
    assert_eq!(
        label("@delta still waiting for my refund, no answer", "en"),
        Label::Negative
    );
    assert_eq!(
        label(
            "toujours pas reçu mon remboursement depuis 3 semaines",
            "fr"
        ),
        Label::Negative
    );
    let why = features(
        "toujours pas reçu mon remboursement depuis 3 semaines",
        "fr",
    );
    assert!(why.iter().all(|c| c.feature != "3"), "{why:?}");
    assert!(!why.is_empty());
}

/// Hand-written phrasings QA found misread (not dataset rows): negated
/// negatives and French complaints (features version 2, MODEL_CARD.md).
#[test]
fn idioms_and_complaint_phrasings() {
    for (text, lang) in [
        ("not bad", "en"),
        ("not bad at all", "en"),
        ("Aucun problème avec Acme", "fr"),
        ("Pas de problème avec Acme, livré à l'heure", "fr"),
        ("SAV Acme très réactif, problème réglé en 24h", "fr"),
    ] {
        assert_eq!(label(text, lang), Label::Positive, "{text}");
    }
    for (text, lang) in [
        ("C'est pas mal du tout", "fr"),
        ("Acme never disappoints", "en"),
        ("jamais déçu", "fr"),
    ] {
        assert_ne!(label(text, lang), Label::Negative, "{text}");
    }
    for (text, lang) in [
        ("Je ne recommande pas Acme", "fr"),
        ("Le SAV d'Acme est injoignable", "fr"),
    ] {
        assert_eq!(label(text, lang), Label::Negative, "{text}");
    }
    // still read as neutral: French complaints are rare in the training
    // data; they lean negative at least
    for (text, lang) in [
        ("Toujours pas reçu ma commande Acme", "fr"),
        ("Acme m'a facturé deux fois", "fr"),
    ] {
        let p = m().probabilities(text, lang).unwrap_or_default();
        assert!(p[0] > p[2], "{text}: {p:?}");
    }
    // the idiom explains the verdict in the author's words
    let why = features("not bad", "en");
    assert!(
        why.iter().any(|c| c.feature == "not bad" && c.weight > 0.0),
        "{why:?}"
    );
    // "pas terrible" stays negative, as French speakers mean it
    assert_eq!(label("pas terrible", "fr"), Label::Negative);
    assert_eq!(label("not good at all", "en"), Label::Negative);
}

#[test]
fn clear_cases() {
    assert_eq!(
        label("Ce film est magnifique, je l'ai adoré", "fr"),
        Label::Positive
    );
    assert_eq!(
        label("Film nul, ennuyeux et mal joué", "fr"),
        Label::Negative
    );
    assert_eq!(
        label("Thank you so much, great service!", "en"),
        Label::Positive
    );
    assert_eq!(
        label("My flight was cancelled and my bag is lost", "en"),
        Label::Negative
    );
}

#[test]
fn verdict_invariants_and_explanation() {
    let v = m().predict("Horrible service, never again 😡", "en");
    let Some(v) = v else { panic!("no verdict") };
    assert_eq!(v.label, Label::Negative);
    assert!(v.score < 0.0 && v.score >= -1.0);
    assert!(v.confidence > 1.0 / 3.0 && v.confidence <= 1.0);
    assert_eq!(v.model, "fast-v1");
    assert!(!v.explanation.is_empty() && v.explanation.len() <= 7, "six reasons and the rest");
    // sorted by |weight|, and the strongest reason pushes negative
    for w in v.explanation.windows(2) {
        assert!(w[0].weight.abs() >= w[1].weight.abs());
    }
    assert!(v.explanation[0].weight < 0.0, "{:?}", v.explanation);
    assert!(
        v.explanation
            .iter()
            .any(|c| c.feature.contains("horrible") || c.feature == "😡"),
        "{:?}",
        v.explanation
    );
    // the explanation quotes the author, never a hashed n-gram
    for c in &v.explanation {
        assert!(c.feature.len() < 80);
    }
    let p = m().probabilities("Horrible service, never again 😡", "en");
    let Some(p) = p else {
        panic!("no probabilities")
    };
    assert!((p[2] - p[0] - v.score).abs() < 1e-6);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
}

#[test]
fn unsupported_and_empty() {
    assert!(FastModel::supports("fr") && FastModel::supports("en-US"));
    assert!(!FastModel::supports("de") && !FastModel::supports(""));
    assert!(m().predict("Das ist gut", "de").is_none());
    assert!(m().predict("", "fr").is_none());
    assert!(m().predict("   ", "en").is_none());
    assert!(m().predict("https://example.com/x?y=1", "en").is_none());
    assert!(m().probabilities("@someone", "en").is_none());
    assert!(m().predict("👍", "en").is_some());
}

#[test]
fn hostile_input_is_bounded() {
    let big = "très mauvais ".repeat(100_000); // 1.3 MB
    let t = std::time::Instant::now();
    let v = m().predict(&big, "fr");
    assert!(v.is_some());
    assert!(t.elapsed().as_secs_f64() < 1.0);
    let junk: String = (0..200_000u32)
        .filter_map(|i| char::from_u32((i * 7919) % 0x10FFFF))
        .collect();
    let _ = m().predict(&junk, "en");
    let _ = m().predict("مرحبا 你好 bonjour Привет 😀", "fr");
}

#[test]
fn corrupt_files_are_errors() {
    let bytes = m().to_bytes();
    assert_eq!(FastModel::from_bytes(&bytes).as_ref(), Ok(m()));
    // one flipped bit in the weights
    let mut b = bytes.clone();
    let mid = b.len() / 2;
    b[mid] ^= 0x10;
    assert_eq!(FastModel::from_bytes(&b), Err(ModelError::ChecksumMismatch));
    // truncated
    assert_eq!(
        FastModel::from_bytes(&bytes[..bytes.len() - 1]),
        Err(ModelError::Truncated)
    );
    // not a model
    assert_eq!(FastModel::from_bytes(b"hello"), Err(ModelError::NotAModel));
    assert_eq!(FastModel::from_bytes(&[]), Err(ModelError::NotAModel));
    // a newer format version
    let mut b = bytes.clone();
    b[8] = 99;
    assert!(matches!(
        FastModel::from_bytes(&b),
        Err(ModelError::UnsupportedVersion { found: 99, .. })
    ));
    // a routing model is not a sentiment model
    let r = LinearClassifier::shipped_routing().to_bytes();
    assert!(matches!(
        FastModel::from_bytes(&r),
        Err(ModelError::WrongKind { .. })
    ));
    let msg = ModelError::ChecksumMismatch.to_string();
    assert!(msg.contains("corrupt"));
}

fn ex(text: &str, lang: &str, label: Label) -> Example {
    Example {
        text: text.into(),
        lang: lang.into(),
        label,
    }
}

#[test]
fn fine_tune_moves_toward_corrections() {
    let text = "le vol AF123 est arrivé à l'heure";
    let before = m().probabilities(text, "fr").unwrap_or_default();
    let corrections: Vec<Example> = (0..5).map(|_| ex(text, "fr", Label::Positive)).collect();
    let tuned = m().fine_tune(&corrections, &TrainOptions::fine_tune());
    let after = tuned.probabilities(text, "fr").unwrap_or_default();
    assert!(after[2] > before[2], "{before:?} → {after:?}");
    assert_eq!(tuned.id(), "fast-v1-ft");
    // deterministic
    let again = m().fine_tune(&corrections, &TrainOptions::fine_tune());
    assert_eq!(tuned.to_bytes(), again.to_bytes());
    // an unrelated text barely moves
    let other = "Film nul, ennuyeux et mal joué";
    let (a, b) = (
        m().predict(other, "fr").map(|v| v.label),
        tuned.predict(other, "fr").map(|v| v.label),
    );
    assert_eq!(a, b);
}

fn toy() -> Vec<Example> {
    let mut v = Vec::new();
    for i in 0..40 {
        v.push(ex(&format!("great lovely trip {i}"), "en", Label::Positive));
        v.push(ex(
            &format!("awful broken delay {i}"),
            "en",
            Label::Negative,
        ));
        v.push(ex(
            &format!("the flight leaves at {i}"),
            "en",
            Label::Neutral,
        ));
    }
    v
}

#[test]
fn training_is_deterministic_and_learns() {
    let opts = TrainOptions {
        features: vigie_sentiment::FeatureOptions {
            bits: 14,
            ..Default::default()
        },
        ..TrainOptions::default()
    };
    let a = train(&toy(), &opts);
    let b = train(&toy(), &opts);
    assert_eq!(a.to_bytes(), b.to_bytes());
    assert_eq!(
        a.predict("lovely great", "en").map(|v| v.label),
        Some(Label::Positive)
    );
    assert_eq!(
        a.predict("broken awful", "en").map(|v| v.label),
        Some(Label::Negative)
    );
    let back = FastModel::from_bytes(&a.to_bytes());
    assert_eq!(back.as_ref(), Ok(&a));
    // the word-trigram option (off by default) survives the file
    let mut tri_opts = opts.clone();
    tri_opts.features.word_trigrams = true;
    let tri = train(&toy(), &tri_opts);
    assert_eq!(FastModel::from_bytes(&tri.to_bytes()).as_ref(), Ok(&tri));
    assert!(tri.feature_options().word_trigrams);
    // polar-only sets never teach "neutral"
    let polar = train_sets(
        &[TrainSet {
            examples: &toy()[..2],
            polar_only: true,
            weight: 1.0,
        }],
        &opts,
    );
    assert!(polar.probabilities("great lovely", "en").is_some());
}

#[test]
fn classifier_round_trip_and_routing() {
    let mut ex = Vec::new();
    for i in 0..30 {
        ex.push(ClassExample {
            text: format!("my bag was lost {i}"),
            lang: "en".into(),
            class: "logistics".into(),
        });
        ex.push(ClassExample {
            text: format!("rude flight attendant {i}"),
            lang: "en".into(),
            class: "staff".into(),
        });
    }
    let opts = TrainOptions {
        features: vigie_sentiment::FeatureOptions {
            bits: 14,
            ..Default::default()
        },
        ..TrainOptions::default()
    };
    let c = LinearClassifier::train(&ex, &opts);
    assert_eq!(c.classes(), ["logistics", "staff"]);
    let p = c.predict("they lost my bag", "en").unwrap_or_default();
    assert_eq!(p[0].0, "logistics");
    assert!(p[0].1 >= p[1].1);
    let back = LinearClassifier::from_bytes(&c.to_bytes());
    assert_eq!(back.as_ref(), Ok(&c));
    let Some((_, why)) = c.predict_explained("the attendant was rude", "en") else {
        panic!("no explanation")
    };
    assert!(
        why.iter()
            .any(|w| w.feature.contains("rude") || w.feature.contains("attendant"))
    );

    let r = LinearClassifier::shipped_routing();
    let top = |t: &str| {
        r.predict(t, "en")
            .map(|p| p[0].0.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        top("@united my luggage is lost, third day without my bag"),
        "delivery_logistics"
    );
    assert_eq!(
        top("@AmericanAir on hold for 2 hours, nobody answers the phone"),
        "customer_service"
    );
}

#[test]
fn encoder_head_stacks_and_explains() {
    // synthetic 8-dim "embeddings": dim 0 carries the label
    let data = toy();
    let emb: Vec<Vec<f32>> = data
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut v = vec![0.0f32; 8];
            v[0] = e.label.index() as f32 - 1.0;
            v[1 + i % 7] = 0.3;
            v
        })
        .collect();
    let fast_opts = TrainOptions {
        features: vigie_sentiment::FeatureOptions {
            bits: 14,
            ..Default::default()
        },
        calibration_folds: 0,
        ..TrainOptions::default()
    };
    let sets = [TrainSet {
        examples: &data,
        polar_only: false,
        weight: 1.0,
    }];
    let oof = oof_fast_probabilities(&sets, 3, 7, |s| train_sets(s, &fast_opts));
    assert_eq!(oof.len(), 1);
    assert_eq!(oof[0].len(), data.len());
    let head = train_encoder_head(
        &[HeadSet {
            examples: &data,
            embeddings: &emb,
            polar_only: false,
            weight: 1.0,
        }],
        |s| train_sets(s, &fast_opts),
        &HeadOptions::default(),
    );
    assert_eq!(head.dim(), 8);
    let mut pos = vec![0.0f32; 8];
    pos[0] = 1.0;
    let v = head.predict(
        &pos,
        &[0.3, 0.4, 0.3],
        vec![Contribution {
            feature: "great".into(),
            weight: 0.5,
        }],
    );
    assert_eq!(v.label, Label::Positive);
    assert_eq!(v.model, "encoder-v1");
    assert!(
        v.explanation
            .iter()
            .any(|c| c.feature == "sentence encoder" && c.weight > 0.0)
    );
    let back = EncoderHead::from_bytes(&head.to_bytes());
    assert_eq!(back.as_ref(), Ok(&head));
    // plain rows API; a wrong-sized embedding is ignored, not a panic
    let rows: Vec<(Vec<f32>, [f32; 3], Label)> = emb
        .iter()
        .zip(&data)
        .map(|(e, x)| (e.clone(), [1.0 / 3.0; 3], x.label))
        .collect();
    let h2 = EncoderHead::train(&rows, &HeadOptions::default());
    let _ = h2.predict(&[1.0, 2.0], &[0.2, 0.2, 0.6], Vec::new());
    assert!(EncoderHead::from_bytes(&m().to_bytes()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn any_string_gives_a_consistent_verdict(s in ".{0,300}", fr in any::<bool>()) {
        let lang = if fr { "fr" } else { "en" };
        if let Some(v) = m().predict(&s, lang) {
            prop_assert!(v.score >= -1.0 && v.score <= 1.0);
            prop_assert!(v.confidence >= 0.0 && v.confidence <= 1.0);
            match v.label {
                Label::Positive => prop_assert!(v.score >= 0.0),
                Label::Negative => prop_assert!(v.score <= 0.0),
                Label::Neutral => {}
            }
            prop_assert!(v.explanation.len() <= 7);
        }
    }

    #[test]
    fn social_strings_never_panic(parts in proptest::collection::vec(
        prop_oneof![
            Just("http://x.y/z"), Just("@user"), Just("#TagWord"), Just(":-)"), Just("😡"),
            Just("n'"), Just("pas"), Just("sooooo"), Just("!!!"), Just("’"), Just("\u{200d}"),
            Just("\u{fe0f}"), Just("ÉÉÉ"), Just("3"), Just("x"), Just(" "), Just("'")
        ], 0..40)) {
        let s: String = parts.concat();
        let _ = m().predict(&s, "fr");
        let _ = m().predict(&s, "en");
        let _ = LinearClassifier::shipped_routing().predict_explained(&s, "en");
    }
}

/// Polar "reviews" whose verdict words ("chef-d'oeuvre", "navet") never occur
/// in the three-class "tweets", which are about something else.
fn review_sets() -> (Vec<Example>, Vec<Example>) {
    let mut reviews = Vec::new();
    for i in 0..60 {
        reviews.push(ex(
            &format!("le film {i} est un vrai chef-d'oeuvre, la mise en scène {i} est sublime"),
            "fr",
            Label::Positive,
        ));
        reviews.push(ex(
            &format!("le film {i} est un navet, la mise en scène {i} est soporifique"),
            "fr",
            Label::Negative,
        ));
    }
    let mut tweets = toy();
    for i in 0..20 {
        tweets.push(ex(
            &format!("le train {i} part à l'heure"),
            "fr",
            Label::Neutral,
        ));
    }
    (reviews, tweets)
}

fn review_opts(review: bool) -> TrainOptions {
    TrainOptions {
        features: vigie_sentiment::FeatureOptions {
            bits: 14,
            ..Default::default()
        },
        review: review.then(ReviewOptions::default),
        ..TrainOptions::default()
    }
}

#[test]
fn review_scorer_is_trained_mixed_saved_and_explained() {
    let (reviews, tweets) = review_sets();
    let sets = [
        TrainSet {
            examples: &reviews,
            polar_only: true,
            weight: 1.0,
        },
        TrainSet {
            examples: &tweets,
            polar_only: false,
            weight: 1.0,
        },
    ];
    let plain = train_sets(&sets, &review_opts(false));
    let with = train_sets(&sets, &review_opts(true));
    // deterministic, and the scorer's table is in the file (2^14 bytes more)
    assert_eq!(
        with.to_bytes(),
        train_sets(&sets, &review_opts(true)).to_bytes()
    );
    assert!(with.to_bytes().len() >= plain.to_bytes().len() + (1 << 14));
    let back = FastModel::from_bytes(&with.to_bytes());
    assert_eq!(back.as_ref(), Ok(&with));
    // the scorer moves a review's verdict further toward its words
    let pos = "franchement un chef-d'oeuvre, sublime";
    let neg = "franchement un navet, soporifique";
    let (p0, p1) = (
        plain.probabilities(pos, "fr").unwrap_or_default(),
        with.probabilities(pos, "fr").unwrap_or_default(),
    );
    let (n0, n1) = (
        plain.probabilities(neg, "fr").unwrap_or_default(),
        with.probabilities(neg, "fr").unwrap_or_default(),
    );
    assert!(p1[2] > p1[0] && n1[0] > n1[2], "{p1:?} {n1:?}");
    assert!(
        (p1[2] - p1[0]) + (n1[0] - n1[2]) > (p0[2] - p0[0]) + (n0[0] - n0[2]),
        "plain {p0:?} {n0:?}, with the scorer {p1:?} {n1:?}"
    );
    // the explanation names the review's words
    let v = with.predict(neg, "fr").expect("verdict");
    assert!(
        v.explanation
            .iter()
            .any(|c| c.feature.contains("navet") && c.weight < 0.0),
        "{:?}",
        v.explanation
    );
    // fine-tuning keeps the scorer (and its bytes)
    let tuned = with.fine_tune(
        &[ex(pos, "fr", Label::Positive)],
        &TrainOptions::fine_tune(),
    );
    assert!(tuned.to_bytes().len() >= plain.to_bytes().len() + (1 << 14));
    // without polar sets there is nothing to train it on: no scorer
    let none = train_sets(&sets[1..], &review_opts(true));
    assert_eq!(
        none.to_bytes().len(),
        train_sets(&sets[1..], &review_opts(false)).to_bytes().len()
    );
}

#[test]
fn a_damaged_review_section_is_an_error() {
    let (reviews, tweets) = review_sets();
    let sets = [
        TrainSet {
            examples: &reviews,
            polar_only: true,
            weight: 1.0,
        },
        TrainSet {
            examples: &tweets,
            polar_only: false,
            weight: 1.0,
        },
    ];
    let good = train_sets(&sets, &review_opts(true)).to_bytes();
    let plain_len = train_sets(&sets, &review_opts(false)).to_bytes().len();
    // the section starts where a plain model's payload ends (20-byte header,
    // 8-byte checksum); a flipped byte there fails the checksum
    let flag = plain_len - 8;
    let mut bad = good.clone();
    bad[flag] = 7;
    assert!(FastModel::from_bytes(&bad).is_err());
    // cut inside the section: truncated
    assert!(FastModel::from_bytes(&good[..good.len() - 100]).is_err());
}

#[test]
fn the_encoder_tier_keeps_the_direction_of_the_fast_models_reasons() {
    // Whatever the sentence encoder says, a word that pushed the fast model
    // toward negative is not shown as a reason toward positive.
    let head = EncoderHead::shipped().expect("the head ships in the repository");
    for (text, lang) in [
        ("Acme c'est pas top", "fr"),
        ("Je ne suis pas déçu du tout", "fr"),
        ("not bad at all", "en"),
        ("Horrible service, never again", "en"),
    ] {
        let fast = m().predict(text, lang).expect("a verdict");
        let probs = m().probabilities(text, lang).expect("probabilities");
        for value in [-0.1f32, 0.0, 0.1] {
            let refined = head.predict(&vec![value; head.dim()], &probs, fast.explanation.clone());
            let words: Vec<&Contribution> =
                refined.explanation.iter().filter(|c| c.feature != "sentence encoder").collect();
            assert!(!words.is_empty(), "{text}: {:?}", refined.explanation);
            for c in words {
                let before = fast.explanation.iter().find(|f| f.feature == c.feature).expect("a fast reason");
                assert_eq!(
                    c.weight.signum(),
                    before.weight.signum(),
                    "{text} ({value}): {c:?} was {before:?}"
                );
            }
        }
    }
}

#[test]
fn the_reasons_add_up_to_the_verdict() {
    // With the rest of the words and the baseline as one reason when they
    // matter, the listed reasons sum to the verdict's log-odds: a press
    // release read negative is not explained by reasons that all lean
    // positive.
    for (text, lang) in [
        ("Acme opened a battery plant in Grenoble that will create 300 jobs by 2028. About Acme: founded in 1952 in Lyon, Acme designs and manufactures small home appliances sold in more than 40 countries.", "en"),
        ("Service client injoignable, colis jamais livré, je ne recommande pas", "fr"),
        ("not bad at all", "en"),
        ("Le film est long mais les acteurs sont excellents et la fin est surprenante.", "fr"),
    ] {
        let v = m().predict(text, lang).expect("a verdict");
        let p = m().probabilities(text, lang).expect("probabilities");
        let log_odds = (p[2] / p[0]).ln();
        let listed: f32 = v.explanation.iter().map(|c| c.weight).sum();
        assert!(v.explanation.len() <= 7, "{text}: {:?}", v.explanation);
        assert!((listed - log_odds).abs() < 0.11, "{text}: {listed} vs {log_odds}: {:?}", v.explanation);
    }
}
