//! Whether a request's answer is read from and kept in the cache, and for
//! how long: the request's own headers (`x-airlock-cache: use | refresh |
//! bypass`, `x-airlock-cache-ttl: SECONDS`) over its project's setting
//! over its route's over the gateway's defaults. Answers sampled at random
//! (temperature above 0 and no seed) are kept only when the project says
//! so: a second caller would otherwise get the first caller's draw where
//! it expected its own.

use std::time::Duration;

use airlock_store::ProjectCache;
use http::HeaderMap;

/// The request header that asks for the cache.
pub const CACHE_HEADER: &str = "x-airlock-cache";
/// The request header that sets a kept answer's time to live, in seconds.
pub const CACHE_TTL_HEADER: &str = "x-airlock-cache-ttl";

/// What a request's headers ask of the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheAsk {
    pub mode: Option<AskedMode>,
    pub ttl: Option<Duration>,
}

/// `x-airlock-cache`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskedMode {
    /// Answer from the cache when the answer is there; else call and keep.
    Use,
    /// Call the provider and keep its answer in place of the one kept.
    Refresh,
    /// Neither read nor keep.
    Bypass,
}

/// The longest time to live a request, project or route may ask for: 30
/// days.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

impl CacheAsk {
    /// The headers' ask; an error names what is wrong with them.
    pub fn from_headers(headers: &HeaderMap) -> Result<CacheAsk, String> {
        let text = |name: &str| {
            headers
                .get(name)
                .map(|value| value.to_str().map(str::trim).map_err(|_| ()))
        };
        let mode = match text(CACHE_HEADER) {
            None => None,
            Some(Ok(value)) if value.eq_ignore_ascii_case("use") => Some(AskedMode::Use),
            Some(Ok(value)) if value.eq_ignore_ascii_case("refresh") => Some(AskedMode::Refresh),
            Some(Ok(value)) if value.eq_ignore_ascii_case("bypass") => Some(AskedMode::Bypass),
            Some(_) => {
                return Err(format!(
                    "{CACHE_HEADER} must be one of use, refresh or bypass"
                ));
            }
        };
        let ttl = match text(CACHE_TTL_HEADER) {
            None => None,
            Some(Ok(value)) => match value.parse::<u64>() {
                Ok(secs) if secs > 0 && secs <= MAX_TTL.as_secs() => {
                    Some(Duration::from_secs(secs))
                }
                _ => {
                    return Err(format!(
                        "{CACHE_TTL_HEADER} must be a whole number of seconds from 1 to {}",
                        MAX_TTL.as_secs()
                    ));
                }
            },
            Some(Err(())) => return Err(format!("{CACHE_TTL_HEADER} is not text")),
        };
        Ok(CacheAsk { mode, ttl })
    }
}

/// A route's cache setting (`[[routes]] cache`, `cache_ttl`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteCache {
    pub enabled: bool,
    pub ttl: Option<Duration>,
}

/// What the cache does for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Read, and keep a miss's answer for `ttl`.
    Use { ttl: Duration },
    /// Call, and keep the answer for `ttl` in place of the one kept.
    Refresh { ttl: Duration },
    /// Neither read nor keep; `asked` when the request or its settings
    /// asked for the cache and the request is not one it keeps.
    Bypass { asked: bool },
}

/// Decides for a request from what it, its project and its route say;
/// `random`: the request samples at random; `default_ttl`: the
/// gateway's.
pub(crate) fn decide(
    ask: CacheAsk,
    project: Option<&ProjectCache>,
    route: RouteCache,
    random: bool,
    default_ttl: Duration,
) -> Decision {
    let on = match ask.mode {
        Some(AskedMode::Bypass) => return Decision::Bypass { asked: false },
        Some(mode) => Some(mode),
        None if project.is_some_and(|p| p.enabled) || route.enabled => Some(AskedMode::Use),
        None => None,
    };
    let Some(mode) = on else {
        return Decision::Bypass { asked: false };
    };
    if random && !project.is_some_and(|p| p.random) {
        return Decision::Bypass { asked: true };
    }
    let ttl = ask
        .ttl
        .or(project.and_then(|p| p.ttl_secs).map(Duration::from_secs))
        .or(route.ttl)
        .unwrap_or(default_ttl);
    match mode {
        AskedMode::Refresh => Decision::Refresh { ttl },
        _ => Decision::Use { ttl },
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn ask(pairs: &[(&'static str, &'static str)]) -> Result<CacheAsk, String> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        CacheAsk::from_headers(&headers)
    }

    fn project(random: bool, ttl_secs: Option<u64>) -> ProjectCache {
        ProjectCache {
            enabled: true,
            ttl_secs,
            random,
        }
    }

    #[test]
    fn headers_are_read_and_bad_values_named() {
        assert_eq!(ask(&[]).unwrap(), CacheAsk::default());
        let asked = ask(&[(CACHE_HEADER, "Refresh"), (CACHE_TTL_HEADER, "60")]).unwrap();
        assert_eq!(asked.mode, Some(AskedMode::Refresh));
        assert_eq!(asked.ttl, Some(Duration::from_secs(60)));
        assert!(
            ask(&[(CACHE_HEADER, "always")])
                .unwrap_err()
                .contains(CACHE_HEADER)
        );
        for bad in ["0", "-5", "1.5", "soon", "2592001"] {
            let error = ask(&[(CACHE_TTL_HEADER, bad)]).unwrap_err();
            assert!(error.contains(CACHE_TTL_HEADER), "{bad}: {error}");
        }
    }

    #[test]
    fn nothing_asked_and_nothing_configured_bypasses() {
        let decided = decide(CacheAsk::default(), None, RouteCache::default(), false, DAY);
        assert_eq!(decided, Decision::Bypass { asked: false });
    }

    #[test]
    fn the_request_the_project_and_the_route_each_turn_it_on() {
        let asked = CacheAsk {
            mode: Some(AskedMode::Use),
            ttl: None,
        };
        let route = RouteCache {
            enabled: true,
            ttl: Some(Duration::from_secs(5)),
        };
        let by_project = project(false, Some(7));
        let none = RouteCache::default();
        assert_eq!(
            decide(asked, None, none, false, DAY),
            Decision::Use { ttl: DAY }
        );
        assert_eq!(
            decide(CacheAsk::default(), Some(&by_project), none, false, DAY),
            Decision::Use {
                ttl: Duration::from_secs(7)
            }
        );
        assert_eq!(
            decide(CacheAsk::default(), None, route, false, DAY),
            Decision::Use {
                ttl: Duration::from_secs(5)
            }
        );
    }

    #[test]
    fn the_requests_ttl_wins_then_the_projects_then_the_routes() {
        let route = RouteCache {
            enabled: true,
            ttl: Some(Duration::from_secs(5)),
        };
        let asked = CacheAsk {
            mode: Some(AskedMode::Refresh),
            ttl: Some(Duration::from_secs(3)),
        };
        let decided = decide(asked, Some(&project(false, Some(7))), route, false, DAY);
        assert_eq!(
            decided,
            Decision::Refresh {
                ttl: Duration::from_secs(3)
            }
        );
    }

    #[test]
    fn bypass_wins_over_every_setting() {
        let asked = CacheAsk {
            mode: Some(AskedMode::Bypass),
            ttl: None,
        };
        let route = RouteCache {
            enabled: true,
            ttl: None,
        };
        let decided = decide(asked, Some(&project(true, None)), route, false, DAY);
        assert_eq!(decided, Decision::Bypass { asked: false });
    }

    #[test]
    fn random_answers_are_kept_only_when_the_project_says_so() {
        let asked = CacheAsk {
            mode: Some(AskedMode::Use),
            ttl: None,
        };
        let none = RouteCache::default();
        assert_eq!(
            decide(asked, None, none, true, DAY),
            Decision::Bypass { asked: true }
        );
        assert_eq!(
            decide(asked, Some(&project(false, None)), none, true, DAY),
            Decision::Bypass { asked: true }
        );
        assert_eq!(
            decide(asked, Some(&project(true, None)), none, true, DAY),
            Decision::Use { ttl: DAY }
        );
    }
}
