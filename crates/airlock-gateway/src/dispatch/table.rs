//! The table: which planner serves each (client operation, provider
//! protocol) pair. Every pair is listed; a planner for a pair that cannot
//! be served says why in the caller's terms.

use airlock_providers::Protocol;

use super::{Operation, Planner, chat, embeddings, gemini, media, media_gemini, responses};
use crate::surface::gemini::GeminiMethod;

pub fn planner(operation: Operation, protocol: Protocol) -> Planner {
    match (operation, protocol) {
        (Operation::ChatCompletions, Protocol::OpenAi) => chat::to_openai,
        (Operation::ChatCompletions, Protocol::Gemini) => chat::to_gemini,
        (Operation::Embeddings, Protocol::OpenAi) => embeddings::to_openai,
        (Operation::Embeddings, Protocol::Gemini) => embeddings::to_gemini,
        (Operation::Responses, Protocol::OpenAi) => responses::to_openai,
        (Operation::Responses, Protocol::Gemini) => responses::to_gemini,
        (Operation::ImageGenerations, Protocol::OpenAi) => media::image_generations_to_openai,
        (Operation::ImageEdits, Protocol::OpenAi) => media::image_edits_to_openai,
        (Operation::Speech, Protocol::OpenAi) => media::speech_to_openai,
        (Operation::Transcriptions, Protocol::OpenAi) => media::transcriptions_to_openai,
        (Operation::ImageGenerations, Protocol::Gemini) => media_gemini::image_generations,
        (Operation::ImageEdits, Protocol::Gemini) => media_gemini::image_edits,
        (Operation::Speech, Protocol::Gemini) => media_gemini::speech,
        (Operation::Transcriptions, Protocol::Gemini) => media_gemini::transcriptions,
        (Operation::GeminiMethod(method), Protocol::Gemini) => match method {
            GeminiMethod::GenerateContent => gemini::generate_content,
            GeminiMethod::StreamGenerateContent => gemini::stream_generate_content,
            GeminiMethod::CountTokens => gemini::count_tokens,
            GeminiMethod::EmbedContent => gemini::embed_content,
            GeminiMethod::BatchEmbedContents => gemini::batch_embed_contents,
        },
        (Operation::GeminiMethod(_), Protocol::OpenAi) => gemini::to_openai,
    }
}
