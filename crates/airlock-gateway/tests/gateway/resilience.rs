//! When a provider fails: retries while nothing has reached the client
//! (as the policy and the provider's budget allow, never for the client's
//! own mistakes), and fallbacks to the models a route names, on the
//! failures it names, through whichever provider serves them, with the
//! answer, the request log and the spend naming what served.

use crate::common;

use std::time::Duration;

use airlock_gateway::resilience::{BreakerPolicy, RetryPolicy, Trigger};
use airlock_gateway::routing::Fallbacks;
use airlock_mock::{Fault, FaultRule, Side};
use common::{Harness, Setup};
use serde_json::{Value, json};

/// Quick retries, so tests take milliseconds.
pub fn quick(max_retries: u32, budget_percent: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        budget_percent,
    }
}

fn fail(h: &Harness, side: Side, status: u16, times: Option<u32>) {
    h.mock.server.add_fault_rule(FaultRule {
        provider: Some(side),
        fault: Fault::Status(status),
        times,
        rate: None,
    });
}

pub async fn chat(h: &Harness, model: &str) -> reqwest::Response {
    h.openai_post("/v1/chat/completions")
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
}

pub async fn metric(h: &Harness, name: &str) -> f64 {
    h.metrics_text()
        .await
        .lines()
        .filter(|line| line.starts_with(name))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_failing_provider_is_retried_until_it_answers() {
    let h = Harness::with(Setup {
        retries: quick(2, 20),
        ..Setup::default()
    })
    .await;
    fail(&h, Side::OpenAi, 503, Some(2));
    let r = chat(&h, "gpt-4o-mini").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-airlock-served-by"], "openai/gpt-4o-mini");
    assert_eq!(
        h.mock.server.requests_seen(),
        3,
        "two failures, then the answer"
    );
    // Counted (metrics are process-wide: other tests' retries count too).
    assert!(metric(&h, "airlock_upstream_retries_total").await >= 2.0);
    let records = h.stop().await;
    assert_eq!(records.len(), 1, "one request, logged once");
    assert_eq!(records[0].status, 200);
}

#[tokio::test]
async fn retries_stop_where_the_policy_says_and_the_providers_error_comes_through() {
    let h = Harness::with(Setup {
        retries: quick(2, 20),
        ..Setup::default()
    })
    .await;
    fail(&h, Side::OpenAi, 503, None);
    let r = chat(&h, "gpt-4o-mini").await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"].is_string(), "{body}");
    assert_eq!(h.mock.server.requests_seen(), 3);
    // No retries at all when the policy says none.
    let h = Harness::with(Setup {
        retries: quick(0, 20),
        ..Setup::default()
    })
    .await;
    fail(&h, Side::OpenAi, 503, None);
    assert_eq!(chat(&h, "gpt-4o-mini").await.status(), 503);
    assert_eq!(h.mock.server.requests_seen(), 1);
}

#[tokio::test]
async fn a_clients_own_mistake_is_not_retried() {
    let h = Harness::with(Setup {
        retries: quick(2, 20),
        ..Setup::default()
    })
    .await;
    fail(&h, Side::OpenAi, 400, None);
    assert_eq!(chat(&h, "gpt-4o-mini").await.status(), 400);
    fail(&h, Side::Gemini, 404, None);
    let r = h
        .gemini_post("/v1beta/models/gemini-2.5-flash:generateContent")
        .json(&json!({"contents": [{"parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(h.mock.server.requests_seen(), 2, "one call each");
}

#[tokio::test]
async fn the_retry_budget_keeps_a_failing_provider_from_being_hammered() {
    let h = Harness::with(Setup {
        retries: quick(2, 0),
        // The breaker would stop the calls sooner: this is the budget alone.
        breaker: BreakerPolicy {
            failures_to_open: 0,
            open_for: Duration::from_secs(1),
        },
        ..Setup::default()
    })
    .await;
    fail(&h, Side::OpenAi, 503, None);
    for _ in 0..20 {
        assert_eq!(chat(&h, "gpt-4o-mini").await.status(), 503);
    }
    // Twenty calls, and only the budget's reserve of ten retries, not forty.
    assert_eq!(h.mock.server.requests_seen(), 30);
}

fn smart_falls_back_to_gemini(on: Vec<Trigger>) -> Setup {
    Setup {
        retries: quick(1, 20),
        fallbacks: vec![(
            "smart",
            Fallbacks {
                models: vec!["gemini-2.5-flash".into()],
                on,
            },
        )],
        ..Setup::default()
    }
}

#[tokio::test]
async fn a_route_falls_back_to_another_provider_and_says_which_served() {
    let h = Harness::with(smart_falls_back_to_gemini(Trigger::DEFAULT.to_vec())).await;
    fail(&h, Side::OpenAi, 503, None);
    let r = chat(&h, "smart").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-airlock-served-by"],
        "gemini/gemini-2.5-flash"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["object"], "chat.completion",
        "in the client's protocol"
    );
    assert!(body["choices"][0]["message"]["content"].is_string());
    // Streamed: the fallback's stream, translated, as it comes.
    let r = h
        .openai_post("/v1/chat/completions")
        .json(&json!({"model": "smart", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-airlock-served-by"],
        "gemini/gemini-2.5-flash"
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains("chat.completion.chunk") && text.trim_end().ends_with("[DONE]"),
        "{text}"
    );
    // Counted (metrics are process-wide: other tests' fallbacks count too).
    let counted = metric(
        &h,
        "airlock_fallbacks_total{from=\"openai\",to=\"gemini\",trigger=\"errors\"}",
    )
    .await;
    assert!(counted >= 2.0, "{counted}");
    // The log and the spend name the model that served.
    let records = h.stop().await;
    assert_eq!(records.len(), 2);
    for record in &records {
        assert_eq!(record.status, 200);
        assert_eq!(record.model.as_deref(), Some("smart"));
        assert_eq!(record.provider.as_deref(), Some("gemini"));
        assert_eq!(record.upstream_model.as_deref(), Some("gemini-2.5-flash"));
        let expected = common::list_price_usd(
            "gemini-2.5-flash",
            record.tokens_in.unwrap() as u64,
            0,
            record.tokens_out.unwrap() as u64,
        );
        common::assert_cost(record.cost_usd, expected);
    }
}

#[tokio::test]
async fn a_route_falls_back_only_on_what_it_names() {
    let h = Harness::with(smart_falls_back_to_gemini(vec![Trigger::RateLimits])).await;
    fail(&h, Side::OpenAi, 503, None);
    let r = chat(&h, "smart").await;
    assert_eq!(r.status(), 503, "errors are not among its triggers");
    assert_eq!(r.headers()["x-airlock-served-by"], "openai/gpt-4o");
    assert!(
        h.mock
            .server
            .received()
            .iter()
            .all(|r| !r.path.contains("gemini")),
        "gemini was never called"
    );
    // A route with no fallbacks answers with its provider's error.
    assert_eq!(chat(&h, "gpt-4o-mini").await.status(), 503);
}

#[tokio::test]
async fn a_fallback_the_caller_may_not_use_is_skipped() {
    let h = Harness::with(smart_falls_back_to_gemini(Trigger::DEFAULT.to_vec())).await;
    let created = common::admin_create(&h, "/admin/v1/projects", json!({"name": "gpt-only"})).await;
    assert_eq!(created["name"], "gpt-only");
    let key = common::admin_create(
        &h,
        "/admin/v1/projects/gpt-only/keys",
        json!({"models": ["smart", "gpt-*"]}),
    )
    .await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    fail(&h, Side::OpenAi, 503, None);
    let r = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "smart", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "the key may not use the Gemini fallback");
    assert!(
        h.mock
            .server
            .received()
            .iter()
            .all(|r| !r.path.contains("gemini"))
    );
}

#[tokio::test]
async fn a_failing_providers_circuit_opens_then_a_probe_closes_it() {
    let h = Harness::with(Setup {
        retries: quick(0, 20),
        breaker: BreakerPolicy {
            failures_to_open: 3,
            open_for: Duration::from_millis(300),
        },
        fallbacks: vec![(
            "smart",
            Fallbacks {
                models: vec!["gemini-2.5-flash".into()],
                on: Trigger::DEFAULT.to_vec(),
            },
        )],
        ..Setup::default()
    })
    .await;
    fail(&h, Side::OpenAi, 503, None);
    for _ in 0..3 {
        assert_eq!(chat(&h, "gpt-4o-mini").await.status(), 503);
    }
    let openai_calls = |h: &Harness| {
        h.mock
            .server
            .requests_by_key()
            .get("openai-key-a")
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(openai_calls(&h), 3);
    // Open: refused at once, without calling the provider.
    let r = chat(&h, "gpt-4o-mini").await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "provider_unavailable", "{body}");
    // A route with a fallback goes straight to it.
    let r = chat(&h, "smart").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-airlock-served-by"],
        "gemini/gemini-2.5-flash"
    );
    assert_eq!(openai_calls(&h), 3, "the open circuit called nobody");
    // The provider recovers; after the open time one probe closes it.
    h.mock.server.clear_fault_rules();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(chat(&h, "gpt-4o-mini").await.status(), 200);
    assert_eq!(
        chat(&h, "smart").await.headers()["x-airlock-served-by"],
        "openai/gpt-4o"
    );
    assert_eq!(openai_calls(&h), 5);
}

#[tokio::test]
async fn readiness_reports_each_providers_circuit_and_fails_when_every_one_is_open() {
    let h = Harness::with(Setup {
        retries: quick(0, 20),
        breaker: BreakerPolicy {
            failures_to_open: 1,
            open_for: Duration::from_secs(60),
        },
        ..Setup::default()
    })
    .await;
    let (status, body) = h.readiness().await;
    assert_eq!(status, 200);
    assert_eq!(body["providers"][0]["circuit"], "closed");
    h.mock.server.add_fault_rule(FaultRule {
        provider: None,
        fault: Fault::Status(503),
        times: None,
        rate: None,
    });
    assert_eq!(chat(&h, "gpt-4o-mini").await.status(), 503);
    let (status, body) = h.readiness().await;
    assert_eq!(status, 200, "gemini still counts: {body}");
    let r = h
        .gemini_post("/v1beta/models/gemini-2.5-flash:generateContent")
        .json(&json!({"contents": [{"parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let (status, body) = h.readiness().await;
    assert_eq!(status, 503, "{body}");
    let circuits: Vec<&str> = body["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["circuit"].as_str().unwrap())
        .collect();
    assert_eq!(circuits, ["open", "open"]);
}
