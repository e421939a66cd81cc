//! Import files: JSON Lines or CSV in Vigie's import schema.
//!
//! | field          | required | meaning |
//! |----------------|----------|---------|
//! | `id`           | no       | the item's id in its source (string or integer) |
//! | `url`          | yes, unless `id` is given | link to the item (http or https) |
//! | `title`        | no       | title (HTML allowed) |
//! | `text`         | yes, unless `title` is given | body (HTML allowed) |
//! | `author`       | no       | author name or handle |
//! | `published_at` | yes      | RFC 3339 (`2026-11-23T08:00:00+01:00`), `YYYY-MM-DD HH:MM[:SS]` (UTC), `YYYY-MM-DD`, RFC 2822, or Unix seconds; from 1991 to a day after the import |
//! | `source`       | yes      | platform kind: news, blog, forum, review, twitter, facebook, instagram, … |
//! | `site`         | no       | site name or domain (default: the URL's host) |
//! | `lang`         | no       | language code (default: detected) |
//! | `reach`        | no       | audience figure (followers, views): a non-negative integer |
//! | `followers`, `likes`, `shares`, `comments`, `views` | no | the author's followers and the item's engagement, non-negative integers (for the reach estimate) |
//! | `text_format`  | no       | `html` (default: markup is removed, entities decoded) or `plain` (text taken as it is; Vigie's exports say `plain`) |
//!
//! Unknown fields are ignored, so exports from other tools import as they
//! are. A line that does not fit is reported with its number and reason, and
//! the others are imported.

use std::io::BufRead;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};
use vigie_model::{Engagement, RawMention, SourceKind};

/// The import file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    Jsonl,
    Csv,
}

/// One line of an import file, parsed or rejected.
#[derive(Debug)]
pub struct ImportLine {
    /// 1-based line number in the file (for CSV, the record's first line).
    pub line: u64,
    pub result: Result<RawMention, String>,
}

/// Longest line accepted (a 1 MB post with its JSON escaping fits).
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Reads an import file lazily: memory stays flat whatever its size.
pub fn read_import<'a, R: BufRead + 'a>(reader: R, format: ImportFormat) -> Box<dyn Iterator<Item = ImportLine> + 'a> {
    match format {
        ImportFormat::Jsonl => Box::new(JsonlLines { reader, line: 0, buf: Vec::new(), done: false }),
        ImportFormat::Csv => Box::new(csv_lines(reader)),
    }
}

struct JsonlLines<R> {
    reader: R,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> Iterator for JsonlLines<R> {
    type Item = ImportLine;

    fn next(&mut self) -> Option<ImportLine> {
        loop {
            if self.done {
                return None;
            }
            self.buf.clear();
            self.line += 1;
            let line = self.line;
            match read_bounded_line(&mut self.reader, &mut self.buf, MAX_LINE_BYTES) {
                Ok(LineRead::Eof) => {
                    self.done = true;
                    return None;
                }
                Ok(LineRead::TooLong) => {
                    return Some(ImportLine {
                        line,
                        result: Err(format!("line is longer than {} bytes", MAX_LINE_BYTES)),
                    });
                }
                Ok(LineRead::Line) => {}
                Err(e) => {
                    self.done = true;
                    return Some(ImportLine { line, result: Err(format!("read error: {e}")) });
                }
            }
            let text = match std::str::from_utf8(&self.buf) {
                Ok(t) => t.trim(),
                Err(e) => {
                    return Some(ImportLine {
                        line,
                        result: Err(format!("invalid UTF-8 at byte {} of the line", e.valid_up_to())),
                    });
                }
            };
            if text.is_empty() {
                continue;
            }
            let result = match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => raw_from_object(&map),
                Ok(_) => Err("expected a JSON object".to_string()),
                Err(e) => Err(format!("invalid JSON: {e}")),
            };
            return Some(ImportLine { line, result });
        }
    }
}

enum LineRead {
    Line,
    TooLong,
    Eof,
}

/// Reads one `\n`-terminated line into `buf`, keeping at most `max` bytes and
/// skipping the rest of an over-long line.
fn read_bounded_line<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>, max: usize) -> std::io::Result<LineRead> {
    let mut too_long = false;
    let mut any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(if !any {
                LineRead::Eof
            } else if too_long {
                LineRead::TooLong
            } else {
                LineRead::Line
            });
        }
        any = true;
        let (chunk, found_newline) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..i], true),
            None => (available, false),
        };
        if !too_long {
            if buf.len() + chunk.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let consumed = chunk.len() + usize::from(found_newline);
        reader.consume(consumed);
        if found_newline {
            return Ok(if too_long { LineRead::TooLong } else { LineRead::Line });
        }
    }
}

/// CSV records, each bounded to [`MAX_LINE_BYTES`]: physical lines are read
/// with a bound and joined while a quoted field is open, so an unclosed quote
/// cannot pull the rest of a large file into memory. Each record is then
/// parsed by the `csv` crate.
struct CsvRecords<R> {
    reader: R,
    line: u64,
    buf: Vec<u8>,
    headers: Option<Vec<String>>,
    /// The field separator, told from the header line: `,`, or `;` as a
    /// spreadsheet set to French writes it, or a tab.
    delimiter: u8,
    done: bool,
}

/// The separator of a CSV file, from its header line: the most frequent of
/// `,`, `;` and tab outside quotes (`,` when none is there).
fn sniff_delimiter(header: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in header {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], usize::from(i == 0))).unwrap_or(0);
    if counts[best] == 0 { b',' } else { [b',', b';', b'\t'][best] }
}

/// The fields of the import schema a CSV header may name (the others are ignored).
const CSV_FIELDS: [&str; 15] = [
    "id",
    "url",
    "title",
    "text",
    "text_format",
    "author",
    "site",
    "source",
    "lang",
    "published_at",
    "followers",
    "likes",
    "shares",
    "comments",
    "views",
];

impl<R: BufRead> CsvRecords<R> {
    /// The next raw record and the number of its first line.
    fn next_record(&mut self) -> Option<(u64, Result<Vec<u8>, String>)> {
        let mut record: Vec<u8> = Vec::new();
        let mut first_line = 0;
        let mut quotes = 0usize;
        loop {
            if self.done {
                return (!record.is_empty()).then(|| (first_line, Err("unclosed quote at the end of the file".into())));
            }
            self.buf.clear();
            self.line += 1;
            match read_bounded_line(&mut self.reader, &mut self.buf, MAX_LINE_BYTES) {
                Ok(LineRead::Eof) => {
                    self.done = true;
                    continue;
                }
                Ok(LineRead::TooLong) => {
                    let start = if record.is_empty() { self.line } else { first_line };
                    return Some((start, Err(format!("record is longer than {MAX_LINE_BYTES} bytes"))));
                }
                Ok(LineRead::Line) => {}
                Err(e) => {
                    self.done = true;
                    return Some((self.line, Err(format!("read error: {e}"))));
                }
            }
            if record.is_empty() {
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                first_line = self.line;
            } else {
                record.push(b'\n');
            }
            record.extend_from_slice(&self.buf);
            quotes += self.buf.iter().filter(|b| **b == b'"').count();
            if quotes.is_multiple_of(2) {
                return Some((first_line, Ok(record)));
            }
            if record.len() > MAX_LINE_BYTES {
                return Some((
                    first_line,
                    Err(format!("record is longer than {MAX_LINE_BYTES} bytes (an unclosed quote?)")),
                ));
            }
        }
    }
}

fn parse_csv_record(bytes: &[u8], delimiter: u8) -> Result<csv::StringRecord, String> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(bytes);
    match rdr.records().next() {
        Some(Ok(rec)) => Ok(rec),
        Some(Err(e)) => Err(format!("invalid CSV: {e}")),
        None => Err("empty record".into()),
    }
}

impl<R: BufRead> Iterator for CsvRecords<R> {
    type Item = ImportLine;

    fn next(&mut self) -> Option<ImportLine> {
        loop {
            let (line, raw) = self.next_record()?;
            if self.headers.is_none()
                && let Ok(bytes) = &raw
            {
                self.delimiter = sniff_delimiter(bytes);
            }
            let record = raw.and_then(|bytes| parse_csv_record(&bytes, self.delimiter));
            let Some(headers) = &self.headers else {
                match record {
                    Ok(rec) => {
                        let names: Vec<String> =
                            rec.iter().map(|s| s.trim().trim_start_matches('\u{feff}').to_ascii_lowercase()).collect();
                        if !names.iter().any(|n| CSV_FIELDS.contains(&n.as_str())) {
                            self.done = true;
                            let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
                            return Some(ImportLine {
                                line,
                                result: Err(format!(
                                    "the CSV header names none of the import fields ({}): it has {:?}",
                                    CSV_FIELDS.join(", "),
                                    shown
                                )),
                            });
                        }
                        self.headers = Some(names);
                        continue;
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(ImportLine { line, result: Err(format!("cannot read the CSV header: {e}")) });
                    }
                }
            };
            let result = record.and_then(|rec| {
                let mut map = Map::new();
                for (name, value) in headers.iter().zip(rec.iter()) {
                    if !value.is_empty() {
                        map.insert(name.clone(), Value::String(value.to_string()));
                    }
                }
                raw_from_object(&map)
            });
            return Some(ImportLine { line, result });
        }
    }
}

fn csv_lines<R: BufRead>(reader: R) -> impl Iterator<Item = ImportLine> {
    CsvRecords { reader, line: 0, buf: Vec::new(), headers: None, delimiter: b',', done: false }
}

fn string_field(map: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!("field `{name}` must be a string, not {}", json_kind(other))),
    }
}

fn required(map: &Map<String, Value>, name: &str) -> Result<String, String> {
    string_field(map, name)?.ok_or_else(|| format!("missing field `{name}`"))
}

/// How a JSON value is named in error messages (`a number`, `an array`…).
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Maps one object of the import schema to a raw mention.
pub fn raw_from_object(map: &Map<String, Value>) -> Result<RawMention, String> {
    let id = string_field(map, "id")?;
    let title = string_field(map, "title")?;
    // A link or an id identifies the item; a body or a title says something.
    let url = match (string_field(map, "url")?, &id) {
        (None, None) => return Err("missing field `url` (or `id`)".to_string()),
        (url, _) => url,
    };
    let text = match (string_field(map, "text")?, &title) {
        (None, None) => return Err("missing field `text`".to_string()),
        (text, _) => text.unwrap_or_default(),
    };
    let published = required(map, "published_at")?;
    let published_at = parse_datetime(&published).map_err(|e| format!("field `published_at`: {e}"))?;
    if let Some(why) = vigie_model::implausible_published_at(published_at, Utc::now()) {
        return Err(format!("field `published_at`: {why}"));
    }
    let source: SourceKind = required(map, "source")?.parse().map_err(|e| format!("field `source`: {e}"))?;
    let reach = count_field(map, "reach")?.map(|r| r as i64);
    let engagement = Engagement {
        followers: count_field(map, "followers")?,
        likes: count_field(map, "likes")?,
        shares: count_field(map, "shares")?,
        comments: count_field(map, "comments")?,
        views: count_field(map, "views")?,
    };
    let plain_text = match string_field(map, "text_format")?.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("html") => false,
        Some("plain") => true,
        Some(other) => {
            return Err(format!("field `text_format` must be `html` or `plain`, not {other:?}"));
        }
    };
    Ok(RawMention {
        plain_text,
        source_item_id: id,
        url,
        title,
        text,
        author: string_field(map, "author")?,
        published_at: Some(published_at),
        source_kind: Some(source),
        site: string_field(map, "site")?,
        lang: string_field(map, "lang")?,
        reach,
        engagement,
    })
}

/// A non-negative integer field (a number, or a string holding one; empty is
/// absent). Bounded to `i64::MAX` so every backend can store it.
fn count_field(map: &Map<String, Value>, name: &str) -> Result<Option<u64>, String> {
    let parsed = match map.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => {
            n.as_u64().ok_or_else(|| format!("field `{name}` must be a non-negative integer, not {n}"))?
        }
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => {
            s.trim().parse::<u64>().map_err(|_| format!("field `{name}` must be a non-negative integer, not {s:?}"))?
        }
        Some(other) => {
            return Err(format!("field `{name}` must be a number, not {}", json_kind(other)));
        }
    };
    if parsed > i64::MAX as u64 {
        return Err(format!("field `{name}` is too large: {parsed}"));
    }
    Ok(Some(parsed))
}

/// Parses the date formats the import schema accepts; times without an
/// offset are UTC.
pub fn parse_datetime(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f %z", "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    if !s.is_empty()
        && s.len() <= 12
        && s.bytes().all(|b| b.is_ascii_digit())
        && let Some(t) = s.parse::<i64>().ok().and_then(|secs| DateTime::from_timestamp(secs, 0))
    {
        return Ok(t);
    }
    Err(format!("cannot read {s:?} as a date (use RFC 3339, e.g. 2026-11-23T08:00:00Z)"))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn lines(input: &str, format: ImportFormat) -> Vec<ImportLine> {
        read_import(input.as_bytes(), format).collect()
    }

    #[test]
    fn jsonl_lines_are_parsed_and_bad_ones_reported_with_their_number() {
        let input = concat!(
            r#"{"id": 570301130888122368, "url": "https://twitter.com/i/web/status/1", "text": "@united merci", "published_at": "2015-02-24T19:15:00Z", "source": "twitter", "reach": 12}"#,
            "\n\n",
            "{not json}\n",
            r#"{"url": "https://a.fr/x", "published_at": "2015-02-24", "source": "blog"}"#,
            "\n",
            r#"{"url": "https://a.fr/y", "text": "t", "published_at": "hier", "source": "blog"}"#,
            "\n",
            r#"{"url": "https://a.fr/z", "text": "t", "published_at": "2015-02-24", "source": "myspace"}"#,
            "\n",
            r#"[1, 2]"#,
        );
        let got = lines(input, ImportFormat::Jsonl);
        assert_eq!(got.len(), 6);
        let first = got[0].result.as_ref().unwrap();
        assert_eq!(first.source_item_id.as_deref(), Some("570301130888122368"));
        assert_eq!(first.reach, Some(12));
        assert_eq!(first.source_kind, Some(SourceKind::Twitter));
        let errors: Vec<(u64, String)> =
            got.iter().filter_map(|l| l.result.as_ref().err().map(|e| (l.line, e.clone()))).collect();
        assert_eq!(errors[0].0, 3);
        assert!(errors[0].1.starts_with("invalid JSON"), "{}", errors[0].1);
        assert_eq!(errors[1], (4, "missing field `text`".to_string()));
        assert_eq!(errors[2].0, 5);
        assert!(errors[2].1.contains("cannot read \"hier\" as a date"));
        assert!(errors[3].1.contains("unknown source kind \"myspace\""), "{}", errors[3].1);
        assert_eq!(errors[4], (7, "expected a JSON object".to_string()));
    }

    #[test]
    fn an_id_stands_for_a_missing_url_and_a_title_for_a_missing_text() {
        let input = concat!(
            r#"{"id": "feed-item-7", "title": "Grève SNCF jeudi", "text": "", "url": null, "published_at": "2026-11-23", "source": "rss"}"#,
            "\n",
            r#"{"title": "t", "text": "x", "published_at": "2026-11-23", "source": "rss"}"#,
            "\n",
        );
        let got = lines(input, ImportFormat::Jsonl);
        let first = got[0].result.as_ref().unwrap();
        assert_eq!(
            (first.url.as_deref(), first.text.as_str(), first.title.as_deref()),
            (None, "", Some("Grève SNCF jeudi"))
        );
        assert_eq!(got[1].result.as_ref().unwrap_err(), "missing field `url` (or `id`)");
    }

    #[test]
    fn invalid_utf8_and_overlong_lines_are_rejected_cleanly() {
        let mut input = b"{\"text\": \"caf\xe9\"}\n".to_vec();
        input.extend_from_slice(&vec![b'x'; MAX_LINE_BYTES + 10]);
        input.extend_from_slice(
            b"\n{\"url\":\"https://a.fr\",\"text\":\"ok\",\"published_at\":\"2026-01-01\",\"source\":\"blog\"}\n",
        );
        let got: Vec<ImportLine> = read_import(&input[..], ImportFormat::Jsonl).collect();
        assert_eq!(got.len(), 3);
        assert!(got[0].result.as_ref().unwrap_err().contains("invalid UTF-8"));
        assert!(got[1].result.as_ref().unwrap_err().contains("longer than"));
        assert!(got[2].result.is_ok());
        assert_eq!(got[2].line, 3);
    }

    #[test]
    fn csv_records_use_the_header_names() {
        let input = "url,text,published_at,source,author,extra\n\
                     https://a.fr/1,\"Bonjour, \"\"SNCF\"\"\",2026-11-23 08:00,forum,Jean,x\n\
                     https://a.fr/2,,2026-11-23,forum,,\n";
        let got = lines(input, ImportFormat::Csv);
        let first = got[0].result.as_ref().unwrap();
        assert_eq!(first.text, "Bonjour, \"SNCF\"");
        assert_eq!(first.author.as_deref(), Some("Jean"));
        assert_eq!(first.published_at, Some(Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap()));
        assert_eq!((got[1].line, got[1].result.as_ref().unwrap_err().as_str()), (3, "missing field `text`"));
    }

    #[test]
    fn a_spreadsheet_csv_with_semicolons_or_tabs_is_read() {
        // What a spreadsheet set to French saves: a byte-order mark, `;` between fields, `,` in text.
        let input =
            "\u{feff}url;text;published_at;source\nhttps://b.fr/5;Livraison en retard, encore;2026-01-01;news\n";
        let got = lines(input, ImportFormat::Csv);
        let first = got[0].result.as_ref().unwrap();
        assert_eq!(first.url.as_deref(), Some("https://b.fr/5"));
        assert_eq!(first.text, "Livraison en retard, encore");
        let tabs = lines(
            "url\ttext\tpublished_at\tsource\nhttps://b.fr/6\tAvec une tabulation\t2026-01-01\tnews\n",
            ImportFormat::Csv,
        );
        assert_eq!(tabs[0].result.as_ref().unwrap().text, "Avec une tabulation");
        // A comma header with a `;` inside a quoted name is still a comma file.
        assert_eq!(sniff_delimiter(b"url,\"text;x\",source"), b',');
    }

    #[test]
    fn a_csv_header_without_import_fields_is_refused_once() {
        let got = lines("foo,bar\n1,2\n3,4\n", ImportFormat::Csv);
        assert_eq!(got.len(), 1, "one refusal, not one per line");
        let e = got[0].result.as_ref().unwrap_err();
        assert!(e.contains("names none of the import fields") && e.contains("\"foo\""), "{e}");
    }

    #[test]
    fn an_unclosed_csv_quote_is_bounded_and_reported() {
        let mut input = String::from("url,text,published_at,source\nhttps://a.fr/1,\"never closed,2026-11-23,forum\n");
        let filler = "une ligne de texte sans guillemet\n";
        while input.len() < MAX_LINE_BYTES + 100_000 {
            input.push_str(filler);
        }
        let got = lines(&input, ImportFormat::Csv);
        assert_eq!(got[0].line, 2);
        assert!(got[0].result.as_ref().unwrap_err().contains("an unclosed quote?"), "{:?}", got[0].result);
    }

    #[test]
    fn dates_in_common_formats_are_read_as_utc() {
        let expected = Utc.with_ymd_and_hms(2026, 11, 23, 7, 0, 0).unwrap();
        for s in [
            "2026-11-23T08:00:00+01:00",
            "2026-11-23T07:00:00Z",
            "2026-11-23 07:00:00",
            "2026-11-23 07:00",
            "Mon, 23 Nov 2026 07:00:00 +0000",
            "1795417200",
        ] {
            assert_eq!(parse_datetime(s), Ok(expected), "{s}");
        }
        assert!(parse_datetime("").is_err());
    }
}
