//! A key's usage by day, run against SQLite and against PostgreSQL
//! (`AIRLOCK_TEST_POSTGRES_URL`; without it the PostgreSQL tests fail,
//! never skip).

use std::collections::BTreeMap;

use airlock_store::{RequestRecord, Store, UsageDay, on_both_stores};

const DAY: i64 = 86_400_000;

fn request(id: &str, key: &str, at_ms: i64, status: u16, origin: Option<&str>) -> RequestRecord {
    RequestRecord {
        id: id.into(),
        started_at_ms: at_ms,
        api_key_id: Some(key.into()),
        status,
        tokens_in: Some(10),
        tokens_out: Some(5),
        cost_usd: Some(0.25),
        origin: origin.map(str::to_string),
        ..RequestRecord::default()
    }
}

async fn a_keys_usage_is_summed_by_day_with_errors_and_origins(store: Store) {
    let app = Some("https://app.example.com");
    let shop = Some("https://shop.example.com");
    store
        .insert_request_records(&[
            request("r1", "key_w", 0, 200, app),
            request("r2", "key_w", 1_000, 429, app),
            request("r3", "key_w", 2_000, 200, shop),
            request("r4", "key_w", DAY + 5, 500, None),
            request("r5", "key_other", 10, 200, app),
            request("r6", "key_w", 3 * DAY, 200, app),
        ])
        .await
        .unwrap();
    let usage = store.key_usage("key_w", 0, Some(3 * DAY)).await.unwrap();
    assert_eq!(
        usage,
        [
            UsageDay {
                day: "1970-01-01".into(),
                requests: 3,
                errors: 1,
                tokens_in: 30,
                tokens_out: 15,
                cost_usd: 0.75,
                origins: BTreeMap::from([
                    ("https://app.example.com".into(), 2),
                    ("https://shop.example.com".into(), 1)
                ]),
            },
            UsageDay {
                day: "1970-01-02".into(),
                requests: 1,
                errors: 1,
                tokens_in: 10,
                tokens_out: 5,
                cost_usd: 0.25,
                origins: BTreeMap::new(),
            },
        ]
    );
    assert_eq!(
        store.key_usage("key_w", 3 * DAY, None).await.unwrap().len(),
        1
    );
    assert!(
        store
            .key_usage("key_none", 0, None)
            .await
            .unwrap()
            .is_empty()
    );
}

on_both_stores!(a_keys_usage_is_summed_by_day_with_errors_and_origins);
