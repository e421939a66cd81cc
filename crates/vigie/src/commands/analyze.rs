//! `vigie analyze`: JSON Lines in, the same objects with `lang`, `sentiment`
//! and `themes` out — the pipeline's analysis step, for anyone to test.
//!
//! Each input object has at least `text` (or `title`); `title`, `lang` and
//! `text_format` (`html`, the default as on import, or `plain`) are optional:
//! a line gets the analysis it would get imported. Every
//! other field is passed through. A line that is not such an object is
//! reported on stderr with its number and the run goes on; the exit code is
//! then 1.

use std::io::{BufRead, Write};

use anyhow::Context as _;
use chrono::Utc;
use rayon::prelude::*;
use serde_json::{Map, Value, json};
use vigie_model::{Mention, RawMention, Sentiment};
use vigie_nlp::{NormalizeLimits, normalize};
use vigie_pipeline::analyze::{Analyzer, RoutingClassifier, reading_language, sentiment_text, to_sentiment};
use vigie_pipeline::import::json_kind;
use vigie_pipeline::models::FastRef;
use vigie_pipeline::refine::Refiner;
use vigie_pipeline::themes::{CompiledThemes, default_themes};
use vigie_sentiment::FastModel;

use crate::app::usage;
use crate::cli::{AnalyzeArgs, ModelChoice};

/// One input line: its number, and the object or why it is not one.
type Line = (u64, Result<Map<String, Value>, String>);
/// One analyzed line: the object, and the mention (`None`: nothing to judge).
type Analyzed = (u64, Result<(Map<String, Value>, Option<Mention>), String>);

/// Lines read, analyzed in parallel, then written in order.
const BATCH: usize = 1_024;
/// Longest input line (a 1 MB text fits several times over).
const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;
/// A batch also ends once its lines hold this many bytes, so memory stays
/// bounded whatever the input.
const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

pub fn run(
    args: AnalyzeArgs,
    models_dir: &std::path::Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let themes: Vec<vigie_model::Theme> = default_themes()
        .into_iter()
        .enumerate()
        .map(|(i, t)| vigie_model::Theme {
            id: i as i64 + 1,
            key: t.key,
            name: t.name,
            department: t.department,
            query: t.query,
        })
        .collect();
    let compiled = CompiledThemes::new(themes, Some(Box::new(RoutingClassifier::shipped())))
        .map_err(|e| anyhow::anyhow!("the default taxonomy does not compile: {e}"))?;
    let analyzer = Analyzer::new(FastRef::Shipped(FastModel::shipped()), compiled);
    let refiner = match args.model {
        ModelChoice::Fast => None,
        ModelChoice::Auto => Refiner::load(models_dir)?,
        ModelChoice::Encoder => match Refiner::load(models_dir)? {
            Some(r) => Some(r),
            None => {
                return usage(format!(
                    "the sentence encoder is not installed in {}: run `vigie models install` (or use --model fast)",
                    models_dir.display()
                ));
            }
        },
    };

    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line_no: u64 = 0;
    let mut failures: u64 = 0;
    let mut eof = false;
    while !eof {
        let mut batch: Vec<Line> = Vec::with_capacity(BATCH);
        let mut batch_bytes = 0usize;
        while batch.len() < BATCH && batch_bytes < MAX_BATCH_BYTES {
            let mut buf = Vec::new();
            let n = read_line_bounded(&mut input, &mut buf, MAX_LINE_BYTES).context("cannot read standard input")?;
            if n == 0 {
                eof = true;
                break;
            }
            line_no += 1;
            batch_bytes += buf.len();
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if n > MAX_LINE_BYTES {
                batch.push((line_no, Err(format!("line is {n} bytes; the limit is {MAX_LINE_BYTES}"))));
                continue;
            }
            batch.push((line_no, parse_line(&buf)));
        }
        let now = Utc::now();
        let analyzed: Vec<Analyzed> = batch
            .into_par_iter()
            .map(|(n, parsed)| (n, parsed.and_then(|obj| analyze_object(&analyzer, obj, now))))
            .collect();
        // The encoder refines the batch's verdicts, in one batched call.
        let refined: Vec<Option<Sentiment>> = match &refiner {
            Some(refiner) => {
                let items: Vec<(String, Option<String>)> = analyzed
                    .iter()
                    .filter_map(|(_, r)| r.as_ref().ok())
                    .filter_map(|(_, m)| m.as_ref())
                    .filter(|m| m.analysis.sentiment.is_some())
                    .map(|m| (sentiment_text(m), reading_language(m).map(str::to_string)))
                    .collect();
                refiner.refine_texts(analyzer.fast_model(), &items).into_iter().map(|v| v.map(to_sentiment)).collect()
            }
            None => Vec::new(),
        };
        let mut refined = refined.into_iter();
        for (n, result) in analyzed {
            match result {
                Ok((mut obj, mention)) => {
                    let mut sentiment = mention.as_ref().and_then(|m| m.analysis.sentiment.clone());
                    if refiner.is_some()
                        && sentiment.is_some()
                        && let Some(Some(better)) = refined.next()
                    {
                        sentiment = Some(better);
                    }
                    fill(&mut obj, mention.as_ref(), sentiment);
                    serde_json::to_writer(&mut *out, &Value::Object(obj))?;
                    out.write_all(b"\n")?;
                }
                Err(reason) => {
                    failures += 1;
                    writeln!(err, "line {n}: {reason}")?;
                }
            }
        }
    }
    out.flush()?;
    if failures > 0 {
        anyhow::bail!("{failures} line(s) could not be analyzed (see above)");
    }
    Ok(())
}

fn parse_line(buf: &[u8]) -> Result<Map<String, Value>, String> {
    let text = std::str::from_utf8(buf).map_err(|e| format!("not UTF-8 text: {e}"))?;
    // A byte-order mark (Notepad's) before the first line is no JSON error.
    match serde_json::from_str::<Value>(text.trim_start_matches('\u{feff}').trim_end()) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(other) => Err(format!("expected a JSON object, found {}", json_kind(&other))),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

fn string_field(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("field `{name}` must be a string, not {}", json_kind(other))),
    }
}

/// The analysis of one object; `None` mention when there is nothing to judge
/// (empty text), which is reported as an unknown sentiment, not an error.
fn analyze_object(
    analyzer: &Analyzer,
    obj: Map<String, Value>,
    now: chrono::DateTime<Utc>,
) -> Result<(Map<String, Value>, Option<Mention>), String> {
    let text = string_field(&obj, "text")?;
    let title = string_field(&obj, "title")?;
    if text.is_none() && title.is_none() {
        return Err("missing field `text`".into());
    }
    let plain_text = match string_field(&obj, "text_format")?.as_deref() {
        Some("plain") => true,
        None | Some("html") => false,
        Some(other) => {
            return Err(format!("field `text_format` must be `html` or `plain`, not {other:?}"));
        }
    };
    let raw = RawMention {
        text: text.unwrap_or_default(),
        title,
        lang: string_field(&obj, "lang")?,
        plain_text,
        ..RawMention::default()
    };
    let limits = NormalizeLimits::default();
    match normalize(raw, now, &limits) {
        Ok(mut mention) => {
            mention.analysis = analyzer.analyze(&mention, &Default::default());
            Ok((obj, Some(mention)))
        }
        Err(vigie_nlp::Rejection::Empty) => Ok((obj, None)),
        Err(e) => Err(e.to_string()),
    }
}

/// Adds `lang`, `sentiment` and `themes` to the object.
fn fill(obj: &mut Map<String, Value>, mention: Option<&Mention>, sentiment: Option<Sentiment>) {
    let lang = mention.and_then(|m| m.lang.clone());
    let sentiment = match (&sentiment, mention) {
        (Some(s), _) => json!({
            "label": s.label,
            "score": s.score,
            "confidence": s.confidence,
            "model": s.model,
            "explanation": s.explanation,
        }),
        (None, None) => json!({ "label": "unknown", "score": null, "reason": "no text to judge" }),
        (None, Some(m)) => {
            let reason = match m.lang.as_deref() {
                None => "the language could not be identified".to_string(),
                Some(l) if reading_language(m).is_none() => format!(
                    "the language is unsure (perhaps {l:?}) and neither a French nor an English reading finds a verdict"
                ),
                Some(l) if !FastModel::supports(l) => {
                    format!("language {l:?} is not supported (French and English are)")
                }
                Some(_) => "nothing to judge (no words, only links or symbols)".to_string(),
            };
            json!({ "label": "unknown", "score": null, "reason": reason })
        }
    };
    let themes = mention.map(|m| json!(m.analysis.themes)).unwrap_or_else(|| json!([]));
    obj.insert("lang".into(), json!(lang));
    obj.insert("sentiment".into(), sentiment);
    obj.insert("themes".into(), themes);
}

/// Reads one line into `buf`, keeping at most `max` bytes (the rest of an
/// over-long line is skipped); returns the bytes consumed, 0 at the end.
fn read_line_bounded(input: &mut dyn BufRead, buf: &mut Vec<u8>, max: usize) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return Ok(consumed);
        }
        let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let room = max.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let len = chunk.len();
        input.consume(len);
        consumed += len;
        if done {
            return Ok(consumed);
        }
    }
}
