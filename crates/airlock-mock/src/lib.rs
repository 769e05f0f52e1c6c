//! airlock-mock: a faithful simulator of the Google Gemini API
//! (generativelanguage.googleapis.com REST and the Gemini Live WebSocket) and
//! the OpenAI API (REST and the Realtime WebSocket), for tests and for
//! Airlock's built-in simulator. The official SDKs (`openai`,
//! `google-genai`), pointed at it, parse every answer.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let mock = airlock_mock::spawn("127.0.0.1:0".parse().unwrap(), Default::default()).await?;
//! let gemini = mock.gemini_base_url(); // http://127.0.0.1:PORT
//! let openai = mock.openai_base_url(); // http://127.0.0.1:PORT/v1
//! # let _ = (gemini, openai);
//! mock.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! `airlock mock --listen ADDR` runs it standalone.
//!
//! # Routes
//!
//! * `GET /healthz` → `200 ok` (never counted, never faulted).
//! * Gemini, for `{v}` in `v1`, `v1beta`, `v1alpha`:
//!   `POST /{v}/models/{model}:generateContent`, `:streamGenerateContent`
//!   (`?alt=sse`: `data: {json}\r\n\r\n` events; otherwise a JSON array
//!   streamed as `[{...}`, `\n,\r\n{...}`, …, `\n]`), `:countTokens`
//!   (`contents` or `generateContentRequest`), `:embedContent`,
//!   `:batchEmbedContents`; `GET /{v}/models` (`pageSize` default 50, at most
//!   1000, `pageToken`/`nextPageToken`) and `GET /{v}/models/{model}`.
//!   `:predict` (Imagen's method; Google retired Imagen) is Google's model
//!   404 for every model. Unknown query parameters are refused as Google
//!   refuses them. Image, speech and audio understanding: see [Gemini
//!   media](#gemini-media).
//! * OpenAI: `POST /v1/chat/completions` (plain, or `stream: true` as
//!   `data: {chunk}\n\n` events ending `data: [DONE]\n\n`), `POST
//!   /v1/responses` (plain, or `stream: true` as `event: {type}\ndata:
//!   {event}\n\n` events), `GET` and `DELETE /v1/responses/{id}`, `GET
//!   /v1/responses/{id}/input_items` — see [OpenAI Responses
//!   API](#openai-responses-api) — `POST /v1/embeddings`, `GET /v1/models`,
//!   `GET /v1/models/{id}`, `POST /v1/images/generations`, `POST
//!   /v1/images/edits`, `POST /v1/audio/speech`, `POST
//!   /v1/audio/transcriptions` — see [OpenAI images and
//!   audio](#openai-images-and-audio).
//! * `GET /blob/{name}`: a picture answered as a URL (never counted,
//!   faulted or keyed, like OpenAI's signed blob URLs).
//! * Gemini Live (WebSocket): `GET
//!   /ws/google.ai.generativelanguage.{v}.GenerativeService.BidiGenerateContent`
//!   and `...BidiGenerateContentConstrained` — see [Gemini Live](#gemini-live).
//! * OpenAI Realtime (WebSocket): `GET /v1/realtime?model=NAME` — see
//!   [OpenAI Realtime](#openai-realtime).
//! * `GET /mock/requests` and `DELETE /mock/requests`: request inspection
//!   (see [Faults and latency](#faults-and-latency)); never counted,
//!   faulted or keyed.
//! * `GET /v1/models[/{id}]` is shared by both APIs: it is Gemini's when the
//!   request carries an `x-goog-api-key` (or any `x-goog-*`) header or a
//!   `key`, `pageSize` or `pageToken` query parameter, OpenAI's otherwise.
//! * Other paths: OpenAI's `Invalid URL (METHOD /path)` 404, or a Google
//!   `NOT_FOUND` for `/v1beta/…`, `/v1alpha/…` and Gemini-looking requests.
//!
//! Models — Gemini (the current catalogue, module `gemini::catalog`): 2.5
//! Pro, Flash and Flash-Lite; 2.0 Flash (-001) and Flash-Lite (retired at
//! Google, kept for tests); Gemini 3 and later text models
//! (gemini-3-pro-preview, gemini-3.1-pro-preview(-customtools),
//! gemini-3-flash-preview, gemini-3.1-flash-lite, gemini-3.5-flash(-lite),
//! gemini-3.6-flash, gemini-3.7-flash, gemini-3.8-flash, gemini-4-argon,
//! -carbon, -hydrogen, and the gemini-flash-latest, gemini-flash-lite-latest
//! and gemini-pro-latest aliases); image models (gemini-2.5-flash-image,
//! gemini-3-pro-image(-preview), gemini-3.1-flash-image,
//! gemini-3.1-flash-lite-image); speech models (gemini-2.5-flash-preview-tts,
//! gemini-2.5-pro-preview-tts, gemini-3.1-flash-tts-preview,
//! gemini-3.8-flash-tts, gemini-3.8-flash-lite-tts); gemini-embedding-001
//! (3072 dimensions), text-embedding-004 (768); Live only
//! (`bidiGenerateContent`): gemini-2.0-flash-live-001,
//! gemini-live-2.5-flash-preview,
//! gemini-2.5-flash-native-audio-preview-09-2025 and -12-2025,
//! gemini-2.5-flash-native-audio-latest, gemini-3.1-flash-live-preview,
//! gemini-3.8-live, gemini-3.8-live-extended-thinking. Retired models
//! (1.x, 2.0 experiments, dated 2.5 previews) get Google's 404.
//! OpenAI: gpt-4o, gpt-4o-mini, gpt-4.1, gpt-4.1-mini, gpt-4.1-nano, gpt-5,
//! gpt-5-mini, o3, o4-mini (also by dated snapshot name, which answers
//! carry), text-embedding-3-small (1536), text-embedding-3-large (3072),
//! text-embedding-ada-002 (1536); Realtime only: gpt-realtime
//! (gpt-realtime-2025-08-28), gpt-realtime-mini (-2025-10-06),
//! gpt-4o-realtime-preview (-2025-06-03, and -2024-12-17 by name),
//! gpt-4o-mini-realtime-preview (-2024-12-17); images: dall-e-2, dall-e-3,
//! gpt-image-1, gpt-image-1-mini, gpt-image-1.5; speech: tts-1, tts-1-hd,
//! gpt-4o-mini-tts; transcription: whisper-1, gpt-4o-transcribe,
//! gpt-4o-mini-transcribe. Unknown models get the provider's 404.
//!
//! # API keys
//!
//! Gemini reads `x-goog-api-key`, else the `key` query parameter; OpenAI
//! reads `Authorization: Bearer`. Realtime sessions read them the same way
//! (plus `Authorization: Token …` on Live's Constrained method and the
//! `openai-insecure-api-key.KEY` subprotocol on OpenAI's) and each session
//! counts as one request. Every provider request is counted in
//! [`MockServer::requests_seen`] and, when it carries a key, under that key
//! as sent in [`MockServer::requests_by_key`] — rejected requests included.
//!
//! | key | Gemini | OpenAI |
//! | --- | --- | --- |
//! | missing or empty | 403 `PERMISSION_DENIED` "Method doesn't allow unregistered callers…" | 401 "You didn't provide an API key…", code `null` |
//! | `bad-…` | 400 `INVALID_ARGUMENT` "API key not valid…", `ErrorInfo` reason `API_KEY_INVALID` | 401 `invalid_api_key` "Incorrect API key provided: …" (keys over 12 characters masked to first 8 + `*` + last 4) |
//! | `denied-…` | 403 `PERMISSION_DENIED`, reason `API_KEY_SERVICE_BLOCKED` | 403 "You have insufficient permissions…" |
//! | `limited-…` | 429 `RESOURCE_EXHAUSTED` with `RetryInfo` `retryDelay: "1s"` (no `Retry-After`, as Google) | 429 `rate_limit_exceeded`, `Retry-After: 1` |
//! | anything else | accepted | accepted |
//!
//! # Faults and latency
//!
//! [`MockConfig`] sets them for the server, [`MockServer::set_fault`] and
//! [`MockServer::set_latency`] change them at run time, and two request
//! headers override them for that request alone (a bad value is a 400 in the
//! provider's shape):
//!
//! * `x-mock-fault: status=503 | rate-limit=2 | disconnect-after=3 |
//!   stall-after=2 | slow-headers-ms=500 | go-away-ms=2000 | reset | none`
//!   — see [`Fault`]; `none` clears a configured fault. `status` must be
//!   400..=599.
//! * `x-mock-latency: first-token-ms=100,per-chunk-ms=20` — either key may be
//!   left out (it is then 0); the header replaces the configured latency.
//!
//! Request inspection, for tests: the bodies of the last 64 requests whose
//! JSON body a handler read (every provider POST past the fault and key
//! rules, valid or not) are kept in a ring, newest last. `GET /mock/requests`
//! answers `{"data": [{"method", "path", "body"}, …]}` (`body` is the JSON
//! sent, or the string of a body that is not JSON); `DELETE /mock/requests`
//! forgets them (`{"deleted": N}`). From Rust: [`MockServer::received`]
//! ([`ReceivedRequest`]s) and [`MockServer::clear_received`].
//!
//! Faults apply before the key rules, so a faulted server answers every
//! request with the fault. A stream's first chunk waits `first_token`, each
//! later one `per_chunk`; a non-streaming generation or embedding waits as
//! long as its stream would (`first_token + per_chunk × (chunks − 1)`);
//! errors, listings and `countTokens` are not delayed. A disconnect sends
//! that many stream chunks (never the terminator) and then aborts the
//! connection; a non-streaming answer is aborted after its headers. A
//! stall sends that many stream chunks (a non-streaming answer: its
//! headers) and then nothing, keeping the connection open (aborted after
//! five minutes). A reset closes the connection before any answer, not
//! even a status line. Stalls and resets apply to HTTP requests only.
//!
//! Fault rules (`/mock/faults`, [`MockServer::add_fault_rule`]) aim a fault
//! at one side, for a number of requests and at a rate (a share of the
//! requests, drawn deterministically from the seed): see [`FaultRule`].
//!
//! Realtime sessions take both headers on the upgrade request. A model turn
//! waits `first_token` before its first content message and `per_chunk`
//! before each further one; other messages are not delayed.
//! `disconnect-after=N` delivers N model content messages of the session
//! (Gemini `serverContent` with `modelTurn` or `outputTranscription`, and
//! `toolCall`; OpenAI `response.*.delta`) and then drops the TCP connection
//! without a close frame. `slow-headers-ms` delays the `101` answer.
//! `go-away-ms=T` ends the session after T: Gemini Live announces it right
//! after `setupComplete` with `{"goAway": {"timeLeft": "…s"}}` and closes
//! with 1011 "The operation was aborted."; OpenAI sends an `error` event
//! with code `session_expired` and closes with 1000. `status` and
//! `rate-limit` refuse the session like the key rules do (see each protocol
//! below); HTTP requests ignore `go-away-ms`.
//!
//! # Deterministic answers
//!
//! Everything "random" comes from a PRNG seeded with an FNV-1a hash of
//! ([`MockConfig::seed`], model, conversation) — the conversation being the
//! Gemini `systemInstruction` + `contents` after normalisation (so camelCase
//! and snake_case requests agree), the OpenAI `messages`, or the Responses
//! API's `instructions` + items (the continued conversation's, then the
//! input's, without their ids) — and the choice or candidate index. The
//! same request gets the same answer, streamed or not: prose of 12 to 48
//! words from a fixed vocabulary, streamed in 3 to 8 chunks. Stop sequences
//! cut the text; an output-token limit (`maxOutputTokens`,
//! `max_completion_tokens`/`max_tokens`, `max_output_tokens`) cuts it with
//! finish reason `MAX_TOKENS`/`length`/status `incomplete`. JSON answers
//! and tool calls are never cut.
//!
//! Tokens: a text costs ceil(characters / 4); every image, audio, video or
//! file part costs 258 (Gemini inline audio: 32 a second of its length);
//! function calls and results and tool declarations cost the tokens of
//! their compact JSON. Prompt usage and `countTokens`
//! use the same rule (system instruction and tools included when given, as
//! with `generateContentRequest`); output usage counts the answer text, or
//! a call's name plus its arguments' JSON.
//!
//! Usage is reported by modality: Gemini `promptTokensDetails` (and
//! `candidatesTokensDetails` for media answers), OpenAI
//! `prompt_tokens_details.audio_tokens` for `input_audio` parts.
//!
//! # Prompt caching
//!
//! Both providers' implicit prompt caching is simulated (module
//! `prompt_cache`, with each provider's rules in `gemini::caching` and
//! `openai::caching`). A prompt is read in the order the model reads it
//! (Gemini: system instruction, tools, contents; OpenAI: tools, messages),
//! token by token with the rule above, and every 128 tokens a hash of the
//! model and everything so far is a block. A request's cached tokens are
//! those of its longest run of blocks already seen (by modality), then its
//! blocks are remembered: at most 16,384 across all models, least recently
//! used forgotten first; nothing expires with time. Gemini 2.5 models cache
//! from 2,048 prompt tokens and Gemini 3 and later from 4,096 (Google's
//! table, 2026-10-13), reporting `cachedContentTokenCount` and
//! `cacheTokensDetails` (left out when 0); Gemini 2.0 and embedding models
//! never cache. OpenAI chat models cache from 1,024 tokens in 128-token
//! increments, reporting `prompt_tokens_details.cached_tokens` (Responses:
//! `input_tokens_details.cached_tokens`; 0 on a miss) in the answer and in
//! a stream's usage chunk or final event; the Responses API reads the
//! prompt as tools, instructions, then items. The cached part is always
//! counted in the prompt tokens too.
//!
//! Tools: when a call is required — OpenAI `tool_choice: "required"`, a named
//! function or custom tool, `allowed_tools` with mode `required` (chat's
//! nested shapes or the Responses API's flat ones), legacy
//! `function_call: {"name"}`; Gemini `functionCallingConfig.mode: ANY`
//! (restricted to `allowedFunctionNames` when given) — one tool is called:
//! the first the last user message names, else a PRNG pick. In auto mode a
//! tool is called only if the last user message contains its name
//! (case-insensitive), and never when the conversation ends with a tool or
//! function result. `none`/`NONE` never calls. Arguments are generated to be
//! valid against the tool's schema (see the `valuegen` module): OpenAI `parameters`,
//! Gemini `parameters` (OpenAPI subset) or `parametersJsonSchema`. OpenAI
//! answers `tool_calls` (ids `call_…`, arguments as a JSON string, streamed
//! as argument deltas) with finish reason `tool_calls` (the Responses API:
//! a `function_call` output item); Gemini answers a `functionCall {name,
//! args}` part with finish reason `STOP`.
//!
//! JSON mode: OpenAI `response_format` (Responses: `text.format`)
//! `json_object` (which, as at OpenAI, needs the word "json" in the
//! messages, or the input or instructions) gives `{"answer": "<prose>"}`;
//! `json_schema` gives JSON valid against the schema. Gemini
//! `responseMimeType: application/json` gives JSON valid against
//! `responseJsonSchema` or `responseSchema` (an object without either);
//! `text/x.enum` gives one of the schema's enum values.
//!
//! Embeddings are unit vectors drawn from (seed, model, input text), of the
//! model's size or the requested `outputDimensionality`/`dimensions`.
//!
//! # Thinking and thought signatures (Gemini)
//!
//! `generationConfig.thinkingConfig` is checked per model with Google's 400s
//! (module `gemini::thinking`): 2.5 models take a `thinkingBudget` in their
//! range (2.5 Pro 128..=32768 and never 0: "Budget 0 is invalid. This model
//! only works in thinking mode."; Flash 0..=24576; Flash-Lite 0 or
//! 512..=24576; -1 dynamic) and refuse `thinkingLevel` ("Thinking level is
//! not supported for this model."); Gemini 3 and later take the levels each
//! offers ("Thinking level MEDIUM is not supported for this model. Please
//! retry with other thinking level") and budgets for backwards
//! compatibility, not both at once. Thinking is drawn from the conversation
//! and the level or budget, counts against `maxOutputTokens` (at most half
//! of it), is reported as `thoughtsTokenCount` (in `totalTokenCount`, not in
//! `candidatesTokenCount`) and, with `includeThoughts`, shown as a leading
//! `{"text", "thought": true}` part. A 2.5 model left to decide thinks only
//! when asked to show its thoughts; Gemini 3 models always think (MINIMAL:
//! nothing).
//!
//! Gemini 3 models sign every answer (module `gemini::signatures`): the
//! function call part, or the last part of an answer without calls (in a
//! stream, a final chunk with an empty text part); 2.5 models sign their
//! first part when they thought. A Gemini 3 text model refuses a request
//! whose current turn (after the last user content that is not only
//! function responses) has a model step whose first `functionCall` part
//! lacks its `thoughtSignature`/`thought_signature`: 400 "Function call is
//! missing a thought_signature in functionCall parts. … function call
//! `default_api:NAME` , position N. …". 2.5 and the image models are
//! lenient.
//!
//! # Gemini media
//!
//! Image models (module `gemini::imaging`) add a PNG `inlineData` part to
//! their text (only the picture with `responseModalities: ["IMAGE"]`) of
//! the size `generationConfig.imageConfig` asks for, as Google's table gives
//! it: `aspectRatio` 1:1 1024×1024, 2:3 832×1248, 3:2 1248×832, 3:4
//! 864×1184, 4:3 1184×864, 4:5 896×1152, 5:4 1152×896, 9:16 768×1344, 16:9
//! 1344×768, 21:9 1536×672 (3.1 Flash and Flash-Lite Image also 1:4, 4:1,
//! 1:8, 8:1); `imageSize` `512` halves it, `2K` doubles, `4K` quadruples,
//! on the models that offer each (2.5 Flash Image none, 3 Pro Image 1K/2K/4K,
//! 3.1 Flash Image 512/1K/2K/4K, 3.1 Flash-Lite Image 1K). Without a ratio,
//! an edit keeps its input picture's shape (the nearest ratio), else 1:1.
//! Output tokens per picture as Google documents them (2.5 Flash Image
//! 1290; 3 Pro Image 1120, 4K 2000; 3.1 Flash Image 747/1120/1680/2520).
//! The picture is drawn from the conversation, input pictures included: the
//! same edit gives the same picture, another input another. A bad ratio or
//! size is Google's 400 in its `* field: reason` form, e.g. "*
//! GenerateContentRequest.generation_config.image_config.aspect_ratio:
//! aspect_ratio must be one of '1:1', …, or '21:9'."
//!
//! Speech models (module `gemini::speech`) require `responseModalities:
//! ["AUDIO"]` (else Google's 400 "The requested combination of response
//! modalities (TEXT) is not supported by the model. …") and answer the last
//! user text read aloud, 50 ms a character, as
//! `audio/L16;codec=pcm;rate=24000`, 32 tokens a second (`candidatesTokensDetails` AUDIO); a
//! stream sends it in 2 to 8 parts. `speechConfig.voiceConfig` names one of
//! Google's 30 prebuilt voices (any letter case), each with its own pitch;
//! `multiSpeakerVoiceConfig` takes exactly two speakers, and says each
//! `SPEAKER: text` line in that speaker's voice. An unknown voice, another
//! number of speakers, or both configs at once are 400s.
//!
//! The voice (module `audio`) spells each character in a chord of tones,
//! so the text can be read back from 16-bit PCM at any rate from 8 kHz.
//! Audio understanding (module `gemini::listening`): a text model whose
//! last user turn holds an audio part and asks for a "transcri…" (any case)
//! answers the transcript: the text, when the audio is the simulator's voice
//! (`audio/L16`/`audio/pcm` at their `rate=`, or 16-bit mono WAV), else
//! heard words (one per started 400 ms). Inline audio costs 32 prompt tokens
//! a second (WAV by its header, PCM by its rate, compressed formats taken
//! at 128 kbit/s).
//!
//! # Gemini Live
//!
//! Client messages are JSON in text or binary frames; server messages are
//! JSON in binary frames, as Google sends them. Each client message is
//! parsed like an HTTP body (module `live::proto`, built from the
//! `gemini::proto` parts: camelCase or snake_case at every depth) and must
//! set exactly one of `setup`, `clientContent`, `realtimeInput`,
//! `toolResponse`, `contextUpdate`. The first must be `setup` (with the
//! `models/NAME` of a Live model), answered `{"setupComplete": {}}`.
//!
//! Closes (reasons cut to 123 bytes on a character boundary):
//!
//! | close | when | reason |
//! | --- | --- | --- |
//! | 1007 | not JSON | `Invalid JSON payload received. {parser message}.` |
//! | 1007 | unknown field, wrong type | the first of Google's messages, e.g. `Invalid JSON payload received. Unknown name "foo" at 'setup': Cannot find field.` |
//! | 1007 | no field set; a message before `setup`; a second `setup`; no model; a `toolResponse` whose ids match no pending call | `Request contains an invalid argument.` |
//! | 1007 | two fields set | `Invalid JSON payload received. Oneof field 'message_type' is already set. Cannot set '…'` |
//! | 1007 | a role other than user/model; an empty turn | `Please use a valid role: user, model.`; `* …parts: contents.parts must not be empty.` |
//! | 1007 | `activityStart`/`activityEnd` with automatic activity detection | `Explicit activity control is not supported when automatic activity detection is enabled.` |
//! | 1008 | unknown model, or one without `bidiGenerateContent` | `models/X is not found for API version v1beta, or is not supported for bidiGenerateContent. Call ListModels…` |
//! | 1008 | a resumption handle this server never issued | `Requested entity was not found.` |
//! | 1009 | a message over 16 MiB | `Request payload size exceeds the limit: 16777216 bytes.` |
//! | 1011 | `go-away-ms` elapsed | `The operation was aborted.` |
//!
//! Refused sessions are upgraded, then closed at once: missing key 1008
//! (unregistered callers), `bad-` 1007 "API key not valid. Please pass a
//! valid API key.", `denied-` 1008 (method blocked), `limited-` and
//! `rate-limit` 1011 (quota exhausted); `status=N` closes with Google's
//! message for N and a code by its canonical status: INVALID_ARGUMENT 1007;
//! PERMISSION_DENIED, NOT_FOUND, UNAUTHENTICATED, FAILED_PRECONDITION 1008;
//! anything else 1011. A request that is not a WebSocket handshake, or has a
//! bad `x-mock-*` header, gets Google's HTTP 400 instead.
//!
//! Turns: `clientContent` appends its turns and, with `turnComplete`, asks
//! for a model turn; `realtimeInput.text` is a user turn answered at once;
//! speech is a user turn when it ends. With automatic activity detection
//! (the default) speech starts at the first audio chunk that is not all
//! zero samples and ends at the next all-zero chunk or `audioStreamEnd`;
//! with `realtimeInputConfig.automaticActivityDetection.disabled` it is the
//! audio between `activityStart` and `activityEnd`. Speech is heard as one
//! word per started 400 ms, drawn from the seed and the audio, and sent as
//! `inputTranscription` when the setup has `inputAudioTranscription`.
//!
//! A model turn answers the conversation by the rules below, cut into 3 to
//! 8 pieces: text parts with `responseModalities: ["TEXT"]`; with AUDIO
//! (the default) `inlineData` parts of `audio/pcm;rate=24000` speech (the
//! simulator's voice, 50 ms per character), each followed by its
//! `outputTranscription` when asked for. Then `{"serverContent":
//! {"generationComplete": true}}` and `{"serverContent": {"turnComplete":
//! true}, "usageMetadata": {...}}` with `promptTokenCount` (the whole
//! context: text by the token rule, 32 tokens per second of audio heard as
//! Google documents, 258 per video frame or image), `responseTokenCount`
//! (text tokens, or 32 per second of speech), `totalTokenCount`, and
//! `promptTokensDetails`/`responseTokensDetails` by modality. A call is one
//! `{"toolCall": {"functionCalls": [{"id": "function-call-…", "name",
//! "args"}]}}`; once every pending id has its `toolResponse`, the answer
//! opens with "NAME returned {response}.". A new user turn withdraws
//! pending calls with `toolCallCancellation`.
//!
//! Interruptions: `clientContent`, `realtimeInput.text`, and the start of
//! speech or `activityStart` (unless `activityHandling` is
//! `NO_INTERRUPTION`) arriving while a turn is still being delivered drop
//! its rest and send `{"serverContent": {"interrupted": true}}`, then
//! `{"serverContent": {"turnComplete": true}}`.
//!
//! Resumption: with `setup.sessionResumption`, every completed turn is
//! followed by `{"sessionResumptionUpdate": {"newHandle", "resumable":
//! true}}` (plus `lastConsumedClientMessageIndex` with `transparent`). A
//! setup whose `sessionResumption.handle` is any handle this server issued
//! (it keeps the newest 1024) continues that conversation.
//!
//! # OpenAI Realtime
//!
//! `GET /v1/realtime?model=NAME` serves the GA interface, or the beta one
//! with `OpenAI-Beta: realtime=v1` (or the `openai-beta.realtime-v1`
//! subprotocol), each with its own event names and shapes (GA
//! `response.output_text.delta`, `response.output_audio.delta`,
//! `response.output_audio_transcript.delta`, `conversation.item.added` and
//! `.done`; beta `response.text.delta`, `response.audio.delta`,
//! `response.audio_transcript.delta`, `conversation.item.created`). The key
//! rules, `status`/`rate-limit` faults, a missing model (400
//! `missing_required_parameter`), a model that is not a Realtime one (404
//! `model_not_found`) and a plain HTTP request are refused before the
//! upgrade with OpenAI's HTTP error. A browser key in the subprotocol list
//! is answered with the `realtime` subprotocol.
//!
//! The session starts with `session.created` (a `realtime.session`: GA
//! `type: realtime`, `output_modalities: ["audio"]`, voice marin,
//! `audio/pcm` at 24 kHz, server VAD; beta `modalities: ["text",
//! "audio"]`, voice alloy, `pcm16`). Client events are checked strictly
//! against the SDK's shapes (module `realtime::params`); a mistake is an
//! `error` event `{type: "error", event_id, error: {type:
//! "invalid_request_error", code, message, param, event_id}}` and the
//! socket stays open. Codes: `invalid_json`, `invalid_event` ("The 'type'
//! field is missing."), `invalid_value` (unknown event type, bad base64, a
//! content type its role may not hold, modality combinations),
//! `unknown_parameter`, `missing_required_parameter`,
//! `input_audio_buffer_commit_empty` (under 100 ms),
//! `conversation_already_has_active_response`,
//! `response_cancel_not_active`, `item_not_found`.
//!
//! Audio in: appended audio fills the buffer. With server VAD (the default
//! `turn_detection`) speech starts at the first chunk that is not digital
//! silence (`input_audio_buffer.speech_started`) and stops at the next
//! silent one (`speech_stopped`), which commits the buffer
//! (`input_audio_buffer.committed`, the user item and, with transcription
//! configured, `conversation.item.input_audio_transcription.completed`)
//! and, with `create_response`, answers it. Speech starting during a
//! response cancels it (`turn_detected`) unless `interrupt_response` is
//! false. Without VAD the client commits and asks for responses.
//!
//! Responses (`response.create`, with the session's or the response's
//! instructions, tools, tool choice, modalities, token limit, `input` and
//! `conversation: "none"`): `response.created`, `response.output_item.added`,
//! the item event, `response.content_part.added`, text deltas, or audio
//! deltas each followed by its transcript delta (the voice and timing of
//! Live, in the session's output format), the done events, and
//! `response.done` with `usage` (`total_tokens`, `input_tokens`,
//! `output_tokens`, `input_token_details`, `output_token_details`: text by
//! the token rule, user audio 10 tokens per second, the model's 20). A call
//! is a `function_call` item (`call_…` id) delivered with
//! `response.function_call_arguments.delta`/`.done`; after a
//! `function_call_output` the answer opens with "NAME returned OUTPUT.".
//! `response.cancel` ends the active response as `cancelled`
//! (`client_cancelled`). Messages over 16 MiB close the socket with 1009.
//!
//! # OpenAI Responses API
//!
//! `POST /v1/responses` (module `openai::responses`) takes every chat model
//! and answers a `response` object as the openai SDK's `Response` reads it:
//! `id` `resp_` + 48 hex digits, `status` `completed` (or `incomplete` with
//! `incomplete_details.reason: "max_output_tokens"` when the limit cut the
//! text), the request's settings echoed with OpenAI's defaults (`store`
//! true, `temperature`/`top_p` 1, `tool_choice` `auto`, `truncation`
//! `disabled`, `text.format` `text`, function tools `strict` unless told,
//! `reasoning.effort` `medium` for reasoning models), one output item — a
//! `message` (`msg_…`, one `output_text` part with empty `annotations` and
//! `logprobs`) or a `function_call` (`fc_…`, `call_id` `call_…`) — and
//! `usage` (`input_tokens` with `input_tokens_details.cached_tokens` and
//! `cache_write_tokens: 0`, `output_tokens` with `reasoning_tokens: 0`,
//! `total_tokens`). Input: a string or items — messages (`type` optional;
//! user, system and developer content a string or
//! `input_text`/`input_image`/`input_file` parts, assistant content a
//! string or `output_text`/`refusal` parts), `function_call`,
//! `function_call_output` and `reasoning` items (read, never produced).
//! Tools: `function`, and `web_search`, `web_search_2025_08_26`,
//! `web_search_preview(_2025_03_11)`, accepted and echoed but never
//! called. `truncation`, `service_tier` (`fast` answered as `priority`,
//! `auto` as `default`), `background` (answered at once, completed),
//! `top_logprobs`, `max_tool_calls`, `prompt_cache_key`,
//! `prompt_cache_retention`, `user`, `safety_identifier` and `metadata` are
//! echoed; `include`, `stream_options`, `prompt_cache_options` and
//! `moderation` are accepted (no logprobs or moderation are produced).
//! The SDK's other parameters (`prompt`, `context_management`,
//! `access_programs`, `background_options`, `image`) and item and tool
//! types are refused as unknown or unsupported.
//!
//! Streaming sends `response.created`, `response.in_progress`,
//! `response.output_item.added`, `response.content_part.added`, the
//! `response.output_text.delta`s (`item_id`, `output_index`,
//! `content_index`, `delta`, `logprobs`, and an `obfuscation` padding
//! unless `stream_options.include_obfuscation` is false),
//! `response.output_text.done`, `response.content_part.done` — or, for a
//! call, `response.function_call_arguments.delta`s and `.done` —
//! `response.output_item.done` and `response.completed` (or
//! `response.incomplete`) with the whole response; each with its `type`
//! and a rising `sequence_number`, and no `[DONE]`. Each delta is one
//! delivery chunk (the first also carries the opening events, the last the
//! closing ones), so latency and `disconnect-after` count deltas.
//!
//! State: with `store` true (the default) the response is kept (in memory,
//! the last 10,000) with its input items and conversation:
//! `previous_response_id` continues it (its input and output are read again
//! as input tokens; its instructions and tools are not carried over), `GET
//! /v1/responses/{id}` returns it, `DELETE` removes it (`{"id", "object":
//! "response.deleted", "deleted": true}`; conversations that continued it
//! keep working), and `GET /v1/responses/{id}/input_items` lists the
//! request's input items with ids (`limit` 1..=100, default 20; `order`
//! `asc` or `desc`, the default; `after` an item id) as `{"object":
//! "list", "data", "first_id", "last_id", "has_more"}`.
//!
//! | failure | status | error (`message`; `param`; `code`) |
//! | --- | --- | --- |
//! | unknown parameter, at any depth | 400 | `Unknown parameter: 'input[0].foo'.`; the path; `unknown_parameter` |
//! | missing, wrong type or value, out of range (e.g. `max_output_tokens` below 16, more than 128 tools) | 400 | the validator's messages, as for chat |
//! | `metadata` over 16 pairs / a key over 64 / a value over 512 characters | 400 | `Invalid 'metadata': too many properties. …`, `object_above_max_properties` / `Invalid 'metadata': string too long. …`, `Invalid 'metadata.KEY': string too long. …`, `string_above_max_length` |
//! | `temperature`/`top_p` other than 1 on a reasoning model | 400 | `Unsupported parameter: 'temperature' is not supported with this model.`; `temperature`; null |
//! | `reasoning` on a model without reasoning | 400 | `Unsupported parameter: 'reasoning.effort' is not supported with this model.`; `reasoning.effort`; `unsupported_parameter` |
//! | `previous_response_id` and `conversation` | 400 | `Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.`; null; `mutually_exclusive_parameters` |
//! | `json_object` without "json" in the input or instructions | 400 | `Response input messages must contain the word 'json' in some form to use 'text.format' of type 'json_object'.`; `input`; null |
//! | a `tool_choice` function not in `tools`; bad tool or schema names; bad image URLs | 400 | as chat completions |
//! | unknown or unstored (`store: false`) `previous_response_id` | 400 | `Previous response with id 'ID' not found.`; `previous_response_id`; `previous_response_not_found` |
//! | a `conversation` (the simulator keeps none) | 404 | `Conversation with id 'ID' not found.`; `conversation`; null |
//! | a `function_call_output` whose `call_id` matches no call of the conversation | 400 | `No tool call found for function call output with call_id ID.`; `input`; null |
//! | a function call of the conversation without its output | 400 | `No tool output found for function call ID.`; `input`; null |
//! | `GET`/`DELETE`/`input_items` of an unknown id | 404 | `Response with id 'ID' not found.`; null; null |
//! | a model that is not a chat model | 404 | `This is not a chat model and thus not supported in the v1/responses endpoint. …`; `model` |
//! | wrong method; unknown path below `/v1/responses/` | 405; 404 | `Invalid method for URL (…)`; `Invalid URL (…)` |
//!
//! # OpenAI images and audio
//!
//! Modules `openai::images` and `openai::audio`, as the openai SDK sends
//! and reads them; every answer is deterministic from the seed and the
//! request (input files included) and decodes.
//!
//! Images (`/v1/images/generations`, JSON; `/v1/images/edits`, a
//! `multipart/form-data` form): pictures of exactly the asked size (module
//! `picture`, drawn and encoded by the `image` crate), per model as OpenAI
//! documents it — dall-e-2 (256x256, 512x512, 1024x1024; `n` 1..10;
//! prompt ≤ 1,000), dall-e-3 (1024x1024, 1792x1024, 1024x1792; `n` 1;
//! `quality` standard/hd, `style`; prompt ≤ 4,000; a `revised_prompt`),
//! gpt-image-1, -1-mini, -1.5 (1024x1024, 1536x1024, 1024x1536, `auto`;
//! `n` 1..10; `quality` low/medium/high/auto; `output_format`
//! png/jpeg/webp, `output_compression`, `background`, `moderation`,
//! `stream` with 0..3 `partial_images`; prompt ≤ 32,000; always
//! `b64_json`, with `usage`: the prompt's text tokens plus 258 per input
//! picture, OpenAI's output tokens per picture). DALL·E answers a URL by
//! default (`response_format: "url"`): the picture is kept in memory (the
//! last 256, 64 MiB at most, one hour) and served at `GET
//! /blob/img-….png` on the host the request named. Without `model`, dall-e-2
//! (gpt-image-1 when a GPT Image parameter is used). Edits take `image`
//! (dall-e-2: one square PNG under 4 MB, transparent when there is no
//! mask) or up to 16 `image[]` (PNG, JPEG, WebP), and a `mask` (a PNG with
//! alpha of the first picture's size); files are read by their bytes. A
//! stream sends `event: image_generation.partial_image` (edits:
//! `image_edit.…`) events, then `….completed` with `usage`.
//!
//! Speech (`/v1/audio/speech`): the simulator's voice saying `input` (≤
//! 4,096 characters; 50 ms a character, divided by `speed`) at 24 kHz, in
//! `pcm` (`audio/pcm`), `wav` (`audio/wav`) or `flac` (`audio/flac`,
//! VERBATIM frames) — readable back — or as silence of the same length in
//! `mp3` (`audio/mpeg`, MPEG-2 Layer III), `aac` (`audio/aac`, ADTS) or
//! `opus` (`audio/opus`, Ogg), sent in chunks of about a second, paced like
//! a stream. Voices: alloy, ash, coral, echo, fable, onyx, nova, sage,
//! shimmer (tts-1, tts-1-hd), plus ballad, verse, marin, cedar and custom
//! `{"id"}` voices on gpt-4o-mini-tts, which alone takes `instructions` and
//! `stream_format: "sse"` (`speech.audio.delta` events, then
//! `speech.audio.done` with `usage`: text tokens in, 20 a second out).
//!
//! Transcription (`/v1/audio/transcriptions`, a form of at most 25 MiB):
//! the file is recognised by its bytes (flac, mp3/mpeg/mpga, mp4/m4a,
//! ogg/oga, wav, webm); the simulator's own voice (WAV or FLAC) is read
//! back to its text, other audio heard as one word per started 400 ms of
//! its length. whisper-1: `json`, `text`, `srt`, `verbose_json` (with
//! `segments`, and `words` by `timestamp_granularities[]`), `vtt`; usage in
//! seconds; `stream` ignored, as OpenAI documents. gpt-4o-transcribe and
//! gpt-4o-mini-transcribe: `json` or `text`, `include[]=logprobs`,
//! `stream` (`transcript.text.delta` a word at a time, then
//! `transcript.text.done`); usage in tokens (10 a second of audio).
//!
//! | failure | status | error (`message`; `param`; `code`) |
//! | --- | --- | --- |
//! | a GPT Image model given `response_format` (or `style`); a DALL·E model a GPT Image parameter | 400 | `Unknown parameter: 'response_format'.`; the parameter; `unknown_parameter` |
//! | a DALL·E size the model does not draw | 400 | `The size is not supported by this model.`; null; `invalid_size` |
//! | a GPT Image size, quality, format or voice outside the model's | 400 | `Invalid value: 'x'. Supported values are: …`; the parameter; `invalid_value` |
//! | an edit file that is not a picture | 400 | `Invalid image file or mode for image N, please check your image file.`; `image`; `invalid_image_file` |
//! | dall-e-2: not a PNG under 4 MB; not square; opaque without a mask | 400 | `Uploaded image must be a PNG and less than 4 MB.` / `Invalid input image - image must be square, got WxH.` / `Invalid input image - format must be in ['RGBA', 'LA', 'L'], got RGB.` |
//! | a mask of another size | 400 | `Invalid mask image - the mask must have the same dimensions as the image (WxH), got WxH.`; `mask` |
//! | `instructions` on tts-1/-hd; `stream_format: "sse"` on tts-1/-hd | 400 | `Unsupported parameter: 'instructions' is not supported with this model.` / `Unsupported value: 'stream_format' does not support 'sse' with this model.` |
//! | a transcription file that is not audio | 400 | `Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']`; null; null |
//! | a gpt-4o model asked for `srt`, `vtt` or `verbose_json` | 400 | `response_format 'srt' is not compatible with model 'gpt-4o-transcribe'. Use 'json' or 'text' instead.`; `response_format`; `unsupported_value` |
//! | a form endpoint sent JSON | 400 | `Unsupported content type: 'application/json'. This API method only accepts 'multipart/form-data' requests, …`; null; `unsupported_content_type` |
//! | a transcription form over 25 MiB | 413 | `Maximum content size limit (26214400) exceeded (26214401 bytes read)` |
//!
//! # Echo mode
//!
//! With [`MockConfig::live_echo`] (`airlock mock --live-echo`), for relay
//! benchmarks: every Gemini `realtimeInput` carrying only audio (`audio`
//! and/or audio `mediaChunks`) is answered at once, per chunk, with
//! `{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType":
//! "audio/pcm;rate=24000", "data": <the same base64>}}]}}}`, and every
//! OpenAI `input_audio_buffer.append` with one `response.output_audio.delta`
//! (beta `response.audio.delta`) carrying the same base64; nothing else is
//! sent for them. Such frames are checked by shape only; anything else
//! (setup, text, garbage) takes the normal, validated path.
//!
//! # Validation
//!
//! Gemini bodies are parsed like Google's proto3-JSON front end, by a walk
//! over a declarative description of the request messages
//! (modules `gemini::proto` and `gemini::validate`): camelCase and snake_case names
//! at every depth, unknown fields and wrong types reported as `Invalid JSON
//! payload received. Unknown name "foo" at 'generation_config': Cannot find
//! field.` / `Invalid value at '…' (TYPE_FLOAT), "x"`; then Google's checks
//! (`* GenerateContentRequest.contents: contents is not specified`, roles
//! other than user/model/function → "Please use a valid role: user,
//! model.", empty parts, invalid function names). OpenAI bodies are checked
//! strictly against a declarative description too (module `openai::params`):
//! "Unrecognized request argument supplied: foo", "Missing required
//! parameter: 'messages'.", `invalid_value`/`invalid_type` errors naming the
//! parameter path, ranges, and OpenAI's cross-parameter rules (among them
//! `metadata`'s limits: 16 pairs, keys of 64 and values of 512
//! characters); the Responses API reports unknown top-level parameters like nested ones
//! (`Unknown parameter: 'foo'.`, code `unknown_parameter`). Malformed JSON,
//! invalid UTF-8 and out-of-range numbers are 400s; nothing panics. Forms
//! (`multipart/form-data`, module `multipart`) are read into the same JSON
//! and checked by the same description: `n=2` is read as the integer the
//! description wants, `include[]` adds to an array.

mod audio;
mod body;
mod casing;
mod config;
mod delivery;
mod duplex;
mod embedding;
mod fault_rules;
mod gate;
mod gemini;
mod inspect;
mod keys;
mod live;
mod multipart;
mod openai;
mod overrides;
mod picture;
mod prng;
mod prompt_cache;
mod realtime;
mod reply;
mod routes;
mod server;
mod socket;
mod textgen;
mod tokens;
mod valuegen;

pub use config::{Fault, Latency, MockConfig};
pub use fault_rules::FaultRule;
pub use gate::Provider as Side;
pub use inspect::ReceivedRequest;
pub use server::{MockServer, RunningMock, spawn};
