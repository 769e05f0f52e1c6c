//! The shipped price table: public list prices, standard (paid, on-demand)
//! tier, in US dollars per million tokens unless an entry says otherwise.
//!
//! Checked on 2026-11-22 against stored copies of:
//! - Google's Gemini Developer API pricing page
//!   (<https://ai.google.dev/gemini-api/docs/pricing>), as transcribed on
//!   2026-10-07 (Gemini 2.5 Pro/Flash/Flash-Lite, 3.1 Pro Preview,
//!   3.5 Flash/Flash-Lite, Gemini Embedding 2, Imagen, image output);
//! - OpenAI's API pricing page (<https://platform.openai.com/docs/pricing>);
//! - LiteLLM's `model_prices_and_context_window.json` (BerriAI/litellm at
//!   commit 00035b69f416, a 2026 copy that already lists gpt-5.5 of
//!   2026-04-23): the cross-check for the chat, reasoning, image-token and
//!   Gemini rows, and the source of the rows the transcription above does not
//!   cover.
//!
//! Rows marked "not cross-checked", and the OpenAI embedding, DALL·E,
//! Whisper and tts-1 rows (list prices unchanged since their launch), come
//! from the provider's page alone.
//! Prices change: operators correct or add rows with configuration overrides,
//! which win over this table.
//!
//! Names are model families. A dated or preview snapshot without its own row
//! (`gpt-4o-2024-08-06`, `gemini-2.0-flash-001`) is priced by its longest
//! listed prefix, so a variant that costs differently from its family (a
//! `-mini`, `-pro`, `-tts`, `-transcribe`) needs a row of its own here.
//!
//! What the one-price-per-kind shape cannot express, approximated:
//! - realtime (Gemini Live, OpenAI Realtime) models are priced at their audio
//!   rates, text turns of such sessions included;
//! - audio *input* tokens of chat models (Gemini 2.5 Flash: $1.00 against
//!   $0.30 for text) are billed at the text rate;
//! - speech-to-text models that bill audio tokens are priced at their audio
//!   input rate, since their input is audio;
//! - `tts-1` and `tts-1-hd` bill per character: their `input_per_mtok` is
//!   dollars per million characters, so the caller counts input characters
//!   as input tokens;
//! - `per_image` is the price of one 1024×1024 standard-quality image;
//!   `gpt-image-1*` instead reports image tokens in its usage and is priced by
//!   them (its output rate is the image-output token rate);
//! - Gemini's image models report their images' tokens by modality
//!   (`candidatesTokensDetails`), which Google bills at an image output rate
//!   (`image_output_per_mtok`); their text output stays at the output rate;
//! - web search: Grounding with Google Search is $35 per 1,000 grounded
//!   prompts on Gemini 2.5 and 2.0 (`per_grounded_prompt`) and $14 per
//!   1,000 search queries on Gemini 3 (`per_web_search`), from Google's
//!   pricing page; its free allowances are not modelled (every grounded
//!   prompt or query is charged). OpenAI's web search is $10 per 1,000
//!   calls (`per_web_search`), and `web_search_preview` on non-reasoning
//!   models (GPT-4o, GPT-4.1) $25 per 1,000 (`per_web_search_preview`),
//!   from OpenAI's pricing page ("Built-in tools"); the fixed 8,000
//!   search-content tokens OpenAI bills per call of gpt-4o-mini and
//!   gpt-4.1-mini are not added. Image, speech and live models carry no
//!   search price.

use super::{LongContextPrice, ModelPrice};

/// Input, cached input (`None`: billed as input) and output, per 1M tokens.
const fn tokens(input: f64, cached: Option<f64>, output: f64) -> ModelPrice {
    ModelPrice {
        input_per_mtok: input,
        output_per_mtok: output,
        cached_input_per_mtok: cached,
        per_image: None,
        image_output_per_mtok: None,
        per_audio_second: None,
        long_context: None,
        per_grounded_prompt: None,
        per_web_search: None,
        per_web_search_preview: None,
        batch_fraction: None,
    }
}

/// Priced only per generated image.
const fn image(per_image: f64) -> ModelPrice {
    tokens(0.0, None, 0.0).per_image(per_image)
}

impl ModelPrice {
    /// The rates that apply to every token of a request whose prompt is
    /// longer than `threshold_tokens`.
    const fn above(
        mut self,
        threshold_tokens: u64,
        input: f64,
        cached: Option<f64>,
        output: f64,
    ) -> Self {
        self.long_context = Some(LongContextPrice {
            threshold_tokens,
            input_per_mtok: input,
            output_per_mtok: output,
            cached_input_per_mtok: cached,
        });
        self
    }

    const fn per_image(mut self, dollars: f64) -> Self {
        self.per_image = Some(dollars);
        self
    }

    /// Generated images billed by their tokens, per million.
    const fn image_output(mut self, per_mtok: f64) -> Self {
        self.image_output_per_mtok = Some(per_mtok);
        self
    }

    const fn per_audio_second(mut self, dollars: f64) -> Self {
        self.per_audio_second = Some(dollars);
        self
    }

    /// Gemini 2.x: Grounding with Google Search, $35 per 1,000 grounded
    /// prompts.
    const fn grounded(mut self) -> Self {
        self.per_grounded_prompt = Some(0.035);
        self
    }

    /// Gemini 3: Grounding with Google Search, $14 per 1,000 queries.
    const fn searched_per_query(mut self) -> Self {
        self.per_web_search = Some(0.014);
        self
    }

    /// OpenAI's web search tool, $10 per 1,000 calls.
    const fn web_search(mut self) -> Self {
        self.per_web_search = Some(0.01);
        self
    }

    /// OpenAI's web search on a non-reasoning model: $10 per 1,000 calls,
    /// $25 per 1,000 with `web_search_preview`.
    const fn web_search_no_reasoning(mut self) -> Self {
        self.per_web_search = Some(0.01);
        self.per_web_search_preview = Some(0.025);
        self
    }
}

pub(super) const BUILTIN: &[(&str, ModelPrice)] = &[
    // ---- Google Gemini API -------------------------------------------------
    // 3.x Pro: the higher rates apply to prompts over 200k tokens.
    // LiteLLM marks gemini-3-pro-preview deprecated from 2026-03-09.
    (
        "gemini-3-pro-preview",
        tokens(2.00, Some(0.20), 12.00)
            .above(200_000, 4.00, Some(0.40), 18.00)
            .searched_per_query(),
    ),
    (
        "gemini-3.1-pro-preview",
        tokens(2.00, Some(0.20), 12.00)
            .above(200_000, 4.00, Some(0.40), 18.00)
            .searched_per_query(),
    ),
    (
        "gemini-3-flash-preview",
        tokens(0.50, Some(0.05), 3.00).searched_per_query(),
    ),
    (
        "gemini-3.5-flash",
        tokens(1.50, Some(0.15), 9.00).searched_per_query(),
    ),
    (
        "gemini-3.1-flash-lite",
        tokens(0.25, Some(0.025), 1.50).searched_per_query(),
    ),
    // Cached rate not in the sources: cached tokens bill as input.
    (
        "gemini-3.5-flash-lite",
        tokens(0.30, None, 2.50).searched_per_query(),
    ),
    (
        "gemini-2.5-pro",
        tokens(1.25, Some(0.125), 10.00)
            .above(200_000, 2.50, Some(0.25), 15.00)
            .grounded(),
    ),
    (
        "gemini-2.5-flash",
        tokens(0.30, Some(0.03), 2.50).grounded(),
    ),
    (
        "gemini-2.5-flash-lite",
        tokens(0.10, Some(0.01), 0.40).grounded(),
    ),
    // Text-to-speech: text in, audio tokens out. Not cross-checked (LiteLLM
    // lists the plain 2.5 Flash/Pro rates for these).
    ("gemini-2.5-flash-preview-tts", tokens(0.50, None, 10.00)),
    ("gemini-2.5-pro-preview-tts", tokens(1.00, None, 20.00)),
    // Live (realtime) models at their audio rates, since their sessions are
    // voice; text turns are billed lower. Not cross-checked.
    ("gemini-2.5-flash-native-audio", tokens(3.00, None, 12.00)),
    ("gemini-live-2.5-flash", tokens(3.00, None, 12.00)),
    ("gemini-2.0-flash-live", tokens(2.10, None, 8.50)),
    // No context caching on 2.0 Flash-Lite.
    (
        "gemini-2.0-flash",
        tokens(0.10, Some(0.025), 0.40).grounded(),
    ),
    (
        "gemini-2.0-flash-lite",
        tokens(0.075, None, 0.30).grounded(),
    ),
    // Image output by its tokens: $30/M for 2.5 Flash Image (a 1024×1024
    // image is 1290 tokens, $0.039); $120/M for 3 Pro Image (1120 tokens a
    // 1K or 2K image, $0.134); text in and out at the token rates.
    (
        "gemini-2.5-flash-image",
        tokens(0.30, Some(0.03), 2.50).image_output(30.00),
    ),
    (
        "gemini-3-pro-image",
        tokens(2.00, None, 12.00).image_output(120.00),
    ),
    ("imagen-4.0-fast-generate", image(0.02)),
    ("imagen-4.0-generate", image(0.04)),
    ("imagen-4.0-ultra-generate", image(0.06)),
    // $0.03 on the Gemini API page; LiteLLM has Vertex AI's $0.04.
    ("imagen-3.0-generate", image(0.03)),
    // Embeddings (input only). text-embedding-004 had no paid price on the
    // Gemini API (free of charge there); it is superseded by gemini-embedding-001.
    ("gemini-embedding-001", tokens(0.15, None, 0.0)),
    ("gemini-embedding-2", tokens(0.20, None, 0.0)),
    ("text-embedding-004", tokens(0.0, None, 0.0)),
    // ---- OpenAI ------------------------------------------------------------
    ("gpt-5", tokens(1.25, Some(0.125), 10.00).web_search()),
    ("gpt-5-mini", tokens(0.25, Some(0.025), 2.00).web_search()),
    ("gpt-5-nano", tokens(0.05, Some(0.005), 0.40).web_search()),
    ("gpt-5-pro", tokens(15.00, None, 120.00).web_search()),
    ("gpt-5.1", tokens(1.25, Some(0.125), 10.00).web_search()),
    ("gpt-5.1-codex-mini", tokens(0.25, Some(0.025), 2.00)),
    ("gpt-5.2", tokens(1.75, Some(0.175), 14.00).web_search()),
    ("gpt-5.2-pro", tokens(21.00, None, 168.00).web_search()),
    // 5.4 and 5.5: the higher rates apply to prompts over 272k tokens.
    (
        "gpt-5.4",
        tokens(2.50, Some(0.25), 15.00)
            .above(272_000, 5.00, Some(0.50), 22.50)
            .web_search(),
    ),
    ("gpt-5.4-mini", tokens(0.75, Some(0.075), 4.50).web_search()),
    ("gpt-5.4-nano", tokens(0.20, Some(0.02), 1.25).web_search()),
    (
        "gpt-5.4-pro",
        tokens(30.00, Some(3.00), 180.00)
            .above(272_000, 60.00, Some(6.00), 270.00)
            .web_search(),
    ),
    (
        "gpt-5.5",
        tokens(5.00, Some(0.50), 30.00)
            .above(272_000, 10.00, Some(1.00), 45.00)
            .web_search(),
    ),
    (
        "gpt-5.5-pro",
        tokens(30.00, Some(3.00), 180.00)
            .above(272_000, 60.00, Some(6.00), 270.00)
            .web_search(),
    ),
    (
        "gpt-4.1",
        tokens(2.00, Some(0.50), 8.00).web_search_no_reasoning(),
    ),
    (
        "gpt-4.1-mini",
        tokens(0.40, Some(0.10), 1.60).web_search_no_reasoning(),
    ),
    ("gpt-4.1-nano", tokens(0.10, Some(0.025), 0.40)),
    (
        "gpt-4o",
        tokens(2.50, Some(1.25), 10.00).web_search_no_reasoning(),
    ),
    // The first gpt-4o snapshot kept its launch price.
    (
        "gpt-4o-2024-05-13",
        tokens(5.00, None, 15.00).web_search_no_reasoning(),
    ),
    (
        "gpt-4o-mini",
        tokens(0.15, Some(0.075), 0.60).web_search_no_reasoning(),
    ),
    // Audio models: text in / audio tokens out for TTS, audio tokens in for
    // transcription. Not cross-checked (LiteLLM has lower audio-input rates).
    ("gpt-4o-mini-tts", tokens(0.60, None, 12.00)),
    ("gpt-4o-transcribe", tokens(6.00, None, 10.00)),
    ("gpt-4o-mini-transcribe", tokens(3.00, None, 5.00)),
    // Realtime models at their audio rates (voice sessions); text turns are
    // billed lower. gpt-4o-realtime-preview: the 2024-12-17 snapshot's rates.
    ("gpt-realtime", tokens(32.00, Some(0.40), 64.00)),
    ("gpt-realtime-mini", tokens(10.00, Some(0.30), 20.00)),
    ("gpt-4o-realtime-preview", tokens(40.00, Some(2.50), 80.00)),
    (
        "gpt-4o-mini-realtime-preview",
        tokens(10.00, Some(0.30), 20.00),
    ),
    ("o1", tokens(15.00, Some(7.50), 60.00)),
    // Retired, and gone from LiteLLM's table; without this row it would be
    // priced as o1.
    ("o1-mini", tokens(1.10, Some(0.55), 4.40)),
    ("o1-pro", tokens(150.00, None, 600.00)),
    ("o3", tokens(2.00, Some(0.50), 8.00).web_search()),
    ("o3-mini", tokens(1.10, Some(0.55), 4.40)),
    ("o3-pro", tokens(20.00, None, 80.00).web_search()),
    (
        "o3-deep-research",
        tokens(10.00, Some(2.50), 40.00).web_search(),
    ),
    ("o4-mini", tokens(1.10, Some(0.275), 4.40).web_search()),
    (
        "o4-mini-deep-research",
        tokens(2.00, Some(0.50), 8.00).web_search(),
    ),
    ("text-embedding-3-small", tokens(0.02, None, 0.0)),
    ("text-embedding-3-large", tokens(0.13, None, 0.0)),
    ("text-embedding-ada-002", tokens(0.10, None, 0.0)),
    // Images: DALL·E per 1024×1024 standard image ($0.08 HD); gpt-image-1 by
    // tokens (text input, cached input, image output).
    ("dall-e-3", image(0.04)),
    ("dall-e-2", image(0.02)),
    ("gpt-image-1", tokens(5.00, Some(1.25), 40.00)),
    ("gpt-image-1-mini", tokens(2.00, Some(0.20), 8.00)),
    // Audio: whisper-1 is $0.006 a minute; TTS is per million characters.
    ("whisper-1", tokens(0.0, None, 0.0).per_audio_second(0.0001)),
    ("tts-1", tokens(15.00, None, 0.0)),
    ("tts-1-hd", tokens(30.00, None, 0.0)),
];
