//! A turn as the hot cache holds it, and the history a new turn sends.
//!
//! A cached turn keeps its items (its input, then its answer's output) as
//! one compact JSON text, not as parsed values: a continuation splices the
//! turns' texts into the request it sends, with no parsing and no copying
//! of values, and a turn costs its JSON's bytes in memory. A turn names the
//! turn it continued by id; it does not hold it, so the cache's bound is
//! the memory's.

use airlock_store::{HistoryPolicy, StoredResponse};
use serde_json::Value;

use super::Owner;

/// One stored turn, compact.
#[derive(Debug)]
pub struct Turn {
    pub id: String,
    pub project_id: Option<String>,
    pub end_user: Option<String>,
    pub previous_id: Option<String>,
    pub conversation_id: String,
    pub model: String,
    pub created_at_ms: i64,
    /// When the conversation's first turn was made.
    chain_started_ms: i64,
    /// Its items, comma-separated JSON (an array's inside).
    items: Box<str>,
    item_count: u32,
    /// Its input items, then the response answered: what a read returns.
    input_json: Box<str>,
    response_json: Box<str>,
    /// Estimated tokens of its items (the history policy's measure).
    tokens: u64,
}

impl Turn {
    /// A turn from its record; `chain_started_ms` is when its conversation's
    /// first turn was made (its own time when it is the first).
    pub fn new(record: &StoredResponse, chain_started_ms: Option<i64>) -> Turn {
        let output = record.response["output"].as_array();
        let mut items = String::new();
        let mut item_count = 0u32;
        let mut tokens = 0;
        for item in record
            .input_items
            .iter()
            .chain(output.into_iter().flatten())
        {
            let json = item.to_string();
            tokens += tokens_of(json.len());
            if !items.is_empty() {
                items.push(',');
            }
            items.push_str(&json);
            item_count += 1;
        }
        Turn {
            id: record.id.clone(),
            project_id: record.project_id.clone(),
            end_user: record.end_user.clone(),
            previous_id: record.previous_id.clone(),
            conversation_id: record.conversation_id.clone(),
            model: record.model.clone(),
            created_at_ms: record.created_at_ms,
            chain_started_ms: chain_started_ms.unwrap_or(record.created_at_ms),
            items: items.into_boxed_str(),
            item_count,
            input_json: Value::Array(record.input_items.clone())
                .to_string()
                .into_boxed_str(),
            response_json: record.response.to_string().into_boxed_str(),
            tokens,
        }
    }

    /// When its conversation's first turn was made.
    pub fn chain_started_ms(&self) -> i64 {
        self.chain_started_ms
    }

    /// The bytes it holds (its cache weight).
    pub fn weight(&self) -> u32 {
        let bytes = self.items.len()
            + self.input_json.len()
            + self.response_json.len()
            + self.id.len()
            + self.conversation_id.len();
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }

    /// Whether `asker` may read this turn: its project, and its end user
    /// when the asker names one.
    pub fn readable_by(&self, asker: &Owner) -> bool {
        asker.reaches(&self.project_id, &self.end_user)
    }

    /// Its record again (values parsed from its JSON), as a read returns it.
    pub fn record(&self) -> StoredResponse {
        StoredResponse {
            id: self.id.clone(),
            project_id: self.project_id.clone(),
            end_user: self.end_user.clone(),
            previous_id: self.previous_id.clone(),
            conversation_id: self.conversation_id.clone(),
            model: self.model.clone(),
            created_at_ms: self.created_at_ms,
            input_items: serde_json::from_str(&self.input_json).unwrap_or_default(),
            response: serde_json::from_str(&self.response_json).unwrap_or_default(),
        }
    }

    /// Whether the conversation can no longer be continued from this turn:
    /// idle (since this turn) or old (since its first turn) beyond the
    /// policy's bounds.
    pub fn expired(&self, policy: &HistoryPolicy, now_ms: i64) -> bool {
        older_than(now_ms, self.created_at_ms, policy.idle_ttl_secs)
            || older_than(now_ms, self.chain_started_ms, policy.max_age_secs)
    }

    /// Its history as one unit the policy keeps or leaves out whole.
    pub fn unit(&self) -> Unit<'_> {
        Unit {
            json: &self.items,
            items: u64::from(self.item_count),
            tokens: self.tokens,
        }
    }
}

/// Whether more than `secs` (when set) have passed from `since_ms` to
/// `now_ms`.
pub fn older_than(now_ms: i64, since_ms: i64, secs: Option<u64>) -> bool {
    secs.is_some_and(|secs| {
        now_ms - since_ms > i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    })
}

/// A turn's items as history: comma-separated JSON, how many, and their
/// estimated tokens.
#[derive(Debug, Clone, Copy)]
pub struct Unit<'a> {
    pub json: &'a str,
    pub items: u64,
    pub tokens: u64,
}

/// The history a new turn sends before its input.
#[derive(Debug, Default)]
pub struct History {
    /// Its items, comma-separated JSON, oldest first.
    pub json: String,
    /// The oldest turns left out to stay within the policy.
    pub dropped_turns: usize,
}

impl History {
    /// `turns` (oldest first), without the oldest whole turns that would
    /// take the conversation beyond the policy's item and token bounds,
    /// counted with the new input (the request's `instructions` are not
    /// history, and always go).
    pub fn within(turns: &[Unit<'_>], new_items: &[Value], policy: &HistoryPolicy) -> History {
        let mut items = new_items.len() as u64 + turns.iter().map(|t| t.items).sum::<u64>();
        let mut tokens = new_items
            .iter()
            .map(|item| tokens_of(json_len(item)))
            .sum::<u64>()
            + turns.iter().map(|t| t.tokens).sum::<u64>();
        let over = |items: u64, tokens: u64| {
            policy.max_items.is_some_and(|max| items > u64::from(max))
                || policy.max_input_tokens.is_some_and(|max| tokens > max)
        };
        let mut dropped = 0;
        while dropped < turns.len() && over(items, tokens) {
            items -= turns[dropped].items;
            tokens -= turns[dropped].tokens;
            dropped += 1;
        }
        let kept = &turns[dropped..];
        let mut json = String::with_capacity(kept.iter().map(|t| t.json.len() + 1).sum());
        for unit in kept.iter().filter(|unit| !unit.json.is_empty()) {
            if !json.is_empty() {
                json.push(',');
            }
            json.push_str(unit.json);
        }
        History {
            json,
            dropped_turns: dropped,
        }
    }

    /// A request's body with this history put before its `input` items:
    /// `request` is the request without `input`.
    pub fn body(&self, request: &serde_json::Map<String, Value>, new_items: &[Value]) -> String {
        // Written from the borrowed map, not a copy of it.
        let rest = serde_json::to_string(request)
            .expect("a JSON object with string keys always serializes");
        let mut body = String::with_capacity(self.json.len() + rest.len() + 64);
        body.push_str("{\"input\":[");
        body.push_str(&self.json);
        for item in new_items {
            if body.len() > "{\"input\":[".len() {
                body.push(',');
            }
            body.push_str(&item.to_string());
        }
        body.push(']');
        // `rest` is `{}` or `{"k":v,...}`: its members follow the input.
        if rest.len() > 2 {
            body.push(',');
            body.push_str(&rest[1..]);
        } else {
            body.push('}');
        }
        body
    }
}

/// About four characters of JSON a token, as the providers' tokenizers
/// average on English text.
pub fn tokens_of(json_bytes: usize) -> u64 {
    (json_bytes as u64).div_ceil(4)
}

pub fn json_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(0, |bytes| bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(id: &str, said: &str, answered: &str, at_ms: i64) -> StoredResponse {
        StoredResponse {
            id: id.into(),
            project_id: Some("p1".into()),
            end_user: None,
            previous_id: None,
            conversation_id: "conv_1".into(),
            model: "gpt-4o-mini".into(),
            created_at_ms: at_ms,
            input_items: vec![json!({"role": "user", "content": said})],
            response: json!({"output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": answered}]}]}),
        }
    }

    /// `n` turns, one user item and one answer item each, a second apart.
    fn chain_of(n: usize) -> Vec<Turn> {
        (0..n)
            .map(|i| {
                Turn::new(
                    &record(
                        &format!("t{i}"),
                        &format!("q{i}"),
                        &format!("a{i}"),
                        i as i64 * 1000,
                    ),
                    Some(0),
                )
            })
            .collect()
    }

    fn sent(history: &History, new: &[Value]) -> Vec<Value> {
        let body: Value =
            serde_json::from_str(&history.body(&serde_json::Map::new(), new)).unwrap();
        body["input"].as_array().unwrap().clone()
    }

    #[test]
    fn the_oldest_whole_turns_are_left_out_to_stay_within_max_items() {
        let turns = chain_of(59);
        let units: Vec<_> = turns.iter().map(Turn::unit).collect();
        let policy = HistoryPolicy {
            max_items: Some(50),
            ..HistoryPolicy::default()
        };
        let new = [json!({"role": "user", "content": "q59"})];
        let history = History::within(&units, &new, &policy);
        // 24 whole turns (48 items) and the new input: 49 of 50.
        let input = sent(&history, &new);
        assert_eq!(input.len(), 49);
        assert_eq!(history.dropped_turns, 35);
        assert_eq!(input[0]["content"], "q35");
        assert_eq!(input[48]["content"], "q59");
        let unbounded = History::within(&units, &new, &HistoryPolicy::default());
        assert_eq!(
            (sent(&unbounded, &new).len(), unbounded.dropped_turns),
            (119, 0)
        );
    }

    #[test]
    fn a_token_bound_leaves_out_turns_too() {
        let turns = chain_of(10);
        let units: Vec<_> = turns.iter().map(Turn::unit).collect();
        let policy = HistoryPolicy {
            max_input_tokens: Some(units[9].tokens * 3),
            ..HistoryPolicy::default()
        };
        let history = History::within(&units, &[], &policy);
        assert_eq!(history.dropped_turns, 7);
        assert_eq!(sent(&history, &[]).len(), 6);
    }

    #[test]
    fn history_is_every_turns_input_then_output_oldest_first_before_the_request() {
        let turns = chain_of(2);
        let units: Vec<_> = turns.iter().map(Turn::unit).collect();
        let history = History::within(&units, &[], &HistoryPolicy::default());
        let mut request = serde_json::Map::new();
        request.insert("model".into(), json!("m"));
        let body: Value = serde_json::from_str(
            &history.body(&request, &[json!({"role": "user", "content": "q2"})]),
        )
        .unwrap();
        assert_eq!(body["model"], "m");
        let texts: Vec<String> = body["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                item["content"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| item["content"][0]["text"].as_str().unwrap().to_string())
            })
            .collect();
        assert_eq!(texts, ["q0", "a0", "q1", "a1", "q2"]);
        // No history and no input is an empty input.
        let empty = History::default().body(&serde_json::Map::new(), &[]);
        assert_eq!(empty, r#"{"input":[]}"#);
    }

    #[test]
    fn a_conversation_expires_when_idle_or_old() {
        let last = Turn::new(&record("t2", "q", "a", 2_000), Some(0));
        let policy = HistoryPolicy {
            idle_ttl_secs: Some(10),
            max_age_secs: Some(60),
            ..HistoryPolicy::default()
        };
        assert!(!last.expired(&policy, 12_000));
        assert!(
            last.expired(&policy, 12_001),
            "idle 10 s after the last turn"
        );
        let busy = Turn::new(&record("t69", "q", "a", 69_000), Some(0));
        assert!(busy.expired(&policy, 69_500), "60 s after the first turn");
        assert!(!last.expired(&HistoryPolicy::default(), i64::MAX));
    }

    #[test]
    fn a_turn_is_read_by_its_project_and_by_its_own_end_user_only() {
        let turn = Turn::new(
            &StoredResponse {
                end_user: Some("u1".into()),
                ..record("a", "x", "y", 0)
            },
            None,
        );
        let asker = |project: Option<&str>, user: Option<&str>| Owner {
            project_id: project.map(String::from),
            end_user: user.map(String::from),
        };
        assert!(turn.readable_by(&asker(Some("p1"), Some("u1"))));
        // The project's server, naming no end user.
        assert!(turn.readable_by(&asker(Some("p1"), None)));
        assert!(!turn.readable_by(&asker(Some("p1"), Some("u2"))));
        assert!(!turn.readable_by(&asker(Some("p2"), Some("u1"))));
        assert!(!turn.readable_by(&asker(Some("p2"), None)));
        assert!(!turn.readable_by(&asker(None, None)));
        let unnamed = Turn::new(&record("b", "x", "y", 0), None);
        assert!(!unnamed.readable_by(&asker(Some("p1"), Some("u1"))));
    }

    #[test]
    fn a_turn_is_read_back_as_it_was_stored() {
        let stored = record("a", "x", "y", 7);
        let turn = Turn::new(&stored, None);
        assert_eq!(turn.record(), stored);
    }
}
