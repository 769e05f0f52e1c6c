//! What the middleware learns of a request (its id, trace context, who it
//! is, where from), handed to handlers as a request extension; and
//! [`InternalCaller`], a request Airlock makes of itself.

use std::sync::{Arc, Mutex, PoisonError};

use crate::auth::Principal;
use crate::trace::IncomingTrace;

/// A request Airlock sends through its own router for a project (a
/// pre-generation job's item, a batch's request): who it runs as, in place
/// of a client key, where its cost is reported, and at which price. Only
/// Airlock can set a request extension, so no client can pose as one.
#[derive(Clone, Debug)]
pub struct InternalCaller {
    pub principal: Principal,
    pub spend: Arc<SpendProbe>,
    pub pricing: Pricing,
}

/// Which of the provider's prices a request pays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pricing {
    /// The standard, on-demand price.
    #[default]
    Standard,
    /// The Batch API's price (half, for both providers).
    Batch,
}

/// What an internal request cost, once its record is written.
#[derive(Debug, Default)]
pub struct SpendProbe(Mutex<Option<f64>>);

impl SpendProbe {
    pub fn report(&self, cost_usd: f64) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(cost_usd);
    }

    pub fn spent(&self) -> Option<f64> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

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
    /// The web origin a browser said the request came from (at most 256
    /// bytes), for usage by origin.
    pub origin: Option<String>,
    /// What its headers ask of the response cache, or what is wrong with
    /// them (answered as a 400 when the cache would be used).
    pub cache: Result<crate::cache::CacheAsk, String>,
    /// How files a request names are given to the model, or what is wrong
    /// with its header.
    pub file_context: Result<crate::files::context::FileContext, String>,
    /// For an internal request: where its cost is reported.
    pub spend: Option<Arc<SpendProbe>>,
    /// Which price it pays (a batch's requests pay the batch price).
    pub pricing: Pricing,
}
