//! `vigie watch …`

use std::io::Write;

use chrono::Utc;
use serde_json::json;
use vigie_model::RawMention;
use vigie_nlp::{NormalizeLimits, normalize};
use vigie_pipeline::{CompiledWatches, LangFilter, document};
use vigie_query::{Query, QueryError};
use vigie_store::{NewWatch, StoreError};

use crate::app::{App, UsageError, usage};
use crate::cli::{OutputFormat, WatchCommand};
use crate::output::Table;

/// Parses a query typed by the user; a syntax error is a usage error that
/// points at the column. Lower-case `or`/`and`/`not` between words are valid
/// (they are words, and `or` is French), but often meant as operators: a note
/// on stderr says how they were read.
pub fn parse_user_query(query: &str) -> anyhow::Result<Query> {
    let parsed = vigie_query::parse(query).map_err(|e| UsageError(describe_query_error(query, &e)))?;
    if let Some((word, operator)) = lowercase_operator(query) {
        eprintln!("note: `{word}` is searched as a word; write `{operator}` for the operator");
    }
    Ok(parsed)
}

/// A lower-case `or`, `and` or `not` — or their French `ou`, `et`, `sauf`
/// — standing between two other words, outside quotes, with the operator
/// it may have meant.
fn lowercase_operator(query: &str) -> Option<(&'static str, &'static str)> {
    let mut in_quotes = false;
    let mut words: Vec<&str> = Vec::new();
    for piece in query.split_whitespace() {
        let quotes = piece.matches('"').count();
        if !in_quotes && quotes == 0 {
            words.push(piece);
        } else {
            words.push("\"");
        }
        if quotes % 2 == 1 {
            in_quotes = !in_quotes;
        }
    }
    words.windows(3).find_map(|w| match w[1] {
        "or" => Some(("or", "OR")),
        "and" => Some(("and", "AND")),
        "not" => Some(("not", "NOT")),
        "ou" => Some(("ou", "OR")),
        "et" => Some(("et", "AND")),
        "sauf" => Some(("sauf", "NOT")),
        _ => None,
    })
}

/// `expected ')' at column 17`, with the query and a caret under the column.
pub fn describe_query_error(query: &str, error: &QueryError) -> String {
    match error.column {
        Some(col) if query.chars().count() <= 200 && !query.contains('\n') => {
            let pad: String =
                query.chars().take(col.saturating_sub(1)).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
            format!("invalid query: {error}\n  {query}\n  {pad}^")
        }
        _ => format!("invalid query: {error}"),
    }
}

fn valid_name(name: &str) -> anyhow::Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return usage("a watch name is 1 to 100 printable characters");
    }
    Ok(name.to_string())
}

fn valid_langs(langs: &[String]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for l in langs.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
        match vigie_nlp::normalize_lang_tag(l) {
            Some(code) if out.contains(&code) => {}
            Some(code) => out.push(code),
            None => {
                return usage(format!("invalid language code {l:?} (use ISO codes such as fr, en)"));
            }
        }
    }
    Ok(out)
}

/// Languages given in another order are the same restriction.
fn same_set(a: &[String], b: &[String]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

pub async fn run(app: &App, command: WatchCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let project = app.project.id;
    match command {
        WatchCommand::Add { name, query, competitor, lang } => {
            let name = valid_name(&name)?;
            let parsed = parse_user_query(&query)?;
            let langs = valid_langs(&lang)?;
            let new = NewWatch { name: name.clone(), query: parsed.source().to_string(), competitor, langs };
            // Names are one whatever their case (as in the web app): "SNCF" and "sncf" would be two
            // watches no one can tell apart in a list.
            if let Some(other) = app
                .store
                .list_watches(project)
                .await?
                .into_iter()
                .find(|w| w.name != name && w.name.to_lowercase() == name.to_lowercase())
            {
                return usage(format!("a watch named {:?} already exists (names ignore case)", other.name));
            }
            let (watch, added) = match app.store.add_watch(project, new.clone(), Utc::now()).await {
                Ok(watch) => (watch, true),
                Err(StoreError::Conflict(msg)) => {
                    match app.store.watch_by_name(project, &name).await? {
                        // The same definition again: run the backfill again (it
                        // is idempotent), e.g. after an interrupted `watch add`.
                        Some(w)
                            if w.query == new.query
                                && w.competitor == new.competitor
                                && same_set(&w.langs, &new.langs) =>
                        {
                            (w, false)
                        }
                        _ => {
                            return usage(format!(
                                "{msg} with a different definition (remove it first, or choose another name)"
                            ));
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            };
            let matched = vigie_pipeline::backfill_watch(&app.store, project, &watch).await?;
            if added {
                super::user::audit(
                    app,
                    Some(project),
                    "watch.create",
                    format!("created watch {name:?}: {}", watch.query),
                )
                .await?;
                writeln!(out, "watch {name:?} added; it matches {matched} stored mention(s)")?;
            } else {
                writeln!(
                    out,
                    "watch {name:?} already exists with this definition; matched again: {matched} stored mention(s)"
                )?;
            }
        }
        WatchCommand::List { output } => {
            let watches = app.store.list_watches(project).await?;
            let mut table = Table::new(vec!["name", "query", "competitor", "langs"]);
            table.max_cell = 80;
            for w in watches {
                table.push(vec![json!(w.name), json!(w.query), json!(w.competitor), json!(w.langs)]);
            }
            table.write(out, output.format)?;
        }
        WatchCommand::Remove { name } => {
            let watch = super::search::watch_named(app, &name).await?;
            if !app.store.remove_watch(project, &watch.name).await? {
                return usage(format!("no watch named {:?} in project {:?}", watch.name, app.project.name));
            }
            super::user::audit(app, Some(project), "watch.delete", format!("deleted watch {:?}", watch.name)).await?;
            writeln!(out, "watch {:?} removed (its mentions stay stored)", watch.name)?;
        }
        WatchCommand::Test { name, text, title, output } => {
            let watch = super::search::watch_named(app, &name).await?;
            let query = vigie_query::parse(&watch.query)
                .map_err(|e| anyhow::anyhow!(describe_query_error(&watch.query, &e)))?;
            // The text goes through what a collected mention goes through
            // (cleaning, language), so the answer is the pipeline's.
            let raw = RawMention { text, title, ..RawMention::default() };
            let mention = match normalize(raw, Utc::now(), &NormalizeLimits::default()) {
                Ok(m) => m,
                Err(e) => return usage(format!("cannot test this text: {e}")),
            };
            let compiled = CompiledWatches::new(std::slice::from_ref(&watch))?;
            let other_language = compiled.lang_allows(watch.id, &mention) == LangFilter::OtherLanguage;
            let query_terms = query.matches(&document(&mention));
            let terms = query_terms.clone().filter(|_| !other_language);
            match output.format {
                OutputFormat::Json => {
                    let v = json!({
                        "matched": terms.is_some(),
                        "terms": query_terms.clone().unwrap_or_default(),
                        "lang": mention.lang,
                        "other_language": other_language,
                    });
                    writeln!(out, "{v}")?;
                }
                OutputFormat::Csv => {
                    writeln!(out, "matched,terms")?;
                    let mut w = csv::Writer::from_writer(&mut *out);
                    let joined = terms.clone().unwrap_or_default().join(" ");
                    w.write_record([terms.is_some().to_string(), joined])?;
                    w.flush()?;
                }
                OutputFormat::Table => match (&query_terms, other_language) {
                    (Some(t), false) => writeln!(out, "matches watch {:?}: {}", watch.name, t.join(", "))?,
                    (Some(t), true) => writeln!(
                        out,
                        "does not match watch {:?}: the query matches ({}) but the text reads as {} and the watch \
                         takes only {}",
                        watch.name,
                        t.join(", "),
                        mention.lang.as_deref().unwrap_or("?"),
                        watch.langs.join(", ")
                    )?,
                    (None, _) => writeln!(out, "does not match watch {:?} ({})", watch.name, watch.query)?,
                },
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_case_operators_between_words_are_noticed() {
        assert_eq!(lowercase_operator("sncf or ouigo"), Some(("or", "OR")));
        assert_eq!(lowercase_operator("retard and annulation"), Some(("and", "AND")));
        assert_eq!(lowercase_operator("sncf OR ouigo"), None);
        assert_eq!(lowercase_operator("\"or et argent\" bijoux"), None);
        assert_eq!(lowercase_operator("or"), None);
        // The French words an owner types for them.
        assert_eq!(lowercase_operator("lemoine ou durand"), Some(("ou", "OR")));
        assert_eq!(lowercase_operator("lemoine et durand"), Some(("et", "AND")));
        assert_eq!(lowercase_operator("lemoine sauf emploi"), Some(("sauf", "NOT")));
    }

    #[test]
    fn a_query_error_points_at_its_column() {
        let q = "(sncf OR ouigo";
        let err = vigie_query::parse(q).unwrap_err();
        let msg = describe_query_error(q, &err);
        let caret_line = msg.lines().last().unwrap();
        let col = err.column.unwrap();
        assert_eq!(caret_line.chars().count(), 2 + col, "{msg}");
        assert!(caret_line.ends_with('^'));
    }
}
