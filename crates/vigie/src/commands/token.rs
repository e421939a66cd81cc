//! `vigie token …`: tokens of the push API.

use std::io::Write;

use chrono::Utc;
use serde_json::json;
use vigie_model::Role;
use vigie_store::StoreError;

use crate::app::{App, usage};
use crate::cli::TokenCommand;
use crate::commands::user::audit;
use crate::output::{Table, time_cell as time};

pub async fn run(app: &App, command: TokenCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let project = app.project.id;
    match command {
        TokenCommand::Create { name, role } => {
            let name = name.trim();
            if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
                return usage("a token name is 1 to 100 printable characters (say who uses it: `zapier-facebook`)");
            }
            let role = match role.parse::<Role>() {
                Ok(role) => role,
                Err(e) => return usage(e),
            };
            let token = vigie_web::new_token().map_err(anyhow::Error::msg)?;
            match app.store.add_token(project, name, &vigie_web::hash_token(&token), role, Utc::now()).await {
                Err(StoreError::Conflict(msg)) => return usage(msg),
                other => other?,
            };
            audit(app, Some(project), "token.add", format!("created token {name} ({role})")).await?;
            writeln!(out, "{token}")?;
            writeln!(
                out,
                "token {name:?} ({role}) created for project {:?} (id {project}); it is shown only now. Use it as \
                 `Authorization: Bearer <token>` on POST /api/v1/ingest and /api/v1/projects/{project}/… \
                 (`vigie serve`).",
                app.project.name
            )?;
        }
        TokenCommand::List { output } => {
            let mut table = Table::new(vec!["name", "role", "created", "last_used"]);
            for t in app.store.list_tokens(project).await? {
                table.push(vec![json!(t.name), json!(t.role.as_str()), time(Some(t.created_at)), time(t.last_used_at)]);
            }
            table.write(out, output.format)?;
        }
        TokenCommand::Revoke { name } => {
            if !app.store.remove_token(project, name.trim()).await? {
                return usage(format!("no token named {name:?} in project {:?}", app.project.name));
            }
            audit(app, Some(project), "token.remove", format!("revoked token {}", name.trim())).await?;
            writeln!(out, "token {name:?} revoked")?;
        }
    }
    Ok(())
}
