//! Which provider and handler serve a request. Every provider request passes
//! the [`gate`] first; `/healthz` does not.

use axum::extract::{Request, State};
use axum::response::Response;
use http::request::Parts;

use crate::delivery::{self, Payload};
use crate::gate::{self, Provider};
use crate::server::MockServer;
use crate::{gemini, openai};

/// The Gemini API versions served.
pub const GEMINI_VERSIONS: [&str; 3] = ["v1", "v1beta", "v1alpha"];

/// An admitted request, as route handlers see it.
#[derive(Debug)]
pub struct Call<'a> {
    pub server: &'a MockServer,
    pub serial: u64,
    pub parts: &'a Parts,
}

#[derive(Debug)]
enum Target {
    OpenAiChat,
    OpenAiEmbeddings,
    OpenAiResponses {
        rest: Option<String>,
    },
    OpenAiModels {
        id: Option<String>,
    },
    /// `/v1/images/generations` or `/v1/images/edits`.
    OpenAiImages {
        edit: bool,
    },
    /// `/v1/audio/speech` or `/v1/audio/transcriptions`.
    OpenAiAudio {
        speech: bool,
    },
    Gemini {
        version: String,
        rest: Option<String>,
    },
    NotFound(Provider),
}

impl Target {
    fn provider(&self) -> Provider {
        match self {
            Target::OpenAiChat
            | Target::OpenAiEmbeddings
            | Target::OpenAiResponses { .. }
            | Target::OpenAiModels { .. }
            | Target::OpenAiImages { .. }
            | Target::OpenAiAudio { .. } => Provider::OpenAi,
            Target::Gemini { .. } => Provider::Gemini,
            Target::NotFound(p) => *p,
        }
    }
}

async fn dispatch(server: MockServer, target: Target, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let admitted = match gate::admit(&server, target.provider(), &parts).await {
        Ok(a) => a,
        Err(rejection) => return rejection,
    };
    let call = Call {
        server: &server,
        serial: admitted.serial,
        parts: &parts,
    };
    let payload: Payload = match target {
        Target::OpenAiChat => openai::routes::chat(&call, body).await,
        Target::OpenAiEmbeddings => openai::routes::embeddings(&call, body).await,
        Target::OpenAiResponses { rest } => {
            openai::responses::routes::handle(&call, rest.as_deref(), body).await
        }
        Target::OpenAiModels { id } => openai::routes::models(&call, id.as_deref()),
        Target::OpenAiImages { edit: false } => openai::images::generations(&call, body).await,
        Target::OpenAiImages { edit: true } => openai::images::edits(&call, body).await,
        Target::OpenAiAudio { speech: true } => openai::audio::speech(&call, body).await,
        Target::OpenAiAudio { speech: false } => openai::audio::transcriptions(&call, body).await,
        Target::Gemini { version, rest } => {
            gemini::routes::handle(&call, &version, rest.as_deref(), body).await
        }
        Target::NotFound(Provider::OpenAi) => openai::routes::unknown_url(&call),
        Target::NotFound(Provider::Gemini) => gemini::errors::unknown_url(),
    };
    delivery::render(payload, admitted.plan).await
}

pub async fn openai_chat(State(server): State<MockServer>, request: Request) -> Response {
    dispatch(server, Target::OpenAiChat, request).await
}

pub async fn openai_embeddings(State(server): State<MockServer>, request: Request) -> Response {
    dispatch(server, Target::OpenAiEmbeddings, request).await
}

/// `/v1/images/generations` and `/v1/images/edits`.
pub async fn openai_images(State(server): State<MockServer>, request: Request) -> Response {
    let edit = request.uri().path().ends_with("/edits");
    dispatch(server, Target::OpenAiImages { edit }, request).await
}

/// `/v1/audio/speech` and `/v1/audio/transcriptions`.
pub async fn openai_audio(State(server): State<MockServer>, request: Request) -> Response {
    let speech = request.uri().path().ends_with("/speech");
    dispatch(server, Target::OpenAiAudio { speech }, request).await
}

/// `/v1/responses[/{rest}]`: the Responses API.
pub async fn openai_responses(State(server): State<MockServer>, request: Request) -> Response {
    let rest = request
        .uri()
        .path()
        .strip_prefix("/v1/responses/")
        .map(str::to_owned);
    dispatch(server, Target::OpenAiResponses { rest }, request).await
}

/// `/{version}/models[/{rest}]`: Gemini's model routes, or OpenAI's model
/// listing when the version is `v1` and the request does not look like
/// Gemini's (see [`gate::looks_like_gemini`]).
pub async fn models(State(server): State<MockServer>, request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/');
    let (version, after) = path.split_once('/').unwrap_or((path, ""));
    let rest = after
        .strip_prefix("models")
        .and_then(|r| r.strip_prefix('/'))
        .map(str::to_owned);
    let version = version.to_owned();
    let gemini = gate::looks_like_gemini(request.headers(), request.uri());
    let target = if version == "v1" && !gemini {
        Target::OpenAiModels { id: rest }
    } else if GEMINI_VERSIONS.contains(&version.as_str()) {
        Target::Gemini { version, rest }
    } else {
        Target::NotFound(Provider::Gemini)
    };
    dispatch(server, target, request).await
}

/// Anything else: a Gemini-shaped 404 for Gemini-looking requests
/// (`/v1beta/...`, `/v1alpha/...` or Gemini headers), OpenAI's
/// "Invalid URL" otherwise.
pub async fn unknown(State(server): State<MockServer>, request: Request) -> Response {
    let path = request.uri().path();
    let gemini = path.starts_with("/v1beta/")
        || path.starts_with("/v1alpha/")
        || gate::looks_like_gemini(request.headers(), request.uri());
    let provider = if gemini {
        Provider::Gemini
    } else {
        Provider::OpenAi
    };
    dispatch(server, Target::NotFound(provider), request).await
}
