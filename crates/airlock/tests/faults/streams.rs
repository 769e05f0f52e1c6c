//! Streams that stall or break after they started: nothing can be retried
//! (the client has the first chunks), so the client's stream ends
//! well-formed, its last event an error in its own protocol (OpenAI chat:
//! `data: {"error": ...}`; Gemini: `{"error": {"code": ...}}`, in SSE or
//! as the last element of the JSON array), about `upstream_timeout_secs`
//! after the provider went quiet; the record's outcome says
//! `upstream_stalled` or `upstream_disconnected`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Answer, Gateway, Mock, Setup, await_logged, record};

/// The provider's chunks the client gets before the stream stalls.
const SENT: usize = 2;

fn parsed(events: &[String]) -> Vec<Value> {
    events
        .iter()
        .map(|data| serde_json::from_str(data).unwrap_or_else(|_| panic!("not JSON: {data}")))
        .collect()
}

/// The OpenAI stream: `SENT` chunks, then an error event, and no `[DONE]`.
fn assert_openai_stream_ends_with_error(answer: &Answer, says: &str) {
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.complete,
        "the stream ends, it is not cut: {answer:?}"
    );
    let events = answer.events();
    assert!(!events.iter().any(|e| e == "[DONE]"), "{}", answer.body);
    let events = parsed(&events);
    let (last, chunks) = events.split_last().unwrap();
    assert_eq!(chunks.len(), SENT, "{}", answer.body);
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    let message = last["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{last}"));
    assert!(message.contains(says), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_stalls_ends_with_an_error_event_in_the_clients_protocol_logged_stalled() {
    let primary = Mock::start(&[]);
    let backup = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(&Setup::new(&primary, &backup), dir.path(), &[]);
    let in_time = |answer: &Answer| {
        assert!(
            answer.took >= Duration::from_millis(900) && answer.took < Duration::from_secs(5),
            "ended {:?} after it began",
            answer.took
        );
    };

    // OpenAI chat chunks (SSE).
    primary
        .add_rule(json!({"provider": "openai", "fault": format!("stall-after={SENT}"), "times": 1}))
        .await;
    let answer = gateway.chat_stream("solo", "stall-openai").await;
    assert_openai_stream_ends_with_error(&answer, "sent nothing");
    in_time(&answer);

    // Gemini, SSE: the error object Google sends, as the last event.
    primary
        .add_rule(json!({"provider": "gemini", "fault": format!("stall-after={SENT}"), "times": 1}))
        .await;
    let answer = gateway
        .gemini_stream("gemini-2.5-flash", "stall-gemini-sse", true)
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.complete);
    in_time(&answer);
    let events = parsed(&answer.events());
    let (last, chunks) = events.split_last().unwrap();
    assert_eq!(chunks.len(), SENT, "{}", answer.body);
    assert!(chunks.iter().all(|c| c["candidates"].is_array()));
    assert!(last["error"]["code"].is_u64(), "{last}");
    assert!(last["error"]["message"].is_string(), "{last}");

    // Gemini's JSON array: still one well-formed array, the error last.
    primary
        .add_rule(json!({"provider": "gemini", "fault": format!("stall-after={SENT}"), "times": 1}))
        .await;
    let answer = gateway
        .gemini_stream("gemini-2.5-flash", "stall-gemini-array", false)
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    in_time(&answer);
    let array: Vec<Value> = serde_json::from_str(&answer.body)
        .unwrap_or_else(|error| panic!("not one JSON array ({error}): {}", answer.body));
    let (last, chunks) = array.split_last().unwrap();
    assert_eq!(chunks.len(), SENT, "{}", answer.body);
    assert!(last["error"]["code"].is_u64(), "{last}");

    let ids = ["stall-openai", "stall-gemini-sse", "stall-gemini-array"].map(String::from);
    let records = await_logged(&ids, || gateway.logged()).await;
    for id in &ids {
        let record = record(&records, id);
        assert_eq!(record.outcome, "upstream_stalled", "{record:?}");
        assert!(record.streamed, "{record:?}");
        assert_eq!(record.status, 200, "{record:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_breaks_off_ends_with_an_error_event_logged_disconnected() {
    let primary = Mock::start(&[]);
    let backup = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(&Setup::new(&primary, &backup), dir.path(), &[]);
    primary
        .add_rule(
            json!({"provider": "openai", "fault": format!("disconnect-after={SENT}"), "times": 1}),
        )
        .await;
    // `smart` has a fallback, but the stream had started: nothing is retried.
    let before = gateway.metrics().await;
    let answer = gateway.chat_stream("smart", "broken-openai").await;
    assert_openai_stream_ends_with_error(&answer, "broke off");
    assert!(answer.took < Duration::from_secs(2), "{:?}", answer.took);
    let after = gateway.metrics().await;
    assert_eq!(after.retries("primary") - before.retries("primary"), 0.0);
    assert_eq!(after.all_fallbacks() - before.all_fallbacks(), 0.0);

    primary
        .add_rule(
            json!({"provider": "gemini", "fault": format!("disconnect-after={SENT}"), "times": 1}),
        )
        .await;
    let answer = gateway
        .gemini_stream("gemini-2.5-flash", "broken-gemini", true)
        .await;
    let events = parsed(&answer.events());
    assert!(
        events.last().unwrap()["error"]["code"].is_u64(),
        "{}",
        answer.body
    );

    let ids = ["broken-openai", "broken-gemini"].map(String::from);
    let records = await_logged(&ids, || gateway.logged()).await;
    for id in &ids {
        assert_eq!(record(&records, id).outcome, "upstream_disconnected");
    }
}
