//! A compact JWS token taken apart, and its claims checked.
//!
//! Nothing here trusts the token: parsing only decides which algorithm and
//! key the signature must be checked with; the claims are judged only after
//! the signature has been verified (see `verifier.rs`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{EndUser, JwtError};

/// Longest token accepted, in bytes (larger ones are `Malformed`).
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Tolerated clock difference with the issuer for `exp`, `nbf` and `iat`.
pub(crate) const LEEWAY_SECS: i64 = 60;

/// Longest end-user identifier accepted, in bytes.
pub(crate) const MAX_SUBJECT_LEN: usize = 512;

/// The signature algorithms accepted: nothing symmetric, nothing unsigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl Alg {
    pub(crate) fn from_name(name: &str) -> Option<Alg> {
        match name {
            "RS256" => Some(Alg::Rs256),
            "ES256" => Some(Alg::Es256),
            _ => None,
        }
    }
}

/// A token split into what verification needs. Claims are unverified.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    pub alg: Alg,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
    pub signature: Vec<u8>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// Extensions the token says must be understood; none are.
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

fn decode(part: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)
}

/// Splits and decodes a compact JWS (`header.payload.signature`).
pub(crate) fn parse(token: &str) -> Result<Parsed<'_>, JwtError> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };

    let header: Header =
        serde_json::from_slice(&decode(header)?).map_err(|_| JwtError::Malformed)?;
    let alg = Alg::from_name(&header.alg).ok_or(JwtError::UnsupportedAlgorithm)?;
    if header.crit.is_some() {
        return Err(JwtError::Malformed);
    }

    let claims: Map<String, Value> =
        serde_json::from_slice(&decode(payload)?).map_err(|_| JwtError::Malformed)?;
    let signature = decode(signature)?;
    if signature.is_empty() {
        return Err(JwtError::Malformed);
    }

    // The signed bytes: everything before the last dot.
    let signed_len = token.len() - signature_len(token);
    Ok(Parsed {
        alg,
        kid: header.kid,
        claims,
        signing_input: &token.as_bytes()[..signed_len],
        signature,
    })
}

/// Length of the signature part plus its leading dot.
fn signature_len(token: &str) -> usize {
    token.rfind('.').map_or(0, |dot| token.len() - dot)
}

/// The unverified `iss` claim, used only to pick the issuer's keys.
pub(crate) fn issuer(claims: &Map<String, Value>) -> Result<&str, JwtError> {
    match claims.get("iss") {
        None | Some(Value::Null) => Err(JwtError::MissingClaim("iss".into())),
        Some(Value::String(iss)) => Ok(iss),
        Some(_) => Err(JwtError::Malformed),
    }
}

/// A NumericDate claim: `None` when absent, `Malformed` when not a number.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, JwtError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(secs), _) => Ok(Some(secs)),
            // Fractional (or beyond i64) seconds; `as` saturates.
            (None, Some(secs)) if secs.is_finite() => Ok(Some(secs.floor() as i64)),
            _ => Err(JwtError::Malformed),
        },
        Some(_) => Err(JwtError::Malformed),
    }
}

/// What a verified token must also satisfy, for the issuer it names.
pub(crate) struct Expectations<'a> {
    pub issuer: &'a str,
    pub audiences: &'a [String],
    pub user_claim: &'a str,
}

/// Checks the (signature-verified) claims at `now` (Unix seconds) and names
/// the end user.
pub(crate) fn validate(
    claims: &Map<String, Value>,
    expect: &Expectations<'_>,
    now: i64,
) -> Result<EndUser, JwtError> {
    if issuer(claims)? != expect.issuer {
        return Err(JwtError::UnknownIssuer);
    }

    let exp = numeric_date(claims, "exp")?.ok_or_else(|| JwtError::MissingClaim("exp".into()))?;
    if now >= exp.saturating_add(LEEWAY_SECS) {
        return Err(JwtError::Expired);
    }
    // Not before, and not issued in the future.
    for name in ["nbf", "iat"] {
        let from = numeric_date(claims, name)?.unwrap_or(i64::MIN);
        if now.saturating_add(LEEWAY_SECS) < from {
            return Err(JwtError::NotYetValid);
        }
    }

    let accepted = |aud: &str| expect.audiences.iter().any(|a| a == aud);
    match claims.get("aud") {
        None | Some(Value::Null) => return Err(JwtError::MissingClaim("aud".into())),
        Some(Value::String(aud)) => {
            if !accepted(aud) {
                return Err(JwtError::WrongAudience);
            }
        }
        Some(Value::Array(auds)) => {
            let mut any = false;
            for aud in auds {
                match aud {
                    Value::String(aud) => any |= accepted(aud),
                    _ => return Err(JwtError::Malformed),
                }
            }
            if !any {
                return Err(JwtError::WrongAudience);
            }
        }
        Some(_) => return Err(JwtError::Malformed),
    }

    let missing = || JwtError::MissingClaim(expect.user_claim.to_owned());
    let subject = match claims.get(expect.user_claim) {
        Some(Value::String(s)) => s.clone(),
        // Some issuers name users by number.
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        _ => return Err(missing()),
    };
    if subject.is_empty() {
        return Err(missing());
    }
    if subject.len() > MAX_SUBJECT_LEN || subject.chars().any(char::is_control) {
        return Err(JwtError::Malformed);
    }

    Ok(EndUser {
        issuer: expect.issuer.to_owned(),
        subject,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn token(header: Value, claims: Value) -> String {
        format!("{}.{}.c2ln", b64(&header), b64(&claims))
    }

    #[test]
    fn parses_a_well_formed_token() {
        let t = token(json!({"alg": "RS256", "kid": "k1"}), json!({"iss": "x"}));
        let parsed = parse(&t).unwrap();
        assert_eq!(parsed.alg, Alg::Rs256);
        assert_eq!(parsed.kid.as_deref(), Some("k1"));
        assert_eq!(parsed.signature, b"sig");
        assert_eq!(
            parsed.signing_input,
            t.rsplit_once('.').unwrap().0.as_bytes()
        );
        assert_eq!(issuer(&parsed.claims).unwrap(), "x");
    }

    #[test]
    fn rejects_algorithms_other_than_rs256_and_es256() {
        for alg in [
            "none", "HS256", "HS512", "RS512", "PS256", "ES384", "EdDSA", "rs256",
        ] {
            let t = token(json!({"alg": alg}), json!({}));
            assert!(
                matches!(parse(&t), Err(JwtError::UnsupportedAlgorithm)),
                "{alg}"
            );
        }
        let t = token(json!({"alg": "ES256"}), json!({}));
        assert_eq!(parse(&t).unwrap().alg, Alg::Es256);
    }

    #[test]
    fn rejects_malformed_tokens() {
        let good_header = b64(&json!({"alg": "RS256"}));
        let good_claims = b64(&json!({"iss": "x"}));
        let cases = [
            String::new(),
            ".".into(),
            "..".into(),
            "a.b".into(),
            format!("{good_header}.{good_claims}"),
            format!("{good_header}.{good_claims}.c2ln.c2ln.c2ln"),
            format!("{good_header}.{good_claims}."),
            format!("{good_header}.{good_claims}.c2ln="),
            format!("{good_header}.{good_claims}.c2l+"),
            format!("{good_header}.{good_claims} .c2ln"),
            format!("{good_header}.{}.c2ln", b64(&json!([1, 2]))),
            format!("{good_header}.{}.c2ln", URL_SAFE_NO_PAD.encode("not json")),
            format!("{}.{good_claims}.c2ln", b64(&json!({"kid": "k"}))),
            format!("{}.{good_claims}.c2ln", b64(&json!({"alg": 256}))),
            format!(
                "{}.{good_claims}.c2ln",
                b64(&json!({"alg": "RS256", "kid": 7}))
            ),
            format!(
                "{}.{good_claims}.c2ln",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","alg":"RS256"}"#)
            ),
            format!(
                "{}.{good_claims}.c2ln",
                b64(&json!({"alg": "RS256", "crit": ["exp"]}))
            ),
            format!("{good_header}.{good_claims}.{}", "A".repeat(MAX_TOKEN_LEN)),
            "\u{0}\u{1}.é.✓".into(),
        ];
        for case in cases {
            assert!(matches!(parse(&case), Err(JwtError::Malformed)), "{case:?}");
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    const NOW: i64 = 1_700_000_000;

    fn check(value: Value) -> Result<EndUser, JwtError> {
        let audiences = ["app".to_owned(), "other-app".to_owned()];
        let expect = Expectations {
            issuer: "https://issuer.example",
            audiences: &audiences,
            user_claim: "sub",
        };
        validate(&claims(value), &expect, NOW)
    }

    fn base() -> Value {
        json!({"iss": "https://issuer.example", "aud": "app", "sub": "user-1", "exp": NOW + 600})
    }

    fn with(changes: Value) -> Value {
        let mut value = base();
        for (k, v) in claims(changes) {
            if v.is_null() {
                value.as_object_mut().unwrap().remove(&k);
            } else {
                value[k] = v;
            }
        }
        value
    }

    #[test]
    fn accepts_valid_claims() {
        let user = check(base()).unwrap();
        assert_eq!(user.issuer, "https://issuer.example");
        assert_eq!(user.subject, "user-1");
        check(with(json!({"aud": ["x", "other-app"]}))).unwrap();
        check(with(json!({"exp": (NOW + 10) as f64 + 0.5}))).unwrap();
        check(with(json!({"nbf": NOW, "iat": NOW - 5}))).unwrap();
        assert_eq!(check(with(json!({"sub": 42}))).unwrap().subject, "42");
    }

    #[test]
    fn applies_the_leeway_to_times() {
        check(with(json!({"exp": NOW - LEEWAY_SECS + 1}))).unwrap();
        assert!(matches!(
            check(with(json!({"exp": NOW - LEEWAY_SECS}))),
            Err(JwtError::Expired)
        ));
        check(with(json!({"nbf": NOW + LEEWAY_SECS}))).unwrap();
        assert!(matches!(
            check(with(json!({"nbf": NOW + LEEWAY_SECS + 1}))),
            Err(JwtError::NotYetValid)
        ));
        check(with(json!({"iat": NOW + LEEWAY_SECS}))).unwrap();
        assert!(matches!(
            check(with(json!({"iat": NOW + LEEWAY_SECS + 1}))),
            Err(JwtError::NotYetValid)
        ));
    }

    #[test]
    fn rejects_bad_claims() {
        let cases = [
            (json!({"exp": null}), JwtError::MissingClaim("exp".into())),
            (json!({"exp": "soon"}), JwtError::Malformed),
            (json!({"exp": i64::MIN}), JwtError::Expired),
            (json!({"exp": -1e300}), JwtError::Expired),
            (json!({"nbf": 1e300}), JwtError::NotYetValid),
            (json!({"aud": null}), JwtError::MissingClaim("aud".into())),
            (json!({"aud": "someone-else"}), JwtError::WrongAudience),
            (json!({"aud": []}), JwtError::WrongAudience),
            (json!({"aud": ["app", 1]}), JwtError::Malformed),
            (json!({"aud": {"app": true}}), JwtError::Malformed),
            (
                json!({"iss": "https://issuer.example/"}),
                JwtError::UnknownIssuer,
            ),
            (json!({"iss": null}), JwtError::MissingClaim("iss".into())),
            (json!({"iss": 5}), JwtError::Malformed),
            (json!({"sub": null}), JwtError::MissingClaim("sub".into())),
            (json!({"sub": ""}), JwtError::MissingClaim("sub".into())),
            (json!({"sub": ["a"]}), JwtError::MissingClaim("sub".into())),
            (json!({"sub": 1.5}), JwtError::MissingClaim("sub".into())),
            (json!({"sub": "a\nb"}), JwtError::Malformed),
            (
                json!({"sub": "x".repeat(MAX_SUBJECT_LEN + 1)}),
                JwtError::Malformed,
            ),
        ];
        for (changes, expected) in cases {
            let result = check(with(changes.clone()));
            assert_eq!(
                result.as_ref().err(),
                Some(&expected),
                "{changes}: {result:?}"
            );
        }
    }

    #[test]
    fn names_the_user_by_the_configured_claim() {
        let audiences = ["app".to_owned()];
        let expect = Expectations {
            issuer: "https://issuer.example",
            audiences: &audiences,
            user_claim: "email",
        };
        let user = validate(
            &claims(with(json!({"email": "a@example.com"}))),
            &expect,
            NOW,
        )
        .unwrap();
        assert_eq!(user.subject, "a@example.com");
        assert_eq!(
            validate(&claims(base()), &expect, NOW).err(),
            Some(JwtError::MissingClaim("email".into()))
        );
    }
}
