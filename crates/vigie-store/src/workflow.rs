//! The response workflow and what the dashboard counts: departments with
//! their response-time target, routing rules, the inbox (one row per mention
//! somebody routed, triaged or touched), each mention's workflow history, and
//! the aggregates of the overview page.
//!
//! A mention with no inbox row is `new`. Rows are written whole by the caller
//! ([`Workflow::save_inbox_item`]) together with the event that explains the
//! change, in one transaction, so the history never disagrees with the state.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vigie_model::{InboxStatus, Polarity, SourceKind, WorkflowChange, WorkflowDetail};

use crate::{CountRow, Result, StoredMention};

/// A team that answers mentions, with its response-time target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    /// Time allowed between a mention's arrival and its first answer.
    pub response_target_secs: i64,
    /// Who overdue items are escalated to.
    pub manager_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewDepartment {
    pub name: String,
    pub response_target_secs: i64,
    pub manager_id: Option<i64>,
}

/// Who an escalation's e-mails go to, written with the escalation
/// ([`Workflow::escalate_item`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEscalationMails {
    /// One e-mail each.
    pub recipients: Vec<i64>,
    /// They are the project's managers (the department has none).
    pub to_project_managers: bool,
    pub department: Option<String>,
    /// The due time the item missed.
    pub due_at: DateTime<Utc>,
}

/// An escalation e-mail waiting in the outbox, claimed by
/// [`Workflow::claim_escalation_mails`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationMail {
    pub id: i64,
    pub project_id: i64,
    pub mention_id: i64,
    pub user_id: i64,
    pub to_project_managers: bool,
    pub department: Option<String>,
    pub due_at: DateTime<Utc>,
    /// Attempts made before this one.
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

/// How sending an escalation e-mail ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    Sent,
    /// Tried again at `next_attempt_at`.
    Retry {
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
    /// Given up (too many attempts, too old, nobody to send it to).
    Failed {
        error: String,
    },
}

/// Sends matching mentions to a department as they arrive. Every condition
/// that is set must hold; rules are tried by `position`, the first match wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingRule {
    pub id: i64,
    pub project_id: i64,
    pub position: i64,
    /// A theme key the mention has.
    pub theme: Option<String>,
    /// The mention's polarity (a correction wins over the verdict).
    pub sentiment: Option<Polarity>,
    pub watch_id: Option<i64>,
    pub source_kind: Option<SourceKind>,
    pub department_id: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewRoutingRule {
    pub theme: Option<String>,
    pub sentiment: Option<Polarity>,
    pub watch_id: Option<i64>,
    pub source_kind: Option<SourceKind>,
    pub department_id: i64,
}

/// Where one mention is in the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    pub mention_id: i64,
    pub project_id: i64,
    pub status: InboxStatus,
    pub department_id: Option<i64>,
    pub assignee_id: Option<i64>,
    /// When the response clock started (the mention's arrival).
    pub entered_at: DateTime<Utc>,
    /// The clock's start plus the department's target, when it has one.
    pub due_at: Option<DateTime<Utc>>,
    /// The first answer (reply or reason).
    pub first_response_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The reply sent, as recorded by the agent.
    pub reply: Option<String>,
    /// Why no reply was needed, or why it was ignored.
    pub reason: Option<String>,
    /// When it was escalated to the department's manager for being overdue.
    pub escalated_at: Option<DateTime<Utc>>,
    /// When the current response clock started, if not at `entered_at`: an
    /// answered item reopened is due again by its target from its reopening.
    pub clock_at: Option<DateTime<Utc>>,
    /// The due time the first answer was measured against, kept when a
    /// reopened item gets a new `due_at` (the reports judge the first answer).
    pub first_due_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl InboxItem {
    /// When the current response clock started.
    pub fn clock_start(&self) -> DateTime<Utc> {
        self.clock_at.unwrap_or(self.entered_at)
    }

    /// The due time of the first answer (the reports' "within target").
    pub fn first_answer_due(&self) -> Option<DateTime<Utc>> {
        self.first_due_at.or(self.due_at)
    }
}

/// The refusal of [`Workflow::save_inbox_item_from`] when the item changed
/// since it was read.
pub(crate) fn changed_meanwhile(mention_id: i64) -> crate::StoreError {
    crate::StoreError::Conflict(format!(
        "mention {mention_id} was changed by someone else meanwhile: reload it and try again"
    ))
}

/// One step of a mention's workflow history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowEvent {
    pub id: i64,
    pub mention_id: i64,
    /// `None`: done by Vigie (routing rule, escalation).
    pub user_id: Option<i64>,
    pub at: DateTime<Utc>,
    /// `routed`, `status`, `assigned`, `answered`, `note`, `escalated`…
    pub action: String,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct NewWorkflowEvent {
    pub user_id: Option<i64>,
    pub action: String,
    pub detail: String,
}

/// Who made a change to a department, a membership or an account, and
/// when: each inbox item the change moves gets a line in its history
/// saying so, in the same transaction.
#[derive(Debug, Clone)]
pub struct ChangedBy {
    /// The person; `None` for an API token or the command line.
    pub user_id: Option<i64>,
    /// The API token's name, when a token made the change.
    pub token: Option<String>,
    pub at: DateTime<Utc>,
}

impl ChangedBy {
    /// A change nobody signed: the command line, a test.
    pub fn unsigned(at: DateTime<Utc>) -> ChangedBy {
        ChangedBy { user_id: None, token: None, at }
    }

    /// A change made by this person.
    pub fn user(user_id: i64, at: DateTime<Utc>) -> ChangedBy {
        ChangedBy { user_id: Some(user_id), token: None, at }
    }

    /// The history line of `change` made this way.
    pub(crate) fn event(&self, change: WorkflowChange) -> NewWorkflowEvent {
        let action = change.action().to_string();
        let mut detail = WorkflowDetail::new(change);
        detail.by = self.token.clone();
        NewWorkflowEvent { user_id: self.user_id, action, detail: detail.encode() }
    }
}

/// The status an item released by its assignee goes back to: an assigned
/// one is to handle again, any other keeps its status.
fn released_status(status: InboxStatus) -> InboxStatus {
    if status == InboxStatus::Assigned { InboxStatus::ToHandle } else { status }
}

/// The `released` events of items given back by `person`, from
/// `(project, mention, status before)`, per project and in mention order
/// (both backends write them so).
pub(crate) fn release_events(
    released: &[(i64, i64, InboxStatus)],
    person: &str,
    why: vigie_model::Release,
    by: &ChangedBy,
) -> std::collections::BTreeMap<i64, Vec<(i64, NewWorkflowEvent)>> {
    let mut per_project: std::collections::BTreeMap<i64, Vec<(i64, NewWorkflowEvent)>> = Default::default();
    for &(project_id, mention_id, from) in released {
        let change = WorkflowChange::Released { person: person.to_string(), why, from, to: released_status(from) };
        per_project.entry(project_id).or_default().push((mention_id, by.event(change)));
    }
    for events in per_project.values_mut() {
        events.sort_by_key(|(mention_id, _)| *mention_id);
    }
    per_project
}

/// The new positions of a rule moved one place (`up`: earlier) in `order`
/// (`(id, position)` by position), swapped with its neighbour's; `None` when
/// the rule is not there or has nowhere to go. Both backends write these.
pub(crate) fn swapped_positions(order: &[(i64, i64)], id: i64, up: bool) -> Option<[(i64, i64); 2]> {
    let i = order.iter().position(|(rule, _)| *rule == id)?;
    let j = if up { i.checked_sub(1)? } else { Some(i + 1).filter(|j| *j < order.len())? };
    let ((a, pa), (b, pb)) = (order[i], order[j]);
    // Equal positions (never written so, but cheap to be sure of) are told
    // apart on the neighbour's side.
    let (new_a, new_b) = if pa != pb {
        (pb, pa)
    } else if up {
        (pa - 1, pb)
    } else {
        (pa + 1, pb)
    };
    Some([(a, new_a), (b, new_b)])
}

/// The department filter that means "items of no department" (ids start
/// at 1 on both backends, so 0 names none).
pub const NO_DEPARTMENT: i64 = 0;

/// What the inbox page lists.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    /// Empty: the pending ones (to handle, assigned).
    pub statuses: Vec<InboxStatus>,
    /// One department's items; [`NO_DEPARTMENT`]: the items of none.
    pub department_id: Option<i64>,
    pub assignee_id: Option<i64>,
    /// Only items whose `due_at` is before this instant and still pending.
    pub overdue_at: Option<DateTime<Utc>>,
}

impl InboxFilter {
    /// The statuses listed: those asked (the pending ones if none), only the
    /// pending ones among them when overdue items are asked.
    pub(crate) fn listed_statuses(&self) -> Vec<InboxStatus> {
        let mut statuses = if self.statuses.is_empty() {
            vec![InboxStatus::ToHandle, InboxStatus::Assigned]
        } else {
            self.statuses.clone()
        };
        if self.overdue_at.is_some() {
            statuses.retain(|s| s.is_pending());
        }
        statuses.sort_by_key(|s| s.as_str());
        statuses.dedup();
        statuses
    }
}

/// Inbox items per status, and how many pending ones are overdue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxCounts {
    pub per_status: Vec<(InboxStatus, i64)>,
    pub overdue: i64,
}

/// Whose inbox items response figures count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseScope {
    /// Every item of the project.
    Project,
    /// The items of one department.
    Department(i64),
    /// The items of no department (taken in by hand, not routed).
    NoDepartment,
}

/// Response figures over the items that entered the inbox in a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseStats {
    /// Items that entered in the period (ignored ones excluded).
    pub entered: i64,
    /// Of those, the ones with a first response.
    pub answered: i64,
    /// Of those answered, the ones that had a due time (a department with a
    /// response target).
    pub with_target: i64,
    /// Of those, the ones answered by it.
    pub within_target: i64,
    /// Time to first response, in seconds.
    pub median_secs: Option<i64>,
    pub p90_secs: Option<i64>,
    /// Still pending now, and of those, overdue now.
    pub pending: i64,
    pub overdue: i64,
}

/// Mentions of one time bucket by polarity (a correction wins over the verdict).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentimentBucket {
    /// Start of the bucket, in seconds since the epoch.
    pub start: i64,
    pub negative: i64,
    pub neutral: i64,
    pub positive: i64,
    pub unknown: i64,
}

/// Mentions of one watch in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchCount {
    pub watch_id: i64,
    pub name: String,
    pub competitor: bool,
    pub mentions: i64,
    pub negative: i64,
    pub positive: i64,
}

/// An author and their mentions in the period.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorRow {
    pub author: String,
    pub site: Option<String>,
    pub mentions: i64,
    /// The highest reach score (0–100) of their mentions.
    pub reach_score: f64,
}

/// The buckets of an overview's chart: each starts at one of its starts
/// (seconds since the epoch) and runs to the next; the last runs to the
/// period's end. Uneven lengths are allowed: a local day is 23 or 25 hours
/// long when the clocks change (`vigie_model::zone::bucket_starts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets(Vec<i64>);

impl Buckets {
    /// Buckets of `size` seconds on multiples of it since the epoch (UTC
    /// days for a day), the first holding `from`.
    pub fn uniform(from: DateTime<Utc>, to: DateTime<Utc>, size: i64) -> Buckets {
        let size = size.max(1);
        let mut start = from.timestamp().div_euclid(size) * size;
        let mut starts = Vec::new();
        loop {
            starts.push(start);
            start += size;
            if start >= to.timestamp() {
                return Buckets(starts);
            }
        }
    }

    /// One bucket from `from`: the totals only.
    pub fn whole(from: DateTime<Utc>) -> Buckets {
        Buckets(vec![from.timestamp()])
    }

    /// These starts, sorted, each kept once (none: one bucket from the epoch).
    pub fn from_starts(mut starts: Vec<i64>) -> Buckets {
        starts.sort_unstable();
        starts.dedup();
        if starts.is_empty() {
            starts.push(0);
        }
        Buckets(starts)
    }

    pub fn starts(&self) -> &[i64] {
        &self.0
    }

    /// The bucket that holds `t`, `None` before the first.
    pub fn index_of(&self, t: i64) -> Option<usize> {
        self.0.partition_point(|&s| s <= t).checked_sub(1)
    }

    /// The chart's empty buckets, those that start before `to`.
    pub(crate) fn empty(&self, to: i64) -> Vec<SentimentBucket> {
        self.0
            .iter()
            .filter(|&&s| s < to)
            .map(|&start| SentimentBucket { start, ..SentimentBucket::default() })
            .collect()
    }

    /// The largest span (at most a week) that divides every start: counts
    /// grouped by it fall each in one bucket.
    pub(crate) fn granule(&self) -> i64 {
        fn gcd(a: i64, b: i64) -> i64 {
            if b == 0 { a } else { gcd(b, a % b) }
        }
        self.0.iter().fold(7 * 86_400, |g, &s| gcd(g, s.rem_euclid(7 * 86_400))).max(1)
    }

    /// Every start a whole hour (the hourly cache can serve them).
    pub(crate) fn whole_hours(&self) -> bool {
        self.0.iter().all(|s| s % 3_600 == 0)
    }
}

/// What the overview page shows for a period (publication time in
/// `[from, to)`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overview {
    pub total: i64,
    /// Every bucket of the period, empty ones included, oldest first.
    pub buckets: Vec<SentimentBucket>,
    /// Every watch of the project, by mentions.
    pub per_watch: Vec<WatchCount>,
    /// At most `top` rows each.
    pub top_sites: Vec<CountRow>,
    pub top_authors: Vec<AuthorRow>,
    pub per_theme: Vec<CountRow>,
    pub per_source_kind: Vec<CountRow>,
}

/// Departments, routing rules, the inbox and the dashboard's aggregates.
#[async_trait]
pub trait Workflow: Send + Sync {
    /// Fails with [`crate::StoreError::Conflict`] if the project has a department of that name.
    async fn add_department(
        &self,
        project_id: i64,
        department: NewDepartment,
        now: DateTime<Utc>,
    ) -> Result<Department>;
    /// Saves name, target and manager. Pending items whose due time the new
    /// target moves get it, each with a `retargeted` event.
    async fn update_department(&self, department: &Department, by: &ChangedBy) -> Result<()>;
    async fn list_departments(&self, project_id: i64) -> Result<Vec<Department>>;
    /// Removes the department, its routing rules, and unsets it on inbox
    /// items; its pending items lose their due time, each with a
    /// `department_removed` event.
    async fn remove_department(&self, project_id: i64, id: i64, by: &ChangedBy) -> Result<bool>;

    /// Appends the rule after the project's last one. Fails with
    /// [`crate::StoreError::NotFound`] if its department (or watch) is not the project's.
    async fn add_rule(&self, project_id: i64, rule: NewRoutingRule, now: DateTime<Utc>) -> Result<RoutingRule>;
    /// The project's rules by position.
    async fn list_rules(&self, project_id: i64) -> Result<Vec<RoutingRule>>;
    async fn remove_rule(&self, project_id: i64, id: i64) -> Result<bool>;
    /// Moves a rule one place earlier (`up`) or later in the order rules
    /// are tried, swapping positions with its neighbour; false when the
    /// project has no such rule or it is already first (last).
    async fn move_rule(&self, project_id: i64, id: i64, up: bool) -> Result<bool>;

    async fn inbox_item(&self, project_id: i64, mention_id: i64) -> Result<Option<InboxItem>>;
    /// The workflow status of each of these mentions of the project that has
    /// an inbox item (the others are `new`).
    async fn inbox_statuses(&self, project_id: i64, mention_ids: &[i64]) -> Result<HashMap<i64, InboxStatus>>;
    /// Writes the item whole (insert or replace) and, when given, the event
    /// explaining the change, in one transaction. Fails with
    /// [`crate::StoreError::NotFound`] if the item's project has no such mention.
    async fn save_inbox_item(&self, item: &InboxItem, event: Option<NewWorkflowEvent>) -> Result<()>;
    /// [`Workflow::save_inbox_item`] only if the item is still `previous`
    /// (`None`: it has no row yet), checked and written in one transaction;
    /// else [`crate::StoreError::Conflict`]. Two people acting on one
    /// mention at once: the second is told, instead of silently undoing the
    /// first (an answer lost under an "ignored").
    async fn save_inbox_item_from(
        &self,
        previous: Option<&InboxItem>,
        item: &InboxItem,
        event: Option<NewWorkflowEvent>,
    ) -> Result<()>;
    /// Inserts items for mentions that have none yet (automatic routing as
    /// mentions arrive), each with its event; items that exist are left as
    /// they are, and mentions no longer stored (or not the item's project's)
    /// are skipped. Returns how many were inserted.
    async fn route_mentions(&self, items: &[(InboxItem, NewWorkflowEvent)]) -> Result<u64>;
    /// Records an event alone (an internal note); [`crate::StoreError::NotFound`]
    /// if the project has no such mention.
    async fn add_workflow_event(
        &self,
        project_id: i64,
        mention_id: i64,
        event: NewWorkflowEvent,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// The mention's history, oldest first.
    async fn workflow_events(&self, project_id: i64, mention_id: i64) -> Result<Vec<WorkflowEvent>>;
    /// Items passing the filter with their mentions, newest mention first,
    /// with a mention id below `before_id`, at most `limit`.
    async fn inbox(
        &self,
        project_id: i64,
        filter: &InboxFilter,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<(InboxItem, StoredMention)>>;
    /// Items per status and the overdue ones, of the whole inbox.
    async fn inbox_counts(&self, project_id: i64, now: DateTime<Utc>) -> Result<InboxCounts> {
        self.inbox_counts_of(project_id, None, None, now).await
    }
    /// [`Workflow::inbox_counts`] of one department's (or, with
    /// [`NO_DEPARTMENT`], no department's) and/or one person's items (what
    /// the inbox's filters show).
    async fn inbox_counts_of(
        &self,
        project_id: i64,
        department_id: Option<i64>,
        assignee_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<InboxCounts>;
    /// Pending items of every project due before `now` and not escalated
    /// yet, most overdue first.
    async fn overdue_items(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<InboxItem>>;
    /// Marks the item escalated at `now` with its event and queues its
    /// e-mails, in one transaction, only if it is still pending, overdue at
    /// `now` and not escalated yet (one conditional update: when several
    /// processes escalate, one does it). Returns whether this call
    /// escalated it.
    async fn escalate_item(
        &self,
        project_id: i64,
        mention_id: i64,
        event: NewWorkflowEvent,
        mails: &NewEscalationMails,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Up to `limit` escalation e-mails due at `now` (pending, their next
    /// attempt come) and not claimed by another worker, oldest first, now
    /// `worker`'s for `lease`.
    async fn claim_escalation_mails(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        worker: &str,
        lease: std::time::Duration,
    ) -> Result<Vec<EscalationMail>>;
    /// Records an attempt at an e-mail `worker` claimed (at `now`) and
    /// frees it; nothing if the claim was lost to another worker meanwhile.
    async fn record_escalation_mail(
        &self,
        id: i64,
        worker: &str,
        outcome: MailOutcome,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Response figures for items that entered in `[from, to)`: all of the
    /// project's, one department's, or those of no department.
    async fn response_stats(
        &self,
        project_id: i64,
        scope: ResponseScope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<ResponseStats>;

    /// The overview of `[from, to)` in `buckets`, with at most `top` rows
    /// per list.
    /// Periods and buckets of whole hours add up the hourly cache of
    /// `crate::rollup` (filling it where needed); others count the mentions.
    async fn overview(
        &self,
        project_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        buckets: &Buckets,
        top: i64,
    ) -> Result<Overview>;
    /// The same figures counted from the mentions, never from the cache:
    /// the reference the cache is checked against.
    async fn overview_uncached(
        &self,
        project_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        buckets: &Buckets,
        top: i64,
    ) -> Result<Overview>;
}

#[cfg(test)]
mod tests {
    use super::swapped_positions;

    #[test]
    fn a_rule_swaps_places_with_its_neighbour() {
        let order = [(7, 1), (9, 3), (4, 4)];
        assert_eq!(swapped_positions(&order, 9, true), Some([(9, 1), (7, 3)]));
        assert_eq!(swapped_positions(&order, 9, false), Some([(9, 4), (4, 3)]));
        assert_eq!(swapped_positions(&order, 7, true), None, "first");
        assert_eq!(swapped_positions(&order, 4, false), None, "last");
        assert_eq!(swapped_positions(&order, 5, true), None, "not there");
        // Equal positions still end in the asked order.
        assert_eq!(swapped_positions(&[(1, 2), (2, 2)], 2, true), Some([(2, 1), (1, 2)]));
        assert_eq!(swapped_positions(&[(1, 2), (2, 2)], 1, false), Some([(1, 3), (2, 2)]));
    }
}
