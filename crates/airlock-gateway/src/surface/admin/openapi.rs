//! The admin API's OpenAPI 3.1 description, served at
//! `/admin/v1/openapi.json` (no token needed: it holds no data).

use axum::Json;
use serde_json::{Value, json};

use super::openapi_dashboard as dashboard_api;
use crate::tenancy::manage::OPERATIONS;

pub(super) fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// A project's settings, added to `extra` (the fields of the request itself).
fn settings_properties(mut extra: Value) -> Value {
    let limits = json!({"$ref": "#/components/schemas/Limits"});
    let rates = json!({"$ref": "#/components/schemas/RateLimits"});
    let settings = json!({
        "limits": limits,
        "end_user_limits": rates,
        "ip_limits": rates,
        "allowed_origins": {"type": "array", "items": {"type": "string", "pattern": "^https?://(\\*\\.)?[A-Za-z0-9.-]+(:[0-9]+)?$"}, "description": "https://app.example.com or https://*.example.com"},
        "queue": nullable(json!({"type": "object", "required": ["max_in_flight"], "additionalProperties": false, "properties": {
            "max_in_flight": {"type": "integer", "minimum": 1, "maximum": U32_MAX},
            "max_waiting": {"type": "integer", "minimum": 0, "maximum": U32_MAX},
            "timeout_secs": {"type": "integer", "minimum": 1, "maximum": U64_MAX}
        }})),
        "conversations": nullable(history_policy_schema("Bounds of stored conversations (Responses and Conversations APIs)")),
        "media_answers": nullable(json!({"enum": ["inline", "url"], "description": "How answers carry generated images and audio unless a request says otherwise (x-airlock-media): inline, or stored and given as signed URLs; unset: the gateway's default"})),
        "cache": nullable(json!({"type": "object", "additionalProperties": false, "description": "The response cache for the project's requests (unless one says x-airlock-cache: bypass); unset: only requests that ask, and cached routes, use it", "properties": {
            "enabled": {"type": "boolean", "description": "On for the project's requests (default true when the setting is given)"},
            "ttl_secs": nullable(json!({"type": "integer", "minimum": 1, "maximum": 2_592_000, "description": "How long answers are kept; unset: the gateway's default"})),
            "random": {"type": "boolean", "description": "Also keep answers sampled at random (temperature above 0 and no seed)"}
        }})),
        "files": nullable(json!({"type": "object", "additionalProperties": false, "description": "What the project may upload through the Files APIs; unset: the gateway's [files] settings", "properties": {
            "max_bytes": nullable(json!({"type": "integer", "minimum": 1, "maximum": U64_MAX, "description": "The largest file, in bytes"})),
            "accepted_types": nullable(json!({"type": "array", "items": {"type": "string", "pattern": "^(\\*/\\*|[A-Za-z0-9!#$&^_.+-]+/(\\*|[A-Za-z0-9!#$&^_.+-]+))$"}, "description": "MIME types (application/pdf) and patterns (image/*, */*) checked against each file's sniffed type; executables, archives and unknown bytes only by their exact type"})),
            "redact_pii": {"type": "boolean", "description": "Email addresses, phone numbers and card numbers redacted from documents' extracted text"}
        }})),
        "log_content": {"type": "boolean", "description": "Log each request's body and answer, redacted, beside its record (GET /admin/v1/requests/{id}/content)"},
        "verbatim_transcripts": {"type": "boolean", "description": "Keep realtime transcripts as spoken; by default emails, phone numbers, card numbers and the operator's patterns are redacted from them before they are written"},
        "retention": nullable(retention_schema()),
        "archive": nullable(archive_schema()),
        "constitution": nullable(constitution_schema())
    });
    if let (Some(extra), Value::Object(settings)) = (extra.as_object_mut(), settings) {
        extra.extend(settings);
    }
    extra
}

/// `schema`, or `null` (an optional field the server reads as absent).
fn nullable(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

/// A `conversations` history policy.
fn history_policy_schema(description: &str) -> Value {
    json!({"type": "object", "additionalProperties": false, "description": description, "properties": {
        "max_items": {"type": ["integer", "null"], "minimum": 1, "maximum": U32_MAX},
        "max_input_tokens": {"type": ["integer", "null"], "minimum": 1, "maximum": U64_MAX},
        "idle_ttl_secs": {"type": ["integer", "null"], "minimum": 1, "maximum": U64_MAX},
        "max_age_secs": {"type": ["integer", "null"], "minimum": 1, "maximum": U64_MAX}
    }})
}

/// The largest values of the integer fields, as the server reads them.
const U32_MAX: u32 = u32::MAX;
const U64_MAX: u64 = u64::MAX;

/// Every operation but this document's own is behind the admin token.
fn with_token_refusals(mut document: Value) -> Value {
    let paths = document["paths"].as_object_mut().into_iter().flatten();
    for (_, path) in paths {
        let operations = path.as_object_mut().into_iter().flatten();
        for (_, operation) in operations.filter(|(name, _)| *name != "parameters") {
            if let Some(responses) = operation["responses"].as_object_mut() {
                responses.insert(
                    "401".into(),
                    error_response("No admin token, or a wrong one"),
                );
                responses.insert(
                    "403".into(),
                    error_response("The admin API is disabled (no admin token is set)"),
                );
            }
        }
    }
    document
}

pub async fn document() -> Json<Value> {
    Json(with_token_refusals(description()))
}

fn description() -> Value {
    let limits = json!({"$ref": "#/components/schemas/Limits"});
    let name_param =
        json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string"}});
    let mut description = json!({
        "openapi": "3.1.0",
        "info": {"title": "Airlock admin API", "version": env!("CARGO_PKG_VERSION")},
        "security": [{"bearer": []}],
        "paths": {
            "/admin/v1/projects": {
                "get": {"summary": "List projects", "responses": {"200": {"description": "Projects", "content": {"application/json": {"schema": {"type": "object", "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Project"}}}}}}}}},
                "post": {
                    "summary": "Create a project",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": settings_properties(json!({"name": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}}))}}}},
                    "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Project"}}}}, "400": error_response("Invalid request"), "409": error_response("Name taken")}
                }
            },
            "/admin/v1/projects/{name}": {
                "parameters": [name_param],
                "get": {"summary": "Get a project", "responses": {"200": {"description": "The project", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Project"}}}}, "404": error_response("No such project")}},
                "patch": {
                    "summary": "Replace a project's settings (omitted ones are reset)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": settings_properties(json!({}))}}}},
                    "responses": {"200": {"description": "Updated", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Project"}}}}, "400": error_response("Invalid request"), "404": error_response("No such project")}
                }
            },
            "/admin/v1/projects/{name}/keys": {
                "parameters": [name_param],
                "get": {"summary": "List a project's keys (never their secrets)", "responses": {"200": {"description": "Keys", "content": {"application/json": {"schema": {"type": "object", "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Key"}}}}}}}, "404": error_response("No such project")}},
                "post": {
                    "summary": "Create a key; its secret is in this answer only",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"kind": {"enum": ["secret", "publishable", null]}, "name": {"type": "string"}, "limits": limits, "operations": {"type": "array", "items": {"enum": OPERATIONS}, "description": "Operations the key may call; empty means all"}, "models": {"type": "array", "items": {"type": "string", "minLength": 1, "not": {"pattern": "\\*[\\s\\S]"}}, "description": "Model names or prefixes ending in '*'; empty means all"}, "conversations": nullable(history_policy_schema("Bounds of this key's conversations, in place of its project's")), "expires_in_secs": {"type": ["integer", "null"], "minimum": 1, "maximum": U64_MAX}}}}}},
                    "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": {"type": "object", "properties": {"key": {"$ref": "#/components/schemas/Key"}, "secret": {"type": "string"}}}}}}, "400": error_response("Invalid request"), "404": error_response("No such project"), "409": error_response("A publishable key for a project without allowed_origins")}
                }
            },
            "/admin/v1/keys/{id}/revoke": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "post": {"summary": "Revoke a key", "responses": {"200": {"description": "Revoked", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Key"}}}}, "404": error_response("No such key")}}
            },
            "/admin/v1/spend": {
                "get": {
                    "summary": "Spend by day, project, key, model and end user",
                    "parameters": [
                        {"name": "project", "in": "query", "schema": {"type": "string"}},
                        {"name": "key", "in": "query", "schema": {"type": "string"}},
                        {"name": "since", "in": "query", "schema": {"type": "string", "format": "date"}},
                        {"name": "until", "in": "query", "schema": {"type": "string", "format": "date"}}
                    ],
                    "responses": {"200": {"description": "Spend rows and their total"}, "400": error_response("Invalid query"), "404": error_response("No such project")}
                }
            },
            "/admin/v1/cache": {
                "get": {
                    "summary": "The response cache: entries stored, their bytes, hits and the cost they saved (every project's, or one's); bytes held in memory",
                    "parameters": [{"name": "project", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "Cache statistics", "content": {"application/json": {"schema": {"type": "object", "required": ["entries", "bytes", "hits", "saved_usd", "memory_bytes"], "properties": {
                        "project": {"type": ["string", "null"]},
                        "entries": {"type": "integer", "minimum": 0},
                        "bytes": {"type": "integer", "minimum": 0},
                        "hits": {"type": "integer", "minimum": 0},
                        "saved_usd": {"type": "number", "minimum": 0},
                        "memory_bytes": {"type": "integer", "minimum": 0}
                    }}}}}, "400": error_response("Invalid query"), "404": error_response("No such project")}
                },
                "delete": {
                    "summary": "Forget the cached answers of a project, or of every project (audited)",
                    "parameters": [{"name": "project", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "How many stored entries went", "content": {"application/json": {"schema": {"type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "integer", "minimum": 0}}}}}}, "400": error_response("Invalid query"), "404": error_response("No such project")}
                }
            },
            "/admin/v1/pregenerate": {
                "post": {
                    "summary": "Start a pre-generation job: a project's requests (JSON Lines, or a JSON array with content-type application/json), each {custom_id, method: POST, url, body}, run in the background to fill the response cache (audited)",
                    "parameters": [
                        {"name": "project", "in": "query", "required": true, "schema": {"type": "string"}},
                        {"name": "concurrency", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 64}},
                        {"name": "ttl_secs", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 2_592_000}}
                    ],
                    "requestBody": {"required": true, "content": {"application/jsonl": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}},
                    "responses": {"202": {"description": "The job's progress, and the lines rejected (by number, with the reason)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PregenerationJob"}}}}, "400": error_response("Invalid query, or no line of the file is a request"), "404": error_response("No such project")}
                },
                "get": {
                    "summary": "Pre-generation jobs, newest first",
                    "parameters": [
                        {"name": "project", "in": "query", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
                    ],
                    "responses": {"200": {"description": "Jobs"}, "400": error_response("Invalid query"), "404": error_response("No such project")}
                }
            },
            "/admin/v1/pregenerate/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "get": {
                    "summary": "A pre-generation job's progress: done, failed (with the first failures' lines and reasons), pending, spend, ETA",
                    "responses": {"200": {"description": "The job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PregenerationJob"}}}}, "404": error_response("No such job")}
                }
            },
            "/admin/v1/pregenerate/{id}/cancel": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "post": {
                    "summary": "Cancel a job: no new item starts; items in flight finish (audited)",
                    "responses": {"200": {"description": "The job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PregenerationJob"}}}}, "404": error_response("No such job")}
                }
            },
            "/admin/v1/pregenerate/{id}/resume": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "post": {
                    "summary": "Run a cancelled or stopped job's pending items again (audited)",
                    "responses": {"200": {"description": "The job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PregenerationJob"}}}}, "404": error_response("No such job")}
                }
            },
            "/admin/v1/audit": {
                "get": {
                    "summary": "The audit log, oldest first (read-only)",
                    "parameters": [
                        {"name": "after", "in": "query", "description": "Page: entries after this sequence number", "schema": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 9_223_372_036_854_775_807_i64}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
                    ],
                    "responses": {"200": {"description": "Audit entries"}, "400": error_response("Invalid query")}
                }
            },
            "/admin/v1/projects/{name}/conversations": {
                "parameters": [name_param],
                "get": {
                    "summary": "A project's conversations, most recently active first",
                    "parameters": [
                        {"name": "after", "in": "query", "description": "Page: the `next_after` of the previous page", "schema": {"type": "string", "pattern": "^-?[0-9]{1,18}\\."}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
                    ],
                    "responses": {"200": {"description": "Conversations (id, api, end user, turns, items, activity) and the next page's `after`"}, "400": error_response("Invalid query"), "404": error_response("No such project")}
                }
            },
            "/admin/v1/conversations/{id}": {
                "get": {
                    "summary": "One conversation with its items and turns",
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "The conversation"}, "404": error_response("No such conversation")}
                }
            },
            "/admin/v1/projects/{name}/media": {
                "parameters": [name_param],
                "get": {
                    "summary": "A project's stored images and audio, newest first, each with a signed URL",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
                    ],
                    "responses": {"200": {"description": "Media records (id, kind, content type, size, SHA-256, the request that made it) with URLs"}, "400": error_response("Invalid query"), "404": error_response("No such project")}
                }
            },
            "/admin/v1/media/{id}": {
                "get": {
                    "summary": "One stored image or audio object, with a signed URL",
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "The media record"}, "404": error_response("No such media")}
                }
            },
            "/admin/v1/realtime/sessions": {
                "get": {
                    "summary": "Realtime session records, newest first (without transcripts)",
                    "parameters": [
                        {"name": "project", "in": "query", "schema": {"type": "string"}},
                        {"name": "key", "in": "query", "schema": {"type": "string"}},
                        {"name": "since_ms", "in": "query", "schema": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 9_223_372_036_854_775_807_i64}},
                        {"name": "before", "in": "query", "description": "Page: sessions older than this id (`next_before` of the previous page)", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
                    ],
                    "responses": {"200": {"description": "Sessions and the next page's `before`"}, "400": error_response("Invalid query"), "404": error_response("No such project")}
                }
            },
            "/admin/v1/realtime/sessions/{id}": {
                "get": {
                    "summary": "One realtime session with its transcript",
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "The session record"}, "404": error_response("No such session")}
                }
            },
            "/admin/v1/providers": {
                "get": {
                    "summary": "Each provider's health now: circuit breaker, retry budget and keys (ids and states, never the keys)",
                    "responses": {"200": {"description": "Providers, in configuration order", "content": {"application/json": {"schema": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Provider"}}}}}}}}
                }
            }
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {"message": {"type": "string"}, "code": {"type": "string"}}}}},
                "RateLimits": {"type": "object", "additionalProperties": false, "description": "Limits without a budget (budgets are per project or key)", "properties": {
                    "rpm": {"type": ["integer", "null"], "minimum": 1, "maximum": U64_MAX},
                    "tpm": {"type": ["integer", "null"], "minimum": 1, "maximum": U64_MAX},
                    "max_concurrent": {"type": ["integer", "null"], "minimum": 1, "maximum": U32_MAX}
                }},
                "Limits": {"type": "object", "additionalProperties": false, "properties": {
                    "rpm": {"type": ["integer", "null"], "minimum": 1, "maximum": U64_MAX},
                    "tpm": {"type": ["integer", "null"], "minimum": 1, "maximum": U64_MAX},
                    "max_concurrent": {"type": ["integer", "null"], "minimum": 1, "maximum": U32_MAX},
                    "budget": {"type": ["object", "null"], "required": ["usd", "period"], "additionalProperties": false, "properties": {"usd": {"type": "number", "minimum": 0}, "period": {"enum": ["day", "month"]}}}
                }},
                "PregenerationJob": {"type": "object", "required": ["id", "state", "total", "done", "failed", "pending", "running", "spend_usd"], "properties": {
                    "id": {"type": "string"},
                    "project": {"type": ["string", "null"]},
                    "state": {"enum": ["queued", "running", "completed", "stopped", "cancelled"]},
                    "stop_reason": {"type": ["string", "null"]},
                    "total": {"type": "integer", "minimum": 0},
                    "done": {"type": "integer", "minimum": 0},
                    "failed": {"type": "integer", "minimum": 0},
                    "pending": {"type": "integer", "minimum": 0},
                    "running": {"type": "integer", "minimum": 0},
                    "spend_usd": {"type": "number", "minimum": 0},
                    "eta_secs": {"type": ["integer", "null"], "minimum": 0},
                    "created_at_ms": {"type": "integer"},
                    "started_at_ms": {"type": ["integer", "null"]},
                    "finished_at_ms": {"type": ["integer", "null"]},
                    "failures": {"type": "array", "items": {"type": "object", "properties": {"line": {"type": ["integer", "null"]}, "custom_id": {"type": ["string", "null"]}, "error": {"type": ["string", "null"]}}}},
                    "rejected": {"type": "array", "items": {"type": "object", "properties": {"line": {"type": "integer"}, "error": {"type": "string"}}}}
                }},
                "Project": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "settings": {"type": "object", "properties": settings_properties(json!({}))}, "created_at_ms": {"type": "integer"}, "updated_at_ms": {"type": "integer"}}},
                "Provider": {"type": "object", "required": ["name", "kind", "circuit", "retry_budget", "keys"], "properties": {
                    "name": {"type": "string"},
                    "kind": {"enum": ["gemini", "openai", "openai_compatible"]},
                    "circuit": {"type": "object", "required": ["state", "consecutive_failures", "probe_in_secs"], "properties": {
                        "state": {"enum": ["closed", "open", "half_open"]},
                        "consecutive_failures": {"type": "integer", "minimum": 0},
                        "probe_in_secs": {"type": ["integer", "null"], "minimum": 0, "description": "While open: seconds until a call may probe the provider (0: the next call does)"}
                    }},
                    "retry_budget": {"type": "object", "required": ["available", "percent"], "properties": {
                        "available": {"type": "number", "minimum": 0, "description": "Retries the budget holds now (at most 10)"},
                        "percent": {"type": "integer", "minimum": 0, "description": "The share of the provider's calls that retries may add"}
                    }},
                    "keys": {"type": "array", "items": {"type": "object", "required": ["id", "state"], "properties": {
                        "id": {"type": "string", "description": "The key's id, e.g. gemini#0"},
                        "state": {"enum": ["active", "resting", "rejected"], "description": "active: in rotation; resting: rate-limited until the provider's Retry-After; rejected: refused by the provider, out of rotation"},
                        "resting_until_ms": {"type": "integer", "minimum": 0, "description": "When a resting key is used again (Unix milliseconds)"}
                    }}}
                }},
                "Key": {"type": "object", "properties": {"id": {"type": "string"}, "project_id": {"type": "string"}, "kind": {"enum": ["secret", "publishable"]}, "name": {"type": "string"}, "prefix": {"type": "string"}, "settings": {"type": "object"}, "created_at_ms": {"type": "integer"}, "expires_at_ms": {"type": ["integer", "null"]}, "revoked_at_ms": {"type": ["integer", "null"]}}}
            }
        }
    });
    // Added apart: one `json!` of every path passes the macro's recursion
    // limit.
    if let Some(paths) = description["paths"].as_object_mut() {
        paths.insert("/admin/v1/keys/{id}/usage".into(), key_usage_path());
        paths.insert(
            "/admin/v1/requests/{id}/content".into(),
            request_content_path(),
        );
        paths.insert(
            "/admin/v1/projects/{name}/users/{user}/export".into(),
            user_export_path(),
        );
        paths.insert(
            "/admin/v1/projects/{name}/users/{user}".into(),
            user_erase_path(),
        );
        paths.insert(
            "/admin/v1/projects/{name}/data".into(),
            project_erase_path(),
        );
        paths.insert("/admin/v1/exports/{id}".into(), export_path());
        paths.insert("/admin/v1/jobs".into(), jobs_path());
        paths.insert("/admin/v1/keys/{id}".into(), key_path());
        paths.insert("/admin/v1/session".into(), dashboard_api::session_path());
        paths.insert("/admin/v1/admins".into(), dashboard_api::admins_path());
        paths.insert(
            "/admin/v1/admins/{username}".into(),
            dashboard_api::admin_path(),
        );
        paths.insert(
            "/admin/v1/stats/overview".into(),
            dashboard_api::overview_path(),
        );
        paths.insert("/admin/v1/stats/spend".into(), dashboard_api::spend_path());
        paths.insert("/admin/v1/requests".into(), dashboard_api::requests_path());
        paths.insert(
            "/admin/v1/requests/{id}".into(),
            dashboard_api::request_path(),
        );
        paths.insert("/admin/v1/jobs/{id}".into(), job_path());
        paths.insert(
            "/admin/v1/projects/{name}/exports".into(),
            project_export_path(),
        );
    }
    description
}

/// A project's archival policy.
fn archive_schema() -> Value {
    let days = |what: &str| {
        nullable(
            json!({"type": "integer", "minimum": 1, "maximum": u32::MAX, "description": format!("Days {what} stay in the database before they are moved to the object store (still exported and erased there); unset: they stay")}),
        )
    };
    json!({"type": "object", "additionalProperties": false, "description": "When each kind of the project's user content leaves the database for the object store", "properties": {
        "content_days": days("logged request and answer bodies"),
        "transcripts_days": days("realtime sessions' records and transcripts")
    }})
}

/// A project's constitution: its principles, rules and judge.
fn constitution_schema() -> Value {
    let id = json!({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"});
    let action = json!({"enum": ["block", "flag"], "description": "block: the answer is refused (the client reads a refusal in its protocol); flag (default): only recorded"});
    let words = |description: &str| json!({"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "\\S"}, "description": description});
    let checks = [
        (
            "blocked_terms",
            words("Words the answer must not contain (whole words, any case)"),
        ),
        (
            "blocked_pattern",
            json!({"type": "string", "description": "A regular expression (Rust regex syntax) the answer must not match"}),
        ),
        (
            "required_phrase",
            json!({"type": "string", "pattern": "\\S", "description": "A phrase the answer must contain (any case)"}),
        ),
        (
            "forbidden_phrase",
            json!({"type": "string", "pattern": "\\S", "description": "A phrase the answer must not contain (any case)"}),
        ),
        (
            "max_chars",
            json!({"type": "integer", "minimum": 0, "maximum": U64_MAX, "description": "The most characters an answer may have"}),
        ),
        (
            "min_chars",
            json!({"type": "integer", "minimum": 0, "maximum": U64_MAX, "description": "The fewest characters an answer may have"}),
        ),
        (
            "allowed_models",
            words(
                "Patterns (* matches any run of characters) of the models that may answer: the provider's model, after routing; checked before the model is called",
            ),
        ),
    ];
    let rules: Vec<Value> = checks
        .iter()
        .map(|(name, check)| {
            json!({"type": "object", "additionalProperties": false, "required": ["id", name], "properties": {
                "id": id, "action": action, *name: check
            }})
        })
        .collect();
    json!({"type": "object", "additionalProperties": false, "description": "The principles the project's answers are held to; its SHA-256 is in every receipt of its requests. Ids are unique across rules and judge principles, and a blocked_pattern must compile: a constitution that breaks either is refused (400).", "properties": {
        "text": {"type": "string", "description": "The principles in prose (a published policy, or the app's system prompt)"},
        "rules": {"type": "array", "items": {"oneOf": rules}, "description": "Machine-checked rules, each with exactly one check"},
        "judge": nullable(json!({"type": "object", "additionalProperties": false, "required": ["model", "principles"], "description": "A model called through Airlock as the project that says of each principle whether the answer upholds it", "properties": {
            "model": {"type": "string", "pattern": "\\S"},
            "principles": {"type": "array", "minItems": 1, "items": {"type": "object", "additionalProperties": false, "required": ["id", "text"], "properties": {
                "id": id, "text": {"type": "string", "pattern": "\\S", "maxLength": 2000}, "action": action
            }}}
        }}))
    }})
}

/// A project's retention policy.
fn retention_schema() -> Value {
    let days = |what: &str, minimum: u32| {
        nullable(
            json!({"type": "integer", "minimum": minimum, "maximum": u32::MAX, "description": format!("Days {what} are kept; unset: for ever")}),
        )
    };
    json!({"type": "object", "additionalProperties": false, "description": "How long each kind of the project's user data is kept before a sweep deletes it", "properties": {
        "content_days": days("logged request and answer bodies", 1),
        "request_log_days": days("request records (budgets are summed from them)", crate::tenancy::manage::MIN_REQUEST_LOG_DAYS),
        "transcripts_days": days("realtime sessions' records and transcripts", 1),
        "conversations_days": days("conversations and their items (from the last turn)", 1),
        "responses_days": days("stored Responses API turns", 1),
        "files_days": days("uploaded files and their extracted text", 1),
        "media_days": days("generated images and audio, and their variants", 1)
    }})
}

/// The path parameters naming a project and one of its end users.
fn user_parameters() -> Value {
    json!([
        {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}, "description": "The project's name"},
        {"name": "user", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 256}, "description": "The end user's id: a verified token's subject, or a request's user or safety_identifier"}
    ])
}

/// `POST /admin/v1/projects/{name}/users/{user}/export`.
fn user_export_path() -> Value {
    json!({
        "parameters": user_parameters(),
        "post": {
            "summary": "Export everything held about one end user (GDPR) as a zip, made by a background job",
            "parameters": [{"name": "expires_in_secs", "in": "query", "schema": {"type": "integer", "minimum": 60, "maximum": 2_592_000}, "description": "How long the download stays valid (default 7 days)"}],
            "responses": {
                "202": {"description": "The export job, started", "content": {"application/json": {"schema": export_schema()}}},
                "400": error_response("An end user's id longer than 256 bytes, or an expiry out of range"),
                "404": error_response("No such project")
            }
        }
    })
}

/// A background job as `/admin/v1/jobs` shows it.
fn job_schema() -> Value {
    json!({"type": "object", "required": ["id", "kind", "state", "total", "done", "failed"], "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string", "description": "pregenerate, openai-batch, gemini-batch, user-export, project-export, reseal, backup"},
        "project": {"type": ["string", "null"]},
        "state": {"type": "string", "enum": ["queued", "running", "completed", "stopped", "cancelled"]},
        "stop_reason": {"type": ["string", "null"]},
        "total": {"type": "integer"},
        "done": {"type": "integer"},
        "failed": {"type": "integer"},
        "pending": {"type": "integer"},
        "running": {"type": "integer"},
        "spend_usd": {"type": "number"},
        "eta_secs": {"type": ["integer", "null"]},
        "created_at_ms": {"type": "integer"},
        "started_at_ms": {"type": ["integer", "null"]},
        "finished_at_ms": {"type": ["integer", "null"]},
        "failures": {"type": "array", "items": {"type": "object"}}
    }})
}

/// `GET /admin/v1/jobs`.
fn jobs_path() -> Value {
    json!({
        "get": {
            "summary": "Background jobs of every kind, newest first",
            "parameters": [
                {"name": "kind", "in": "query", "schema": {"type": "string"}, "description": "Only jobs of this kind"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
            ],
            "responses": {
                "200": {"description": "Jobs", "content": {"application/json": {"schema": {"type": "object", "properties": {"data": {"type": "array", "items": job_schema()}}}}}},
                "400": error_response("A limit out of range")
            }
        }
    })
}

/// `PATCH /admin/v1/keys/{id}`.
fn key_path() -> Value {
    let settings = json!({"type": "object", "additionalProperties": false, "properties": {
        "limits": {"$ref": "#/components/schemas/Limits"},
        "operations": {"type": "array", "items": {"enum": OPERATIONS}, "description": "Operations the key may call; empty means all"},
        "models": {"type": "array", "items": {"type": "string", "minLength": 1, "not": {"pattern": "\\*[\\s\\S]"}}, "description": "Model names or prefixes ending in '*'; empty means all"},
        "conversations": nullable(history_policy_schema("Bounds of this key's conversations, in place of its project's"))
    }});
    json!({
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "patch": {
            "summary": "Replace a key's limits, model and operation scopes and conversation bounds (what is left out is unlimited or unscoped)",
            "requestBody": {"required": true, "content": {"application/json": {"schema": settings}}},
            "responses": {
                "200": {"description": "Updated", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Key"}}}},
                "400": error_response("Invalid request"),
                "404": error_response("No such key")
            }
        }
    })
}

/// `GET /admin/v1/jobs/{id}`.
fn job_path() -> Value {
    json!({
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "get": {
            "summary": "A background job's progress, with its failed items' reasons",
            "responses": {
                "200": {"description": "The job", "content": {"application/json": {"schema": job_schema()}}},
                "404": error_response("No such job")
            }
        }
    })
}

/// `POST /admin/v1/projects/{name}/exports`.
fn project_export_path() -> Value {
    let kinds = [
        "conversations",
        "transcripts",
        "request_log",
        "content",
        "responses",
    ];
    json!({
        "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
        "post": {
            "summary": "Export a project's data as JSON Lines to the object store (a background job)",
            "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {
                "kinds": nullable(json!({"type": "array", "minItems": 1, "items": {"enum": kinds}, "description": "Default: conversations, transcripts, request_log"})),
                "since": {"type": ["integer", "null"], "description": "Only rows from this time on (Unix seconds)"},
                "until": {"type": ["integer", "null"], "description": "Only rows before this time (Unix seconds)"}
            }}}}},
            "responses": {
                "202": {"description": "The export job, started", "content": {"application/json": {"schema": export_schema()}}},
                "400": error_response("A kind that cannot be exported, or since not before until"),
                "404": error_response("No such project")
            }
        }
    })
}

/// `GET /admin/v1/exports/{id}`.
fn export_path() -> Value {
    json!({
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "get": {
            "summary": "An export's progress and, once completed, its signed download URL",
            "responses": {
                "200": {"description": "The export", "content": {"application/json": {"schema": export_schema()}}},
                "404": error_response("No such export")
            }
        }
    })
}

/// An export job as the admin API shows it: an end user's
/// (`user_export`) or a project's (`project_export`).
fn export_schema() -> Value {
    json!({"type": "object", "required": ["id", "object", "status", "progress", "created_at"], "properties": {
        "id": {"type": "string"},
        "object": {"enum": ["user_export", "project_export"]},
        "prefix": {"type": ["string", "null"], "description": "A project export's folder in the object store"},
        "kinds": {"type": "object", "description": "A project export's kinds: status, rows, bytes and the keys of the parts written", "additionalProperties": {"type": "object"}},
        "project": {"type": ["string", "null"]},
        "end_user": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": ["queued", "running", "completed", "stopped", "cancelled"]},
        "progress": {"type": "object", "properties": {"done": {"type": "integer"}, "failed": {"type": "integer"}, "total": {"type": "integer"}}},
        "created_at": {"type": "integer"},
        "expires_at": {"type": ["integer", "null"], "description": "When the download stops working (Unix seconds)"},
        "errors": {"type": "array", "items": {"type": "object"}},
        "download_url": {"type": "string", "description": "GET it (no key: the signature is the credential) for the zip, until expires_at"},
        "bytes": {"type": "integer"},
        "sha256": {"type": "string"},
        "rows": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "Rows exported per kind"}
    }})
}

/// What an erasure answers.
fn erased_schema() -> Value {
    json!({"type": "object", "required": ["erased", "rows", "blobs", "jobs", "realtime_sessions_closed"], "properties": {
        "erased": {"const": true},
        "rows": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "Rows erased per kind of user data"},
        "blobs": {"type": "integer", "description": "Blobs deleted (files, media, cached answers' bodies)"},
        "jobs": {"type": "integer", "description": "Jobs deleted (exports; for a project, its batches and pre-generation)"},
        "realtime_sessions_closed": {"type": "integer"}
    }})
}

/// `DELETE /admin/v1/projects/{name}/users/{user}`.
fn user_erase_path() -> Value {
    json!({
        "parameters": user_parameters(),
        "delete": {
            "summary": "Erase everything held about one end user (GDPR), blobs included, after closing their realtime sessions; audited",
            "responses": {
                "200": {"description": "What was erased", "content": {"application/json": {"schema": erased_schema()}}},
                "400": error_response("An end user's id longer than 256 bytes"),
                "404": error_response("No such project")
            }
        }
    })
}

/// `DELETE /admin/v1/projects/{name}/data`.
fn project_erase_path() -> Value {
    json!({
        "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
        "delete": {
            "summary": "Erase all user data a project holds, and its jobs; the project and its keys stay; audited",
            "responses": {
                "200": {"description": "What was erased", "content": {"application/json": {"schema": erased_schema()}}},
                "404": error_response("No such project")
            }
        }
    })
}

/// `GET /admin/v1/keys/{id}/usage`.
fn key_usage_path() -> Value {
    json!({
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "get": {
            "summary": "A key's usage by day: requests, errors, tokens, spend and the web origins requests came from",
            "parameters": [
                {"name": "since", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "Inclusive; default: 30 days ago"},
                {"name": "until", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "Exclusive"}
            ],
            "responses": {
                "200": {"description": "Usage by day, oldest first, and totals", "content": {"application/json": {"schema": usage_schema()}}},
                "400": error_response("A date that is not YYYY-MM-DD"),
                "404": error_response("No such key")
            }
        }
    })
}

/// `GET /admin/v1/requests/{id}/content`.
fn request_content_path() -> Value {
    json!({
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "The request's id (x-request-id)"}],
        "get": {
            "summary": "A request's logged content (projects with log_content), redacted",
            "responses": {
                "200": {"description": "The request's body and its answer", "content": {"application/json": {"schema": content_schema()}}},
                "404": error_response("The request's content was not logged")
            }
        }
    })
}

/// A request's logged content (`GET /admin/v1/requests/{id}/content`).
fn content_schema() -> Value {
    json!({"type": "object", "required": ["id", "created_at_ms", "request", "response", "truncated"], "properties": {
        "id": {"type": "string"},
        "project_id": {"type": ["string", "null"]},
        "end_user": {"type": ["string", "null"]},
        "created_at_ms": {"type": "integer"},
        "request": {"type": "string", "description": "The request's body, redacted"},
        "response": {"type": "string", "description": "The answer's body (a stream's events as sent), redacted"},
        "truncated": {"type": "boolean", "description": "Whether either was cut at 1 MiB"}
    }})
}

/// A key's usage report (`GET /admin/v1/keys/{id}/usage`).
fn usage_schema() -> Value {
    let day = json!({"type": "object", "required": ["day", "requests", "errors", "tokens_in", "tokens_out", "cost_usd", "origins"], "properties": {
        "day": {"type": "string", "format": "date"},
        "requests": {"type": "integer"},
        "errors": {"type": "integer", "description": "Requests answered with a status of 400 or more"},
        "tokens_in": {"type": "integer"},
        "tokens_out": {"type": "integer"},
        "cost_usd": {"type": "number"},
        "origins": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "Requests by the web origin they came from"}
    }});
    json!({"type": "object", "required": ["key", "data", "totals"], "properties": {
        "key": {"type": "object"},
        "data": {"type": "array", "items": day},
        "totals": {"type": "object"}
    }})
}
