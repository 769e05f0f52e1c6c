//! The cost Airlock's access control adds to a request, in-process and
//! without I/O: authenticating a project key (digest lookup in the tenancy
//! snapshot) and admitting it under its key's and project's rpm, tpm and
//! concurrency limits, then settling it.
//!
//! Run: `cargo bench -p airlock-gateway --bench admission` (results in
//! bench/ADMISSION.md). Prints the median and p99 per request over batches.

use std::time::Instant;

use airlock_gateway::ClientAuth;
use airlock_gateway::clock::now_ms;
use airlock_gateway::limits::{Limiter, Scope};
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
    let limiter = Limiter::new(store, None);

    let mut per_request_ns = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        let started = Instant::now();
        for _ in 0..PER_BATCH {
            let credential = airlock_gateway::Credential::Bearer(&secret);
            let principal = auth.authenticate(credential, None, now_ms()).unwrap();
            let grant = principal.grant().unwrap();
            let scopes = Scope::for_request(grant, Some("user-1"), None);
            let admission = limiter.admit(&scopes, 300, now_ms()).await.unwrap();
            limiter.settle(&admission, Some(250), Some(0.0001), now_ms());
        }
        per_request_ns.push(started.elapsed().as_nanos() as f64 / PER_BATCH as f64);
    }
    per_request_ns.sort_by(f64::total_cmp);
    let median = per_request_ns[BATCHES / 2];
    let p99 = per_request_ns[BATCHES * 99 / 100];
    println!("authenticate + admit + settle, per request over {BATCHES} batches of {PER_BATCH}:");
    println!(
        "  median {:.2} µs, p99 {:.2} µs (target: at most 20 µs at the median)",
        median / 1000.0,
        p99 / 1000.0
    );
}
