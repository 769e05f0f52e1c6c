//! OpenAI's Responses API: `POST /v1/responses` (plain, or streamed as
//! server-sent events), `GET` and `DELETE /v1/responses/{id}`, and `GET
//! /v1/responses/{id}/input_items`; stored responses continue with
//! `previous_response_id`. The hosted web search tool answers with a
//! simulated search and cited text ([`search`]).

mod checks;
mod items;
mod params;
mod render;
pub mod routes;
mod search;
mod store;

pub use store::Store;
