//! `vigie mention …`: one mention, its analysis explained, and corrections.

use std::io::Write;
use std::str::FromStr;

use chrono::Utc;
use serde_json::json;
use vigie_model::{Polarity, WorkflowChange, WorkflowDetail};
use vigie_pipeline::routing::CorrectionRoute;
use vigie_store::{MentionFilter, NewWorkflowEvent};

use crate::app::{App, usage};
use crate::cli::{MentionCommand, OutputFormat};
use crate::output::{safe, truncate};

/// Copies listed with a mention's story.
const STORY_LIST: i64 = 20;

pub async fn run(app: &App, command: MentionCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        MentionCommand::Show { id, output } => {
            let Some(stored) = app.store.mention(app.project.id, id).await? else {
                return usage(format!("no mention {id} in project {:?}", app.project.name));
            };
            let m = &stored.mention;
            let story_id = m.analysis.story_id.unwrap_or(m.id);
            let filter = MentionFilter { story_id: Some(story_id), ..MentionFilter::default() };
            let story: Vec<_> = app
                .store
                .mentions_after(app.project.id, &filter, 0, STORY_LIST + 1)
                .await?
                .into_iter()
                .filter(|s| s.mention.id != m.id)
                .collect();
            if output.format == OutputFormat::Json {
                let value = json!({
                    "mention": m,
                    "polarity": m.analysis.polarity(),
                    "story": { "id": story_id, "others": story.iter().map(|s| json!({
                        "id": s.mention.id, "url": s.mention.url, "site": s.mention.site,
                        "published_at": s.mention.published_at, "text": s.mention.text })).collect::<Vec<_>>() },
                });
                serde_json::to_writer_pretty(&mut *out, &value)?;
                writeln!(out)?;
                return Ok(());
            }
            writeln!(out, "mention {}  {}  {}", m.id, m.source_kind, m.published_at.format("%Y-%m-%d %H:%M UTC"))?;
            if let Some(url) = &m.url {
                writeln!(out, "url:       {}", safe(url))?;
            }
            if let Some(author) = &m.author {
                writeln!(out, "author:    {}", safe(author))?;
            }
            if let Some(title) = &m.title {
                writeln!(out, "title:     {}", safe(title))?;
            }
            writeln!(out, "text:      {}", safe(&truncate(&m.text, 500)))?;
            writeln!(out, "language:  {}", m.lang.as_deref().unwrap_or("unknown"))?;
            match (&m.analysis.sentiment, m.analysis.corrected) {
                (Some(s), Some(c)) => writeln!(
                    out,
                    "sentiment: {c} (corrected by a person; the model said {}, score {:+.2}, model {})",
                    s.label, s.score, s.model
                )?,
                (None, Some(c)) => writeln!(out, "sentiment: {c} (corrected by a person; the model had no verdict)")?,
                (Some(s), None) => writeln!(
                    out,
                    "sentiment: {} (score {:+.2}, confidence {:.0} %, model {})",
                    s.label,
                    s.score,
                    s.confidence * 100.0,
                    s.model
                )?,
                (None, None) => writeln!(out, "sentiment: unknown (unsupported language or nothing to judge)")?,
            }
            if let Some(s) = &m.analysis.sentiment
                && !s.explanation.is_empty()
            {
                {
                    // The reasons are the model's, for its own verdict.
                    let whose =
                        if m.analysis.corrected.is_some() { "the model's verdict, because:" } else { "because:" };
                    writeln!(out, "{whose}")?;
                    for c in &s.explanation {
                        let toward = if c.weight >= 0.0 { "positive" } else { "negative" };
                        writeln!(out, "  {:+.2}  {}  (toward {toward})", c.weight, safe(&c.feature))?;
                    }
                }
            }
            if m.analysis.themes.is_empty() {
                writeln!(out, "themes:    none")?;
            } else {
                writeln!(out, "themes:")?;
                for t in &m.analysis.themes {
                    writeln!(out, "  {:.2}  {}  ({})", t.score, t.theme, safe(&t.evidence.join(", ")))?;
                }
            }
            if let Some(r) = &m.analysis.reach {
                writeln!(
                    out,
                    "reach:     {:.0}/100 (audience {}, engagement {}, from {})",
                    r.score, r.audience, r.engagement, r.basis
                )?;
            }
            if story.is_empty() {
                writeln!(out, "story:     no copies found")?;
            } else {
                let more = if story.len() as i64 > STORY_LIST { "+" } else { "" };
                writeln!(out, "story {story_id}: {}{more} other mention(s)", story.len().min(STORY_LIST as usize))?;
                for s in story.iter().take(STORY_LIST as usize) {
                    let place = s.mention.site.as_deref().or(s.mention.url.as_deref()).unwrap_or("");
                    writeln!(out, "  {}  {}  {}", s.mention.id, safe(place), safe(&truncate(&s.mention.text, 80)))?;
                }
            }
            Ok(())
        }
        MentionCommand::Label { id, label } => {
            let polarity = match label.trim().to_ascii_lowercase().as_str() {
                "none" | "clear" => None,
                other => match Polarity::from_str(other) {
                    Ok(p) => Some(p),
                    Err(e) => return usage(format!("{e} (or none to remove the correction)")),
                },
            };
            let pid = app.project.id;
            let now = Utc::now();
            let stored = match app.store.mention(pid, id).await? {
                Some(stored) if app.store.correct_sentiment(pid, id, polarity, now).await? => stored,
                _ => return usage(format!("no mention {id} in project {:?}", app.project.name)),
            };
            // Its history says so, as for a correction made in the web app.
            let analysis = &stored.mention.analysis;
            let change = WorkflowChange::Sentiment {
                from: analysis.polarity(),
                to: polarity.or(analysis.sentiment.as_ref().map(|s| s.label)),
                removed: polarity.is_none(),
            };
            let event = NewWorkflowEvent {
                user_id: None,
                action: "sentiment".into(),
                detail: WorkflowDetail::new(change).encode(),
            };
            app.store.add_workflow_event(pid, id, event, now).await?;
            let what = polarity.map_or_else(|| "removed the correction".to_string(), |p| format!("{p}"));
            super::user::audit(
                app,
                Some(app.project.id),
                "mention.sentiment",
                format!("corrected mention {id}: {what}"),
            )
            .await?;
            match polarity {
                Some(p) => writeln!(out, "mention {id} is now {p}; `vigie train sentiment` will learn from it")?,
                None => writeln!(out, "mention {id}: correction removed, the model's verdict stands")?,
            }
            // A complaint the model missed goes to the inbox now; a mention
            // routed only for the verdict corrected leaves it.
            let verdict = polarity.or(stored.mention.analysis.sentiment.as_ref().map(|s| s.label));
            let routed =
                vigie_pipeline::routing::route_correction(app.store.as_ref(), pid, &stored, verdict, None, now).await?;
            let said = verdict.map_or_else(|| "unknown".to_string(), |p| p.to_string());
            match routed {
                CorrectionRoute::Routed => {
                    writeln!(out, "it entered the inbox (a routing rule sends {said} mentions like it)")?;
                }
                CorrectionRoute::Withdrawn => writeln!(
                    out,
                    "it left the inbox (ignored: no routing rule sends {said} mentions like it, and nobody had taken it)"
                )?,
                CorrectionRoute::Unchanged => {}
            }
            for alert in
                vigie_pipeline::alerts::alert_correction(app.store.as_ref(), pid, &stored, verdict, now).await?
            {
                writeln!(out, "alert {}: {}", alert.id, alert.title)?;
            }
            Ok(())
        }
    }
}
