//! One table of errors for the whole server: each [`ErrorCode`] has an HTTP
//! status and a stable snake_case code. The API answers `{code, message}`;
//! pages answer the same message in an HTML page. Internal errors are logged
//! with their cause and answered with a generic message (no SQL in answers).

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Every error the server can answer, with its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not logged in, or an unknown/revoked token.
    Unauthenticated,
    /// Logged in, but the role does not allow it (or not a member).
    Forbidden,
    /// The form or request lacks a valid anti-CSRF token.
    CsrfFailed,
    NotFound,
    /// The request is malformed or a value is invalid.
    InvalidRequest,
    /// A query (watch, search) does not parse.
    InvalidQuery,
    /// The name is taken, or the state forbids the change.
    Conflict,
    PayloadTooLarge,
    /// Too many failed logins.
    RateLimited,
    /// Something the server needs is not installed (Chromium for PDF).
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::CsrfFailed,
        ErrorCode::NotFound,
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidQuery,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden | ErrorCode::CsrfFailed => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::InvalidRequest | ErrorCode::InvalidQuery => StatusCode::BAD_REQUEST,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::CsrfFailed => "csrf_failed",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

/// An error answer. `html` chooses the page form over JSON.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Extra JSON fields (e.g. the column of a query error).
    pub details: Option<serde_json::Value>,
    /// The message in French, where the code that refused had no reader's
    /// language at hand: pages show it to French readers (the API keeps
    /// `message`).
    pub message_fr: Option<String>,
    /// The form field at fault, where one is: a page showing the form again
    /// marks it (`aria-invalid`). Not part of the JSON answer.
    pub field: Option<&'static str>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), details: None, message_fr: None, field: None }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, what)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// Logs the cause; the answer says only that something failed.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(ErrorCode::Internal, "internal error: the server's log has the details")
    }

    /// The same refusal in French (see [`ApiError::message_fr`]).
    pub fn with_french(mut self, message: impl Into<String>) -> Self {
        self.message_fr = Some(message.into());
        self
    }

    /// Names the form field at fault (see [`ApiError::field`]).
    pub fn for_field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    /// Whether the person can fix it in the form they sent (a value refused,
    /// a name taken, something chosen that is gone): pages then show the
    /// form again with the message and what was typed, not an error page.
    pub fn fixable(&self) -> bool {
        matches!(
            self.code,
            ErrorCode::InvalidRequest
                | ErrorCode::InvalidQuery
                | ErrorCode::Conflict
                | ErrorCode::NotFound
                | ErrorCode::Forbidden
        )
    }

    /// The message for a reader of `lang`.
    pub fn message_in(&self, lang: crate::i18n::Lang) -> &str {
        match (lang, &self.message_fr) {
            (crate::i18n::Lang::Fr, Some(fr)) => fr,
            _ => &self.message,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({"code": self.code.as_str(), "message": self.message});
        if let (Some(serde_json::Value::Object(extra)), serde_json::Value::Object(map)) = (&self.details, &mut body) {
            for (k, v) in extra {
                map.insert(k.clone(), v.clone());
            }
        }
        body
    }
}

impl From<vigie_store::StoreError> for ApiError {
    fn from(e: vigie_store::StoreError) -> Self {
        match e {
            vigie_store::StoreError::NotFound(m) => ApiError::not_found(m),
            vigie_store::StoreError::Conflict(m) => ApiError::conflict(m),
            other if other.is_unavailable() => {
                tracing::warn!(error = %other, "the database cannot be reached");
                ApiError::unavailable("the database cannot be reached right now: try again in a moment")
                    .with_french("la base de données est injoignable pour l'instant : réessayez dans un moment")
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<vigie_pipeline::PipelineError> for ApiError {
    fn from(e: vigie_pipeline::PipelineError) -> Self {
        ApiError::internal(&e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.code.status(), Json(self.body())).into_response();
        if self.code == ErrorCode::Unauthenticated {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_store::StoreError;

    #[test]
    fn a_database_out_of_reach_is_unavailable_not_internal() {
        let code = |e: StoreError| ApiError::from(e).code;
        assert_eq!(code(StoreError::Unreachable("127.0.0.1:5432: connection refused".into())), ErrorCode::Unavailable);
        assert_eq!(code(StoreError::Database(sqlx::Error::PoolTimedOut)), ErrorCode::Unavailable);
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(code(StoreError::Database(sqlx::Error::Io(io))), ErrorCode::Unavailable);
        assert_eq!(ErrorCode::Unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        // A query that is wrong stays an internal error.
        assert_eq!(code(StoreError::Database(sqlx::Error::RowNotFound)), ErrorCode::Internal);
        assert_eq!(code(StoreError::Corrupt("bad row".into())), ErrorCode::Internal);
    }
}
