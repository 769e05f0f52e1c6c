//! The response cache: exact-match answers kept per project and given
//! again, and single flight, identical requests in flight at once sharing
//! one upstream call.
//!
//! A request is keyed by its route's provider and upstream model and the
//! canonical form of its body ([`key`]; a request repeated byte for byte
//! finds its key again by its bytes, [`memo`]); whether it is read and kept, and
//! for how long, is [`policy`]'s decision. [`begin`] runs before the call:
//! a hit is answered at once (a stream is replayed chunk by chunk), a
//! request identical to one in flight follows it ([`flight`]), and any
//! other leads: it makes the call, and [`Lead::settle`] (a complete
//! answer) or the relay (a stream, through [`Lead`]'s stream methods)
//! keeps the answer and hands it to the followers. Only successes served
//! by the route keyed (not a fallback) are kept. Entries live in
//! [`tiers`].

pub(crate) mod answer;
mod flight;
pub(crate) mod key;
mod memo;
pub mod policy;
mod tiers;

use std::sync::Arc;
use std::time::Duration;

use airlock_store::{Blobs, Store, StoreError};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::dispatch::ClientRequest;
use crate::error::ApiError;
use crate::exchange::Exchange;
use crate::relay::Reply;
use crate::routing::Route;
pub(crate) use answer::Tokens;
use answer::{CachedAnswer, CachedBody};
pub(crate) use flight::{Failure, Follower};
use flight::{Flights, Head, Joined, Leader, Opening};
use key::{CacheKey, KeyInput};
use memo::KeyMemo;
use policy::{AskedMode, Decision};
pub use policy::{CacheAsk, RouteCache};
pub use tiers::TierLimits;
use tiers::{Describe, Tiers};

/// The answer header saying what the cache did.
pub const CACHE_STATUS_HEADER: &str = "x-airlock-cache";

/// How the cache is set up.
#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    /// How long answers are kept unless a request, project or route says.
    pub default_ttl: Duration,
    pub limits: TierLimits,
}

/// The cache: its tiers, the flights in the air, and the keys of requests
/// seen.
pub struct ResponseCache {
    tiers: Arc<Tiers>,
    flights: Arc<Flights>,
    keys: KeyMemo,
    default_ttl: Duration,
}

impl ResponseCache {
    /// Opens the cache over the store (and the media object store for
    /// large answers, when there is one).
    pub async fn open(
        store: Store,
        blobs: Option<Blobs>,
        settings: CacheSettings,
    ) -> Result<ResponseCache, StoreError> {
        Ok(ResponseCache {
            tiers: Tiers::open(store, blobs, settings.limits).await?,
            flights: Arc::default(),
            keys: KeyMemo::default(),
            default_ttl: settings.default_ttl,
        })
    }

    /// Forgets a project's answers (`None`: every project's); says how
    /// many stored entries went.
    pub async fn clear(&self, project_id: Option<&str>) -> Result<usize, StoreError> {
        self.tiers.clear(project_id).await
    }

    /// Forgets entries an erasure of user data deleted (rows and blobs).
    pub fn forget_deleted(&self, keys: &[String]) {
        self.tiers.forget_deleted(keys);
    }

    /// Bytes held in memory and entries stored.
    pub fn sizes(&self) -> (u64, usize) {
        self.tiers.sizes()
    }
}

/// What the cache did for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Answered from the cache, or from an identical request's call.
    Hit,
    /// Called upstream (and kept when it succeeded).
    Miss,
    /// Neither read nor kept, though asked or configured.
    Bypass,
}

impl CacheStatus {
    pub fn name(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Bypass => "bypass",
        }
    }
}

/// How a request begins with the cache.
pub(crate) enum Begun {
    /// Answered without a call of its own.
    Answered(Reply),
    /// It makes the call, and keeps and shares the answer.
    Lead(Lead),
    /// The cache plays no part.
    Uncached,
}

/// Looks a request up before its call (see the module's doc).
pub(crate) async fn begin(
    request: &ClientRequest,
    route: &Route,
    exchange: &mut Exchange,
) -> Result<Begun, ApiError> {
    let Some(cache) = exchange.state().cache().cloned() else {
        return Ok(Begun::Uncached);
    };
    let ask = exchange
        .cache_ask()
        .map_err(|message| ApiError::BadRequest {
            message,
            param: None,
        })?;
    let project = exchange.project_cache();
    let considered =
        ask.mode.is_some() || project.is_some_and(|p| p.enabled) || route.cache.enabled;
    if !considered {
        return Ok(Begun::Uncached);
    }
    // A stream from the cache is replayed as kept, past the relay that
    // holds a stream to its project's constitution: such streams are not
    // cached. (A complete answer from the cache is checked like any.)
    if ask.mode == Some(AskedMode::Bypass) || (request.stream && exchange.checks_answers()) {
        exchange.set_cache_status(CacheStatus::Bypass);
        return Ok(Begun::Uncached);
    }
    let project_id = exchange.record().project_id.clone();
    let input = KeyInput {
        project_id: project_id.as_deref(),
        operation: request.operation,
        provider: route.provider.name(),
        upstream_model: &route.upstream_model,
        body: &request.body,
        upload: request.upload.as_deref(),
        stream: request.stream,
        sse: request.gemini_sse,
    };
    let (keyed, worked_out) = cache.keys.key(&input);
    let keyed = match keyed {
        Ok(keyed) => keyed,
        Err(not) => {
            tracing::debug!(reason = not.0, "not cached");
            exchange.set_cache_status(CacheStatus::Bypass);
            return Ok(Begun::Uncached);
        }
    };
    let decision = policy::decide(
        ask,
        project.as_ref(),
        route.cache,
        keyed.random,
        cache.default_ttl,
    );
    let (ttl, read) = match decision {
        Decision::Bypass { .. } => {
            exchange.set_cache_status(CacheStatus::Bypass);
            return Ok(Begun::Uncached);
        }
        Decision::Use { ttl } => (ttl, true),
        Decision::Refresh { ttl } => (ttl, false),
    };
    if read && let Some(held) = cache.tiers.get(&keyed.key).await {
        cache.keys.remember(worked_out, keyed);
        exchange.cache_hit(held.answer.tokens, held.answer.cost_usd);
        return Ok(Begun::Answered(reply_of(held.answer)));
    }
    let keep = Keep {
        tiers: cache.tiers.clone(),
        key: keyed.key,
        ttl,
        describe: Describe {
            project_id,
            end_user: exchange.record().end_user.clone(),
            operation: request.operation.name(),
            provider: route.provider.name().to_string(),
            model: route.upstream_model.clone(),
        },
    };
    loop {
        let mut follower = match cache.flights.join(keyed.key) {
            Joined::Leader(leader) => {
                exchange.set_cache_status(CacheStatus::Miss);
                return Ok(Begun::Lead(Lead { leader, keep }));
            }
            Joined::Follower(follower) => follower,
        };
        match follower.opening().await {
            Opening::Head(head) if head.streamed => {
                exchange.cache_hit(Tokens::default(), None);
                return Ok(Begun::Answered(Reply::Replay {
                    status: head.status,
                    content_type: head.content_type,
                    chunks: Replay::Following(Box::new(follower)),
                }));
            }
            Opening::Head(head) => {
                let mut body = Vec::new();
                while let Some(chunks) = follower.next().await {
                    body.extend(chunks);
                }
                if !follower.answered() {
                    continue;
                }
                let (tokens, cost_usd) = follower.summary();
                exchange.cache_hit(tokens, cost_usd);
                return Ok(Begun::Answered(reply_of(CachedAnswer {
                    status: head.status,
                    content_type: head.content_type,
                    body: CachedBody::Whole(Bytes::from(body.concat())),
                    tokens,
                    cost_usd,
                })));
            }
            Opening::Failed(failure) => {
                exchange.set_cache_status(CacheStatus::Miss);
                return Ok(Begun::Answered(Reply::Rendered(failure)));
            }
            Opening::Abandoned => continue,
        }
    }
}

/// A cached answer as a reply: a stream's chunks replayed, a JSON body
/// (its usage left out: a hit spends nothing), another body as it is.
fn reply_of(answer: CachedAnswer) -> Reply {
    match answer.body {
        CachedBody::Chunks(chunks) => Reply::Replay {
            status: answer.status,
            content_type: answer.content_type,
            chunks: Replay::Kept(chunks),
        },
        CachedBody::Whole(body) if is_json(&answer.content_type) => Reply::Json {
            status: answer.status,
            body,
            usage: None,
        },
        CachedBody::Whole(body) => Reply::Body {
            status: answer.status,
            body,
            content_type: answer.content_type,
            usage: None,
        },
    }
}

fn is_json(content_type: &HeaderValue) -> bool {
    content_type.as_bytes().starts_with(b"application/json")
}

/// Where a replayed stream's chunks come from.
pub enum Replay {
    /// A kept answer's.
    Kept(Vec<Bytes>),
    /// An identical request's call, as it produces them.
    Following(Box<Follower>),
}

/// What a kept answer is stored as.
struct Keep {
    tiers: Arc<Tiers>,
    key: CacheKey,
    ttl: Duration,
    describe: Describe,
}

impl Keep {
    fn put(self, answer: CachedAnswer) {
        self.tiers.put(self.key, answer, self.ttl, self.describe);
    }

    /// Whether the answer came from the route keyed (not a fallback, nor
    /// another deployment).
    fn served_as_keyed(&self, exchange: &Exchange) -> bool {
        let record = exchange.record();
        self.served_by(record.provider.as_deref(), record.upstream_model.as_deref())
    }

    fn served_by(&self, provider: Option<&str>, model: Option<&str>) -> bool {
        provider == Some(self.describe.provider.as_str())
            && model == Some(self.describe.model.as_str())
    }
}

/// A request making the call for itself and its followers.
pub struct Lead {
    leader: Leader,
    keep: Keep,
}

impl Lead {
    /// Keeps a complete answer and hands it, or the error, to the
    /// followers; the reply goes on to the client (an error rendered in
    /// its protocol, as the followers get it). A stream is handed back
    /// for the relay to drive ([`Reply::KeptStream`]).
    pub(crate) async fn settle(
        self,
        result: Result<Reply, ApiError>,
        exchange: &mut Exchange,
    ) -> Result<Reply, ApiError> {
        let reply = match result {
            Ok(reply) => reply,
            Err(error) => {
                let failure = render(error, exchange).await;
                self.leader.failed(failure.clone());
                return Ok(Reply::Rendered(failure));
            }
        };
        let (status, body, content_type, usage) = match reply {
            Reply::Stream {
                upstream,
                framer,
                content_type,
            } => {
                return Ok(Reply::KeptStream {
                    upstream,
                    framer,
                    content_type,
                    lead: Box::new(self),
                });
            }
            Reply::Json {
                status,
                body,
                usage,
            } => (
                status,
                body,
                HeaderValue::from_static("application/json"),
                usage,
            ),
            Reply::Body {
                status,
                body,
                content_type,
                usage,
            } => (status, body, content_type, usage),
            other => return Ok(other),
        };
        if !status.is_success() {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, content_type.clone());
            self.leader.failed(Failure {
                status,
                headers,
                body: body.clone(),
            });
        } else {
            if let Some(usage) = usage {
                exchange.add_usage(usage);
            }
            let tokens = exchange.tokens();
            let cost_usd = exchange.cost_usd();
            if self.keep.served_as_keyed(exchange) {
                self.keep.put(CachedAnswer {
                    status,
                    content_type: content_type.clone(),
                    body: CachedBody::Whole(body.clone()),
                    tokens,
                    cost_usd,
                });
            }
            let head = Head {
                status,
                content_type: content_type.clone(),
                streamed: false,
            };
            self.leader.complete(head, body.clone(), tokens, cost_usd);
        }
        Ok(match content_type.as_bytes() {
            b"application/json" => Reply::Json {
                status,
                body,
                usage,
            },
            _ => Reply::Body {
                status,
                body,
                content_type,
                usage,
            },
        })
    }

    /// A stream's head, before its chunks.
    pub(crate) fn stream_head(&self, status: StatusCode, content_type: &'static str) {
        self.leader.head(Head {
            status,
            content_type: HeaderValue::from_static(content_type),
            streamed: true,
        });
    }

    /// A stream's next chunk.
    pub(crate) fn stream_chunk(&self, chunk: Bytes) {
        self.leader.chunk(chunk);
    }

    /// The stream read from its start, as the leader's client gets it.
    pub(crate) fn follower(&self) -> Follower {
        self.leader.follower()
    }

    /// The stream has ended: `ended` says how when it ended cleanly
    /// (it is kept when the route keyed served it).
    pub(crate) fn stream_end(
        self,
        status: StatusCode,
        content_type: &'static str,
        ended: Option<StreamEnded>,
        chunks: Vec<Bytes>,
    ) {
        let Some(ended) = ended else {
            self.leader.answered(Tokens::default(), None);
            return;
        };
        if self
            .keep
            .served_by(ended.provider.as_deref(), ended.model.as_deref())
        {
            self.keep.put(CachedAnswer {
                status,
                content_type: HeaderValue::from_static(content_type),
                body: CachedBody::Chunks(chunks),
                tokens: ended.tokens,
                cost_usd: ended.cost_usd,
            });
        }
        self.leader.answered(ended.tokens, ended.cost_usd);
    }
}

/// How a stream that ended cleanly went: what it took and cost, and the
/// provider and model that served it.
pub(crate) struct StreamEnded {
    pub tokens: Tokens,
    pub cost_usd: Option<f64>,
    pub provider: Option<String>,
    pub model: Option<String>,
}

/// An error rendered in the caller's protocol, as the followers get it.
async fn render(error: ApiError, exchange: &Exchange) -> Failure {
    let response = error.into_response_for(exchange.surface());
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    Failure {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}
