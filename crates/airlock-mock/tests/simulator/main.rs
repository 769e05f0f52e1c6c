//! The simulator's integration tests, one binary with a module per surface:
//! each test starts a simulator on 127.0.0.1:0 and speaks to it as a client.

mod caching;
mod gemini3;
mod gemini_media;
mod grounding;
mod http;
mod live;
mod openai_media;
mod realtime;
mod responses;
