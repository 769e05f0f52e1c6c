//! The admin API: projects, keys, spend, the audit log, and malformed
//! requests.

use crate::common;

use common::{Harness, MASTER_KEY, Setup};
use serde_json::{Value, json};

const ADMIN: &str = "admin-token-for-tests";

async fn admin_harness() -> Harness {
    Harness::with(Setup {
        admin_token: Some(ADMIN),
        ..Setup::default()
    })
    .await
}

async fn admin(
    h: &Harness,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = h.http.request(method, h.url(path)).bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn projects_and_keys_round_trip_and_are_audited() {
    let h = admin_harness().await;
    let (status, project) = admin(
        &h,
        reqwest::Method::POST,
        "/admin/v1/projects",
        Some(json!({"name": "story-app", "limits": {"rpm": 100, "budget": {"usd": 10.0, "period": "month"}}})),
    )
    .await;
    assert_eq!(status, 201, "{project}");
    assert_eq!(project["settings"]["limits"]["rpm"], 100);
    let (status, _) = admin(
        &h,
        reqwest::Method::POST,
        "/admin/v1/projects",
        Some(json!({"name": "story-app"})),
    )
    .await;
    assert_eq!(status, 409);

    let (status, created) = admin(
        &h,
        reqwest::Method::POST,
        "/admin/v1/projects/story-app/keys",
        Some(json!({"name": "backend", "limits": {"rpm": 60, "tpm": 100000}, "models": ["gemini-*"], "expires_in_secs": 3600})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("ak_"));
    assert!(secret.starts_with(created["key"]["prefix"].as_str().unwrap()));
    assert!(created["key"]["expires_at_ms"].is_i64());
    let key_id = created["key"]["id"].as_str().unwrap().to_string();

    // The key works at once on this instance, within its scope.
    let chat =
        json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]});
    let r = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(&secret)
        .json(&chat)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-limit-requests"], "60");

    // Listing never shows a secret or its digest.
    let (status, keys) = admin(
        &h,
        reqwest::Method::GET,
        "/admin/v1/projects/story-app/keys",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(keys["data"].as_array().unwrap().len(), 1);
    assert!(!keys.to_string().contains(&secret[3..]));
    assert!(keys["data"][0].get("secret_sha256").is_none());

    let (status, revoked) = admin(
        &h,
        reqwest::Method::POST,
        &format!("/admin/v1/keys/{key_id}/revoke"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(revoked["revoked_at_ms"].is_i64());
    let r = h
        .http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(&secret)
        .json(&chat)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let (status, updated) = admin(
        &h,
        reqwest::Method::PATCH,
        "/admin/v1/projects/story-app",
        Some(json!({"limits": {"tpm": 5000}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(updated["settings"]["limits"], json!({"tpm": 5000}));

    let (status, audit) = admin(&h, reqwest::Method::GET, "/admin/v1/audit", None).await;
    assert_eq!(status, 200);
    let entries = audit["data"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "project.create",
            "key.create",
            "key.revoke",
            "project.update"
        ]
    );
    assert_eq!(entries[0]["actor"], "admin-api");
    assert_eq!(entries[0]["remote_addr"], "127.0.0.1");
    assert_eq!(entries[3]["before"]["settings"]["limits"]["rpm"], 100);
    assert_eq!(entries[3]["after"]["settings"]["limits"]["tpm"], 5000);
    assert!(!audit.to_string().contains(&secret[3..]));
    // The audit log cannot be edited through the API.
    let r = h
        .http
        .delete(h.url("/admin/v1/audit"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let (_, page) = admin(
        &h,
        reqwest::Method::GET,
        &format!("/admin/v1/audit?after={}&limit=1", entries[1]["seq"]),
        None,
    )
    .await;
    assert_eq!(page["data"][0]["action"], "key.revoke");
}

#[tokio::test]
async fn spend_is_reported_per_project_and_key() {
    let h = admin_harness().await;
    admin(
        &h,
        reqwest::Method::POST,
        "/admin/v1/projects",
        Some(json!({"name": "spender"})),
    )
    .await;
    let (_, created) = admin(
        &h,
        reqwest::Method::POST,
        "/admin/v1/projects/spender/keys",
        Some(json!({})),
    )
    .await;
    let secret = created["secret"].as_str().unwrap();
    for _ in 0..3 {
        let r = h
            .http
            .post(h.url("/v1/chat/completions"))
            .bearer_auth(secret)
            .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "spend"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // Spend is read from the request log, which is written in batches.
    // A bound so a regression fails instead of hanging; not a timing assertion.
    let report = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let (status, report) = admin(
                &h,
                reqwest::Method::GET,
                "/admin/v1/spend?project=spender",
                None,
            )
            .await;
            assert_eq!(status, 200);
            if report["data"]
                .as_array()
                .is_some_and(|rows| rows.first().is_some_and(|row| row["requests"] == 3))
            {
                break report;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the three requests reach the spend report");
    let row = &report["data"][0];
    assert_eq!(row["model"], "gpt-4o");
    assert_eq!(row["api_key_id"], created["key"]["id"]);
    assert!(row["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(report["total_cost_usd"], row["cost_usd"]);
    let (status, _) = admin(
        &h,
        reqwest::Method::GET,
        "/admin/v1/spend?since=yesterday",
        None,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn malformed_admin_requests_get_clear_errors() {
    let h = admin_harness().await;
    let cases = [
        (
            reqwest::Method::POST,
            "/admin/v1/projects",
            json!({"name": "a b"}),
            400,
        ),
        (
            reqwest::Method::POST,
            "/admin/v1/projects",
            json!({"name": "ok", "limits": {"rpm": 0}}),
            400,
        ),
        (
            reqwest::Method::POST,
            "/admin/v1/projects",
            json!({"name": "ok", "colour": "red"}),
            400,
        ),
        (
            reqwest::Method::POST,
            "/admin/v1/projects",
            json!({"name": "ok", "limits": {"budget": {"usd": -1, "period": "month"}}}),
            400,
        ),
        (
            reqwest::Method::POST,
            "/admin/v1/projects/missing/keys",
            json!({}),
            404,
        ),
        (
            reqwest::Method::POST,
            "/admin/v1/keys/key_missing/revoke",
            json!({}),
            404,
        ),
        (
            reqwest::Method::PATCH,
            "/admin/v1/projects/missing",
            json!({"limits": {}}),
            404,
        ),
    ];
    for (method, path, body, expected) in cases {
        let (status, error) = admin(&h, method.clone(), path, Some(body.clone())).await;
        assert_eq!(status, expected, "{method} {path} {body}: {error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{error}"
        );
    }
    admin(
        &h,
        reqwest::Method::POST,
        "/admin/v1/projects",
        Some(json!({"name": "p"})),
    )
    .await;
    let (status, error) = admin(
        &h,
        reqwest::Method::POST,
        "/admin/v1/projects/p/keys",
        Some(json!({"models": ["gem*ini"], "expires_in_secs": 10})),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    let r = h
        .http
        .post(h.url("/admin/v1/projects"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Tokens: missing, wrong, and the client key is not an admin token.
    let r = h
        .http
        .get(h.url("/admin/v1/projects"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = h
        .http
        .get(h.url("/admin/v1/projects"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = h
        .http
        .get(h.url("/admin/v1/projects"))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "with an admin token set, the master key does not open the admin API"
    );
    // The description needs no token.
    let spec: Value = h
        .http
        .get(h.url("/admin/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["paths"]["/admin/v1/projects/{name}/keys"]["post"].is_object());
}

#[tokio::test]
async fn without_any_admin_token_the_admin_api_is_closed() {
    let h = Harness::with(Setup {
        master_key: None,
        ..Setup::default()
    })
    .await;
    let r = h
        .http
        .get(h.url("/admin/v1/projects"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "admin_disabled");
}

#[tokio::test]
async fn providers_show_their_circuit_retry_budget_and_keys() {
    use airlock_gateway::resilience::{BreakerPolicy, RetryPolicy};
    use airlock_mock::{Fault, FaultRule, Side};
    use std::time::Duration;

    let h = Harness::with(Setup {
        admin_token: Some(ADMIN),
        gemini_keys: vec!["gemini-key-a", "bad-gemini-key"],
        retries: RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        },
        breaker: BreakerPolicy {
            failures_to_open: 2,
            open_for: Duration::from_secs(60),
        },
        ..Setup::default()
    })
    .await;
    let providers = || async {
        let (status, body) = admin(&h, reqwest::Method::GET, "/admin/v1/providers", None).await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().clone()
    };
    let chat = || async {
        h.openai_post("/v1/chat/completions")
            .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap()
            .status()
    };

    let listed = providers().await;
    let names: Vec<&str> = listed.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["gemini", "openai"]);
    let openai = &listed[1];
    assert_eq!(openai["kind"], "openai");
    assert_eq!(
        openai["circuit"],
        json!({"state": "closed", "consecutive_failures": 0, "probe_in_secs": null})
    );
    assert_eq!(
        openai["retry_budget"],
        json!({"available": 10.0, "percent": 20})
    );
    assert_eq!(
        openai["keys"],
        json!([{"id": "openai#0", "state": "active"}])
    );

    // A key the provider rejects shows as rejected, by id only.
    let r = h
        .gemini_post("/v1beta/models/gemini-2.5-flash:generateContent")
        .json(&json!({"contents": [{"parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = h
        .gemini_post("/v1beta/models/gemini-2.5-flash:generateContent")
        .json(&json!({"contents": [{"parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // OpenAI fails: one failure counts, the second opens the circuit.
    h.mock.server.add_fault_rule(FaultRule {
        provider: Some(Side::OpenAi),
        fault: Fault::Status(503),
        times: None,
        rate: None,
    });
    assert_eq!(chat().await, 503);
    let listed = providers().await;
    assert_eq!(listed[1]["circuit"]["state"], "closed");
    assert_eq!(listed[1]["circuit"]["consecutive_failures"], 1);
    assert_eq!(chat().await, 503);
    let listed = providers().await;
    let circuit = &listed[1]["circuit"];
    assert_eq!(circuit["state"], "open", "{circuit}");
    assert_eq!(circuit["consecutive_failures"], 2);
    let probe_in = circuit["probe_in_secs"].as_u64().unwrap();
    assert!((55..=60).contains(&probe_in), "{circuit}");
    // Refused while open, without calling the provider: nothing changes.
    assert_eq!(chat().await, 503);
    assert_eq!(providers().await[1]["circuit"]["consecutive_failures"], 2);
    // The other provider is untouched; its rejected key is named, no key value shown.
    let gemini = &listed[0];
    assert_eq!(gemini["circuit"]["state"], "closed");
    assert_eq!(
        gemini["keys"],
        json!([{"id": "gemini#0", "state": "active"}, {"id": "gemini#1", "state": "rejected"}])
    );
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains("gemini-key-a") && !text.contains("bad-gemini-key"));

    // The admin token is required.
    let r = h
        .http
        .get(h.url("/admin/v1/providers"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_keys_limits_and_scopes_are_edited_and_take_effect_at_once() {
    let h = admin_harness().await;
    let (status, _) = admin(
        &h,
        reqwest::Method::POST,
        "/admin/v1/projects",
        Some(json!({"name": "scoped"})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, created) = admin(
        &h,
        reqwest::Method::POST,
        "/admin/v1/projects/scoped/keys",
        Some(json!({"name": "backend", "models": ["fast"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["key"]["id"].as_str().unwrap().to_string();
    let chat =
        |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    let status_of = |model: &'static str| {
        let request = h
            .http
            .post(h.url("/v1/chat/completions"))
            .bearer_auth(&secret)
            .json(&chat(model));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        (status_of("fast").await, status_of("smart").await),
        (200, 403)
    );

    let path = format!("/admin/v1/keys/{id}");
    let (status, updated) = admin(
        &h,
        reqwest::Method::PATCH,
        &path,
        Some(
            json!({"models": ["smart"], "operations": ["chat.completions"], "limits": {"rpm": 30}}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["settings"]["limits"]["rpm"], 30);
    assert_eq!(updated["name"], "backend");
    assert_eq!(
        (status_of("fast").await, status_of("smart").await),
        (403, 200)
    );

    for (body, problem) in [
        (json!({"operations": ["teleport"]}), "unknown operation"),
        (json!({"models": ["gem*ini"]}), "model pattern"),
        (json!({"secret": "x"}), "secret"),
    ] {
        let (status, refused) = admin(&h, reqwest::Method::PATCH, &path, Some(body)).await;
        assert_eq!(status, 400, "{refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains(problem),
            "{refused}"
        );
    }
    let (status, _) = admin(
        &h,
        reqwest::Method::PATCH,
        "/admin/v1/keys/key_nope",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 404);
    let (_, audit) = admin(&h, reqwest::Method::GET, "/admin/v1/audit", None).await;
    let entry = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "key.update")
        .unwrap();
    assert_eq!(entry["before"]["settings"]["models"], json!(["fast"]));
    assert_eq!(entry["after"]["settings"]["models"], json!(["smart"]));
}
