//! The inbox's state machine: what each action does to an item, and which
//! transitions are refused (with a message saying what to do instead).
//!
//! ```text
//! new ──triage──▶ to_handle ──assign(person)──▶ assigned
//!  │                  │  ▲                          │
//!  │                  │  └──────── triage ──────────┘
//!  └──answer / close (reason) / ignore (reason)──┐
//! to_handle, assigned ──answer──▶ answered ──close──▶ closed
//! to_handle, assigned ──ignore (reason)──▶ ignored
//! answered, closed, ignored ──reopen──▶ to_handle (assigned if it has an assignee)
//! ```
//!
//! Pure: the caller loads the item and the mention, and saves what comes
//! out together with its event.

use chrono::{DateTime, Utc};
use vigie_model::{InboxStatus, Mention, WorkflowChange, WorkflowDetail};
use vigie_pipeline::routing::due_at;
use vigie_store::{Department, InboxItem, NewWorkflowEvent};

use crate::error::ApiError;
use crate::i18n::Lang;

/// Longest reply or note.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Longest reason.
pub const MAX_REASON_CHARS: usize = 1_000;

/// A person an item can be assigned to.
#[derive(Debug, Clone)]
pub struct Assignee {
    pub id: i64,
    pub name: String,
}

/// One change to an item.
#[derive(Debug, Clone)]
pub enum Action {
    /// Needs an answer (new → to handle; assigned → back to the pool).
    Triage,
    /// To a department (sets the due time from its target) and/or a person.
    Assign { department: Option<Department>, assignee: Option<Assignee> },
    /// A reply was given, or a reason why none is needed.
    Answer { reply: Option<String>, reason: Option<String> },
    /// Done; a reason is needed if it was never answered.
    Close { reason: Option<String> },
    /// Nothing to do about it; a reason is needed.
    Ignore { reason: Option<String> },
    /// Answered, closed or ignored → pending again; `department` is the
    /// item's department as it is now (none: it has none, or it was
    /// removed), whose current target sets an answered item's new due time.
    Reopen { department: Option<Department> },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Triage => "triage",
            Action::Assign { .. } => "assign",
            Action::Answer { .. } => "answer",
            Action::Close { .. } => "close",
            Action::Ignore { .. } => "ignore",
            Action::Reopen { .. } => "reopen",
        }
    }
}

/// Who acts, when, and in which language refusals are written.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub project_id: i64,
    pub user_id: Option<i64>,
    pub now: DateTime<Utc>,
    pub lang: Lang,
}

/// The trimmed text if it is not empty, refused when longer than `max`.
pub fn text_field(
    value: Option<&str>,
    max: usize,
    what_fr: &str,
    what_en: &str,
    lang: Lang,
) -> Result<Option<String>, ApiError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let n = v.chars().count();
    if n > max {
        return Err(ApiError::invalid(match lang {
            Lang::Fr => format!("{what_fr}\u{a0}: {n} caractères, {max} au plus"),
            Lang::En => format!("the {what_en} has {n} characters; at most {max} are allowed"),
        }));
    }
    Ok(Some(v.to_string()))
}

fn conflict(lang: Lang, fr: &'static str, en: &'static str) -> ApiError {
    ApiError::conflict(lang.t(fr, en))
}

fn invalid(lang: Lang, fr: &'static str, en: &'static str) -> ApiError {
    ApiError::invalid(lang.t(fr, en))
}

/// The refusal for an item that must be reopened before `action`.
fn reopen_first(lang: Lang, status: InboxStatus) -> ApiError {
    match status {
        InboxStatus::Answered => conflict(
            lang,
            "Cette mention a déjà reçu une réponse\u{a0}: rouvrez-la d'abord.",
            "This mention was answered already: reopen it first.",
        ),
        InboxStatus::Closed => conflict(
            lang,
            "Cette mention est close\u{a0}: rouvrez-la d'abord.",
            "This mention is closed: reopen it first.",
        ),
        _ => conflict(
            lang,
            "Cette mention est ignorée\u{a0}: rouvrez-la d'abord.",
            "This mention is ignored: reopen it first.",
        ),
    }
}

fn is_done(status: InboxStatus) -> bool {
    matches!(status, InboxStatus::Answered | InboxStatus::Closed | InboxStatus::Ignored)
}

/// The item after `action`, and the event explaining it; or why it is refused.
pub fn apply(
    current: Option<&InboxItem>,
    mention: &Mention,
    action: Action,
    ctx: Ctx,
) -> Result<(InboxItem, NewWorkflowEvent), ApiError> {
    let lang = ctx.lang;
    let mut item = current.cloned().unwrap_or(InboxItem {
        mention_id: mention.id,
        project_id: ctx.project_id,
        status: InboxStatus::New,
        department_id: None,
        assignee_id: None,
        // Taken in by a person: a mention that arrived within the day is a
        // message the rules missed, its author waiting since it arrived; an
        // older one (an archive, a backfill) is new work from now, so it is
        // not overdue at once and no past period's figures change.
        entered_at: if ctx.now - mention.collected_at <= chrono::TimeDelta::days(1) {
            mention.collected_at
        } else {
            ctx.now
        },
        due_at: None,
        first_response_at: None,
        closed_at: None,
        reply: None,
        reason: None,
        escalated_at: None,
        clock_at: None,
        first_due_at: None,
        updated_at: ctx.now,
    });
    let before = item.status;
    let event = |change: WorkflowChange| NewWorkflowEvent {
        user_id: ctx.user_id,
        action: change.action().into(),
        detail: WorkflowDetail::new(change).encode(),
    };
    let event = match action {
        Action::Triage => match before {
            InboxStatus::New => {
                item.status = InboxStatus::ToHandle;
                event(WorkflowChange::Status { from: before, to: item.status, unassigned: false })
            }
            InboxStatus::Assigned => {
                item.status = InboxStatus::ToHandle;
                item.assignee_id = None;
                event(WorkflowChange::Status { from: before, to: item.status, unassigned: true })
            }
            InboxStatus::ToHandle => {
                return Err(conflict(lang, "Cette mention est déjà à traiter.", "This mention is to handle already."));
            }
            done => return Err(reopen_first(lang, done)),
        },
        Action::Assign { department, assignee } => {
            if is_done(before) {
                return Err(reopen_first(lang, before));
            }
            if department.is_none() && assignee.is_none() {
                return Err(invalid(
                    lang,
                    "Choisissez un service ou une personne.",
                    "Choose a department or a person.",
                ));
            }
            let same_department = department.as_ref().is_none_or(|d| item.department_id == Some(d.id));
            let same_person = assignee.as_ref().is_none_or(|a| item.assignee_id == Some(a.id));
            if same_department && same_person {
                return Err(conflict(lang, "Elle est déjà assignée ainsi.", "It is assigned so already."));
            }
            let mut change = WorkflowChange::Assigned { department: None, due: None, assignee: None };
            if let Some(d) = &department {
                item.department_id = Some(d.id);
                item.due_at = due_at(item.clock_start(), d);
                // A new due time: escalated again if it is missed again.
                item.escalated_at = None;
                if let WorkflowChange::Assigned { department, due, .. } = &mut change {
                    *department = Some(d.name.clone());
                    *due = item.due_at;
                }
            }
            if let Some(a) = &assignee {
                item.assignee_id = Some(a.id);
                item.status = InboxStatus::Assigned;
                if let WorkflowChange::Assigned { assignee, .. } = &mut change {
                    *assignee = Some(a.name.clone());
                }
            } else if before == InboxStatus::New {
                item.status = InboxStatus::ToHandle;
            }
            event(change)
        }
        Action::Answer { reply, reason } => {
            if is_done(before) {
                return Err(reopen_first(lang, before));
            }
            if reply.is_none() && reason.is_none() {
                return Err(invalid(
                    lang,
                    "Indiquez la réponse envoyée, ou pourquoi aucune réponse n'est nécessaire.",
                    "Give the reply that was sent, or a reason why no reply is needed.",
                )
                .for_field("reply"));
            }
            // One or the other: a reason given beside a reply would be lost
            // from the history, which records the reply.
            if reply.is_some() && reason.is_some() {
                return Err(invalid(
                    lang,
                    "Indiquez soit la réponse envoyée, soit pourquoi aucune réponse n'est nécessaire, pas les deux.",
                    "Give either the reply that was sent or a reason why no reply is needed, not both.",
                )
                .for_field("reason"));
            }
            item.status = InboxStatus::Answered;
            item.first_response_at.get_or_insert(ctx.now);
            let change = match (&reply, &reason) {
                (Some(r), _) => WorkflowChange::Answered {
                    reply_chars: Some(r.chars().count()),
                    reason: None,
                    reply: Some(r.clone()),
                },
                (None, why) => WorkflowChange::Answered { reply_chars: None, reason: why.clone(), reply: None },
            };
            // A reply sent earlier (before a reopen) stays on record unless a
            // new reply replaces it: a reason alone does not erase it.
            if reply.is_some() {
                item.reply = reply;
            }
            item.reason = reason;
            event(change)
        }
        Action::Close { reason } => match before {
            InboxStatus::Closed => {
                return Err(conflict(lang, "Cette mention est déjà close.", "This mention is closed already."));
            }
            InboxStatus::Ignored => return Err(reopen_first(lang, before)),
            InboxStatus::Answered => {
                item.status = InboxStatus::Closed;
                item.closed_at = Some(ctx.now);
                let change = WorkflowChange::Closed { from: before, reason: reason.clone() };
                if reason.is_some() {
                    item.reason = reason;
                }
                event(change)
            }
            // Answered once, then reopened: the answer stands.
            pending if item.first_response_at.is_some() && reason.is_none() => {
                item.status = InboxStatus::Closed;
                item.closed_at = Some(ctx.now);
                event(WorkflowChange::Closed { from: pending, reason: None })
            }
            pending => {
                let Some(reason) = reason else {
                    return Err(invalid(
                        lang,
                        "Cette mention n'a jamais reçu de réponse\u{a0}: indiquez pourquoi vous la fermez.",
                        "This mention was never answered: give a reason to close it.",
                    )
                    .for_field("reason"));
                };
                item.status = InboxStatus::Closed;
                item.closed_at = Some(ctx.now);
                let change = WorkflowChange::Closed { from: pending, reason: Some(reason.clone()) };
                item.reason = Some(reason);
                event(change)
            }
        },
        Action::Ignore { reason } => {
            if is_done(before) {
                return Err(if before == InboxStatus::Ignored {
                    conflict(lang, "Cette mention est déjà ignorée.", "This mention is ignored already.")
                } else {
                    reopen_first(lang, before)
                });
            }
            let Some(reason) = reason else {
                return Err(invalid(
                    lang,
                    "Indiquez pourquoi cette mention est ignorée.",
                    "Give a reason for ignoring this mention.",
                )
                .for_field("reason"));
            };
            item.status = InboxStatus::Ignored;
            let change = WorkflowChange::Ignored { from: before, reason: reason.clone() };
            item.reason = Some(reason);
            event(change)
        }
        Action::Reopen { department } => {
            if !is_done(before) {
                return Err(conflict(
                    lang,
                    "Seule une mention répondue, close ou ignorée peut être rouverte.",
                    "Only an answered, closed or ignored mention can be reopened.",
                ));
            }
            item.status = if item.assignee_id.is_some() { InboxStatus::Assigned } else { InboxStatus::ToHandle };
            item.closed_at = None;
            // Answered, it is new work from now: due again by its
            // department's current target from its reopening (not overdue
            // and escalated at once; no due time without a department),
            // while the reports keep judging its first answer against the
            // due time it had. Never answered, its author is still waiting:
            // its clock did not stop.
            let mut due = None;
            if item.first_response_at.is_some() {
                item.first_due_at = item.first_answer_due();
                item.clock_at = Some(ctx.now);
                item.due_at =
                    department.as_ref().filter(|d| item.department_id == Some(d.id)).and_then(|d| due_at(ctx.now, d));
                item.escalated_at = None;
                due = item.due_at;
            }
            event(WorkflowChange::Reopened { from: before, to: item.status, due })
        }
    };
    item.updated_at = ctx.now;
    Ok((item, event))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{Duration, TimeZone};
    use vigie_model::SourceKind;

    use super::*;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).unwrap()
    }

    fn mention() -> Mention {
        Mention {
            id: 7,
            source_kind: SourceKind::Forum,
            source_item_id: None,
            url: None,
            title: None,
            text: "x".into(),
            author: None,
            site: None,
            published_at: t(1),
            collected_at: t(2),
            lang: None,
            lang_confidence: 0.0,
            reach: None,
            content_hash: String::new(),
            dedup_key: String::new(),
            analysis: Default::default(),
        }
    }

    /// The event's detail as the API shows it.
    fn english(event: &NewWorkflowEvent) -> String {
        vigie_model::detail_text(&event.action, &event.detail, vigie_model::Language::En)
    }

    fn ctx(h: u32) -> Ctx {
        Ctx { project_id: 1, user_id: Some(3), now: t(h), lang: Lang::En }
    }

    fn cs() -> Department {
        Department {
            id: 4,
            project_id: 1,
            name: "Customer service".into(),
            response_target_secs: 4 * 3600,
            manager_id: None,
            created_at: t(0),
        }
    }

    /// Reopening an item of customer service as it is now.
    fn reopen() -> Action {
        Action::Reopen { department: Some(cs()) }
    }

    #[test]
    fn a_new_mention_assigned_gets_its_clock_from_arrival() {
        let m = mention();
        let (item, ev) = apply(
            None,
            &m,
            Action::Assign { department: Some(cs()), assignee: Some(Assignee { id: 9, name: "Marie".into() }) },
            ctx(3),
        )
        .unwrap();
        assert_eq!(item.status, InboxStatus::Assigned);
        assert_eq!(item.entered_at, t(2));
        assert_eq!(item.due_at, Some(t(2) + Duration::hours(4)));
        assert_eq!(ev.action, "assigned");
        assert_eq!(english(&ev), "department Customer service, due 2026-11-20 06:00 UTC; assignee Marie");
        // Department only: to handle.
        let (item, _) = apply(None, &m, Action::Assign { department: Some(cs()), assignee: None }, ctx(3)).unwrap();
        assert_eq!(item.status, InboxStatus::ToHandle);
        // A mention that arrived days ago enters when it is taken in: not
        // overdue at once, not counted in a past period.
        let later = t(2) + Duration::days(3);
        let late = Ctx { now: later, ..ctx(3) };
        let (old, _) = apply(None, &m, Action::Assign { department: Some(cs()), assignee: None }, late).unwrap();
        assert_eq!(old.entered_at, later);
        assert_eq!(old.due_at, Some(later + Duration::hours(4)));
        let e = apply(Some(&item), &m, Action::Assign { department: Some(cs()), assignee: None }, ctx(3)).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::Conflict);
    }

    #[test]
    fn answering_needs_a_reply_or_a_reason_and_records_the_first_response() {
        let m = mention();
        let (item, _) = apply(None, &m, Action::Triage, ctx(3)).unwrap();
        let e = apply(Some(&item), &m, Action::Answer { reply: None, reason: None }, ctx(4)).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::InvalidRequest);
        assert!(e.message.contains("reply"), "{}", e.message);
        let (item, ev) =
            apply(Some(&item), &m, Action::Answer { reply: Some("Sorry!".into()), reason: None }, ctx(4)).unwrap();
        assert_eq!((item.status, item.first_response_at), (InboxStatus::Answered, Some(t(4))));
        assert_eq!(english(&ev), "reply recorded (6 characters)");
        // Reopened and answered again: the first response stays.
        let (item, _) = apply(Some(&item), &m, reopen(), ctx(5)).unwrap();
        assert_eq!(item.status, InboxStatus::ToHandle);
        let (item, _) =
            apply(Some(&item), &m, Action::Answer { reply: None, reason: Some("spam".into()) }, ctx(6)).unwrap();
        assert_eq!(item.first_response_at, Some(t(4)));
    }

    #[test]
    fn an_answered_item_reopened_is_due_again_from_its_reopening() {
        let m = mention();
        // Arrived at 2:00, due by 6:00 (4 h), escalated at 7:00, answered at 8:00.
        let (item, _) = apply(None, &m, Action::Assign { department: Some(cs()), assignee: None }, ctx(3)).unwrap();
        let escalated = InboxItem { escalated_at: Some(t(7)), ..item };
        let (item, _) =
            apply(Some(&escalated), &m, Action::Answer { reply: Some("Sorry".into()), reason: None }, ctx(8)).unwrap();
        // The customer writes again; reopened at 20:00 it is due by 24:00,
        // not overdue (and escalated) at once.
        let (item, ev) = apply(Some(&item), &m, reopen(), ctx(20)).unwrap();
        assert_eq!((item.clock_at, item.due_at), (Some(t(20)), Some(t(20) + Duration::hours(4))));
        assert_eq!(item.escalated_at, None, "escalated again only if the new due time is missed");
        assert_eq!(english(&ev), "answered → to handle, due again 2026-11-21 00:00 UTC");
        // The first answer is still judged against 6:00 (late), and a second
        // reopening keeps that.
        assert_eq!((item.first_answer_due(), item.first_response_at), (Some(t(6)), Some(t(8))));
        let (item, _) =
            apply(Some(&item), &m, Action::Answer { reply: Some("Done".into()), reason: None }, ctx(21)).unwrap();
        let (item, _) = apply(Some(&item), &m, reopen(), ctx(22)).unwrap();
        assert_eq!((item.first_answer_due(), item.due_at), (Some(t(6)), Some(t(22) + Duration::hours(4))));
        // Moved to another department, it is due by that one's target from
        // its reopening too.
        let billing = Department { id: 2, response_target_secs: 3600, ..cs() };
        let (item, _) =
            apply(Some(&item), &m, Action::Assign { department: Some(billing), assignee: None }, ctx(23)).unwrap();
        assert_eq!(item.due_at, Some(t(23)));
        // Never answered (ignored, then reopened): its author is still
        // waiting since it arrived, and its due time stays.
        let (item, _) = apply(None, &m, Action::Assign { department: Some(cs()), assignee: None }, ctx(3)).unwrap();
        let (item, _) = apply(Some(&item), &m, Action::Ignore { reason: Some("spam?".into()) }, ctx(4)).unwrap();
        let (item, ev) = apply(Some(&item), &m, reopen(), ctx(9)).unwrap();
        assert_eq!((item.clock_at, item.due_at), (None, Some(t(6))));
        assert_eq!(english(&ev), "ignored → to handle");
    }

    #[test]
    fn a_reopened_item_is_due_by_its_departments_target_as_it_is_now() {
        let m = mention();
        let (item, _) = apply(None, &m, Action::Assign { department: Some(cs()), assignee: None }, ctx(3)).unwrap();
        let answer = || Action::Answer { reply: Some("Sorry".into()), reason: None };
        let (answered, _) = apply(Some(&item), &m, answer(), ctx(4)).unwrap();
        // Customer service's target went from 4 h to 1 h since.
        let faster = Department { response_target_secs: 3600, ..cs() };
        let (item, ev) = apply(Some(&answered), &m, Action::Reopen { department: Some(faster) }, ctx(10)).unwrap();
        assert_eq!(item.due_at, Some(t(11)));
        assert_eq!(english(&ev), "answered → to handle, due again 2026-11-20 11:00 UTC");
        // A department without a target gives no due time.
        let none = Department { response_target_secs: 0, ..cs() };
        let (item, _) = apply(Some(&answered), &m, Action::Reopen { department: Some(none) }, ctx(10)).unwrap();
        assert_eq!(item.due_at, None);
        // Its department removed (the item kept the due time it was
        // answered under): no due time, so neither overdue nor escalated.
        let orphan = InboxItem { department_id: None, ..answered };
        let (item, ev) = apply(Some(&orphan), &m, Action::Reopen { department: None }, ctx(10)).unwrap();
        assert_eq!((item.clock_at, item.due_at), (Some(t(10)), None));
        assert_eq!(english(&ev), "answered → to handle");
    }

    #[test]
    fn a_reply_sent_before_a_reopen_is_kept_when_a_reason_is_given_next() {
        let m = mention();
        let (item, _) = apply(None, &m, Action::Triage, ctx(1)).unwrap();
        let reply = Action::Answer { reply: Some("Votre dossier n° 4521 est transmis".into()), reason: None };
        let (item, first) = apply(Some(&item), &m, reply, ctx(2)).unwrap();
        assert_eq!(
            vigie_model::recorded_reply(&first.action, &first.detail).as_deref(),
            Some("Votre dossier n° 4521 est transmis")
        );
        let (item, _) = apply(Some(&item), &m, reopen(), ctx(3)).unwrap();
        let reason = Action::Answer { reply: None, reason: Some("doublon".into()) };
        let (item, _) = apply(Some(&item), &m, reason, ctx(4)).unwrap();
        assert_eq!(item.reply.as_deref(), Some("Votre dossier n° 4521 est transmis"));
        assert_eq!((item.reason.as_deref(), item.first_response_at), (Some("doublon"), Some(t(2))));
        let again = Action::Answer { reply: Some("Nouvelle réponse".into()), reason: None };
        let (item, ev) =
            apply(Some(&item), &m, reopen(), ctx(5)).and_then(|(i, _)| apply(Some(&i), &m, again, ctx(6))).unwrap();
        assert_eq!(item.reply.as_deref(), Some("Nouvelle réponse"), "a new reply replaces the old one");
        // ...on the item; the history keeps each reply.
        assert_eq!(vigie_model::recorded_reply(&ev.action, &ev.detail).as_deref(), Some("Nouvelle réponse"));
        // A reply and a reason at once: one or the other.
        let (open, _) = apply(Some(&item), &m, reopen(), ctx(7)).unwrap();
        let both = Action::Answer { reply: Some("r".into()), reason: Some("x".into()) };
        let e = apply(Some(&open), &m, both, ctx(8)).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::InvalidRequest);
        assert!(e.message.contains("not both"), "{}", e.message);
    }

    #[test]
    fn an_item_answered_then_reopened_closes_without_a_new_reason() {
        let m = mention();
        let (item, _) = apply(None, &m, Action::Triage, ctx(1)).unwrap();
        let (item, _) =
            apply(Some(&item), &m, Action::Answer { reply: Some("Bonjour".into()), reason: None }, ctx(2)).unwrap();
        let (item, _) = apply(Some(&item), &m, Action::Close { reason: None }, ctx(3)).unwrap();
        let (item, _) = apply(Some(&item), &m, reopen(), ctx(4)).unwrap();
        assert_ne!(item.status, InboxStatus::Closed);
        let (closed, _) = apply(Some(&item), &m, Action::Close { reason: None }, ctx(5)).unwrap();
        assert_eq!(
            (closed.status, closed.first_response_at, closed.reply.as_deref()),
            (InboxStatus::Closed, Some(t(2)), Some("Bonjour"))
        );
    }

    #[test]
    fn invalid_transitions_say_what_to_do() {
        let m = mention();
        let (ignored, _) = apply(None, &m, Action::Ignore { reason: Some("bot".into()) }, ctx(3)).unwrap();
        assert_eq!(ignored.status, InboxStatus::Ignored);
        let e =
            apply(Some(&ignored), &m, Action::Answer { reply: Some("x".into()), reason: None }, ctx(4)).unwrap_err();
        assert!(e.message.contains("reopen it first"), "{}", e.message);
        assert!(apply(None, &m, Action::Ignore { reason: None }, ctx(3)).is_err());
        let e = apply(None, &m, Action::Close { reason: None }, ctx(3)).unwrap_err();
        assert!(e.message.contains("never answered"), "{}", e.message);
        let (closed, _) = apply(None, &m, Action::Close { reason: Some("duplicate".into()) }, ctx(3)).unwrap();
        assert_eq!((closed.status, closed.closed_at), (InboxStatus::Closed, Some(t(3))));
        assert!(apply(None, &m, reopen(), ctx(3)).is_err());
        let e = apply(None, &m, Action::Triage, ctx(3)).and_then(|(i, _)| apply(Some(&i), &m, Action::Triage, ctx(3)));
        assert!(e.is_err());
        // French messages for the pages.
        let fr = Ctx { lang: Lang::Fr, ..ctx(4) };
        let e = apply(Some(&ignored), &m, reopen(), fr).and_then(|(i, _)| apply(Some(&i), &m, reopen(), fr));
        assert!(e.unwrap_err().message.contains("rouverte"));
    }

    #[test]
    fn every_event_reads_as_before_in_english_and_in_french() {
        let m = mention();
        let french =
            |ev: &NewWorkflowEvent| vigie_model::detail_text(&ev.action, &ev.detail, vigie_model::Language::Fr);
        let marie = || Some(Assignee { id: 9, name: "Marie".into() });
        let (item, ev) = apply(None, &m, Action::Triage, ctx(3)).unwrap();
        assert_eq!((english(&ev), french(&ev)), ("new → to handle".into(), "nouveau → à traiter".into()));
        let (item, _) = apply(Some(&item), &m, Action::Assign { department: None, assignee: marie() }, ctx(3)).unwrap();
        let (item, ev) = apply(Some(&item), &m, Action::Triage, ctx(3)).unwrap();
        assert_eq!(
            (english(&ev), french(&ev)),
            ("assigned → to handle (unassigned)".into(), "assigné → à traiter (plus assignée à personne)".into())
        );
        let (item, ev) =
            apply(Some(&item), &m, Action::Assign { department: Some(cs()), assignee: None }, ctx(3)).unwrap();
        assert_eq!(
            (english(&ev), french(&ev)),
            (
                "department Customer service, due 2026-11-20 06:00 UTC".into(),
                "service Service client, échéance 20/11/2026 06:00 UTC".into()
            )
        );
        let answer = Action::Answer { reply: None, reason: Some("spam".into()) };
        let (item, ev) = apply(Some(&item), &m, answer, ctx(4)).unwrap();
        assert_eq!(
            (english(&ev), french(&ev)),
            ("no reply needed: spam".into(), "pas de réponse nécessaire\u{a0}: spam".into())
        );
        let (item, ev) = apply(Some(&item), &m, Action::Close { reason: Some("done".into()) }, ctx(5)).unwrap();
        assert_eq!(
            (english(&ev), french(&ev)),
            ("answered → closed: done".into(), "répondu → clos\u{a0}: done".into())
        );
        let (item, ev) = apply(Some(&item), &m, reopen(), ctx(6)).unwrap();
        assert_eq!(
            (english(&ev), french(&ev)),
            (
                "closed → to handle, due again 2026-11-20 10:00 UTC".into(),
                "clos → à traiter, nouvelle échéance 20/11/2026 10:00 UTC".into()
            )
        );
        let (reopened, ev) = apply(Some(&item), &m, Action::Close { reason: None }, ctx(7)).unwrap();
        assert_eq!(
            (english(&ev), french(&ev)),
            ("to handle → closed (answered before)".into(), "à traiter → clos (répondue auparavant)".into())
        );
        let (_, ev) = apply(None, &m, Action::Close { reason: Some("duplicate".into()) }, ctx(7)).unwrap();
        assert_eq!(english(&ev), "new → closed without answer: duplicate");
        let (_, ev) = apply(None, &m, Action::Ignore { reason: Some("bot".into()) }, ctx(7)).unwrap();
        assert_eq!((english(&ev), french(&ev)), ("new → ignored: bot".into(), "nouveau → ignoré\u{a0}: bot".into()));
        assert_eq!(reopened.status, InboxStatus::Closed);
    }

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(text_field(Some("  "), 10, "x", "x", Lang::En).unwrap(), None);
        assert_eq!(text_field(Some(" ok "), 10, "x", "x", Lang::En).unwrap().as_deref(), Some("ok"));
        let e = text_field(Some(&"é".repeat(11)), 10, "la note", "note", Lang::En).unwrap_err();
        assert_eq!(e.message, "the note has 11 characters; at most 10 are allowed");
    }
}
