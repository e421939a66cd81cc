//! The e-mail a department's manager gets when an inbox item of the
//! department is overdue and escalated to them.
//!
//! Everything that comes from a mention or a person is cleaned and bounded
//! like a notice's ([`crate::render`]); the HTML escapes it, links are kept
//! only if they are `http(s)`.

use chrono::{DateTime, Utc};
use vigie_model::Language;

use crate::render::{clean, html_escape, http_url};

/// What an escalation says.
#[derive(Debug, Clone)]
pub struct Escalation<'a> {
    pub lang: Language,
    pub project: &'a str,
    pub department: &'a str,
    /// The mention's title, or the start of its text.
    pub mention: &'a str,
    /// Where the mention was published (its own link).
    pub mention_url: Option<&'a str>,
    pub due_at: DateTime<Utc>,
    /// The zone the due time is written in (the installation's).
    pub zone: vigie_model::zone::Tz,
    /// The inbox item's page in the web app, when a base URL is configured.
    pub item_url: Option<&'a str>,
    /// The command that shows it otherwise.
    pub mention_id: i64,
    /// Sent to the project's managers because the department has no manager
    /// (or the item no department), rather than to the department's manager.
    pub to_project_managers: bool,
}

/// Subject, plain text and HTML of an escalation e-mail.
pub fn escalation_email(e: &Escalation<'_>) -> (String, String, String) {
    let fr = e.lang == Language::Fr;
    let t = |fr_text: &'static str, en_text: &'static str| if fr { fr_text } else { en_text };
    let project = clean(e.project, 100);
    let department = clean(vigie_model::department_name(e.department, e.lang), 100);
    let mention = clean(e.mention, 200);
    let due = vigie_model::zone::format_in(e.zone, e.due_at, if fr { "%d/%m/%Y %H:%M" } else { "%Y-%m-%d %H:%M" });
    // French puts a non-breaking space before a colon.
    let colon = t("\u{a0}:", ":");
    let subject = clean(
        &format!("[Vigie] {project} / {department}{colon} {} — {mention}", t("mention en retard", "overdue mention")),
        250,
    );
    let item = e.item_url.and_then(http_url);
    let source = e.mention_url.and_then(http_url);
    let intro = match e.to_project_managers {
        false => t(
            "Une mention de votre service attend toujours une réponse après son échéance.",
            "A mention of your department is still waiting for an answer past its due time.",
        ),
        true => t(
            "Une mention attend toujours une réponse après son échéance, et son service n'a pas de responsable\u{a0}: \
             vous la recevez comme responsable du projet.",
            "A mention is still waiting for an answer past its due time, and its department has no manager: \
             you get it as one of the project's managers.",
        ),
    };
    let see = match &item {
        Some(url) => url.clone(),
        None => format!("vigie mention show {}", e.mention_id),
    };
    let mut text = format!(
        "{}\n\n{}{colon} {project}\n{}{colon} {department}\n{}{colon} {due}\n{}{colon} {mention}\n",
        intro,
        t("Projet", "Project"),
        t("Service", "Department"),
        t("Échéance", "Due"),
        t("Mention", "Mention"),
    );
    if let Some(url) = &source {
        text.push_str(&format!("{}{colon} {url}\n", t("Publiée ici", "Published at")));
    }
    text.push_str(&format!(
        "\n{}{colon} {see}\n-- \n{}\n",
        t("À traiter", "Handle it"),
        t("Envoyé par Vigie", "Sent by Vigie")
    ));
    let h = html_escape;
    let link = |url: &str, label: &str| format!("<a href=\"{}\" rel=\"noopener noreferrer\">{}</a>", h(url), h(label));
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family:sans-serif;line-height:1.4;color:#222\">\n<p>{}</p>\n<table cellpadding=\"3\">\n",
        h(&subject),
        h(intro),
    );
    for (k, v) in [
        (t("Projet", "Project"), project.as_str()),
        (t("Service", "Department"), department.as_str()),
        (t("Échéance", "Due"), due.as_str()),
        (t("Mention", "Mention"), mention.as_str()),
    ] {
        html.push_str(&format!("<tr><th align=\"left\">{}</th><td>{}</td></tr>\n", h(k), h(v)));
    }
    if let Some(url) = &source {
        html.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>\n",
            h(t("Publiée ici", "Published at")),
            link(url, url)
        ));
    }
    html.push_str("</table>\n");
    match &item {
        Some(url) => html.push_str(&format!("<p>{}</p>\n", link(url, t("Ouvrir dans Vigie", "Open it in Vigie")))),
        None => html.push_str(&format!("<p><code>{}</code></p>\n", h(&see))),
    }
    html.push_str(&format!(
        "<p style=\"color:#888;font-size:small\">{}</p>\n</body></html>\n",
        h(t("Envoyé par Vigie", "Sent by Vigie"))
    ));
    (subject, text, html)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;

    use super::*;

    fn escalation(lang: Language) -> Escalation<'static> {
        Escalation {
            lang,
            project: "Acme",
            department: "Customer service",
            mention: "<img src=x onerror=alert(1)> Colis\r\nBcc: victim@example.com perdu",
            mention_url: Some("javascript:alert(1)"),
            due_at: Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 0).unwrap(),
            zone: vigie_model::zone::Tz::UTC,
            item_url: Some("https://vigie.example.fr/p/1/inbox/42"),
            mention_id: 42,
            to_project_managers: false,
        }
    }

    #[test]
    fn french_and_english_with_nothing_hostile_getting_through() {
        let (subject, text, html) = escalation_email(&escalation(Language::Fr));
        assert_eq!(
            subject,
            "[Vigie] Acme / Service client : mention en retard — <img src=x onerror=alert(1)> Colis Bcc: victim@example.com perdu"
        );
        assert!(!subject.contains('\n') && !subject.contains('\r'));
        assert!(text.contains("Échéance\u{a0}: 24/11/2026 09:30 UTC"), "{text}");
        assert!(text.contains("https://vigie.example.fr/p/1/inbox/42"));
        assert!(!text.contains("javascript:"), "no link that is not http(s)");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;") && !html.contains("<img"), "{html}");
        assert!(!html.contains("javascript:"));
        assert!(html.contains("href=\"https://vigie.example.fr/p/1/inbox/42\""));
        let (subject, text, _) = escalation_email(&escalation(Language::En));
        assert!(subject.starts_with("[Vigie] Acme / Customer service: overdue mention"), "{subject}");
        assert!(text.contains("Due: 2026-11-24 09:30 UTC"), "{text}");
        let cli = Escalation { item_url: None, ..escalation(Language::En) };
        // In the installation's zone, which it names.
        let paris = vigie_model::zone::parse_zone("Europe/Paris").unwrap();
        let (_, text, html) = escalation_email(&Escalation { zone: paris, ..escalation(Language::Fr) });
        assert!(
            text.contains("Échéance\u{a0}: 24/11/2026 10:30 CET") && html.contains("24/11/2026 10:30 CET"),
            "{text}"
        );
        assert!(escalation_email(&cli).1.contains("vigie mention show 42"));
        // To the project's managers, when the department has none: it says why they get it.
        let fallback = Escalation { to_project_managers: true, ..escalation(Language::En) };
        let (_, text, html) = escalation_email(&fallback);
        assert!(
            text.starts_with(
                "A mention is still waiting for an answer past its due time, and its department has no manager"
            ),
            "{text}"
        );
        assert!(
            html.contains("you get it as one of the project&#x27;s managers")
                || html.contains("you get it as one of the project&#39;s managers")
                || html.contains("you get it as one of the project's managers"),
            "{html}"
        );
        assert!(escalation_email(&escalation(Language::En)).1.starts_with("A mention of your department"));
    }
}
