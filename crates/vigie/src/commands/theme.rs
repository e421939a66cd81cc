//! `vigie theme …`: the project's taxonomy of themes and departments.

use std::io::Write;

use chrono::Utc;
use serde_json::json;
use vigie_model::{Polarity, RawMention};
use vigie_nlp::{NormalizeLimits, normalize};
use vigie_pipeline::themes::{default_themes, validate_theme_key};
use vigie_store::{NewRoutingRule, NewTheme, StoreError};

use crate::app::{App, usage};
use crate::cli::ThemeCommand;
use crate::commands::watch::parse_user_query;
use crate::output::Table;

pub async fn run(app: &App, command: ThemeCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = &app.store;
    let project = app.project.id;
    // The default taxonomy is the project's until it edits it.
    store.seed_themes(project, &default_themes(), Utc::now()).await?;
    match command {
        ThemeCommand::List { output } => {
            let mut table = Table::new(vec!["key", "name", "department", "query"]);
            table.max_cell = 70;
            for t in store.list_themes(project).await? {
                table.push(vec![json!(t.key), json!(t.name), json!(t.department), json!(t.query)]);
            }
            table.write(out, output.format)
        }
        ThemeCommand::Add { key, query, name, department } => {
            let key = key.trim().to_string();
            if let Err(e) = validate_theme_key(&key) {
                return usage(e);
            }
            parse_user_query(&query)?;
            // The department must be one of the project's (the default
            // workflow's until the team edits them in Settings → Departments),
            // so that the theme's negative mentions are routed there.
            vigie_pipeline::routing::seed_workflow(store.as_ref(), project, Utc::now()).await?;
            let departments = store.list_departments(project).await?;
            let wanted = department.trim();
            // A default department by the name the web app shows a French
            // reader ("Service client") as well as by its stored one.
            let french = |d: &vigie_store::Department| {
                vigie_model::department_name(&d.name, vigie_model::Language::Fr).to_string()
            };
            let Some(department) = departments.iter().find(|d| {
                let wanted = wanted.to_lowercase();
                d.name.to_lowercase() == wanted || french(d).to_lowercase() == wanted
            }) else {
                let names: Vec<String> = departments
                    .iter()
                    .map(|d| match french(d) {
                        fr if fr != d.name => format!("{} ({fr})", d.name),
                        _ => d.name.clone(),
                    })
                    .collect();
                return usage(format!(
                    "no department named {wanted:?} in project {:?} (departments: {}; add one in the web app's Settings → Departments)",
                    app.project.name,
                    if names.is_empty() { "none yet".to_string() } else { names.join(", ") }
                ));
            };
            let name = name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).unwrap_or_else(|| key.clone());
            let theme = NewTheme { key: key.clone(), name, department: department.name.clone(), query };
            match store.add_theme(project, theme, Utc::now()).await {
                Ok(_) => {}
                Err(StoreError::Conflict(msg)) => return usage(format!("{msg}; remove it first to redefine it")),
                Err(e) => return Err(e.into()),
            }
            // Like the default themes: its negative mentions go to its department.
            let rule = NewRoutingRule {
                theme: Some(key.clone()),
                sentiment: Some(Polarity::Negative),
                watch_id: None,
                source_kind: None,
                department_id: department.id,
            };
            let rule = store.add_rule(project, rule, Utc::now()).await?;
            // Before the catch-all rules at the end (the default workflow
            // sends the negative mentions no theme knows to customer
            // service), which would otherwise take its mentions first.
            let rule = vigie_pipeline::routing::place_before_catch_alls(store.as_ref(), project, rule).await?;
            super::user::audit(
                app,
                Some(project),
                "theme.add",
                format!("added theme {key} and rule #{} → {}", rule.position, department.name),
            )
            .await?;
            writeln!(
                out,
                "theme {key} added; new mentions get it (it does not re-tag stored ones: `vigie reanalyze`)\n\
                 routing rule #{} sends its negative mentions to {} (edit in Settings → Routing)",
                rule.position, department.name
            )?;
            Ok(())
        }
        ThemeCommand::Remove { key } => {
            let key = key.trim();
            if store.remove_theme(project, key).await? {
                super::user::audit(app, Some(project), "theme.remove", format!("removed theme {key}")).await?;
                writeln!(out, "theme {key} removed")?;
                // Its routing rules would route nothing new: they go with it.
                for rule in store.list_rules(project).await?.into_iter().filter(|r| r.theme.as_deref() == Some(key)) {
                    if store.remove_rule(project, rule.id).await? {
                        let what = format!("removed routing rule #{} (theme {key}) with its theme", rule.position);
                        super::user::audit(app, Some(project), "rule.remove", what.clone()).await?;
                        writeln!(out, "{what}")?;
                    }
                }
                writeln!(
                    out,
                    "stored mentions keep it (and the inbox items it routed stay) until `vigie reanalyze` analyzes them again"
                )?;
                Ok(())
            } else {
                usage(format!("no theme {key:?} in project {:?} (see `vigie theme list`)", app.project.name))
            }
        }
        ThemeCommand::Test { text, lang, output } => {
            let models = app.models();
            let analyzer = models.analyzer(store.as_ref(), project).await?;
            let raw = RawMention { text, lang, plain_text: true, ..RawMention::default() };
            let mention = match normalize(raw, Utc::now(), &NormalizeLimits::default()) {
                Ok(m) => m,
                Err(e) => return usage(format!("cannot analyze this text: {e}")),
            };
            let analysis = analyzer.analyze(&mention, &Default::default());
            let mut table = Table::new(vec!["theme", "score", "evidence"]);
            for t in &analysis.themes {
                table.push(vec![
                    json!(t.theme),
                    json!(vigie_pipeline::export::short_f32(t.score)),
                    json!(t.evidence.join(", ")),
                ]);
            }
            if analysis.themes.is_empty() && output.format == crate::cli::OutputFormat::Table {
                writeln!(out, "no theme")?;
                return Ok(());
            }
            table.write(out, output.format)
        }
    }
}
