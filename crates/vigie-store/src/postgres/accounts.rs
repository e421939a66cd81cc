//! [`Accounts`] for PostgreSQL: users, memberships, sessions, failed logins
//! and the audit log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Postgres, QueryBuilder, Row};
use vigie_model::{Release, Role};

use super::workflow::release_items;
use super::{PgStore, project_from_row, returned_id};
use crate::accounts::manager_removed_audit;
use crate::codec::{from_ts, is_foreign_key_violation, is_unique_violation, role_from_str, ts};
use crate::{Accounts, AuditEntry, ChangedBy, NewAudit, NewUser, Project, Result, Session, StoreError, User};

const USER_COLUMNS: &str = "u.id, u.username, u.display_name, u.email, u.is_admin, u.lang, u.must_change_password, \
     u.disabled, u.created_at";

/// Usernames compare and sort without case, ASCII letters only (SQLite's
/// NOCASE); `vigie_nocase` is in the migration, with the unique index.
const BY_USERNAME: &str = "vigie_nocase(u.username) COLLATE \"C\"";

fn user_from_row(row: &PgRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        is_admin: row.try_get("is_admin")?,
        lang: row.try_get("lang")?,
        must_change_password: row.try_get("must_change_password")?,
        disabled: row.try_get("disabled")?,
        created_at: from_ts(row.try_get("created_at")?)?,
    })
}

fn audit_from_row(row: &PgRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        user_id: row.try_get("user_id")?,
        at: from_ts(row.try_get("at")?)?,
        action: row.try_get("action")?,
        detail: row.try_get("detail")?,
    })
}

#[async_trait]
impl Accounts for PgStore {
    async fn add_user(&self, user: NewUser, now: DateTime<Utc>) -> Result<User> {
        let result = sqlx::query_scalar(
            "INSERT INTO users (username, display_name, email, password_hash, is_admin, lang, must_change_password, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.is_admin)
        .bind(&user.lang)
        .bind(user.must_change_password)
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await;
        let id = returned_id(result, || format!("the username {:?} is taken", user.username))?;
        Ok(User {
            id,
            username: user.username,
            display_name: user.display_name,
            email: user.email,
            is_admin: user.is_admin,
            lang: user.lang,
            must_change_password: user.must_change_password,
            disabled: false,
            created_at: from_ts(ts(now))?,
        })
    }

    async fn user(&self, id: i64) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<(User, String)>> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE vigie_nocase(u.username) = vigie_nocase($1)"
        );
        let row = sqlx::query(AssertSqlSafe(sql)).bind(username).fetch_optional(&self.pool).await?;
        row.map(|r| Ok((user_from_row(&r)?, r.try_get("password_hash")?))).transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY {BY_USERNAME}");
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
    }

    async fn update_user(&self, user: &User, by: &ChangedBy) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET display_name = $2, email = $3, is_admin = $4, lang = $5, disabled = $6 WHERE id = $1",
        )
        .bind(user.id)
        .bind(&user.display_name)
        .bind(&user.email)
        .bind(user.is_admin)
        .bind(&user.lang)
        .bind(user.disabled)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no user with id {}", user.id)));
        }
        // Someone disabled can no longer act, in any project: as when they
        // leave one, their pending items go back to the queue and the
        // departments they managed wait for a new manager.
        if user.disabled {
            release_items(&mut tx, user.id, None, Release::Disabled, by).await?;
            unmanage(&mut tx, user.id, None, Release::Disabled, by).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_password(&self, user_id: i64, password_hash: &str, must_change: bool) -> Result<()> {
        let done = sqlx::query("UPDATE users SET password_hash = $2, must_change_password = $3 WHERE id = $1")
            .bind(user_id)
            .bind(password_hash)
            .bind(must_change)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no user with id {user_id}")));
        }
        Ok(())
    }

    async fn set_membership(&self, project_id: i64, user_id: i64, role: Option<Role>, by: &ChangedBy) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // Someone who leaves the project, or becomes a reader, can no longer
        // act: their pending items go back to the queue and the departments
        // they managed escalate to nobody until a manager is chosen.
        if role.is_none_or(|r| r < Role::Agent) {
            let why = if role.is_none() { Release::LeftProject } else { Release::Reader };
            release_items(&mut tx, user_id, Some(project_id), why, by).await?;
            unmanage(&mut tx, user_id, Some(project_id), why, by).await?;
        }
        let Some(role) = role else {
            sqlx::query("DELETE FROM memberships WHERE project_id = $1 AND user_id = $2")
                .bind(project_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(());
        };
        let result = sqlx::query(
            "INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(project_id)
        .bind(user_id)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {
                tx.commit().await?;
                Ok(())
            }
            Err(e) if is_foreign_key_violation(&e) => {
                Err(StoreError::NotFound(format!("no project {project_id} or no user {user_id}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn memberships(&self, user_id: i64) -> Result<Vec<(Project, Role)>> {
        let rows = sqlx::query(
            "SELECT p.id, p.name, p.created_at, m.role FROM memberships m JOIN projects p ON p.id = m.project_id \
             WHERE m.user_id = $1 ORDER BY p.name COLLATE \"C\"",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((project_from_row(r)?, role_from_str(&r.try_get::<String, _>("role")?)?))).collect()
    }

    async fn members(&self, project_id: i64) -> Result<Vec<(User, Role)>> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, m.role FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.project_id = $1 ORDER BY {BY_USERNAME}"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((user_from_row(r)?, role_from_str(&r.try_get::<String, _>("role")?)?))).collect()
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(ts(now))
        .bind(ts(expires_at))
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict("a session with this token exists already".to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Session>> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, s.csrf, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled"
        );
        let row = sqlx::query(AssertSqlSafe(sql)).bind(token_hash).bind(ts(now)).fetch_optional(&self.pool).await?;
        row.map(|r| {
            Ok(Session {
                user: user_from_row(&r)?,
                csrf: r.try_get("csrf")?,
                expires_at: from_ts(r.try_get("expires_at")?)?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&self.pool).await?;
        Ok(())
    }

    async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(ts(now)).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    async fn purge_login_failures(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM login_failures WHERE at < $1").bind(ts(before)).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    async fn record_login_failure(&self, key: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(ts(now))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn login_failures(&self, key: &str, since: DateTime<Utc>) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at >= $2")
            .bind(key)
            .bind(ts(since))
            .fetch_one(&self.pool)
            .await?)
    }

    async fn clear_login_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1").bind(key).execute(&self.pool).await?;
        Ok(())
    }

    async fn forget_login_failure(&self, key: &str, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE ctid = (SELECT ctid FROM login_failures WHERE key = $1 AND at = $2 LIMIT 1 FOR UPDATE SKIP LOCKED)").bind(key).bind(ts(at)).execute(&self.pool).await?;
        Ok(())
    }

    async fn audit(&self, entry: NewAudit, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO audit_log (project_id, user_id, at, action, detail) VALUES ($1, $2, $3, $4, $5)")
            .bind(entry.project_id)
            .bind(entry.user_id)
            .bind(ts(now))
            .bind(&entry.action)
            .bind(&entry.detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn audit_log(&self, project_id: Option<i64>, before_id: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new("SELECT id, project_id, user_id, at, action, detail FROM audit_log WHERE TRUE");
        if let Some(project) = project_id {
            qb.push(" AND project_id = ").push_bind(project);
        }
        if let Some(before) = before_id {
            qb.push(" AND id < ").push_bind(before);
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter().map(audit_from_row).collect()
    }
}

/// The departments `user_id` managed (in `project`, or in every project)
/// wait for a new manager; each one's change goes to the audit log, in the
/// same transaction.
async fn unmanage(
    conn: &mut sqlx::PgConnection,
    user_id: i64,
    project: Option<i64>,
    why: Release,
    by: &ChangedBy,
) -> Result<()> {
    let rows = sqlx::query(
        "SELECT d.id, d.project_id, d.name, u.username FROM departments d JOIN users u ON u.id = d.manager_id \
         WHERE d.manager_id = $1 AND ($2::BIGINT IS NULL OR d.project_id = $2) ORDER BY d.id FOR UPDATE OF d",
    )
    .bind(user_id)
    .bind(project)
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let (id, project_id): (i64, i64) = (row.try_get("id")?, row.try_get("project_id")?);
        sqlx::query("UPDATE departments SET manager_id = NULL WHERE id = $1").bind(id).execute(&mut *conn).await?;
        let detail = manager_removed_audit(id, row.try_get("name")?, row.try_get("username")?, why, by);
        sqlx::query(
            "INSERT INTO audit_log (project_id, user_id, at, action, detail) \
             VALUES ($1, $2, $3, 'department.update', $4)",
        )
        .bind(project_id)
        .bind(by.user_id)
        .bind(ts(by.at))
        .bind(detail)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
