//! Near-duplicate quality on the labelled pairs of `testdata/neardup.tsv`, the
//! story index's behaviour, storage of signatures, and properties.

use proptest::prelude::*;
use vigie_nlp::neardup::{
    SIGNATURE_BYTES, SIGNATURE_VERSION, Signature, SignatureError, StoryConfig, StoryIndex,
    DEFAULT_THRESHOLD, lead_overlap, same_story, signature, similarity,
};

/// Share of the labelled positive pairs that must be found (measured: 41 of 42).
const RECALL_FLOOR: f64 = 0.95;

struct Case {
    line: usize,
    a: String,
    b: String,
    same: bool,
    note: String,
}

fn cases() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/neardup.tsv");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let mut header = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !header {
            assert_eq!(line, "text_a\ttext_b\tsame_story\tnote", "header");
            header = true;
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 4, "line {}: {} fields", n + 1, fields.len());
        let same = match fields[2] {
            "1" => true,
            "0" => false,
            other => panic!("line {}: same_story {other:?}", n + 1),
        };
        out.push(Case {
            line: n + 1,
            a: fields[0].into(),
            b: fields[1].into(),
            same,
            note: fields[3].into(),
        });
    }
    out
}

/// `title || body` or just a body.
fn sig_of(field: &str) -> Option<Signature> {
    match field.split_once(" || ") {
        Some((title, body)) => signature(Some(title), body),
        None => signature(None, field),
    }
}

fn merged(case: &Case) -> (bool, f32) {
    match (sig_of(&case.a), sig_of(&case.b)) {
        (Some(a), Some(b)) => (same_story(&a, &b), similarity(&a, &b)),
        _ => (false, 0.0),
    }
}

#[test]
fn labelled_set_is_large_and_balanced() {
    let cases = cases();
    let positives = cases.iter().filter(|c| c.same).count();
    assert!(cases.len() >= 60, "{} pairs", cases.len());
    let share = positives as f64 / cases.len() as f64;
    assert!(
        (0.4..=0.6).contains(&share),
        "{positives} positives of {}",
        cases.len()
    );
    // Every kind of case the module docs speak of is there.
    for kind in [
        "syndicated",
        "excerpt",
        "retweet",
        "quote",
        "forum",
        "review",
        "copy",
        "brand",
        "template",
        "short",
        "event",
        "other",
    ] {
        assert!(
            cases
                .iter()
                .any(|c| c.note.starts_with(&format!("{kind}:"))),
            "no {kind} case"
        );
    }
}

#[test]
fn no_false_merge_on_the_negatives() {
    let false_merges: Vec<String> = cases()
        .iter()
        .filter(|c| !c.same)
        .filter_map(|c| {
            let (m, j) = merged(c);
            m.then(|| format!("line {} ({j:.3}): {}", c.line, c.note))
        })
        .collect();
    assert!(
        false_merges.is_empty(),
        "false merges:\n{}",
        false_merges.join("\n")
    );
}

#[test]
fn recall_on_the_positives_meets_the_floor() {
    let cases = cases();
    let positives: Vec<&Case> = cases.iter().filter(|c| c.same).collect();
    let missed: Vec<String> = positives
        .iter()
        .filter_map(|c| {
            let (m, j) = merged(c);
            (!m).then(|| format!("line {} ({j:.3}): {}", c.line, c.note))
        })
        .collect();
    let recall = 1.0 - missed.len() as f64 / positives.len() as f64;
    assert!(
        recall >= RECALL_FLOOR,
        "recall {recall:.3} < {RECALL_FLOOR}; missed:\n{}",
        missed.join("\n")
    );
}

/// The index finds what the pairwise rule decides (its LSH loses nothing here).
#[test]
fn the_index_agrees_with_the_pairwise_rule_on_the_labelled_set() {
    for c in cases() {
        let (Some(a), Some(b)) = (sig_of(&c.a), sig_of(&c.b)) else {
            continue;
        };
        let mut index = StoryIndex::new(16);
        assert_eq!(index.assign(1, &a), 1);
        let story = index.assign(2, &b);
        assert_eq!(
            story == 1,
            same_story(&a, &b),
            "line {}: {}",
            c.line,
            c.note
        );
    }
}

/// Every copy the rule finds is still found with up to four words put before
/// one side (a comment, a dateline): one text's lead is looked for in the
/// other's first 16 shingles, not only in its first 8.
#[test]
fn a_few_words_put_before_a_copy_keep_it_a_copy() {
    for c in cases().iter().filter(|c| c.same && merged(c).0) {
        for prefix in ["wow", "so true!!", "must read this morning:", "BERLIN, March 3 (Reuters) -"] {
            let b = match c.b.split_once(" || ") {
                Some((title, body)) => format!("{title} || {prefix} {body}"),
                None => format!("{prefix} {}", c.b),
            };
            let (Some(sa), Some(sb)) = (sig_of(&c.a), sig_of(&b)) else {
                panic!("line {}: no signature", c.line);
            };
            assert!(
                same_story(&sa, &sb),
                "line {} with {prefix:?} ({:.3}, lead {:.2}): {}",
                c.line,
                similarity(&sa, &sb),
                lead_overlap(&sa, &sb),
                c.note
            );
        }
    }
}

const ACME_ABOUT: &str = "À propos d'Acme : fondée en 1952 à Lyon, Acme conçoit et fabrique du petit électroménager \
                          vendu dans plus de 40 pays. L'entreprise emploie 3 200 personnes et a réalisé un chiffre \
                          d'affaires de 780 millions d'euros en 2025. Contact presse : presse@acme.fr.";

fn acme(title: &str, lead: &str) -> Signature {
    signature(Some(title), &format!("{lead} {ACME_ABOUT}")).unwrap_or_else(|| panic!("no signature for {title:?}"))
}

/// QA's case: two press releases of one company ending with the same "à
/// propos" paragraph are two stories, though most of their text is shared;
/// the same release republished with its own title and footer is one.
#[test]
fn press_releases_sharing_only_the_company_boilerplate_are_two_stories() {
    let factory = acme(
        "Acme ouvre une usine",
        "Acme annonce l'ouverture d'une nouvelle usine à Vénissieux, qui créera 250 emplois d'ici 2027.",
    );
    let kettles = acme(
        "Acme lance des bouilloires",
        "Acme lance une gamme de bouilloires en acier recyclé, disponibles dès janvier en magasin.",
    );
    let republished = signature(
        Some("Vénissieux : 250 emplois dans la future usine Acme"),
        &format!(
            "Acme annonce l'ouverture d'une nouvelle usine à Vénissieux, qui créera 250 emplois d'ici 2027. \
             {ACME_ABOUT} Lire aussi : les zones industrielles de la métropole font le plein."
        ),
    )
    .unwrap_or_else(|| panic!("no signature"));
    // Whole texts alone would merge them (the long-copy rule): the leads differ.
    let whole_texts = StoryConfig {
        min_lead_overlap: 0.0,
        ..StoryConfig::default()
    };
    assert!(whole_texts.same_story(&factory, &kettles).is_some());
    assert!(lead_overlap(&factory, &kettles) < 0.5);
    assert!(!same_story(&factory, &kettles), "{}", similarity(&factory, &kettles));
    assert!(same_story(&factory, &republished), "{}", similarity(&factory, &republished));
    let mut index = StoryIndex::new(100);
    assert_eq!(index.assign(1, &factory), 1);
    assert_eq!(index.assign(2, &kettles), 2);
    assert_eq!(index.assign(3, &republished), 1);
}

/// Short releases whose shared paragraph is most of the text reach the
/// general threshold: the lead decides there too.
#[test]
fn a_boilerplate_longer_than_the_news_is_not_a_copy_either() {
    let about = "About Northwind Logistics: Northwind Logistics is a leading provider of freight, warehousing and \
                 last-mile delivery services in North America, operating 85 distribution centers and a fleet of \
                 4,000 trucks. The company is headquartered in Columbus, Ohio, and employs 12,000 people. For \
                 more information, visit www.northwind-logistics.com. Media contact: Dana Whitfield, \
                 press@northwind-logistics.com, +1 614 555 0142.";
    let results = sig(&format!("Northwind will report its second-quarter results on July 24. {about}"));
    let deal = sig(&format!("Northwind has completed the acquisition of Pacific Freight. {about}"));
    assert!(similarity(&results, &deal) >= DEFAULT_THRESHOLD, "{}", similarity(&results, &deal));
    assert!(!same_story(&results, &deal));
    // One of them quoted with a comment before it is still its copy.
    let quoted = sig(&format!("Big news for freight in the Midwest: Northwind has completed the acquisition of \
                               Pacific Freight. {about}"));
    assert!(same_story(&deal, &quoted), "{}", similarity(&deal, &quoted));
    assert!(!same_story(&results, &quoted));
}

/// The copies the lead must not lose: a wire article with its own title,
/// dateline and footer; one complaint pasted on three forums with small
/// edits; a long post quoted with a comment before it.
#[test]
fn long_copies_with_their_own_beginning_or_end_still_merge() {
    let wire = "Lufthansa pilots will strike on Thursday after pay talks broke down, the Vereinigung Cockpit union \
                said on Tuesday. The strike will affect all departures from Frankfurt and Munich between midnight \
                and 11:59 p.m. local time. Lufthansa said it would publish a special flight schedule on Wednesday.";
    let original = signature(Some("Lufthansa pilots to strike on Thursday"), wire).unwrap_or_else(|| panic!("no signature"));
    let syndicated = signature(
        Some("Strike: no Lufthansa flights from Frankfurt or Munich on Thursday"),
        &format!("FRANKFURT (Reuters) - {wire} (Reporting by Ilona Wissenbach; Editing by Mark Potter) \
                  Sign up for our morning briefing to get the day's top stories in your inbox."),
    )
    .unwrap_or_else(|| panic!("no signature"));
    assert!(same_story(&original, &syndicated), "{}", similarity(&original, &syndicated));

    let forums = [
        "Bonjour à tous, j'ai souscrit une box fibre chez SFR il y a deux mois et depuis je subis des coupures \
         tous les soirs entre 20h et 23h. Le technicien est venu deux fois sans rien résoudre. Quelqu'un a-t-il \
         eu le même souci ?",
        "Bonjour, j'ai souscrit une box fibre chez SFR il y a deux mois et depuis je subis des coupures tous les \
         soirs entre 20h et 23h. Le technicien est venu deux fois sans rien résoudre. Quelqu'un a eu le même \
         souci ? Merci d'avance",
        "J'ai souscrit une box fibre chez SFR il y a deux mois et depuis je subis des coupures tous les soirs \
         entre 20h et 23h ! Le technicien est venu 2 fois sans rien résoudre. Quelqu'un a-t-il eu le même souci ?",
    ]
    .map(sig);
    let mut index = StoryIndex::new(100);
    for (n, s) in forums.iter().enumerate() {
        assert_eq!(index.assign(10 + n as i64, s), 10, "forum {n}");
    }

    let post = "My Samsung fridge stopped cooling 14 months after purchase, just outside the warranty. Samsung \
                support says the compressor is not covered and wants 450 dollars for the repair. Is this normal? \
                The fridge cost 1800.";
    let quote = format!("This happened to us too, avoid Samsung fridges: \"{post}\"");
    let (sp, sq) = (sig(post), sig(&quote));
    assert!(sq.shingle_count() > 32, "the quote is compared by its MinHash and lead");
    assert!(same_story(&sp, &sq), "{}", similarity(&sp, &sq));
}

fn sig(text: &str) -> Signature {
    signature(None, text).unwrap_or_else(|| panic!("no signature for {text:?}"))
}

const COMPLAINT: &str = "I ordered a washing machine three weeks ago, paid extra for delivery, and it still has not \
                         arrived. Customer service keeps telling me it will come next week.";

fn unrelated(n: usize) -> Signature {
    sig(&format!(
        "unrelated mention number {n} about topic {} and nothing else {}",
        n * 7,
        n * 13
    ))
}

#[test]
fn copies_join_the_first_mention_and_others_start_their_own_story() {
    let mut index = StoryIndex::new(100);
    assert_eq!(index.assign(10, &sig(COMPLAINT)), 10);
    assert_eq!(index.assign(11, &unrelated(1)), 11);
    assert_eq!(
        index.assign(12, &sig(&format!("RT @someone: {COMPLAINT}"))),
        10
    );
    assert_eq!(
        index.assign(13, &sig(&format!("So true!! {COMPLAINT} #fail"))),
        10
    );
    assert_eq!(index.assign(14, &unrelated(2)), 14);
    assert_eq!(index.len(), 5);
}

#[test]
fn story_ids_are_transitive() {
    // b copies a with words added at the end; c copies b without a's opening.
    let a = "our flight to Denver was cancelled at the gate and nobody could tell us why or when we would leave";
    let b = format!("{a}, we spent the night on the floor of terminal B with two kids");
    let c = "could tell us why or when we would leave, we spent the night on the floor of terminal B with two kids";
    let (sa, sb, sc) = (sig(a), sig(&b), sig(c));
    assert!(
        same_story(&sa, &sb) && same_story(&sb, &sc),
        "{} {}",
        similarity(&sa, &sb),
        similarity(&sb, &sc)
    );
    assert!(!same_story(&sa, &sc), "{}", similarity(&sa, &sc));
    let mut index = StoryIndex::new(100);
    assert_eq!(index.assign(1, &sa), 1);
    assert_eq!(index.assign(2, &sb), 1);
    assert_eq!(index.assign(3, &sc), 1, "c joins a's story through b");
}

#[test]
fn the_most_similar_indexed_mention_wins() {
    let y = "the delivery driver left my parcel in the rain and it was soaked through";
    let a = format!("{y} honestly unbelievable service today");
    let b = format!("seriously though {y}");
    let q = y;
    let (sa, sb, sq) = (sig(&a), sig(&b), sig(q));
    assert!(!same_story(&sa, &sb), "{}", similarity(&sa, &sb));
    assert!(same_story(&sq, &sa) && same_story(&sq, &sb));
    assert!(similarity(&sq, &sb) > similarity(&sq, &sa));
    let mut index = StoryIndex::new(100);
    assert_eq!(index.assign(1, &sa), 1);
    assert_eq!(index.assign(2, &sb), 2);
    assert_eq!(index.assign(3, &sq), 2);
}

/// A headline tweeted by many sites, each adding its name: every variant is
/// a copy of the first tweet, though not of the other variants (their names
/// differ), so the first one must stay findable while variants pile up.
#[test]
fn headline_variants_with_source_names_form_one_story() {
    let headline = "@Delta CEO battles to win back passengers and Wall Street";
    let sources = [
        "Waterbury Republican American",
        "Greenfield Daily Reporter",
        "Alaska Highway News",
        "Nassau News Live",
        "Lake Wylie Pilot",
        "Weyburn Review Online",
        "The Morning Call",
        "Broadway World Travel",
        "Kansas City Star",
        "Daily Hampshire Gazette",
        "Times Colonist Victoria",
        "South Florida Sun",
    ];
    let first = sig(&format!("{headline} http://t.co/first"));
    let variants: Vec<Signature> = sources
        .iter()
        .map(|s| sig(&format!("{headline} - {s} http://t.co/x")))
        .collect();
    assert!(variants.iter().all(|v| same_story(&first, v)));
    assert!(
        !same_story(&variants[0], &variants[1]),
        "{}",
        similarity(&variants[0], &variants[1])
    );
    let mut index = StoryIndex::new(1_000);
    assert_eq!(index.assign(0, &first), 0);
    let mut distractors = 0..;
    for (n, variant) in variants.iter().enumerate() {
        assert_eq!(index.assign(1 + n as i64, variant), 0, "{}", sources[n]);
        // Unrelated mentions in between, as in a real stream.
        for _ in 0..20 {
            let d = distractors.next().unwrap_or_default();
            index.assign(1_000 + d as i64, &unrelated(d));
        }
    }
}

/// Copies that keep coming keep the story alive after its first mention is
/// evicted: newer copies take over the band cells before it goes.
#[test]
fn a_long_lived_story_outlives_its_first_mention() {
    let capacity = 1_024;
    let mut index = StoryIndex::new(capacity);
    assert_eq!(index.assign(0, &sig(COMPLAINT)), 0);
    // Between copies, mentions of one other story (so that no cell of the
    // complaint is overwritten by chance and kept alive that way).
    let other = unrelated(1);
    let mut id = 1;
    for round in 0..1_000 {
        for _ in 0..2 {
            index.assign(id, &other);
            id += 1;
        }
        assert_eq!(
            index.assign(id, &sig(&format!("RT @user{round}: {COMPLAINT}"))),
            0,
            "round {round}"
        );
        id += 1;
    }
    assert!(id as usize > 2 * capacity);
}

#[test]
fn the_oldest_mention_is_evicted_beyond_capacity() {
    let mut index = StoryIndex::new(3);
    assert_eq!(index.assign(1, &sig(COMPLAINT)), 1);
    assert_eq!(index.assign(2, &unrelated(1)), 2);
    assert_eq!(index.assign(3, &unrelated(2)), 3);
    // Still indexed: a copy finds it (and takes the oldest slot, evicting 1).
    assert_eq!(index.assign(4, &sig(COMPLAINT)), 1);
    assert_eq!(index.len(), 3);
    // 2, 3 and 4 are indexed; 4 carries story 1, so copies still find it.
    assert_eq!(index.assign(5, &sig(COMPLAINT)), 1);
    for n in 0..3 {
        index.assign(100 + n, &unrelated(10 + n as usize));
    }
    // Every copy is gone: a new copy starts a new story.
    assert_eq!(index.assign(200, &sig(COMPLAINT)), 200);
    assert_eq!(index.len(), 3);
}

#[test]
fn the_index_never_holds_more_than_its_capacity() {
    let mut index = StoryIndex::new(50);
    for n in 0..1_000 {
        index.assign(n as i64, &unrelated(n));
        assert!(index.len() <= 50);
    }
    assert_eq!(index.len(), 50);
    // Evicted cells are cleared: an evicted text is not found…
    assert_eq!(index.assign(5_000, &unrelated(3)), 5_000);
    // …and a recent one is.
    assert_eq!(index.assign(5_001, &unrelated(999)), 999);
    let empty = StoryIndex::new(0);
    assert!(empty.is_empty());
    let mut zero = StoryIndex::new(0);
    assert_eq!(zero.assign(1, &sig(COMPLAINT)), 1);
    assert_eq!(zero.assign(2, &sig(COMPLAINT)), 2);
    assert_eq!(zero.len(), 0);
}

#[test]
fn a_stricter_config_merges_less() {
    let a = sig(COMPLAINT);
    let b = sig(&format!(
        "{COMPLAINT} Has anyone else had this problem with them?"
    ));
    assert!(same_story(&a, &b));
    let strict = StoryConfig {
        threshold: 0.99,
        long_copy_threshold: 0.99,
        ..StoryConfig::default()
    };
    assert_eq!(strict.same_story(&a, &b), None);
    let mut index = StoryIndex::with_config(10, strict);
    assert_eq!(index.assign(1, &a), 1);
    assert_eq!(index.assign(2, &b), 2);
}

#[test]
fn signatures_round_trip_through_bytes() {
    let short = sig(COMPLAINT);
    let long = sig(&COMPLAINT.repeat(3).replace("three", "four"));
    let longer: String = (0..300).map(|i| format!("w{i} ")).collect();
    for s in [short, long, sig(&longer)] {
        let bytes = s.to_bytes();
        assert_eq!(bytes.len(), SIGNATURE_BYTES);
        assert_eq!(bytes[0], SIGNATURE_VERSION);
        assert_eq!(Signature::from_bytes(&bytes), Ok(s.clone()));
    }
}

#[test]
fn bad_bytes_are_errors_not_panics() {
    let good = sig(COMPLAINT).to_bytes();
    assert_eq!(
        Signature::from_bytes(&good[..10]),
        Err(SignatureError::Length(10))
    );
    assert_eq!(Signature::from_bytes(&[]), Err(SignatureError::Length(0)));
    let mut other_version = good;
    other_version[0] = SIGNATURE_VERSION + 1;
    assert_eq!(
        Signature::from_bytes(&other_version),
        Err(SignatureError::Version(SIGNATURE_VERSION + 1))
    );
    let mut no_shingles = good;
    no_shingles[1] = 0;
    no_shingles[2] = 0;
    assert!(matches!(
        Signature::from_bytes(&no_shingles),
        Err(SignatureError::Corrupt(_))
    ));
    // An exact signature's shingles are ascending and followed by zeros.
    let mut unsorted = good;
    unsorted.swap(3, 5);
    unsorted.swap(4, 6);
    assert!(matches!(
        Signature::from_bytes(&unsorted),
        Err(SignatureError::Corrupt(_))
    ));
    // Bytes 3..67 are the payload, then 16 lead shingles (u16 LE).
    let lead = SIGNATURE_BYTES - 32;
    let mut trailing = good;
    trailing[lead - 1] = 1;
    assert!(matches!(
        Signature::from_bytes(&trailing),
        Err(SignatureError::Corrupt(_))
    ));
    // The lead: distinct values, then the last one repeated…
    let mut repeated = good;
    repeated.copy_within(lead..lead + 2, lead + 2);
    assert!(matches!(
        Signature::from_bytes(&repeated),
        Err(SignatureError::Corrupt(_))
    ));
    // …all of them shingles of the text when it keeps them all.
    let mut stranger = good;
    let last = u16::from_le_bytes([good[SIGNATURE_BYTES - 2], good[SIGNATURE_BYTES - 1]]);
    stranger[SIGNATURE_BYTES - 2..].copy_from_slice(&last.wrapping_add(1).to_le_bytes());
    assert!(matches!(
        Signature::from_bytes(&stranger),
        Err(SignatureError::Corrupt(_))
    ));
}

fn text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z@#' .!éàœ’-]{0,200}",
        proptest::collection::vec(
            prop_oneof![
                Just("the"),
                Just("flight"),
                Just("delayed"),
                Just("@united"),
                Just("RT"),
                Just("via"),
                Just("#fail"),
                Just("https://t.co/x"),
                Just("bag"),
                Just("lost"),
                Just("again"),
                Just("très"),
                Just("東京"),
            ],
            0..60,
        )
        .prop_map(|w| w.join(" ")),
    ]
}

proptest! {
    #[test]
    fn no_panic_and_sane_similarity(a in text_strategy(), b in text_strategy(), title in proptest::option::of(text_strategy())) {
        let sa = signature(title.as_deref(), &a);
        let sb = signature(None, &b);
        if let Some(sa) = &sa {
            prop_assert_eq!(similarity(sa, sa), 1.0);
            prop_assert!(same_story(sa, sa));
            prop_assert_eq!(Signature::from_bytes(&sa.to_bytes()), Ok(sa.clone()));
        }
        if let (Some(sa), Some(sb)) = (&sa, &sb) {
            let (ab, ba) = (similarity(sa, sb), similarity(sb, sa));
            prop_assert_eq!(ab, ba);
            prop_assert!((0.0..=1.0).contains(&ab));
            prop_assert_eq!(same_story(sa, sb), same_story(sb, sa));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80),
        // Right length and version: the payload checks run.
        proptest::collection::vec(any::<u8>(), SIGNATURE_BYTES).prop_map(|mut v| {
            v[0] = SIGNATURE_VERSION;
            v
        }),
    ]) {
        if let Ok(s) = Signature::from_bytes(&bytes) {
            prop_assert_eq!(&s.to_bytes()[..], &bytes[..]);
            prop_assert!(similarity(&s, &s) >= 0.0);
        }
    }

}

proptest! {
    // Debug builds hash slowly; fewer, larger cases.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_index_stays_bounded(texts in proptest::collection::vec(text_strategy(), 1..60), capacity in 0usize..8) {
        let mut index = StoryIndex::new(capacity);
        for (n, t) in texts.iter().enumerate() {
            if let Some(s) = signature(None, t) {
                let story = index.assign(n as i64, &s);
                prop_assert!(story <= n as i64);
            }
            prop_assert!(index.len() <= capacity);
        }
    }
}


/// The numbers behind the rule, pair by pair:
/// `cargo test -p vigie-nlp --test neardup -- --ignored --nocapture`.
#[test]
#[ignore]
fn print_the_labelled_pairs() {
    let whole_texts = StoryConfig {
        min_lead_overlap: 0.0,
        ..StoryConfig::default()
    };
    for c in cases() {
        let (Some(a), Some(b)) = (sig_of(&c.a), sig_of(&c.b)) else {
            println!("line {}\t{}\tno signature\t{}", c.line, u8::from(c.same), c.note);
            continue;
        };
        let j = similarity(&a, &b);
        println!(
            "line {}\t{}\tsimilarity {j:.3}\tshingles {}, {}\tlead {:.2}\twhole texts {}\tmerged {}\t{}",
            c.line,
            u8::from(c.same),
            a.shingle_count(),
            b.shingle_count(),
            lead_overlap(&a, &b),
            u8::from(whole_texts.same_story(&a, &b).is_some()),
            u8::from(same_story(&a, &b)),
            c.note
        );
    }
}
