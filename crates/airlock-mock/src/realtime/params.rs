//! The client events of both Realtime interfaces, described with
//! [`crate::openai::params`]'s types so [`crate::openai::validate`] checks
//! them as OpenAI does (unknown parameters, missing required ones, wrong
//! types and values, each naming its path). GA shapes follow
//! `openai.types.realtime`, beta ones `openai.types.beta.realtime`; each
//! interface refuses the other's fields.

use crate::openai::params::Ty::{Any, AnyObj, Bool, Lit, Map, Null, Obj, OneOf, Str, Tagged};
use crate::openai::params::{Field, Ty, arr, int, num, opt, req};

const EVENT_ID: Field = opt("event_id", Str);
const NON_NEGATIVE: Ty = int(Some(0), None);
const MODALITIES: Ty = arr(&Lit(&["text", "audio"]));
const MAX_TOKENS: Ty = OneOf(&[int(Some(1), Some(4096)), Lit(&["inf"])]);
const METADATA: Ty = Null(&Map(&Str));
const ITEM_STATUS: Ty = Lit(&["completed", "incomplete", "in_progress"]);
const ITEM_OBJECT: Ty = Lit(&["realtime.item"]);
const TRACING: Ty = Null(&OneOf(&[
    Lit(&["auto"]),
    Obj(&[
        opt("group_id", Str),
        opt("metadata", AnyObj),
        opt("workflow_name", Str),
    ]),
]));
const NOISE_REDUCTION: Ty = Null(&Obj(&[
    opt("type", Lit(&["near_field", "far_field"])),
    opt("strength", num(0.0, 1.0)),
]));

/// The client events of an interface, given its session, item and
/// response shapes (the other events are the same in both).
macro_rules! events {
    ($session:expr, $item:expr, $response:expr) => {
        Tagged {
            tag: "type",
            variants: &[
                ("session.update", &[EVENT_ID, req("session", $session)]),
                ("input_audio_buffer.append", &[EVENT_ID, req("audio", Str)]),
                ("input_audio_buffer.commit", &[EVENT_ID]),
                ("input_audio_buffer.clear", &[EVENT_ID]),
                ("output_audio_buffer.clear", &[EVENT_ID]),
                (
                    "conversation.item.create",
                    &[
                        EVENT_ID,
                        opt("previous_item_id", Null(&Str)),
                        req("item", $item),
                    ],
                ),
                (
                    "conversation.item.retrieve",
                    &[EVENT_ID, req("item_id", Str)],
                ),
                ("conversation.item.delete", &[EVENT_ID, req("item_id", Str)]),
                (
                    "conversation.item.truncate",
                    &[
                        EVENT_ID,
                        req("item_id", Str),
                        req("content_index", NON_NEGATIVE),
                        req("audio_end_ms", NON_NEGATIVE),
                    ],
                ),
                ("response.create", &[EVENT_ID, opt("response", $response)]),
                ("response.cancel", &[EVENT_ID, opt("response_id", Str)]),
            ],
        }
    };
}

// ---- GA (`openai.types.realtime`) ----

const GA_FORMAT: Ty = Tagged {
    tag: "type",
    variants: &[
        ("audio/pcm", &[opt("rate", int(Some(24000), Some(24000)))]),
        ("audio/pcmu", &[]),
        ("audio/pcma", &[]),
    ],
};

const GA_TURN_DETECTION: Ty = Null(&Tagged {
    tag: "type",
    variants: &[
        (
            "server_vad",
            &[
                opt("threshold", num(0.0, 1.0)),
                opt("prefix_padding_ms", NON_NEGATIVE),
                opt("silence_duration_ms", NON_NEGATIVE),
                opt("idle_timeout_ms", Null(&NON_NEGATIVE)),
                opt("create_response", Bool),
                opt("interrupt_response", Bool),
            ],
        ),
        (
            "semantic_vad",
            &[
                opt("eagerness", Lit(&["low", "medium", "high", "auto"])),
                opt("create_response", Bool),
                opt("interrupt_response", Bool),
            ],
        ),
    ],
});

const GA_TRANSCRIPTION: Ty = Null(&Obj(&[
    opt("model", Str),
    opt("language", Str),
    opt("languages", arr(&Str)),
    opt("prompt", Str),
    opt("keywords", arr(&Str)),
    opt("delay", Lit(&["minimal", "low", "medium", "high", "xhigh"])),
]));

const VOICE: Ty = OneOf(&[Str, Obj(&[req("id", Str)])]);

const GA_OUTPUT: Ty = Obj(&[
    opt("format", GA_FORMAT),
    opt("voice", VOICE),
    opt("speed", num(0.25, 1.5)),
]);

const GA_AUDIO: Ty = Obj(&[
    opt(
        "input",
        Obj(&[
            opt("format", GA_FORMAT),
            opt("noise_reduction", NOISE_REDUCTION),
            opt("transcription", GA_TRANSCRIPTION),
            opt("turn_detection", GA_TURN_DETECTION),
        ]),
    ),
    opt("output", GA_OUTPUT),
]);

const GA_TOOL: Ty = Tagged {
    tag: "type",
    variants: &[
        (
            "function",
            &[
                req("name", Str),
                opt("description", Str),
                opt("parameters", AnyObj),
            ],
        ),
        (
            "mcp",
            &[
                req("server_label", Str),
                opt("server_url", Str),
                opt("server_description", Str),
                opt("connector_id", Str),
                opt("authorization", Str),
                opt("headers", METADATA),
                opt("allowed_tools", Any),
                opt("allowed_callers", Any),
                opt("require_approval", Any),
                opt("defer_loading", Bool),
                opt("tunnel_id", Str),
            ],
        ),
    ],
};

const GA_TOOL_CHOICE: Ty = OneOf(&[
    Lit(&["none", "auto", "required"]),
    Tagged {
        tag: "type",
        variants: &[
            ("function", &[req("name", Str)]),
            ("mcp", &[req("server_label", Str), opt("name", Null(&Str))]),
        ],
    },
]);

const GA_SESSION: Ty = Tagged {
    tag: "type",
    variants: &[(
        "realtime",
        &[
            opt("audio", GA_AUDIO),
            opt(
                "include",
                arr(&Lit(&["item.input_audio_transcription.logprobs"])),
            ),
            opt("instructions", Str),
            opt("max_output_tokens", MAX_TOKENS),
            opt("model", Str),
            opt("output_modalities", MODALITIES),
            opt("parallel_tool_calls", Bool),
            opt("prompt", Null(&AnyObj)),
            opt(
                "reasoning",
                Obj(&[opt(
                    "effort",
                    Lit(&["minimal", "low", "medium", "high", "xhigh"]),
                )]),
            ),
            opt("tool_choice", GA_TOOL_CHOICE),
            opt("tools", arr(&GA_TOOL)),
            opt("tracing", TRACING),
            opt(
                "truncation",
                OneOf(&[
                    Lit(&["auto", "disabled"]),
                    Tagged {
                        tag: "type",
                        variants: &[(
                            "retention_ratio",
                            &[
                                req("retention_ratio", num(0.0, 1.0)),
                                opt(
                                    "token_limits",
                                    Obj(&[opt("post_instructions", NON_NEGATIVE)]),
                                ),
                            ],
                        )],
                    },
                ]),
            ),
        ],
    )],
};

const GA_CONTENT: Ty = Tagged {
    tag: "type",
    variants: &[
        ("input_text", &[opt("text", Str)]),
        (
            "input_audio",
            &[opt("audio", Str), opt("transcript", Null(&Str))],
        ),
        (
            "input_image",
            &[
                opt("image_url", Str),
                opt("detail", Lit(&["auto", "low", "high"])),
            ],
        ),
        ("output_text", &[opt("text", Str)]),
        (
            "output_audio",
            &[opt("audio", Str), opt("transcript", Null(&Str))],
        ),
    ],
};

const GA_ITEM: Ty = Tagged {
    tag: "type",
    variants: &[
        (
            "message",
            &[
                opt("id", Str),
                opt("object", ITEM_OBJECT),
                opt("status", ITEM_STATUS),
                req("role", Lit(&["system", "user", "assistant"])),
                req("content", arr(&GA_CONTENT)),
            ],
        ),
        (
            "function_call",
            &[
                opt("id", Str),
                opt("object", ITEM_OBJECT),
                opt("status", ITEM_STATUS),
                opt("call_id", Str),
                req("name", Str),
                req("arguments", Str),
            ],
        ),
        (
            "function_call_output",
            &[
                opt("id", Str),
                opt("object", ITEM_OBJECT),
                opt("status", ITEM_STATUS),
                req("call_id", Str),
                req("output", Str),
            ],
        ),
        (
            "mcp_approval_response",
            &[
                req("id", Str),
                req("approval_request_id", Str),
                req("approve", Bool),
                opt("reason", Null(&Str)),
            ],
        ),
        // In `response.create` input only.
        ("item_reference", &[req("id", Str)]),
    ],
};

const GA_RESPONSE: Ty = Obj(&[
    opt(
        "audio",
        Obj(&[opt(
            "output",
            Obj(&[opt("format", GA_FORMAT), opt("voice", VOICE)]),
        )]),
    ),
    opt("conversation", Str),
    opt("input", arr(&GA_ITEM)),
    opt("instructions", Str),
    opt("max_output_tokens", MAX_TOKENS),
    opt("metadata", METADATA),
    opt("output_modalities", MODALITIES),
    opt("parallel_tool_calls", Bool),
    opt("prompt", Null(&AnyObj)),
    opt("reasoning", AnyObj),
    opt("tool_choice", GA_TOOL_CHOICE),
    opt("tools", arr(&GA_TOOL)),
]);

/// A GA client event.
pub static GA_EVENT: Ty = events!(GA_SESSION, GA_ITEM, GA_RESPONSE);

// ---- beta (`openai.types.beta.realtime`, `OpenAI-Beta: realtime=v1`) ----

const BETA_FORMAT: Ty = Lit(&["pcm16", "g711_ulaw", "g711_alaw"]);

const BETA_TOOL: Ty = Obj(&[
    opt("type", Lit(&["function"])),
    opt("name", Str),
    opt("description", Str),
    opt("parameters", AnyObj),
]);

const BETA_SESSION: Ty = Obj(&[
    opt("client_secret", AnyObj),
    opt(
        "include",
        arr(&Lit(&["item.input_audio_transcription.logprobs"])),
    ),
    opt("input_audio_format", BETA_FORMAT),
    opt(
        "input_audio_noise_reduction",
        Null(&Obj(&[opt("type", Lit(&["near_field", "far_field"]))])),
    ),
    opt(
        "input_audio_transcription",
        Null(&Obj(&[
            opt("model", Str),
            opt("language", Str),
            opt("prompt", Str),
        ])),
    ),
    opt("instructions", Str),
    opt("max_response_output_tokens", MAX_TOKENS),
    opt("modalities", MODALITIES),
    opt("model", Str),
    opt("output_audio_format", BETA_FORMAT),
    opt("speed", num(0.25, 1.5)),
    opt("temperature", num(0.6, 1.2)),
    opt("tool_choice", Str),
    opt("tools", arr(&BETA_TOOL)),
    opt("tracing", TRACING),
    opt(
        "turn_detection",
        Null(&Obj(&[
            opt("type", Lit(&["server_vad", "semantic_vad"])),
            opt("threshold", num(0.0, 1.0)),
            opt("prefix_padding_ms", NON_NEGATIVE),
            opt("silence_duration_ms", NON_NEGATIVE),
            opt("idle_timeout_ms", Null(&NON_NEGATIVE)),
            opt("create_response", Bool),
            opt("interrupt_response", Bool),
            opt("eagerness", Lit(&["low", "medium", "high", "auto"])),
        ])),
    ),
    opt("voice", Str),
]);

const BETA_CONTENT: Ty = Obj(&[
    opt(
        "type",
        Lit(&[
            "input_text",
            "input_audio",
            "item_reference",
            "text",
            "audio",
        ]),
    ),
    opt("text", Str),
    opt("audio", Str),
    opt("transcript", Null(&Str)),
    opt("id", Str),
]);

const BETA_ITEM: Ty = Obj(&[
    opt("id", Str),
    opt(
        "type",
        Lit(&[
            "message",
            "function_call",
            "function_call_output",
            "item_reference",
        ]),
    ),
    opt("object", ITEM_OBJECT),
    opt("status", ITEM_STATUS),
    opt("role", Lit(&["user", "assistant", "system"])),
    opt("content", arr(&BETA_CONTENT)),
    opt("call_id", Str),
    opt("name", Str),
    opt("arguments", Str),
    opt("output", Str),
]);

const BETA_RESPONSE: Ty = Obj(&[
    opt("conversation", Str),
    opt("input", arr(&BETA_ITEM)),
    opt("instructions", Str),
    opt("max_response_output_tokens", MAX_TOKENS),
    opt("metadata", METADATA),
    opt("modalities", MODALITIES),
    opt("output_audio_format", BETA_FORMAT),
    opt("temperature", num(0.6, 1.2)),
    opt("tool_choice", Str),
    opt("tools", arr(&BETA_TOOL)),
    opt("voice", Str),
]);

/// A beta client event.
pub static BETA_EVENT: Ty = events!(BETA_SESSION, BETA_ITEM, BETA_RESPONSE);
