//! What a request cost: a price per model, and the arithmetic.
//!
//! Airlock records spend per key, project, model and day and enforces budgets
//! with it, so every routed model needs a price. [`PriceTable::builtin`] ships
//! the providers' public list prices (see `builtin.rs` for the sources and the
//! date they were checked); configuration overrides and additions win over
//! them ([`PriceTable::with_overrides`]), after the config loader has checked
//! each with [`ModelPrice::validate`].
//!
//! A model name is looked up exactly first (a leading `models/`, as Gemini
//! writes names, is ignored), then by its longest listed prefix that ends
//! where the name has a `-` or `@`: `gpt-4o-2024-08-06` is priced as `gpt-4o`
//! and `gemini-2.5-flash-preview-09-2025` as `gemini-2.5-flash`, while `gpt-4`
//! would never price `gpt-4o`. A name with no such entry has no price: the
//! cost is `None`, never a guess.
//!
//! The cost of one request is
//!
//! ```text
//! ((input − cached) × input price + cached × cached price
//!   + (output − image) × output price + image × image output price) / 1e6
//! + images × per-image price + audio seconds × per-second price
//! + grounded prompts × per-grounded-prompt price
//! + web searches × per-search price
//! + preview web searches × per-preview-search price (else per-search)
//! ```
//!
//! where `cached` is the prompt tokens read from the provider's prompt cache
//! and `image` the output tokens of generated images (billed at the output
//! price when the model has no image output price), and where a model with a
//! long-context tier bills every text token at the tier's rates once the
//! prompt (`input_tokens`, cached tokens included) is longer than the tier's
//! threshold.
//!
//! Searching the web is priced as the providers price it, from what the
//! answer reports ([`crate::usage`]): Gemini 2.x bills Grounding with Google
//! Search per grounded prompt (a request whose answer ran at least one
//! search), Gemini 3 per search query it ran (`webSearchQueries`), OpenAI
//! per `web_search_call`, at a higher rate for `web_search_preview` on
//! non-reasoning models. The providers' free allowances (Gemini: 1,500
//! grounded prompts a day for 2.x, 5,000 a month for Gemini 3) are counted
//! per project over a day or a month, which one request cannot know: every
//! grounded prompt and every search is charged.
//!
//! Nothing here panics: odd usage (more cached than
//! input tokens, negative or NaN audio seconds) is clamped, and a price that
//! would make the cost infinite or NaN yields `None`.

mod builtin;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Prices in US dollars per million tokens (and per unit for media).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    /// Cached (prompt-cache hit) input tokens; `None` bills them as input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_per_mtok: Option<f64>,
    /// Image generation, per output image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_image: Option<f64>,
    /// Generated images billed by their tokens (Gemini's image models), per
    /// million image output tokens; `None` bills them as output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_output_per_mtok: Option<f64>,
    /// Audio billed by time (Whisper), per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_audio_second: Option<f64>,
    /// Higher rates for long prompts (Gemini 2.5 Pro above 200k tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_context: Option<LongContextPrice>,
    /// Grounding with Google Search billed per grounded prompt (Gemini 2.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_grounded_prompt: Option<f64>,
    /// Each web search run: a Gemini 3 search query, an OpenAI
    /// `web_search_call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_web_search: Option<f64>,
    /// An OpenAI `web_search_call` of the `web_search_preview` tool; `None`
    /// bills it at `per_web_search`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_web_search_preview: Option<f64>,
    /// The share of the standard price a Batch API request pays; `None`
    /// is [`BATCH_FRACTION`], both providers' batch discount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_fraction: Option<f64>,
}

/// What a batch request pays of the standard price when its model's entry
/// does not say: half, as OpenAI's Batch API and Gemini's Batch Mode both
/// price every model they batch.
pub const BATCH_FRACTION: f64 = 0.5;

/// The rates for every token of a request whose prompt is longer than
/// `threshold_tokens`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LongContextPrice {
    pub threshold_tokens: u64,
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    /// `None` bills cached tokens at this tier's input rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_per_mtok: Option<f64>,
}

/// What one request used, in the units the prices are given in.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UsageForCost {
    /// Prompt tokens, cached ones included (as both providers report them).
    pub input_tokens: u64,
    /// Generated tokens, thinking and image tokens included.
    pub output_tokens: u64,
    /// The part of `input_tokens` read from the provider's prompt cache.
    pub cached_input_tokens: u64,
    /// The part of `output_tokens` that are generated images, as the
    /// provider reports them (Gemini's `candidatesTokensDetails`).
    pub output_image_tokens: u64,
    /// Images generated, for models priced per image; the image tokens a
    /// provider may also report are then left out of `output_tokens`.
    pub images: u64,
    /// Seconds of audio, for models priced by time.
    pub audio_seconds: f64,
    /// Web searches the answer ran.
    pub searches: Searches,
}

/// The web searches of one request, as its answer reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Searches {
    /// Requests grounded with Google Search (0 or 1 for one request).
    pub grounded_prompts: u64,
    /// Web searches run (Gemini's queries, OpenAI's `web_search` calls).
    pub web_searches: u64,
    /// OpenAI calls of the `web_search_preview` tool.
    pub preview_web_searches: u64,
}

/// A price that cannot be used: negative, NaN or infinite.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "price of model `{model}`: `{field}` must be a finite number of dollars, 0 or more (got {value})"
)]
pub struct InvalidPrice {
    pub model: String,
    /// The field as configuration spells it (`long_context.input_per_mtok`).
    pub field: &'static str,
    pub value: f64,
}

impl ModelPrice {
    /// Checks every price of the entry for `model` (the name only goes into
    /// the error).
    pub fn validate(&self, model: &str) -> Result<(), InvalidPrice> {
        let long = self.long_context.as_ref();
        let fields = [
            ("input_per_mtok", Some(self.input_per_mtok)),
            ("output_per_mtok", Some(self.output_per_mtok)),
            ("cached_input_per_mtok", self.cached_input_per_mtok),
            ("per_image", self.per_image),
            ("image_output_per_mtok", self.image_output_per_mtok),
            ("per_audio_second", self.per_audio_second),
            ("per_grounded_prompt", self.per_grounded_prompt),
            ("per_web_search", self.per_web_search),
            ("per_web_search_preview", self.per_web_search_preview),
            ("batch_fraction", self.batch_fraction),
            (
                "long_context.input_per_mtok",
                long.map(|l| l.input_per_mtok),
            ),
            (
                "long_context.output_per_mtok",
                long.map(|l| l.output_per_mtok),
            ),
            (
                "long_context.cached_input_per_mtok",
                long.and_then(|l| l.cached_input_per_mtok),
            ),
        ];
        let invalid = fields.into_iter().find_map(|(field, value)| {
            value
                .filter(|v| !(v.is_finite() && *v >= 0.0))
                .map(|value| (field, value))
        });
        match invalid {
            None => Ok(()),
            Some((field, value)) => Err(InvalidPrice {
                model: model.to_owned(),
                field,
                value,
            }),
        }
    }

    fn cost(&self, usage: &UsageForCost) -> f64 {
        let tier = self
            .long_context
            .as_ref()
            .filter(|tier| usage.input_tokens > tier.threshold_tokens);
        let (input, cached, output) = match tier {
            Some(tier) => (
                tier.input_per_mtok,
                tier.cached_input_per_mtok.unwrap_or(tier.input_per_mtok),
                tier.output_per_mtok,
            ),
            None => (
                self.input_per_mtok,
                self.cached_input_per_mtok.unwrap_or(self.input_per_mtok),
                self.output_per_mtok,
            ),
        };
        let cached_tokens = usage.cached_input_tokens.min(usage.input_tokens);
        let fresh_tokens = usage.input_tokens - cached_tokens;
        let image_tokens = usage.output_image_tokens.min(usage.output_tokens);
        let text_tokens = usage.output_tokens - image_tokens;
        let image_output = self.image_output_per_mtok.unwrap_or(output);
        let tokens = (fresh_tokens as f64 * input
            + cached_tokens as f64 * cached
            + text_tokens as f64 * output
            + image_tokens as f64 * image_output)
            / 1e6;
        let images = self.per_image.map_or(0.0, |p| usage.images as f64 * p);
        // `max` also turns NaN into 0.
        let seconds = usage.audio_seconds.max(0.0);
        let audio = self.per_audio_second.map_or(0.0, |p| seconds * p);
        tokens + images + audio + self.search_cost(usage)
    }

    /// What grounding and web searches cost.
    fn search_cost(&self, usage: &UsageForCost) -> f64 {
        let searches = &usage.searches;
        let grounded = self
            .per_grounded_prompt
            .map_or(0.0, |p| searches.grounded_prompts as f64 * p);
        let per_search = self.per_web_search.unwrap_or(0.0);
        let per_preview = self.per_web_search_preview.unwrap_or(per_search);
        grounded
            + searches.web_searches as f64 * per_search
            + searches.preview_web_searches as f64 * per_preview
    }
}

/// Prices by model name.
#[derive(Debug, Clone)]
pub struct PriceTable {
    prices: BTreeMap<String, ModelPrice>,
}

impl PriceTable {
    /// The shipped list prices.
    pub fn builtin() -> Self {
        let prices = builtin::BUILTIN
            .iter()
            .map(|(model, price)| ((*model).to_owned(), price.clone()))
            .collect();
        Self { prices }
    }

    /// Adds or replaces entries: configured prices win over shipped ones.
    /// A `models/` prefix on a name is dropped, as in lookups.
    pub fn with_overrides(
        mut self,
        overrides: impl IntoIterator<Item = (String, ModelPrice)>,
    ) -> Self {
        for (model, price) in overrides {
            let model = match model.strip_prefix(MODELS_PREFIX) {
                Some(bare) => bare.to_owned(),
                None => model,
            };
            self.prices.insert(model, price);
        }
        self
    }

    /// The entry for `model`: its own, else the longest listed prefix ending
    /// at a `-` or `@` of the name; `None` for an unknown model.
    pub fn price(&self, model: &str) -> Option<&ModelPrice> {
        let model = model.strip_prefix(MODELS_PREFIX).unwrap_or(model);
        if let Some(price) = self.prices.get(model) {
            return Some(price);
        }
        model
            .char_indices()
            .rev()
            .filter(|(_, c)| matches!(c, '-' | '@'))
            .find_map(|(end, _)| self.prices.get(&model[..end]))
    }

    /// What `usage` of `model` cost in US dollars; `None` when the model has
    /// no price (or an unvalidated price makes the sum NaN or infinite).
    pub fn cost_usd(&self, model: &str, usage: &UsageForCost) -> Option<f64> {
        let cost = self.price(model)?.cost(usage);
        cost.is_finite().then_some(cost)
    }

    /// What `usage` of `model` cost as a Batch API request: the standard
    /// cost times the entry's batch fraction ([`BATCH_FRACTION`] unless it
    /// says); `None` when the model has no price.
    pub fn batch_cost_usd(&self, model: &str, usage: &UsageForCost) -> Option<f64> {
        let price = self.price(model)?;
        let cost = price.cost(usage) * price.batch_fraction.unwrap_or(BATCH_FRACTION);
        cost.is_finite().then_some(cost)
    }

    /// Every entry, by name.
    pub fn models(&self) -> impl Iterator<Item = (&str, &ModelPrice)> {
        self.prices
            .iter()
            .map(|(model, price)| (model.as_str(), price))
    }
}

const MODELS_PREFIX: &str = "models/";

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_cost(table: &PriceTable, model: &str, usage: UsageForCost, expected: f64) {
        let cost = table
            .cost_usd(model, &usage)
            .unwrap_or_else(|| panic!("{model} has no price"));
        assert!(
            (cost - expected).abs() <= 1e-12 * expected.abs().max(1.0),
            "{model}: cost {cost}, expected {expected}"
        );
    }

    fn tokens(input: u64, cached: u64, output: u64) -> UsageForCost {
        UsageForCost {
            input_tokens: input,
            cached_input_tokens: cached,
            output_tokens: output,
            ..UsageForCost::default()
        }
    }

    fn flat(input: f64, output: f64) -> ModelPrice {
        ModelPrice {
            input_per_mtok: input,
            output_per_mtok: output,
            cached_input_per_mtok: None,
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

    #[test]
    fn builtin_entries_are_unique_and_valid() {
        let table = PriceTable::builtin();
        assert_eq!(
            table.models().count(),
            builtin::BUILTIN.len(),
            "a model is listed twice"
        );
        for (model, price) in table.models() {
            assert_eq!(price.validate(model), Ok(()));
            assert!(!model.starts_with(MODELS_PREFIX), "{model}");
        }
        for model in [
            "gemini-3-pro-preview",
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            "gemini-2.5-flash-lite",
            "gemini-2.0-flash",
            "gemini-2.0-flash-lite",
            "gemini-embedding-001",
            "text-embedding-004",
            "gemini-2.5-flash-image",
            "imagen-4.0-generate-001",
            "gemini-2.5-flash-preview-tts",
            "gpt-5",
            "gpt-5-mini",
            "gpt-5-nano",
            "gpt-4.1",
            "gpt-4.1-mini",
            "gpt-4.1-nano",
            "gpt-4o",
            "gpt-4o-mini",
            "o3",
            "o4-mini",
            "o1",
            "text-embedding-3-small",
            "text-embedding-3-large",
            "text-embedding-ada-002",
            "dall-e-3",
            "gpt-image-1",
            "whisper-1",
            "tts-1",
        ] {
            assert!(table.price(model).is_some(), "{model} has no price");
        }
    }

    #[test]
    fn costs_tokens_with_cached_input() {
        let table = PriceTable::builtin();
        // 800 fresh × $2.50 + 200 cached × $1.25 + 500 out × $10, per 1M.
        assert_cost(&table, "gpt-4o", tokens(1_000, 200, 500), 0.007_25);
        // 10k × $0.30 + 1k × $2.50, per 1M.
        assert_cost(&table, "gemini-2.5-flash", tokens(10_000, 0, 1_000), 0.0055);
        // 1M in × $1.25 (none cached) + 0.5M out × $10.
        assert_cost(&table, "gpt-5", tokens(1_000_000, 0, 500_000), 6.25);
        // gpt-5-nano: 0.9M × $0.05 + 0.1M × $0.005 + 0.2M × $0.40.
        assert_cost(
            &table,
            "gpt-5-nano",
            tokens(1_000_000, 100_000, 200_000),
            0.045 + 0.000_5 + 0.08,
        );
        assert_cost(
            &table,
            "text-embedding-3-small",
            tokens(1_000_000, 0, 0),
            0.02,
        );
    }

    #[test]
    fn cached_price_defaults_to_input_price() {
        let table = PriceTable::builtin();
        // gpt-5-pro has no cached rate: all 1k input tokens at $15.
        assert_cost(&table, "gpt-5-pro", tokens(1_000, 400, 0), 0.015);
    }

    #[test]
    fn more_cached_than_input_tokens_is_clamped() {
        let table = PriceTable::builtin();
        // Only the 1k prompt tokens are billed, all at the cached $1.25.
        assert_cost(&table, "gpt-4o", tokens(1_000, 5_000, 0), 0.001_25);
    }

    #[test]
    fn batch_requests_pay_half_unless_the_entry_sets_its_own_fraction() {
        let usage = UsageForCost {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            ..UsageForCost::default()
        };
        let mut table = PriceTable::builtin().with_overrides([
            ("standard-model".to_string(), flat(2.0, 8.0)),
            (
                "undiscounted-model".to_string(),
                ModelPrice {
                    batch_fraction: Some(1.0),
                    ..flat(2.0, 8.0)
                },
            ),
        ]);
        assert_eq!(table.cost_usd("standard-model", &usage), Some(10.0));
        assert_eq!(table.batch_cost_usd("standard-model", &usage), Some(5.0));
        assert_eq!(
            table.batch_cost_usd("undiscounted-model", &usage),
            Some(10.0)
        );
        assert_eq!(table.batch_cost_usd("unknown-model", &usage), None);
        table = table.with_overrides([(
            "negative-batch".to_string(),
            ModelPrice {
                batch_fraction: Some(-0.5),
                ..flat(1.0, 1.0)
            },
        )]);
        let invalid = table
            .price("negative-batch")
            .unwrap()
            .validate("negative-batch");
        assert_eq!(invalid.unwrap_err().field, "batch_fraction");
    }

    #[test]
    fn costs_images_and_audio() {
        let table = PriceTable::builtin();
        let images = |n| UsageForCost {
            images: n,
            ..UsageForCost::default()
        };
        assert_cost(&table, "dall-e-3", images(2), 0.08);
        assert_cost(&table, "imagen-4.0-generate-001", images(3), 0.12);
        // Gemini's image models bill generated images by their tokens:
        // 1,000 in × $0.30, 10 text out × $2.50 and one 1024² image (1,290
        // tokens) × $30, per 1M: Google's "$0.039 per image".
        let flash_image = UsageForCost {
            input_tokens: 1_000,
            output_tokens: 1_300,
            output_image_tokens: 1_290,
            ..UsageForCost::default()
        };
        assert_cost(
            &table,
            "gemini-2.5-flash-image",
            flash_image,
            0.000_3 + 0.000_025 + 0.038_7,
        );
        // $120 per 1M image tokens for 3 Pro Image: 1,120 tokens, $0.1344.
        let pro_image = UsageForCost {
            output_tokens: 1_120,
            output_image_tokens: 1_120,
            ..UsageForCost::default()
        };
        assert_cost(&table, "gemini-3-pro-image-preview", pro_image, 0.134_4);
        // Without an image rate, image tokens are output tokens; more image
        // than output tokens is clamped.
        let odd = UsageForCost {
            output_tokens: 1_000,
            output_image_tokens: 5_000,
            ..UsageForCost::default()
        };
        assert_cost(&table, "gpt-4o", odd, 0.01);

        // $0.006 a minute.
        let audio = |seconds| UsageForCost {
            audio_seconds: seconds,
            ..UsageForCost::default()
        };
        assert_cost(&table, "whisper-1", audio(60.0), 0.006);
        assert_cost(&table, "whisper-1", audio(90.5), 0.009_05);
        assert_cost(&table, "whisper-1", audio(-3.0), 0.0);
        assert_cost(&table, "whisper-1", audio(f64::NAN), 0.0);
        // Media a model is not priced for costs nothing extra.
        assert_cost(&table, "gpt-4o", images(5), 0.0);
    }

    #[test]
    fn long_prompts_use_the_long_context_tier() {
        let table = PriceTable::builtin();
        // Exactly at the threshold: base rates ($1.25 in, $10 out).
        assert_cost(&table, "gemini-2.5-pro", tokens(200_000, 0, 1_000), 0.26);
        // Over it, every token at the tier's rates: 200k fresh × $2.50 +
        // 100k cached × $0.25 + 10k out × $15.
        assert_cost(
            &table,
            "gemini-2.5-pro",
            tokens(300_000, 100_000, 10_000),
            0.675,
        );
        // OpenAI's 272k threshold.
        assert_cost(&table, "gpt-5.4", tokens(272_000, 0, 0), 0.68);
        assert_cost(&table, "gpt-5.4", tokens(272_001, 0, 0), 1.360_005);
    }

    #[test]
    fn long_context_cached_defaults_to_the_tier_input_price() {
        let mut price = flat(1.0, 2.0);
        price.cached_input_per_mtok = Some(0.1);
        price.long_context = Some(LongContextPrice {
            threshold_tokens: 10,
            input_per_mtok: 3.0,
            output_per_mtok: 4.0,
            cached_input_per_mtok: None,
        });
        let table = PriceTable::builtin().with_overrides([("tiered".to_owned(), price)]);
        // 20 in (5 cached) × $3 + 1M out × $4.
        assert_cost(&table, "tiered", tokens(20, 5, 1_000_000), 4.000_06);
        // Under the threshold the base cached rate applies: 5 × $1 + 5 × $0.10.
        assert_cost(&table, "tiered", tokens(10, 5, 0), 0.000_005_5);
    }

    #[test]
    fn dated_snapshots_use_the_longest_listed_prefix() {
        let table = PriceTable::builtin();
        let price = |model| table.price(model).cloned();
        assert_eq!(price("gpt-4o-2024-08-06"), price("gpt-4o"));
        assert_eq!(price("gpt-4o-mini-2024-07-18"), price("gpt-4o-mini"));
        assert_ne!(price("gpt-4o-mini"), price("gpt-4o"));
        assert_eq!(price("gpt-4.1-nano-2025-04-14"), price("gpt-4.1-nano"));
        assert_eq!(price("o3-mini-2025-01-31"), price("o3-mini"));
        assert_eq!(price("gemini-2.0-flash-001"), price("gemini-2.0-flash"));
        assert_eq!(
            price("gemini-2.5-flash-lite-preview-09-2025"),
            price("gemini-2.5-flash-lite")
        );
        assert_eq!(
            price("models/gemini-2.5-flash-preview-05-20"),
            price("gemini-2.5-flash")
        );
        assert_eq!(price("models/gemini-2.5-pro"), price("gemini-2.5-pro"));
        assert_eq!(
            price("imagen-4.0-generate-001"),
            price("imagen-4.0-generate")
        );
        assert_eq!(
            price("gemini-embedding-2-preview"),
            price("gemini-embedding-2")
        );
        // A snapshot with its own row keeps it.
        assert_eq!(
            price("gpt-4o-2024-05-13").map(|p| p.input_per_mtok),
            Some(5.0)
        );
        // Only whole name parts match: not `gpt-5` for `gpt-5.3`, nor
        // anything for a longer word.
        assert_eq!(price("gpt-5.3"), None);
        assert_eq!(price("gpt-4omni"), None);
        assert_eq!(price("o3x"), None);
    }

    #[test]
    fn unknown_models_have_no_price() {
        let table = PriceTable::builtin();
        for model in ["claude-sonnet-4", "", "-", "models/", "my-gpt-4o"] {
            assert_eq!(table.price(model), None, "{model:?}");
            assert_eq!(table.cost_usd(model, &tokens(10, 0, 10)), None);
        }
    }

    #[test]
    fn overrides_win_and_add_models() {
        let table = PriceTable::builtin().with_overrides([
            ("gpt-4o".to_owned(), flat(1.0, 2.0)),
            ("models/my-tuned-model".to_owned(), flat(3.0, 4.0)),
        ]);
        assert_eq!(table.price("gpt-4o"), Some(&flat(1.0, 2.0)));
        // Snapshots priced through the overridden family follow it.
        assert_cost(&table, "gpt-4o-2024-11-20", tokens(1_000_000, 0, 0), 1.0);
        // Other entries are untouched.
        assert_eq!(
            table.price("gpt-4o-mini"),
            PriceTable::builtin().price("gpt-4o-mini")
        );
        assert_eq!(table.price("my-tuned-model"), Some(&flat(3.0, 4.0)));
        assert_eq!(table.price("models/my-tuned-model"), Some(&flat(3.0, 4.0)));
        assert!(table.models().any(|(model, _)| model == "my-tuned-model"));
        assert_eq!(
            table.models().count(),
            PriceTable::builtin().models().count() + 1
        );
    }

    #[test]
    fn models_are_listed_by_name() {
        let table = PriceTable::builtin();
        let names: Vec<&str> = table.models().map(|(model, _)| model).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }

    #[test]
    fn validation_names_the_model_and_field() {
        let mut price = flat(1.0, 2.0);
        assert_eq!(price.validate("ok"), Ok(()));
        price.output_per_mtok = 0.0;
        assert_eq!(price.validate("free"), Ok(()));

        price.input_per_mtok = -1.0;
        let err = price.validate("my-model").unwrap_err();
        assert_eq!(err.model, "my-model");
        assert_eq!(err.field, "input_per_mtok");
        let message = err.to_string();
        assert!(message.contains("my-model"), "{message}");
        assert!(message.contains("input_per_mtok"), "{message}");

        let mut price = flat(1.0, 2.0);
        price.cached_input_per_mtok = Some(f64::NAN);
        assert_eq!(
            price.validate("m").unwrap_err().field,
            "cached_input_per_mtok"
        );

        let mut price = flat(1.0, 2.0);
        price.per_image = Some(f64::INFINITY);
        assert_eq!(price.validate("m").unwrap_err().field, "per_image");

        let mut price = flat(1.0, 2.0);
        price.image_output_per_mtok = Some(-1.0);
        assert_eq!(
            price.validate("m").unwrap_err().field,
            "image_output_per_mtok"
        );

        let mut price = flat(1.0, 2.0);
        price.per_audio_second = Some(-0.1);
        assert_eq!(price.validate("m").unwrap_err().field, "per_audio_second");

        let mut price = flat(1.0, 2.0);
        price.long_context = Some(LongContextPrice {
            threshold_tokens: 1,
            input_per_mtok: 1.0,
            output_per_mtok: f64::NAN,
            cached_input_per_mtok: None,
        });
        assert_eq!(
            price.validate("m").unwrap_err().field,
            "long_context.output_per_mtok"
        );
    }

    #[test]
    fn unvalidated_bad_prices_never_panic() {
        let mut nan = flat(f64::NAN, 1.0);
        nan.per_image = Some(f64::INFINITY);
        let table = PriceTable::builtin().with_overrides([
            ("nan".to_owned(), nan),
            ("negative".to_owned(), flat(-1.0, -1.0)),
        ]);
        assert_eq!(table.cost_usd("nan", &tokens(1, 0, 1)), None);
        // Negative prices were the config loader's to reject; the arithmetic
        // still returns a number.
        assert_eq!(
            table.cost_usd("negative", &tokens(1_000_000, 0, 0)),
            Some(-1.0)
        );
        let huge = UsageForCost {
            input_tokens: u64::MAX,
            output_tokens: u64::MAX,
            cached_input_tokens: u64::MAX,
            output_image_tokens: u64::MAX,
            images: u64::MAX,
            audio_seconds: f64::MAX,
            searches: Searches {
                grounded_prompts: u64::MAX,
                web_searches: u64::MAX,
                preview_web_searches: u64::MAX,
            },
        };
        let builtin = PriceTable::builtin();
        for (model, _) in builtin.models() {
            let cost = builtin.cost_usd(model, &huge);
            assert!(cost.is_none_or(|c| c >= 0.0), "{model}: {cost:?}");
        }
    }

    #[test]
    fn searches_are_priced_as_each_provider_prices_them() {
        let table = PriceTable::builtin();
        let searched = |grounded, searches, preview| UsageForCost {
            searches: Searches {
                grounded_prompts: grounded,
                web_searches: searches,
                preview_web_searches: preview,
            },
            ..tokens(10_000, 0, 1_000)
        };
        // Gemini 2.5 Flash: one grounded prompt ($35 / 1,000), whatever
        // the number of queries; the queries are free.
        assert_cost(
            &table,
            "gemini-2.5-flash",
            searched(1, 3, 0),
            0.0055 + 0.035,
        );
        assert_cost(
            &table,
            "gemini-2.0-flash",
            searched(1, 1, 0),
            0.0014 + 0.035,
        );
        // Gemini 3: each query ($14 / 1,000); a grounded prompt is free.
        // 10k × $0.50 + 1k × $3, per 1M.
        assert_cost(
            &table,
            "gemini-3-flash-preview",
            searched(1, 3, 0),
            0.008 + 3.0 * 0.014,
        );
        // OpenAI: $10 / 1,000 web_search calls; web_search_preview is $25 /
        // 1,000 on non-reasoning models, $10 on reasoning ones.
        assert_cost(&table, "gpt-4o", searched(0, 2, 1), 0.035 + 0.02 + 0.025);
        assert_cost(&table, "o3", searched(0, 1, 1), 0.028 + 0.01 + 0.01);
        // No searches, no charge.
        assert_cost(&table, "gpt-4o", searched(0, 0, 0), 0.035);
        let mut bad = flat(1.0, 1.0);
        bad.per_web_search_preview = Some(-1.0);
        assert_eq!(
            bad.validate("m").unwrap_err().field,
            "per_web_search_preview"
        );
        let configured: ModelPrice = serde_json::from_value(serde_json::json!({
            "input_per_mtok": 1.0, "output_per_mtok": 1.0, "per_web_search": 0.02
        }))
        .unwrap();
        assert_eq!(configured.per_web_search, Some(0.02));
    }

    #[test]
    fn prices_read_from_configuration() {
        let price: ModelPrice = serde_json::from_value(serde_json::json!({
            "input_per_mtok": 1.25,
            "output_per_mtok": 10.0,
            "long_context": {
                "threshold_tokens": 200000,
                "input_per_mtok": 2.5,
                "output_per_mtok": 15.0
            }
        }))
        .unwrap();
        assert_eq!(price.cached_input_per_mtok, None);
        assert_eq!(
            price.long_context.as_ref().map(|l| l.threshold_tokens),
            Some(200_000)
        );
        let typo = serde_json::from_value::<ModelPrice>(serde_json::json!({
            "input_per_mtok": 1.0,
            "output_per_mtok": 1.0,
            "input_per_mtoken": 1.0
        }));
        assert!(typo.is_err());
        // Unset prices are left out of listings.
        assert_eq!(
            serde_json::to_value(flat(1.0, 2.0)).unwrap(),
            serde_json::json!({"input_per_mtok": 1.0, "output_per_mtok": 2.0})
        );
    }
}
