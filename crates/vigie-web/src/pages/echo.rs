//! A refused form, sent back to the page that holds it.
//!
//! When a form's value is refused (400), a name is taken or the item changed
//! meanwhile (409), the person gets the same page again — with the answer's
//! status — rather than a bare error page: the message beside the form it is
//! about (`p.error-message role="alert"` with an id, the field at fault
//! `aria-invalid` and described by it) and every value they typed back in
//! the form. An [`Echo`] carries that: which form, the error, the fields as
//! sent. A page renders each of its forms through [`Echo::on`], which gives
//! the form its own part of the echo (or nothing); whatever the page did not
//! place next to a form ([`Echo::unplaced`]) is still shown, at its top.
//!
//! Passwords and secrets are never sent back ([`NEVER_ECHOED`]). The
//! message carries `data-form-error`: `app.js` brings it into view (the
//! form may be far down a long page) and focuses the field at fault.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::i18n::Lang;

/// Fields whose value is never written back into a page.
pub const NEVER_ECHOED: [&str; 6] = ["password", "new_password", "current_password", "secret", "token", "_csrf"];

/// A refused form: which one (an id unique in its page, such as
/// `department-add` or `answer`), why, and what was typed.
#[derive(Debug)]
pub struct Echo {
    form: String,
    pub error: ApiError,
    values: Vec<(String, String)>,
    /// Whether a form of the page showed the error (atomic only so that an
    /// echo can be held across the page's `await`s).
    placed: AtomicBool,
}

impl Echo {
    /// The fields as sent, in order (a repeated field, such as checked
    /// boxes, once per value).
    pub fn new(form: impl Into<String>, error: ApiError, values: Vec<(String, String)>) -> Echo {
        let values = values.into_iter().filter(|(k, _)| !NEVER_ECHOED.contains(&k.as_str())).collect();
        Echo { form: form.into(), error, values, placed: AtomicBool::new(false) }
    }

    /// The fields of a form's typed struct (absent ones left out).
    pub fn of(form: impl Into<String>, error: ApiError, typed: &impl Serialize) -> Echo {
        let values = match serde_json::to_value(typed) {
            Ok(Value::Object(map)) => map
                .into_iter()
                .filter_map(|(k, v)| match v {
                    Value::Null => None,
                    Value::String(s) => Some((k, s)),
                    other => Some((k, other.to_string())),
                })
                .collect(),
            _ => Vec::new(),
        };
        Echo::new(form, error, values)
    }

    /// The status the page is answered with: the error's.
    pub fn status(&self) -> StatusCode {
        self.error.code.status()
    }

    /// Gives `response` the error's status.
    pub fn answer(echo: Option<&Echo>, mut response: Response) -> Response {
        if let Some(e) = echo {
            *response.status_mut() = e.status();
        }
        response
    }

    /// What form `form` of the page shows: the echo if it is about it.
    pub fn on<'a>(echo: Option<&'a Echo>, form: &str) -> FormEcho<'a> {
        FormEcho(echo.filter(|e| e.form == form))
    }

    /// The error, when no form of the page showed it (the form is not there
    /// any more: the item changed, the record is gone), with the text the
    /// person typed in `texts` so that it is not lost. Call it after the
    /// forms were rendered.
    pub fn unplaced(echo: Option<&Echo>, lang: Lang, texts: &[&str]) -> Markup {
        let Some(e) = echo.filter(|e| !e.placed.load(Ordering::Relaxed)) else { return html! {} };
        e.placed.store(true, Ordering::Relaxed);
        let typed: Vec<&(String, String)> =
            e.values.iter().filter(|(k, v)| texts.contains(&k.as_str()) && !v.trim().is_empty()).collect();
        html! {
            div.form-error {
                p.error-message role="alert" id=(e.error_id()) data-code=(e.error.code.as_str()) data-form-error { (e.error.message_in(lang)) }
                @if !typed.is_empty() {
                    p.muted { (lang.t("Ce que vous aviez saisi (non enregistré)\u{a0}:", "What you typed (not saved):")) }
                    @for (name, value) in typed {
                        textarea.typed readonly data-field=(name) aria-label=(lang.t("Texte saisi", "Typed text")) { (value) }
                    }
                }
            }
        }
    }

    fn error_id(&self) -> String {
        format!("{}-error", self.form)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// One form's part of an [`Echo`]: its error and typed values, or nothing
/// (the page as usual).
#[derive(Debug, Clone, Copy, Default)]
pub struct FormEcho<'a>(Option<&'a Echo>);

impl<'a> FormEcho<'a> {
    /// Whether the form was refused (a folded form is shown open).
    pub fn refused(self) -> bool {
        self.0.is_some()
    }

    /// The error beside the form (nothing if it was not refused).
    pub fn error(self, lang: Lang) -> Markup {
        let Some(e) = self.0 else { return html! {} };
        e.placed.store(true, Ordering::Relaxed);
        html! {
            p.error-message role="alert" id=(e.error_id()) data-code=(e.error.code.as_str()) data-form-error { (e.error.message_in(lang)) }
        }
    }

    /// What was typed in `name`, else `shown` (the stored value, or empty).
    pub fn value(self, name: &str, shown: &'a str) -> &'a str {
        match self.0 {
            Some(e) => e.value(name).unwrap_or(""),
            None => shown,
        }
    }

    /// Whether option `value` of `name` is chosen: as sent, else `shown`.
    pub fn chose(self, name: &str, value: &str, shown: bool) -> bool {
        match self.0 {
            Some(e) => e.values.iter().any(|(k, v)| k == name && v == value),
            None => shown,
        }
    }

    /// Whether a checkbox `name` was ticked, else `shown`.
    pub fn ticked(self, name: &str, shown: bool) -> bool {
        match self.0 {
            Some(e) => e.value(name).is_some_and(|v| !v.is_empty() && v != "false"),
            None => shown,
        }
    }

    fn at_fault(self, name: &str) -> Option<&'a Echo> {
        self.0.filter(|e| e.error.field == Some(name))
    }

    /// `aria-invalid` of field `name`: "true" if the error is about it.
    pub fn invalid(self, name: &str) -> Option<&'static str> {
        self.at_fault(name).map(|_| "true")
    }

    /// `aria-describedby` of field `name`: the error's id if it is about it.
    pub fn described(self, name: &str) -> Option<String> {
        self.at_fault(name).map(Echo::error_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Typed {
        name: Option<String>,
        secret: Option<String>,
        on: bool,
        missing: Option<String>,
    }

    #[test]
    fn a_form_gets_its_own_echo_and_never_a_secret() {
        let typed = Typed { name: Some("<b>x</b>".into()), secret: Some("s3cr3t".into()), on: true, missing: None };
        let echo = Echo::of("add", ApiError::invalid("bad name").for_field("name"), &typed);
        assert_eq!(echo.status(), StatusCode::BAD_REQUEST);
        let other = Echo::on(Some(&echo), "edit-1");
        assert!(!other.refused());
        assert_eq!(other.value("name", "stored"), "stored");
        assert_eq!(other.error(Lang::En).into_string(), "");
        let add = Echo::on(Some(&echo), "add");
        assert_eq!(add.value("name", "stored"), "<b>x</b>");
        assert_eq!(add.value("secret", "kept"), "", "never echoed");
        assert_eq!(add.value("missing", "default"), "", "what was left empty stays empty");
        assert!(add.ticked("on", false));
        assert_eq!((add.invalid("name"), add.described("name").as_deref()), (Some("true"), Some("add-error")));
        assert_eq!(add.invalid("on"), None);
        let html = add.error(Lang::En).into_string();
        assert!(html.contains("role=\"alert\" id=\"add-error\""), "{html}");
        assert_eq!(Echo::unplaced(Some(&echo), Lang::En, &["name"]).into_string(), "", "shown beside its form");
    }

    #[test]
    fn an_unplaced_error_keeps_the_typed_text() {
        let echo = Echo::new(
            "answer",
            ApiError::conflict("answered already"),
            vec![("reply".into(), "Bonjour <3".into()), ("department_id".into(), "4".into())],
        );
        let html = Echo::unplaced(Some(&echo), Lang::En, &["reply", "reason"]).into_string();
        assert!(html.contains("answered already") && html.contains("Bonjour &lt;3"), "{html}");
        assert!(!html.contains("department_id"), "{html}");
    }
}
