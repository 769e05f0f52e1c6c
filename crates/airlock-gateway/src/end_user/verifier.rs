//! `JwtVerifier`: the configured issuers, each with its cached key set.
//!
//! The hot path (a token whose key is cached and fresh) takes one read lock
//! and does no I/O. While an issuer has keys, fetches are attempted at most
//! once per [`MIN_REFRESH_INTERVAL`], whatever asks for them: a token with
//! an unknown `kid`, or a stale cache (refreshed in the background while the
//! stale keys keep serving). While it has none (its identity provider was
//! unreachable at start, say), a failed fetch is retried sooner: after
//! [`FIRST_RETRY`], then twice as long after each further failure, up to
//! the same interval; its tokens meanwhile are
//! [`JwtError::KeysUnavailable`] with the wait until the next attempt.
//! Fetches are serialised per issuer by an async mutex, so requests arriving
//! during a fetch wait for it and then use its result (the next attempt is
//! not due when it ends). A failed fetch keeps the keys already known.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use url::Url;

use super::fetch;
use super::jwks::{KeySet, Lookup};
use super::token::{self, Expectations};
use super::{Clock, EndUser, IssuerConfig, JwtError, SystemClock};

/// Least time between two key fetches for one issuer that has keys, and
/// the longest wait between two attempts for one that has none.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// The wait after the first failed fetch of an issuer that has no keys;
/// each further failure doubles it, up to [`MIN_REFRESH_INTERVAL`].
pub const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Verifies end users' ID tokens against the trusted issuers. Cheap to
/// clone (the caches are shared).
#[derive(Clone)]
pub struct JwtVerifier {
    issuers: Arc<HashMap<String, Arc<Issuer>>>,
    shared: Arc<Shared>,
}

/// What every issuer's fetches use.
struct Shared {
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

/// Where an issuer's keys are found.
enum KeySource {
    Jwks(Url),
    /// The issuer's OIDC discovery document, which names the JWKS.
    Discovery(Url),
}

struct Issuer {
    issuer: String,
    audiences: Vec<String>,
    user_claim: String,
    source: KeySource,
    cache: RwLock<Cache>,
    /// Held for the whole of a fetch: one fetch at a time per issuer.
    fetch: tokio::sync::Mutex<Discovered>,
    /// A background refresh is spawned and not finished.
    refreshing: AtomicBool,
}

#[derive(Default)]
struct Cache {
    keys: Option<Arc<KeySet>>,
    /// When the keys should be fetched again.
    fresh_until: Option<SystemTime>,
    /// When the last fetch started, whatever its outcome.
    last_attempt: Option<SystemTime>,
    /// Why the last fetch failed, if it did.
    last_error: Option<String>,
    /// Fetches failed in a row (0 once one succeeds).
    failures: u32,
}

/// The JWKS URL found by discovery, and until when it may be reused.
#[derive(Default)]
struct Discovered(Option<(Url, SystemTime)>);

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut issuers: Vec<&str> = self.issuers.keys().map(String::as_str).collect();
        issuers.sort_unstable();
        f.debug_struct("JwtVerifier")
            .field("issuers", &issuers)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// Checks the configuration (URLs parse, at least one audience, no
    /// issuer twice) and builds the verifier. No keys are fetched yet.
    pub fn new(issuers: Vec<IssuerConfig>) -> Result<Self, String> {
        Self::with_clock(issuers, Arc::new(SystemClock))
    }

    /// As [`JwtVerifier::new`], reading the time from `clock` (token
    /// validity and key cache ages alike).
    pub fn with_clock(issuers: Vec<IssuerConfig>, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let mut map = HashMap::with_capacity(issuers.len());
        for config in issuers {
            let issuer = Issuer::from_config(config)?;
            if map.contains_key(&issuer.issuer) {
                return Err(format!("issuer {:?} is configured twice", issuer.issuer));
            }
            map.insert(issuer.issuer.clone(), Arc::new(issuer));
        }
        Ok(JwtVerifier {
            issuers: Arc::new(map),
            shared: Arc::new(Shared {
                http: fetch::client()?,
                clock,
            }),
        })
    }

    /// Verifies `token` (a compact JWS) and names its end user.
    pub async fn verify(&self, token: &str) -> Result<EndUser, JwtError> {
        let parsed = token::parse(token)?;
        let issuer = self
            .issuers
            .get(token::issuer(&parsed.claims)?)
            .ok_or(JwtError::UnknownIssuer)?;
        let check = |keys: &KeySet| {
            keys.check(
                parsed.kid.as_deref(),
                parsed.alg,
                parsed.signing_input,
                &parsed.signature,
            )
        };

        let mut lookup = issuer.keys().as_deref().map(check);
        if lookup.is_none() || lookup == Some(Lookup::Unknown) {
            issuer.refresh(&self.shared).await;
            let Some(keys) = issuer.keys() else {
                return Err(issuer.unavailable(self.shared.clock.now()));
            };
            lookup = Some(check(&keys));
        } else {
            issuer.refresh_if_stale(&self.shared);
        }
        let expect = Expectations {
            issuer: &issuer.issuer,
            audiences: &issuer.audiences,
            user_claim: &issuer.user_claim,
        };
        conclude(
            lookup,
            &parsed.claims,
            &expect,
            unix_seconds(self.shared.clock.now()),
        )
    }

    /// Fetches the keys of every issuer that has none yet (at start-up, so
    /// the first requests need not wait). Failures are logged; `verify`
    /// tries again later.
    pub async fn prefetch(&self) {
        let pending = self.issuers.values().filter(|i| i.keys().is_none());
        let fetches = pending.map(|issuer| issuer.refresh(&self.shared));
        futures_util::future::join_all(fetches).await;
    }
}

/// The verdict once the token's keys have been looked up: its signature,
/// then its claims at `now` (Unix seconds).
fn conclude(
    lookup: Option<Lookup>,
    claims: &serde_json::Map<String, serde_json::Value>,
    expect: &Expectations<'_>,
    now: i64,
) -> Result<EndUser, JwtError> {
    match lookup {
        Some(Lookup::Valid) => token::validate(claims, expect, now),
        Some(Lookup::Invalid) => Err(JwtError::BadSignature),
        Some(Lookup::Unknown) | None => Err(JwtError::UnknownKey),
    }
}

/// [`JwtVerifier::verify`] for one issuer (`issuer`, accepting `audience`,
/// naming users by `sub`) whose keys are the JWKS document `jwks`, at `now`
/// (Unix seconds), with no fetch and no cache: the same parsing, signature
/// and claim checks. For the fuzz targets (`crate::fuzzing`).
pub(crate) fn verify_with_keys(
    issuer: &str,
    audience: &str,
    jwks: &[u8],
    token: &str,
    now: i64,
) -> Result<EndUser, JwtError> {
    let keys = KeySet::parse(jwks).map_err(|error| JwtError::KeysUnavailable {
        reason: error.into(),
        retry_after: FIRST_RETRY,
    })?;
    let parsed = token::parse(token)?;
    if token::issuer(&parsed.claims)? != issuer {
        return Err(JwtError::UnknownIssuer);
    }
    let lookup = keys.check(
        parsed.kid.as_deref(),
        parsed.alg,
        parsed.signing_input,
        &parsed.signature,
    );
    let expect = Expectations {
        issuer,
        audiences: &[audience.to_owned()],
        user_claim: "sub",
    };
    conclude(Some(lookup), &parsed.claims, &expect, now)
}

/// The wait after `failures` failed fetches in a row of an issuer with no
/// keys: [`FIRST_RETRY`], doubling, at most [`MIN_REFRESH_INTERVAL`].
fn retry_backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_RETRY
        .saturating_mul(1 << doublings)
        .min(MIN_REFRESH_INTERVAL)
}

/// `time + by`, without overflow (whatever the clock says).
fn later(time: SystemTime, by: Duration) -> SystemTime {
    time.checked_add(by).unwrap_or(time)
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

impl Issuer {
    fn from_config(config: IssuerConfig) -> Result<Issuer, String> {
        let IssuerConfig {
            issuer,
            audiences,
            jwks_url,
            user_claim,
        } = config;
        if issuer.is_empty() {
            return Err("an issuer is empty".into());
        }
        if audiences.is_empty() {
            return Err(format!("issuer {issuer:?} lists no audience"));
        }
        if audiences.iter().any(String::is_empty) {
            return Err(format!("issuer {issuer:?} lists an empty audience"));
        }
        let source = match jwks_url {
            Some(url) => KeySource::Jwks(
                fetch::http_url(&url)
                    .map_err(|e| format!("issuer {issuer:?}: jwks_url {url:?}: {e}"))?,
            ),
            None => {
                let url = fetch::http_url(&issuer).map_err(|e| {
                    format!(
                        "issuer {issuer:?} is not an http(s) URL ({e}), so its keys cannot \
                         be discovered: give its jwks_url"
                    )
                })?;
                KeySource::Discovery(fetch::discovery_url(&url))
            }
        };
        let user_claim = user_claim.unwrap_or_else(|| "sub".into());
        if user_claim.is_empty() {
            return Err(format!("issuer {issuer:?}: user_claim is empty"));
        }
        Ok(Issuer {
            issuer,
            audiences,
            user_claim,
            source,
            cache: RwLock::default(),
            fetch: tokio::sync::Mutex::default(),
            refreshing: AtomicBool::new(false),
        })
    }

    /// The cached keys.
    fn keys(&self) -> Option<Arc<KeySet>> {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        cache.keys.clone()
    }

    /// Why the issuer has no keys, and how long until the next attempt
    /// (at least a second: what `Retry-After` can say).
    fn unavailable(&self, now: SystemTime) -> JwtError {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        let retry_after = Self::next_attempt(&cache)
            .and_then(|next| next.duration_since(now).ok())
            .unwrap_or_default()
            .max(FIRST_RETRY);
        JwtError::KeysUnavailable {
            reason: cache
                .last_error
                .clone()
                .unwrap_or_else(|| "no keys fetched yet".into()),
            retry_after,
        }
    }

    /// When the next fetch may start (`None`: at once, none was made). With
    /// keys, [`MIN_REFRESH_INTERVAL`] after the last; without, the backoff
    /// of the failures so far.
    fn next_attempt(cache: &Cache) -> Option<SystemTime> {
        let wait = if cache.keys.is_some() {
            MIN_REFRESH_INTERVAL
        } else {
            retry_backoff(cache.failures)
        };
        cache.last_attempt.map(|last| later(last, wait))
    }

    /// Whether a fetch may start at `now` (a clock gone back allows one).
    fn may_fetch(cache: &Cache, now: SystemTime) -> bool {
        match (cache.last_attempt, Self::next_attempt(cache)) {
            (Some(last), Some(next)) => now < last || now >= next,
            _ => true,
        }
    }

    /// Fetches the keys, unless the last fetch is too recent. Waits for a
    /// fetch in flight (and then, the interval not having passed, uses its
    /// result).
    async fn refresh(&self, shared: &Shared) {
        let mut discovered = self.fetch.lock().await;
        let now = shared.clock.now();
        {
            let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
            if !Self::may_fetch(&cache, now) {
                return;
            }
            cache.last_attempt = Some(now);
        }
        let result = self.fetch_keys(shared, &mut discovered, now).await;
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok((keys, lifetime)) => {
                tracing::debug!(issuer = %self.issuer, keys = keys.len(), "fetched the issuer's signing keys");
                cache.keys = Some(Arc::new(keys));
                cache.fresh_until = Some(later(now, lifetime));
                cache.last_error = None;
                cache.failures = 0;
            }
            Err(error) => {
                cache.failures = cache.failures.saturating_add(1);
                tracing::warn!(
                    issuer = %self.issuer,
                    %error,
                    cached = cache.keys.is_some(),
                    failures = cache.failures,
                    "could not fetch the issuer's signing keys"
                );
                cache.last_error = Some(error);
            }
        }
    }

    /// Starts a background refresh when the cached keys are past their
    /// lifetime (and a fetch is allowed); never waits.
    fn refresh_if_stale(self: &Arc<Self>, shared: &Arc<Shared>) {
        let now = shared.clock.now();
        {
            let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
            let stale = cache.fresh_until.is_none_or(|until| now >= until);
            if !stale || !Self::may_fetch(&cache, now) {
                return;
            }
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (issuer, shared) = (Arc::clone(self), Arc::clone(shared));
        runtime.spawn(async move {
            // Cleared however the task ends.
            struct Done(Arc<Issuer>);
            impl Drop for Done {
                fn drop(&mut self) {
                    self.0.refreshing.store(false, Ordering::Release);
                }
            }
            let done = Done(issuer);
            done.0.refresh(&shared).await;
        });
    }

    async fn fetch_keys(
        &self,
        shared: &Shared,
        discovered: &mut Discovered,
        now: SystemTime,
    ) -> Result<(KeySet, Duration), String> {
        let (url, from_discovery) = match &self.source {
            KeySource::Jwks(url) => (url.clone(), false),
            KeySource::Discovery(well_known) => (
                self.discover(shared, well_known, discovered, now).await?,
                true,
            ),
        };
        let result = async {
            let fetched = fetch::get(&shared.http, &url)
                .await
                .map_err(|e| format!("key set: {e}"))?;
            let keys = KeySet::parse(&fetched.body)?;
            Ok((keys, fetched.lifetime))
        }
        .await;
        if result.is_err() && from_discovery {
            // The JWKS may have moved: discover again on the next attempt.
            if let Some((_, until)) = &mut discovered.0 {
                *until = now;
            }
        }
        result
    }

    /// The JWKS URL named by the discovery document, cached for the
    /// document's lifetime; a failed discovery falls back on the last URL.
    async fn discover(
        &self,
        shared: &Shared,
        well_known: &Url,
        discovered: &mut Discovered,
        now: SystemTime,
    ) -> Result<Url, String> {
        match &discovered.0 {
            Some((url, until)) if now < *until => return Ok(url.clone()),
            _ => {}
        }
        let found = fetch::get(&shared.http, well_known)
            .await
            .and_then(|doc| Ok((fetch::jwks_uri(&doc.body, &self.issuer)?, doc.lifetime)))
            .map_err(|e| format!("discovery: {e}"));
        match (found, &discovered.0) {
            (Ok((url, lifetime)), _) => {
                discovered.0 = Some((url.clone(), later(now, lifetime)));
                Ok(url)
            }
            (Err(error), Some((url, _))) => {
                tracing::warn!(issuer = %self.issuer, %error, "OIDC discovery failed; using the last jwks_uri");
                Ok(url.clone())
            }
            (Err(error), None) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_a_second_to_the_refresh_interval() {
        let secs: Vec<u64> = (0..8).map(|n| retry_backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(retry_backoff(u32::MAX), MIN_REFRESH_INTERVAL);
    }
}
