//! Embeds JSON lines `{"text": "...", "is_query": false}` read from stdin and
//! writes `{"token_count": n, "embedding": [...]}` lines to stdout (to compare
//! with other engines).
//!
//! ```text
//! cargo run --release -p vigie-encoder --example embed -- MODEL < texts.jsonl
//! ```

use std::io::{BufRead, Write};

use vigie_encoder::Encoder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = std::env::args()
        .nth(1)
        .ok_or("usage: embed MODEL < texts.jsonl")?;
    let enc = Encoder::load(model.as_ref())?;
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        let text = v["text"].as_str().ok_or("a line without \"text\"")?;
        let is_query = v["is_query"].as_bool().unwrap_or(false);
        let rec = serde_json::json!({
            "token_count": enc.token_count(text, is_query),
            "embedding": enc.embed(text, is_query),
        });
        writeln!(out, "{rec}")?;
    }
    Ok(())
}
