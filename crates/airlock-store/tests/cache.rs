//! The response cache's rows, each behaviour run against SQLite and against
//! PostgreSQL (`AIRLOCK_TEST_POSTGRES_URL`; without it the PostgreSQL tests
//! fail, never skip). Every test gets a fresh database.

use std::collections::HashSet;

use bytes::Bytes;

use airlock_store::{CacheEntry, CacheHits, CacheIndexEntry, CacheStats, RemovedEntry, Store};

/// An inline entry of `size` bytes, live until 10 000.
fn entry(key: &str, project: Option<&str>, size: u64) -> CacheEntry {
    CacheEntry {
        key: key.into(),
        project_id: project.map(str::to_string),
        end_user: None,
        operation: "chat.completions".into(),
        provider: "gemini".into(),
        model: "gemini-2.5-flash".into(),
        status: 200,
        content_type: "application/json".into(),
        streamed: false,
        body: Some(Bytes::from(vec![b'x'; size as usize])),
        blob_key: None,
        size,
        usage: None,
        cost_usd: None,
        created_at_ms: 1_000,
        expires_at_ms: 10_000,
        hits: 0,
        last_hit_at_ms: None,
    }
}

/// An entry whose body is a blob.
fn blob_entry(key: &str, project: Option<&str>) -> CacheEntry {
    CacheEntry {
        body: None,
        blob_key: Some(format!("cache/{key}")),
        size: 2_000_000,
        ..entry(key, project, 0)
    }
}

async fn put_all(store: &Store, entries: &[CacheEntry]) {
    for entry in entries {
        store.cache_put(entry).await.unwrap();
    }
}

/// Removed entries' keys, sorted (removals come in no set order).
fn keys(removed: &[RemovedEntry]) -> Vec<&str> {
    let mut keys: Vec<&str> = removed.iter().map(|r| r.key.as_str()).collect();
    keys.sort_unstable();
    keys
}

async fn stored_keys(store: &Store) -> Vec<String> {
    let mut keys: Vec<String> = store
        .cache_index(i64::MIN)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    keys.sort_unstable();
    keys
}

async fn every_field_round_trips_with_an_inline_or_a_blob_body(store: Store) {
    let inline = CacheEntry {
        key: "ab".repeat(32),
        operation: "generateContent".into(),
        status: 203,
        content_type: "text/event-stream".into(),
        streamed: true,
        // Every byte value, NUL included.
        body: Some(Bytes::from((0..=255u8).collect::<Vec<_>>())),
        size: 256,
        usage: Some(r#"{"input_tokens":12,"output_tokens":34}"#.into()),
        cost_usd: Some(0.000_125),
        created_at_ms: 1_700_000_000_000,
        expires_at_ms: 1_700_000_600_000,
        hits: 7,
        last_hit_at_ms: Some(1_700_000_100_000),
        ..entry("unused", Some("proj_a"), 0)
    };
    let blob = CacheEntry {
        size: 5 * 1024 * 1024 * 1024,
        ..blob_entry(&"cd".repeat(32), None)
    };
    let empty_body = entry("empty", Some("proj_a"), 0);
    put_all(&store, &[inline.clone(), blob.clone(), empty_body.clone()]).await;

    assert_eq!(store.cache_get(&inline.key).await.unwrap(), Some(inline));
    assert_eq!(store.cache_get(&blob.key).await.unwrap(), Some(blob));
    assert_eq!(store.cache_get("empty").await.unwrap(), Some(empty_body));
    assert_eq!(store.cache_get("missing").await.unwrap(), None);
}

async fn a_put_replaces_the_entry_with_the_same_key(store: Store) {
    let first = CacheEntry {
        cost_usd: Some(0.5),
        usage: Some("{}".into()),
        ..entry("k", Some("proj_a"), 10)
    };
    store.cache_put(&first).await.unwrap();
    store
        .cache_add_hits(&[CacheHits {
            key: "k".into(),
            count: 3,
            last_hit_at_ms: 2_000,
        }])
        .await
        .unwrap();

    let refreshed = CacheEntry {
        created_at_ms: 5_000,
        expires_at_ms: 20_000,
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        ..blob_entry("k", Some("proj_a"))
    };
    store.cache_put(&refreshed).await.unwrap();

    assert_eq!(store.cache_get("k").await.unwrap(), Some(refreshed));
    assert_eq!(store.cache_stats(None).await.unwrap().entries, 1);
}

async fn an_entry_with_neither_or_both_of_body_and_blob_key_is_refused(store: Store) {
    let neither = CacheEntry {
        body: None,
        ..entry("neither", None, 1)
    };
    let both = CacheEntry {
        blob_key: Some("cache/both".into()),
        ..entry("both", None, 1)
    };
    assert!(store.cache_put(&neither).await.is_err());
    assert!(store.cache_put(&both).await.is_err());
    assert_eq!(store.cache_get("neither").await.unwrap(), None);
    assert_eq!(store.cache_get("both").await.unwrap(), None);
}

async fn the_index_lists_only_entries_not_yet_expired(store: Store) {
    let expired = CacheEntry {
        expires_at_ms: 1_999,
        ..entry("expired", Some("proj_a"), 5)
    };
    let expiring_now = CacheEntry {
        expires_at_ms: 2_000,
        ..entry("expiring_now", Some("proj_a"), 5)
    };
    let live = CacheEntry {
        expires_at_ms: 2_001,
        ..entry("live", Some("proj_a"), 42)
    };
    let master_blob = CacheEntry {
        expires_at_ms: 9_000,
        ..blob_entry("master_blob", None)
    };
    put_all(&store, &[expired, expiring_now, live, master_blob]).await;

    let mut index = store.cache_index(2_000).await.unwrap();
    index.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        index,
        [
            CacheIndexEntry {
                key: "live".into(),
                project_id: Some("proj_a".into()),
                expires_at_ms: 2_001,
                size: 42,
            },
            CacheIndexEntry {
                key: "master_blob".into(),
                project_id: None,
                expires_at_ms: 9_000,
                size: 2_000_000,
            },
        ]
    );
    assert!(store.cache_index(9_000).await.unwrap().is_empty());
}

async fn hits_add_up_keep_the_latest_time_and_skip_missing_keys(store: Store) {
    put_all(
        &store,
        &[
            CacheEntry {
                hits: 1,
                last_hit_at_ms: Some(1_500),
                ..entry("a", None, 1)
            },
            entry("b", None, 1),
            entry("untouched", None, 1),
        ],
    )
    .await;
    let hit = |key: &str, count, last_hit_at_ms| CacheHits {
        key: key.into(),
        count,
        last_hit_at_ms,
    };
    store
        .cache_add_hits(&[
            hit("b", 1, 3_000),
            hit("a", 2, 4_000),
            hit("missing", 5, 4_000),
            // An older batch's time does not move the last hit back.
            hit("a", 3, 2_000),
        ])
        .await
        .unwrap();
    store.cache_add_hits(&[]).await.unwrap();
    store.cache_add_hits(&[hit("b", 10, 5_000)]).await.unwrap();

    let a = store.cache_get("a").await.unwrap().unwrap();
    assert_eq!((a.hits, a.last_hit_at_ms), (6, Some(4_000)));
    let b = store.cache_get("b").await.unwrap().unwrap();
    assert_eq!((b.hits, b.last_hit_at_ms), (11, Some(5_000)));
    let untouched = store.cache_get("untouched").await.unwrap().unwrap();
    assert_eq!((untouched.hits, untouched.last_hit_at_ms), (0, None));
    assert_eq!(store.cache_get("missing").await.unwrap(), None);
}

async fn take_expired_deletes_only_expired_entries_and_at_most_limit(store: Store) {
    let mut entries: Vec<CacheEntry> = (1..=5)
        .map(|i| CacheEntry {
            expires_at_ms: 100 * i,
            ..entry(&format!("expired_{i}"), Some("proj_a"), 1)
        })
        .collect();
    entries[0] = CacheEntry {
        expires_at_ms: 100,
        ..blob_entry("expired_1", Some("proj_a"))
    };
    entries.push(CacheEntry {
        expires_at_ms: 501,
        ..entry("live", Some("proj_a"), 1)
    });
    put_all(&store, &entries).await;

    // Those that expired first go first.
    let taken = store.cache_take_expired(500, 3).await.unwrap();
    assert_eq!(keys(&taken), ["expired_1", "expired_2", "expired_3"]);
    let blob = taken.iter().find(|r| r.key == "expired_1").unwrap();
    assert_eq!(blob.blob_key.as_deref(), Some("cache/expired_1"));
    assert!(
        taken
            .iter()
            .all(|r| r.key == "expired_1" || r.blob_key.is_none())
    );

    assert!(store.cache_take_expired(500, 0).await.unwrap().is_empty());
    let taken = store.cache_take_expired(500, 10).await.unwrap();
    assert_eq!(keys(&taken), ["expired_4", "expired_5"]);
    assert!(store.cache_take_expired(500, 10).await.unwrap().is_empty());
    assert_eq!(stored_keys(&store).await, ["live"]);
}

async fn remove_deletes_one_entry_and_returns_it_once(store: Store) {
    put_all(
        &store,
        &[
            blob_entry("gone_blob", Some("proj_a")),
            entry("other", None, 1),
        ],
    )
    .await;
    assert_eq!(
        store.cache_remove("gone_blob").await.unwrap(),
        Some(RemovedEntry {
            key: "gone_blob".into(),
            blob_key: Some("cache/gone_blob".into()),
        })
    );
    assert_eq!(store.cache_remove("gone_blob").await.unwrap(), None);
    assert_eq!(store.cache_get("gone_blob").await.unwrap(), None);
    assert_eq!(stored_keys(&store).await, ["other"]);
}

async fn clear_of_a_project_leaves_other_projects_entries(store: Store) {
    put_all(
        &store,
        &[
            entry("a1", Some("proj_a"), 1),
            blob_entry("a2", Some("proj_a")),
            entry("b1", Some("proj_b"), 1),
            entry("master", None, 1),
        ],
    )
    .await;
    let cleared = store.cache_clear(Some("proj_a")).await.unwrap();
    assert_eq!(keys(&cleared), ["a1", "a2"]);
    assert!(cleared.contains(&RemovedEntry {
        key: "a2".into(),
        blob_key: Some("cache/a2".into()),
    }));
    assert_eq!(stored_keys(&store).await, ["b1", "master"]);
    assert!(store.cache_clear(Some("proj_a")).await.unwrap().is_empty());
}

async fn clear_of_none_removes_every_projects_entries(store: Store) {
    put_all(
        &store,
        &[
            entry("a1", Some("proj_a"), 1),
            entry("b1", Some("proj_b"), 1),
            blob_entry("master", None),
        ],
    )
    .await;
    let cleared = store.cache_clear(None).await.unwrap();
    assert_eq!(keys(&cleared), ["a1", "b1", "master"]);
    assert!(stored_keys(&store).await.is_empty());
}

async fn evict_oldest_removes_least_recently_used_until_at_or_under_the_limit(store: Store) {
    // Use order: a (made at 1), c (made at 3), d (hit at 5), b (hit at 10).
    put_all(
        &store,
        &[
            CacheEntry {
                created_at_ms: 1,
                ..entry("a", Some("proj_a"), 100)
            },
            CacheEntry {
                created_at_ms: 0,
                last_hit_at_ms: Some(10),
                ..entry("b", Some("proj_b"), 100)
            },
            CacheEntry {
                created_at_ms: 3,
                ..blob_entry("c", None)
            },
            CacheEntry {
                created_at_ms: 2,
                last_hit_at_ms: Some(5),
                ..entry("d", Some("proj_a"), 100)
            },
        ],
    )
    .await;
    let c_size = 2_000_000;
    let total = 300 + c_size;

    // At the limit already: nothing goes.
    assert!(store.cache_evict_oldest(total).await.unwrap().is_empty());
    // One byte over: the least recently used goes, and only it.
    let evicted = store.cache_evict_oldest(total - 1).await.unwrap();
    assert_eq!(keys(&evicted), ["a"]);
    // Freeing 101 bytes takes c (the next in use order), though it is large.
    let evicted = store.cache_evict_oldest(total - 201).await.unwrap();
    assert_eq!(
        evicted,
        [RemovedEntry {
            key: "c".into(),
            blob_key: Some("cache/c".into()),
        }]
    );
    assert_eq!(stored_keys(&store).await, ["b", "d"]);
    // 200 left; at most 50: d and then b.
    let evicted = store.cache_evict_oldest(50).await.unwrap();
    assert_eq!(keys(&evicted), ["b", "d"]);
    assert!(store.cache_evict_oldest(0).await.unwrap().is_empty());
}

async fn blob_keys_are_those_rows_refer_to(store: Store) {
    assert!(store.cache_blob_keys().await.unwrap().is_empty());
    put_all(
        &store,
        &[
            blob_entry("x", Some("proj_a")),
            entry("inline", Some("proj_a"), 1),
            blob_entry("y", None),
        ],
    )
    .await;
    assert_eq!(
        store.cache_blob_keys().await.unwrap(),
        HashSet::from(["cache/x".to_string(), "cache/y".to_string()])
    );
    store.cache_remove("x").await.unwrap();
    assert_eq!(
        store.cache_blob_keys().await.unwrap(),
        HashSet::from(["cache/y".to_string()])
    );
}

async fn stats_sum_entries_bytes_hits_and_savings_per_project_and_overall(store: Store) {
    assert_eq!(
        store.cache_stats(None).await.unwrap(),
        CacheStats::default()
    );
    put_all(
        &store,
        &[
            CacheEntry {
                hits: 3,
                cost_usd: Some(0.25),
                ..entry("a1", Some("proj_a"), 100)
            },
            CacheEntry {
                hits: 2,
                cost_usd: Some(1.5),
                ..entry("a2", Some("proj_a"), 50)
            },
            // No cost known: its hits count, its savings do not.
            CacheEntry {
                hits: 4,
                ..entry("a3", Some("proj_a"), 7)
            },
            CacheEntry {
                hits: 10,
                cost_usd: Some(0.5),
                ..blob_entry("b1", Some("proj_b"))
            },
            entry("master", None, 1),
        ],
    )
    .await;
    assert_eq!(
        store.cache_stats(Some("proj_a")).await.unwrap(),
        CacheStats {
            entries: 3,
            bytes: 157,
            hits: 9,
            saved_usd: 3.75,
        }
    );
    assert_eq!(
        store.cache_stats(None).await.unwrap(),
        CacheStats {
            entries: 5,
            bytes: 2_000_158,
            hits: 19,
            saved_usd: 8.75,
        }
    );
    assert_eq!(
        store.cache_stats(Some("proj_none")).await.unwrap(),
        CacheStats::default()
    );
}

async fn put_many_stores_every_entry_and_the_later_of_one_key_stays(store: Store) {
    let first = entry("k1", Some("p"), 10);
    let later = CacheEntry {
        cost_usd: Some(0.5),
        ..entry("k1", Some("p"), 20)
    };
    store
        .cache_put_many(&[first, entry("k2", None, 5), later.clone()])
        .await
        .unwrap();
    assert_eq!(stored_keys(&store).await, ["k1", "k2"]);
    assert_eq!(store.cache_get("k1").await.unwrap(), Some(later));
    // A batch with a refused entry stores none of it.
    let refused = CacheEntry {
        body: None,
        ..entry("k3", None, 1)
    };
    assert!(
        store
            .cache_put_many(&[entry("k4", None, 1), refused])
            .await
            .is_err()
    );
    assert_eq!(stored_keys(&store).await, ["k1", "k2"]);
    store.cache_put_many(&[]).await.unwrap();
}

/// A batch larger than one statement holds (500 rows) is written in
/// several, every entry stored once, of one key the later, wherever the
/// two fall in the batch.
async fn put_many_of_a_large_batch_stores_each_key_once_with_its_later_entry(store: Store) {
    let mut batch: Vec<CacheEntry> = (0..1_037)
        .map(|n| entry(&format!("key-{n:04}"), Some("p"), 1 + n % 7))
        .collect();
    // Each of these keys again: after the first statement's rows, and
    // (1036) next to itself, where one statement would change a row twice.
    for n in [1_036, 0, 499, 500] {
        batch.push(CacheEntry {
            cost_usd: Some(n as f64),
            ..entry(&format!("key-{n:04}"), Some("p"), 3)
        });
    }
    store.cache_put_many(&batch).await.unwrap();
    let keys = stored_keys(&store).await;
    assert_eq!(keys.len(), 1_037);
    assert_eq!(keys.first().map(String::as_str), Some("key-0000"));
    assert_eq!(keys.last().map(String::as_str), Some("key-1036"));
    for n in [0, 499, 500, 1_036] {
        let stored = store
            .cache_get(&format!("key-{n:04}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((stored.cost_usd, stored.size), (Some(n as f64), 3));
    }
    let untouched = store.cache_get("key-0001").await.unwrap().unwrap();
    assert_eq!(untouched, entry("key-0001", Some("p"), 2));
}

airlock_store::on_both_stores!(
    put_many_of_a_large_batch_stores_each_key_once_with_its_later_entry,
    every_field_round_trips_with_an_inline_or_a_blob_body,
    a_put_replaces_the_entry_with_the_same_key,
    an_entry_with_neither_or_both_of_body_and_blob_key_is_refused,
    the_index_lists_only_entries_not_yet_expired,
    hits_add_up_keep_the_latest_time_and_skip_missing_keys,
    take_expired_deletes_only_expired_entries_and_at_most_limit,
    remove_deletes_one_entry_and_returns_it_once,
    clear_of_a_project_leaves_other_projects_entries,
    clear_of_none_removes_every_projects_entries,
    evict_oldest_removes_least_recently_used_until_at_or_under_the_limit,
    blob_keys_are_those_rows_refer_to,
    stats_sum_entries_bytes_hits_and_savings_per_project_and_overall,
    put_many_stores_every_entry_and_the_later_of_one_key_stays,
);
