//! `vigie eval …`: accuracy measured on public labelled data, written to
//! docs/EVALUATION.md so anyone can rerun it. Each evaluation owns one section
//! of that file, between `<!-- NAME:start -->` and `<!-- NAME:end -->`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use flate2::read::GzDecoder;

use crate::cli::EvalCommand;

/// One labelled text file: where it is, how to read it, its true language.
struct LangSet {
    name: &'static str,
    path: &'static str,
    format: Format,
    lang: &'static str,
    kind: &'static str,
}

#[derive(Clone, Copy)]
enum Format {
    /// CSV with a `text` column.
    Csv,
    /// JSON Lines with a `text` field.
    Jsonl,
}

const LANG_SETS: &[LangSet] = &[
    LangSet { name: "Allociné films (validation)", path: "allocine-movies-fr-blard-subsets/validation.csv.gz", format: Format::Csv, lang: "fr", kind: "reviews" },
    LangSet { name: "Allociné TV series (dev)", path: "allocine-tvseries-fr-dongdemelo/dev.csv.gz", format: Format::Csv, lang: "fr", kind: "reviews, lower-cased" },
    LangSet { name: "DEFT 2017 French tweets (val)", path: "umsab-french-tweets-deft2017/val.jsonl.gz", format: Format::Jsonl, lang: "fr", kind: "tweets" },
    LangSet { name: "SemEval 2017 English tweets (val)", path: "tweeteval-sentiment-semeval2017/val.jsonl.gz", format: Format::Jsonl, lang: "en", kind: "tweets" },
    LangSet { name: "US airline tweets (dev)", path: "twitter-us-airline-sentiment/tweets-dev.csv.gz", format: Format::Csv, lang: "en", kind: "tweets" },
];

pub fn run(command: EvalCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        EvalCommand::Lang { data, report } => {
            let section = eval_lang(&data)?;
            match report {
                Some(path) => {
                    write_section(&path, "lang", &section)?;
                    writeln!(out, "language identification results written to {}", path.display())?;
                }
                None => out.write_all(section.as_bytes())?,
            }
            Ok(())
        }
    }
}

fn read_texts(path: &Path, format: Format) -> anyhow::Result<Vec<String>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader = BufReader::new(GzDecoder::new(file));
    let mut texts = Vec::new();
    match format {
        Format::Csv => {
            let mut rdr = csv::Reader::from_reader(reader);
            let column = rdr
                .headers()?
                .iter()
                .position(|h| h == "text")
                .with_context(|| format!("{} has no `text` column", path.display()))?;
            for record in rdr.records() {
                if let Some(text) = record?.get(column) {
                    texts.push(text.to_string());
                }
            }
        }
        Format::Jsonl => {
            for line in reader.lines() {
                let value: serde_json::Value = serde_json::from_str(&line?)?;
                if let Some(text) = value["text"].as_str() {
                    texts.push(text.to_string());
                }
            }
        }
    }
    Ok(texts)
}

/// Language identification as the pipeline runs it (normalized text in,
/// `vigie_nlp::detect_language` out), per dataset.
fn eval_lang(data: &Path) -> anyhow::Result<String> {
    let mut s = String::new();
    writeln!(s, "## Language identification\n")?;
    writeln!(
        s,
        "`vigie eval lang --data ../shared/data --report docs/EVALUATION.md`: every text of each set goes through the \
         pipeline's cleaning and `vigie_nlp::detect_language` (French/English function words, then whatlang; below \
         its confidence floor the language is *unknown*, not guessed). Nothing here is trained, so every row is an \
         evaluation row.\n"
    )?;
    writeln!(s, "| dataset | kind | true language | texts | correct | unknown | wrong | most frequent wrong answers |")?;
    writeln!(s, "|---|---|---|---|---|---|---|---|")?;
    let (mut total, mut total_ok, mut total_unknown) = (0usize, 0usize, 0usize);
    for set in LANG_SETS {
        let texts = read_texts(&data.join(set.path), set.format)?;
        let (mut ok, mut unknown) = (0usize, 0usize);
        let mut wrong: BTreeMap<&'static str, usize> = BTreeMap::new();
        for text in &texts {
            let clean = vigie_nlp::html_to_text(text);
            match vigie_nlp::detect_language(&clean) {
                Some(d) if d.code == set.lang => ok += 1,
                Some(d) => *wrong.entry(d.code).or_default() += 1,
                None => unknown += 1,
            }
        }
        let n = texts.len().max(1) as f64;
        let n_wrong: usize = wrong.values().sum();
        let mut top: Vec<(&str, usize)> = wrong.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = top.iter().take(3).map(|(l, c)| format!("{l} {c}")).collect();
        writeln!(
            s,
            "| {} | {} | {} | {} | **{:.1} %** | {:.1} % | {:.1} % | {} |",
            set.name,
            set.kind,
            set.lang,
            texts.len(),
            100.0 * ok as f64 / n,
            100.0 * unknown as f64 / n,
            100.0 * n_wrong as f64 / n,
            top.join(", ")
        )?;
        total += texts.len();
        total_ok += ok;
        total_unknown += unknown;
    }
    let n = total.max(1) as f64;
    writeln!(
        s,
        "\nOver all {total} texts: {:.1} % correct, {:.1} % unknown, {:.1} % wrong.\n",
        100.0 * total_ok as f64 / n,
        100.0 * total_unknown as f64 / n,
        100.0 * (total - total_ok - total_unknown) as f64 / n
    )?;
    Ok(s)
}

/// Replaces (or appends) the `name` section of the Markdown file at `path`.
fn write_section(path: &PathBuf, name: &str, section: &str) -> anyhow::Result<()> {
    let start = format!("<!-- {name}:start -->");
    let end = format!("<!-- {name}:end -->");
    let block = format!("{start}\n{section}{end}\n");
    let current = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            "# Evaluation\n\nAccuracy of Vigie's text understanding, measured on public labelled data \
             (`../shared/data`; see each folder's SOURCE.md) by commands anyone can rerun.\n\n"
                .to_string()
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let updated = match (current.find(&start), current.find(&end)) {
        (Some(a), Some(b)) if b > a => format!("{}{block}{}", &current[..a], current[b + end.len()..].trim_start_matches('\n')),
        _ => format!("{}{}{block}", current, if current.ends_with("\n\n") { "" } else { "\n" }),
    };
    std::fs::write(path, updated).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_in_place_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("EVALUATION.md");
        write_section(&path, "lang", "## Language\nv1\n").unwrap();
        write_section(&path, "other", "## Other\nkept\n").unwrap();
        write_section(&path, "lang", "## Language\nv2\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Evaluation\n"));
        assert!(text.contains("v2") && !text.contains("v1"), "{text}");
        assert!(text.contains("## Other\nkept"));
        assert!(text.find("## Language").unwrap() < text.find("## Other").unwrap(), "{text}");
    }
}
