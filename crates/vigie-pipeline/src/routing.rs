//! Routing: mentions go to the department that answers them as they arrive,
//! and overdue ones are escalated to the department's manager.
//!
//! A project's routing rules are tried in order; the first whose every set
//! condition holds (theme, sentiment, watch, source kind) sends the mention
//! to its department. The [`Router`] is pure: built once per ingest run from
//! the stored rules and departments, it turns a stored mention into the
//! inbox row and the history event to insert. The ingest path stores them
//! right after the mentions (`Store::route_mentions`); a routing failure is
//! logged and never loses a stored mention.
//!
//! A mention published more than [`MAX_ROUTING_AGE_SECS`] before it arrived
//! is history (an imported archive, a backfill): it is stored, searchable and
//! counted, but not sent to the inbox, which would otherwise fill with items
//! late before anyone saw them. [`Router::route_history`] lifts the limit
//! (`vigie import --route-old`, the demo).
//!
//! New projects get a default workflow ([`seed_workflow`]): one department
//! per distinct department of the project's themes, one rule per theme
//! sending its negative mentions there, and a last one sending the other
//! negative mentions to customer service.
//!
//! A mention that matched only competitor watches is not the project's to
//! answer: only a rule naming one of its watches routes it.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use vigie_model::{Escalation, InboxStatus, Mention, Polarity, Role, SourceKind, WorkflowChange, WorkflowDetail};
use vigie_store::{
    Department, InboxItem, NewDepartment, NewEscalationMails, NewRoutingRule, NewWorkflowEvent, RoutingRule, Store,
    StoreError, StoredMention,
};

use crate::PipelineError;

/// Response target of the customer-service department of the default workflow.
pub const CUSTOMER_SERVICE_TARGET_SECS: i64 = 4 * 3_600;
/// Response target of the other default departments (legal included).
pub const DEFAULT_TARGET_SECS: i64 = 24 * 3_600;
/// Mentions published longer than this before they arrived are not routed (one week).
pub const MAX_ROUTING_AGE_SECS: i64 = 7 * 86_400;
/// The theme whose department takes the negative mentions no theme
/// recognised, in the default workflow.
pub const CUSTOMER_SERVICE_THEME: &str = "customer_service";
/// Overdue items escalated per call of [`escalate_overdue`].
pub const ESCALATION_BATCH: i64 = 500;

/// What routing looks at in a stored mention.
#[derive(Debug, Clone, Copy)]
pub struct Routable<'a> {
    /// The store id.
    pub id: i64,
    /// The correction if any, else the verdict (`Analysis::polarity`).
    pub polarity: Option<Polarity>,
    /// Theme keys of the analysis.
    pub themes: &'a [&'a str],
    /// Watches the mention matched.
    pub watch_ids: &'a [i64],
    pub source_kind: SourceKind,
    /// When the mention arrived: the response clock starts there.
    pub collected_at: DateTime<Utc>,
    /// When it was published (a mention published long before it arrived is not routed).
    pub published_at: DateTime<Utc>,
}

/// A project's routing rules with their departments, compiled once.
#[derive(Debug, Clone, Default)]
pub struct Router {
    project_id: i64,
    /// By position; rules whose department is unknown are left out.
    rules: Vec<RoutingRule>,
    departments: HashMap<i64, Department>,
    /// Mentions published longer than this before they arrived are not
    /// routed ([`MAX_ROUTING_AGE_SECS`]; `None`: all are).
    max_age_secs: Option<i64>,
    /// The project's competitor watches: a mention that matched only these
    /// is about somebody else's customers, so only a rule naming one of its
    /// watches routes it.
    competitors: HashSet<i64>,
}

impl Router {
    pub fn new(project_id: i64, mut rules: Vec<RoutingRule>, departments: Vec<Department>) -> Self {
        let departments: HashMap<i64, Department> = departments.into_iter().map(|d| (d.id, d)).collect();
        rules.retain(|r| departments.contains_key(&r.department_id));
        rules.sort_by_key(|r| (r.position, r.id));
        Router { project_id, rules, departments, max_age_secs: Some(MAX_ROUTING_AGE_SECS), competitors: HashSet::new() }
    }

    /// Names the project's competitor watches (see [`Router::first_match`]).
    pub fn with_competitors(mut self, watch_ids: impl IntoIterator<Item = i64>) -> Self {
        self.competitors = watch_ids.into_iter().collect();
        self
    }

    /// Routes old mentions too (an archive whose mentions should all enter the inbox).
    pub fn route_history(&mut self) {
        self.max_age_secs = None;
    }

    /// Whether `m` is too old when it arrives to be sent to the inbox.
    pub fn is_history(&self, m: &Routable<'_>) -> bool {
        self.max_age_secs.is_some_and(|max| (m.collected_at - m.published_at).num_seconds() > max)
    }

    /// The project's stored rules, departments and competitor watches.
    pub async fn load(store: &dyn Store, project_id: i64) -> Result<Self, StoreError> {
        let rules = store.list_rules(project_id).await?;
        let departments = store.list_departments(project_id).await?;
        let competitors = store.list_watches(project_id).await?.into_iter().filter(|w| w.competitor).map(|w| w.id);
        Ok(Router::new(project_id, rules, departments).with_competitors(competitors))
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The first rule the mention passes, with its department. A mention
    /// that matched competitor watches only (a complaint about a
    /// competitor) passes only rules that name one of its watches: the
    /// project's own people do not answer it unless they asked for it.
    pub fn first_match(&self, m: &Routable<'_>) -> Option<(&RoutingRule, &Department)> {
        let competitor_only = !m.watch_ids.is_empty() && m.watch_ids.iter().all(|w| self.competitors.contains(w));
        self.rules
            .iter()
            .find(|r| rule_matches(r, m) && (!competitor_only || r.watch_id.is_some()))
            .and_then(|r| self.departments.get(&r.department_id).map(|d| (r, d)))
    }

    /// The inbox row and its `routed` event for a mention a rule sends to a
    /// department; `None` when no rule matches.
    pub fn route(&self, m: &Routable<'_>, now: DateTime<Utc>) -> Option<(InboxItem, NewWorkflowEvent)> {
        if self.is_history(m) {
            return None;
        }
        let (rule, department) = self.first_match(m)?;
        let entered_at = m.collected_at;
        let item = InboxItem {
            mention_id: m.id,
            project_id: self.project_id,
            status: InboxStatus::ToHandle,
            department_id: Some(department.id),
            assignee_id: None,
            entered_at,
            due_at: due_at(entered_at, department),
            first_response_at: None,
            closed_at: None,
            reply: None,
            reason: None,
            escalated_at: None,
            clock_at: None,
            first_due_at: None,
            updated_at: now,
        };
        let detail = WorkflowDetail::new(WorkflowChange::Routed {
            rule: rule.position,
            theme: rule.theme.clone(),
            sentiment: rule.sentiment,
            watch: rule.watch_id,
            source: rule.source_kind,
            department: department.name.clone(),
        });
        let event = NewWorkflowEvent { user_id: None, action: "routed".into(), detail: detail.encode() };
        Some((item, event))
    }

    /// [`Router::route`] for a batch of freshly stored mentions:
    /// `(store id, mention, watch ids)`.
    pub fn route_batch<'m>(
        &self,
        mentions: impl IntoIterator<Item = (i64, &'m Mention, Vec<i64>)>,
        now: DateTime<Utc>,
    ) -> Vec<(InboxItem, NewWorkflowEvent)> {
        if self.is_empty() {
            return Vec::new();
        }
        mentions
            .into_iter()
            .filter_map(|(id, mention, watch_ids)| {
                let themes: Vec<&str> = mention.analysis.themes.iter().map(|t| t.theme.as_str()).collect();
                let routable = Routable {
                    id,
                    polarity: mention.analysis.polarity(),
                    themes: &themes,
                    watch_ids: &watch_ids,
                    source_kind: mention.source_kind,
                    collected_at: mention.collected_at,
                    published_at: mention.published_at,
                };
                self.route(&routable, now)
            })
            .collect()
    }
}

/// What a person's correction of a verdict did to the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrectionRoute {
    /// A routing rule takes the corrected mention: it entered the inbox.
    Routed,
    /// It was waiting, untouched, in the inbox only because of the verdict
    /// the person corrected: it is ignored now, with the reason.
    Withdrawn,
    /// Nothing changed (no rule takes it, or someone works on it already).
    Unchanged,
}

/// A complaint the model missed enters the inbox once a person says so: the
/// project's routing rules run on the corrected verdict (`polarity`: the
/// correction, or the model's verdict when the correction is removed),
/// whatever the mention's age, and its response clock starts `now`. The
/// other way round, a mention no rule would take any more leaves the inbox
/// (ignored, saying why) if nobody has touched it yet: not assigned, not
/// answered, still new or to handle; otherwise it keeps its place. The web
/// app's corrections and `vigie mention label` call it; `by` is who
/// corrected.
pub async fn route_correction(
    store: &dyn Store,
    project_id: i64,
    stored: &StoredMention,
    polarity: Option<Polarity>,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<CorrectionRoute, StoreError> {
    let m = &stored.mention;
    let existing = store.inbox_item(project_id, m.id).await?;
    let mut router = Router::load(store, project_id).await?;
    router.route_history();
    let themes: Vec<&str> = m.analysis.themes.iter().map(|t| t.theme.as_str()).collect();
    let watch_ids: Vec<i64> = stored.matches.iter().map(|w| w.watch_id).collect();
    let routable = Routable {
        id: m.id,
        polarity,
        themes: &themes,
        watch_ids: &watch_ids,
        source_kind: m.source_kind,
        collected_at: now,
        published_at: m.published_at,
    };
    let routed = router.route(&routable, now);
    let event = |change: WorkflowChange| NewWorkflowEvent {
        user_id: by,
        action: change.action().into(),
        detail: WorkflowDetail::new(change).encode(),
    };
    match (existing, routed) {
        (None, Some(item)) => {
            let inserted = store.route_mentions(&[item]).await? > 0;
            Ok(if inserted { CorrectionRoute::Routed } else { CorrectionRoute::Unchanged })
        }
        // Waiting, untouched, for the verdict now corrected: it leaves.
        (Some(item), None)
            if matches!(item.status, InboxStatus::New | InboxStatus::ToHandle)
                && item.assignee_id.is_none()
                && item.first_response_at.is_none()
                && untouched_since_routing(store, project_id, m.id).await? =>
        {
            let change = WorkflowChange::Withdrawn { to: polarity };
            // Stored in English, as the API gives details; pages render the
            // `withdrawn` event in the reader's language instead.
            let reason = WorkflowDetail::new(change.clone()).render(vigie_model::Language::En);
            let after =
                InboxItem { status: InboxStatus::Ignored, reason: Some(reason), updated_at: now, ..item.clone() };
            saved(
                store.save_inbox_item_from(Some(&item), &after, Some(event(change))).await,
                CorrectionRoute::Withdrawn,
            )
        }
        // Withdrawn that way, and corrected back: it returns, with its
        // first entry time (its clock did not stop).
        (Some(item), Some(_))
            if item.status == InboxStatus::Ignored && untouched_since_routing(store, project_id, m.id).await? =>
        {
            // Due by its department's target as it is now (a target changed
            // while it was out of the inbox did not move it).
            let department = match item.department_id {
                Some(id) => store.list_departments(project_id).await?.into_iter().find(|d| d.id == id),
                None => None,
            };
            let due_at = department.as_ref().and_then(|d| due_at(item.clock_start(), d));
            let after =
                InboxItem { status: InboxStatus::ToHandle, reason: None, due_at, updated_at: now, ..item.clone() };
            let change = WorkflowChange::Returned { to: polarity };
            saved(store.save_inbox_item_from(Some(&item), &after, Some(event(change))).await, CorrectionRoute::Routed)
        }
        _ => Ok(CorrectionRoute::Unchanged),
    }
}

/// `outcome` if the item was saved; unchanged if someone acted on it
/// meanwhile (theirs stands).
fn saved(result: Result<(), StoreError>, outcome: CorrectionRoute) -> Result<CorrectionRoute, StoreError> {
    match result {
        Ok(()) => Ok(outcome),
        Err(StoreError::Conflict(_)) => Ok(CorrectionRoute::Unchanged),
        Err(e) => Err(e),
    }
}

/// Whether a mention's inbox item was routed automatically and nobody did
/// anything with it since (its history holds only routing, escalation,
/// verdict corrections and what they did to the item, and what changes to
/// its department did: a new target, the department removed).
async fn untouched_since_routing(store: &dyn Store, project_id: i64, mention_id: i64) -> Result<bool, StoreError> {
    let events = store.workflow_events(project_id, mention_id).await?;
    Ok(events.iter().any(|e| e.action == "routed")
        && events.iter().all(|e| {
            matches!(
                e.action.as_str(),
                "routed" | "escalated" | "sentiment" | "withdrawn" | "returned" | "retargeted" | "department_removed"
            )
        }))
}

/// `entered_at` plus the department's target (none when it has no positive target).
pub fn due_at(entered_at: DateTime<Utc>, department: &Department) -> Option<DateTime<Utc>> {
    (department.response_target_secs > 0).then(|| entered_at + Duration::seconds(department.response_target_secs))
}

fn rule_matches(rule: &RoutingRule, m: &Routable<'_>) -> bool {
    rule.theme.as_deref().is_none_or(|t| m.themes.contains(&t))
        && rule.sentiment.is_none_or(|s| m.polarity == Some(s))
        && rule.watch_id.is_none_or(|w| m.watch_ids.contains(&w))
        && rule.source_kind.is_none_or(|k| m.source_kind == k)
}

/// Whether a rule takes mentions of any theme, watch and source (the default
/// workflow's last rule is one): a rule placed after it only sees what it
/// leaves.
pub fn is_catch_all(rule: &RoutingRule) -> bool {
    rule.theme.is_none() && rule.watch_id.is_none() && rule.source_kind.is_none()
}

/// Moves a rule just added at the end up before the catch-all rules there
/// (the default workflow's last rule is one), which would otherwise take its
/// mentions first; a catch-all itself stays last. Returns the rule where it
/// now stands.
pub async fn place_before_catch_alls(
    store: &dyn Store,
    project_id: i64,
    rule: RoutingRule,
) -> Result<RoutingRule, StoreError> {
    if is_catch_all(&rule) {
        return Ok(rule);
    }
    let mut placed = rule;
    loop {
        let rules = store.list_rules(project_id).await?;
        let Some(i) = rules.iter().position(|r| r.id == placed.id) else { return Ok(placed) };
        placed = rules[i].clone();
        if i == 0 || !is_catch_all(&rules[i - 1]) || !store.move_rule(project_id, placed.id, true).await? {
            return Ok(placed);
        }
    }
}

/// The conditions of a rule in a few words: `theme delivery, negative`.
pub fn describe_conditions(rule: &RoutingRule) -> String {
    let mut parts = Vec::new();
    if let Some(theme) = &rule.theme {
        parts.push(format!("theme {theme}"));
    }
    if let Some(s) = rule.sentiment {
        parts.push(s.as_str().to_string());
    }
    if let Some(w) = rule.watch_id {
        parts.push(format!("watch #{w}"));
    }
    if let Some(k) = rule.source_kind {
        parts.push(format!("source {k}"));
    }
    if parts.is_empty() { "any mention".to_string() } else { parts.join(", ") }
}

/// The default response target of a department of the default workflow.
pub fn default_target_secs(department: &str) -> i64 {
    let name = department.trim().to_lowercase();
    if ["customer service", "service client", "service clients", "relation client"].contains(&name.as_str()) {
        CUSTOMER_SERVICE_TARGET_SECS
    } else {
        // Legal and every other department: a day.
        DEFAULT_TARGET_SECS
    }
}

/// Gives a project without departments the default workflow: one
/// department per distinct department name of its themes (customer service
/// 4 h, others 24 h), one rule per theme sending its negative mentions
/// there, and a last rule sending the negative mentions no theme recognised
/// to customer service (the department of the `customer_service` theme), so
/// that a complaint in words the themes do not know still reaches someone.
/// Does nothing when the project has a department already (so it is safe to
/// call every time themes are seeded); true if it did something.
pub async fn seed_workflow(store: &dyn Store, project_id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
    if !store.list_departments(project_id).await?.is_empty() {
        return Ok(false);
    }
    let themes = store.list_themes(project_id).await?;
    if themes.is_empty() {
        return Ok(false);
    }
    let mut ids: HashMap<String, i64> = HashMap::new();
    for theme in &themes {
        let name = theme.department.trim();
        if name.is_empty() || ids.contains_key(name) {
            continue;
        }
        let department =
            NewDepartment { name: name.to_string(), response_target_secs: default_target_secs(name), manager_id: None };
        match store.add_department(project_id, department, now).await {
            Ok(d) => {
                ids.insert(d.name.clone(), d.id);
            }
            // Another process is seeding the same project: it finishes the job.
            Err(StoreError::Conflict(_)) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    for theme in &themes {
        let Some(department_id) = ids.get(theme.department.trim()) else {
            continue;
        };
        let rule = NewRoutingRule {
            theme: Some(theme.key.clone()),
            sentiment: Some(Polarity::Negative),
            watch_id: None,
            source_kind: None,
            department_id: *department_id,
        };
        store.add_rule(project_id, rule, now).await?;
    }
    let customer_service =
        themes.iter().find(|t| t.key == CUSTOMER_SERVICE_THEME).and_then(|t| ids.get(t.department.trim()));
    if let Some(department_id) = customer_service {
        let rule = NewRoutingRule {
            theme: None,
            sentiment: Some(Polarity::Negative),
            watch_id: None,
            source_kind: None,
            department_id: *department_id,
        };
        store.add_rule(project_id, rule, now).await?;
    }
    tracing::info!(project = project_id, departments = ids.len(), rules = themes.len(), "default workflow seeded");
    Ok(true)
}

/// Escalates the pending items of every project that are past their due
/// time and not escalated yet: each gets `escalated_at = now` (managers find
/// them with the inbox's escalated filter) and a history event naming whom
/// it went to: the department's manager, or, when the department has none
/// (or the item no department), the project's managers and admins, so an
/// overdue item is never marked escalated while nobody is told. The
/// assignee is kept. Returns the items escalated. The server runs it every
/// minute.
pub async fn escalate_overdue(store: &dyn Store, now: DateTime<Utc>) -> Result<Vec<Escalated>, PipelineError> {
    let overdue = store.overdue_items(now, ESCALATION_BATCH).await?;
    let mut departments: HashMap<i64, Vec<Department>> = HashMap::new();
    let mut names: HashMap<i64, String> = HashMap::new();
    // Per project, its active managers and admins, by username.
    let mut managers: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    let mut escalated = Vec::new();
    for listed in overdue {
        // Read again: a person may have handled it since the listing (the
        // store's conditional update checks this again, atomically).
        let Some(item) = store.inbox_item(listed.project_id, listed.mention_id).await? else {
            continue;
        };
        if !item.status.is_pending() || item.escalated_at.is_some() || item.due_at.is_none_or(|d| d >= now) {
            continue;
        }
        if let std::collections::hash_map::Entry::Vacant(e) = departments.entry(item.project_id) {
            e.insert(store.list_departments(item.project_id).await?);
        }
        let department = item
            .department_id
            .and_then(|id| departments.get(&item.project_id).and_then(|list| list.iter().find(|d| d.id == id)));
        let department_name = department.map(|d| d.name.clone());
        // Whom it goes to: the department's manager, else the project's
        // managers; none of them if the one it would go to has it already.
        let (to, recipients) = match department.and_then(|d| d.manager_id) {
            Some(manager) if item.assignee_id == Some(manager) => (Escalation::AlreadyManager, Vec::new()),
            Some(manager) => {
                if let std::collections::hash_map::Entry::Vacant(e) = names.entry(manager) {
                    let name = store.user(manager).await?.map(|u| u.display_name).unwrap_or(format!("user #{manager}"));
                    e.insert(name);
                }
                (Escalation::Manager(names.get(&manager).cloned().unwrap_or_default()), vec![manager])
            }
            None => {
                if let std::collections::hash_map::Entry::Vacant(e) = managers.entry(item.project_id) {
                    let members = store.members(item.project_id).await?;
                    e.insert(
                        members
                            .into_iter()
                            .filter(|(u, role)| *role >= Role::Manager && !u.disabled)
                            .map(|(u, _)| (u.id, u.display_name))
                            .collect(),
                    );
                }
                let all = managers.get(&item.project_id).map(Vec::as_slice).unwrap_or_default();
                let others: Vec<&(i64, String)> = all.iter().filter(|(id, _)| item.assignee_id != Some(*id)).collect();
                if others.is_empty() {
                    (if all.is_empty() { Escalation::NoManager } else { Escalation::AlreadyManager }, Vec::new())
                } else {
                    (
                        Escalation::ProjectManagers(others.iter().map(|(_, name)| name.clone()).collect()),
                        others.iter().map(|(id, _)| *id).collect(),
                    )
                }
            }
        };
        let to_project_managers = matches!(to, Escalation::ProjectManagers(_));
        let detail = WorkflowDetail::new(WorkflowChange::Escalated { since: item.due_at, to });
        let event = NewWorkflowEvent { user_id: None, action: "escalated".into(), detail: detail.encode() };
        // A conditional update: when several processes escalate at once (or
        // the mention was handled or deleted meanwhile), one does it, once.
        let mails = NewEscalationMails {
            recipients: recipients.clone(),
            to_project_managers,
            department: department_name.clone(),
            due_at: item.due_at.unwrap_or(now),
        };
        if store.escalate_item(item.project_id, item.mention_id, event, &mails, now).await? {
            escalated.push(Escalated {
                project_id: item.project_id,
                mention_id: item.mention_id,
                to_project_managers,
                recipients,
                department: department_name,
                due_at: item.due_at.unwrap_or(now),
            });
        }
    }
    Ok(escalated)
}

/// An inbox item escalated by [`escalate_overdue`].
#[derive(Debug, Clone, PartialEq)]
pub struct Escalated {
    pub project_id: i64,
    pub mention_id: i64,
    /// Whom it was escalated to: the department's manager, or the project's
    /// managers and admins when the department has none (empty: nobody, or
    /// the one it would go to has it already).
    pub recipients: Vec<i64>,
    /// The recipients are the project's managers (the department has none).
    pub to_project_managers: bool,
    pub department: Option<String>,
    pub due_at: DateTime<Utc>,
}

/// Escalation e-mails claimed at once.
const MAIL_BATCH: i64 = 50;
/// Attempts at an escalation e-mail before it is given up.
pub const MAIL_ATTEMPTS: i64 = 6;
/// An escalation e-mail still unsent this long after the escalation is not
/// sent any more (SMTP set up days later would send stale news); the item
/// stays in the inbox's escalated filter.
pub const MAIL_STALE: Duration = Duration::hours(24);

/// The wait before attempt `attempts + 1` (1, 5, 15 minutes, then hourly).
fn mail_backoff(attempts: i64) -> Duration {
    match attempts {
        ..=1 => Duration::minutes(1),
        2 => Duration::minutes(5),
        3 => Duration::minutes(15),
        _ => Duration::hours(1),
    }
}

/// What [`mail_escalations`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailReport {
    pub sent: usize,
    pub retry: usize,
    pub failed: usize,
}

/// Sends the escalation e-mails due at `now` (queued by
/// [`escalate_overdue`] with the escalation): each to its manager, in their
/// language, with a link to the item when `base_url` is set. One the SMTP
/// server did not take is tried again later (1, 5, 15 minutes, then
/// hourly; given up after [`MAIL_ATTEMPTS`] or [`MAIL_STALE`]), after a
/// restart too; one accepted is not sent again. A manager disabled since,
/// or without an address, gets none (recorded as failed, saying why).
pub async fn mail_escalations(
    store: &dyn Store,
    smtp: &vigie_notify::SmtpConfig,
    base_url: Option<&str>,
    zone: vigie_model::zone::Tz,
    now: DateTime<Utc>,
    lease: &crate::Lease,
) -> Result<MailReport, PipelineError> {
    let mut report = MailReport::default();
    let claimed = tokio::time::Instant::now();
    for mail in store.claim_escalation_mails(now, MAIL_BATCH, &lease.worker, lease.duration).await? {
        // A claim older than half its lease may be another worker's by now.
        if claimed.elapsed() > lease.duration / 2 {
            break;
        }
        let failed = |error: String| vigie_store::MailOutcome::Failed { error };
        let outcome = match escalation_email(store, &mail, base_url, zone).await? {
            Err(why) => failed(why),
            Ok(_) if now - mail.created_at > MAIL_STALE => {
                failed(format!("not sent within {} h of the escalation", MAIL_STALE.num_hours()))
            }
            Ok((address, subject, text, html)) => {
                let key = format!("escalation-{}-{}-to-{}", mail.project_id, mail.mention_id, mail.user_id);
                match vigie_notify::send_plain_email(smtp, &[address], &subject, &text, &html, &key).await {
                    Ok(()) => vigie_store::MailOutcome::Sent,
                    // The server said no for good (no such mailbox, say).
                    Err(error) if !error.is_transient() => failed(error.to_string()),
                    Err(error) if mail.attempts + 1 >= MAIL_ATTEMPTS => {
                        failed(format!("{error} (gave up after {MAIL_ATTEMPTS} attempts)"))
                    }
                    Err(error) => vigie_store::MailOutcome::Retry {
                        error: error.to_string(),
                        next_attempt_at: now + mail_backoff(mail.attempts + 1),
                    },
                }
            }
        };
        match &outcome {
            vigie_store::MailOutcome::Sent => report.sent += 1,
            vigie_store::MailOutcome::Retry { error, .. } => {
                tracing::warn!(%error, mention = mail.mention_id, manager = mail.user_id, "escalation e-mail will be retried");
                report.retry += 1;
            }
            vigie_store::MailOutcome::Failed { error } => {
                tracing::warn!(%error, mention = mail.mention_id, manager = mail.user_id, "escalation e-mail not sent");
                report.failed += 1;
            }
        }
        store.record_escalation_mail(mail.id, &lease.worker, outcome, now).await?;
    }
    Ok(report)
}

/// The address, subject, text and HTML of an escalation e-mail, or why it
/// cannot be sent.
async fn escalation_email(
    store: &dyn Store,
    mail: &vigie_store::EscalationMail,
    base_url: Option<&str>,
    zone: vigie_model::zone::Tz,
) -> Result<Result<(String, String, String, String), String>, PipelineError> {
    // What it says must still be true when it goes out (a retry hours
    // later): the item still waiting, escalated; the person still one who
    // may act on it.
    let waiting = store
        .inbox_item(mail.project_id, mail.mention_id)
        .await?
        .is_some_and(|i| i.status.is_pending() && i.escalated_at.is_some());
    if !waiting {
        return Ok(Err("the item was handled (or reassigned) before the e-mail could go".into()));
    }
    let Some(user) = store.user(mail.user_id).await?.filter(|u| !u.disabled) else {
        return Ok(Err("the manager's account is disabled or gone".into()));
    };
    let member = user.is_admin
        || store.memberships(user.id).await?.iter().any(|(p, role)| p.id == mail.project_id && *role >= Role::Agent);
    if !member {
        return Ok(Err(format!("{} no longer acts in this project", user.username)));
    }
    let Some(address) = user.email.clone() else {
        return Ok(Err(format!("{} has no e-mail address", user.username)));
    };
    let (Some(project), Some(mention)) =
        (store.project_by_id(mail.project_id).await?, store.mention(mail.project_id, mail.mention_id).await?)
    else {
        return Ok(Err("the mention is gone".into()));
    };
    let m = &mention.mention;
    // Bounded (with an ellipsis) where the e-mail is written.
    let title = m.title.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| m.text.clone());
    let item_url =
        base_url.map(|b| format!("{}/p/{}/inbox/{}", b.trim_end_matches('/'), mail.project_id, mail.mention_id));
    let lang: vigie_model::Language = user.lang.parse().unwrap_or_default();
    let (subject, text, html) = vigie_notify::escalation_email(&vigie_notify::Escalation {
        lang,
        project: &project.name,
        department: mail.department.as_deref().unwrap_or("—"),
        mention: &title,
        mention_url: m.url.as_deref(),
        due_at: mail.due_at,
        zone,
        item_url: item_url.as_deref(),
        mention_id: mail.mention_id,
        to_project_managers: mail.to_project_managers,
    });
    Ok(Ok((address, subject, text, html)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;
    use vigie_model::{Language, detail_text};

    use super::*;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).unwrap()
    }

    /// The event's detail as the API shows it.
    fn english(event: &NewWorkflowEvent) -> String {
        detail_text(&event.action, &event.detail, Language::En)
    }

    fn department(id: i64, name: &str, target: i64) -> Department {
        Department {
            id,
            project_id: 1,
            name: name.into(),
            response_target_secs: target,
            manager_id: None,
            created_at: t(0),
        }
    }

    fn rule(id: i64, position: i64, department_id: i64) -> RoutingRule {
        RoutingRule {
            id,
            project_id: 1,
            position,
            theme: None,
            sentiment: None,
            watch_id: None,
            source_kind: None,
            department_id,
            created_at: t(0),
        }
    }

    fn router() -> Router {
        let delivery = RoutingRule {
            theme: Some("delivery_logistics".into()),
            sentiment: Some(Polarity::Negative),
            ..rule(10, 3, 2)
        };
        let legal = RoutingRule { theme: Some("legal".into()), ..rule(11, 1, 3) };
        let twitter = RoutingRule { source_kind: Some(SourceKind::Twitter), watch_id: Some(7), ..rule(12, 2, 1) };
        let departments = vec![
            department(1, "Customer service", 4 * 3600),
            department(2, "Logistics", 24 * 3600),
            department(3, "Legal", 0),
        ];
        Router::new(1, vec![delivery, legal, twitter], departments)
    }

    fn routable<'a>(themes: &'a [&'a str], watches: &'a [i64], polarity: Option<Polarity>) -> Routable<'a> {
        Routable {
            id: 42,
            polarity,
            themes,
            watch_ids: watches,
            source_kind: SourceKind::Forum,
            collected_at: t(8),
            published_at: t(7),
        }
    }

    #[test]
    fn history_is_not_routed_unless_asked() {
        let mut r = router();
        let fresh = routable(&["legal"], &[], Some(Polarity::Negative));
        assert!(!r.is_history(&fresh));
        // Published a week and a second before it arrived: history.
        let old = Routable { published_at: fresh.collected_at - Duration::seconds(MAX_ROUTING_AGE_SECS + 1), ..fresh };
        assert!(r.is_history(&old));
        assert!(r.route(&old, t(9)).is_none());
        // Exactly a week is still routed.
        let week = Routable { published_at: fresh.collected_at - Duration::seconds(MAX_ROUTING_AGE_SECS), ..fresh };
        assert!(r.route(&week, t(9)).is_some());
        // An archive whose mentions should all enter the inbox.
        r.route_history();
        let (item, _) = r.route(&old, t(9)).unwrap();
        assert_eq!(item.entered_at, fresh.collected_at);
    }

    #[test]
    fn the_first_matching_rule_by_position_wins() {
        let r = router();
        // Legal (position 1) comes before delivery (position 3).
        let m = routable(&["delivery_logistics", "legal"], &[], Some(Polarity::Negative));
        assert_eq!(r.first_match(&m).map(|(rule, d)| (rule.id, d.name.as_str())), Some((11, "Legal")));
        let m = routable(&["delivery_logistics"], &[], Some(Polarity::Negative));
        let (item, event) = r.route(&m, t(9)).unwrap();
        assert_eq!(item.department_id, Some(2));
        assert_eq!(item.status, InboxStatus::ToHandle);
        assert_eq!((item.mention_id, item.project_id), (42, 1));
        assert_eq!(item.entered_at, t(8));
        assert_eq!(item.due_at, Some(t(8) + Duration::hours(24)));
        assert_eq!(item.updated_at, t(9));
        assert_eq!(event.user_id, None);
        assert_eq!(event.action, "routed");
        assert_eq!(english(&event), "rule #3 (theme delivery_logistics, negative) → Logistics");
        let french = detail_text(&event.action, &event.detail, Language::Fr);
        assert_eq!(french, "règle n°\u{a0}3 (thème delivery_logistics, négatif) → Logistics");
    }

    #[test]
    fn every_set_condition_must_hold() {
        let r = router();
        // Delivery, but not negative: no rule.
        assert!(r.route(&routable(&["delivery_logistics"], &[], Some(Polarity::Positive)), t(9)).is_none());
        assert!(r.route(&routable(&["delivery_logistics"], &[], None), t(9)).is_none());
        // Watch 7 but not from Twitter.
        assert!(r.route(&routable(&[], &[7], None), t(9)).is_none());
        let m = Routable { source_kind: SourceKind::Twitter, ..routable(&[], &[7], None) };
        let (item, event) = r.route(&m, t(9)).unwrap();
        assert_eq!(item.department_id, Some(1));
        assert_eq!(item.due_at, Some(t(12)));
        assert_eq!(english(&event), "rule #2 (watch #7, source twitter) → Customer service");
        // Twitter but another watch.
        let m = Routable { source_kind: SourceKind::Twitter, ..routable(&[], &[8], None) };
        assert!(r.route(&m, t(9)).is_none());
    }

    #[test]
    fn a_department_without_target_has_no_due_time_and_a_rule_without_conditions_takes_all() {
        let r = router();
        let (item, _) = r.route(&routable(&["legal"], &[], None), t(9)).unwrap();
        assert_eq!((item.department_id, item.due_at), (Some(3), None));
        let catch_all = Router::new(1, vec![rule(1, 1, 1)], vec![department(1, "Everyone", 3600)]);
        let (_, event) = catch_all.route(&routable(&[], &[], None), t(9)).unwrap();
        assert_eq!(english(&event), "rule #1 (any mention) → Everyone");
    }

    #[test]
    fn a_mention_of_competitors_only_is_routed_only_by_a_rule_naming_their_watch() {
        // Watch 7 is ours, 8 and 9 are competitors.
        let negative = RoutingRule { sentiment: Some(Polarity::Negative), ..rule(1, 1, 1) };
        let of_eight = RoutingRule { watch_id: Some(8), ..rule(2, 2, 2) };
        let departments = vec![department(1, "Customer service", 3600), department(2, "Market watch", 0)];
        let r = Router::new(1, vec![negative, of_eight], departments).with_competitors([8, 9]);
        let routed = |watches: &[i64]| {
            r.route(&routable(&[], watches, Some(Polarity::Negative)), t(9)).map(|(item, _)| item.department_id)
        };
        assert_eq!(routed(&[7]), Some(Some(1)), "ours");
        assert_eq!(routed(&[7, 9]), Some(Some(1)), "ours and a competitor: ours to answer");
        assert_eq!(routed(&[]), Some(Some(1)), "no watch at all (pushed, imported)");
        assert_eq!(routed(&[9]), None, "a competitor's complaint");
        assert_eq!(routed(&[8, 9]), Some(Some(2)), "a rule that names the competitor's watch");
    }

    #[test]
    fn rules_of_unknown_departments_are_skipped_and_no_rules_route_nothing() {
        let r = Router::new(1, vec![rule(1, 1, 99), rule(2, 2, 1)], vec![department(1, "CS", 60)]);
        let (item, _) = r.route(&routable(&[], &[], None), t(9)).unwrap();
        assert_eq!(item.department_id, Some(1));
        let empty = Router::new(1, Vec::new(), vec![department(1, "CS", 60)]);
        assert!(empty.is_empty());
        assert!(empty.route(&routable(&["legal"], &[], Some(Polarity::Negative)), t(9)).is_none());
    }

    #[test]
    fn batches_read_the_analysis_of_each_mention() {
        let mut m = Mention {
            id: 0,
            source_kind: SourceKind::Review,
            source_item_id: None,
            url: None,
            title: None,
            text: "colis jamais reçu".into(),
            author: None,
            site: None,
            published_at: t(7),
            collected_at: t(8),
            lang: None,
            lang_confidence: 0.0,
            reach: None,
            content_hash: String::new(),
            dedup_key: String::new(),
            analysis: Default::default(),
        };
        m.analysis.themes.push(vigie_model::ThemeScore {
            theme: "delivery_logistics".into(),
            score: 0.9,
            evidence: vec![],
        });
        m.analysis.sentiment = Some(vigie_model::Sentiment {
            label: Polarity::Positive,
            score: 0.5,
            confidence: 0.9,
            model: "t".into(),
            explanation: vec![],
        });
        let r = router();
        assert!(r.route_batch([(5, &m, vec![])], t(9)).is_empty());
        // A person's correction wins over the verdict.
        m.analysis.corrected = Some(Polarity::Negative);
        let routed = r.route_batch([(5, &m, vec![])], t(9));
        assert_eq!(routed.len(), 1);
        assert_eq!((routed[0].0.mention_id, routed[0].0.entered_at), (5, t(8)));
    }

    #[test]
    fn default_targets() {
        assert_eq!(default_target_secs("Customer service"), 4 * 3600);
        assert_eq!(default_target_secs("Service client"), 4 * 3600);
        assert_eq!(default_target_secs("Legal"), 24 * 3600);
        assert_eq!(default_target_secs("Logistics and operations"), 24 * 3600);
    }
}
