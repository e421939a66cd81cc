//! The route table. Every route is added through [`Routes::add`], which
//! records its method, path, access level and summary beside the handler:
//! the same record puts the [`authorize`] guard in front of the handler,
//! writes the OpenAPI document (`/api/v1/openapi.json`) and drives the
//! authorization test that tries every route with every role. A route cannot
//! exist without a documented access level.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodFilter, on};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::auth::{Access, Guard, authorize};
use crate::error::ErrorCode;

/// The largest body a route open to anyone reads.
pub const PUBLIC_BODY_BYTES: usize = 64 * 1024;

/// One registered route.
#[derive(Debug, Clone)]
pub struct RouteDoc {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// Part of the REST API (documented in OpenAPI), or an HTML page/form.
    pub api: bool,
}

/// Builds the router and its documentation together.
pub struct Routes {
    state: AppState,
    router: Router<AppState>,
    pub docs: Vec<RouteDoc>,
}

impl Routes {
    pub fn new(state: AppState) -> Self {
        Routes { state, router: Router::new(), docs: Vec::new() }
    }

    /// Adds an API route (JSON answers).
    pub fn api<H, T>(self, method: Method, path: &'static str, access: Access, summary: &'static str, h: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(method, path, access, summary, true, h)
    }

    /// Adds a page or form route (HTML answers).
    pub fn page<H, T>(self, method: Method, path: &'static str, access: Access, summary: &'static str, h: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(method, path, access, summary, false, h)
    }

    fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        summary: &'static str,
        api: bool,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        #[allow(clippy::expect_used)] // only the methods below are ever registered
        let filter = MethodFilter::try_from(method.clone()).expect("a method axum can route");
        let guard = Guard { state: self.state.clone(), access, page: !api };
        let mut route = on(filter, handler);
        if access == Access::Public {
            // Anyone may call these (a login, a first password change):
            // their bodies are a few fields, never the 32 MiB a project's
            // push may send, so a stranger cannot make the server buffer it.
            route = route.layer(DefaultBodyLimit::max(PUBLIC_BODY_BYTES));
        }
        let route = route.route_layer(from_fn_with_state(guard, authorize));
        self.router = self.router.route(path, route);
        self.docs.push(RouteDoc { method, path, access, summary, api });
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteDoc>) {
        (self.router, self.docs)
    }
}

/// The OpenAPI 3.1 document of the API routes.
pub fn openapi(docs: &[RouteDoc]) -> Value {
    let mut paths = Map::new();
    for doc in docs.iter().filter(|d| d.api) {
        let params: Vec<Value> = doc
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                // Ids are integers; `{name}` (tokens) is a string.
                let kind = if name == "name" { "string" } else { "integer" };
                json!({"name": name, "in": "path", "required": true, "schema": {"type": kind}})
            })
            .collect();
        let (security, role) = match doc.access {
            Access::Public => (json!([]), "public"),
            Access::LoggedIn => (json!([{"session": []}]), "any user"),
            Access::Project(r) => (json!([{"session": []}, {"token": []}]), r.as_str()),
            Access::SiteAdmin => (json!([{"session": []}]), "installation admin"),
        };
        let mut op = json!({
            "summary": doc.summary,
            "x-vigie-access": role,
            "security": security,
            "responses": {
                "200": {"description": "success", "content": {"application/json": {}}},
                "default": {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if matches!(doc.method, Method::POST | Method::PUT | Method::PATCH) {
            op["requestBody"] = json!({"content": {"application/json": {}}});
        }
        let entry = paths.entry(doc.path.to_string()).or_insert_with(|| json!({}));
        entry[doc.method.as_str().to_ascii_lowercase()] = op;
    }
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Vigie API",
            "version": "1",
            "description": "Everything the Vigie pages do. Authenticate with a project token \
                (`Authorization: Bearer vigie_…`, made with `vigie token create`) or the session cookie \
                plus the `X-CSRF-Token` header for changes. Lists are paged by cursor: pass the \
                `next_cursor` of an answer as `cursor`. Errors are `{code, message}` with the codes below."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE}
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string", "enum": codes}, "message": {"type": "string"}}
                }
            }
        }
    })
}
