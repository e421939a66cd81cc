//! `vigie user …`: the people who can log in to the web app.

use std::io::Write;

use chrono::Utc;
use serde_json::json;
use vigie_model::Role;
use vigie_store::{ChangedBy, NewAudit, NewUser, StoreError, User};

use crate::app::{App, usage};
use crate::cli::UserCommand;
use crate::output::{Table, time_cell as time};

fn hash(password: &str) -> anyhow::Result<String> {
    vigie_web::auth::hash_password(password).map_err(|e| anyhow::anyhow!(e.message))
}

/// A role is given in a project: with several projects and no `--project`,
/// which one must be said (`App::open` gave a placeholder, id 0).
async fn project_for_roles(app: &App) -> anyhow::Result<()> {
    if app.project.id != 0 {
        return Ok(());
    }
    let names: Vec<String> = app.store.list_projects().await?.into_iter().map(|p| p.name).collect();
    usage(format!("a role is given in a project: say which with --project (projects: {})", names.join(", ")))
}

async fn find(app: &App, username: &str) -> anyhow::Result<User> {
    match app.store.user_by_name(username.trim()).await? {
        Some((user, _)) => Ok(user),
        None => usage(format!("no user named {:?} (`vigie user list` shows them)", username.trim())),
    }
}

/// Writes a change made on the command line to the audit log.
pub(crate) async fn audit(app: &App, project: Option<i64>, action: &str, detail: String) -> anyhow::Result<()> {
    let entry = NewAudit {
        project_id: project,
        user_id: None,
        action: action.into(),
        detail: format!("{detail} (command line)"),
    };
    app.store.audit(entry, Utc::now()).await?;
    Ok(())
}

pub async fn run(app: &App, command: UserCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { username, name, email, admin, lang, role } => {
            let username = username.trim();
            if username.is_empty()
                || username.chars().count() > 64
                || !username.chars().all(|c| c.is_alphanumeric() || "._-@".contains(c))
            {
                return usage("a username is 1 to 64 letters, digits, `.`, `_`, `-` or `@`");
            }
            let Some(lang) = vigie_web::i18n::Lang::parse(&lang) else {
                return usage(format!("--lang {lang:?}: expected fr or en"));
            };
            let role = match role.as_deref().map(str::parse::<Role>) {
                Some(Err(e)) => return usage(e),
                Some(Ok(r)) => Some(r),
                None => None,
            };
            if role.is_some() {
                project_for_roles(app).await?;
            }
            let email = email.map(|e| e.trim().to_string()).filter(|e| !e.is_empty());
            if email.as_ref().is_some_and(|e| e.matches('@').count() != 1) {
                return usage("--email must be one address with one @");
            }
            let password = vigie_web::auth::one_time_password();
            let new = NewUser {
                username: username.to_string(),
                display_name: name
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| username.to_string()),
                email,
                password_hash: hash(&password)?,
                is_admin: admin,
                lang: lang.code().into(),
                must_change_password: true,
            };
            let user = match app.store.add_user(new, Utc::now()).await {
                Err(StoreError::Conflict(msg)) => return usage(msg),
                other => other?,
            };
            audit(
                app,
                None,
                "user.add",
                format!("user {username} added{}", if admin { " as administrator" } else { "" }),
            )
            .await?;
            if let Some(role) = role {
                // Checked before the account is added (see `project_for_roles`).
                app.store.set_membership(app.project.id, user.id, Some(role), &ChangedBy::unsigned(Utc::now())).await?;
                audit(app, Some(app.project.id), "member.set", format!("{username} is {role}")).await?;
            }
            writeln!(out, "user {username:?} added; one-time password: {password}")?;
            writeln!(out, "(they choose their own at the first login)")?;
            if let Some(role) = role {
                writeln!(out, "{role} of project {:?}", app.project.name)?;
            }
        }
        UserCommand::List { output } => {
            let mut table = Table::new(vec!["username", "name", "email", "admin", "lang", "status", "created"]);
            for u in app.store.list_users().await? {
                table.push(vec![
                    json!(u.username),
                    json!(u.display_name),
                    json!(u.email),
                    json!(u.is_admin),
                    json!(u.lang),
                    json!(if u.disabled {
                        "disabled"
                    } else if u.must_change_password {
                        "one-time password"
                    } else {
                        "active"
                    }),
                    time(Some(u.created_at)),
                ]);
            }
            table.write(out, output.format)?;
        }
        UserCommand::Role { username, role } => {
            project_for_roles(app).await?;
            let user = find(app, &username).await?;
            let role = match role.trim() {
                "none" => None,
                other => match other.parse::<Role>() {
                    Ok(r) => Some(r),
                    Err(e) => return usage(format!("{e}, or none")),
                },
            };
            app.store.set_membership(app.project.id, user.id, role, &ChangedBy::unsigned(Utc::now())).await?;
            let what = role.map(|r| r.to_string()).unwrap_or_else(|| "no longer a member".into());
            audit(app, Some(app.project.id), "member.set", format!("{} is {what}", user.username)).await?;
            writeln!(out, "{}: {what} of project {:?}", user.username, app.project.name)?;
        }
        UserCommand::ResetPassword { username } => {
            let user = find(app, &username).await?;
            let password = vigie_web::auth::one_time_password();
            app.store.set_password(user.id, &hash(&password)?, true).await?;
            app.store.delete_user_sessions(user.id).await?;
            audit(app, None, "user.reset_password", format!("password of {} reset", user.username)).await?;
            writeln!(out, "new one-time password for {:?}: {password}", user.username)?;
        }
        UserCommand::Disable { username } => {
            let mut user = find(app, &username).await?;
            user.disabled = true;
            app.store.update_user(&user, &ChangedBy::unsigned(Utc::now())).await?;
            app.store.delete_user_sessions(user.id).await?;
            audit(app, None, "user.disable", format!("{} disabled", user.username)).await?;
            writeln!(out, "{} can no longer log in", user.username)?;
        }
        UserCommand::Enable { username } => {
            let mut user = find(app, &username).await?;
            user.disabled = false;
            app.store.update_user(&user, &ChangedBy::unsigned(Utc::now())).await?;
            audit(app, None, "user.enable", format!("{} enabled", user.username)).await?;
            writeln!(out, "{} can log in again", user.username)?;
        }
    }
    Ok(())
}
