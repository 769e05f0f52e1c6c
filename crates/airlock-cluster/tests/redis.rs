//! The shared state against a real Redis (`AIRLOCK_TEST_REDIS_URL`, default
//! the machine's; it must answer: these tests fail rather than skip), each
//! test under a key prefix of its own, with several `Cluster` handles
//! standing for several instances.

use std::sync::Arc;
use std::time::Duration;

use airlock_cluster::{
    BanVerdict, Check, Cluster, ClusterSettings, Event, Outcome, Redeemed, SettleItem, StoredToken,
};

fn url() -> String {
    std::env::var("AIRLOCK_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn settings(prefix: &str, lease: Duration) -> ClusterSettings {
    ClusterSettings {
        url: url(),
        key_prefix: prefix.to_string(),
        lease,
        timeout: Duration::from_secs(2),
    }
}

fn fresh_prefix() -> String {
    format!("airlock-test-{:016x}", fastrand::u64(..))
}

/// `count` instances sharing one prefix, heartbeats running.
async fn instances(count: usize, lease: Duration) -> Vec<Arc<Cluster>> {
    let prefix = fresh_prefix();
    let mut all = Vec::new();
    for _ in 0..count {
        let cluster = Cluster::new(&settings(&prefix, lease)).unwrap();
        cluster
            .start_heartbeat()
            .await
            .expect("the test Redis must answer");
        all.push(cluster);
    }
    all
}

fn rpm(name: &str, capacity: u64) -> Check {
    Check::Rate {
        name: name.into(),
        capacity,
        period: Duration::from_secs(60),
        cost: 1,
    }
}

#[tokio::test]
async fn a_rate_limit_admits_exactly_its_capacity_across_instances() {
    let instances = instances(3, Duration::from_secs(30)).await;
    let attempts = (0..60).map(|i| {
        let cluster = instances[i % 3].clone();
        async move { cluster.admit(&[rpm("rpm:key:k", 20)]).await.unwrap() }
    });
    let outcomes = futures_util::future::join_all(attempts).await;
    let admitted = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Admitted(_)))
        .count();
    assert_eq!(admitted, 20, "{outcomes:?}");
    let refused = outcomes
        .iter()
        .find_map(|o| match o {
            Outcome::Refused {
                index, retry_after, ..
            } => Some((*index, *retry_after)),
            _ => None,
        })
        .unwrap();
    assert_eq!(refused.0, 0);
    // One token comes back every 3 s at 20 a minute.
    assert!(
        refused.1 > Duration::from_secs(2) && refused.1 <= Duration::from_secs(3),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_refused_check_takes_nothing_from_the_others() {
    let instances = instances(1, Duration::from_secs(30)).await;
    let cluster = &instances[0];
    let checks = [rpm("rpm:key:a", 10), rpm("rpm:project:p", 1)];
    assert!(matches!(
        cluster.admit(&checks).await.unwrap(),
        Outcome::Admitted(_)
    ));
    // The project's bucket is empty: the key's is left as it was.
    assert!(matches!(
        cluster.admit(&checks).await.unwrap(),
        Outcome::Refused { index: 1, .. }
    ));
    match cluster.admit(&[rpm("rpm:key:a", 10)]).await.unwrap() {
        Outcome::Admitted(states) => assert_eq!(states[0].remaining, 8),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn places_in_flight_are_shared_released_and_die_with_their_instance() {
    let lease = Duration::from_secs(1);
    let mut instances = instances(2, lease).await;
    let check = [Check::Concurrency {
        name: "inflight:key:k".into(),
        max: 1,
    }];
    let survivor = instances.pop().unwrap();
    let doomed = instances.pop().unwrap();
    assert!(matches!(
        doomed.admit(&check).await.unwrap(),
        Outcome::Admitted(_)
    ));
    assert!(matches!(
        survivor.admit(&check).await.unwrap(),
        Outcome::Refused { index: 0, .. }
    ));
    // Released by its holder, the place is free for the other.
    let release = [SettleItem::Concurrency {
        name: "inflight:key:k".into(),
    }];
    doomed.settle(&release).await.unwrap();
    assert!(matches!(
        survivor.admit(&check).await.unwrap(),
        Outcome::Admitted(_)
    ));
    survivor.settle(&release).await.unwrap();
    // Held by an instance that then dies (no release, no more heartbeats):
    // the place is free again once its lease has run out.
    assert!(matches!(
        doomed.admit(&check).await.unwrap(),
        Outcome::Admitted(_)
    ));
    drop(doomed);
    assert!(matches!(
        survivor.admit(&check).await.unwrap(),
        Outcome::Refused { .. }
    ));
    let freed = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Outcome::Admitted(_) = survivor.admit(&check).await.unwrap() {
                return;
            }
        }
    };
    tokio::time::timeout(lease * 5, freed)
        .await
        .expect("a dead instance's place outlives its lease");
}

#[tokio::test]
async fn budgets_are_seeded_once_then_reserve_and_settle() {
    let instances = instances(2, Duration::from_secs(30)).await;
    let budget = |reserve| Check::Budget {
        name: "budget:key:k:0".into(),
        limit: 1.0,
        reserve,
    };
    assert_eq!(
        instances[0].admit(&[budget(0.3)]).await.unwrap(),
        Outcome::BudgetUnknown { index: 0 }
    );
    instances[0]
        .seed_budget("budget:key:k:0", 0.2, Duration::from_secs(60))
        .await
        .unwrap();
    // A second seeding (another instance, racing) changes nothing.
    instances[1]
        .seed_budget("budget:key:k:0", 0.9, Duration::from_secs(60))
        .await
        .unwrap();
    // 0.2 spent: reservations of 0.3 fit while spend plus reservations is
    // under 1.0 (0.2, 0.5, 0.8), then the fourth is refused.
    let mut admitted = 0;
    for i in 0..4 {
        match instances[i % 2].admit(&[budget(0.3)]).await.unwrap() {
            Outcome::Admitted(_) => admitted += 1,
            Outcome::Refused { index: 0, .. } => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(admitted, 3);
    // One request ends having cost 0.05: its reservation is released.
    let spent = instances[0]
        .settle(&[SettleItem::Budget {
            name: "budget:key:k:0".into(),
            cost: 0.05,
            reserve: 0.3,
        }])
        .await
        .unwrap();
    let after = spent[0].unwrap();
    assert!((after - 0.25).abs() < 1e-9, "{after}");
    // 0.25 spent + 0.6 reserved < 1.0: one more fits.
    assert!(matches!(
        instances[1].admit(&[budget(0.3)]).await.unwrap(),
        Outcome::Admitted(_)
    ));
}

#[tokio::test]
async fn a_token_minted_on_one_instance_is_redeemed_on_the_others_with_one_use_count() {
    let instances = instances(3, Duration::from_secs(30)).await;
    // Redis drops a token's key some minutes after it expires: times near now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let expires_at_ms = now + 10_000;
    let token = StoredToken {
        key_id: Some("key_1".into()),
        model: Some("gemini-2.5-flash".into()),
        expires_at_ms,
    };
    instances[0]
        .store_token("d1", &token, Some(2))
        .await
        .unwrap();
    assert_eq!(
        instances[1].redeem_token("d1", now).await.unwrap(),
        Redeemed::Valid(token.clone())
    );
    assert_eq!(
        instances[2].redeem_token("d1", now).await.unwrap(),
        Redeemed::Valid(token.clone())
    );
    assert_eq!(
        instances[0].redeem_token("d1", now).await.unwrap(),
        Redeemed::UsedUp
    );
    let unlimited = StoredToken {
        key_id: None,
        model: None,
        expires_at_ms,
    };
    instances[0]
        .store_token("d2", &unlimited, None)
        .await
        .unwrap();
    for cluster in &instances {
        assert_eq!(
            cluster.redeem_token("d2", expires_at_ms - 1).await.unwrap(),
            Redeemed::Valid(unlimited.clone())
        );
    }
    assert_eq!(
        instances[1]
            .redeem_token("d2", expires_at_ms)
            .await
            .unwrap(),
        Redeemed::Expired
    );
    assert_eq!(
        instances[1].redeem_token("nothing", now).await.unwrap(),
        Redeemed::Unknown
    );
}

#[tokio::test]
async fn an_address_banned_on_one_instance_is_banned_on_all() {
    let instances = instances(3, Duration::from_secs(30)).await;
    let (window, ban) = (Duration::from_secs(60), Duration::from_secs(600));
    for cluster in &instances {
        assert_eq!(
            cluster
                .check_ban("192.0.2.7", 3, window, ban)
                .await
                .unwrap(),
            BanVerdict::Allowed
        );
    }
    assert_eq!(
        instances[0]
            .check_ban("192.0.2.7", 3, window, ban)
            .await
            .unwrap(),
        BanVerdict::Banned {
            left: ban,
            new: true
        }
    );
    for cluster in &instances[1..] {
        match cluster
            .check_ban("192.0.2.7", 3, window, ban)
            .await
            .unwrap()
        {
            BanVerdict::Banned { left, new: false } => assert!(left <= ban && left > ban / 2),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        instances[2]
            .check_ban("192.0.2.8", 3, window, ban)
            .await
            .unwrap(),
        BanVerdict::Allowed,
        "another address is not affected"
    );
}

#[tokio::test]
async fn a_change_announced_by_one_instance_reaches_every_subscriber() {
    let instances = instances(3, Duration::from_secs(30)).await;
    let (sender, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let mut subscriptions = Vec::new();
    for (i, cluster) in instances.iter().enumerate() {
        let sender = sender.clone();
        subscriptions.push(cluster.subscribe(move |event| {
            let _ = sender.send((i, event));
        }));
    }
    let mut subscribed = std::collections::HashSet::new();
    while subscribed.len() < 3 {
        let (i, event) = next(&mut heard, "subscription").await;
        assert_eq!(event, Event::Resubscribed);
        subscribed.insert(i);
    }
    instances[1].publish_tenancy_changed().await.unwrap();
    let mut told = std::collections::HashSet::new();
    while told.len() < 3 {
        let (i, event) = next(&mut heard, "change event").await;
        assert_eq!(event, Event::Tenancy);
        told.insert(i);
    }
    for subscription in subscriptions {
        subscription.abort();
    }
}

/// The next event heard, within a bound.
async fn next(
    heard: &mut tokio::sync::mpsc::UnboundedReceiver<(usize, Event)>,
    what: &str,
) -> (usize, Event) {
    tokio::time::timeout(Duration::from_secs(10), heard.recv())
        .await
        .unwrap_or_else(|_| panic!("no {what}"))
        .unwrap()
}

#[tokio::test]
async fn an_unreachable_redis_fails_calls_instead_of_hanging_them() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cluster = Cluster::new(&ClusterSettings {
        url: format!("redis://127.0.0.1:{port}"),
        key_prefix: fresh_prefix(),
        lease: Duration::from_secs(30),
        timeout: Duration::from_millis(200),
    })
    .unwrap();
    let admitted = tokio::time::timeout(
        Duration::from_secs(10),
        cluster.admit(&[rpm("rpm:key:k", 1)]),
    )
    .await
    .expect("a call to a dead Redis must end");
    assert!(admitted.is_err());
    assert!(!cluster.is_up());
}

#[test]
fn urls_are_checked_without_repeating_them() {
    assert!(airlock_cluster::check_url("redis://:secret@127.0.0.1:6379/0").is_ok());
    assert!(airlock_cluster::check_url("rediss://user:pw@redis.internal:6380").is_ok());
    let error = airlock_cluster::check_url("http://:secret@host").unwrap_err();
    assert!(!error.contains("secret"), "{error}");
    let error = airlock_cluster::check_url("redis://:secret@host:notaport").unwrap_err();
    assert!(!error.contains("secret"), "{error}");
}
