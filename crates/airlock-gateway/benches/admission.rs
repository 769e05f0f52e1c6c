//! The cost Airlock's access control adds to a request: authenticating a
//! project key (digest lookup in the tenancy snapshot) and admitting it
//! under its key's and project's rpm, tpm and concurrency limits, then
//! settling it; counted in process, then (cluster mode) in Redis.
//!
//! Run: `cargo bench -p airlock-gateway --bench admission` (results in
//! bench/ADMISSION.md). Prints the median and p99 per request over
//! batches in process, and per request against the Redis at
//! `AIRLOCK_BENCH_REDIS_URL` (default the machine's, 127.0.0.1:6379).

use std::time::Instant;

use airlock_gateway::ClientAuth;
use airlock_gateway::clock::now_ms;
use std::sync::Arc;
use std::time::Duration;

use airlock_cluster::{Cluster, ClusterSettings};
use airlock_gateway::limits::{Ask, FailurePolicy, Limiter, Scope};
use airlock_gateway::tenancy::Tenancy;
use airlock_gateway::tenancy::manage::{self, NewKey};
use airlock_store::{Actor, Limits, ProjectSettings, Store};

const BATCHES: usize = 200;
const PER_BATCH: usize = 1_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(dir.path()).await.unwrap();
    let actor = Actor {
        name: "bench".into(),
        remote_addr: None,
    };
    let limits = Limits {
        rpm: Some(u64::MAX / 2),
        tpm: Some(u64::MAX / 2),
        max_concurrent: Some(1_000),
        budget: None,
    };
    let settings = ProjectSettings {
        limits: limits.clone(),
        ..ProjectSettings::default()
    };
    manage::create_project(&store, "bench", settings, &actor)
        .await
        .unwrap();
    // A realistic snapshot: many keys, of which one is used.
    let mut secret = String::new();
    for i in 0..1_000 {
        let new = NewKey {
            name: format!("k{i}"),
            limits: limits.clone(),
            ..NewKey::default()
        };
        secret = manage::create_key(&store, "bench", new, &actor)
            .await
            .unwrap()
            .1;
    }
    let tenancy = Tenancy::load(store.clone()).await.unwrap();
    let auth = ClientAuth::new(Some("master"), None, tenancy);
    let ask = Ask {
        tokens: 300,
        reserve_usd: 0.0001,
    };

    let limiter = Limiter::new(store.clone(), None);
    let mut per_request_ns = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        let started = Instant::now();
        for _ in 0..PER_BATCH {
            let credential = airlock_gateway::Credential::Bearer(&secret);
            let principal = auth.authenticate(credential, None, now_ms()).await.unwrap();
            let grant = principal.grant().unwrap();
            let scopes = Scope::for_request(grant, Some("user-1"), None);
            let admission = limiter.admit(&scopes, ask, now_ms()).await.unwrap();
            limiter.settle(&admission, Some(250), Some(0.0001));
        }
        per_request_ns.push(started.elapsed().as_nanos() as f64 / PER_BATCH as f64);
    }
    per_request_ns.sort_by(f64::total_cmp);
    println!(
        "in process: authenticate + admit + settle, per request over {BATCHES} batches of {PER_BATCH}:"
    );
    println!(
        "  median {:.2} µs, p99 {:.2} µs (target: at most 20 µs at the median)",
        per_request_ns[BATCHES / 2] / 1000.0,
        per_request_ns[BATCHES * 99 / 100] / 1000.0
    );

    // Cluster mode: the same limits counted in Redis, one request at a time
    // (a latency, not a throughput), the settling awaited as a request's
    // last byte awaits it.
    let limiter = Limiter::new(store, None).shared(cluster().await, FailurePolicy::default());
    let requests = BATCHES * 50;
    let mut admit_ns = Vec::with_capacity(requests);
    let mut whole_ns = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        let credential = airlock_gateway::Credential::Bearer(&secret);
        let principal = auth.authenticate(credential, None, now_ms()).await.unwrap();
        let grant = principal.grant().unwrap();
        let scopes = Scope::for_request(grant, Some("user-1"), None);
        let admission = limiter.admit(&scopes, ask, now_ms()).await.unwrap();
        admit_ns.push(started.elapsed().as_nanos() as f64);
        if let Some(settled) = limiter.settle(&admission, Some(250), Some(0.0001)) {
            let _ = settled.await;
        }
        drop(admission);
        whole_ns.push(started.elapsed().as_nanos() as f64);
    }
    for (what, mut samples) in [
        ("authenticate + admit (one round trip)", admit_ns),
        ("authenticate + admit + settle (two round trips)", whole_ns),
    ] {
        samples.sort_by(f64::total_cmp);
        println!("in Redis: {what}, per request over {requests}:");
        println!(
            "  median {:.2} µs, p99 {:.2} µs",
            samples[samples.len() / 2] / 1000.0,
            samples[samples.len() * 99 / 100] / 1000.0
        );
    }
}

/// A handle on the bench Redis, under a prefix of its own.
async fn cluster() -> Arc<Cluster> {
    let url = std::env::var("AIRLOCK_BENCH_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let cluster = Cluster::new(&ClusterSettings {
        url,
        key_prefix: format!("airlock-bench-{}", std::process::id()),
        lease: Duration::from_secs(30),
        timeout: Duration::from_secs(2),
    })
    .unwrap();
    cluster
        .start_heartbeat()
        .await
        .expect("the bench Redis must answer");
    cluster
}
