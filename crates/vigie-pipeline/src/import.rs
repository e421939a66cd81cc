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
///
/// Text is UTF-8; a line or record that is not (a spreadsheet's
/// Windows-1252, as French Excel saves CSV) is read as Windows-1252. A file
/// that starts with a UTF-16 byte-order mark (PowerShell's `>`) is decoded
/// whole first.
pub fn read_import<'a, R: BufRead + 'a>(
    mut reader: R,
    format: ImportFormat,
) -> Box<dyn Iterator<Item = ImportLine> + 'a> {
    // (A file that cannot be read at all, a `.gz` that is not gzip, says
    // so rather than passing for an empty one.)
    let utf16 = match reader.fill_buf() {
        Ok(start) => encoding_rs::Encoding::for_bom(start).filter(|(e, _)| *e != encoding_rs::UTF_8),
        Err(e) => return Box::new(std::iter::once(ImportLine { line: 1, result: Err(format!("read error: {e}")) })),
    };
    if let Some((encoding, _)) = utf16 {
        let mut bytes = Vec::new();
        if let Err(e) = reader.read_to_end(&mut bytes) {
            return Box::new(std::iter::once(ImportLine { line: 1, result: Err(format!("read error: {e}")) }));
        }
        let (text, _, _) = encoding.decode(&bytes);
        let decoded = std::io::Cursor::new(text.into_owned().into_bytes());
        return read_import(decoded, format);
    }
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
            let decoded = decode_text(&self.buf);
            let text = decoded.trim_start_matches('\u{feff}').trim();
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

/// A line as text: UTF-8 when it is. Else, a line without any UTF-8
/// character beyond ASCII is Windows-1252 (files saved by spreadsheets on
/// Windows), which gives every byte its character; a UTF-8 line with a stray
/// byte keeps its text, the byte becoming U+FFFD.
fn decode_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) if bytes.utf8_chunks().any(|chunk| !chunk.valid().is_ascii()) => String::from_utf8_lossy(bytes),
        Err(_) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0,
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
        let mut quotes = QuoteState::default();
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
                if self.headers.is_none() {
                    self.delimiter = sniff_delimiter(&self.buf);
                }
            } else {
                record.push(b'\n');
            }
            record.extend_from_slice(&self.buf);
            if !quotes.scan_line(&self.buf, self.delimiter) {
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

/// Where a record's quoting stands, line after line, as the `csv` crate
/// reads it: a quote opens a quoted field only at the start of a field, `""`
/// inside one is a quote, and a quote elsewhere (`Écran 27"`) is a
/// character. A line ending inside a quoted field continues the record.
#[derive(Debug, Default)]
struct QuoteState {
    quoted: bool,
    /// A quote seen inside a quoted field: it closes it unless another follows.
    pending: bool,
}

impl QuoteState {
    /// Reads one physical line (without its `\n`); true if the record goes on
    /// to the next line.
    fn scan_line(&mut self, line: &[u8], delimiter: u8) -> bool {
        let mut field_start = !self.quoted;
        for &b in line {
            if self.quoted {
                if self.pending {
                    self.pending = false;
                    if b == b'"' {
                        continue;
                    }
                    self.quoted = false;
                } else {
                    if b == b'"' {
                        self.pending = true;
                    }
                    continue;
                }
            }
            if b == delimiter {
                field_start = true;
            } else if b == b'"' && field_start {
                self.quoted = true;
                field_start = false;
            } else {
                field_start = false;
            }
        }
        if self.pending {
            self.pending = false;
            self.quoted = false;
        }
        self.quoted
    }
}

fn parse_csv_record(bytes: &[u8], delimiter: u8) -> Result<csv::StringRecord, String> {
    let text = decode_text(bytes);
    let mut rdr =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes());
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
                // More fields than the header names: a separator inside an
                // unquoted field, which would cut the text short. Empty
                // trailing fields (a spreadsheet's `;;`) are no harm.
                if rec.iter().skip(headers.len()).any(|v| !v.trim().is_empty()) {
                    return Err(format!(
                        "{} fields where the header names {}: quote a field that holds the separator {:?}",
                        rec.len(),
                        headers.len(),
                        char::from(self.delimiter)
                    ));
                }
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
    if let Some(id) = id.as_deref().filter(|id| rounded_by_a_spreadsheet(id)) {
        return Err(format!(
            "field `id` {id:?} is a number a spreadsheet rounded (the item's real id is lost, and two items would \
             look the same): format the column as text before saving, or leave `id` out"
        ));
    }
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
        lang: given_lang(map)?,
        reach,
        engagement,
    })
}

/// An id as a spreadsheet shows a long number (`5,70301E+17`, `5.70301e17`).
fn rounded_by_a_spreadsheet(id: &str) -> bool {
    let id = id.trim();
    let Some((mantissa, exponent)) = id.split_once(['e', 'E']) else { return false };
    // `1e10` may be an id of letters and digits; a decimal separator or a
    // signed exponent is a spreadsheet's writing.
    let signed = exponent.starts_with('+');
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    let mantissa_ok = !mantissa.is_empty()
        && mantissa.chars().all(|c| c.is_ascii_digit() || c == ',' || c == '.')
        && mantissa.starts_with(|c: char| c.is_ascii_digit());
    mantissa_ok
        && (signed || mantissa.contains([',', '.']))
        && !exponent.is_empty()
        && exponent.chars().all(|c| c.is_ascii_digit())
}

/// The language a line gives. A `lang` with a `lang_confidence` under 1 is a
/// guess (Vigie's exports write the detector's): it is left to detection
/// again, as certain it would read as the exported text's language.
fn given_lang(map: &Map<String, Value>) -> Result<Option<String>, String> {
    let confidence = match map.get("lang_confidence") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().replace(',', ".").parse::<f64>().ok(),
        _ => None,
    };
    if confidence.is_some_and(|c| c < 1.0) {
        return Ok(None);
    }
    string_field(map, "lang")
}

/// A non-negative integer field (a number, or a string holding one; empty is
/// absent; `1200.0`, as data tools write whole numbers of a column with
/// gaps, is 1200). Bounded to `i64::MAX` so every backend can store it.
fn count_field(map: &Map<String, Value>, name: &str) -> Result<Option<u64>, String> {
    let parsed = match map.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().and_then(whole))
            .ok_or_else(|| format!("field `{name}` must be a non-negative integer, not {n}"))?,
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            s.parse::<u64>()
                .ok()
                .or_else(|| s.strip_suffix(".0").and_then(|n| n.parse::<u64>().ok()))
                .ok_or_else(|| format!("field `{name}` must be a non-negative integer, not {s:?}"))?
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

/// A float that is a whole non-negative number, as an integer.
fn whole(x: f64) -> Option<u64> {
    (x >= 0.0 && x.fract() == 0.0 && x <= i64::MAX as f64).then_some(x as u64)
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
        // Not UTF-8: read as Windows-1252 ("café"), then judged as any line.
        assert_eq!(got[0].result.as_ref().unwrap_err(), "missing field `url` (or `id`)");
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
    fn a_quote_inside_an_unquoted_field_is_a_character() {
        // `27"` ended nothing: the rows after it were swallowed as one
        // unclosed record.
        let input = "url,text,published_at,source\n\
                     https://s.fr/1,Ecran 27\" parfait,2026-11-20,review\n\
                     https://s.fr/2,Tres bien,2026-11-20,review\n\
                     https://s.fr/3,\"Sur deux\nlignes, avec \"\"guillemets\"\"\",2026-11-20,review\n\
                     https://s.fr/4, \"espace avant,2026-11-20,review\n";
        let got = lines(input, ImportFormat::Csv);
        let texts: Vec<(u64, &str)> = got.iter().map(|l| (l.line, l.result.as_ref().unwrap().text.as_str())).collect();
        assert_eq!(
            texts,
            [
                (2, "Ecran 27\" parfait"),
                (3, "Tres bien"),
                (4, "Sur deux\nlignes, avec \"guillemets\""),
                (6, " \"espace avant"),
            ]
        );
    }

    #[test]
    fn a_record_with_more_fields_than_the_header_is_refused() {
        let input = "url,published_at,source,text\n\
                     https://a.fr/1,2026-11-20,blog,Bonjour, le SAV Acme est nul\n\
                     https://a.fr/2,2026-11-20,blog,Trailing separators are harmless,,\n";
        let got = lines(input, ImportFormat::Csv);
        let e = got[0].result.as_ref().unwrap_err();
        assert!(e.starts_with("5 fields where the header names 4: quote a field"), "{e}");
        assert_eq!(got[1].result.as_ref().unwrap().text, "Trailing separators are harmless");
    }

    #[test]
    fn spreadsheet_damage_is_named_or_undone() {
        // Ids rounded by Excel would make two tweets one.
        let input = "id;url;text;published_at;source\r\n\
                     5,70301E+17;https://twitter.com/a/status/570301130888122368;Premier;2015-02-24 10:00;twitter\r\n\
                     1e10;https://a.fr/1;Un id de lettres;2015-02-24 10:00;blog\r\n";
        let got = lines(input, ImportFormat::Csv);
        let e = got[0].result.as_ref().unwrap_err();
        assert!(e.contains("\"5,70301E+17\" is a number a spreadsheet rounded"), "{e}");
        assert_eq!(got[1].result.as_ref().unwrap().source_item_id.as_deref(), Some("1e10"));
        for id in ["5.70301e17", "5,7E+17", "6E+17"] {
            assert!(rounded_by_a_spreadsheet(id), "{id}");
        }
        for id in ["1e10", "e5", "5,7E", "abc", "570301130888122368"] {
            assert!(!rounded_by_a_spreadsheet(id), "{id}");
        }

        // Windows-1252, as French Excel saves "CSV (séparateur : point-virgule)".
        let cp1252 = b"url;text;published_at;source\r\nhttps://x.fr/1;Tr\xe8s d\xe9\xe7u;2026-11-20;forum\r\n";
        let got: Vec<ImportLine> = read_import(&cp1252[..], ImportFormat::Csv).collect();
        assert_eq!(got[0].result.as_ref().unwrap().text, "Très déçu");
        // A UTF-8 line with one stray byte keeps its UTF-8.
        let stray = b"url;text;published_at;source\r\nhttps://x.fr/1;D\xc3\xa9\xe7u;2026-11-20;forum\r\n";
        let got: Vec<ImportLine> = read_import(&stray[..], ImportFormat::Csv).collect();
        assert_eq!(got[0].result.as_ref().unwrap().text, "Dé\u{fffd}u");
        // UTF-16 with its byte-order mark, as PowerShell writes.
        let line =
            "{\"url\":\"https://x.fr/2\",\"text\":\"Très bien\",\"published_at\":\"2026-11-20\",\"source\":\"blog\"}\n";
        let mut utf16 = vec![0xff, 0xfe];
        utf16.extend(line.encode_utf16().flat_map(u16::to_le_bytes));
        let got: Vec<ImportLine> = read_import(&utf16[..], ImportFormat::Jsonl).collect();
        assert_eq!(got[0].result.as_ref().unwrap().text, "Très bien");
        // A UTF-8 byte-order mark before JSON Lines, as Notepad saves them.
        let got = lines(&format!("\u{feff}{line}"), ImportFormat::Jsonl);
        assert_eq!(got[0].result.as_ref().unwrap().text, "Très bien");
        // Whole numbers written as floats by data tools.
        let got = lines(
            "{\"url\":\"https://x.fr/3\",\"text\":\"t\",\"published_at\":\"2026-11-20\",\"source\":\"blog\",\"followers\":1200.0,\"likes\":\"3.0\"}\n\
             {\"url\":\"https://x.fr/4\",\"text\":\"t\",\"published_at\":\"2026-11-20\",\"source\":\"blog\",\"followers\":1200.5}\n",
            ImportFormat::Jsonl,
        );
        let engagement = &got[0].result.as_ref().unwrap().engagement;
        assert_eq!((engagement.followers, engagement.likes), (Some(1200), Some(3)));
        assert!(got[1].result.as_ref().unwrap_err().contains("non-negative integer, not 1200.5"));
    }

    #[test]
    fn an_exported_language_guess_is_detected_again() {
        let line = |extra: &str| {
            format!(
                "{{\"url\":\"https://x.fr/1\",\"text\":\"t\",\"published_at\":\"2026-11-20\",\"source\":\"blog\",\"lang\":\"hr\"{extra}}}\n"
            )
        };
        let lang = |extra: &str| lines(&line(extra), ImportFormat::Jsonl)[0].result.as_ref().unwrap().lang.clone();
        assert_eq!(lang(",\"lang_confidence\":0.3"), None);
        assert_eq!(lang(",\"lang_confidence\":\"0,3\""), None);
        assert_eq!(lang(",\"lang_confidence\":1"), Some("hr".to_string()));
        assert_eq!(lang(""), Some("hr".to_string()));
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
