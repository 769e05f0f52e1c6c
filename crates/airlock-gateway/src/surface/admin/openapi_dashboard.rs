//! The OpenAPI description of what the dashboard reads and signs in with:
//! its session, its users, the aggregates and the request log.

use serde_json::{Value, json};

use super::openapi::error_response;

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn session_schema() -> Value {
    json!({"type": "object", "required": ["user", "role", "csrf_token", "expires_at_ms"], "properties": {
        "user": {"type": "string", "description": "The admin user, or `master key`"},
        "role": {"enum": ["viewer", "operator", "admin"]},
        "csrf_token": {"type": "string", "description": "Sent back in x-csrf-token with every change made with the session's cookie"},
        "expires_at_ms": {"type": "integer"}
    }})
}

fn admin_user_schema() -> Value {
    json!({"type": "object", "required": ["username", "role", "created_at_ms"], "properties": {
        "username": {"type": "string"},
        "role": {"enum": ["viewer", "operator", "admin"]},
        "created_at_ms": {"type": "integer"}
    }})
}

fn counts() -> serde_json::Map<String, Value> {
    let value = json!({
        "requests": {"type": "integer"}, "errors": {"type": "integer"},
        "tokens_in": {"type": "integer"}, "tokens_out": {"type": "integer"},
        "cost_usd": {"type": "number"}
    });
    value.as_object().cloned().unwrap_or_default()
}

fn with(mut base: serde_json::Map<String, Value>, extra: Value) -> Value {
    if let Some(extra) = extra.as_object() {
        base.extend(extra.clone());
    }
    json!({"type": "object", "properties": base})
}

fn percentiles() -> Value {
    let ms = json!({"type": ["number", "null"], "description": "Milliseconds, estimated from fixed buckets; null with no request"});
    json!({"latency_p50_ms": ms, "latency_p95_ms": ms, "latency_p99_ms": ms, "ttft_p50_ms": ms, "ttft_p95_ms": ms})
}

fn project_param() -> Value {
    json!({"name": "project", "in": "query", "schema": {"type": "string"}, "description": "Only this project (by name)"})
}

/// `/admin/v1/session`.
pub fn session_path() -> Value {
    json!({
        "get": {
            "summary": "The dashboard session the request's cookie names",
            "responses": {"200": ok("The session", session_schema())}
        },
        "post": {
            "summary": "Sign in to the dashboard: an admin user's name and password, or the master key (admin token) alone; sets the session cookie (HttpOnly, SameSite=Strict)",
            "security": [],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["password"], "additionalProperties": false, "properties": {
                    "username": {"type": "string", "description": "Absent: the password is the master key"},
                    "password": {"type": "string"}
                }
            }}}},
            "responses": {
                "200": ok("Signed in", session_schema()),
                "400": error_response("A malformed body"),
                "429": error_response("Too many failed sign-ins from this address or for this name (10 a minute)")
            }
        },
        "delete": {
            "summary": "Sign out (with the session's x-csrf-token); 401 without a session",
            "responses": {"204": {"description": "Signed out"}}
        }
    })
}

/// `/admin/v1/admins`.
pub fn admins_path() -> Value {
    json!({
        "get": {
            "summary": "The dashboard's users (admins only)",
            "responses": {"200": ok("Users", json!({"type": "object", "properties": {"data": {"type": "array", "items": admin_user_schema()}}}))}
        },
        "post": {
            "summary": "Add a dashboard user (admins only)",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["username", "password", "role"], "additionalProperties": false, "properties": {
                    "username": {"type": "string", "pattern": "^[A-Za-z0-9._@-]{1,64}$"},
                    "password": {"type": "string", "minLength": 12, "maxLength": 1024},
                    "role": {"enum": ["viewer", "operator", "admin"]}
                }
            }}}},
            "responses": {
                "201": ok("Added", admin_user_schema()),
                "400": error_response("A malformed body, name or password"),
                "409": error_response("The name is taken")
            }
        }
    })
}

/// `/admin/v1/admins/{username}`.
pub fn admin_path() -> Value {
    json!({
        "parameters": [{"name": "username", "in": "path", "required": true, "schema": {"type": "string"}}],
        "delete": {
            "summary": "Remove a dashboard user, signing it out (admins only)",
            "responses": {"204": {"description": "Removed"}, "404": error_response("No such user")}
        }
    })
}

/// `/admin/v1/stats/overview`.
pub fn overview_path() -> Value {
    let mut point = counts();
    point.insert(
        "t".into(),
        json!({"type": "integer", "description": "The bucket's start"}),
    );
    json!({
        "get": {
            "summary": "Requests, errors, latency and time-to-first-token percentiles, tokens and spend over a window, by project, model and provider, and what is in flight now (from the request log's rollups)",
            "parameters": [
                {"name": "window", "in": "query", "schema": {"enum": ["1h", "24h", "30d"]}, "description": "1h by minute, 24h by quarter hour, 30d by day (default 1h)"},
                project_param()
            ],
            "responses": {
                "200": ok("The overview", json!({"type": "object", "properties": {
                    "window": {"type": "string"}, "step_ms": {"type": "integer"},
                    "since_ms": {"type": "integer"}, "until_ms": {"type": "integer"},
                    "series": {"type": "array", "items": with(point, percentiles())},
                    "totals": with(counts(), percentiles()),
                    "by_project": {"type": "array", "items": with(counts(), json!({"project_id": {"type": ["string", "null"]}, "project": {"type": ["string", "null"]}}))},
                    "by_model": {"type": "array", "items": with(counts(), json!({"model": {"type": ["string", "null"]}}))},
                    "by_provider": {"type": "array", "items": with(counts(), {
                        let mut provider = percentiles();
                        provider["provider"] = json!({"type": ["string", "null"]});
                        provider
                    })},
                    "live": {"type": "object", "properties": {"in_flight": {"type": "integer"}, "realtime_sessions": {"type": "integer"}}}
                }})),
                "400": error_response("An unknown window or parameter"),
                "404": error_response("No such project")
            }
        }
    })
}

/// `/admin/v1/stats/spend`.
pub fn spend_path() -> Value {
    json!({
        "get": {
            "summary": "Spend by project, key, model or end user over a window; budgets and how much of their period is spent; budget alerts sent since this instance started",
            "parameters": [
                {"name": "window", "in": "query", "schema": {"enum": ["24h", "7d", "30d"]}, "description": "Default 7d"},
                {"name": "by", "in": "query", "schema": {"enum": ["project", "key", "model", "user"]}, "description": "Default project; user lists the 100 who spent most"},
                project_param()
            ],
            "responses": {
                "200": ok("Spend", json!({"type": "object", "properties": {
                    "window": {"type": "string"}, "by": {"type": "string"},
                    "data": {"type": "array", "items": {"type": "object", "properties": {
                        "group": {"type": ["string", "null"]}, "label": {"type": ["string", "null"]},
                        "requests": {"type": "integer"}, "tokens_in": {"type": "integer"},
                        "tokens_out": {"type": "integer"}, "cost_usd": {"type": "number"}
                    }}},
                    "total_cost_usd": {"type": "number"},
                    "budgets": {"type": "array", "items": {"type": "object", "properties": {
                        "scope": {"enum": ["project", "key"]}, "project": {"type": ["string", "null"]},
                        "key_id": {"type": ["string", "null"]}, "name": {"type": "string"},
                        "usd": {"type": "number"}, "period": {"enum": ["day", "month"]},
                        "spent_usd": {"type": "number"}
                    }}},
                    "alerts": {"type": "array", "items": {"type": "object"}}
                }})),
                "400": error_response("An unknown window, grouping or parameter"),
                "404": error_response("No such project")
            }
        }
    })
}

fn record_schema() -> Value {
    json!({"type": "object", "required": ["id", "started_at_ms", "status"], "properties": {
        "id": {"type": "string"}, "started_at_ms": {"type": "integer"}, "status": {"type": "integer"},
        "project": {"type": ["string", "null"], "description": "The project's name"}
    }})
}

/// `/admin/v1/requests`.
pub fn requests_path() -> Value {
    let int = json!({"type": "integer", "minimum": -9_223_372_036_854_775_808i64, "maximum": 9_223_372_036_854_775_807i64});
    json!({
        "get": {
            "summary": "The request log, newest first, a page at a time (no content)",
            "parameters": [
                {"name": "since_ms", "in": "query", "schema": int},
                {"name": "until_ms", "in": "query", "schema": int},
                project_param(),
                {"name": "key", "in": "query", "schema": {"type": "string"}, "description": "A key's id"},
                {"name": "model", "in": "query", "schema": {"type": "string"}, "description": "The model the client named"},
                {"name": "status", "in": "query", "schema": {"type": "string", "pattern": "^(ok|error|[1-5][0-9][0-9])$"}, "description": "A status code, ok (below 400) or error (400 or more)"},
                {"name": "user", "in": "query", "schema": {"type": "string"}, "description": "An end user"},
                {"name": "before", "in": "query", "schema": {"type": "string"}, "description": "The last id of the previous page"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}
            ],
            "responses": {
                "200": ok("Records", json!({"type": "object", "properties": {
                    "data": {"type": "array", "items": record_schema()},
                    "next_before": {"type": ["string", "null"]}
                }})),
                "400": error_response("A malformed filter"),
                "404": error_response("No such project, or no request named by before")
            }
        }
    })
}

/// `/admin/v1/requests/{id}`.
pub fn request_path() -> Value {
    json!({
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "get": {
            "summary": "One request's record, and whether its content was logged",
            "responses": {
                "200": ok("The record", json!({"type": "object", "required": ["record", "content_logged"], "properties": {
                    "record": record_schema(), "content_logged": {"type": "boolean"}
                }})),
                "404": error_response("No such request")
            }
        }
    })
}
