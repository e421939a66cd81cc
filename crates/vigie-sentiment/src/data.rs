//! Loaders for the labelled public datasets in the shared data folder
//! (`../shared/data`, one folder per dataset with its SOURCE.md), with fixed
//! train/eval splits that never mix rows:
//!
//! | dataset | train | eval |
//! |---|---|---|
//! | `allocine-movies-fr-blard-subsets` (binary FR reviews) | `train` | `validation` |
//! | `allocine-tvseries-fr-dongdemelo` (binary FR reviews) | `train` | `dev` |
//! | `umsab-french-tweets-deft2017` (3-class FR tweets) | `train` | `val` |
//! | `twitter-us-airline-sentiment` (3-class EN tweets) | text hash < 80 % | the rest |
//! | `tweeteval-sentiment-semeval2017` `val` (3-class EN tweets) | text hash < 50 % | the rest |
//! | `vader-icwsm2014-groundtruth` (EN snippets, graded) | — | all, by sign |
//!
//! The hash splits use [`split_bucket`]: FNV-1a of the text lower-cased with
//! whitespace collapsed, modulo 100, so duplicate tweets (retweets, copies)
//! always land on the same side. The official test splits are not here and
//! are never used.
//!
//! This module is the only one in the crate that reads files.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::{Example, Label};

/// The datasets this crate trains and evaluates on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dataset {
    AllocineMovies,
    AllocineTv,
    Deft,
    Airline,
    TweetEval,
    /// Eval only: English snippets with a mean human valence; the eval part
    /// is every row with |valence| > 0.05, labelled by its sign.
    VaderGroundTruth,
}

impl Dataset {
    pub const ALL: [Dataset; 6] = [
        Dataset::AllocineMovies,
        Dataset::AllocineTv,
        Dataset::Deft,
        Dataset::Airline,
        Dataset::TweetEval,
        Dataset::VaderGroundTruth,
    ];

    /// Folder name in the data directory.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::AllocineMovies => "allocine-movies-fr-blard-subsets",
            Dataset::AllocineTv => "allocine-tvseries-fr-dongdemelo",
            Dataset::Deft => "umsab-french-tweets-deft2017",
            Dataset::Airline => "twitter-us-airline-sentiment",
            Dataset::TweetEval => "tweeteval-sentiment-semeval2017",
            Dataset::VaderGroundTruth => "vader-icwsm2014-groundtruth",
        }
    }

    pub fn lang(self) -> &'static str {
        match self {
            Dataset::AllocineMovies | Dataset::AllocineTv | Dataset::Deft => "fr",
            _ => "en",
        }
    }

    /// Polar labels only (negative/positive): evaluate with
    /// [`crate::metrics::decide`]`(p, true)`.
    pub fn binary(self) -> bool {
        matches!(
            self,
            Dataset::AllocineMovies | Dataset::AllocineTv | Dataset::VaderGroundTruth
        )
    }

    /// No train part.
    pub fn eval_only(self) -> bool {
        self == Dataset::VaderGroundTruth
    }
}

/// A dataset's two parts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Split<T = Example> {
    pub train: Vec<T>,
    pub eval: Vec<T>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn format_err(path: &Path, message: impl Into<String>) -> DataError {
    DataError::Format {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn gz_reader(path: &Path) -> Result<impl Read, DataError> {
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    Ok(flate2::read::GzDecoder::new(f))
}

/// Rows of a gzipped CSV with a header, as maps from column name.
fn read_csv(path: &Path, columns: &[&str]) -> Result<Vec<Vec<String>>, DataError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(gz_reader(path)?);
    let headers = rdr
        .headers()
        .map_err(|e| format_err(path, e.to_string()))?
        .clone();
    let idx: Vec<usize> = columns
        .iter()
        .map(|c| {
            headers
                .iter()
                .position(|h| h == *c)
                .ok_or_else(|| format_err(path, format!("no column {c:?}")))
        })
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| format_err(path, e.to_string()))?;
        out.push(
            idx.iter()
                .map(|i| rec.get(*i).unwrap_or("").to_string())
                .collect(),
        );
    }
    Ok(out)
}

/// `{"text": …, "label": …}` lines of a gzipped JSONL file.
fn read_jsonl(path: &Path) -> Result<Vec<(String, String)>, DataError> {
    #[derive(serde::Deserialize)]
    struct Line {
        text: String,
        label: String,
    }
    let mut out = Vec::new();
    for (n, line) in BufReader::new(gz_reader(path)?).lines().enumerate() {
        let line = line.map_err(io_err(path))?;
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(&line)
            .map_err(|e| format_err(path, format!("line {}: {e}", n + 1)))?;
        out.push((l.text, l.label));
    }
    Ok(out)
}

fn label(path: &Path, s: &str) -> Result<Label, DataError> {
    s.parse::<Label>()
        .map_err(|e| format_err(path, e.to_string()))
}

/// The split bucket of a text, 0..100: FNV-1a of the text lower-cased with
/// whitespace collapsed.
pub fn split_bucket(text: &str) -> u64 {
    let norm: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    crate::features::stable_hash(&norm.join(" ")) % 100
}

fn examples(
    path: &Path,
    rows: Vec<(String, String)>,
    lang: &str,
) -> Result<Vec<Example>, DataError> {
    rows.into_iter()
        .map(|(text, l)| {
            Ok(Example {
                text,
                lang: lang.to_string(),
                label: label(path, &l)?,
            })
        })
        .collect()
}

fn csv_examples(path: &Path, lang: &str, label_col: &str) -> Result<Vec<Example>, DataError> {
    let rows = read_csv(path, &["text", label_col])?
        .into_iter()
        .map(|mut r| {
            let l = r.pop().unwrap_or_default();
            let t = r.pop().unwrap_or_default();
            (t, l)
        })
        .collect();
    examples(path, rows, lang)
}

/// Load a dataset's train and eval parts (see the module docs for the rules).
pub fn load(data_dir: &Path, ds: Dataset) -> Result<Split, DataError> {
    let dir = data_dir.join(ds.name());
    let lang = ds.lang();
    match ds {
        Dataset::AllocineMovies => Ok(Split {
            train: csv_examples(&dir.join("train.csv.gz"), lang, "label")?,
            eval: csv_examples(&dir.join("validation.csv.gz"), lang, "label")?,
        }),
        Dataset::AllocineTv => Ok(Split {
            train: csv_examples(&dir.join("train.csv.gz"), lang, "label")?,
            eval: csv_examples(&dir.join("dev.csv.gz"), lang, "label")?,
        }),
        Dataset::Deft => {
            let (tp, vp) = (dir.join("train.jsonl.gz"), dir.join("val.jsonl.gz"));
            Ok(Split {
                train: examples(&tp, read_jsonl(&tp)?, lang)?,
                eval: examples(&vp, read_jsonl(&vp)?, lang)?,
            })
        }
        Dataset::Airline => {
            let all = csv_examples(&dir.join("tweets-dev.csv.gz"), lang, "airline_sentiment")?;
            Ok(hash_split(all, 80))
        }
        Dataset::TweetEval => {
            let p = dir.join("val.jsonl.gz");
            Ok(hash_split(examples(&p, read_jsonl(&p)?, lang)?, 50))
        }
        Dataset::VaderGroundTruth => {
            let eval = vader_graded(data_dir)?
                .into_iter()
                .filter(|(_, v)| v.abs() > 0.05)
                .map(|(text, v)| Example {
                    text,
                    lang: "en".into(),
                    label: if v > 0.0 {
                        Label::Positive
                    } else {
                        Label::Negative
                    },
                })
                .collect();
            Ok(Split {
                train: Vec::new(),
                eval,
            })
        }
    }
}

fn hash_split(all: Vec<Example>, train_percent: u64) -> Split {
    let (train, eval) = all
        .into_iter()
        .partition(|e| split_bucket(&e.text) < train_percent);
    Split { train, eval }
}

/// The VADER ground-truth snippets (Amazon, movie, NYT) with their mean human
/// valence (-4..4).
pub fn vader_graded(data_dir: &Path) -> Result<Vec<(String, f32)>, DataError> {
    let dir = data_dir.join(Dataset::VaderGroundTruth.name());
    let mut out = Vec::new();
    for f in [
        "amazonReviewSnippets_GroundTruth.csv.gz",
        "movieReviewSnippets_GroundTruth.csv.gz",
        "nytEditorialSnippets_GroundTruth.csv.gz",
    ] {
        let path = dir.join(f);
        for r in read_csv(&path, &["mean_sentiment", "text"])? {
            let v: f32 = r[0]
                .trim()
                .parse()
                .map_err(|_| format_err(&path, format!("bad valence {:?}", r[0])))?;
            out.push((r[1].clone(), v));
        }
    }
    Ok(out)
}

/// Department of an airline `negativereason` (`None`: not routed, e.g.
/// "Can't Tell").
pub fn department_of(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "Customer Service Issue" => "customer_service",
        "Late Flight" | "Cancelled Flight" | "Lost Luggage" | "Damaged Luggage" | "longlines" => {
            "delivery_logistics"
        }
        "Bad Flight" => "product_quality",
        "Flight Booking Problems" => "website_app",
        "Flight Attendant Complaints" => "staff_hr",
        _ => return None,
    })
}

/// Negative airline tweets with their department ([`department_of`]), split
/// 80/20 by the same text hash as the sentiment split.
pub fn airline_routing(data_dir: &Path) -> Result<Split<(String, String)>, DataError> {
    let path = data_dir
        .join(Dataset::Airline.name())
        .join("tweets-dev.csv.gz");
    let mut split = Split::default();
    for r in read_csv(&path, &["text", "negativereason"])? {
        let Some(dep) = department_of(r[1].trim()) else {
            continue;
        };
        let row = (r[0].clone(), dep.to_string());
        if split_bucket(&row.0) < 80 {
            split.train.push(row);
        } else {
            split.eval.push(row);
        }
    }
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_bucket_ignores_case_and_spacing() {
        assert_eq!(split_bucket("Hello  World"), split_bucket("hello world "));
        assert!(split_bucket("anything") < 100);
    }

    #[test]
    fn departments() {
        assert_eq!(department_of("Lost Luggage"), Some("delivery_logistics"));
        assert_eq!(department_of("Can't Tell"), None);
        assert_eq!(department_of(""), None);
    }

    #[test]
    fn missing_data_dir_is_an_error() {
        let e = load(Path::new("/nonexistent-vigie"), Dataset::Deft);
        assert!(matches!(e, Err(DataError::Io { .. })));
    }
}
