//! `vigie reanalyze`: runs the analysis step again over stored mentions, after
//! the project's themes or its retrained model changed, or for mentions
//! stored before an analysis existed. A person's correction and the story
//! links are kept; so is the reach estimate (the engagement figures it came
//! from are not stored).

use std::io::Write;

use chrono::{Duration, Utc};
use vigie_store::MentionFilter;

use crate::app::{App, parse_duration};
use crate::cli::ReanalyzeArgs;

const PAGE: i64 = 1_000;

pub async fn run(app: &App, args: ReanalyzeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let since = match &args.since {
        Some(s) => Some(Utc::now() - Duration::seconds(parse_duration(s)?)),
        None => None,
    };
    let analyzer = app.models().analyzer(app.store.as_ref(), app.project.id).await?;
    let filter = MentionFilter { published_since: since, ..MentionFilter::default() };
    let mut after = 0;
    let mut done = 0u64;
    loop {
        let page = app.store.mentions_after(app.project.id, &filter, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.mention.id;
        let analyses: Vec<_> = page
            .iter()
            .map(|stored| {
                let m = &stored.mention;
                let mut analysis = analyzer.analyze(m, &Default::default());
                if m.analysis.reach.is_some() {
                    analysis.reach.clone_from(&m.analysis.reach);
                }
                (m.id, analysis)
            })
            .collect();
        done += app.store.set_analyses(app.project.id, &analyses).await?;
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    writeln!(out, "{done} mention(s) re-analyzed with {}", analyzer.fast_model().id())?;
    Ok(())
}
