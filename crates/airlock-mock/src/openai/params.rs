//! A declarative description of the OpenAI request bodies (everything the
//! openai SDK can send for chat completions, embeddings, images, speech and
//! transcriptions; the Responses API's is in `super::responses::params`),
//! walked by [`super::validate`]. The upload endpoints' forms are read into
//! JSON first (`super::form`), their files standing as `Any`.

#[derive(Debug)]
pub enum Ty {
    Str,
    Bool,
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    Num {
        min: Option<f64>,
        max: Option<f64>,
    },
    /// One of these strings.
    Lit(&'static [&'static str]),
    Arr {
        item: &'static Ty,
        min: usize,
        max: Option<usize>,
    },
    Obj(&'static [Field]),
    /// An object whose `tag` member picks the variant's fields.
    Tagged {
        tag: &'static str,
        variants: &'static [(&'static str, &'static [Field])],
    },
    /// An object whose `tag` member (`default` when it is absent) picks the
    /// type the whole object is checked against; each type lists the tag
    /// among its own members.
    Switch {
        tag: &'static str,
        default: &'static str,
        variants: &'static [(&'static str, Ty)],
    },
    /// An object with arbitrary keys and values of one type.
    Map(&'static Ty),
    /// Any JSON object (schemas, free-form options).
    AnyObj,
    /// Any JSON value.
    Any,
    /// The first alternative whose JSON type matches.
    OneOf(&'static [Ty]),
    /// The type, or `null`.
    Null(&'static Ty),
}

#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
}

pub const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
    }
}

pub const fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}

pub const fn arr(item: &'static Ty) -> Ty {
    Ty::Arr {
        item,
        min: 0,
        max: None,
    }
}

pub const fn num(min: f64, max: f64) -> Ty {
    Ty::Num {
        min: Some(min),
        max: Some(max),
    }
}

pub const fn int(min: Option<i64>, max: Option<i64>) -> Ty {
    Ty::Int { min, max }
}

use Ty::{Any, AnyObj, Bool, Lit, Map, Null, Obj, OneOf, Str, Tagged};

const CACHE_BREAKPOINT: Field = opt("prompt_cache_breakpoint", AnyObj);

static TEXT_PART: Ty = Tagged {
    tag: "type",
    variants: &[("text", &[req("text", Str), CACHE_BREAKPOINT])],
};

const TEXT_CONTENT: Ty = OneOf(&[Str, arr(&TEXT_PART)]);

static USER_PART: Ty = Tagged {
    tag: "type",
    variants: &[
        ("text", &[req("text", Str), CACHE_BREAKPOINT]),
        (
            "image_url",
            &[
                req(
                    "image_url",
                    Obj(&[
                        req("url", Str),
                        opt("detail", Lit(&["auto", "low", "high", "original"])),
                    ]),
                ),
                CACHE_BREAKPOINT,
            ],
        ),
        (
            "input_audio",
            &[
                req(
                    "input_audio",
                    Obj(&[req("data", Str), req("format", Lit(&["wav", "mp3"]))]),
                ),
                CACHE_BREAKPOINT,
            ],
        ),
        (
            "file",
            &[
                req(
                    "file",
                    Obj(&[
                        opt("file_data", Str),
                        opt("file_id", Str),
                        opt("filename", Str),
                    ]),
                ),
                CACHE_BREAKPOINT,
            ],
        ),
    ],
};

static ASSISTANT_PART: Ty = Tagged {
    tag: "type",
    variants: &[
        ("text", &[req("text", Str)]),
        ("refusal", &[req("refusal", Str)]),
    ],
};

static ASSISTANT_CONTENT: Ty = OneOf(&[Str, arr(&ASSISTANT_PART)]);

static TOOL_CALL: Ty = Tagged {
    tag: "type",
    variants: &[
        (
            "function",
            &[
                req("id", Str),
                req("function", Obj(&[req("name", Str), req("arguments", Str)])),
            ],
        ),
        (
            "custom",
            &[
                req("id", Str),
                req("custom", Obj(&[req("name", Str), req("input", Str)])),
            ],
        ),
    ],
};

static MESSAGE: Ty = Tagged {
    tag: "role",
    variants: &[
        (
            "system",
            &[
                req("content", OneOf(&[Str, arr(&TEXT_PART)])),
                opt("name", Str),
            ],
        ),
        (
            "assistant",
            &[
                opt("content", Null(&ASSISTANT_CONTENT)),
                opt("refusal", Null(&Str)),
                opt("name", Str),
                opt("tool_calls", arr(&TOOL_CALL)),
                opt(
                    "function_call",
                    Null(&Obj(&[req("name", Str), req("arguments", Str)])),
                ),
                opt("audio", Null(&Obj(&[req("id", Str)]))),
                // Sent back when a previous answer's message object is reused.
                opt("annotations", Null(&arr(&AnyObj))),
            ],
        ),
        (
            "user",
            &[
                req("content", OneOf(&[Str, arr(&USER_PART)])),
                opt("name", Str),
            ],
        ),
        ("function", &[req("content", Null(&Str)), req("name", Str)]),
        (
            "tool",
            &[
                req("content", OneOf(&[Str, arr(&TEXT_PART)])),
                req("tool_call_id", Str),
            ],
        ),
        (
            "developer",
            &[
                req("content", OneOf(&[Str, arr(&TEXT_PART)])),
                opt("name", Str),
            ],
        ),
    ],
};

static TOOL: Ty = Tagged {
    tag: "type",
    variants: &[
        (
            "function",
            &[req(
                "function",
                Obj(&[
                    req("name", Str),
                    opt("description", Str),
                    opt("parameters", AnyObj),
                    opt("strict", Null(&Bool)),
                ]),
            )],
        ),
        (
            "custom",
            &[req(
                "custom",
                Obj(&[
                    req("name", Str),
                    opt("description", Str),
                    opt(
                        "format",
                        Tagged {
                            tag: "type",
                            variants: &[
                                ("text", &[]),
                                (
                                    "grammar",
                                    &[req(
                                        "grammar",
                                        Obj(&[
                                            req("definition", Str),
                                            req("syntax", Lit(&["lark", "regex"])),
                                        ]),
                                    )],
                                ),
                            ],
                        },
                    ),
                ]),
            )],
        ),
    ],
};

const TOOL_CHOICE: Ty = OneOf(&[
    Lit(&["none", "auto", "required"]),
    Tagged {
        tag: "type",
        variants: &[
            ("function", &[req("function", Obj(&[req("name", Str)]))]),
            ("custom", &[req("custom", Obj(&[req("name", Str)]))]),
            (
                "allowed_tools",
                &[req(
                    "allowed_tools",
                    Obj(&[
                        req("mode", Lit(&["auto", "required"])),
                        req("tools", arr(&AnyObj)),
                    ]),
                )],
            ),
        ],
    },
]);

const RESPONSE_FORMAT: Ty = Tagged {
    tag: "type",
    variants: &[
        ("text", &[]),
        ("json_object", &[]),
        (
            "json_schema",
            &[req(
                "json_schema",
                Obj(&[
                    req("name", Str),
                    opt("description", Str),
                    opt("schema", AnyObj),
                    opt("strict", Null(&Bool)),
                ]),
            )],
        ),
    ],
};

static PENALTY: Ty = num(-2.0, 2.0);

pub static CHAT_COMPLETION: &[Field] = &[
    req(
        "messages",
        Ty::Arr {
            item: &MESSAGE,
            min: 1,
            max: None,
        },
    ),
    req("model", Str),
    opt(
        "audio",
        Null(&Obj(&[
            req(
                "format",
                Lit(&["wav", "aac", "mp3", "flac", "opus", "pcm16"]),
            ),
            req("voice", OneOf(&[Str, Obj(&[req("id", Str)])])),
        ])),
    ),
    opt("frequency_penalty", Null(&PENALTY)),
    opt(
        "function_call",
        OneOf(&[Lit(&["none", "auto"]), Obj(&[req("name", Str)])]),
    ),
    opt(
        "functions",
        Ty::Arr {
            item: &Obj(&[
                req("name", Str),
                opt("description", Str),
                opt("parameters", AnyObj),
            ]),
            min: 1,
            max: Some(128),
        },
    ),
    opt("logit_bias", Null(&Map(&int(Some(-100), Some(100))))),
    opt("logprobs", Null(&Bool)),
    opt("max_completion_tokens", Null(&int(Some(1), None))),
    opt("max_tokens", Null(&int(Some(1), None))),
    opt("metadata", Null(&Map(&Str))),
    opt("modalities", Null(&arr(&Lit(&["text", "audio"])))),
    opt("moderation", AnyObj),
    opt("n", Null(&int(Some(1), Some(128)))),
    opt("parallel_tool_calls", Bool),
    opt(
        "prediction",
        Null(&Obj(&[
            req("type", Lit(&["content"])),
            req("content", TEXT_CONTENT),
        ])),
    ),
    opt("presence_penalty", Null(&PENALTY)),
    opt("prompt_cache_key", Null(&Str)),
    opt("prompt_cache_options", AnyObj),
    opt("prompt_cache_retention", Null(&Lit(&["in_memory", "24h"]))),
    opt(
        "reasoning_effort",
        Null(&Lit(&["none", "minimal", "low", "medium", "high", "xhigh"])),
    ),
    opt("response_format", RESPONSE_FORMAT),
    opt("safety_identifier", Str),
    opt("seed", Null(&int(None, None))),
    opt(
        "service_tier",
        Null(&Lit(&[
            "auto", "default", "flex", "scale", "priority", "fast",
        ])),
    ),
    opt(
        "stop",
        Null(&OneOf(&[
            Str,
            Ty::Arr {
                item: &Str,
                min: 0,
                max: Some(4),
            },
        ])),
    ),
    opt("store", Null(&Bool)),
    opt("stream", Null(&Bool)),
    opt(
        "stream_options",
        Null(&Obj(&[
            opt("include_usage", Bool),
            opt("include_obfuscation", Bool),
        ])),
    ),
    opt("temperature", Null(&num(0.0, 2.0))),
    opt("tool_choice", TOOL_CHOICE),
    opt(
        "tools",
        Ty::Arr {
            item: &TOOL,
            min: 0,
            max: Some(128),
        },
    ),
    opt("top_logprobs", Null(&int(Some(0), Some(20)))),
    opt("top_p", Null(&num(0.0, 1.0))),
    opt("user", Str),
    opt("verbosity", Null(&Lit(&["low", "medium", "high"]))),
    opt(
        "web_search_options",
        Obj(&[
            opt("search_context_size", Lit(&["low", "medium", "high"])),
            opt(
                "user_location",
                Null(&Obj(&[
                    req("type", Lit(&["approximate"])),
                    req(
                        "approximate",
                        Obj(&[
                            opt("city", Str),
                            opt("country", Str),
                            opt("region", Str),
                            opt("timezone", Str),
                        ]),
                    ),
                ])),
            ),
        ]),
    ),
];

/// `input` is checked separately: its alternatives differ by item type.
pub static EMBEDDINGS: &[Field] = &[
    req("input", Any),
    req("model", Str),
    opt("dimensions", int(Some(1), None)),
    opt("encoding_format", Lit(&["float", "base64"])),
    opt("user", Str),
];

static IMAGE_BACKGROUND: Ty = Lit(&["transparent", "opaque", "auto"]);
static IMAGE_COMPLEXITY: Ty = Lit(&["low", "medium", "high"]);
static IMAGE_FORMAT: Ty = Lit(&["png", "webp", "jpeg", "gif", "svg"]);
static IMAGE_RESPONSE_FORMAT: Ty = Lit(&["url", "b64_json"]);
static SVG: Ty = Obj(&[
    opt("model", Str),
    opt(
        "reasoning",
        Null(&Obj(&[opt(
            "effort",
            Null(&Lit(&[
                "none", "minimal", "low", "medium", "high", "xhigh", "max",
            ])),
        )])),
    ),
]);

/// `POST /v1/images/generations`.
pub static IMAGE_GENERATION: &[Field] = &[
    req("prompt", Str),
    opt("background", Null(&IMAGE_BACKGROUND)),
    opt("complexity", Null(&IMAGE_COMPLEXITY)),
    opt("frame_count", Null(&int(Some(2), Some(16)))),
    opt("frame_duration_ms", Null(&int(Some(0), None))),
    opt("model", Null(&Str)),
    opt("moderation", Null(&Lit(&["low", "auto"]))),
    opt("n", Null(&int(Some(1), Some(10)))),
    opt("output_compression", Null(&int(Some(0), Some(100)))),
    opt("output_format", Null(&IMAGE_FORMAT)),
    opt("partial_images", Null(&int(Some(0), Some(3)))),
    opt(
        "quality",
        Null(&Lit(&[
            "low", "medium", "high", "xhigh", "max", "auto", "standard", "hd",
        ])),
    ),
    opt("response_format", Null(&IMAGE_RESPONSE_FORMAT)),
    opt("safety_identifier", Null(&Str)),
    opt("size", Null(&Str)),
    opt("stream", Null(&Bool)),
    opt("style", Null(&Lit(&["vivid", "natural"]))),
    opt("svg", Null(&SVG)),
    opt("user", Str),
];

/// `POST /v1/images/edits` (a form; `image`, `mask` and `markup` are files).
pub static IMAGE_EDIT: &[Field] = &[
    req("image", Any),
    req("prompt", Str),
    opt("background", Null(&IMAGE_BACKGROUND)),
    opt("complexity", Null(&IMAGE_COMPLEXITY)),
    opt("frame_count", Null(&int(Some(2), Some(16)))),
    opt("frame_duration_ms", Null(&int(Some(0), None))),
    opt("input_fidelity", Null(&Lit(&["high", "low"]))),
    opt("markup", Any),
    opt("mask", Any),
    opt("model", Null(&Str)),
    opt("n", Null(&int(Some(1), Some(10)))),
    opt("output_compression", Null(&int(Some(0), Some(100)))),
    opt("output_format", Null(&IMAGE_FORMAT)),
    opt("partial_images", Null(&int(Some(0), Some(3)))),
    opt(
        "quality",
        Null(&Lit(&[
            "low", "medium", "high", "xhigh", "max", "auto", "standard",
        ])),
    ),
    opt("response_format", Null(&IMAGE_RESPONSE_FORMAT)),
    opt("safety_identifier", Null(&Str)),
    opt("size", Null(&Str)),
    opt("stream", Null(&Bool)),
    opt("svg", Null(&SVG)),
    opt("user", Str),
];

/// `POST /v1/audio/speech`.
pub static SPEECH: &[Field] = &[
    req("input", Str),
    req("model", Str),
    req("voice", OneOf(&[Str, Obj(&[req("id", Str)])])),
    opt("instructions", Str),
    opt(
        "response_format",
        Lit(&["mp3", "opus", "aac", "flac", "wav", "pcm"]),
    ),
    opt("speed", num(0.25, 4.0)),
    opt("stream_format", Lit(&["sse", "audio"])),
];

/// `POST /v1/audio/transcriptions` (a form; `file` is a file).
pub static TRANSCRIPTION: &[Field] = &[
    req("file", Any),
    req("model", Str),
    opt(
        "chunking_strategy",
        Null(&OneOf(&[
            Lit(&["auto"]),
            Obj(&[
                req("type", Lit(&["server_vad"])),
                opt("prefix_padding_ms", int(Some(0), None)),
                opt("silence_duration_ms", int(Some(0), None)),
                opt("threshold", num(0.0, 1.0)),
            ]),
        ])),
    ),
    opt("include", arr(&Lit(&["logprobs"]))),
    opt("keywords", arr(&Str)),
    opt("known_speaker_names", arr(&Str)),
    opt("known_speaker_references", arr(&Str)),
    opt("language", Str),
    opt("languages", arr(&Str)),
    opt("prompt", Str),
    opt(
        "response_format",
        Lit(&[
            "json",
            "text",
            "srt",
            "verbose_json",
            "vtt",
            "diarized_json",
        ]),
    ),
    opt("stream", Null(&Bool)),
    opt("temperature", num(0.0, 1.0)),
    opt("timestamp_granularities", arr(&Lit(&["word", "segment"]))),
];
