//! Echo mode's fast path: a `realtimeInput` carrying only audio
//! (`audio` and/or audio `mediaChunks`) is answered with one
//! `serverContent` per chunk whose `modelTurn` holds one `inlineData` part
//! with the same base64 text and `audio/pcm;rate=24000`. The frame is
//! checked by shape only (field names in either spelling, strings, a base64
//! alphabet); anything else takes the session's normal, fully validated
//! path, so garbage is still refused.

use axum::extract::ws::Message;
use serde_json::Value;

use crate::casing::names_field;

/// The echo frames, or `None` when the message is not audio-only input.
pub fn answer(message: &[u8]) -> Option<Vec<Message>> {
    let Value::Object(top) = serde_json::from_slice::<Value>(message).ok()? else {
        return None;
    };
    let mut fields = top.iter();
    let (name, input) = fields.next()?;
    if fields.next().is_some() || !names_field(name, "realtimeInput") {
        return None;
    }
    let mut frames = Vec::new();
    for (name, value) in input.as_object()? {
        if names_field(name, "audio") {
            frames.push(echo(value)?);
        } else if names_field(name, "mediaChunks") {
            for chunk in value.as_array()? {
                frames.push(echo(chunk)?);
            }
        } else {
            return None;
        }
    }
    (!frames.is_empty()).then_some(frames)
}

fn echo(blob: &Value) -> Option<Message> {
    let mut data = None;
    let mut audio = false;
    for (name, value) in blob.as_object()? {
        if names_field(name, "data") {
            data = Some(value.as_str()?);
        } else if names_field(name, "mimeType") {
            audio = value.as_str()?.starts_with("audio/");
        } else {
            return None;
        }
    }
    let data = data?;
    let base64 = data
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'='));
    if !audio || !base64 {
        return None;
    }
    let frame = format!(
        r#"{{"serverContent":{{"modelTurn":{{"parts":[{{"inlineData":{{"mimeType":"audio/pcm;rate=24000","data":"{data}"}}}}]}}}}}}"#
    );
    Some(Message::Binary(frame.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn echoed(v: Value) -> Option<Vec<Value>> {
        answer(v.to_string().as_bytes()).map(|frames| {
            frames
                .into_iter()
                .map(|f| serde_json::from_slice(&f.into_data()).unwrap())
                .collect()
        })
    }

    #[test]
    fn audio_comes_back_unchanged() {
        let out = echoed(json!({"realtime_input": {"audio": {"data": "AAEC", "mime_type": "audio/pcm;rate=16000"}}})).unwrap();
        assert_eq!(
            out,
            [
                json!({"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "AAEC"}}]}}})
            ]
        );
        let chunks = echoed(json!({"realtimeInput": {"mediaChunks": [{"data": "AA==", "mimeType": "audio/pcm"}, {"data": "AQ==", "mimeType": "audio/pcm"}]}})).unwrap();
        assert_eq!(chunks.len(), 2);
    }

    #[test]
    fn anything_else_takes_the_normal_path() {
        for other in [
            json!({"setup": {}}),
            json!({"realtimeInput": {"text": "hi"}}),
            json!({"realtimeInput": {"audio": {"data": "AA==", "mimeType": "image/png"}}}),
            json!({"realtimeInput": {"audio": {"data": "\"><", "mimeType": "audio/pcm"}}}),
            json!({"realtimeInput": {"audio": {"data": "AA==", "mimeType": "audio/pcm", "x": 1}}}),
            json!({"realtimeInput": {}}),
            json!([1]),
        ] {
            assert!(echoed(other.clone()).is_none(), "{other}");
        }
        assert!(answer(b"not json").is_none());
    }
}
