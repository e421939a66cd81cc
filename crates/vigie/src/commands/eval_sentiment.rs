//! `vigie eval sentiment` and `vigie eval routing`: the shipped models on the
//! evaluation parts of the labelled datasets (never their training parts; the
//! splits are `vigie_sentiment::data`'s), beside the Python VADER baseline.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::Context as _;
use chrono::Utc;
use vigie_model::{Mention, SourceKind, Theme};
use vigie_pipeline::analyze::RoutingClassifier;
use vigie_pipeline::refine::IS_QUERY;
use vigie_pipeline::themes::{CompiledThemes, default_themes};
use vigie_sentiment::data::{self, Dataset};
use vigie_sentiment::metrics::{self, Report};
use vigie_sentiment::{EncoderHead, FastModel, Label, LinearClassifier};

use crate::embed_cache::EmbeddingCache;

struct Row {
    model: String,
    report: Report,
}

pub fn eval_sentiment(
    data_dir: &Path,
    models_dir: &Path,
    python: Option<&Path>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<String> {
    let fast = FastModel::shipped();
    let encoder = match (EncoderHead::shipped(), models_dir.join(vigie_encoder::MODEL_FILE)) {
        (Some(head), path) if path.exists() => Some((head, vigie_encoder::Encoder::load(&path)?)),
        _ => None,
    };
    let mut cache = match &encoder {
        Some(_) => Some(EmbeddingCache::open(models_dir)?),
        None => None,
    };
    let mut s = String::new();
    writeln!(s, "## Sentiment\n")?;
    writeln!(
        s,
        "`vigie eval sentiment --data ../shared/data --python .venv-vader/bin/python --report docs/EVALUATION.md` \
         scores the shipped models on the **evaluation part** of each dataset; the models were trained on the training \
         parts only (splits in `crates/vigie-sentiment/src/data.rs`: the published train/validation files where they \
         exist, else a stable hash of the text, so duplicates never straddle the split). Hyper-parameters were chosen \
         by cross-validation inside the training parts. Binary review sets are scored as binary (the larger of the \
         negative and positive probabilities; VADER: the sign of its compound score). The VADER baseline is the \
         Python `vaderSentiment` (English) and `vaderSentiment-fr` (French) packages from PyPI on the same rows, with \
         VADER's ±0.05 thresholds. Each text is read in its dataset's language; the pipeline detects the language \
         instead (see the language section for how often that fails on short texts, which then get an unknown or \
         a two-reading verdict), so these are the models' scores, an upper bound for the pipeline's.\n"
    )?;
    writeln!(s, "| dataset | language | rows | model | accuracy | macro-F1 |")?;
    writeln!(s, "|---|---|---|---|---|---|")?;
    let mut confusions = String::new();
    // (dataset, model kind: 0 fast, 1 encoder) → report, for the targets.
    let mut by_model: Vec<(Dataset, usize, Report)> = Vec::new();
    for ds in Dataset::ALL {
        let split = data::load(data_dir, ds)?;
        let eval = &split.eval;
        if eval.is_empty() {
            continue;
        }
        progress(&format!("{}: {} evaluation rows", ds.name(), eval.len()));
        let gold: Vec<Label> = eval.iter().map(|e| e.label).collect();
        let mut rows: Vec<Row> = Vec::new();
        let fast_probs: Vec<[f32; 3]> =
            eval.iter().map(|e| fast.probabilities(&e.text, &e.lang).unwrap_or([0.0, 1.0, 0.0])).collect();
        let pred: Vec<Label> = fast_probs.iter().map(|p| metrics::decide(*p, ds.binary())).collect();
        rows.push(Row { model: format!("Vigie fast ({})", fast.id()), report: metrics::evaluate(&gold, &pred) });
        if let (Some((head, encoder)), Some(cache)) = (&encoder, cache.as_mut()) {
            let texts: Vec<&str> = eval.iter().map(|e| e.text.as_str()).collect();
            let embeddings = cache.embed(encoder, &texts, IS_QUERY, progress)?;
            let pred: Vec<Label> = embeddings
                .iter()
                .zip(&fast_probs)
                .map(|(emb, p)| metrics::decide(head.probabilities(emb, p), ds.binary()))
                .collect();
            rows.push(Row { model: format!("Vigie encoder ({})", head.id()), report: metrics::evaluate(&gold, &pred) });
        }
        if let Some(python) = python {
            let compounds = vader(python, eval.iter().map(|e| (e.text.as_str(), e.lang.as_str())))?;
            let pred: Vec<Label> = compounds
                .iter()
                .map(|c| {
                    if ds.binary() {
                        if *c >= 0.0 { Label::Positive } else { Label::Negative }
                    } else if *c >= 0.05 {
                        Label::Positive
                    } else if *c <= -0.05 {
                        Label::Negative
                    } else {
                        Label::Neutral
                    }
                })
                .collect();
            let name = if ds.lang() == "fr" { "Python vaderSentiment-fr" } else { "Python vaderSentiment" };
            rows.push(Row { model: name.into(), report: metrics::evaluate(&gold, &pred) });
        }
        for (kind, row) in rows.iter().enumerate().take(if encoder.is_some() { 2 } else { 1 }) {
            by_model.push((ds, kind, row.report.clone()));
        }
        for row in &rows {
            writeln!(
                s,
                "| {} | {} | {} | {} | {:.1} % | {:.3} |",
                ds.name(),
                ds.lang(),
                row.report.n,
                row.model,
                row.report.accuracy * 100.0,
                row.report.macro_f1
            )?;
        }
        if let Some(best) = rows.iter().take(2).max_by(|a, b| a.report.macro_f1.total_cmp(&b.report.macro_f1)) {
            writeln!(
                confusions,
                "**{}**, {} (rows: true class; columns: predicted negative / neutral / positive):\n",
                ds.name(),
                best.model
            )?;
            writeln!(confusions, "| true \\ predicted | negative | neutral | positive |")?;
            writeln!(confusions, "|---|---|---|---|")?;
            for (i, label) in Label::ALL.iter().enumerate() {
                if let Some(row) = best.report.confusion.get(i) {
                    if row.iter().sum::<usize>() == 0 {
                        continue;
                    }
                    writeln!(
                        confusions,
                        "| {label} | {} |",
                        row.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" | ")
                    )?;
                }
            }
            writeln!(confusions)?;
        }
    }
    if encoder.is_none() {
        writeln!(s, "\nThe encoder tier was not measured in this run (encoder not installed or no head shipped).")?;
    }
    writeln!(s, "\n### Targets\n")?;
    writeln!(s, "| target | fast model | encoder tier | met |")?;
    writeln!(s, "|---|---|---|---|")?;
    let get = |ds: Dataset, kind: usize| by_model.iter().find(|(d, k, _)| *d == ds && *k == kind).map(|(_, _, r)| r);
    let reviews = |kind: usize| {
        let parts: Vec<&Report> =
            [Dataset::AllocineMovies, Dataset::AllocineTv].iter().filter_map(|d| get(*d, kind)).collect();
        let n: usize = parts.iter().map(|r| r.n).sum();
        (parts.len() == 2).then(|| parts.iter().map(|r| r.accuracy * r.n as f64).sum::<f64>() / n.max(1) as f64)
    };
    #[allow(clippy::type_complexity)] // one table literal, read right below
    let targets: [(&str, Option<f64>, Option<f64>, f64, bool); 3] = [
        ("French reviews, both Allociné sets (binary): accuracy ≥ 93 %", reviews(0), reviews(1), 0.93, true),
        (
            "English airline tweets (3 classes): accuracy ≥ 82 %",
            get(Dataset::Airline, 0).map(|r| r.accuracy),
            get(Dataset::Airline, 1).map(|r| r.accuracy),
            0.82,
            true,
        ),
        (
            "French tweets, DEFT (3 classes): macro-F1 ≥ 0.65",
            get(Dataset::Deft, 0).map(|r| r.macro_f1),
            get(Dataset::Deft, 1).map(|r| r.macro_f1),
            0.65,
            false,
        ),
    ];
    for (name, fast, enc, goal, percent) in targets {
        let show = |v: Option<f64>| match v {
            Some(v) if percent => format!("{:.1} %", v * 100.0),
            Some(v) => format!("{v:.3}"),
            None => "not measured".into(),
        };
        let met = fast.is_some_and(|v| v >= goal) || enc.is_some_and(|v| v >= goal);
        writeln!(s, "| {name} | {} | {} | {} |", show(fast), show(enc), if met { "yes" } else { "**no**" })?;
    }
    if python.is_none() {
        writeln!(s, "\nThe VADER baseline was not run (give `--python` a Python with the two packages).")?;
    }
    // Graded human valence: does the score follow it?
    let graded = data::vader_graded(data_dir)?;
    let (scores, truth): (Vec<f32>, Vec<f32>) =
        graded.iter().filter_map(|(text, v)| fast.predict(text, "en").map(|p| (p.score, *v))).unzip();
    writeln!(
        s,
        "\nOn the {} English snippets with a mean human valence (vader-icwsm2014-groundtruth: Amazon, film and news \
         snippets; evaluation only), the fast model's score correlates with the human valence at Pearson r = {:.3}.\n",
        scores.len(),
        metrics::pearson(&scores, &truth)
    )?;
    writeln!(s, "### Confusion matrices\n")?;
    s.push_str(&confusions);
    Ok(s)
}

/// Runs scripts/vader_baseline.py with `python` over the rows; returns the
/// compound scores in order.
fn vader<'a>(python: &Path, rows: impl Iterator<Item = (&'a str, &'a str)>) -> anyhow::Result<Vec<f32>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/vader_baseline.py");
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {} {}", python.display(), script.display()))?;
    let mut input = String::new();
    for (i, (text, lang)) in rows.enumerate() {
        input.push_str(&serde_json::json!({ "id": i, "text": text, "lang": lang }).to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().context("no stdin for the baseline")?;
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let stdout = child.stdout.take().context("no stdout from the baseline")?;
    let mut out = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        out.push(v["compound"].as_f64().unwrap_or(0.0) as f32);
    }
    writer.join().map_err(|_| anyhow::anyhow!("the baseline's input writer stopped"))??;
    let status = child.wait()?;
    anyhow::ensure!(
        status.success(),
        "the VADER baseline failed ({status}); is vaderSentiment installed for {}?",
        python.display()
    );
    Ok(out)
}

/// Department routing on the held-out airline complaints.
pub fn eval_routing(data_dir: &Path) -> anyhow::Result<String> {
    let split = data::airline_routing(data_dir)?;
    let model = LinearClassifier::shipped_routing();
    let classes: Vec<String> = model.classes().to_vec();
    let index = |c: &str| classes.iter().position(|k| k == c);
    let gold: Vec<usize> = split.eval.iter().filter_map(|(_, c)| index(c)).collect();
    let eval: Vec<&(String, String)> = split.eval.iter().filter(|(_, c)| index(c).is_some()).collect();

    let top = |scores: Vec<(String, f32)>| scores.first().and_then(|(c, _)| index(c)).unwrap_or(usize::MAX);
    let pred_model: Vec<usize> = eval.iter().map(|(t, _)| top(model.predict(t, "en").unwrap_or_default())).collect();

    let themes: Vec<Theme> = default_themes()
        .into_iter()
        .enumerate()
        .map(|(i, t)| Theme { id: i as i64, key: t.key, name: t.name, department: t.department, query: t.query })
        .collect();
    let keywords = CompiledThemes::new(themes.clone(), None).map_err(anyhow::Error::msg)?;
    let combined =
        CompiledThemes::new(themes, Some(Box::new(RoutingClassifier::shipped()))).map_err(anyhow::Error::msg)?;
    let as_mention = |text: &str| Mention {
        id: 0,
        source_kind: SourceKind::Twitter,
        source_item_id: None,
        url: None,
        title: None,
        text: text.to_string(),
        author: None,
        site: None,
        published_at: Utc::now(),
        collected_at: Utc::now(),
        lang: Some("en".into()),
        lang_confidence: 1.0,
        reach: None,
        content_hash: String::new(),
        dedup_key: String::new(),
        analysis: Default::default(),
    };
    let themed = |compiled: &CompiledThemes| -> Vec<usize> {
        eval.iter()
            .map(|(t, _)| {
                let scores = compiled.score(&as_mention(t), Some(vigie_model::Polarity::Negative));
                scores.first().and_then(|s| index(&s.theme)).unwrap_or(usize::MAX)
            })
            .collect()
    };
    let pred_keywords = themed(&keywords);
    let pred_combined = themed(&combined);

    let mut s = String::new();
    writeln!(s, "## Department routing\n")?;
    writeln!(
        s,
        "`vigie eval routing --data ../shared/data --report docs/EVALUATION.md`: the airline complaints' negative \
         reasons mapped to departments (`vigie_sentiment::data::department_of`; *Can't Tell* left out), scored on the \
         held-out 20 % of texts (the routing model learned from the other 80 %). A mention is routed to its \
         best-scoring theme; *no theme* counts as wrong (its own column of the confusion matrix). The texts are \
         given as English negative mentions, as they are labelled; in the pipeline the language and the polarity \
         are detected, so these numbers are an upper bound for what it routes.\n"
    )?;
    writeln!(s, "| router | complaints | accuracy | macro-F1 |")?;
    writeln!(s, "|---|---|---|---|")?;
    let mut per_class = String::new();
    // "No theme" is a column of its own, so every complaint counts in its
    // department's support and recall.
    let mut columns = classes.clone();
    columns.push("(no theme)".into());
    for (name, pred) in [
        ("keywords only (default taxonomy)", &pred_keywords),
        (&*format!("learned classifier ({})", model.id()), &pred_model),
        ("keywords + classifier (what the pipeline does)", &pred_combined),
    ] {
        let mapped: Vec<usize> = pred.iter().map(|p| if *p == usize::MAX { classes.len() } else { *p }).collect();
        let report = metrics::evaluate_classes(&gold, &mapped, &columns);
        writeln!(s, "| {name} | {} | {:.1} % | {:.3} |", report.n, report.accuracy * 100.0, report.macro_f1)?;
        if name.starts_with("keywords +") {
            writeln!(per_class, "Per department, keywords + classifier:\n")?;
            writeln!(per_class, "| department | precision | recall | F1 | complaints |")?;
            writeln!(per_class, "|---|---|---|---|---|")?;
            for c in report.per_class.iter().filter(|c| c.support > 0) {
                writeln!(
                    per_class,
                    "| {} | {:.2} | {:.2} | {:.2} | {} |",
                    c.class, c.precision, c.recall, c.f1, c.support
                )?;
            }
        }
    }
    writeln!(s)?;
    s.push_str(&per_class);
    writeln!(s)?;
    Ok(s)
}
