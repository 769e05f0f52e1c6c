//! The HTTP server: routes and middleware assembled in one place.
//!
//! Layers, outermost first:
//! 1. request id: every request gets one (the client's `x-request-id` when it
//!    is sane), returned in the response and carried by every log line;
//! 2. the access log, a line per request once its response is sent;
//! 3. `Connection: close` on answers that left the request body unread;
//! 4. CORS, on API routes (it answers preflights, which carry no key);
//! 5. client authentication, on API routes only (health probes and
//!    `/metrics` stay open: they carry no secrets and no request content).
//!
//! Below the router, `connections` accepts and serves the connections: the
//! connection cap, header and keep-alive timeouts, each request body's
//! timeout, minimum rate and share of the body budget (`body_guard`), and
//! the shutdown deadline.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderValue, StatusCode};
use serde_json::json;
use tokio::sync::watch;
use tower_layer::Layer;
use tracing::Instrument;

use crate::auth::{Credential, Principal};
use crate::connections::{self, Connections, PlainListener, Served};
use crate::context::{InternalCaller, Pricing, RequestContext};
use crate::end_user::JwtError;
use crate::error::ApiError;
use crate::state::AppState;
use crate::surface::gemini::VERSIONS as GEMINI_VERSIONS;
use crate::surface::gemini::batches as gemini_batches;
use crate::surface::gemini::files as gemini_files;
use crate::surface::{self, models, openai};
use crate::trace::IncomingTrace;
use crate::workers::{self, Listeners};

/// Every route on one address: the API, and the operators' routes
/// (`/metrics`, the probes, the admin API).
pub fn router(state: AppState) -> Router {
    with_request_layers(public_routes(&state, true))
}

/// The operators' routes alone, for the admin listener (`--admin-listen`).
pub fn admin_router(state: AppState) -> Router {
    let routes = operator_routes(&state)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(state);
    with_request_layers(routes)
}

/// `/metrics`, the probes and the admin API.
fn operator_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(surface::admin::routes(state.clone()))
        .merge(crate::dashboard::routes())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The API, with the operators' routes unless they have an address of
/// their own.
fn public_routes(state: &AppState, with_operator_routes: bool) -> Router {
    let routes = match with_operator_routes {
        true => operator_routes(state),
        false => Router::new(),
    };
    routes
        // Signed URLs, fetched by browsers and CDNs without a client key.
        .route("/media/{id}", get(surface::media::get))
        .route("/exports/{name}", get(surface::exports::download))
        // The receipts log: hashes only, public by design.
        .route("/log/checkpoint", get(surface::receipts::checkpoint))
        .route("/log/tile/{*path}", get(surface::receipts::tile))
        .route(
            "/log/proof/consistency",
            get(surface::receipts::consistency),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .merge(api_routes(state))
        .fallback(not_found)
        .with_state(state.clone())
}

/// The layers every request passes, around the routes.
fn with_request_layers(routes: Router) -> Router {
    // Around the router, not `Router::layer`: that wraps each route apart,
    // and each layer then clones the boxed layers within it on every
    // request (dozens of allocations with five layers); around the
    // router, a clone is the router's reference count.
    let every_request = middleware::from_fn(request_id).layer(
        // Inside the request id, so each line carries it.
        middleware::from_fn(crate::access_log::access_log).layer(
            // Sees every answer, early errors included.
            middleware::from_fn(crate::unread_body::close_if_unread).layer(routes),
        ),
    );
    Router::new().fallback_service(every_request)
}

/// The model API's routes alone, as Airlock sends its own requests
/// through them (pre-generation): authenticated (an internal caller's
/// principal in place of a key), with request ids.
pub(crate) fn api_router(state: AppState) -> Router {
    let routes = api_routes(&state).with_state(state);
    Router::new().fallback_service(middleware::from_fn(request_id).layer(routes))
}

/// The model API: the OpenAI and Gemini routes, authenticated, with CORS.
fn api_routes(state: &AppState) -> Router<AppState> {
    let mut api = Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/receipts/{id}", get(surface::receipts::get))
        .route(
            "/v1/images/generations",
            post(openai::media::image_generations),
        )
        .route("/v1/images/edits", post(openai::media::image_edits))
        .route("/v1/audio/speech", post(openai::media::speech))
        .route(
            "/v1/audio/transcriptions",
            post(openai::media::transcriptions),
        )
        .route("/v1/responses", post(openai::responses::create))
        .route(
            "/v1/responses/{id}",
            get(openai::responses::retrieve).delete(openai::responses::delete),
        )
        .route(
            "/v1/responses/{id}/input_items",
            get(openai::responses::input_items_list),
        )
        .route("/v1/conversations", post(openai::conversations::create))
        .route(
            "/v1/conversations/{id}",
            get(openai::conversations::retrieve)
                .post(openai::conversations::update)
                .delete(openai::conversations::delete),
        )
        .route(
            "/v1/conversations/{id}/items",
            get(openai::conversations::items_list).post(openai::conversations::items_create),
        )
        .route(
            "/v1/conversations/{id}/items/{item_id}",
            get(openai::conversations::item_retrieve).delete(openai::conversations::item_delete),
        )
        // Shared with Gemini's v1 Files API, told apart by the key's form.
        .route(
            "/v1/files",
            post(openai::files::create).get(surface::files::list),
        )
        .route(
            "/v1/files/{id}",
            get(surface::files::get).delete(surface::files::delete),
        )
        .route("/v1/files/{id}/content", get(openai::files::content))
        .route("/v1/files/{id}/text", get(openai::files::text))
        .route("/v1/uploads", post(openai::files::upload_create))
        .route("/v1/uploads/{id}/parts", post(openai::files::upload_part))
        .route(
            "/v1/uploads/{id}/complete",
            post(openai::files::upload_complete),
        )
        .route(
            "/v1/uploads/{id}/cancel",
            post(openai::files::upload_cancel),
        )
        // Shared with Gemini's v1 Batch Mode, told apart by the key's form.
        .route(
            "/v1/batches",
            post(openai::batches::create).get(surface::batches::list),
        )
        .route(
            "/v1/batches/{id}",
            get(surface::batches::get)
                .post(gemini_batches::post)
                .delete(gemini_batches::delete),
        )
        .route("/v1/batches/{id}/cancel", post(openai::batches::cancel));
    // Google's Interactions API, on the Responses API's engine.
    for version in GEMINI_VERSIONS {
        use surface::gemini::interactions;
        api = api
            .route(
                &format!("/{version}/interactions"),
                post(interactions::create),
            )
            .route(
                &format!("/{version}/interactions/{{id}}"),
                get(interactions::get).delete(interactions::delete),
            )
            .route(
                &format!("/{version}/interactions/{{id}}/cancel"),
                post(interactions::cancel),
            );
    }
    for version in GEMINI_VERSIONS {
        api = api
            .route(&format!("/{version}/models"), get(models::list))
            .route(
                &format!("/{version}/models/{{*rest}}"),
                get(models::get).post(models::post),
            )
            .route(
                &format!("/{version}/auth_tokens"),
                post(surface::tokens::gemini_auth_token),
            );
    }
    // Gemini's Files API and Batch Mode (under v1, `/v1/files` and
    // `/v1/batches` are shared with OpenAI's, above).
    for version in GEMINI_VERSIONS {
        api = api.route(
            &format!("/upload/{version}/files"),
            post(gemini_files::upload),
        );
        if version != "v1" {
            api = api
                .route(&format!("/{version}/files"), get(gemini_files::list))
                .route(
                    &format!("/{version}/files/{{name}}"),
                    get(gemini_files::get).delete(gemini_files::delete),
                )
                .route(&format!("/{version}/batches"), get(gemini_batches::list))
                .route(
                    &format!("/{version}/batches/{{name}}"),
                    get(gemini_batches::get)
                        .post(gemini_batches::post)
                        .delete(gemini_batches::delete),
                );
        }
    }
    let api = api.route(
        "/v1/realtime/client_secrets",
        post(surface::tokens::openai_client_secret),
    );
    crate::realtime::routes(api)
        // Before the layers, so CORS still answers preflights on these paths.
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate))
        // Outside authentication: preflights carry no key.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::cors::cors,
        ))
}

/// Serves on the listeners' sockets (with TLS when `tls` is given), one
/// worker per socket: the calling runtime serves the first, a thread each
/// the others (crate::workers), all under one connection cap. When
/// `shutdown` resolves it stops accepting, lets in-flight requests finish
/// for the shutdown grace period (then closes the connections still open),
/// and drains realtime sessions: each is told to go away and closed when
/// the drain period ends.
///
/// With an `admin` socket, the operators' routes (`/metrics`, the probes,
/// the admin API) are served there, in plain HTTP on the calling runtime,
/// and no longer on the listeners.
pub async fn serve(
    listeners: Listeners,
    admin: Option<std::net::TcpListener>,
    state: AppState,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sessions = state.config().realtime.sessions.clone();
    let drain = state.config().realtime.policy.drain;
    let policy = Arc::new(state.config().server.clone());
    let connections = Connections::new(policy.max_connections);
    let bodies = crate::body_guard::BodyGuard::new(&policy, state.config().max_body_bytes);
    let admin_app = admin.is_some().then(|| admin_router(state.clone()));
    let app = with_request_layers(public_routes(&state, admin.is_none()));
    // The exporter keeps histogram samples until they are folded in, by a
    // scrape or by this upkeep: without it memory grows between scrapes.
    let upkeep = tokio::spawn(async {
        let mut ticker = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            ticker.tick().await;
            crate::metrics::recorder().run_upkeep();
        }
    });
    let (stopping, stop) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        stopping.send_replace(true);
    });
    // A worker's runtime ends its sessions' tasks when it ends: workers wait
    // for the drain.
    let (drained_tx, drained) = watch::channel(false);
    let draining = {
        let stop = stop.clone();
        async move {
            stopped(stop).await;
            sessions.drain(drain).await;
            drained_tx.send_replace(true);
        }
    };
    let worker = Worker {
        tls,
        served: Served {
            app,
            policy: policy.clone(),
            connections: connections.clone(),
            bodies,
            stop,
        },
    };
    let mut sockets = listeners.into_sockets().into_iter();
    let first = sockets
        .next()
        .ok_or_else(|| std::io::Error::other("no listening socket"))?;
    let others: Vec<_> = sockets
        .enumerate()
        .map(|(index, socket)| {
            let (worker, drained) = (worker.clone(), drained.clone());
            workers::on_own_thread(index + 1, move || async move {
                let (served, ()) = tokio::join!(worker.serve(socket), stopped(drained));
                served
            })
        })
        .collect();
    let admin_worker = admin.zip(admin_app).map(|(socket, app)| {
        let worker = Worker {
            tls: None,
            served: Served {
                app,
                ..worker.served.clone()
            },
        };
        worker.serve(socket)
    });
    let serving = async {
        let (mut served, admin_served) = match admin_worker {
            Some(admin) => tokio::join!(worker.serve(first), admin),
            None => (worker.serve(first).await, Ok(())),
        };
        served = served.and(admin_served);
        for other in others {
            served = served.and(other.await);
        }
        served
    };
    let served = tokio::join!(serving, draining).0;
    connections::report_shutdown(&connections, policy.shutdown_grace);
    upkeep.abort();
    served
}

/// Resolves once the flag is set.
async fn stopped(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}

/// What each worker serves with.
#[derive(Clone)]
struct Worker {
    tls: Option<Arc<rustls::ServerConfig>>,
    served: Served,
}

impl Worker {
    /// One worker's serving, on the runtime it runs in.
    async fn serve(self, socket: std::net::TcpListener) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::from_std(socket)?;
        let connections = self.served.connections.clone();
        match self.tls {
            None => {
                let listener = PlainListener::new(listener, connections);
                connections::serve(listener, self.served).await;
            }
            Some(config) => {
                let listener = crate::tls::TlsListener::new(listener, config, connections)?;
                connections::serve(listener, self.served).await;
            }
        }
        Ok(())
    }
}

fn sane_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    (!text.is_empty() && text.len() <= 128 && text.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| text.to_string())
}

/// A UUIDv7 (ids sort by the millisecond they were made in), its random
/// bits from a fast generator: a request id must be unique, not secret,
/// and the operating system's generator costs a system call per request.
fn new_request_id() -> String {
    let random = fastrand::u128(..).to_le_bytes();
    let mut bits = [0u8; 10];
    bits.copy_from_slice(&random[..10]);
    uuid::Builder::from_unix_timestamp_millis(crate::clock::now_ms() as u64, &bits)
        .into_uuid()
        .to_string()
}

async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(sane_request_id)
        .unwrap_or_else(new_request_id);
    let trace = IncomingTrace::from_headers(request.headers());
    let client_ip = client_ip(request.extensions());
    let cache = crate::cache::CacheAsk::from_headers(request.headers());
    let file_context = crate::files::context::FileContext::from_headers(request.headers());
    let origin =
        crate::tenancy::request_origin(request.headers()).filter(|origin| origin.len() <= 256);
    request.extensions_mut().insert(RequestContext {
        id: id.clone(),
        trace,
        principal: Principal::Anonymous,
        end_user: None,
        client_ip,
        origin,
        cache,
        file_context,
        spend: None,
        pricing: Pricing::Standard,
    });
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Who the request is: bans first (whatever the key), then the client key,
/// then the end user's token when one is sent.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    if let Some(caller) = parts.extensions.remove::<InternalCaller>() {
        if let Some(context) = parts.extensions.get_mut::<RequestContext>() {
            context.principal = caller.principal;
            context.spend = Some(caller.spend);
            context.pricing = caller.pricing;
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    // A resumable upload's chunk carries no key: its upload id is its
    // credential, checked by the handler.
    if gemini_files::is_resumable_chunk(parts.uri.path(), parts.uri.query()) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    match identify(&state, &parts).await {
        Ok(identity) => {
            let Some(context) = parts.extensions.get_mut::<RequestContext>() else {
                return next.run(Request::from_parts(parts, body)).await;
            };
            context.principal = identity.0;
            context.end_user = identity.1;
            // A content-logging project's bodies are copied as they pass.
            match crate::content_log::begin(&state, context, &parts.method, &parts.headers) {
                None => next.run(Request::from_parts(parts, body)).await,
                Some(capture) => {
                    let body = capture.tee_request(body);
                    capture.tee_response(next.run(Request::from_parts(parts, body)).await)
                }
            }
        }
        Err(error) => {
            let surface = surface::detect(
                &parts.method,
                parts.uri.path(),
                &parts.headers,
                parts.uri.query(),
            );
            let reason = match &error {
                ApiError::MissingKey => Some("missing"),
                // Not the client's failure: the request was refused for now.
                ApiError::Banned { .. } | ApiError::EndUserKeysUnavailable { .. } => None,
                _ => Some("invalid"),
            };
            if let Some(reason) = reason {
                crate::metrics::record_auth_failure(surface.name(), reason);
            }
            error.into_response_for(surface)
        }
    }
}

async fn identify(
    state: &AppState,
    request: &http::request::Parts,
) -> Result<(Principal, Option<String>), ApiError> {
    let config = state.config();
    if let (Some(bans), Some(ip)) = (&config.bans, client_ip(&request.extensions)) {
        bans.check(ip)
            .await
            .map_err(|retry_after| ApiError::Banned { retry_after })?;
    }
    let credential = Credential::from_request(&request.headers, request.uri.query());
    let origin = crate::tenancy::request_origin(&request.headers);
    let principal = config
        .auth
        .authenticate(credential, origin.as_deref(), crate::clock::now_ms())
        .await?;
    let token = request
        .headers
        .get(END_USER_TOKEN)
        .and_then(|v| v.to_str().ok());
    let end_user = match (token, &config.end_users) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(ApiError::EndUserToken(
                "this gateway verifies no end-user tokens".into(),
            ));
        }
        (Some(token), Some(verifier)) => {
            let user = verifier.verify(token).await.map_err(|error| match error {
                JwtError::KeysUnavailable {
                    reason,
                    retry_after,
                } => ApiError::EndUserKeysUnavailable {
                    reason,
                    retry_after,
                },
                error => ApiError::EndUserToken(error.to_string()),
            })?;
            Some(user.subject)
        }
    };
    Ok((principal, end_user))
}

/// The header carrying an end user's ID token (a JWT from the app's own login).
const END_USER_TOKEN: &str = "x-airlock-user-token";

fn client_ip(extensions: &http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
}

async fn not_found(request: Request) -> Response {
    let surface = surface::detect(
        request.method(),
        request.uri().path(),
        request.headers(),
        request.uri().query(),
    );
    ApiError::NotFound {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
    }
    .into_response_for(surface)
}

async fn method_not_allowed(request: Request) -> Response {
    let surface = surface::detect(
        request.method(),
        request.uri().path(),
        request.headers(),
        request.uri().query(),
    );
    ApiError::MethodNotAllowed {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
    }
    .into_response_for(surface)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let config = state.config();
    for provider in &config.providers {
        let open = circuit_state(&state, provider.name()) != "closed";
        crate::metrics::circuit_at_scrape(provider.name(), open);
    }
    crate::metrics::render(
        &config.providers,
        &config.request_log,
        state.cache().map(|cache| &**cache),
        state.metrics(),
    )
}

async fn healthz() -> &'static str {
    "ok"
}

/// A provider's circuit: `closed`, `open` or `half_open`.
fn circuit_state(state: &AppState, provider: &str) -> &'static str {
    state
        .provider_health(provider)
        .map_or("closed", |health| health.breaker.state_name())
}

/// How long `/readyz` waits for the store: a database that does not answer
/// within it is away (the pool itself would wait for a connection for 10 s).
const STORE_READY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Ready when the store answers and some provider can be reached, has a
/// usable key and its circuit is not open.
async fn readyz(State(state): State<AppState>) -> Response {
    let config = state.config();
    let (store, reachability) = tokio::join!(
        tokio::time::timeout(STORE_READY_WAIT, config.store.ping()),
        futures_util::future::join_all(config.providers.iter().map(|p| p.reachable()))
    );
    let store_ok = matches!(store, Ok(Ok(_)));
    let providers: Vec<_> = config
        .providers
        .iter()
        .zip(&reachability)
        .map(|(p, reachable)| {
            json!({
                "name": p.name(),
                "kind": p.kind().name(),
                "usable": p.is_usable(),
                "reachable": reachable.is_ok(),
                "unreachable_because": reachable.as_ref().err(),
                "circuit": circuit_state(&state, p.name()),
                "keys": p.key_statuses(),
            })
        })
        .collect();
    // A provider counts when it has a usable key, can be reached, and its
    // circuit is not open (it has not just failed call after call).
    let provider_ok = config
        .providers
        .iter()
        .zip(&reachability)
        .any(|(p, reachable)| {
            p.is_usable() && reachable.is_ok() && circuit_state(&state, p.name()) != "open"
        });
    let ready = store_ok && provider_ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": ready,
        "store": {"backend": config.store.backend().name(), "ok": store_ok},
        "providers": providers,
        "request_log": {
            "queue_depth": config.request_log.queue_depth(),
        },
    });
    (status, axum::Json(body)).into_response()
}
