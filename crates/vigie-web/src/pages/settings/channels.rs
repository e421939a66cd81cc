//! Where alerts are sent: webhooks (signed with a secret made here and
//! shown once) and e-mail addresses, each with a minimum severity and the
//! language its notifications are written in (French unless told otherwise).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use axum::{Extension, Form, Json};
use chrono::Utc;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vigie_model::{Language, Role, Severity};
use vigie_store::{Channel, NewChannel};

use super::{audit_change, form_done, json_body, language_name, language_select, msg, refused, secret_page, taken};
use crate::auth::{Actor, random_token};
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::echo::{Echo, FormEcho};
use crate::pages::{PageResult, clip, created, csrf_field};
use crate::routes::Routes;
use crate::{Access, AppState};

/// Longest webhook URL, and most addresses per e-mail channel.
pub const MAX_URL_CHARS: usize = 2_000;
pub const MAX_ADDRESSES: usize = 20;

pub(super) fn routes(r: Routes) -> Routes {
    let manager = Access::Project(Role::Manager);
    r.page(Method::POST, "/p/{pid}/settings/channels", manager, "Add a notification channel (form)", add_form)
        .page(Method::POST, "/p/{pid}/settings/channels/{id}/delete", manager, "Remove a notification channel (form)", delete_form)
        .api(Method::GET, "/api/v1/projects/{pid}/channels", manager, "Notification channels (secrets are never shown)", list_api)
        .api(
            Method::POST,
            "/api/v1/projects/{pid}/channels",
            manager,
            "Add a channel {kind: webhook, url} or {kind: email, addresses}, with min_severity and lang (fr, the default, or en); a webhook's secret is answered once",
            add_api,
        )
        .api(Method::DELETE, "/api/v1/projects/{pid}/channels/{id}", manager, "Remove a notification channel", delete_api)
}

fn back(pid: i64) -> String {
    format!("/p/{pid}/settings#channels")
}

/// Where a channel sends, as shown: a webhook's address is a credential
/// (Slack's and Mattermost's carry their token in the path, others in the
/// query or user info), so only its scheme, host and port are shown.
fn shown_target(c: &Channel) -> String {
    if c.kind == "webhook" { vigie_collect::fetch::redacted_url(&c.target) } else { c.target.clone() }
}

fn channel_json(c: &Channel) -> Value {
    json!({
        "id": c.id, "kind": c.kind, "target": shown_target(c), "signed": c.secret.is_some(),
        "min_severity": c.min_severity.as_str(), "lang": c.lang.code(), "created_at": c.created_at.to_rfc3339(),
    })
}

/// An http(s) URL with a host.
pub fn check_webhook_url(raw: &str, lang: Lang) -> Result<String, ApiError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ApiError::invalid(lang.t("Indiquez l'adresse du webhook.", "give the webhook's URL")));
    }
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(ApiError::invalid(msg(
            lang,
            format!("L'adresse doit avoir au plus {MAX_URL_CHARS} caractères."),
            format!("the URL must have at most {MAX_URL_CHARS} characters"),
        )));
    }
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) => {
            // An address the notifier would refuse on every send is refused now.
            match vigie_collect::guard::check_url(&u, vigie_collect::guard::private_networks_allowed()) {
                Ok(()) => Ok(u.to_string()),
                Err(e) => Err(ApiError::invalid(msg(
                    lang,
                    format!(
                        "Adresse refusée\u{a0}: {} est une adresse de réseau privé, local ou réservé \
                         (pour autoriser les adresses internes, démarrez Vigie avec \
                         VIGIE_ALLOW_PRIVATE_NETWORK=true).",
                        u.host_str().unwrap_or_default()
                    ),
                    e.to_string(),
                ))),
            }
        }
        _ => Err(ApiError::invalid(msg(
            lang,
            format!("{:?} n'est pas une adresse http(s).", clip(raw, 100)),
            format!("{:?} is not an http(s) URL", clip(raw, 100)),
        ))),
    }
}

/// E-mail addresses separated by commas, semicolons or spaces: each with
/// one `@` between a non-empty name and a domain.
pub fn check_addresses(raw: &str, lang: Lang) -> Result<Vec<String>, ApiError> {
    let list: Vec<String> = raw
        .split([',', ';', ' ', '\n', '\r', '\t'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    if list.is_empty() {
        return Err(ApiError::invalid(
            lang.t("Indiquez au moins une adresse e-mail.", "give at least one e-mail address"),
        ));
    }
    if list.len() > MAX_ADDRESSES {
        return Err(ApiError::invalid(msg(
            lang,
            format!("Au plus {MAX_ADDRESSES} adresses par canal."),
            format!("at most {MAX_ADDRESSES} addresses per channel"),
        )));
    }
    for a in &list {
        let ok = a.len() <= 254
            && a.matches('@').count() == 1
            && a.split_once('@').is_some_and(|(name, domain)| {
                !name.is_empty() && !domain.is_empty() && !domain.starts_with('.') && !domain.ends_with('.')
            })
            && !a.chars().any(|c| c.is_control() || matches!(c, '<' | '>' | '"' | '(' | ')'));
        if !ok {
            return Err(ApiError::invalid(msg(
                lang,
                format!("{:?} n'est pas une adresse e-mail.", clip(a, 100)),
                format!("{:?} is not an e-mail address", clip(a, 100)),
            )));
        }
    }
    Ok(list)
}

fn severity(v: Option<&str>, lang: Lang) -> Result<Severity, ApiError> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(Severity::Warning),
        Some(s) => s
            .parse()
            .map_err(|e| ApiError::invalid(msg(lang, "La gravité doit être info, warning ou critical.".into(), e))),
    }
}

/// The language of a channel's notifications: `fr` (the default) or `en`.
fn language(v: Option<&str>, lang: Lang) -> Result<Language, ApiError> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(Language::Fr),
        Some(s) => s.parse().map_err(|_| {
            ApiError::invalid(msg(
                lang,
                format!("La langue doit être fr (français) ou en (anglais), pas {:?}.", clip(s, 20)),
                format!("lang must be fr (French) or en (English), not {:?}", clip(s, 20)),
            ))
        }),
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    kind: Option<String>,
    url: Option<String>,
    /// A webhook's signing secret, when the receiver has one already (made
    /// here otherwise).
    secret: Option<String>,
    /// Comma-separated in forms; a list or a string in JSON.
    addresses: Option<Value>,
    min_severity: Option<String>,
    /// `fr` (default) or `en`.
    lang: Option<String>,
}

/// Adds the channel; returns it and, for a webhook, its new secret.
async fn add(
    state: &AppState,
    actor: &Actor,
    input: ChannelInput,
    lang: Lang,
) -> Result<(Channel, Option<String>), ApiError> {
    let pid = actor.project_id()?;
    let min_severity = severity(input.min_severity.as_deref(), lang).map_err(|e| e.for_field("min_severity"))?;
    let channel_lang = language(input.lang.as_deref(), lang).map_err(|e| e.for_field("lang"))?;
    let (channel, secret) = match input.kind.as_deref().map(str::trim) {
        Some("webhook") => {
            let url = check_webhook_url(input.url.as_deref().unwrap_or(""), lang).map_err(|e| e.for_field("url"))?;
            let secret = match input.secret.as_deref().map(str::trim) {
                None | Some("") => random_token(),
                Some(s) if s.chars().count() < 16 || s.len() > 200 || s.chars().any(char::is_control) => {
                    return Err(ApiError::invalid(msg(
                        lang,
                        "Le secret fait de 16 à 200 caractères imprimables.".into(),
                        "a secret is 16 to 200 printable characters".into(),
                    ))
                    .for_field("secret"));
                }
                Some(s) => s.to_string(),
            };
            (
                NewChannel {
                    kind: "webhook".into(),
                    target: url,
                    secret: Some(secret.clone()),
                    min_severity,
                    lang: channel_lang,
                },
                Some(secret),
            )
        }
        Some("email") if input.secret.is_some() => {
            return Err(ApiError::invalid(msg(
                lang,
                "Un secret ne sert qu'aux webhooks.".into(),
                "a secret is for webhooks only".into(),
            ))
            .for_field("secret"));
        }
        Some("email") => {
            let raw = match &input.addresses {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(list)) => {
                    list.iter().map(|v| v.as_str().unwrap_or("").to_string()).collect::<Vec<_>>().join(",")
                }
                _ => String::new(),
            };
            let addresses = check_addresses(&raw, lang).map_err(|e| e.for_field("addresses"))?;
            let target = addresses.join(",");
            (NewChannel { kind: "email".into(), target, secret: None, min_severity, lang: channel_lang }, None)
        }
        other => {
            return Err(ApiError::invalid(msg(
                lang,
                "Le type doit être webhook ou email.".into(),
                format!("kind must be webhook or email, not {:?}", other.unwrap_or("")),
            ))
            .for_field("kind"));
        }
    };
    let added = state
        .store
        .add_channel(pid, channel, Utc::now())
        .await
        .map_err(|e| taken(e, lang, "Ce canal existe déjà dans le projet.".into()))?;
    audit_change(
        state,
        actor,
        Some(pid),
        "channel.add",
        format!(
            "added {} channel #{} to {} (min severity {}, lang {}{})",
            added.kind,
            added.id,
            shown_target(&added),
            added.min_severity,
            added.lang,
            if added.secret.is_some() { ", signed" } else { "" }
        ),
    )
    .await?;
    Ok((added, secret))
}

async fn remove(state: &AppState, actor: &Actor, id: i64, lang: Lang) -> Result<(), ApiError> {
    let pid = actor.project_id()?;
    let channel = state.store.list_channels(pid).await?.into_iter().find(|c| c.id == id).ok_or_else(|| {
        ApiError::not_found(msg(
            lang,
            format!("Le canal {id} n'existe pas dans ce projet."),
            format!("no channel {id} in this project"),
        ))
    })?;
    state.store.remove_channel(pid, id).await?;
    audit_change(
        state,
        actor,
        Some(pid),
        "channel.remove",
        format!("removed {} channel #{id} to {}", channel.kind, shown_target(&channel)),
    )
    .await
}

async fn list_api(State(state): State<AppState>, Extension(actor): Extension<Actor>) -> Result<Json<Value>, ApiError> {
    let list = state.store.list_channels(actor.project_id()?).await?;
    Ok(Json(json!({"items": list.iter().map(channel_json).collect::<Vec<_>>(), "next_cursor": null})))
}

async fn add_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: ChannelInput = json_body(&body)?;
    let (channel, secret) = add(&state, &actor, input, Lang::En).await?;
    let mut v = channel_json(&channel);
    if let Some(secret) = secret {
        v["secret"] = json!(secret);
    }
    Ok(created(v))
}

async fn delete_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    remove(&state, &actor, id, Lang::En).await?;
    Ok(Json(json!({"removed": id})))
}

#[derive(Debug, Deserialize, Serialize, Default, Clone)]
pub struct ChannelForm {
    kind: Option<String>,
    url: Option<String>,
    addresses: Option<String>,
    min_severity: Option<String>,
    lang: Option<String>,
}

async fn add_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Form(f): Form<ChannelForm>,
) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let input = ChannelInput {
        kind: f.kind.clone(),
        url: f.url.clone(),
        addresses: f.addresses.clone().map(Value::String),
        min_severity: f.min_severity.clone(),
        lang: f.lang.clone(),
        secret: None,
    };
    match add(&state, &actor, input, lang).await {
        // The page has one form per kind.
        Err(e) => {
            let form = match f.kind.as_deref().map(str::trim) {
                Some("email") => "channel-email",
                _ => "channel-webhook",
            };
            refused(&state, &actor, Echo::of(form, e, &f)).await
        }
        Ok((_, None)) => Ok(crate::pages::see_other(&back(pid))),
        Ok((channel, Some(secret))) => {
            let what = html! {
                p { (lang.t("Webhook ajouté\u{a0}: ", "Webhook added: ")) code { (shown_target(&channel)) } }
                p { (lang.t(
                    "Vigie signe chaque envoi avec ce secret (HMAC-SHA256)\u{202f}; vérifiez la signature à la réception.",
                    "Vigie signs every call with this secret (HMAC-SHA256); check the signature on your side."
                )) }
            };
            secret_page(&state, &actor, lang.t("Secret du webhook", "Webhook secret"), what, &secret, &back(pid)).await
        }
    }
}

async fn delete_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> PageResult {
    let pid = actor.project_id()?;
    let result = remove(&state, &actor, id, actor.lang).await;
    form_done(&state, &actor, result, &back(pid), &format!("channel-{id}"), &()).await
}

fn severity_label(lang: Lang, s: Severity) -> &'static str {
    match s {
        Severity::Info => lang.t("information", "info"),
        Severity::Warning => lang.t("avertissement", "warning"),
        Severity::Critical => lang.t("critique", "critical"),
    }
}

fn severity_select(lang: Lang, fe: FormEcho<'_>) -> Markup {
    html! {
        label { (lang.t("Gravité minimale", "Minimum severity"))
            select name="min_severity" aria-invalid=[fe.invalid("min_severity")] aria-describedby=[fe.described("min_severity")] {
                @for s in [Severity::Info, Severity::Warning, Severity::Critical] {
                    option value=(s.as_str()) selected[fe.chose("min_severity", s.as_str(), s == Severity::Warning)] { (severity_label(lang, s)) }
                }
            }
        }
    }
}

pub(super) async fn section(state: &AppState, actor: &Actor, echo: Option<&Echo>) -> Result<Markup, ApiError> {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let list = state.store.list_channels(pid).await?;
    let (hook, mail) = (Echo::on(echo, "channel-webhook"), Echo::on(echo, "channel-email"));
    Ok(html! {
        section.card #channels {
            h2 { (lang.t("Canaux de notification", "Notification channels")) }
            @if list.is_empty() {
                p.muted { (lang.t("Aucun canal\u{a0}: les alertes ne sont visibles que dans Vigie.", "No channel: alerts are only seen in Vigie.")) }
            } @else {
                div.table-wrap { table {
                    thead { tr {
                        th { (lang.t("Type", "Kind")) }
                        th { (lang.t("Destination", "Target")) }
                        th { (lang.t("Gravité minimale", "Minimum severity")) }
                        th { (lang.t("Langue", "Language")) }
                        th { (lang.t("Créé le", "Created")) }
                        th { span.visually-hidden { (lang.t("Actions", "Actions")) } }
                    } }
                    tbody {
                        @for c in &list {
                            tr {
                                td { (channel_kind(lang, &c.kind)) @if c.secret.is_some() { " " span.badge { (lang.t("signé", "signed")) } } }
                                td.target { (clip(&shown_target(c), 120)) }
                                td { (severity_label(lang, c.min_severity)) }
                                td { (language_name(lang, c.lang)) }
                                td { (lang.datetime(c.created_at)) }
                                td {
                                    form.inline method="post" action={ "/p/" (pid) "/settings/channels/" (c.id) "/delete" }
                                        data-confirm=(lang.t("Supprimer ce canal\u{202f}?", "Remove this channel?")) {
                                        (csrf_field(actor))
                                        button.danger type="submit" { (lang.t("Supprimer", "Remove")) }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
            details open[hook.refused()] {
                summary { (lang.t("Ajouter un webhook", "Add a webhook")) }
                form.stack method="post" action={ "/p/" (pid) "/settings/channels" } {
                    (csrf_field(actor))
                    (hook.error(lang))
                    input type="hidden" name="kind" value="webhook";
                    label { (lang.t("Adresse (http ou https)", "URL (http or https)"))
                        input type="url" name="url" required maxlength=(MAX_URL_CHARS) placeholder="https://" value=(hook.value("url", ""))
                            aria-invalid=[hook.invalid("url")] aria-describedby=[hook.described("url")]; }
                    (severity_select(lang, hook))
                    (language_select(lang, hook, lang.t("Langue des notifications", "Language of the notifications"), Language::Fr))
                    button type="submit" { (lang.t("Ajouter", "Add")) }
                }
            }
            details open[mail.refused()] {
                summary { (lang.t("Ajouter des destinataires e-mail", "Add e-mail recipients")) }
                form.stack method="post" action={ "/p/" (pid) "/settings/channels" } {
                    (csrf_field(actor))
                    (mail.error(lang))
                    input type="hidden" name="kind" value="email";
                    label { (lang.t("Adresses, séparées par des virgules", "Addresses, separated by commas"))
                        input type="text" name="addresses" required maxlength="5000" value=(mail.value("addresses", ""))
                            aria-invalid=[mail.invalid("addresses")] aria-describedby=[mail.described("addresses")]; }
                    (severity_select(lang, mail))
                    (language_select(lang, mail, lang.t("Langue des notifications", "Language of the notifications"), Language::Fr))
                    button type="submit" { (lang.t("Ajouter", "Add")) }
                }
            }
        }
    })
}

/// A channel's kind as the reader names it.
pub(crate) fn channel_kind(lang: Lang, kind: &str) -> String {
    match kind {
        "email" => lang.t("e-mail", "e-mail").to_string(),
        "webhook" => lang.t("webhook", "webhook").to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_http() {
        assert!(check_webhook_url("https://hooks.example/x", Lang::En).is_ok());
        // A private address only where the installation allows them (the notifier would refuse it).
        let private = check_webhook_url("http://10.0.0.1:8080/hook", Lang::En);
        assert_eq!(private.is_ok(), vigie_collect::guard::private_networks_allowed(), "{private:?}");
        if let Err(e) = private {
            assert!(e.message.contains("10.0.0.1 is a private network address"), "{}", e.message);
        }
        assert!(check_webhook_url("javascript:alert(1)", Lang::En).is_err());
        assert!(check_webhook_url("ftp://example.com", Lang::En).is_err());
        assert!(check_webhook_url("", Lang::En).is_err());
        assert!(check_webhook_url("/relative", Lang::En).is_err());
    }

    #[test]
    fn addresses_have_one_at() {
        assert_eq!(check_addresses("a@b.fr, c@d.com", Lang::En).map(|l| l.len()).unwrap_or(0), 2);
        assert!(check_addresses("a@@b.fr", Lang::En).is_err());
        assert!(check_addresses("ab.fr", Lang::En).is_err());
        assert!(check_addresses("@b.fr", Lang::En).is_err());
        assert!(check_addresses("a@b@c.fr", Lang::En).is_err());
        assert!(check_addresses(" , ", Lang::En).is_err());
    }
}
