//! What the middleware learns of a request (its id, trace context, who it
//! is, where from), handed to handlers as a request extension.

use crate::auth::Principal;
use crate::trace::IncomingTrace;

/// What the middleware learned of a request, as an extension for handlers.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub id: String,
    pub trace: IncomingTrace,
    /// Who the request is, once authenticated.
    pub principal: Principal,
    /// The end user a verified token named.
    pub end_user: Option<String>,
    pub client_ip: Option<std::net::IpAddr>,
    /// What its headers ask of the response cache, or what is wrong with
    /// them (answered as a 400 when the cache would be used).
    pub cache: Result<crate::cache::CacheAsk, String>,
}
