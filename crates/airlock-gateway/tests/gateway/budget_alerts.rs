//! Budget alerts delivered to a local webhook receiver on 127.0.0.1: signed,
//! retried on 5xx and 429, not retried on other 4xx.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use airlock_gateway::alerts::{AlertScope, BudgetAlerts, WebhookConfig};
use airlock_gateway::webhook::verify;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use serde_json::{Value, json};

const SECRET: &str = "whsec_integration";
/// 2026-11-01T00:00:00Z in milliseconds.
const NOV: i64 = 1_793_491_200_000;
/// Bounds every flush (never reached when the code is right).
const PATIENCE: Duration = Duration::from_secs(30);

const PROJECT: AlertScope<'static> = AlertScope::Project {
    id: "proj_1",
    name: "acme",
};
const KEY: AlertScope<'static> = AlertScope::Key {
    id: "key_1",
    project_name: "acme",
};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    query: Option<String>,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Recorder {
    requests: Mutex<Vec<Received>>,
    /// Statuses to answer, in order; 200 once they run out.
    script: Mutex<VecDeque<StatusCode>>,
}

async fn hook(
    State(recorder): State<Arc<Recorder>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    recorder.requests.lock().unwrap().push(Received {
        headers,
        query: uri.query().map(str::to_owned),
        body,
    });
    recorder
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(StatusCode::OK)
}

/// A webhook receiver on 127.0.0.1:0 answering `script`, then 200; returns
/// its `/hook` URL (with a token in the query) and what it records.
async fn receiver(script: &[u16]) -> (String, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    recorder
        .script
        .lock()
        .unwrap()
        .extend(script.iter().map(|&s| StatusCode::from_u16(s).unwrap()));
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(recorder.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook?token=t0k3n"), recorder)
}

fn alerts(url: &str) -> BudgetAlerts {
    BudgetAlerts::new(WebhookConfig::new(url, SECRET)).unwrap()
}

async fn flush(alerts: &BudgetAlerts) {
    tokio::time::timeout(PATIENCE, alerts.flush())
        .await
        .expect("flush finished");
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn requests(recorder: &Recorder) -> Vec<Received> {
    recorder.requests.lock().unwrap().clone()
}

/// Checks the headers and the signature; returns the body.
fn checked(request: &Received) -> Value {
    assert_eq!(request.header("content-type"), "application/json");
    let signature = request.header("x-airlock-signature");
    assert!(
        verify(SECRET, signature, &request.body, now_secs(), 60),
        "bad signature {signature}"
    );
    assert!(!verify(
        "another secret",
        signature,
        &request.body,
        now_secs(),
        60
    ));
    assert_eq!(request.query.as_deref(), Some("token=t0k3n"));
    let body = request.json();
    assert_eq!(body["alert_id"], request.header("x-airlock-alert-id"));
    body
}

#[tokio::test]
async fn alerts_arrive_signed_once_per_threshold() {
    let (url, recorder) = receiver(&[]).await;
    let alerts = alerts(&url);

    // The project passes 50 %; the key jumps from 40 % to 120 %.
    alerts.spend_changed(PROJECT, 10.0, "month", NOV, 0.0, 6.0);
    alerts.spend_changed(KEY, 2.5, "day", NOV, 1.0, 3.0);
    flush(&alerts).await;
    // Nothing new: the same changes again, and one crossing nothing.
    alerts.spend_changed(PROJECT, 10.0, "month", NOV, 0.0, 6.0);
    alerts.spend_changed(KEY, 2.5, "day", NOV, 1.0, 3.0);
    alerts.spend_changed(PROJECT, 10.0, "month", NOV, 6.0, 7.0);
    flush(&alerts).await;

    let received = requests(&recorder);
    assert_eq!(received.len(), 4, "{received:#?}");
    let bodies: Vec<Value> = received.iter().map(checked).collect();
    let mut ids: Vec<&str> = bodies
        .iter()
        .map(|b| b["alert_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4, "alert ids are unique");

    let first = &bodies[0];
    assert!(first["sent_at"].as_str().unwrap().ends_with('Z'));
    let mut expected = json!({
        "type": "budget.threshold",
        "threshold_percent": 50,
        "scope": "project",
        "id": "proj_1",
        "project": "acme",
        "budget_usd": 10.0,
        "spent_usd": 6.0,
        "period": "month",
        "period_start": "2026-11-01T00:00:00Z",
        "sent_at": first["sent_at"],
        "alert_id": first["alert_id"],
    });
    assert_eq!(first, &expected);
    for (body, percent) in bodies[1..].iter().zip([50, 80, 100]) {
        expected["threshold_percent"] = json!(percent);
        expected["scope"] = json!("key");
        expected["id"] = json!("key_1");
        expected["budget_usd"] = json!(2.5);
        expected["spent_usd"] = json!(3.0);
        expected["period"] = json!("day");
        expected["sent_at"] = body["sent_at"].clone();
        expected["alert_id"] = body["alert_id"].clone();
        assert_eq!(body, &expected);
    }

    // A new period alerts again.
    let dec = NOV + 30 * 86_400_000;
    alerts.spend_changed(PROJECT, 10.0, "month", dec, 0.0, 6.0);
    flush(&alerts).await;
    let received = requests(&recorder);
    assert_eq!(received.len(), 5);
    let body = checked(&received[4]);
    assert_eq!(body["period_start"], "2026-12-01T00:00:00Z");
    assert_eq!(body["threshold_percent"], 50);
}

#[tokio::test]
async fn server_errors_are_retried_until_delivered() {
    let (url, recorder) = receiver(&[500, 500]).await;
    let alerts = alerts(&url);
    alerts.spend_changed(PROJECT, 10.0, "month", NOV, 7.0, 8.0);
    flush(&alerts).await;

    let received = requests(&recorder);
    assert_eq!(received.len(), 3, "three attempts");
    let first = checked(&received[0]);
    assert_eq!(first["threshold_percent"], 80);
    for attempt in &received[1..] {
        // Each attempt is the same alert, signed afresh.
        assert_eq!(checked(attempt), first);
        assert_eq!(attempt.body, received[0].body);
    }
}

#[tokio::test]
async fn too_many_requests_is_retried() {
    let (url, recorder) = receiver(&[429]).await;
    let alerts = alerts(&url);
    alerts.spend_changed(PROJECT, 10.0, "month", NOV, 7.0, 8.0);
    flush(&alerts).await;
    assert_eq!(requests(&recorder).len(), 2);
}

#[tokio::test]
async fn server_errors_give_up_after_three_attempts() {
    let (url, recorder) = receiver(&[503, 502, 500, 500]).await;
    let alerts = alerts(&url);
    alerts.spend_changed(PROJECT, 10.0, "month", NOV, 9.0, 10.0);
    flush(&alerts).await;
    assert_eq!(requests(&recorder).len(), 3);
}

#[tokio::test]
async fn client_errors_are_final() {
    let (url, recorder) = receiver(&[400, 400, 400]).await;
    let alerts = alerts(&url);
    alerts.spend_changed(KEY, 10.0, "day", NOV, 4.0, 5.0);
    flush(&alerts).await;
    let received = requests(&recorder);
    assert_eq!(received.len(), 1, "one attempt");
    assert_eq!(checked(&received[0])["threshold_percent"], 50);
}

#[tokio::test]
async fn an_unreachable_webhook_is_given_up() {
    // A port that was just free: connections are refused.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let alerts = alerts(&format!("http://{addr}/hook"));
    alerts.spend_changed(PROJECT, 10.0, "month", NOV, 4.0, 5.0);
    flush(&alerts).await;
}
