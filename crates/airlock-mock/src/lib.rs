//! airlock-mock: a faithful simulator of the Google Gemini API
//! (generativelanguage.googleapis.com REST) and the OpenAI API, for tests and
//! for Airlock's built-in simulator. The official SDKs (`openai`,
//! `google-genai`), pointed at it, parse every answer.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let mock = airlock_mock::spawn("127.0.0.1:0".parse().unwrap(), Default::default()).await?;
//! let gemini = mock.gemini_base_url(); // http://127.0.0.1:PORT
//! let openai = mock.openai_base_url(); // http://127.0.0.1:PORT/v1
//! # let _ = (gemini, openai);
//! mock.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! `airlock mock --listen ADDR` runs it standalone.
//!
//! # Routes
//!
//! * `GET /healthz` → `200 ok` (never counted, never faulted).
//! * Gemini, for `{v}` in `v1`, `v1beta`, `v1alpha`:
//!   `POST /{v}/models/{model}:generateContent`, `:streamGenerateContent`
//!   (`?alt=sse`: `data: {json}\r\n\r\n` events; otherwise a JSON array
//!   streamed as `[{...}`, `\n,\r\n{...}`, …, `\n]`), `:countTokens`
//!   (`contents` or `generateContentRequest`), `:embedContent`,
//!   `:batchEmbedContents`; `GET /{v}/models` (`pageSize` default 50, at most
//!   1000, `pageToken`/`nextPageToken`) and `GET /{v}/models/{model}`.
//!   Unknown query parameters are refused as Google refuses them.
//! * OpenAI: `POST /v1/chat/completions` (plain, or `stream: true` as
//!   `data: {chunk}\n\n` events ending `data: [DONE]\n\n`), `POST
//!   /v1/embeddings`, `GET /v1/models`, `GET /v1/models/{id}`.
//! * `GET /v1/models[/{id}]` is shared by both APIs: it is Gemini's when the
//!   request carries an `x-goog-api-key` (or any `x-goog-*`) header or a
//!   `key`, `pageSize` or `pageToken` query parameter, OpenAI's otherwise.
//! * Other paths: OpenAI's `Invalid URL (METHOD /path)` 404, or a Google
//!   `NOT_FOUND` for `/v1beta/…`, `/v1alpha/…` and Gemini-looking requests.
//!
//! Models — Gemini: gemini-2.5-pro, gemini-2.5-flash, gemini-2.5-flash-lite,
//! gemini-2.0-flash(-001), gemini-2.0-flash-lite, gemini-3-pro-preview,
//! gemini-flash-latest, gemini-flash-lite-latest, gemini-pro-latest,
//! gemini-embedding-001 (3072 dimensions), text-embedding-004 (768).
//! OpenAI: gpt-4o, gpt-4o-mini, gpt-4.1, gpt-4.1-mini, gpt-4.1-nano, gpt-5,
//! gpt-5-mini, o3, o4-mini (also by dated snapshot name, which answers
//! carry), text-embedding-3-small (1536), text-embedding-3-large (3072),
//! text-embedding-ada-002 (1536). Unknown models get the provider's 404.
//!
//! # API keys
//!
//! Gemini reads `x-goog-api-key`, else the `key` query parameter; OpenAI
//! reads `Authorization: Bearer`. Every provider request is counted in
//! [`MockServer::requests_seen`] and, when it carries a key, under that key
//! as sent in [`MockServer::requests_by_key`] — rejected requests included.
//!
//! | key | Gemini | OpenAI |
//! | --- | --- | --- |
//! | missing or empty | 403 `PERMISSION_DENIED` "Method doesn't allow unregistered callers…" | 401 "You didn't provide an API key…", code `null` |
//! | `bad-…` | 400 `INVALID_ARGUMENT` "API key not valid…", `ErrorInfo` reason `API_KEY_INVALID` | 401 `invalid_api_key` "Incorrect API key provided: …" (keys over 12 characters masked to first 8 + `*` + last 4) |
//! | `denied-…` | 403 `PERMISSION_DENIED`, reason `API_KEY_SERVICE_BLOCKED` | 403 "You have insufficient permissions…" |
//! | `limited-…` | 429 `RESOURCE_EXHAUSTED` with `RetryInfo`, `Retry-After: 1` | 429 `rate_limit_exceeded`, `Retry-After: 1` |
//! | anything else | accepted | accepted |
//!
//! # Faults and latency
//!
//! [`MockConfig`] sets them for the server, [`MockServer::set_fault`] and
//! [`MockServer::set_latency`] change them at run time, and two request
//! headers override them for that request alone (a bad value is a 400 in the
//! provider's shape):
//!
//! * `x-mock-fault: status=503 | rate-limit=2 | disconnect-after=3 |
//!   slow-headers-ms=500 | none` — see [`Fault`]; `none` clears a configured
//!   fault. `status` must be 400..=599.
//! * `x-mock-latency: first-token-ms=100,per-chunk-ms=20` — either key may be
//!   left out (it is then 0); the header replaces the configured latency.
//!
//! Faults apply before the key rules, so a faulted server answers every
//! request with the fault. A stream's first chunk waits `first_token`, each
//! later one `per_chunk`; a non-streaming generation or embedding waits as
//! long as its stream would (`first_token + per_chunk × (chunks − 1)`);
//! errors, listings and `countTokens` are not delayed. A disconnect sends
//! that many stream chunks (never the terminator) and then aborts the
//! connection; a non-streaming answer is aborted after its headers.
//!
//! # Deterministic answers
//!
//! Everything "random" comes from a PRNG seeded with an FNV-1a hash of
//! ([`MockConfig::seed`], model, conversation) — the conversation being the
//! Gemini `systemInstruction` + `contents` after normalisation (so camelCase
//! and snake_case requests agree) or the OpenAI `messages` — and the choice
//! or candidate index. The same request gets the same answer, streamed or
//! not: prose of 12 to 48 words from a fixed vocabulary, streamed in 3 to 8
//! chunks. Stop sequences cut the text; an output-token limit
//! (`maxOutputTokens`, `max_completion_tokens`/`max_tokens`) cuts it with
//! finish reason `MAX_TOKENS`/`length`. JSON answers and tool calls are
//! never cut.
//!
//! Tokens: a text costs ceil(characters / 4); every image, audio, video or
//! file part costs 258; function calls and results and tool declarations
//! cost the tokens of their compact JSON. Prompt usage and `countTokens`
//! use the same rule (system instruction and tools included when given, as
//! with `generateContentRequest`); output usage counts the answer text, or
//! a call's name plus its arguments' JSON.
//!
//! Tools: when a call is required — OpenAI `tool_choice: "required"`, a named
//! function or custom tool, `allowed_tools` with mode `required`, legacy
//! `function_call: {"name"}`; Gemini `functionCallingConfig.mode: ANY`
//! (restricted to `allowedFunctionNames` when given) — one tool is called:
//! the first the last user message names, else a PRNG pick. In auto mode a
//! tool is called only if the last user message contains its name
//! (case-insensitive), and never when the conversation ends with a tool or
//! function result. `none`/`NONE` never calls. Arguments are generated to be
//! valid against the tool's schema (see the `valuegen` module): OpenAI `parameters`,
//! Gemini `parameters` (OpenAPI subset) or `parametersJsonSchema`. OpenAI
//! answers `tool_calls` (ids `call_…`, arguments as a JSON string, streamed
//! as argument deltas) with finish reason `tool_calls`; Gemini answers a
//! `functionCall {name, args}` part with finish reason `STOP`.
//!
//! JSON mode: OpenAI `response_format` `json_object` (which, as at OpenAI,
//! needs the word "json" in the messages) gives `{"answer": "<prose>"}`;
//! `json_schema` gives JSON valid against the schema. Gemini
//! `responseMimeType: application/json` gives JSON valid against
//! `responseJsonSchema` or `responseSchema` (an object without either);
//! `text/x.enum` gives one of the schema's enum values.
//!
//! Embeddings are unit vectors drawn from (seed, model, input text), of the
//! model's size or the requested `outputDimensionality`/`dimensions`.
//!
//! # Validation
//!
//! Gemini bodies are parsed like Google's proto3-JSON front end, by a walk
//! over a declarative description of the request messages
//! (modules `gemini::proto` and `gemini::validate`): camelCase and snake_case names
//! at every depth, unknown fields and wrong types reported as `Invalid JSON
//! payload received. Unknown name "foo" at 'generation_config': Cannot find
//! field.` / `Invalid value at '…' (TYPE_FLOAT), "x"`; then Google's checks
//! (`* GenerateContentRequest.contents: contents is not specified`, roles
//! other than user/model/function → "Please use a valid role: user,
//! model.", empty parts, invalid function names). OpenAI bodies are checked
//! strictly against a declarative description too (module `openai::params`):
//! "Unrecognized request argument supplied: foo", "Missing required
//! parameter: 'messages'.", `invalid_value`/`invalid_type` errors naming the
//! parameter path, ranges, and OpenAI's cross-parameter rules. Malformed JSON,
//! invalid UTF-8 and out-of-range numbers are 400s; nothing panics.

mod audio;
mod body;
mod casing;
mod config;
mod delivery;
mod duplex;
mod embedding;
mod gate;
mod gemini;
mod keys;
mod live;
mod openai;
mod overrides;
mod prng;
mod realtime;
mod reply;
mod routes;
mod server;
mod socket;
mod textgen;
mod tokens;
mod valuegen;

pub use config::{Fault, Latency, MockConfig};
pub use server::{MockServer, RunningMock, spawn};
