//! What a workflow event (an inbox item's history line) says, stored in a
//! language-neutral form and written in the reader's language.
//!
//! The event's `detail` column holds a small JSON object
//! (`{"v":1,"kind":"routed","rule":1,"theme":"customer_service",…}`): the
//! [`WorkflowDetail`] made when the event happens. Reading it back,
//! [`detail_text`] renders it in French or English; the English text is the
//! one Vigie stored before details were structured (the API keeps returning
//! it). A detail that is not such an object — rows written before, free text
//! — is shown as stored. A note's text is kept inside the object and shown
//! exactly as written, never translated.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::zone::Tz;
use crate::{InboxStatus, Language, Polarity, SourceKind};

/// Version of the stored form.
const VERSION: u32 = 1;

/// A status as the web UI names it (`à traiter`, `to handle`).
pub fn status_label(s: InboxStatus, lang: Language) -> &'static str {
    match s {
        InboxStatus::New => lang.t("nouveau", "new"),
        InboxStatus::ToHandle => lang.t("à traiter", "to handle"),
        InboxStatus::Assigned => lang.t("assigné", "assigned"),
        InboxStatus::Answered => lang.t("répondu", "answered"),
        InboxStatus::Closed => lang.t("clos", "closed"),
        InboxStatus::Ignored => lang.t("ignoré", "ignored"),
    }
}

/// A polarity as the web UI names it (`négatif`; `inconnu` for none).
pub fn polarity_label(p: Option<Polarity>, lang: Language) -> &'static str {
    match p {
        Some(Polarity::Negative) => lang.t("négatif", "negative"),
        Some(Polarity::Neutral) => lang.t("neutre", "neutral"),
        Some(Polarity::Positive) => lang.t("positif", "positive"),
        None => lang.t("inconnu", "unknown"),
    }
}

/// How an overdue item was escalated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Escalation {
    /// To the department's manager, by name.
    Manager(String),
    /// The assignee is the manager already.
    AlreadyManager,
    /// The department has no manager (or the item no department): to the
    /// project's managers and admins, by name.
    ProjectManagers(Vec<String>),
    /// Nobody to escalate to: no department manager, and no manager or admin
    /// in the project but the assignee.
    NoManager,
}

/// Why someone's item went back to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Release {
    /// They were removed from the project.
    LeftProject,
    /// They were made a reader of it.
    Reader,
    /// Their account was disabled.
    Disabled,
}

/// What happened to an item; the tag is the event's `action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkflowChange {
    /// A routing rule sent the mention to a department.
    Routed {
        /// The rule's position.
        rule: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        theme: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sentiment: Option<Polarity>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        watch: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<SourceKind>,
        department: String,
    },
    /// Triage: new → to handle, or assigned → back to the pool.
    Status {
        from: InboxStatus,
        to: InboxStatus,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        unassigned: bool,
    },
    /// To a department (with its due time) and/or a person.
    Assigned {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        department: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignee: Option<String>,
    },
    /// A reply of so many characters, or why none is needed.
    Answered {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_chars: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The reply as recorded, kept in the history when a later answer
        /// (after a reopening) replaces the item's reply. Absent on events
        /// written before it was kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply: Option<String>,
    },
    /// Closed from `from`: after an answer, after an earlier answer (no
    /// reason), or without answer (a reason).
    Closed {
        from: InboxStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Ignored {
        from: InboxStatus,
        reason: String,
    },
    Reopened {
        from: InboxStatus,
        to: InboxStatus,
        /// The new due time of an answered item reopened (its clock starts
        /// again); absent when it keeps its due time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<DateTime<Utc>>,
    },
    /// An internal note: the text as written.
    Note {
        text: String,
    },
    /// Overdue since its due time.
    Escalated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<DateTime<Utc>>,
        to: Escalation,
    },
    /// The person it was assigned to can no longer act on it: it went
    /// back to the queue (`from` → `to`; the same when it was not assigned).
    Released {
        person: String,
        why: Release,
        from: InboxStatus,
        to: InboxStatus,
    },
    /// Its department's new response target moved its due time (`None`:
    /// no target, no due time).
    Retargeted {
        department: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<DateTime<Utc>>,
    },
    /// Its department was removed: it has none, and no due time.
    DepartmentRemoved {
        department: String,
    },
    /// A person corrected the verdict it was routed for, before anyone took
    /// it: no rule sends it to the inbox any more, so it is ignored.
    Withdrawn {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<Polarity>,
    },
    /// Withdrawn, then corrected back to a verdict a rule routes: to handle
    /// again.
    Returned {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<Polarity>,
    },
    /// A person corrected the sentiment (or removed their correction).
    Sentiment {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<Polarity>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<Polarity>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        removed: bool,
    },
}

impl WorkflowChange {
    /// The event's `action`, the same as the stored `kind`.
    pub fn action(&self) -> &'static str {
        match self {
            WorkflowChange::Routed { .. } => "routed",
            WorkflowChange::Status { .. } => "status",
            WorkflowChange::Assigned { .. } => "assigned",
            WorkflowChange::Answered { .. } => "answered",
            WorkflowChange::Closed { .. } => "closed",
            WorkflowChange::Ignored { .. } => "ignored",
            WorkflowChange::Reopened { .. } => "reopened",
            WorkflowChange::Note { .. } => "note",
            WorkflowChange::Escalated { .. } => "escalated",
            WorkflowChange::Sentiment { .. } => "sentiment",
            WorkflowChange::Released { .. } => "released",
            WorkflowChange::Retargeted { .. } => "retargeted",
            WorkflowChange::DepartmentRemoved { .. } => "department_removed",
            WorkflowChange::Withdrawn { .. } => "withdrawn",
            WorkflowChange::Returned { .. } => "returned",
        }
    }
}

/// An event's detail: the change, and the name of the API token that made
/// it when no person did (`by`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowDetail {
    v: u32,
    #[serde(flatten)]
    pub change: WorkflowChange,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl From<WorkflowChange> for WorkflowDetail {
    fn from(change: WorkflowChange) -> Self {
        WorkflowDetail { v: VERSION, change, by: None }
    }
}

/// Date and time of a due time in the detail, in `zone`, which it names
/// (`2026-11-20 06:00 UTC`, `20/11/2026 07:00 CET`).
fn when(t: Option<DateTime<Utc>>, lang: Language, zone: Tz) -> String {
    let Some(t) = t else { return String::new() };
    match lang {
        Language::En => crate::zone::format_in(zone, t, "%Y-%m-%d %H:%M"),
        Language::Fr => crate::zone::format_in(zone, t, "%d/%m/%Y %H:%M"),
    }
}

impl WorkflowDetail {
    pub fn new(change: WorkflowChange) -> Self {
        change.into()
    }

    /// The text stored in the event's `detail` column.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The detail stored for an event whose action is `action`; `None` for
    /// anything else (a legacy text, a note written before, another action's).
    pub fn parse(action: &str, stored: &str) -> Option<WorkflowDetail> {
        if !stored.starts_with('{') {
            return None;
        }
        let detail: WorkflowDetail = serde_json::from_str(stored).ok()?;
        (detail.v == VERSION && detail.change.action() == action).then_some(detail)
    }

    /// The detail in `lang`, themes named by their keys (in English, much as
    /// Vigie stored it before details were structured; statuses are written
    /// as the pages name them). Times are UTC.
    pub fn render(&self, lang: Language) -> String {
        self.render_with(lang, Tz::UTC, &|_| None)
    }

    /// [`WorkflowDetail::render`], times in `zone`, a theme named by
    /// `theme_name(key)` when it gives a name.
    pub fn render_with(&self, lang: Language, zone: Tz, theme_name: &dyn Fn(&str) -> Option<String>) -> String {
        let fr = lang == Language::Fr;
        let status = |s: InboxStatus| status_label(s, lang).to_string();
        // French puts a non-breaking space before a colon.
        let colon = lang.t("\u{a0}: ", ": ");
        let mut text = match &self.change {
            WorkflowChange::Routed { rule, theme, sentiment, watch, source, department } => {
                let mut parts = Vec::new();
                if let Some(key) = theme {
                    let name = theme_name(key).unwrap_or_else(|| key.clone());
                    parts.push(format!("{} {name}", lang.t("thème", "theme")));
                }
                if let Some(s) = sentiment {
                    parts.push(if fr { polarity_label(Some(*s), lang).to_string() } else { s.as_str().to_string() });
                }
                if let Some(w) = watch {
                    parts.push(format!("{}{w}", lang.t("veille n°\u{a0}", "watch #")));
                }
                if let Some(k) = source {
                    parts.push(format!("source {k}"));
                }
                let conditions = if parts.is_empty() {
                    lang.t("toute mention", "any mention").to_string()
                } else {
                    parts.join(", ")
                };
                let department = crate::department_name(department, lang);
                format!("{}{rule} ({conditions}) → {department}", lang.t("règle n°\u{a0}", "rule #"))
            }
            WorkflowChange::Status { from, to, unassigned } => {
                let mut s = format!("{} → {}", status(*from), status(*to));
                if *unassigned {
                    s.push_str(lang.t(" (plus assignée à personne)", " (unassigned)"));
                }
                s
            }
            WorkflowChange::Assigned { department, due, assignee } => {
                let mut parts = Vec::new();
                if let Some(d) = department {
                    let due = match due {
                        Some(_) => format!(", {} {}", lang.t("échéance", "due"), when(*due, lang, zone)),
                        None => String::new(),
                    };
                    let d = crate::department_name(d, lang);
                    parts.push(format!("{} {d}{due}", lang.t("service", "department")));
                }
                if let Some(a) = assignee {
                    parts.push(format!("{} {a}", lang.t("assignée à", "assignee")));
                }
                parts.join(lang.t("\u{a0}; ", "; "))
            }
            WorkflowChange::Answered { reply_chars, reason, .. } => match (reply_chars, reason) {
                (Some(n), _) => match lang {
                    Language::Fr => {
                        format!("réponse enregistrée ({n}\u{a0}caractère{})", if *n > 1 { "s" } else { "" })
                    }
                    Language::En => format!("reply recorded ({n} character{})", if *n == 1 { "" } else { "s" }),
                },
                (None, Some(why)) => format!("{}{colon}{why}", lang.t("pas de réponse nécessaire", "no reply needed")),
                (None, None) => String::new(),
            },
            WorkflowChange::Closed { from, reason } => {
                let closed = status(InboxStatus::Closed);
                match (from, reason) {
                    (InboxStatus::Answered, Some(r)) => format!("{} → {closed}{colon}{r}", status(*from)),
                    (InboxStatus::Answered, None) => format!("{} → {closed}", status(*from)),
                    (_, None) => {
                        format!("{} → {closed} {}", status(*from), lang.t("(répondue auparavant)", "(answered before)"))
                    }
                    (_, Some(r)) => {
                        format!("{} → {closed} {}{colon}{r}", status(*from), lang.t("sans réponse", "without answer"))
                    }
                }
            }
            WorkflowChange::Ignored { from, reason } => {
                format!("{} → {}{colon}{reason}", status(*from), status(InboxStatus::Ignored))
            }
            WorkflowChange::Reopened { from, to, due } => {
                let due = match due {
                    Some(_) => format!(", {} {}", lang.t("nouvelle échéance", "due again"), when(*due, lang, zone)),
                    None => String::new(),
                };
                format!("{} → {}{due}", status(*from), status(*to))
            }
            WorkflowChange::Note { text } => text.clone(),
            WorkflowChange::Escalated { since, to } => {
                let since = format!("{} {}", lang.t("en retard depuis le", "overdue since"), when(*since, lang, zone));
                match (to, lang) {
                    (Escalation::Manager(name), Language::En) => format!("{since}, escalated to {name}"),
                    (Escalation::Manager(name), Language::Fr) => format!("{since}, escaladée à {name}"),
                    (Escalation::AlreadyManager, Language::En) => {
                        format!("{since}; it is already with the department's manager")
                    }
                    (Escalation::AlreadyManager, Language::Fr) => {
                        format!("{since}\u{a0}; elle est déjà chez le responsable du service")
                    }
                    (Escalation::ProjectManagers(names), Language::En) => {
                        format!("{since}; the department has no manager: escalated to {}", names.join(", "))
                    }
                    (Escalation::ProjectManagers(names), Language::Fr) => {
                        format!(
                            "{since}\u{a0}; le service n'a pas de responsable\u{a0}: escaladée à {}",
                            names.join(", ")
                        )
                    }
                    (Escalation::NoManager, Language::En) => {
                        format!("{since}; the department has no manager to escalate to")
                    }
                    (Escalation::NoManager, Language::Fr) => {
                        format!("{since}\u{a0}; le service n'a pas de responsable à qui l'escalader")
                    }
                }
            }
            WorkflowChange::Released { person, why, from, to } => {
                let why = match (why, lang) {
                    (Release::LeftProject, Language::En) => format!("{person} left the project"),
                    (Release::LeftProject, Language::Fr) => format!("{person} ne fait plus partie du projet"),
                    (Release::Reader, Language::En) => format!("{person} is now a viewer"),
                    (Release::Reader, Language::Fr) => format!("{person} est désormais lecteur"),
                    (Release::Disabled, Language::En) => format!("{person}'s account was disabled"),
                    (Release::Disabled, Language::Fr) => format!("le compte de {person} a été désactivé"),
                };
                let back = lang.t("plus assignée à personne", "unassigned");
                if from == to {
                    format!("{why}{colon}{back}")
                } else {
                    format!("{why}{colon}{} → {} ({back})", status(*from), status(*to))
                }
            }
            WorkflowChange::Retargeted { department, from, due } => {
                let department = crate::department_name(department, lang);
                let now = match due {
                    Some(_) => format!("{} {}", lang.t("échéance", "due"), when(*due, lang, zone)),
                    None => lang.t("plus d'échéance", "no due time").to_string(),
                };
                let before = match from {
                    Some(_) => format!(" ({} {})", lang.t("au lieu du", "was"), when(*from, lang, zone)),
                    None => String::new(),
                };
                format!(
                    "{} {department}{colon}{now}{before}",
                    lang.t("nouveau délai de réponse pour", "new response target for")
                )
            }
            WorkflowChange::DepartmentRemoved { department } => {
                let department = crate::department_name(department, lang);
                match lang {
                    Language::En => format!("department {department} was removed: no department, no due time"),
                    Language::Fr => {
                        format!("service {department} supprimé\u{a0}: plus de service ni d'échéance")
                    }
                }
            }
            WorkflowChange::Withdrawn { to } => match lang {
                Language::En => format!(
                    "sentiment corrected ({}): no routing rule sends it to the inbox any more, so it is ignored",
                    polarity_label(*to, lang)
                ),
                Language::Fr => format!(
                    "sentiment corrigé ({})\u{a0}: aucune règle de routage ne l'envoie plus à la boîte de réception, elle est donc ignorée",
                    polarity_label(*to, lang)
                ),
            },
            WorkflowChange::Returned { to } => match lang {
                Language::En => {
                    format!("sentiment corrected ({}): back in the inbox, to handle", polarity_label(*to, lang))
                }
                Language::Fr => format!(
                    "sentiment corrigé ({})\u{a0}: de retour dans la boîte de réception, à traiter",
                    polarity_label(*to, lang)
                ),
            },
            WorkflowChange::Sentiment { from, to, removed } => {
                let mut s = format!("{} → {}", polarity_label(*from, lang), polarity_label(*to, lang));
                if *removed {
                    s.push_str(lang.t(
                        " (correction retirée\u{a0}: verdict du modèle)",
                        " (correction removed: the model's verdict)",
                    ));
                }
                s
            }
        };
        if let Some(by) = &self.by {
            text = format!("{text} ({} {by})", lang.t("par le jeton", "by token"));
        }
        text
    }
}

/// An event's stored detail in `lang`: rendered when it is a
/// [`WorkflowDetail`] of the event's `action`, else as stored.
/// The reply an `answered` event recorded, when it kept one.
pub fn recorded_reply(action: &str, stored: &str) -> Option<String> {
    match WorkflowDetail::parse(action, stored)?.change {
        WorkflowChange::Answered { reply, .. } => reply,
        _ => None,
    }
}

pub fn detail_text(action: &str, stored: &str, lang: Language) -> String {
    detail_text_with(action, stored, lang, Tz::UTC, &|_| None)
}

/// [`detail_text`], times in `zone`, themes named by `theme_name(key)` when
/// it gives a name.
pub fn detail_text_with(
    action: &str,
    stored: &str,
    lang: Language,
    zone: Tz,
    theme_name: &dyn Fn(&str) -> Option<String>,
) -> String {
    match WorkflowDetail::parse(action, stored) {
        Some(d) => d.render_with(lang, zone, theme_name),
        None => stored.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;

    use super::*;
    use crate::Language::{En, Fr};

    fn due() -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap())
    }

    /// The English and French texts of a change, after a trip through its
    /// stored form.
    fn both(change: WorkflowChange) -> (String, String) {
        let action = change.action();
        let stored = WorkflowDetail::new(change).encode();
        let d = WorkflowDetail::parse(action, &stored).unwrap();
        (d.render(En), d.render(Fr))
    }

    fn routed(theme: Option<&str>, sentiment: Option<Polarity>) -> WorkflowChange {
        WorkflowChange::Routed {
            rule: 1,
            theme: theme.map(String::from),
            sentiment,
            watch: None,
            source: None,
            department: "Customer service".into(),
        }
    }

    #[test]
    fn routing_reads_as_before_in_english_and_in_french() {
        let change = routed(Some("customer_service"), Some(Polarity::Negative));
        assert_eq!(
            WorkflowDetail::new(change.clone()).encode(),
            r#"{"v":1,"kind":"routed","rule":1,"theme":"customer_service","sentiment":"negative","department":"Customer service"}"#
        );
        assert_eq!(
            both(change.clone()),
            (
                "rule #1 (theme customer_service, negative) → Customer service".into(),
                "règle n°\u{a0}1 (thème customer_service, négatif) → Service client".into()
            )
        );
        let named =
            WorkflowDetail::new(change).render_with(Fr, Tz::UTC, &|k| (k == "customer_service").then(|| "SAV".into()));
        assert_eq!(named, "règle n°\u{a0}1 (thème SAV, négatif) → Service client");
        let watch = WorkflowChange::Routed {
            rule: 2,
            theme: None,
            sentiment: None,
            watch: Some(7),
            source: Some(SourceKind::Twitter),
            department: "Customer service".into(),
        };
        assert_eq!(
            both(watch),
            (
                "rule #2 (watch #7, source twitter) → Customer service".into(),
                "règle n°\u{a0}2 (veille n°\u{a0}7, source twitter) → Service client".into()
            )
        );
        assert_eq!(
            both(routed(None, None)),
            (
                "rule #1 (any mention) → Customer service".into(),
                "règle n°\u{a0}1 (toute mention) → Service client".into()
            )
        );
    }

    #[test]
    fn changes_made_by_administration_read_in_both_languages() {
        use InboxStatus::*;
        let left = WorkflowChange::Released {
            person: "Marie".into(),
            why: Release::LeftProject,
            from: Assigned,
            to: ToHandle,
        };
        assert_eq!(
            both(left),
            (
                "Marie left the project: assigned → to handle (unassigned)".into(),
                "Marie ne fait plus partie du projet\u{a0}: assigné → à traiter (plus assignée à personne)".into()
            )
        );
        let reader =
            WorkflowChange::Released { person: "Marie".into(), why: Release::Reader, from: ToHandle, to: ToHandle };
        assert_eq!(
            both(reader),
            (
                "Marie is now a viewer: unassigned".into(),
                "Marie est désormais lecteur\u{a0}: plus assignée à personne".into()
            )
        );
        let disabled = WorkflowChange::Released { person: "Marie".into(), why: Release::Disabled, from: New, to: New };
        assert_eq!(both(disabled).0, "Marie's account was disabled: unassigned");

        let later = Some(Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap());
        let moved = WorkflowChange::Retargeted { department: "Customer service".into(), from: due(), due: later };
        assert_eq!(
            both(moved),
            (
                "new response target for Customer service: due 2026-11-20 10:00 UTC (was 2026-11-20 06:00 UTC)".into(),
                "nouveau délai de réponse pour Service client\u{a0}: échéance 20/11/2026 10:00 UTC (au lieu du 20/11/2026 06:00 UTC)"
                    .into()
            )
        );
        let dropped = WorkflowChange::Retargeted { department: "Legal".into(), from: due(), due: None };
        assert_eq!(both(dropped).0, "new response target for Legal: no due time (was 2026-11-20 06:00 UTC)");
        let first = WorkflowChange::Retargeted { department: "Legal".into(), from: None, due: later };
        assert_eq!(both(first).0, "new response target for Legal: due 2026-11-20 10:00 UTC");

        let removed = WorkflowChange::DepartmentRemoved { department: "Legal".into() };
        assert_eq!(
            WorkflowDetail::new(removed.clone()).encode(),
            r#"{"v":1,"kind":"department_removed","department":"Legal"}"#
        );
        assert_eq!(both(removed).0, "department Legal was removed: no department, no due time");

        let withdrawn = WorkflowChange::Withdrawn { to: Some(Polarity::Positive) };
        assert_eq!(
            both(withdrawn),
            (
                "sentiment corrected (positive): no routing rule sends it to the inbox any more, so it is ignored".into(),
                "sentiment corrigé (positif)\u{a0}: aucune règle de routage ne l'envoie plus à la boîte de réception, elle est donc ignorée".into()
            )
        );
        let returned = WorkflowChange::Returned { to: Some(Polarity::Negative) };
        assert_eq!(both(returned).0, "sentiment corrected (negative): back in the inbox, to handle");
    }

    #[test]
    fn status_changes() {
        use InboxStatus::*;
        let triage = WorkflowChange::Status { from: New, to: ToHandle, unassigned: false };
        assert_eq!(both(triage), ("new → to handle".into(), "nouveau → à traiter".into()));
        let back = WorkflowChange::Status { from: Assigned, to: ToHandle, unassigned: true };
        assert_eq!(
            both(back),
            ("assigned → to handle (unassigned)".into(), "assigné → à traiter (plus assignée à personne)".into())
        );
        let reopened = WorkflowChange::Reopened { from: Closed, to: Assigned, due: None };
        assert_eq!(both(reopened), ("closed → assigned".into(), "clos → assigné".into()));
        let reopened = WorkflowChange::Reopened { from: Answered, to: ToHandle, due: due() };
        assert_eq!(
            both(reopened),
            (
                "answered → to handle, due again 2026-11-20 06:00 UTC".into(),
                "répondu → à traiter, nouvelle échéance 20/11/2026 06:00 UTC".into()
            )
        );
        let ignored = WorkflowChange::Ignored { from: ToHandle, reason: "bot".into() };
        assert_eq!(both(ignored), ("to handle → ignored: bot".into(), "à traiter → ignoré\u{a0}: bot".into()));
    }

    #[test]
    fn assignments() {
        let full = WorkflowChange::Assigned {
            department: Some("Customer service".into()),
            due: due(),
            assignee: Some("Marie".into()),
        };
        assert_eq!(
            both(full),
            (
                "department Customer service, due 2026-11-20 06:00 UTC; assignee Marie".into(),
                "service Service client, échéance 20/11/2026 06:00 UTC\u{a0}; assignée à Marie".into()
            )
        );
        let no_target = WorkflowChange::Assigned { department: Some("Legal".into()), due: None, assignee: None };
        assert_eq!(both(no_target), ("department Legal".into(), "service Juridique".into()));
        let own = WorkflowChange::Assigned { department: Some("Presse".into()), due: None, assignee: None };
        assert_eq!(both(own), ("department Presse".into(), "service Presse".into()), "a project's own name stands");
        let person = WorkflowChange::Assigned { department: None, due: None, assignee: Some("Marie".into()) };
        assert_eq!(both(person), ("assignee Marie".into(), "assignée à Marie".into()));
    }

    #[test]
    fn answers_and_closings() {
        use InboxStatus::*;
        let reply = WorkflowChange::Answered { reply_chars: Some(23), reason: None, reply: None };
        assert_eq!(
            both(reply),
            ("reply recorded (23 characters)".into(), "réponse enregistrée (23\u{a0}caractères)".into())
        );
        let one = WorkflowChange::Answered { reply_chars: Some(1), reason: None, reply: Some("!".into()) };
        assert_eq!(
            both(one.clone()),
            ("reply recorded (1 character)".into(), "réponse enregistrée (1\u{a0}caractère)".into())
        );
        // The reply itself is kept for the history, beside the text.
        let stored = WorkflowDetail::new(one).encode();
        assert_eq!(recorded_reply("answered", &stored).as_deref(), Some("!"));
        assert_eq!(recorded_reply("note", &stored), None);
        let none = WorkflowChange::Answered { reply_chars: None, reason: Some("spam".into()), reply: None };
        assert_eq!(both(none), ("no reply needed: spam".into(), "pas de réponse nécessaire\u{a0}: spam".into()));
        let cases = [
            (Answered, None, "answered → closed", "répondu → clos"),
            (Answered, Some("done"), "answered → closed: done", "répondu → clos\u{a0}: done"),
            (ToHandle, None, "to handle → closed (answered before)", "à traiter → clos (répondue auparavant)"),
            (
                Assigned,
                Some("duplicate"),
                "assigned → closed without answer: duplicate",
                "assigné → clos sans réponse\u{a0}: duplicate",
            ),
        ];
        for (from, reason, en, fr) in cases {
            let closed = WorkflowChange::Closed { from, reason: reason.map(String::from) };
            assert_eq!(both(closed), (en.to_string(), fr.to_string()));
        }
    }

    #[test]
    fn escalations_sentiment_and_notes() {
        let to = WorkflowChange::Escalated { since: due(), to: Escalation::Manager("Paul".into()) };
        assert_eq!(
            both(to),
            (
                "overdue since 2026-11-20 06:00 UTC, escalated to Paul".into(),
                "en retard depuis le 20/11/2026 06:00 UTC, escaladée à Paul".into()
            )
        );
        // On a page of an installation in Paris, its time.
        let paris = crate::zone::parse_zone("Europe/Paris").unwrap();
        let late = WorkflowChange::Escalated { since: due(), to: Escalation::Manager("Paul".into()) };
        assert_eq!(
            WorkflowDetail::new(late).render_with(Language::Fr, paris, &|_| None),
            "en retard depuis le 20/11/2026 07:00 CET, escaladée à Paul"
        );
        let already = WorkflowChange::Escalated { since: due(), to: Escalation::AlreadyManager };
        assert_eq!(both(already).0, "overdue since 2026-11-20 06:00 UTC; it is already with the department's manager");
        let fallback = WorkflowChange::Escalated {
            since: due(),
            to: Escalation::ProjectManagers(vec!["Sam".into(), "Dana".into()]),
        };
        assert_eq!(
            both(fallback),
            (
                "overdue since 2026-11-20 06:00 UTC; the department has no manager: escalated to Sam, Dana".into(),
                "en retard depuis le 20/11/2026 06:00 UTC\u{a0}; le service n'a pas de responsable\u{a0}: escaladée à Sam, Dana"
                    .into()
            )
        );
        let nobody = WorkflowChange::Escalated { since: due(), to: Escalation::NoManager };
        assert_eq!(
            both(nobody),
            (
                "overdue since 2026-11-20 06:00 UTC; the department has no manager to escalate to".into(),
                "en retard depuis le 20/11/2026 06:00 UTC\u{a0}; le service n'a pas de responsable à qui l'escalader"
                    .into()
            )
        );
        let corrected =
            WorkflowChange::Sentiment { from: Some(Polarity::Negative), to: Some(Polarity::Positive), removed: false };
        assert_eq!(both(corrected), ("negative → positive".into(), "négatif → positif".into()));
        let removed = WorkflowChange::Sentiment { from: Some(Polarity::Positive), to: None, removed: true };
        assert_eq!(
            both(removed),
            (
                "positive → unknown (correction removed: the model's verdict)".into(),
                "positif → inconnu (correction retirée\u{a0}: verdict du modèle)".into()
            )
        );
        // A note is shown as written, in every language.
        let text = "Client rappelé : {\"v\":1} → ok";
        assert_eq!(both(WorkflowChange::Note { text: text.into() }), (text.into(), text.into()));
    }

    #[test]
    fn the_token_that_acted_is_named() {
        let mut d = WorkflowDetail::new(WorkflowChange::Answered { reply_chars: Some(23), reason: None, reply: None });
        d.by = Some("api".into());
        let stored = d.encode();
        assert_eq!(detail_text("answered", &stored, En), "reply recorded (23 characters) (by token api)");
        assert_eq!(detail_text("answered", &stored, Fr), "réponse enregistrée (23\u{a0}caractères) (par le jeton api)");
    }

    #[test]
    fn anything_else_is_shown_as_stored() {
        // Rows written before, in English.
        assert_eq!(detail_text("closed", "answered → closed", Fr), "answered → closed");
        // A note that looks like a stored detail stays a note.
        let routed = WorkflowDetail::new(routed(None, None)).encode();
        assert_eq!(detail_text("note", &routed, Fr), routed);
        // Another version, broken JSON, an empty detail.
        let v2 = routed.replace("\"v\":1", "\"v\":2");
        assert_eq!(detail_text("routed", &v2, En), v2);
        assert_eq!(detail_text("routed", "{not json", En), "{not json");
        assert_eq!(detail_text("status", "", Fr), "");
    }
}
