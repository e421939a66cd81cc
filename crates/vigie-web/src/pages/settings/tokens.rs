//! API tokens of the project (admins): made here with a role no higher than
//! their maker's, shown once, stored as their hash only, revoked by name.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use axum::{Extension, Form, Json};
use chrono::Utc;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vigie_model::Role;
use vigie_store::ApiToken;

use super::{audit_change, form_done, json_body, msg, parse_role, refused, role_label, secret_page, taken};
use crate::auth::Actor;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::echo::Echo;
use crate::pages::{PageResult, created, csrf_field};
use crate::routes::Routes;
use crate::{Access, AppState, hash_token, new_token};

/// Longest token name.
pub const MAX_TOKEN_NAME: usize = 64;

pub(super) fn routes(r: Routes) -> Routes {
    let admin = Access::Project(Role::Admin);
    r.page(Method::POST, "/p/{pid}/settings/tokens", admin, "Create an API token (form; shown once)", add_form)
        .page(Method::POST, "/p/{pid}/settings/tokens/revoke", admin, "Revoke an API token by name (form)", revoke_form)
        .api(
            Method::GET,
            "/api/v1/projects/{pid}/tokens",
            admin,
            "The project's API tokens (never the tokens themselves)",
            list_api,
        )
        .api(
            Method::POST,
            "/api/v1/projects/{pid}/tokens",
            admin,
            "Create an API token {name, role} (role at most yours, agent by default); the token is answered once",
            add_api,
        )
        .api(Method::DELETE, "/api/v1/projects/{pid}/tokens/{name}", admin, "Revoke an API token", delete_api)
}

fn back(pid: i64) -> String {
    format!("/p/{pid}/settings#tokens")
}

fn token_json(t: &ApiToken) -> Value {
    json!({
        "id": t.id, "name": t.name, "role": t.role.as_str(), "created_at": t.created_at.to_rfc3339(),
        "last_used_at": t.last_used_at.map(|t| t.to_rfc3339()),
    })
}

fn check_name(raw: Option<&str>, lang: Lang) -> Result<String, ApiError> {
    let name = raw.map(str::trim).unwrap_or("");
    if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME {
        return Err(ApiError::invalid(msg(
            lang,
            format!("Le nom d'un jeton a de 1 à {MAX_TOKEN_NAME} caractères."),
            format!("a token name has 1 to {MAX_TOKEN_NAME} characters"),
        )));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(ApiError::invalid(lang.t(
            "Le nom d'un jeton ne peut contenir que des lettres, des chiffres, «\u{a0}-\u{a0}», «\u{a0}_\u{a0}» et «\u{a0}.\u{a0}».",
            "a token name may only hold letters, digits, '-', '_' and '.'",
        )));
    }
    Ok(name.to_string())
}

#[derive(Debug, Deserialize, Serialize, Default)]
pub struct TokenInput {
    name: Option<String>,
    role: Option<String>,
}

/// Creates the token; returns it with its secret value (the only time it exists outside the caller).
async fn add(state: &AppState, actor: &Actor, input: &TokenInput, lang: Lang) -> Result<(ApiToken, String), ApiError> {
    let pid = actor.project_id()?;
    let name = check_name(input.name.as_deref(), lang).map_err(|e| e.for_field("name"))?;
    // As on the command line, a token is an agent unless told otherwise.
    let role =
        parse_role(Some(input.role.as_deref().map(str::trim).filter(|r| !r.is_empty()).unwrap_or("agent")), lang)
            .map_err(|e| e.for_field("role"))?;
    let mine = actor.role.ok_or_else(|| ApiError::forbidden("no role in this project"))?;
    if role > mine {
        return Err(ApiError::forbidden(msg(
            lang,
            format!("Le rôle d'un jeton ne peut pas dépasser le vôtre ({mine})."),
            format!("a token's role cannot be above yours ({mine})"),
        ))
        .for_field("role"));
    }
    let token = new_token().map_err(|e| ApiError::internal(&e))?;
    let added = state.store.add_token(pid, &name, &hash_token(&token), role, Utc::now()).await.map_err(|e| {
        taken(e, lang, format!("Ce projet a déjà un jeton nommé «\u{a0}{name}\u{a0}».")).for_field("name")
    })?;
    audit_change(state, actor, Some(pid), "token.add", format!("created token {name} ({role})")).await?;
    Ok((added, token))
}

async fn revoke(state: &AppState, actor: &Actor, name: &str, lang: Lang) -> Result<(), ApiError> {
    let pid = actor.project_id()?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            lang.t("Indiquez le nom du jeton à révoquer.", "give the name of the token to revoke"),
        ));
    }
    if !state.store.remove_token(pid, name).await? {
        return Err(ApiError::not_found(msg(
            lang,
            format!("Aucun jeton nommé {name:?} dans ce projet."),
            format!("no token named {name:?} in this project"),
        )));
    }
    audit_change(state, actor, Some(pid), "token.remove", format!("revoked token {name}")).await
}

async fn list_api(State(state): State<AppState>, Extension(actor): Extension<Actor>) -> Result<Json<Value>, ApiError> {
    let list = state.store.list_tokens(actor.project_id()?).await?;
    Ok(Json(json!({"items": list.iter().map(token_json).collect::<Vec<_>>(), "next_cursor": null})))
}

async fn add_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: TokenInput = json_body(&body)?;
    let (t, token) = add(&state, &actor, &input, Lang::En).await?;
    let mut v = token_json(&t);
    v["token"] = json!(token);
    Ok(created(v))
}

async fn delete_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, name)): Path<(i64, String)>,
) -> Result<Json<Value>, ApiError> {
    revoke(&state, &actor, &name, Lang::En).await?;
    Ok(Json(json!({"removed": name})))
}

async fn add_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Form(f): Form<TokenInput>,
) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    match add(&state, &actor, &f, lang).await {
        Err(e) => refused(&state, &actor, Echo::of("token-add", e, &f)).await,
        Ok((t, token)) => {
            let what = html! {
                p { (lang.t("Jeton ", "Token ")) strong { (t.name) } " (" (role_label(lang, t.role)) ") "
                    (lang.t("créé. Envoyez-le dans l'en-tête ", "created. Send it in the header ")) code { "Authorization: Bearer …" } "." }
            };
            secret_page(&state, &actor, lang.t("Nouveau jeton d'API", "New API token"), what, &token, &back(pid)).await
        }
    }
}

#[derive(Debug, Deserialize, Serialize, Default)]
pub struct RevokeForm {
    name: Option<String>,
}

async fn revoke_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Form(f): Form<RevokeForm>,
) -> PageResult {
    let pid = actor.project_id()?;
    let result = revoke(&state, &actor, f.name.as_deref().unwrap_or(""), actor.lang).await;
    form_done(&state, &actor, result, &back(pid), "token-revoke", &f).await
}

pub(super) async fn section(state: &AppState, actor: &Actor, echo: Option<&Echo>) -> Result<Markup, ApiError> {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let list = state.store.list_tokens(pid).await?;
    let mine = actor.role.unwrap_or(Role::Viewer);
    let fe = Echo::on(echo, "token-add");
    Ok(html! {
        section.card #tokens {
            h2 { (lang.t("Jetons d'API", "API tokens")) }
            @if list.is_empty() {
                p.muted { (lang.t("Aucun jeton.", "No token.")) }
            } @else {
                div.table-wrap { table {
                    thead { tr {
                        th { (lang.t("Nom", "Name")) }
                        th { (lang.t("Rôle", "Role")) }
                        th { (lang.t("Créé le", "Created")) }
                        th { (lang.t("Dernier usage", "Last used")) }
                        th { span.visually-hidden { (lang.t("Actions", "Actions")) } }
                    } }
                    tbody {
                        @for t in &list {
                            tr {
                                td { (t.name) }
                                td { (role_label(lang, t.role)) }
                                td { (lang.datetime(t.created_at)) }
                                td { @if let Some(at) = t.last_used_at { (lang.datetime(at)) } @else { span.muted { (lang.t("jamais", "never")) } } }
                                td {
                                    form.inline method="post" action={ "/p/" (pid) "/settings/tokens/revoke" }
                                        data-confirm=(lang.t("Révoquer ce jeton\u{202f}? Les outils qui l'utilisent perdront l'accès.", "Revoke this token? Tools using it lose access.")) {
                                        (csrf_field(actor))
                                        input type="hidden" name="name" value=(t.name);
                                        button.danger type="submit" { (lang.t("Révoquer", "Revoke")) }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
            details open[fe.refused()] {
                summary { (lang.t("Créer un jeton", "Create a token")) }
                form.stack method="post" action={ "/p/" (pid) "/settings/tokens" } {
                    (csrf_field(actor))
                    (fe.error(lang))
                    label { (lang.t("Nom (lettres, chiffres, - _ .)", "Name (letters, digits, - _ .)"))
                        input type="text" name="name" required maxlength=(MAX_TOKEN_NAME) pattern="[A-Za-z0-9._\\-]+" value=(fe.value("name", ""))
                            aria-invalid=[fe.invalid("name")] aria-describedby=[fe.described("name")]; }
                    label { (lang.t("Rôle", "Role"))
                        select name="role" aria-invalid=[fe.invalid("role")] aria-describedby=[fe.described("role")] {
                            @for r in Role::ALL.into_iter().filter(|r| *r <= mine) {
                                option value=(r.as_str()) selected[fe.chose("role", r.as_str(), r == Role::Agent)] { (role_label(lang, r)) }
                            }
                        }
                    }
                    button type="submit" { (lang.t("Créer", "Create")) }
                }
            }
        }
    })
}
