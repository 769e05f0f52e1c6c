//! End users' JWT verification against a local issuer (JWKS and OIDC
//! discovery served on 127.0.0.1), with time controlled by a test clock.
//!
//! RSA keys are the test-only fixtures under `tests/fixtures/`; P-256 keys
//! are generated per test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use airlock_gateway::end_user::{
    Clock, EndUser, FIRST_RETRY, IssuerConfig, JwtError, JwtVerifier, MIN_REFRESH_INTERVAL,
};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents,
};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};

const ISSUER: &str = "https://issuer.test/app";
const AUDIENCE: &str = "my-app";
/// The test clock's start, in Unix seconds.
const T0: u64 = 1_750_000_000;
/// Bounds every wait on the server (never reached when the code is right).
const PATIENCE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------- clock --

struct TestClock(Mutex<SystemTime>);

impl TestClock {
    fn new() -> Arc<Self> {
        Arc::new(TestClock(Mutex::new(UNIX_EPOCH + Duration::from_secs(T0))))
    }

    fn advance(&self, secs: u64) {
        *self.0.lock().unwrap() += Duration::from_secs(secs);
    }

    fn unix(&self) -> i64 {
        self.now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

// ----------------------------------------------------------------- keys --

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

struct Signer {
    kid: String,
    pair: Pair,
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Signer {
    /// One of the test-only RSA keys (`a`, `b` or `c`).
    fn rsa(fixture: &str, kid: &str) -> Signer {
        let path = format!(
            "{}/tests/fixtures/test-only-rsa-{fixture}.pem",
            env!("CARGO_MANIFEST_DIR")
        );
        let pem = std::fs::read_to_string(path).unwrap();
        let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let pair = RsaKeyPair::from_pkcs8(&STANDARD.decode(der).unwrap()).unwrap();
        Signer {
            kid: kid.into(),
            pair: Pair::Rsa(pair),
        }
    }

    fn ec(kid: &str) -> Signer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Signer {
            kid: kid.into(),
            pair: Pair::Ec(pair),
        }
    }

    fn alg(&self) -> &'static str {
        match self.pair {
            Pair::Rsa(_) => "RS256",
            Pair::Ec(_) => "ES256",
        }
    }

    fn jwk(&self) -> Value {
        match &self.pair {
            Pair::Rsa(pair) => {
                let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                       "n": b64(&public.n), "e": b64(&public.e)})
            }
            Pair::Ec(pair) => {
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "use": "sig", "crv": "P-256", "kid": self.kid,
                       "x": b64(&point[1..33]), "y": b64(&point[33..])})
            }
        }
    }

    /// The public key's bytes (what an HS256 forger would use as secret).
    fn public_bytes(&self) -> Vec<u8> {
        match &self.pair {
            Pair::Rsa(pair) => pair.public().as_ref().to_vec(),
            Pair::Ec(pair) => pair.public_key().as_ref().to_vec(),
        }
    }

    fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(serde_json::to_vec(header).unwrap()),
            b64(serde_json::to_vec(claims).unwrap())
        );
        let rng = SystemRandom::new();
        let signature = match &self.pair {
            Pair::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut signature)
                    .unwrap();
                signature
            }
            Pair::Ec(pair) => pair.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        };
        format!("{input}.{}", b64(signature))
    }

    fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": self.alg(), "typ": "JWT", "kid": self.kid});
        self.sign_with_header(&header, claims)
    }

    /// A valid token for `subject` at the clock's time.
    fn token(&self, clock: &TestClock, subject: &str) -> String {
        self.sign(&claims(clock, subject))
    }
}

fn claims(clock: &TestClock, subject: &str) -> Value {
    let now = clock.unix();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": subject,
           "iat": now - 10, "nbf": now - 10, "exp": now + 3600})
}

fn jwks(signers: &[&Signer]) -> Value {
    json!({"keys": signers.iter().map(|s| s.jwk()).collect::<Vec<_>>()})
}

// --------------------------------------------------------------- server --

/// A local issuer: `/jwks`, `/tenant/.well-known/openid-configuration`.
struct Issuer {
    base: String,
    state: Arc<ServerState>,
    task: tokio::task::JoinHandle<()>,
}

struct ServerState {
    jwks: Mutex<Value>,
    status: Mutex<StatusCode>,
    cache_control: Mutex<Option<&'static str>>,
    /// When set, each JWKS answer waits for a permit.
    gate: Mutex<Option<Arc<Semaphore>>>,
    /// Overrides the discovery document's `issuer`.
    discovered_issuer: Mutex<Option<String>>,
    jwks_hits: watch::Sender<usize>,
    discovery_hits: AtomicUsize,
    base: String,
}

async fn serve_jwks(State(state): State<Arc<ServerState>>) -> Response {
    state.jwks_hits.send_modify(|hits| *hits += 1);
    let gate = state.gate.lock().unwrap().clone();
    if let Some(gate) = gate {
        gate.acquire().await.unwrap().forget();
    }
    let status = *state.status.lock().unwrap();
    let body = state.jwks.lock().unwrap().to_string();
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(value) = *state.cache_control.lock().unwrap() {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    (status, headers, body).into_response()
}

async fn serve_discovery(State(state): State<Arc<ServerState>>) -> Response {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let issuer = state
        .discovered_issuer
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| format!("{}/tenant", state.base));
    axum::Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/jwks", state.base),
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
    .into_response()
}

async fn serve_huge() -> Response {
    let mut keys = vec![json!({"kty": "oct", "k": "c2VjcmV0"}); 1];
    keys.push(json!({"padding": "x".repeat(2 * 1024 * 1024)}));
    axum::Json(json!({"keys": keys})).into_response()
}

/// More than a mebibyte, streamed without a `Content-Length`.
async fn serve_endless() -> Response {
    let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
    let chunks = std::iter::repeat_n(chunk, 32).map(Ok::<_, std::io::Error>);
    axum::body::Body::from_stream(futures_util::stream::iter(chunks)).into_response()
}

impl Issuer {
    async fn start(keys: Value) -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(ServerState {
            jwks: Mutex::new(keys),
            status: Mutex::new(StatusCode::OK),
            cache_control: Mutex::new(None),
            gate: Mutex::new(None),
            discovered_issuer: Mutex::new(None),
            jwks_hits: watch::Sender::new(0),
            discovery_hits: AtomicUsize::new(0),
            base: base.clone(),
        });
        let app = Router::new()
            .route("/jwks", get(serve_jwks))
            .route("/huge", get(serve_huge))
            .route("/endless", get(serve_endless))
            .route(
                "/tenant/.well-known/openid-configuration",
                get(serve_discovery),
            )
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Issuer { base, state, task }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn set_keys(&self, keys: Value) {
        *self.state.jwks.lock().unwrap() = keys;
    }

    fn set_status(&self, status: StatusCode) {
        *self.state.status.lock().unwrap() = status;
    }

    fn set_cache_control(&self, value: &'static str) {
        *self.state.cache_control.lock().unwrap() = Some(value);
    }

    fn jwks_hits(&self) -> usize {
        *self.state.jwks_hits.borrow()
    }

    fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    /// Waits until the JWKS has been requested `n` times.
    async fn wait_for_jwks_hits(&self, n: usize) {
        let mut hits = self.state.jwks_hits.subscribe();
        tokio::time::timeout(PATIENCE, hits.wait_for(|hits| *hits >= n))
            .await
            .expect("the JWKS was not requested in time")
            .unwrap();
    }
}

fn config(jwks_url: Option<String>) -> IssuerConfig {
    IssuerConfig {
        issuer: ISSUER.into(),
        audiences: vec!["another-app".into(), AUDIENCE.into()],
        jwks_url,
        user_claim: None,
    }
}

/// A verifier trusting `ISSUER`, whose keys `issuer` serves at `/jwks`.
fn verifier_for(issuer: &Issuer, clock: &Arc<TestClock>) -> JwtVerifier {
    JwtVerifier::with_clock(
        vec![config(Some(issuer.url("/jwks")))],
        Arc::clone(clock) as Arc<dyn Clock>,
    )
    .unwrap()
}

/// The error for an issuer whose keys could not be fetched.
fn unavailable(reason: &str, retry_after: Duration) -> JwtError {
    JwtError::KeysUnavailable {
        reason: reason.into(),
        retry_after,
    }
}

fn user(subject: &str) -> EndUser {
    EndUser {
        issuer: ISSUER.into(),
        subject: subject.into(),
    }
}

// ---------------------------------------------------------------- tests --

#[tokio::test]
async fn accepts_valid_rs256_and_es256_tokens() {
    let (rsa, ec) = (Signer::rsa("a", "rsa-a"), Signer::ec("ec-1"));
    let issuer = Issuer::start(jwks(&[&rsa, &ec])).await;
    let clock = TestClock::new();
    let verifier = verifier_for(&issuer, &clock);

    assert_eq!(
        verifier.verify(&rsa.token(&clock, "alice")).await.unwrap(),
        user("alice")
    );
    assert_eq!(
        verifier.verify(&ec.token(&clock, "bob")).await.unwrap(),
        user("bob")
    );
    assert_eq!(issuer.jwks_hits(), 1, "one fetch serves both keys");

    // `aud` as an array, a token without kid, fractional times.
    let mut claims = claims(&clock, "carol");
    claims["aud"] = json!(["someone-else", AUDIENCE]);
    claims["exp"] = json!(clock.unix() as f64 + 100.5);
    assert_eq!(
        verifier.verify(&rsa.sign(&claims)).await.unwrap(),
        user("carol")
    );
    let no_kid = rsa.sign_with_header(&json!({"alg": "RS256"}), &claims);
    assert_eq!(verifier.verify(&no_kid).await.unwrap(), user("carol"));
    assert_eq!(issuer.jwks_hits(), 1);
}

#[tokio::test]
async fn cached_keys_verify_without_network_io() {
    let (rsa, ec) = (Signer::rsa("a", "rsa-a"), Signer::ec("ec-1"));
    let issuer = Issuer::start(jwks(&[&rsa, &ec])).await;
    let clock = TestClock::new();
    let verifier = verifier_for(&issuer, &clock);
    verifier.verify(&rsa.token(&clock, "alice")).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 1);

    for i in 0..50 {
        clock.advance(10);
        let signer = if i % 2 == 0 { &rsa } else { &ec };
        verifier
            .verify(&signer.token(&clock, "alice"))
            .await
            .unwrap();
    }
    assert_eq!(issuer.jwks_hits(), 1, "the hot path fetched keys");

    // With the issuer gone entirely, cached keys still verify.
    issuer.task.abort();
    let _ = issuer.task.await;
    verifier.verify(&ec.token(&clock, "alice")).await.unwrap();
}

#[tokio::test]
async fn rejects_forged_and_tampered_tokens() {
    let (rsa, ec) = (Signer::rsa("a", "rsa-a"), Signer::ec("ec-1"));
    let issuer = Issuer::start(jwks(&[&rsa, &ec])).await;
    let clock = TestClock::new();
    let verifier = verifier_for(&issuer, &clock);

    // Signed by other keys that claim the trusted kids.
    let forged_rsa = Signer::rsa("c", "rsa-a");
    let forged_ec = Signer::ec("ec-1");
    for forged in [&forged_rsa, &forged_ec] {
        assert_eq!(
            verifier.verify(&forged.token(&clock, "mallory")).await,
            Err(JwtError::BadSignature)
        );
    }

    // A genuine signature over other claims.
    let genuine = rsa.token(&clock, "alice");
    let (_, _, signature) = split(&genuine);
    let altered = rsa.token(&clock, "mallory");
    let (header, payload, _) = split(&altered);
    assert_eq!(
        verifier
            .verify(&format!("{header}.{payload}.{signature}"))
            .await,
        Err(JwtError::BadSignature)
    );

    // An ES256 header on an RSA key's kid, and the reverse.
    let es_on_rsa = ec.sign_with_header(
        &json!({"alg": "ES256", "kid": "rsa-a"}),
        &claims(&clock, "m"),
    );
    let rs_on_ec = rsa.sign_with_header(
        &json!({"alg": "RS256", "kid": "ec-1"}),
        &claims(&clock, "m"),
    );
    for token in [es_on_rsa, rs_on_ec] {
        assert_eq!(verifier.verify(&token).await, Err(JwtError::BadSignature));
    }
    assert_eq!(issuer.jwks_hits(), 1, "known kids need no refresh");
}

fn split(token: &str) -> (&str, &str, &str) {
    let mut parts = token.split('.');
    (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    )
}

#[tokio::test]
async fn checks_times_audience_and_issuer() {
    let rsa = Signer::rsa("a", "rsa-a");
    let issuer = Issuer::start(jwks(&[&rsa])).await;
    let clock = TestClock::new();
    let verifier = verifier_for(&issuer, &clock);
    let now = clock.unix();

    let cases = [
        (json!({"exp": now - 61}), Err(JwtError::Expired)),
        (json!({"exp": now - 30}), Ok(())), // within the leeway
        (json!({"nbf": now + 120}), Err(JwtError::NotYetValid)),
        (json!({"nbf": now + 30}), Ok(())),
        (json!({"iat": now + 120}), Err(JwtError::NotYetValid)),
        (json!({"aud": "other-app"}), Err(JwtError::WrongAudience)),
        (json!({"aud": ["x", "y"]}), Err(JwtError::WrongAudience)),
        (
            json!({"iss": "https://evil.test/app"}),
            Err(JwtError::UnknownIssuer),
        ),
        (
            json!({"iss": "https://issuer.test/app/"}),
            Err(JwtError::UnknownIssuer),
        ),
        (
            json!({"exp": null}),
            Err(JwtError::MissingClaim("exp".into())),
        ),
        (
            json!({"aud": null}),
            Err(JwtError::MissingClaim("aud".into())),
        ),
        (
            json!({"sub": null}),
            Err(JwtError::MissingClaim("sub".into())),
        ),
        (
            json!({"iss": null}),
            Err(JwtError::MissingClaim("iss".into())),
        ),
    ];
    for (changes, expected) in cases {
        let mut claims = claims(&clock, "alice");
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        let result = verifier.verify(&rsa.sign(&claims)).await;
        assert_eq!(result.map(|_| ()), expected, "{changes}");
    }

    // A token valid now expires as the clock moves on.
    let token = rsa.token(&clock, "alice");
    verifier.verify(&token).await.unwrap();
    clock.advance(3600 + 60);
    assert_eq!(verifier.verify(&token).await, Err(JwtError::Expired));
}

#[tokio::test]
async fn refuses_none_hmac_and_other_algorithms() {
    let rsa = Signer::rsa("a", "rsa-a");
    let issuer = Issuer::start(jwks(&[&rsa])).await;
    let clock = TestClock::new();
    let verifier = verifier_for(&issuer, &clock);
    let claims = claims(&clock, "mallory");
    let encode = |header: Value| {
        format!(
            "{}.{}",
            b64(serde_json::to_vec(&header).unwrap()),
            b64(serde_json::to_vec(&claims).unwrap())
        )
    };

    // alg none, with and without a signature.
    let none = encode(json!({"alg": "none"}));
    for token in [format!("{none}."), format!("{none}.c2ln")] {
        assert_eq!(
            verifier.verify(&token).await,
            Err(JwtError::UnsupportedAlgorithm)
        );
    }

    // HS256 with the RSA public key as the HMAC secret.
    let input = encode(json!({"alg": "HS256", "kid": "rsa-a"}));
    let secret = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &rsa.public_bytes());
    let tag = ring::hmac::sign(&secret, input.as_bytes());
    let token = format!("{input}.{}", b64(tag.as_ref()));
    assert_eq!(
        verifier.verify(&token).await,
        Err(JwtError::UnsupportedAlgorithm)
    );
    let jwk_secret =
        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, rsa.jwk().to_string().as_bytes());
    let token = format!(
        "{input}.{}",
        b64(ring::hmac::sign(&jwk_secret, input.as_bytes()).as_ref())
    );
    assert_eq!(
        verifier.verify(&token).await,
        Err(JwtError::UnsupportedAlgorithm)
    );

    // Others, even validly signed with the trusted RSA key.
    for alg in ["RS512", "PS256", "ES384", "EdDSA", "HS512"] {
        let token = rsa.sign_with_header(&json!({"alg": alg, "kid": "rsa-a"}), &claims);
        assert_eq!(
            verifier.verify(&token).await,
            Err(JwtError::UnsupportedAlgorithm),
            "{alg}"
        );
    }
    assert_eq!(issuer.jwks_hits(), 0, "refused before any key was needed");
}

#[tokio::test]
async fn unknown_kid_refreshes_and_picks_up_a_rotated_key() {
    let (old, new) = (Signer::rsa("a", "2024"), Signer::rsa("b", "2025"));
    let issuer = Issuer::start(jwks(&[&old])).await;
    let clock = TestClock::new();
    let verifier = verifier_for(&issuer, &clock);
    verifier.verify(&old.token(&clock, "alice")).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 1);

    // The issuer rotates; a refresh is due once the rate limit allows it.
    issuer.set_keys(jwks(&[&old, &new]));
    let token = new.token(&clock, "alice");
    assert_eq!(verifier.verify(&token).await, Err(JwtError::UnknownKey));
    assert_eq!(issuer.jwks_hits(), 1, "refreshed within the rate limit");

    clock.advance(MIN_REFRESH_INTERVAL.as_secs());
    let token = new.token(&clock, "alice");
    assert_eq!(verifier.verify(&token).await.unwrap(), user("alice"));
    assert_eq!(issuer.jwks_hits(), 2);
    verifier.verify(&token).await.unwrap();
    verifier.verify(&old.token(&clock, "bob")).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_refreshes_are_rate_limited_and_shared() {
    let (old, new) = (Signer::rsa("a", "2024"), Signer::ec("2025"));
    let issuer = Issuer::start(jwks(&[&old])).await;
    let clock = TestClock::new();
    let verifier = verifier_for(&issuer, &clock);
    verifier.verify(&old.token(&clock, "alice")).await.unwrap();
    clock.advance(31);

    // The issuer rotates, and answers slowly: concurrent requests for the
    // new kid pile up behind one fetch and share its result.
    issuer.set_keys(jwks(&[&old, &new]));
    let gate = Arc::new(Semaphore::new(0));
    *issuer.state.gate.lock().unwrap() = Some(Arc::clone(&gate));
    let token = new.token(&clock, "alice");
    let mut waiting = Vec::new();
    for _ in 0..20 {
        let (verifier, token) = (verifier.clone(), token.clone());
        waiting.push(tokio::spawn(async move { verifier.verify(&token).await }));
    }
    issuer.wait_for_jwks_hits(2).await;
    let ghost = Signer::ec("ghost");
    let ghosts: Vec<_> = (0..5)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), ghost.token(&clock, "mallory"));
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    gate.add_permits(100);
    for task in waiting {
        assert_eq!(task.await.unwrap(), Ok(user("alice")));
    }
    for task in ghosts {
        assert_eq!(task.await.unwrap(), Err(JwtError::UnknownKey));
    }
    assert_eq!(issuer.jwks_hits(), 2, "one fetch for all");

    // Unknown kids within the interval do not fetch again.
    for _ in 0..10 {
        clock.advance(2);
        let token = ghost.token(&clock, "mallory");
        assert_eq!(verifier.verify(&token).await, Err(JwtError::UnknownKey));
    }
    assert_eq!(issuer.jwks_hits(), 2);

    // Once the interval has passed, one more.
    clock.advance(MIN_REFRESH_INTERVAL.as_secs());
    for _ in 0..3 {
        let token = ghost.token(&clock, "mallory");
        assert_eq!(verifier.verify(&token).await, Err(JwtError::UnknownKey));
    }
    assert_eq!(issuer.jwks_hits(), 3);
}

#[tokio::test]
async fn stale_keys_are_refreshed_in_the_background() {
    let (old, new) = (Signer::rsa("a", "2024"), Signer::rsa("b", "2025"));
    let issuer = Issuer::start(jwks(&[&old])).await;
    issuer.set_cache_control("public, max-age=120");
    let clock = TestClock::new();
    let verifier = verifier_for(&issuer, &clock);
    verifier.verify(&old.token(&clock, "alice")).await.unwrap();

    clock.advance(100);
    verifier.verify(&old.token(&clock, "alice")).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 1, "fresh for max-age");

    // Past max-age: the stale key still answers at once, and a refresh
    // starts in the background. The issuer has meanwhile dropped that key.
    issuer.set_keys(jwks(&[&new]));
    clock.advance(21);
    assert_eq!(
        verifier.verify(&old.token(&clock, "alice")).await.unwrap(),
        user("alice")
    );
    issuer.wait_for_jwks_hits(2).await;

    // The new key verifies (from the refreshed cache or by joining the
    // fetch in flight); the dropped one no longer does.
    verifier.verify(&new.token(&clock, "bob")).await.unwrap();
    assert_eq!(
        verifier.verify(&old.token(&clock, "alice")).await,
        Err(JwtError::UnknownKey)
    );
    assert_eq!(issuer.jwks_hits(), 2);
}

#[tokio::test]
async fn cache_lifetime_has_a_floor_and_a_default() {
    for (cache_control, lifetime) in [
        (Some("max-age=5"), 60),
        (Some("no-store"), 60),
        (None, 3600),
    ] {
        let rsa = Signer::rsa("a", "rsa-a");
        let issuer = Issuer::start(jwks(&[&rsa])).await;
        if let Some(value) = cache_control {
            issuer.set_cache_control(value);
        }
        let clock = TestClock::new();
        let verifier = verifier_for(&issuer, &clock);
        verifier.verify(&rsa.token(&clock, "alice")).await.unwrap();

        clock.advance(lifetime - 1);
        verifier.verify(&rsa.token(&clock, "alice")).await.unwrap();
        assert_eq!(issuer.jwks_hits(), 1, "{cache_control:?}");

        clock.advance(1);
        verifier.verify(&rsa.token(&clock, "alice")).await.unwrap();
        issuer.wait_for_jwks_hits(2).await;
    }
}

#[tokio::test]
async fn failed_refreshes_keep_the_cached_keys() {
    let rsa = Signer::rsa("a", "rsa-a");
    let issuer = Issuer::start(jwks(&[&rsa])).await;
    let clock = TestClock::new();
    let verifier = verifier_for(&issuer, &clock);
    verifier.verify(&rsa.token(&clock, "alice")).await.unwrap();

    issuer.set_status(StatusCode::SERVICE_UNAVAILABLE);
    clock.advance(3600);
    verifier.verify(&rsa.token(&clock, "alice")).await.unwrap();
    issuer.wait_for_jwks_hits(2).await;
    verifier.verify(&rsa.token(&clock, "alice")).await.unwrap();

    // An unknown kid's refresh fails too: still an unknown key, and the
    // known one still verifies.
    clock.advance(MIN_REFRESH_INTERVAL.as_secs());
    let ghost = Signer::ec("ghost");
    assert_eq!(
        verifier.verify(&ghost.token(&clock, "m")).await,
        Err(JwtError::UnknownKey)
    );
    assert_eq!(issuer.jwks_hits(), 3);
    verifier.verify(&rsa.token(&clock, "alice")).await.unwrap();

    // A document without usable keys does not replace them either.
    issuer.set_status(StatusCode::OK);
    issuer.set_keys(json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}));
    clock.advance(MIN_REFRESH_INTERVAL.as_secs());
    assert_eq!(
        verifier.verify(&ghost.token(&clock, "m")).await,
        Err(JwtError::UnknownKey)
    );
    assert_eq!(issuer.jwks_hits(), 4);
    verifier.verify(&rsa.token(&clock, "alice")).await.unwrap();
}

#[tokio::test]
async fn no_keys_at_all_is_keys_unavailable() {
    let rsa = Signer::rsa("a", "rsa-a");
    let issuer = Issuer::start(jwks(&[&rsa])).await;
    issuer.set_status(StatusCode::INTERNAL_SERVER_ERROR);
    let clock = TestClock::new();
    let verifier = verifier_for(&issuer, &clock);

    let error = verifier
        .verify(&rsa.token(&clock, "alice"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        unavailable("key set: answered HTTP 500", FIRST_RETRY)
    );
    assert!(!error.to_string().contains("127.0.0.1"), "{error}");
    // Failing fetches are rate limited too.
    let error = verifier
        .verify(&rsa.token(&clock, "alice"))
        .await
        .unwrap_err();
    assert!(matches!(error, JwtError::KeysUnavailable { .. }));
    assert_eq!(issuer.jwks_hits(), 1);

    issuer.set_status(StatusCode::OK);
    clock.advance(MIN_REFRESH_INTERVAL.as_secs());
    verifier.verify(&rsa.token(&clock, "alice")).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 2);
}

#[tokio::test]
async fn an_issuer_without_keys_is_retried_with_a_doubling_backoff() {
    let rsa = Signer::rsa("a", "rsa-a");
    let issuer = Issuer::start(jwks(&[&rsa])).await;
    issuer.set_status(StatusCode::SERVICE_UNAVAILABLE);
    let clock = TestClock::new();
    let verifier = verifier_for(&issuer, &clock);
    let reason = "key set: answered HTTP 503";

    // Each failure doubles the wait before the next attempt (1, 2, 4, 8,
    // 16 s, then the refresh interval), and the error says how long is left.
    let mut hits = 0;
    for wait in [1, 2, 4, 8, 16, 30, 30] {
        assert_eq!(
            verifier.verify(&rsa.token(&clock, "alice")).await,
            Err(unavailable(reason, Duration::from_secs(wait)))
        );
        hits += 1;
        assert_eq!(issuer.jwks_hits(), hits);
        if wait > 1 {
            clock.advance(wait - 1);
            assert_eq!(
                verifier.verify(&rsa.token(&clock, "alice")).await,
                Err(unavailable(reason, Duration::from_secs(1))),
                "{wait} s: not due yet"
            );
            assert_eq!(issuer.jwks_hits(), hits);
            clock.advance(1);
        } else {
            clock.advance(wait);
        }
    }

    // The issuer is back: the next attempt, due now, fetches the keys.
    issuer.set_status(StatusCode::OK);
    verifier.verify(&rsa.token(&clock, "alice")).await.unwrap();
    assert_eq!(issuer.jwks_hits(), hits + 1);

    // With keys cached, an unknown kid is an unknown key, fetched again
    // only once the refresh interval has passed.
    let ghost = Signer::ec("ghost");
    clock.advance(FIRST_RETRY.as_secs());
    assert_eq!(
        verifier.verify(&ghost.token(&clock, "m")).await,
        Err(JwtError::UnknownKey)
    );
    assert_eq!(issuer.jwks_hits(), hits + 1);
    clock.advance(MIN_REFRESH_INTERVAL.as_secs());
    assert_eq!(
        verifier.verify(&ghost.token(&clock, "m")).await,
        Err(JwtError::UnknownKey)
    );
    assert_eq!(issuer.jwks_hits(), hits + 2);
}

#[tokio::test]
async fn bad_key_sources_are_keys_unavailable() {
    let rsa = Signer::rsa("a", "rsa-a");
    let issuer = Issuer::start(jwks(&[&rsa])).await;
    let clock = TestClock::new();
    // Nothing listening.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/jwks", listener.local_addr().unwrap())
    };
    for (url, reason) in [
        (
            issuer.url("/huge"),
            "key set: document larger than 1048576 bytes",
        ),
        (
            issuer.url("/endless"),
            "key set: document larger than 1048576 bytes",
        ),
        (issuer.url("/missing"), "key set: answered HTTP 404"),
        (closed, "key set: could not connect"),
    ] {
        let verifier = JwtVerifier::with_clock(
            vec![config(Some(url))],
            Arc::clone(&clock) as Arc<dyn Clock>,
        )
        .unwrap();
        assert_eq!(
            verifier.verify(&rsa.token(&clock, "alice")).await,
            Err(unavailable(reason, FIRST_RETRY))
        );
    }
}

#[tokio::test]
async fn discovers_the_jwks_when_no_url_is_configured() {
    let (old, new) = (Signer::rsa("a", "2024"), Signer::ec("2025"));
    let issuer = Issuer::start(jwks(&[&old])).await;
    let clock = TestClock::new();
    let name = issuer.url("/tenant");
    let verifier = JwtVerifier::with_clock(
        vec![IssuerConfig {
            issuer: name.clone(),
            audiences: vec![AUDIENCE.into()],
            jwks_url: None,
            user_claim: None,
        }],
        Arc::clone(&clock) as Arc<dyn Clock>,
    )
    .unwrap();
    let token_for = |signer: &Signer, clock: &TestClock| {
        let mut claims = claims(clock, "alice");
        claims["iss"] = json!(name);
        signer.sign(&claims)
    };

    let expected = EndUser {
        issuer: name.clone(),
        subject: "alice".into(),
    };
    assert_eq!(
        verifier.verify(&token_for(&old, &clock)).await.unwrap(),
        expected
    );
    verifier.verify(&token_for(&old, &clock)).await.unwrap();
    assert_eq!((issuer.discovery_hits(), issuer.jwks_hits()), (1, 1));

    // A rotation refetches the keys, not the (still fresh) discovery.
    issuer.set_keys(jwks(&[&old, &new]));
    clock.advance(MIN_REFRESH_INTERVAL.as_secs());
    verifier.verify(&token_for(&new, &clock)).await.unwrap();
    assert_eq!((issuer.discovery_hits(), issuer.jwks_hits()), (1, 2));
}

#[tokio::test]
async fn discovery_must_name_the_same_issuer() {
    let rsa = Signer::rsa("a", "rsa-a");
    let issuer = Issuer::start(jwks(&[&rsa])).await;
    *issuer.state.discovered_issuer.lock().unwrap() = Some("https://evil.test".into());
    let clock = TestClock::new();
    let name = issuer.url("/tenant");
    let verifier = JwtVerifier::with_clock(
        vec![IssuerConfig {
            issuer: name.clone(),
            audiences: vec![AUDIENCE.into()],
            jwks_url: None,
            user_claim: None,
        }],
        Arc::clone(&clock) as Arc<dyn Clock>,
    )
    .unwrap();
    let mut claims = claims(&clock, "alice");
    claims["iss"] = json!(name);
    assert_eq!(
        verifier.verify(&rsa.sign(&claims)).await,
        Err(unavailable(
            "discovery: the discovery document names another issuer",
            FIRST_RETRY
        ))
    );
    assert_eq!(issuer.jwks_hits(), 0);
}

#[tokio::test]
async fn names_the_user_by_the_configured_claim() {
    let rsa = Signer::rsa("a", "rsa-a");
    let issuer = Issuer::start(jwks(&[&rsa])).await;
    let clock = TestClock::new();
    let verifier = JwtVerifier::with_clock(
        vec![IssuerConfig {
            user_claim: Some("user_id".into()),
            ..config(Some(issuer.url("/jwks")))
        }],
        Arc::clone(&clock) as Arc<dyn Clock>,
    )
    .unwrap();
    let mut claims = claims(&clock, "ignored");
    claims["user_id"] = json!("firebase-uid-1");
    assert_eq!(
        verifier.verify(&rsa.sign(&claims)).await.unwrap(),
        user("firebase-uid-1")
    );
    claims.as_object_mut().unwrap().remove("user_id");
    assert_eq!(
        verifier.verify(&rsa.sign(&claims)).await,
        Err(JwtError::MissingClaim("user_id".into()))
    );
}

#[tokio::test]
async fn mangled_tokens_never_panic() {
    let (rsa, ec) = (Signer::rsa("a", "rsa-a"), Signer::ec("ec-1"));
    let issuer = Issuer::start(jwks(&[&rsa, &ec])).await;
    let clock = TestClock::new();
    let verifier = verifier_for(&issuer, &clock);

    assert_eq!(verifier.verify("").await, Err(JwtError::Malformed));
    assert_eq!(
        verifier.verify(&"a".repeat(17 * 1024)).await,
        Err(JwtError::Malformed)
    );
    let token = ec.token(&clock, "alice");
    let long = format!("{token}{}", "A".repeat(16 * 1024));
    assert_eq!(verifier.verify(&long).await, Err(JwtError::Malformed));

    for token in [ec.token(&clock, "alice"), rsa.token(&clock, "alice")] {
        let chars: Vec<char> = token.chars().collect();
        for i in 0..chars.len() {
            let truncated: String = chars[..i].iter().collect();
            assert!(verifier.verify(&truncated).await.is_err());
            for replacement in ['A', '.', '-', '_', '=', '+', ' ', 'é', '\0'] {
                if chars[i] == replacement {
                    continue;
                }
                let mut mangled = chars.clone();
                mangled[i] = replacement;
                let mangled: String = mangled.into_iter().collect();
                // Some changes only touch unused bits or JSON whitespace;
                // none may yield another user.
                if let Ok(user) = verifier.verify(&mangled).await {
                    assert_eq!(user.subject, "alice");
                }
            }
        }
    }
}

#[test]
fn configuration_is_checked() {
    let ok = |issuer: &str, jwks_url: Option<&str>| IssuerConfig {
        issuer: issuer.into(),
        audiences: vec![AUDIENCE.into()],
        jwks_url: jwks_url.map(Into::into),
        user_claim: None,
    };
    JwtVerifier::new(vec![
        ok("https://securetoken.google.com/my-project", None),
        ok(
            "accounts.google.com",
            Some("https://www.googleapis.com/oauth2/v3/certs"),
        ),
    ])
    .unwrap();
    JwtVerifier::new(vec![]).unwrap();

    let bad = [
        vec![IssuerConfig {
            audiences: vec![],
            ..ok(ISSUER, None)
        }],
        vec![IssuerConfig {
            audiences: vec![String::new()],
            ..ok(ISSUER, None)
        }],
        vec![ok("accounts.google.com", None)],
        vec![ok("", Some("https://a.test/jwks"))],
        vec![ok(ISSUER, Some("not a url"))],
        vec![ok(ISSUER, Some("file:///etc/keys.json"))],
        vec![IssuerConfig {
            user_claim: Some(String::new()),
            ..ok(ISSUER, None)
        }],
        vec![ok(ISSUER, None), ok(ISSUER, Some("https://a.test/jwks"))],
    ];
    for issuers in bad {
        let described = format!("{issuers:?}");
        assert!(JwtVerifier::new(issuers).is_err(), "{described}");
    }

    let parsed: IssuerConfig = serde_json::from_value(json!({
        "issuer": ISSUER, "audiences": [AUDIENCE]
    }))
    .unwrap();
    assert_eq!(parsed, ok(ISSUER, None));
    assert!(
        serde_json::from_value::<IssuerConfig>(json!({
            "issuer": ISSUER, "audiences": [AUDIENCE], "audience": "typo"
        }))
        .is_err()
    );
}

#[tokio::test]
async fn prefetch_fills_the_cache() {
    let rsa = Signer::rsa("a", "rsa-a");
    let issuer = Issuer::start(jwks(&[&rsa])).await;
    let clock = TestClock::new();
    let verifier = verifier_for(&issuer, &clock);
    verifier.prefetch().await;
    assert_eq!(issuer.jwks_hits(), 1);
    verifier.prefetch().await;
    verifier.verify(&rsa.token(&clock, "alice")).await.unwrap();
    assert_eq!(issuer.jwks_hits(), 1);
}
