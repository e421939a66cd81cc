//! `vigie detect --input FILE.csv`: the spike detector, with its default
//! settings, over a `timestamp,value` series (NAB's format); writes
//! `timestamp,value,score,alert`, the timestamp and value as the input
//! spelled them. Also the series reader `vigie eval spikes` uses.
//!
//! Every problem in the input (no header, a missing or non-numeric value, a
//! timestamp that is not after the previous one) is a usage error (exit code
//! 2) naming its line. Rows are written as they are read.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};
use vigie_detect::{DetectError, Detector, DetectorConfig};

use crate::app::UsageError;
use crate::cli::DetectArgs;

pub fn run(args: DetectArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let rows = SeriesReader::open(&args.input)?;
    let mut detector = Detector::new(DetectorConfig::default())?;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(out));
    writer.write_record(["timestamp", "value", "score", "alert"])?;
    for row in rows {
        let row = row?;
        let verdict = observe(&mut detector, &row)?;
        let score = format!("{:.4}", verdict.score);
        writer.write_record([row.timestamp.as_str(), row.value_text.as_str(), &score, alert_flag(verdict.alert)])?;
    }
    writer.flush()?;
    Ok(())
}

fn alert_flag(alert: bool) -> &'static str {
    if alert { "1" } else { "0" }
}

/// Feeds one row, turning the detector's refusals into errors naming the line.
pub(crate) fn observe(detector: &mut Detector, row: &Row) -> anyhow::Result<vigie_detect::Verdict> {
    detector.observe(row.at, row.value).map_err(|e| {
        let reason = match e {
            DetectError::OutOfOrder { .. } => format!(
                "{} falls in the same {}-second bucket as the row before; the detector takes one value per bucket",
                row.timestamp,
                detector.config().bucket_secs
            ),
            other => other.to_string(),
        };
        UsageError(format!("{}: line {}: {reason}", row.source, row.line)).into()
    })
}

/// One row of a series.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// Where it came from (the file name, or "standard input"), for messages.
    pub source: std::rc::Rc<str>,
    /// Its 1-based line number.
    pub line: u64,
    /// The timestamp as written.
    pub timestamp: String,
    pub at: DateTime<Utc>,
    /// The value as written, and as a number.
    pub value_text: String,
    pub value: f64,
}

/// Reads a `timestamp,value` CSV (gzip-compressed or not; `-` for standard
/// input) row by row, checking each row.
pub(crate) struct SeriesReader {
    source: std::rc::Rc<str>,
    records: csv::StringRecordsIntoIter<Box<dyn Read>>,
    timestamp_column: usize,
    value_column: usize,
    /// The header's number of fields: every row has as many.
    fields: usize,
    previous: Option<(DateTime<Utc>, u64)>,
}

fn usage_at(source: &str, line: u64, reason: impl std::fmt::Display) -> anyhow::Error {
    UsageError(format!("{source}: line {line}: {reason}")).into()
}

impl SeriesReader {
    pub(crate) fn open(path: &Path) -> anyhow::Result<SeriesReader> {
        let (source, reader): (String, Box<dyn Read>) = if path.as_os_str() == "-" {
            ("standard input".into(), Box::new(std::io::stdin()))
        } else {
            let file = File::open(path).map_err(|e| UsageError(format!("cannot open {}: {e}", path.display())))?;
            (path.display().to_string(), Box::new(file))
        };
        SeriesReader::new(&source, reader)
    }

    pub(crate) fn new(source: &str, reader: Box<dyn Read>) -> anyhow::Result<SeriesReader> {
        // Gzip is recognised by its magic bytes, so a compressed standard input works too.
        let mut buffered = BufReader::with_capacity(1 << 16, reader);
        let gzip = buffered.fill_buf().map_err(|e| usage_at(source, 1, e))?.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn Read> =
            if gzip { Box::new(flate2::read::MultiGzDecoder::new(buffered)) } else { Box::new(buffered) };
        let mut csv = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(reader);
        let mut header = csv::StringRecord::new();
        let found = csv.read_record(&mut header).map_err(|e| usage_at(source, 1, read_error(e)))?;
        if !found {
            return Err(usage_at(source, 1, "the input is empty: expected a `timestamp,value` header"));
        }
        let column = |name: &str| header.iter().position(|h| h.trim().trim_start_matches('\u{feff}') == name);
        let (Some(timestamp_column), Some(value_column)) = (column("timestamp"), column("value")) else {
            let shown: String = header.iter().collect::<Vec<_>>().join(",").chars().take(80).collect();
            return Err(usage_at(
                source,
                1,
                format!("expected a header naming the `timestamp` and `value` columns, found `{shown}`"),
            ));
        };
        Ok(SeriesReader {
            source: source.into(),
            records: csv.into_records(),
            timestamp_column,
            value_column,
            fields: header.len(),
            previous: None,
        })
    }

    fn row(&mut self, record: csv::StringRecord) -> anyhow::Result<Row> {
        let line = record.position().map_or(0, |p| p.line());
        let source = &*self.source;
        // A row with more or fewer fields than the header is a broken file
        // (a value with a comma, a line cut short), not one to guess at.
        if record.len() != self.fields {
            return Err(usage_at(
                source,
                line,
                format!("{} field(s) where the header has {}", record.len(), self.fields),
            ));
        }
        let field = |column: usize, name: &str| -> anyhow::Result<&str> {
            match record.get(column).map(str::trim) {
                Some(text) if !text.is_empty() => Ok(text),
                _ => Err(usage_at(source, line, format!("no {name}"))),
            }
        };
        let timestamp = field(self.timestamp_column, "timestamp")?.to_string();
        let value_text = field(self.value_column, "value")?.to_string();
        let Some(at) = parse_timestamp(&timestamp) else {
            return Err(usage_at(
                source,
                line,
                format!("`{timestamp}` is not a timestamp (expected e.g. 2015-02-26 21:42:53 or RFC 3339)"),
            ));
        };
        let value: f64 = match value_text.parse() {
            Ok(v) if f64::is_finite(v) && v >= 0.0 => v,
            Ok(_) => {
                return Err(usage_at(source, line, format!("`{value_text}` is not a count (finite, not negative)")));
            }
            Err(_) => return Err(usage_at(source, line, format!("`{value_text}` is not a number"))),
        };
        if let Some((previous, previous_line)) = self.previous
            && at <= previous
        {
            let what = if at == previous { "repeats" } else { "is before" };
            return Err(usage_at(
                source,
                line,
                format!("timestamp `{timestamp}` {what} the one on line {previous_line}: rows must be in time order"),
            ));
        }
        self.previous = Some((at, line));
        Ok(Row { source: self.source.clone(), line, timestamp, at, value_text, value })
    }
}

fn read_error(e: csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".into(),
        csv::ErrorKind::Io(io) => format!("cannot read: {io}"),
        _ => e.to_string(),
    }
}

impl Iterator for SeriesReader {
    type Item = anyhow::Result<Row>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = match self.records.next()? {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Some(Err(usage_at(&self.source, line, read_error(e))));
            }
        };
        Some(self.row(record))
    }
}

/// NAB's `2015-02-26 21:42:53` (optionally with fractional seconds, or a
/// `T`), taken as UTC, or RFC 3339 with its offset.
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> anyhow::Result<Vec<Row>> {
        SeriesReader::new("t.csv", Box::new(std::io::Cursor::new(text.as_bytes().to_vec())))?.collect()
    }

    #[test]
    fn reads_nab_rows_and_names_the_line_of_each_problem() {
        let rows = read("timestamp,value\n2015-02-26 21:42:53,8\n2015-02-26 21:47:53,0\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].line, rows[1].timestamp.as_str(), rows[1].value), (3, "2015-02-26 21:47:53", 0.0));

        let err = |text: &str| format!("{:#}", read(text).unwrap_err());
        assert_eq!(err(""), "t.csv: line 1: the input is empty: expected a `timestamp,value` header");
        assert!(err("2015-02-26 21:42:53,8\n").contains("line 1: expected a header"));
        let body = "timestamp,value\n2015-02-26 21:42:53,8\n2015-02-26 21:47:53,";
        assert_eq!(err(body), "t.csv: line 3: no value");
        assert!(err("timestamp,value\n2015-02-26 21:42:53,x\n").ends_with("line 2: `x` is not a number"));
        assert!(err("timestamp,value\n2015-02-26 21:42:53,-1\n").contains("line 2: `-1` is not a count"));
        assert!(err("timestamp,value\n2015-02-26 21:42:53,NaN\n").contains("line 2: `NaN` is not a count"));
        assert!(err("timestamp,value\nyesterday,1\n").contains("line 2: `yesterday` is not a timestamp"));
        let unsorted = "timestamp,value\n2015-02-26 21:47:53,1\n2015-02-26 21:42:53,1\n";
        assert!(err(unsorted).contains("line 3: timestamp `2015-02-26 21:42:53` is before the one on line 2"));
        let repeated = "timestamp,value\n2015-02-26 21:47:53,1\n2015-02-26 21:47:53,1\n";
        assert!(err(repeated).contains("line 3: timestamp `2015-02-26 21:47:53` repeats the one on line 2"));
    }

    #[test]
    fn timestamps_in_nab_and_rfc_3339_forms() {
        let t = parse_timestamp("2015-02-26 21:42:53").unwrap();
        assert_eq!(parse_timestamp("2015-02-26T21:42:53.000000"), Some(t));
        assert_eq!(parse_timestamp("2015-02-26T22:42:53+01:00"), Some(t));
        assert_eq!(parse_timestamp("26/02/2015"), None);
    }
}
