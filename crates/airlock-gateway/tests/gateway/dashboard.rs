//! The dashboard over HTTP: its files and their Content Security Policy,
//! signing in (master key or admin user), the session cookie, CSRF on
//! every change, roles, failed sign-ins bounded, expired sessions, and the
//! aggregates its pages read (overview, spend, the request log) checked
//! against the traffic that made them.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::common;
use airlock_store::{AdminRole, AdminSession};
use common::{Harness, MASTER_KEY, admin_call, admin_project_key, request_id};

/// A signed-in browser: its cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn sign_in(h: &Harness, body: Value) -> (u16, Value, Option<String>) {
    let response = h
        .http
        .post(h.url("/admin/v1/session"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    (status, response.json().await.unwrap_or(Value::Null), cookie)
}

async fn signed_in(h: &Harness, body: Value) -> Browser {
    let (status, session, cookie) = sign_in(h, body).await;
    assert_eq!(status, 200, "{session}");
    let cookie = cookie.expect("a session cookie");
    Browser {
        cookie: cookie.split(';').next().unwrap().to_string(),
        csrf: session["csrf_token"].as_str().unwrap().to_string(),
    }
}

/// A call as the browser makes it: the cookie, and the CSRF token when
/// `csrf` is given.
async fn call(
    h: &Harness,
    browser: &Browser,
    method: Method,
    path: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = h
        .http
        .request(method, h.url(path))
        .header("cookie", &browser.cookie);
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn add_admin(h: &Harness, username: &str, role: &str) {
    let body = json!({"username": username, "password": format!("{username}-password-long"), "role": role});
    let (status, created) = admin_call(h, Method::POST, "/admin/v1/admins", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert!(created.get("password_hash").is_none(), "{created}");
}

#[tokio::test]
async fn the_dashboard_is_served_with_its_content_security_policy() {
    let h = Harness::start().await;
    let page = h.http.get(h.url("/ui/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("/ui/assets/app.js"));
    // No inline script: every <script> names its file.
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=").count() + html.matches("<script type=\"module\" src=").count()
    );

    let app = h.http.get(h.url("/ui/assets/app.js")).send().await.unwrap();
    assert_eq!(app.status(), 200);
    assert_eq!(
        app.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let missing = h
        .http
        .get(h.url("/ui/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().contains_key("content-security-policy"));
    assert_eq!(missing.headers()["x-content-type-options"], "nosniff");
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(h.url("/ui"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 308);
    assert_eq!(bare.headers()["location"], "/ui/");
}

#[tokio::test]
async fn a_master_key_session_reads_and_changes_with_its_csrf_token_then_signs_out() {
    let h = Harness::start().await;
    let (status, session, cookie) = sign_in(&h, json!({"password": MASTER_KEY})).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["user"], "master key");
    assert_eq!(session["role"], "admin");
    let cookie = cookie.unwrap();
    for attribute in [
        "airlock_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    // Behind a proxy that terminates TLS, the cookie is Secure.
    let proxied = h
        .http
        .post(h.url("/admin/v1/session"))
        .header("x-forwarded-proto", "https")
        .json(&json!({"password": MASTER_KEY}))
        .send()
        .await
        .unwrap();
    assert!(
        proxied.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );

    let browser = signed_in(&h, json!({"password": MASTER_KEY})).await;
    let (status, current) = call(&h, &browser, Method::GET, "/admin/v1/session", None, None).await;
    assert_eq!(
        (status, current["csrf_token"].as_str()),
        (200, Some(browser.csrf.as_str()))
    );
    let (status, _) = call(&h, &browser, Method::GET, "/admin/v1/projects", None, None).await;
    assert_eq!(status, 200);

    // A change without the token, or with another, is refused.
    let project = Some(json!({"name": "from-the-dashboard"}));
    let (status, refused) = call(
        &h,
        &browser,
        Method::POST,
        "/admin/v1/projects",
        None,
        project.clone(),
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("csrf_failed"))
    );
    let forged = "0".repeat(64);
    let (status, refused) = call(
        &h,
        &browser,
        Method::POST,
        "/admin/v1/projects",
        Some(&forged),
        project.clone(),
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("csrf_failed"))
    );
    let (status, created) = call(
        &h,
        &browser,
        Method::POST,
        "/admin/v1/projects",
        Some(&browser.csrf),
        project,
    )
    .await;
    assert_eq!(status, 201, "{created}");

    // Audited under the session's user.
    let (_, audit) = admin_call(&h, Method::GET, "/admin/v1/audit", None).await;
    let entries = audit["data"].as_array().unwrap();
    let created_entry = entries
        .iter()
        .find(|e| e["action"] == "project.create")
        .unwrap();
    assert_eq!(created_entry["actor"], "dashboard:master key");
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "session.sign_in" && e["actor"] == "dashboard:master key")
    );

    // Signing out needs the token too, and ends the session.
    let (status, _) = call(
        &h,
        &browser,
        Method::DELETE,
        "/admin/v1/session",
        None,
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &h,
        &browser,
        Method::DELETE,
        "/admin/v1/session",
        Some(&browser.csrf),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, gone) = call(&h, &browser, Method::GET, "/admin/v1/projects", None, None).await;
    assert_eq!(
        (status, gone["error"]["code"].as_str()),
        (401, Some("no_session"))
    );
}

#[tokio::test]
async fn roles_bound_what_a_session_may_change() {
    let h = Harness::start().await;
    add_admin(&h, "vic", "viewer").await;
    add_admin(&h, "olga", "operator").await;
    add_admin(&h, "ada", "admin").await;
    let viewer = signed_in(
        &h,
        json!({"username": "vic", "password": "vic-password-long"}),
    )
    .await;
    let operator = signed_in(
        &h,
        json!({"username": "olga", "password": "olga-password-long"}),
    )
    .await;
    let admin = signed_in(
        &h,
        json!({"username": "ada", "password": "ada-password-long"}),
    )
    .await;

    let project = || Some(json!({"name": format!("p{}", fastrand::u32(..))}));
    let (status, _) = call(
        &h,
        &viewer,
        Method::GET,
        "/admin/v1/stats/overview",
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, refused) = call(
        &h,
        &viewer,
        Method::POST,
        "/admin/v1/projects",
        Some(&viewer.csrf),
        project(),
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("forbidden_role"))
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("viewer")
    );
    let (status, _) = call(
        &h,
        &operator,
        Method::POST,
        "/admin/v1/projects",
        Some(&operator.csrf),
        project(),
    )
    .await;
    assert_eq!(status, 201);

    // Only an admin manages the dashboard's users.
    let (status, _) = call(&h, &operator, Method::GET, "/admin/v1/admins", None, None).await;
    assert_eq!(status, 403);
    let (status, users) = call(&h, &admin, Method::GET, "/admin/v1/admins", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(users["data"].as_array().unwrap().len(), 3);
    // Deleting a user signs it out at once.
    let (status, _) = call(
        &h,
        &admin,
        Method::DELETE,
        "/admin/v1/admins/vic",
        Some(&admin.csrf),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(&h, &viewer, Method::GET, "/admin/v1/projects", None, None).await;
    assert_eq!(status, 401);
    let (_, audit) = admin_call(&h, Method::GET, "/admin/v1/audit", None).await;
    assert!(
        audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "admin_user.delete" && e["actor"] == "dashboard:ada")
    );
}

#[tokio::test]
async fn admin_users_are_checked_when_made() {
    let h = Harness::start().await;
    for (body, problem) in [
        (
            json!({"username": "bob", "password": "short", "role": "viewer"}),
            "at least 12",
        ),
        (
            json!({"username": "bo b", "password": "long-enough-password", "role": "viewer"}),
            "username",
        ),
        (
            json!({"username": "<b>", "password": "long-enough-password", "role": "viewer"}),
            "username",
        ),
        (
            json!({"username": "bob", "password": "long-enough-password", "role": "root"}),
            "`root`",
        ),
    ] {
        let (status, refused) = admin_call(&h, Method::POST, "/admin/v1/admins", Some(body)).await;
        assert_eq!(status, 400, "{refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains(problem),
            "{refused}"
        );
    }
    add_admin(&h, "bob", "viewer").await;
    let body = json!({"username": "bob", "password": "another-long-password", "role": "admin"});
    let (status, _) = admin_call(&h, Method::POST, "/admin/v1/admins", Some(body)).await;
    assert_eq!(status, 409);
    let (status, _) = admin_call(&h, Method::DELETE, "/admin/v1/admins/nobody", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn failed_sign_ins_are_refused_after_ten_even_with_the_right_password() {
    let h = Harness::start().await;
    add_admin(&h, "eve", "admin").await;
    for _ in 0..10 {
        let (status, refused, cookie) = sign_in(
            &h,
            json!({"username": "eve", "password": "guess-guess-guess"}),
        )
        .await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (401, Some("invalid_credentials"))
        );
        assert!(cookie.is_none());
    }
    let response = h
        .http
        .post(h.url("/admin/v1/session"))
        .json(&json!({"username": "eve", "password": "eve-password-long"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "60");
    assert!(response.headers().get("set-cookie").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_attempts");
}

#[tokio::test]
async fn expired_forged_and_project_key_credentials_get_no_session() {
    let h = Harness::start().await;
    // A session past its end.
    let token = "a".repeat(64);
    let digest = hex_sha256(&token);
    let expired = AdminSession {
        username: "master key".into(),
        role: AdminRole::Admin,
        csrf_token: "csrf".into(),
        created_at_ms: 1,
        expires_at_ms: 2,
    };
    h.store
        .create_admin_session(&digest, &expired)
        .await
        .unwrap();
    let browser = Browser {
        cookie: format!("airlock_session={token}"),
        csrf: "csrf".into(),
    };
    let (status, refused) = call(&h, &browser, Method::GET, "/admin/v1/projects", None, None).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (401, Some("session_expired"))
    );
    // A cookie nobody issued.
    let forged = Browser {
        cookie: format!("airlock_session={}", "b".repeat(64)),
        csrf: String::new(),
    };
    let (status, refused) = call(&h, &forged, Method::GET, "/admin/v1/session", None, None).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (401, Some("no_session"))
    );

    // A project key opens neither the dashboard nor the admin API.
    let key = admin_project_key(&h, "widget", json!({})).await;
    let (status, refused, cookie) = sign_in(&h, json!({"password": key})).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    assert!(cookie.is_none());
    let response = h
        .http
        .get(h.url("/admin/v1/projects"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // Malformed sign-ins say what is wrong.
    let (status, refused, _) = sign_in(&h, json!({"user": "x", "password": "y"})).await;
    assert_eq!(status, 400);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user"),
        "{refused}"
    );
}

fn hex_sha256(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// A chat completion with a project key.
async fn chat_as(h: &Harness, key: &str, model: &str) -> reqwest::Response {
    let body = json!({"model": model, "messages": [{"role": "user", "content": "hello"}]});
    h.http
        .post(h.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Waits until the overview counts `requests` requests in the last hour.
async fn overview_with(h: &Harness, query: &str, requests: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, overview) = admin_call(
            h,
            Method::GET,
            &format!("/admin/v1/stats/overview?{query}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{overview}");
        if overview["totals"]["requests"] == requests || Instant::now() > deadline {
            return overview;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_overview_and_spend_count_the_traffic_that_made_them() {
    let h = Harness::start().await;
    let story = admin_project_key(
        &h,
        "story",
        json!({"limits": {"budget": {"usd": 5.0, "period": "month"}}}),
    )
    .await;
    let widget = admin_project_key(&h, "widget", json!({})).await;
    for _ in 0..4 {
        let r = chat_as(&h, &story, "fast").await;
        assert_eq!(r.status(), 200);
    }
    let r = chat_as(&h, &widget, "smart").await;
    assert_eq!(r.status(), 200);
    let r = chat_as(&h, &widget, "no-such-model").await;
    assert!(r.status().is_client_error());

    let overview = overview_with(&h, "window=1h", 6).await;
    assert_eq!(overview["window"], "1h");
    assert_eq!(overview["step_ms"], 60_000);
    let series = overview["series"].as_array().unwrap();
    assert_eq!(series.len(), 60);
    let summed: i64 = series.iter().map(|p| p["requests"].as_i64().unwrap()).sum();
    assert_eq!(summed, 6);
    let totals = &overview["totals"];
    assert_eq!(totals["errors"], 1);
    assert!(totals["tokens_in"].as_i64().unwrap() > 0);
    assert!(totals["latency_p50_ms"].as_f64().is_some());
    assert!(
        totals["latency_p99_ms"].as_f64().unwrap() >= totals["latency_p50_ms"].as_f64().unwrap()
    );
    let by_project = overview["by_project"].as_array().unwrap();
    assert_eq!(by_project[0]["project"], "story");
    assert_eq!(by_project[0]["requests"], 4);
    assert_eq!(by_project[1]["project"], "widget");
    assert_eq!(by_project[1]["errors"], 1);
    let models: Vec<&str> = overview["by_model"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["model"].as_str())
        .collect();
    assert!(
        models.contains(&"fast") && models.contains(&"smart"),
        "{models:?}"
    );
    // Upstream latency and errors by provider.
    let providers = overview["by_provider"].as_array().unwrap();
    assert!(
        providers
            .iter()
            .any(|p| p["provider"] == "gemini" && p["latency_p95_ms"].as_f64().is_some())
    );
    assert!(overview["live"]["in_flight"].as_i64().is_some());
    assert!(overview["live"]["realtime_sessions"].as_i64().is_some());

    // One project's view, and the other windows.
    let story_only = overview_with(&h, "window=24h&project=story", 4).await;
    assert_eq!(story_only["totals"]["requests"], 4);
    assert_eq!(story_only["series"].as_array().unwrap().len(), 96);
    let month = overview_with(&h, "window=30d", 6).await;
    assert_eq!(month["series"].as_array().unwrap().len(), 30);

    // Spend: by project, against the log's own sum; the budget's use.
    let (status, spend) = admin_call(
        &h,
        Method::GET,
        "/admin/v1/stats/spend?window=7d&by=project",
        None,
    )
    .await;
    assert_eq!(status, 200, "{spend}");
    let records = h
        .store
        .search_requests(&airlock_store::RequestSearch {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let story_id = h.store.project_by_name("story").await.unwrap().unwrap().id;
    let story_cost: f64 = records
        .iter()
        .filter(|r| r.project_id.as_ref() == Some(&story_id))
        .filter_map(|r| r.cost_usd)
        .sum();
    assert!(story_cost > 0.0);
    let row = spend["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "story")
        .unwrap();
    assert!((row["cost_usd"].as_f64().unwrap() - story_cost).abs() < 1e-12);
    let budget = spend["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "story")
        .unwrap();
    assert_eq!(budget["usd"], 5.0);
    assert!((budget["spent_usd"].as_f64().unwrap() - story_cost).abs() < 1e-12);
    assert_eq!(spend["alerts"], json!([]));
    for by in ["key", "model", "user"] {
        let (status, _) = admin_call(
            &h,
            Method::GET,
            &format!("/admin/v1/stats/spend?by={by}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "by={by}");
    }
    for bad in ["window=2h", "by=color", "project=nope", "colour=1"] {
        let (status, refused) = admin_call(
            &h,
            Method::GET,
            &format!("/admin/v1/stats/spend?{bad}"),
            None,
        )
        .await;
        assert!(status == 400 || status == 404, "{bad}: {status} {refused}");
        assert!(refused["error"]["message"].is_string());
    }
}

#[tokio::test]
async fn the_request_log_page_filters_and_opens_one_record() {
    let h = Harness::start().await;
    let story = admin_project_key(&h, "story", json!({})).await;
    let mut ids = Vec::new();
    for model in ["fast", "smart", "fast"] {
        let r = chat_as(&h, &story, model).await;
        assert_eq!(r.status(), 200);
        ids.push(request_id(&r));
    }
    overview_with(&h, "window=1h", 3).await;
    let (status, page) = admin_call(
        &h,
        Method::GET,
        "/admin/v1/requests?project=story&limit=2",
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let listed: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str()], "newest first");
    assert_eq!(page["data"][0]["project"], "story");
    let next = page["next_before"].as_str().unwrap();
    let (_, older) = admin_call(
        &h,
        Method::GET,
        &format!("/admin/v1/requests?project=story&limit=2&before={next}"),
        None,
    )
    .await;
    assert_eq!(older["data"][0]["id"], ids[0].as_str());
    assert_eq!(older["next_before"], Value::Null);
    let (_, smart) = admin_call(
        &h,
        Method::GET,
        "/admin/v1/requests?model=smart&status=200",
        None,
    )
    .await;
    assert_eq!(smart["data"].as_array().unwrap().len(), 1);
    let (_, errors) = admin_call(&h, Method::GET, "/admin/v1/requests?status=error", None).await;
    assert_eq!(errors["data"], json!([]));

    let (status, one) = admin_call(
        &h,
        Method::GET,
        &format!("/admin/v1/requests/{}", ids[1]),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one["record"]["model"], "smart");
    assert_eq!(one["content_logged"], false);
    let (status, _) = admin_call(&h, Method::GET, "/admin/v1/requests/nope", None).await;
    assert_eq!(status, 404);
    let (status, _) = admin_call(&h, Method::GET, "/admin/v1/requests?before=nope", None).await;
    assert_eq!(status, 404);
    for bad in ["status=teapot", "limit=0", "limit=501", "since_ms=soon"] {
        let (status, refused) =
            admin_call(&h, Method::GET, &format!("/admin/v1/requests?{bad}"), None).await;
        assert_eq!(status, 400, "{bad}: {refused}");
    }
}
