//! People and their access: users, project memberships with a role, login
//! sessions, failed-login counters and the audit log.
//!
//! Everything the web server needs to remember about a visitor lives here,
//! in the database, so any number of `vigie serve` processes can answer the
//! same person (no state in the server). Secrets are never stored in clear:
//! passwords as argon2 hashes (made by the caller), session tokens as their
//! SHA-256.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vigie_model::Role;

use crate::{ChangedBy, Project, Result};

/// A person who can log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    /// Unique, compared without case.
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    /// Administers the installation: every project, every user.
    pub is_admin: bool,
    /// Interface language: `fr` or `en`.
    pub lang: String,
    /// Set for one-time passwords: the next login asks for a new one.
    pub must_change_password: bool,
    /// A disabled user cannot log in; their history stays.
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    /// The argon2 PHC string.
    pub password_hash: String,
    pub is_admin: bool,
    pub lang: String,
    pub must_change_password: bool,
}

/// A logged-in session, found by the SHA-256 of its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    /// The anti-CSRF token every form of this session carries.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// One line of the audit log: who changed what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    /// `None`: an installation-wide change (users).
    pub project_id: Option<i64>,
    /// `None`: the system or an API token (named in `detail`).
    pub user_id: Option<i64>,
    pub at: DateTime<Utc>,
    /// What was done, as `resource.verb` (`watch.update`, `user.add`…).
    pub action: String,
    /// A readable account of the change (old and new values).
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct NewAudit {
    pub project_id: Option<i64>,
    pub user_id: Option<i64>,
    pub action: String,
    pub detail: String,
}

/// The audit line of a department that lost its manager because the person
/// left the project, became a viewer or was disabled.
pub(crate) fn manager_removed_audit(
    department_id: i64,
    department: &str,
    username: &str,
    why: vigie_model::Release,
    by: &ChangedBy,
) -> String {
    let why = match why {
        vigie_model::Release::LeftProject => "left the project",
        vigie_model::Release::Reader => "became a viewer",
        vigie_model::Release::Disabled => "was disabled",
    };
    // Marked as the other audit lines are: by a token, or on the command
    // line (a change nobody signed).
    let token = match (&by.token, by.user_id) {
        (Some(t), _) => format!(" (by token {t})"),
        (None, None) => " (command line)".to_string(),
        (None, Some(_)) => String::new(),
    };
    format!(
        "department #{department_id} {department}: no manager since {username} {why}; \
         its overdue items go to the project's managers until one is chosen{token}"
    )
}

/// Users, memberships, sessions, login throttling and audit.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Fails with [`crate::StoreError::Conflict`] if the username is taken (any case).
    async fn add_user(&self, user: NewUser, now: DateTime<Utc>) -> Result<User>;
    async fn user(&self, id: i64) -> Result<Option<User>>;
    /// The user and their password hash, by username (any case).
    async fn user_by_name(&self, username: &str) -> Result<Option<(User, String)>>;
    async fn list_users(&self) -> Result<Vec<User>>;
    async fn user_count(&self) -> Result<i64>;
    /// Saves display name, e-mail, admin flag, language and disabled flag.
    /// Disabling releases the person's pending items in every project (each
    /// with a `released` event) and the departments they managed.
    async fn update_user(&self, user: &User, by: &ChangedBy) -> Result<()>;
    async fn set_password(&self, user_id: i64, password_hash: &str, must_change: bool) -> Result<()>;

    /// Gives the user this role in the project, or removes them with `None`.
    /// Below agent (or removed), their pending items there are released
    /// (each with a `released` event), as are the departments they managed.
    async fn set_membership(&self, project_id: i64, user_id: i64, role: Option<Role>, by: &ChangedBy) -> Result<()>;
    /// The projects the user is a member of, with their role, by project name.
    async fn memberships(&self, user_id: i64) -> Result<Vec<(Project, Role)>>;
    /// The project's members with their role, by username.
    async fn members(&self, project_id: i64) -> Result<Vec<(User, Role)>>;

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// The session if it exists, has not expired at `now` and its user is not
    /// disabled.
    async fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Session>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Logs the user out everywhere (password change, disabling).
    async fn delete_user_sessions(&self, user_id: i64) -> Result<()>;
    /// Removes sessions expired at `now`; returns how many.
    async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64>;
    /// Forgets failed logins older than `before` (they no longer throttle
    /// anyone); returns how many.
    async fn purge_login_failures(&self, before: DateTime<Utc>) -> Result<u64>;

    /// Counts a failed login under `key` (a username or a client address).
    async fn record_login_failure(&self, key: &str, now: DateTime<Utc>) -> Result<()>;
    /// Failed logins under `key` at or after `since`.
    async fn login_failures(&self, key: &str, since: DateTime<Utc>) -> Result<i64>;
    async fn clear_login_failures(&self, key: &str) -> Result<()>;
    /// Takes back one failure recorded for `key` at `at` (an attempt counted
    /// before its password was checked turned out right).
    async fn forget_login_failure(&self, key: &str, at: DateTime<Utc>) -> Result<()>;

    async fn audit(&self, entry: NewAudit, now: DateTime<Utc>) -> Result<()>;
    /// Entries of one project (or with `None` the installation-wide ones and
    /// every project's), newest first, with an id below `before_id`.
    async fn audit_log(&self, project_id: Option<i64>, before_id: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>>;
}
