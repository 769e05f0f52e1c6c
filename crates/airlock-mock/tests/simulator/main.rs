//! The simulator's integration tests, one binary with a module per surface:
//! each test starts a simulator on 127.0.0.1:0 and speaks to it as a client.

mod caching;
mod gemini3;
mod grounding;
mod http;
mod live;
mod realtime;
mod responses;
