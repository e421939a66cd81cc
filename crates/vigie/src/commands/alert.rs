//! `vigie alert …`, `vigie notify …` and `vigie backtest`.

use std::io::Write;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use vigie_model::{Alert, AlertRule, AlertStatus, Language, Severity};
use vigie_pipeline::alerts::{AlertSettings, backtest};
use vigie_store::{NewChannel, StoreError};

use crate::app::{App, parse_duration, usage};
use crate::cli::{AlertCommand, BacktestArgs, NotifyCommand};
use crate::output::{Table, time_cell as time};

fn alert_row(a: &Alert, watch: Option<&str>) -> Vec<Value> {
    vec![
        json!(a.id),
        json!(a.status.as_str()),
        json!(a.severity.as_str()),
        json!(a.rule.as_str()),
        json!(watch),
        json!(a.title),
        json!(round3(a.evidence.observed)),
        json!(round3(a.evidence.expected)),
        json!(a.events),
        time(Some(a.opened_at)),
        time(Some(a.updated_at)),
    ]
}

const ALERT_COLUMNS: [&str; 11] =
    ["id", "status", "severity", "rule", "watch", "title", "observed", "expected", "events", "opened", "updated"];

async fn watch_names(app: &App) -> anyhow::Result<Vec<(i64, String)>> {
    Ok(app.store.list_watches(app.project.id).await?.into_iter().map(|w| (w.id, w.name)).collect())
}

fn name_of(names: &[(i64, String)], id: Option<i64>) -> Option<&str> {
    id.and_then(|id| names.iter().find(|(w, _)| *w == id).map(|(_, n)| n.as_str()))
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect()
}

pub async fn run(app: &App, command: AlertCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let project = app.project.id;
    match command {
        AlertCommand::List { status, limit, output } => {
            let status = match status.as_deref().map(str::parse::<AlertStatus>) {
                Some(Err(e)) => return usage(e),
                Some(Ok(s)) => Some(s),
                None => None,
            };
            let names = watch_names(app).await?;
            let mut table = Table::new(ALERT_COLUMNS.to_vec());
            for a in app.store.alerts(project, status, limit).await? {
                table.push(alert_row(&a, name_of(&names, a.watch_id)));
            }
            table.write(out, output.format)?;
        }
        AlertCommand::Show { id } => {
            let Some(alert) = app.store.alert(project, id).await? else {
                return usage(format!("no alert with id {id} in project {:?}", app.project.name));
            };
            let names = watch_names(app).await?;
            show(app, &alert, name_of(&names, alert.watch_id), out).await?;
        }
        AlertCommand::Ack { id } | AlertCommand::Resolve { id } => {
            let (status, done) = match command {
                AlertCommand::Ack { .. } => (AlertStatus::Acknowledged, "acknowledged"),
                _ => (AlertStatus::Resolved, "resolved"),
            };
            let Some(alert) = app.store.alert(project, id).await? else {
                return usage(format!("no alert with id {id} in project {:?}", app.project.name));
            };
            if alert.status == status {
                anyhow::bail!("alert {id} is {} already: it cannot be {done} again", alert.status.as_str());
            }
            if !alert.status.may_become(status) {
                anyhow::bail!("alert {id} is {} already: it cannot be {done}", alert.status.as_str());
            }
            if !app.store.set_alert_status(project, id, status, "command line", Utc::now()).await? {
                return usage(format!("no alert with id {id} in project {:?}", app.project.name));
            }
            writeln!(out, "alert {id} {done}")?;
        }
        AlertCommand::Settings { trigger_terms, add_terms, high_reach, cooldown, disable } => {
            let mut settings = AlertSettings::load(app.store.as_ref(), project).await?;
            let changed = trigger_terms.is_some()
                || add_terms.is_some()
                || high_reach.is_some()
                || cooldown.is_some()
                || disable.is_some();
            if let Some(terms) = trigger_terms {
                settings.trigger_terms = match terms.trim() {
                    "none" => Vec::new(),
                    _ => split_list(&terms),
                };
                if settings.trigger_terms.is_empty() && terms.trim() != "none" {
                    return usage(
                        "--trigger-terms lists no term (it replaces them all, the defaults too): \
                         give comma-separated words or phrases, or `none` to have no trigger term",
                    );
                }
            }
            if let Some(terms) = add_terms {
                let terms = split_list(&terms);
                if terms.is_empty() {
                    return usage("--add-terms lists no term: give comma-separated words or phrases");
                }
                for t in terms {
                    if !settings.trigger_terms.iter().any(|x| x.eq_ignore_ascii_case(&t)) {
                        settings.trigger_terms.push(t);
                    }
                }
            }
            if let Some(r) = high_reach {
                settings.high_reach = r;
            }
            if let Some(c) = cooldown {
                settings.cooldown_secs = parse_duration(&c)?;
            }
            if let Some(d) = disable {
                settings.disabled = if d.trim() == "none" {
                    Vec::new()
                } else {
                    match split_list(&d).iter().map(|r| r.parse::<AlertRule>()).collect::<Result<Vec<_>, _>>() {
                        Ok(rules) => rules,
                        Err(e) => return usage(e),
                    }
                };
            }
            if changed {
                if let Err(e) = settings.validate() {
                    return usage(e);
                }
                app.store.set_alert_settings(project, &serde_json::to_value(&settings)?).await?;
                super::user::audit(app, Some(project), "alert_settings.update", "changed the alert settings".into())
                    .await?;
            }
            if settings.trigger_terms.is_empty() {
                writeln!(out, "trigger terms: none")?;
            } else {
                writeln!(out, "trigger terms: {}", settings.trigger_terms.join(", "))?;
            }
            writeln!(out, "high reach: a negative mention with a reach score of {} or more", settings.high_reach)?;
            writeln!(out, "cooldown: {}", crate::commands::source::every(settings.cooldown_secs))?;
            let on: Vec<&str> = AlertRule::ALL.iter().filter(|r| settings.enabled(**r)).map(|r| r.as_str()).collect();
            writeln!(out, "rules on: {}", on.join(", "))?;
        }
    }
    Ok(())
}

async fn show(app: &App, a: &Alert, watch: Option<&str>, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(out, "alert {} — {} ({}, {})", a.id, a.title, a.severity, a.status.as_str())?;
    writeln!(out, "rule: {}; watch: {}", a.rule, watch.unwrap_or("-"))?;
    let e = &a.evidence;
    writeln!(out, "observed {} vs expected {}", round3(e.observed), round3(e.expected))?;
    if let Some(stories) = a.copied_stories() {
        writeln!(
            out,
            "stories: {stories} (the other {} mention(s) are copies of them)",
            e.observed.round() - stories as f64
        )?;
    }
    if let Some(authors) = a.few_authors() {
        writeln!(out, "authors: {authors} (some posted several times)")?;
    }
    if let Some(score) = e.score {
        writeln!(out, "anomaly score: {score:.3}")?;
    }
    if let (Some(s), Some(end)) = (e.window_start, e.window_end) {
        writeln!(out, "window: {} to {}", s.format("%Y-%m-%d %H:%M:%SZ"), end.format("%Y-%m-%d %H:%M:%SZ"))?;
    }
    if !e.terms.is_empty() {
        writeln!(out, "terms: {}", e.terms.join(", "))?;
    }
    for url in &e.urls {
        writeln!(out, "page: {url}")?;
    }
    writeln!(out, "events: {} since {}", a.events, a.opened_at.format("%Y-%m-%d %H:%M:%SZ"))?;
    if let Some(at) = a.acknowledged_at {
        let by = a.acknowledged_by.as_deref().unwrap_or("unknown");
        writeln!(out, "acknowledged: {} by {by}", at.format("%Y-%m-%d %H:%M:%SZ"))?;
    }
    if let (AlertStatus::Resolved, Some(at)) = (a.status, a.resolved_at) {
        writeln!(
            out,
            "resolved: {} by {}",
            at.format("%Y-%m-%d %H:%M:%SZ"),
            a.resolved_by.as_deref().unwrap_or("unknown")
        )?;
    }
    writeln!(out, "mentions (`vigie mention show ID`):")?;
    for id in &a.mention_ids {
        if let Some(m) = app.store.mention(app.project.id, *id).await? {
            let text: String = m.mention.text.chars().take(140).collect();
            let polarity = m.mention.analysis.polarity().map_or("unknown", |p| p.as_str());
            writeln!(out, "  {id} [{polarity}] {} {}", m.mention.url.as_deref().unwrap_or("-"), text)?;
        }
    }
    let deliveries = app.store.deliveries(a.id).await?;
    if !deliveries.is_empty() {
        writeln!(out, "notifications:")?;
        for d in deliveries {
            if d.status == "superseded" {
                writeln!(
                    out,
                    "  notification {} to {} {}: superseded (a later one tells it)",
                    d.event, d.channel.kind, d.channel.target
                )?;
                continue;
            }
            writeln!(
                out,
                "  notification {} to {} {}: {} after {} attempt(s){}",
                d.event,
                d.channel.kind,
                d.channel.target,
                d.status,
                d.attempts,
                d.last_error.map(|e| format!(" (last error: {e})")).unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

/// `French`, `English`: how a channel's language is told in the output.
fn language_name(lang: Language) -> &'static str {
    lang.t("French", "English")
}

pub async fn notify(app: &App, command: NotifyCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let project = app.project.id;
    let severity = |s: &str| s.parse::<Severity>().map_err(|e| crate::app::UsageError(e).into());
    let language = |s: &str| match s.parse::<Language>() {
        Ok(lang) => Ok(lang),
        Err(e) => usage(format!("--lang: {e}")),
    };
    match command {
        NotifyCommand::Webhook { url, secret, min_severity, lang } => {
            let min_severity: Severity = severity(&min_severity).or_else(|e: anyhow::Error| usage(e.to_string()))?;
            let lang = language(&lang)?;
            let parsed = match url::Url::parse(url.trim()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
                _ => return usage(format!("{url:?} is not an http(s) address")),
            };
            // An address the notifier would refuse on every send is refused now.
            if let Err(e) = vigie_collect::guard::check_url(&parsed, vigie_collect::guard::private_networks_allowed()) {
                return usage(e.to_string());
            }
            let channel = NewChannel {
                kind: "webhook".into(),
                target: parsed.to_string(),
                secret: secret.filter(|s| !s.trim().is_empty()),
                min_severity,
                lang,
            };
            let added = match app.store.add_channel(project, channel, Utc::now()).await {
                Err(StoreError::Conflict(m)) => return usage(m),
                other => other?,
            };
            super::user::audit(app, Some(project), "channel.add", format!("added webhook {}", added.target)).await?;
            writeln!(
                out,
                "channel {}: {} alerts go to {}{}, in {}",
                added.id,
                added.min_severity,
                added.target,
                if added.secret.is_some() { " (signed)" } else { "" },
                language_name(added.lang)
            )?;
        }
        NotifyCommand::Email { to, min_severity, lang } => {
            let min_severity: Severity = severity(&min_severity).or_else(|e: anyhow::Error| usage(e.to_string()))?;
            let lang = language(&lang)?;
            let addresses = split_list(&to);
            if addresses.is_empty() {
                return usage("give at least one e-mail address");
            }
            for a in &addresses {
                if let Err(e) = a.parse::<lettre::Address>() {
                    return usage(format!("{a:?} is not an e-mail address: {e}"));
                }
            }
            let channel =
                NewChannel { kind: "email".into(), target: addresses.join(","), secret: None, min_severity, lang };
            let added = match app.store.add_channel(project, channel, Utc::now()).await {
                Err(StoreError::Conflict(m)) => return usage(m),
                other => other?,
            };
            super::user::audit(app, Some(project), "channel.add", format!("added e-mail to {}", added.target)).await?;
            writeln!(
                out,
                "channel {}: {} alerts e-mailed to {}, in {}",
                added.id,
                added.min_severity,
                added.target,
                language_name(added.lang)
            )?;
            if std::env::var_os("VIGIE_SMTP_URL").is_none() {
                writeln!(out, "note: set VIGIE_SMTP_URL (smtp://user:pass@host:587) and VIGIE_SMTP_FROM to send them")?;
            }
        }
        NotifyCommand::List { output } => {
            let mut table = Table::new(vec!["id", "kind", "target", "signed", "min_severity", "lang", "created"]);
            for c in app.store.list_channels(project).await? {
                table.push(vec![
                    json!(c.id),
                    json!(c.kind),
                    json!(c.target),
                    json!(c.secret.is_some()),
                    json!(c.min_severity.as_str()),
                    json!(c.lang.code()),
                    time(Some(c.created_at)),
                ]);
            }
            table.write(out, output.format)?;
        }
        NotifyCommand::Remove { id } => {
            if !app.store.remove_channel(project, id).await? {
                return usage(format!("no channel with id {id} in project {:?}", app.project.name));
            }
            writeln!(out, "channel {id} removed")?;
        }
        NotifyCommand::Send => {
            let notifier = crate::commands::collect::notifier()?;
            let lease = vigie_pipeline::Lease::for_process("notify", std::time::Duration::from_secs(300));
            let report = notifier.deliver_due(&app.store, Utc::now(), &lease).await;
            // What could not be sent goes back to the other processes at once.
            app.store.release_leases(&lease.worker).await?;
            let report = report?;
            write!(
                out,
                "{} notification(s) sent, {} to retry, {} failed (every project's)",
                report.sent, report.retry, report.failed
            )?;
            if report.superseded > 0 {
                write!(out, "; {} left out for a later one of the same alert", report.superseded)?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

/// `2026-03-01`, `2026-03-01T10:00:00Z`, `2026-03-01 10:00`, or a duration back from now (`7d`).
fn parse_when(s: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    if let Ok(t) = vigie_pipeline::parse_datetime(s) {
        return Ok(t);
    }
    match parse_duration(s) {
        Ok(secs) => Ok(now - Duration::seconds(secs)),
        Err(_) => usage(format!("{s:?} is not a date (2026-03-01, 2026-03-01T10:00:00Z) or a duration (7d)")),
    }
}

pub async fn backtest_run(app: &App, args: BacktestArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let now = Utc::now();
    let from = parse_when(&args.from, now)?;
    let to = match &args.to {
        // A bare date ends the period with that day, included (`--from
        // 2026-03-01 --to 2026-03-01` is that day).
        Some(t) if NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d").is_ok() => parse_when(t, now)? + Duration::days(1),
        Some(t) => parse_when(t, now)?,
        None => now,
    };
    // Replayed up to now at most: buckets to come would be read as empty,
    // and an alert would go on growing into the future.
    let to = to.min(now);
    if from >= to {
        return usage("--from must be before --to and before now");
    }
    if to - from > Duration::days(366) {
        return usage("backtest at most a year at a time");
    }
    let watch = super::search::watch_named(app, &args.watch).await?;
    let settings = AlertSettings::load(app.store.as_ref(), app.project.id).await?;
    let alerts = backtest(app.store.as_ref(), app.project.id, &watch, &settings, from, to).await?;
    let mut table = Table::new(vec![
        "id", "severity", "rule", "title", "observed", "expected", "events", "opened", "last", "mentions",
    ]);
    for a in &alerts {
        table.push(vec![
            json!(a.id),
            json!(a.severity.as_str()),
            json!(a.rule.as_str()),
            json!(a.title),
            json!(round3(a.evidence.observed)),
            json!(round3(a.evidence.expected)),
            json!(a.events),
            time(Some(a.opened_at)),
            time(Some(a.updated_at)),
            json!(a.mention_ids.iter().take(5).map(i64::to_string).collect::<Vec<_>>().join(" ")),
        ]);
    }
    table.write(out, args.output.format)?;
    if args.output.format == crate::cli::OutputFormat::Table {
        writeln!(
            out,
            "{} alert(s) would have fired for {:?} from {} to {} UTC with the current settings (nothing was saved)",
            alerts.len(),
            watch.name,
            from.format("%Y-%m-%d %H:%M"),
            to.format("%Y-%m-%d %H:%M")
        )?;
    }
    Ok(())
}

/// An expectation as a person reads it (three decimals, not 0.13461166413943193).
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
