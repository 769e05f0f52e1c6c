//! One response (`response.create`): what the model answers, by the
//! crate's answer rules on the conversation, and the events that deliver
//! it, in OpenAI's order:
//!
//! `response.created`, `response.output_item.added`, the item event
//! (`conversation.item.added` GA / `conversation.item.created` beta),
//! `response.content_part.added`, the deltas (text; or audio, each with its
//! transcript delta; or function call arguments), the done events,
//! `response.output_item.done`, `conversation.item.done` (GA) and
//! `response.done` with the usage. An out-of-band response
//! (`conversation: "none"`) has no item events and changes no conversation.
//!
//! Usage: text by the crate's token rule (instructions, tools, item texts,
//! call names, arguments and outputs); user audio costs
//! [`INPUT_AUDIO_TOKENS_PER_SECOND`], the model's speech
//! [`OUTPUT_AUDIO_TOKENS_PER_SECOND`] (with its transcript as text).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use serde_json::{Map, Value, json};

use super::dialect::Dialect;
use super::events::{Ids, event, frame};
use crate::duplex::Outbox;
use crate::prng::Digest;
use crate::reply::{self, Answer, Ask, Finish, Format, ToolMode, ToolSpec};
use crate::textgen::{self, split_even};
use crate::tokens::{self, MEDIA_PART_TOKENS};

/// OpenAI bills about one token per 100 ms of user audio.
pub const INPUT_AUDIO_TOKENS_PER_SECOND: u64 = 10;
/// And about one per 50 ms of the model's audio.
pub const OUTPUT_AUDIO_TOKENS_PER_SECOND: u64 = 20;

/// A conversation item as the server shows it, with what the simulator
/// knows about it besides.
#[derive(Debug, Clone)]
pub struct Item {
    pub value: Value,
    /// Length of the item's audio.
    pub audio_ms: u64,
    /// What the simulated ear heard in a user's audio.
    pub heard: Option<String>,
}

impl Item {
    pub fn id(&self) -> &str {
        self.value["id"].as_str().unwrap_or("")
    }
}

/// Everything a response is made from.
pub struct Request<'a> {
    pub dialect: Dialect,
    pub seed: u64,
    pub model: &'a str,
    pub session: &'a Value,
    /// `response.create`'s `response` (or null).
    pub params: &'a Value,
    /// The items the model sees.
    pub context: &'a [Item],
    /// `None` for an out-of-band response.
    pub conversation_id: Option<&'a str>,
    /// The id of the conversation's last item.
    pub previous_item_id: Option<&'a str>,
}

/// A response being delivered, as needed to cancel it.
#[derive(Debug, Clone)]
pub struct Active {
    response: Value,
    /// The output item, completed.
    item: Value,
    previous_item_id: Value,
    in_conversation: bool,
    usage: Value,
}

impl Active {
    pub fn id(&self) -> &str {
        self.response["id"].as_str().unwrap_or("")
    }
}

#[derive(Debug, Default)]
struct Usage {
    text_in: u64,
    audio_in: u64,
    image_in: u64,
    text_out: u64,
    audio_out: u64,
}

impl Usage {
    fn value(&self, dialect: Dialect) -> Value {
        let input = self.text_in + self.audio_in + self.image_in;
        let output = self.text_out + self.audio_out;
        let mut input_details = json!({
            "cached_tokens": 0,
            "text_tokens": self.text_in,
            "audio_tokens": self.audio_in,
        });
        if dialect == Dialect::Ga {
            input_details["image_tokens"] = json!(self.image_in);
            input_details["cached_tokens_details"] =
                json!({ "text_tokens": 0, "audio_tokens": 0, "image_tokens": 0 });
        }
        json!({
            "total_tokens": input + output,
            "input_tokens": input,
            "output_tokens": output,
            "input_token_details": input_details,
            "output_token_details": { "text_tokens": self.text_out, "audio_tokens": self.audio_out },
        })
    }
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn text_of(item: &Item) -> String {
    list(&item.value["content"])
        .iter()
        .filter_map(|c| match c["type"].as_str() {
            Some("input_audio" | "audio" | "output_audio") => {
                item.heard.as_deref().or_else(|| c["transcript"].as_str())
            }
            _ => c["text"].as_str(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Request<'_> {
    /// A setting from the response's parameters, else the session's.
    fn setting(&self, key: &str) -> &Value {
        self.params
            .get(key)
            .filter(|v| !v.is_null())
            .unwrap_or(&self.session[key])
    }

    fn speaks(&self) -> bool {
        list(self.setting(self.dialect.modalities_key()))
            .iter()
            .any(|m| m == "audio")
    }

    fn ask(&self) -> Ask<'_> {
        let tools = list(self.setting("tools"))
            .iter()
            .filter(|t| t["type"].as_str().is_none_or(|k| k == "function"))
            .map(|t| ToolSpec {
                name: t["name"].as_str().unwrap_or(""),
                schema: t.get("parameters"),
                freeform: false,
            })
            .collect();
        let choice = self.setting("tool_choice");
        let mode = match (choice.as_str(), choice["name"].as_str()) {
            (Some("none"), _) => ToolMode::None,
            (Some("required"), _) => ToolMode::Required { only: None },
            (Some("auto") | None, None) => ToolMode::Auto,
            (Some(name), _) | (None, Some(name)) => ToolMode::Required {
                only: Some(vec![name]),
            },
        };
        let conversation: Vec<Value> = self
            .context
            .iter()
            .map(|i| {
                let v = &i.value;
                json!([
                    v["type"],
                    v["role"],
                    text_of(i),
                    v["name"],
                    v["arguments"],
                    v["output"]
                ])
            })
            .collect();
        let last_user_text = self
            .context
            .iter()
            .rev()
            .find(|i| i.value["type"] == "message" && i.value["role"] == "user")
            .map(text_of)
            .unwrap_or_default();
        Ask {
            digest: Digest::new(self.seed)
                .part(self.model)
                .part(self.setting("instructions").to_string())
                .part(Value::Array(conversation).to_string()),
            tools,
            mode,
            last_user_text,
            after_tool_result: self
                .context
                .last()
                .is_some_and(|i| i.value["type"] == "function_call_output"),
            format: Format::Text,
            max_tokens: self.setting(self.dialect.max_tokens_key()).as_u64(),
            stop: Vec::new(),
        }
    }

    /// "name returned output." for the tool results the context ends with.
    fn preamble(&self) -> String {
        let trailing = self
            .context
            .iter()
            .rev()
            .take_while(|i| i.value["type"] == "function_call_output")
            .collect::<Vec<_>>();
        reply::results_preamble(trailing.into_iter().rev().map(|result| {
            let call_id = &result.value["call_id"];
            let name = self
                .context
                .iter()
                .find(|i| i.value["type"] == "function_call" && &i.value["call_id"] == call_id)
                .and_then(|i| i.value["name"].as_str())
                .unwrap_or("the tool");
            (
                name,
                result.value["output"].as_str().unwrap_or("").to_owned(),
            )
        }))
    }

    fn input_usage(&self) -> Usage {
        let mut usage = Usage {
            text_in: tokens::text_tokens(self.setting("instructions").as_str().unwrap_or("")),
            ..Usage::default()
        };
        let tools = self.setting("tools");
        if !list(tools).is_empty() {
            usage.text_in += tokens::json_tokens(tools);
        }
        for item in self.context {
            let v = &item.value;
            for key in ["name", "arguments", "output"] {
                usage.text_in += tokens::text_tokens(v[key].as_str().unwrap_or(""));
            }
            for part in list(&v["content"]) {
                match part["type"].as_str() {
                    Some("input_image") => usage.image_in += MEDIA_PART_TOKENS,
                    Some("input_audio" | "audio" | "output_audio") => {}
                    _ => usage.text_in += tokens::text_tokens(part["text"].as_str().unwrap_or("")),
                }
            }
            usage.audio_in += (item.audio_ms * INPUT_AUDIO_TOKENS_PER_SECOND).div_ceil(1000);
        }
        usage
    }

    fn response_object(&self, id: &str, status: &str) -> Value {
        let mut response = json!({
            "object": "realtime.response",
            "id": id,
            "status": status,
            "status_details": null,
            "output": [],
            "conversation_id": self.conversation_id,
            self.dialect.modalities_key(): self.setting(self.dialect.modalities_key()),
            "max_output_tokens": self.setting(self.dialect.max_tokens_key()),
            "usage": null,
            "metadata": self.params.get("metadata").cloned().unwrap_or(Value::Null),
        });
        if let Some(members) = response.as_object_mut() {
            members.extend(self.dialect.response_audio(self.session, self.params));
        }
        response
    }
}

/// The events of one response, queued on `out`; returns the response (to
/// cancel it while it is delivered) and the item it adds.
pub fn deliver(request: &Request<'_>, ids: &mut Ids, out: &mut Outbox) -> (Active, Item) {
    let dialect = request.dialect;
    let ask = request.ask();
    let answer = reply::answer(&ask, 0);
    let digest = ask.digest;
    let response_id = ids.next("resp_", 21);
    let item_id = ids.item();
    let mut usage = request.input_usage();
    let mut send = Sender {
        ids,
        out,
        dialect,
        response_id: &response_id,
        item_id: &item_id,
    };
    let mut response = request.response_object(&response_id, "in_progress");
    send.then("response.created", json!({ "response": response }));
    let (item, audio_ms, finish) = match answer {
        Answer::Call { name, args } => {
            let call_id = send.ids.next("call_", 16);
            let arguments = args.to_string();
            usage.text_out = tokens::text_tokens(&name) + tokens::text_tokens(&arguments);
            let item = json!({ "id": item_id, "object": "realtime.item", "type": "function_call", "status": "completed", "name": name, "call_id": call_id, "arguments": arguments });
            let mut started = item.clone();
            started["status"] = json!("in_progress");
            started["arguments"] = json!("");
            send.item_added(started, request);
            let pieces = digest.part("realtime-arguments").rng().random_range(3..=8);
            for piece in split_even(&arguments, pieces) {
                send.content(
                    "response.function_call_arguments.delta",
                    json!({ "call_id": call_id, "delta": piece }),
                );
            }
            let mut done = json!({ "call_id": call_id, "arguments": arguments });
            if dialect == Dialect::Ga {
                done["name"] = json!(name);
            }
            send.then_in_item("response.function_call_arguments.done", done);
            (item, 0, Finish::Stop)
        }
        Answer::Text { text, finish } => {
            let text = request.preamble() + &text;
            let speaks = request.speaks();
            let started = json!({ "id": item_id, "object": "realtime.item", "type": "message", "status": "in_progress", "role": "assistant", "content": [] });
            send.item_added(started, request);
            let part_type = if speaks { "audio" } else { "text" };
            let text_key = if speaks { "transcript" } else { "text" };
            send.then_in_part(
                "response.content_part.added",
                json!({ "part": { "type": part_type, text_key: "" } }),
            );
            let mut spoken_ms = 0;
            let encoding = dialect.output_encoding(request.session, request.params);
            for piece in textgen::chunks(&text, &mut digest.part("realtime-chunks").rng()) {
                if speaks {
                    let audio = encoding.speak(&piece);
                    spoken_ms += encoding.duration_ms(audio.len());
                    send.content_in_part(
                        "response.output_audio.delta",
                        json!({ "delta": STANDARD.encode(audio) }),
                    );
                    send.along_in_part(
                        "response.output_audio_transcript.delta",
                        json!({ "delta": piece }),
                    );
                } else {
                    send.content_in_part("response.output_text.delta", json!({ "delta": piece }));
                }
            }
            if speaks {
                send.then_in_part("response.output_audio.done", json!({}));
                send.then_in_part(
                    "response.output_audio_transcript.done",
                    json!({ "transcript": text }),
                );
                usage.audio_out = (spoken_ms * OUTPUT_AUDIO_TOKENS_PER_SECOND).div_ceil(1000);
            } else {
                send.then_in_part("response.output_text.done", json!({ "text": text }));
            }
            usage.text_out = tokens::text_tokens(&text);
            send.then_in_part(
                "response.content_part.done",
                json!({ "part": { "type": part_type, text_key: text } }),
            );
            let item = json!({ "id": item_id, "object": "realtime.item", "type": "message", "status": "completed", "role": "assistant", "content": [{ "type": dialect.output_part(speaks), text_key: text }] });
            (item, spoken_ms, finish)
        }
    };
    let usage = usage.value(dialect);
    send.item_done(&item, request);
    let (status, details) = match finish {
        Finish::Stop => ("completed", Value::Null),
        Finish::Length => (
            "incomplete",
            json!({ "type": "incomplete", "reason": "max_output_tokens" }),
        ),
    };
    let active = Active {
        response: response.clone(),
        item: item.clone(),
        previous_item_id: json!(request.previous_item_id),
        in_conversation: request.conversation_id.is_some(),
        usage: usage.clone(),
    };
    response["status"] = json!(status);
    response["status_details"] = details;
    response["output"] = json!([item]);
    response["usage"] = usage;
    send.then("response.done", json!({ "response": response }));
    let item = Item {
        value: item,
        audio_ms,
        heard: None,
    };
    (active, item)
}

/// Ends a response still being delivered: its item is done `incomplete`
/// and `response.done` says `cancelled` for `reason` (`client_cancelled`,
/// `turn_detected`).
pub fn cancel(active: Active, reason: &str, dialect: Dialect, ids: &mut Ids, out: &mut Outbox) {
    out.cancel_turn();
    let Active {
        mut response,
        mut item,
        previous_item_id,
        in_conversation,
        usage,
    } = active;
    item["status"] = json!("incomplete");
    let response_id = response["id"].clone();
    out.now(frame(&event(
        ids,
        "response.output_item.done",
        json!({ "response_id": response_id, "output_index": 0, "item": item }),
    )));
    if in_conversation && dialect == Dialect::Ga {
        out.now(frame(&event(
            ids,
            "conversation.item.done",
            json!({ "previous_item_id": previous_item_id, "item": item }),
        )));
    }
    response["status"] = json!("cancelled");
    response["status_details"] = json!({ "type": "cancelled", "reason": reason });
    response["output"] = json!([item]);
    response["usage"] = usage;
    out.now(frame(&event(
        ids,
        "response.done",
        json!({ "response": response }),
    )));
}

/// Queues one response's events.
struct Sender<'a> {
    ids: &'a mut Ids,
    out: &'a mut Outbox,
    dialect: Dialect,
    response_id: &'a str,
    item_id: &'a str,
}

impl Sender<'_> {
    fn build(&mut self, ga_name: &'static str, fields: Value) -> axum::extract::ws::Message {
        frame(&event(self.ids, self.dialect.name(ga_name), fields))
    }

    fn then(&mut self, ga_name: &'static str, fields: Value) {
        let frame = self.build(ga_name, fields);
        self.out.then(frame);
    }

    /// Adds `response_id`, `item_id` and `output_index` (and, for a content
    /// part, `content_index`).
    fn scoped(&self, fields: Value, part: bool) -> Value {
        let mut scoped = Map::new();
        scoped.insert("response_id".into(), json!(self.response_id));
        scoped.insert("item_id".into(), json!(self.item_id));
        scoped.insert("output_index".into(), json!(0));
        if part {
            scoped.insert("content_index".into(), json!(0));
        }
        if let Value::Object(fields) = fields {
            scoped.extend(fields);
        }
        Value::Object(scoped)
    }

    fn then_in_item(&mut self, ga_name: &'static str, fields: Value) {
        let fields = self.scoped(fields, false);
        self.then(ga_name, fields);
    }

    fn then_in_part(&mut self, ga_name: &'static str, fields: Value) {
        let fields = self.scoped(fields, true);
        self.then(ga_name, fields);
    }

    fn content(&mut self, ga_name: &'static str, fields: Value) {
        let fields = self.scoped(fields, false);
        let frame = self.build(ga_name, fields);
        self.out.content(frame);
    }

    fn content_in_part(&mut self, ga_name: &'static str, fields: Value) {
        let fields = self.scoped(fields, true);
        let frame = self.build(ga_name, fields);
        self.out.content(frame);
    }

    fn along_in_part(&mut self, ga_name: &'static str, fields: Value) {
        let fields = self.scoped(fields, true);
        let frame = self.build(ga_name, fields);
        self.out.content_along(frame);
    }

    fn item_added(&mut self, item: Value, request: &Request<'_>) {
        self.out.start_turn();
        let response_id = self.response_id.to_owned();
        self.then(
            "response.output_item.added",
            json!({ "response_id": response_id, "output_index": 0, "item": item }),
        );
        if request.conversation_id.is_some() {
            self.then(
                "conversation.item.added",
                json!({ "previous_item_id": request.previous_item_id, "item": item }),
            );
        }
    }

    fn item_done(&mut self, item: &Value, request: &Request<'_>) {
        let response_id = self.response_id.to_owned();
        self.then(
            "response.output_item.done",
            json!({ "response_id": response_id, "output_index": 0, "item": item }),
        );
        if request.conversation_id.is_some() && self.dialect == Dialect::Ga {
            self.then(
                "conversation.item.done",
                json!({ "previous_item_id": request.previous_item_id, "item": item }),
            );
        }
    }
}
