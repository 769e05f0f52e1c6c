//! The Responses API request, described with [`crate::openai::params`]'s
//! types (shapes from the openai SDK's `types/responses`) so
//! [`crate::openai::validate::check_parameters`] checks it as OpenAI does.
//!
//! Input items: messages (`type` optional; by role: user, system and
//! developer take `input_text`/`input_image`/`input_file` parts, assistant
//! `output_text`/`refusal` parts; any role a string), `function_call`,
//! `function_call_output`, `reasoning` (whose `status`, output-only,
//! OpenAI refuses as an unknown parameter) and `web_search_call` (an earlier
//! answer's search, given back). Tools: `function`, and the `web_search`
//! family (see [`super::search`]). Other item and tool types are refused as
//! unsupported values.

use crate::openai::params::Ty::{AnyObj, Bool, Lit, Map, Null, Obj, OneOf, Str, Switch, Tagged};
use crate::openai::params::{Field, Ty, arr, int, num, opt, req};

const ITEM_STATUS: Ty = Lit(&["in_progress", "completed", "incomplete"]);
const MESSAGE_TYPE: Field = opt("type", Lit(&["message"]));
const CACHE_BREAKPOINT: Field = opt("prompt_cache_breakpoint", AnyObj);

static INPUT_PART: Ty = Tagged {
    tag: "type",
    variants: &[
        ("input_text", &[req("text", Str), CACHE_BREAKPOINT]),
        (
            "input_image",
            &[
                opt("detail", Lit(&["low", "high", "auto", "original"])),
                opt("file_id", Null(&Str)),
                opt("image_url", Null(&Str)),
                CACHE_BREAKPOINT,
            ],
        ),
        (
            "input_file",
            &[
                opt("detail", Lit(&["auto", "low", "high"])),
                opt("file_data", Str),
                opt("file_id", Null(&Str)),
                opt("file_url", Str),
                opt("filename", Str),
                CACHE_BREAKPOINT,
            ],
        ),
    ],
};

static OUTPUT_PART: Ty = Tagged {
    tag: "type",
    variants: &[
        (
            "output_text",
            &[
                req("text", Str),
                opt("annotations", arr(&AnyObj)),
                opt("logprobs", Null(&arr(&AnyObj))),
            ],
        ),
        ("refusal", &[req("refusal", Str)]),
    ],
};

const INPUT_CONTENT: Ty = OneOf(&[Str, arr(&INPUT_PART)]);
const OUTPUT_CONTENT: Ty = OneOf(&[Str, arr(&OUTPUT_PART)]);

/// A message the client writes (user, system, developer).
const INPUT_MESSAGE: &[Field] = &[
    MESSAGE_TYPE,
    req("content", INPUT_CONTENT),
    opt("status", ITEM_STATUS),
];

const MESSAGE: Ty = Tagged {
    tag: "role",
    variants: &[
        ("user", INPUT_MESSAGE),
        ("system", INPUT_MESSAGE),
        ("developer", INPUT_MESSAGE),
        (
            "assistant",
            &[
                MESSAGE_TYPE,
                req("content", OUTPUT_CONTENT),
                opt("id", Str),
                opt("status", ITEM_STATUS),
                opt("phase", Null(&Lit(&["commentary", "final_answer"]))),
            ],
        ),
    ],
};

static TEXT_SUMMARY: Ty = Tagged {
    tag: "type",
    variants: &[("summary_text", &[req("text", Str)])],
};

static REASONING_TEXT: Ty = Tagged {
    tag: "type",
    variants: &[("reasoning_text", &[req("text", Str)])],
};

static INPUT_ITEM: Ty = Switch {
    tag: "type",
    default: "message",
    variants: &[
        ("message", MESSAGE),
        (
            "function_call",
            Obj(&[
                req("type", Str),
                req("arguments", Str),
                req("call_id", Str),
                req("name", Str),
                opt("id", Str),
                opt("namespace", Str),
                opt("caller", Null(&AnyObj)),
                opt("status", ITEM_STATUS),
            ]),
        ),
        (
            "function_call_output",
            Obj(&[
                req("type", Str),
                req("call_id", Str),
                req("output", OneOf(&[Str, arr(&INPUT_PART)])),
                opt("id", Null(&Str)),
                opt("name", Null(&Str)),
                opt("namespace", Null(&Str)),
                opt("caller", Null(&AnyObj)),
                opt("status", Null(&ITEM_STATUS)),
            ]),
        ),
        (
            "reasoning",
            Obj(&[
                req("type", Str),
                req("id", Str),
                req("summary", arr(&TEXT_SUMMARY)),
                opt("content", arr(&REASONING_TEXT)),
                opt("encrypted_content", Null(&Str)),
            ]),
        ),
        (
            "web_search_call",
            Obj(&[
                req("type", Str),
                req("id", Str),
                req(
                    "status",
                    Lit(&[
                        "in_progress",
                        "searching",
                        "completed",
                        "incomplete",
                        "failed",
                    ]),
                ),
                req("action", AnyObj),
            ]),
        ),
    ],
};

const USER_LOCATION: Field = opt(
    "user_location",
    Null(&Obj(&[
        opt("type", Lit(&["approximate"])),
        opt("city", Null(&Str)),
        opt("country", Null(&Str)),
        opt("region", Null(&Str)),
        opt("timezone", Null(&Str)),
    ])),
);
const SEARCH_CONTEXT_SIZE: Field = opt("search_context_size", Lit(&["low", "medium", "high"]));

const WEB_SEARCH: &[Field] = &[
    opt("external_web_access", Bool),
    opt("filters", Null(&AnyObj)),
    SEARCH_CONTEXT_SIZE,
    USER_LOCATION,
];

const WEB_SEARCH_PREVIEW: &[Field] = &[
    opt("search_content_types", arr(&Lit(&["text", "image"]))),
    SEARCH_CONTEXT_SIZE,
    USER_LOCATION,
];

static TOOL: Ty = Tagged {
    tag: "type",
    variants: &[
        (
            "function",
            &[
                req("name", Str),
                opt("description", Null(&Str)),
                opt("parameters", Null(&AnyObj)),
                opt("strict", Null(&Bool)),
            ],
        ),
        ("web_search", WEB_SEARCH),
        ("web_search_2025_08_26", WEB_SEARCH),
        ("web_search_preview", WEB_SEARCH_PREVIEW),
        ("web_search_preview_2025_03_11", WEB_SEARCH_PREVIEW),
    ],
};

const TOOL_CHOICE: Ty = OneOf(&[
    Lit(&["none", "auto", "required"]),
    Tagged {
        tag: "type",
        variants: &[
            ("function", &[req("name", Str)]),
            (
                "allowed_tools",
                &[
                    req("mode", Lit(&["auto", "required"])),
                    req("tools", arr(&AnyObj)),
                ],
            ),
            ("web_search_preview", &[]),
            ("web_search_preview_2025_03_11", &[]),
        ],
    },
]);

const TEXT_FORMAT: Ty = Tagged {
    tag: "type",
    variants: &[
        ("text", &[]),
        ("json_object", &[]),
        (
            "json_schema",
            &[
                req("name", Str),
                req("schema", AnyObj),
                opt("description", Str),
                opt("strict", Null(&Bool)),
            ],
        ),
    ],
};

const EFFORT: Ty = Lit(&["none", "minimal", "low", "medium", "high", "xhigh", "max"]);
const SUMMARY: Ty = Lit(&["auto", "concise", "detailed"]);

/// `POST /v1/responses`.
pub static CREATE: &[Field] = &[
    req("model", Str),
    opt("input", OneOf(&[Str, arr(&INPUT_ITEM)])),
    opt("instructions", Null(&Str)),
    opt("previous_response_id", Null(&Str)),
    opt("conversation", Null(&OneOf(&[Str, Obj(&[req("id", Str)])]))),
    opt("store", Null(&Bool)),
    opt("background", Null(&Bool)),
    opt("stream", Null(&Bool)),
    opt(
        "stream_options",
        Null(&Obj(&[opt("include_obfuscation", Bool)])),
    ),
    opt("max_output_tokens", Null(&int(Some(16), None))),
    opt("max_tool_calls", Null(&int(None, None))),
    opt(
        "text",
        Obj(&[
            opt("format", TEXT_FORMAT),
            opt("verbosity", Null(&Lit(&["low", "medium", "high"]))),
        ]),
    ),
    opt(
        "tools",
        Ty::Arr {
            item: &TOOL,
            min: 0,
            max: Some(128),
        },
    ),
    opt("tool_choice", TOOL_CHOICE),
    opt("parallel_tool_calls", Null(&Bool)),
    opt("metadata", Null(&Map(&Str))),
    opt("temperature", Null(&num(0.0, 2.0))),
    opt("top_p", Null(&num(0.0, 1.0))),
    opt("top_logprobs", Null(&int(Some(0), Some(20)))),
    opt("user", Str),
    opt("safety_identifier", Str),
    opt("prompt_cache_key", Null(&Str)),
    opt("prompt_cache_retention", Null(&Lit(&["in_memory", "24h"]))),
    opt("prompt_cache_options", AnyObj),
    opt("moderation", Null(&AnyObj)),
    opt(
        "reasoning",
        Null(&Obj(&[
            opt("effort", Null(&EFFORT)),
            opt("summary", Null(&SUMMARY)),
            opt("generate_summary", Null(&SUMMARY)),
            opt(
                "context",
                Null(&Lit(&["auto", "current_turn", "all_turns"])),
            ),
        ])),
    ),
    opt(
        "include",
        Null(&arr(&Lit(&[
            "file_search_call.results",
            "web_search_call.results",
            "web_search_call.action.sources",
            "message.input_image.image_url",
            "computer_call_output.output.image_url",
            "code_interpreter_call.outputs",
            "reasoning.encrypted_content",
            "message.output_text.logprobs",
        ]))),
    ),
    opt("truncation", Null(&Lit(&["auto", "disabled"]))),
    opt(
        "service_tier",
        Null(&Lit(&[
            "auto",
            "default",
            "flex",
            "scale",
            "priority",
            "fast",
            "ultrafast",
        ])),
    ),
];

/// The query of `GET /v1/responses/{id}/input_items` (other query
/// parameters are ignored).
pub static INPUT_ITEMS_QUERY: &[Field] = &[
    opt("limit", int(Some(1), Some(100))),
    opt("order", Lit(&["asc", "desc"])),
    opt("after", Str),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::validate::check_parameters;
    use serde_json::{Value, json};

    fn err(extra: Value) -> (String, Option<String>, Option<&'static str>) {
        let mut body = json!({"model": "gpt-4o", "input": "hi"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let e = check_parameters(CREATE, &body).unwrap_err();
        (e.message, e.param, e.code)
    }

    #[test]
    fn accepts_what_the_sdk_sends() {
        let mut body = json!({
            "model": "gpt-4o", "instructions": "be brief", "previous_response_id": null, "store": false,
            "stream": true, "stream_options": {"include_obfuscation": false}, "max_output_tokens": 16,
            "text": {"format": {"type": "json_schema", "name": "n", "schema": {"type": "object"}, "strict": true}, "verbosity": "low"},
            "tools": [
                {"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}, "strict": true},
                {"type": "web_search"}, {"type": "web_search_preview", "search_context_size": "low"}
            ],
            "tool_choice": {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "f"}]},
            "parallel_tool_calls": true, "metadata": {"k": "v"}, "temperature": 0.5, "top_p": 1, "user": "u",
            "safety_identifier": "s", "prompt_cache_key": "p", "reasoning": {"effort": "low", "summary": "auto"},
            "include": ["message.output_text.logprobs"], "truncation": "auto", "service_tier": "auto",
            "conversation": null, "background": false, "top_logprobs": 2, "max_tool_calls": 3
        });
        body["input"] = json!([
            {"role": "system", "content": "s"},
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "d"}]},
            {"role": "user", "content": [{"type": "input_text", "text": "t"}, {"type": "input_image", "image_url": "https://x/y.png", "detail": "auto"}, {"type": "input_file", "file_id": "file-1"}]},
            {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": "a", "annotations": [], "logprobs": []}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "r"}], "encrypted_content": null},
            {"type": "function_call", "id": "fc_1", "call_id": "c", "name": "f", "arguments": "{}", "status": "completed"},
            {"type": "function_call_output", "call_id": "c", "output": "r"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "q"}}
        ]);
        check_parameters(CREATE, &body).unwrap();
    }

    #[test]
    fn reports_like_openai() {
        assert_eq!(
            err(json!({"foo": 1})),
            (
                "Unknown parameter: 'foo'.".into(),
                Some("foo".into()),
                Some("unknown_parameter")
            )
        );
        assert_eq!(
            err(json!({"max_output_tokens": 10})),
            (
                "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 10 instead.".into(),
                Some("max_output_tokens".into()),
                Some("integer_below_min_value")
            )
        );
        assert_eq!(
            err(json!({"input": [{"role": "user", "content": "x", "foo": 1}]})).1,
            Some("input[0].foo".into())
        );
        assert_eq!(
            err(json!({"input": [{"type": "reasoning", "id": "rs", "summary": [], "status": "completed"}]})).0,
            "Unknown parameter: 'input[0].status'."
        );
        assert_eq!(
            err(json!({"input": [{"type": "item_reference", "id": "x"}]})),
            (
                "Invalid value: 'item_reference'. Supported values are: 'message', 'function_call', 'function_call_output', 'reasoning', and 'web_search_call'.".into(),
                Some("input[0].type".into()),
                Some("invalid_value")
            )
        );
        assert_eq!(
            err(json!({"input": [{"role": "user", "content": [{"type": "output_text", "text": "x"}]}]})).0,
            "Invalid value: 'output_text'. Supported values are: 'input_text', 'input_image', and 'input_file'."
        );
        assert_eq!(
            err(json!({"input": [{"role": "assistant", "content": [{"type": "input_text", "text": "x"}]}]})).0,
            "Invalid value: 'input_text'. Supported values are: 'output_text' and 'refusal'."
        );
        assert_eq!(
            err(json!({"input": [{"content": "x"}]})).0,
            "Missing required parameter: 'input[0].role'."
        );
        assert_eq!(
            err(json!({"input": [{"type": 5}]})).1,
            Some("input[0].type".into())
        );
        assert_eq!(
            err(json!({"tools": [{"type": "custom", "name": "x"}]})).1,
            Some("tools[0].type".into())
        );
        assert_eq!(
            err(json!({"input": [{"type": "function_call_output", "output": "x"}]})).0,
            "Missing required parameter: 'input[0].call_id'."
        );
        assert_eq!(
            check_parameters(CREATE, &json!({"input": "x"}))
                .unwrap_err()
                .code,
            Some("missing_required_parameter")
        );
    }
}
