//! Tabular output as an aligned table, JSON or CSV.
//!
//! Cells hold untrusted text (mention text, author names): control characters
//! are replaced before anything reaches the terminal, so a mention cannot
//! send escape sequences.

use std::io::Write;

use serde_json::{Map, Value};

use crate::cli::OutputFormat;

pub struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
    /// Longest cell, in characters, in table format (longer ones end in …).
    pub max_cell: usize,
}

impl Table {
    pub fn new(columns: Vec<&'static str>) -> Self {
        Table { columns, rows: Vec::new(), max_cell: 60 }
    }

    pub fn push(&mut self, row: Vec<Value>) {
        self.rows.push(row);
    }

    pub fn write(&self, out: &mut dyn Write, format: OutputFormat) -> anyhow::Result<()> {
        match format {
            OutputFormat::Table => self.write_table(out),
            OutputFormat::Json => {
                let rows: Vec<Value> = self
                    .rows
                    .iter()
                    .map(|row| {
                        let map: Map<String, Value> =
                            self.columns.iter().zip(row).map(|(c, v)| ((*c).to_string(), v.clone())).collect();
                        Value::Object(map)
                    })
                    .collect();
                serde_json::to_writer_pretty(&mut *out, &rows)?;
                writeln!(out)?;
                Ok(())
            }
            OutputFormat::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(&self.columns)?;
                for row in &self.rows {
                    w.write_record(row.iter().map(plain))?;
                }
                w.flush()?;
                Ok(())
            }
        }
    }

    fn write_table(&self, out: &mut dyn Write) -> anyhow::Result<()> {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| row.iter().map(|v| truncate(&safe(&plain(v)), self.max_cell)).collect())
            .collect();
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for row in &cells {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(cell.chars().count());
                s.push_str(cell);
                if i + 1 < cells.len() {
                    s.extend(std::iter::repeat_n(' ', pad));
                }
            }
            s
        };
        let header: Vec<String> = self.columns.iter().map(|c| c.to_uppercase()).collect();
        writeln!(out, "{}", line(&header))?;
        for row in &cells {
            writeln!(out, "{}", line(row))?;
        }
        Ok(())
    }
}

/// A cell as plain text: strings as they are, null as empty, arrays joined.
fn plain(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Replaces control characters (including newlines and ESC) with spaces.
/// A time as listings show it (`2026-11-23 10:00:00Z`), or null.
pub fn time_cell(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.format("%Y-%m-%d %H:%M:%SZ").to_string()))
}

pub fn safe(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn render(t: &Table, f: OutputFormat) -> String {
        let mut out = Vec::new();
        t.write(&mut out, f).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_agree_and_escape_sequences_never_reach_the_terminal() {
        let mut t = Table::new(vec!["watch", "mentions"]);
        t.push(vec![json!("SNCF \u{1b}[31mred"), json!(12)]);
        t.push(vec![json!("Air France"), json!(3)]);
        assert_eq!(render(&t, OutputFormat::Table), "WATCH          MENTIONS\nSNCF  [31mred  12\nAir France     3\n");
        // Key order is serde_json's (sorted): compare values, not text.
        let parsed: Value = serde_json::from_str(&render(&t, OutputFormat::Json)).unwrap();
        assert_eq!(
            parsed,
            json!([{"watch": "SNCF \u{1b}[31mred", "mentions": 12}, {"watch": "Air France", "mentions": 3}])
        );
        assert_eq!(render(&t, OutputFormat::Csv), "watch,mentions\nSNCF \u{1b}[31mred,12\nAir France,3\n");
    }
}
