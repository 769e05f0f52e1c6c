//! Signed media URLs: `/media/{id}?exp=…&sig=…` (and a variant's `w` and
//! `format` before them). The signature is HMAC-SHA256 over the path,
//! the variant and the expiry, base64url without padding, so a URL
//! cannot be moved to another id or a later expiry; it is checked in
//! constant time. The original's signature also opens its variants (a
//! client appends `&w=256&format=webp` to the URL it was given): they are
//! the same picture, within the configured widths. The same key signs other
//! downloads by path ([`UrlSigner::path_query`]: a GDPR export's archive).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

use super::Variant;

/// Signs and checks media URLs with one key.
pub struct UrlSigner {
    key: hmac::Key,
}

/// Why a signed URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No `exp` or `sig`, or not in their form.
    Missing,
    /// Signed for something else, or not by this key.
    Invalid,
    /// Past its expiry.
    Expired,
}

impl SignatureError {
    pub fn message(self) -> &'static str {
        match self {
            SignatureError::Missing => {
                "This media URL is not signed: it needs its `exp` and `sig` parameters."
            }
            SignatureError::Invalid => "This media URL's signature is not valid for it.",
            SignatureError::Expired => "This media URL has expired; ask for the media again.",
        }
    }
}

impl UrlSigner {
    pub fn new(secret: &[u8]) -> UrlSigner {
        UrlSigner {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The query of a URL for `id` (and `variant`) valid until `expires`
    /// (Unix seconds), without its leading `?`.
    pub fn query(&self, id: &str, variant: Option<&Variant>, expires: u64) -> String {
        let tag = hmac::sign(&self.key, signed_text(id, variant, expires).as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(tag.as_ref());
        match variant {
            Some(variant) => format!(
                "w={}&format={}&exp={expires}&sig={signature}",
                variant.width,
                variant.format.name()
            ),
            None => format!("exp={expires}&sig={signature}"),
        }
    }

    /// The query of a URL for another download at `path` (`/exports/…`),
    /// valid until `expires` (Unix seconds), without its leading `?`.
    pub fn path_query(&self, path: &str, expires: u64) -> String {
        let tag = hmac::sign(&self.key, path_text(path, DOWNLOAD, expires).as_bytes());
        format!("exp={expires}&sig={}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// Checks a download URL's `exp` and `sig` for `path` at `now`.
    pub fn check_path(
        &self,
        path: &str,
        expires: Option<&str>,
        signature: Option<&str>,
        now: u64,
    ) -> Result<u64, SignatureError> {
        let (expires, signature) = parse(expires, signature)?;
        let text = path_text(path, DOWNLOAD, expires);
        if hmac::verify(&self.key, text.as_bytes(), &signature).is_err() {
            return Err(SignatureError::Invalid);
        }
        if expires <= now {
            return Err(SignatureError::Expired);
        }
        Ok(expires)
    }

    /// Checks a URL's `exp` and `sig` for `id` and `variant` at `now`
    /// (Unix seconds); gives the expiry.
    pub fn check(
        &self,
        id: &str,
        variant: Option<&Variant>,
        expires: Option<&str>,
        signature: Option<&str>,
        now: u64,
    ) -> Result<u64, SignatureError> {
        let (expires, signature) = parse(expires, signature)?;
        let signed_for = |variant: Option<&Variant>| {
            let text = signed_text(id, variant, expires);
            hmac::verify(&self.key, text.as_bytes(), &signature).is_ok()
        };
        let signed = signed_for(variant) || (variant.is_some() && signed_for(None));
        if !signed {
            return Err(SignatureError::Invalid);
        }
        if expires <= now {
            return Err(SignatureError::Expired);
        }
        Ok(expires)
    }
}

/// The middle line of a download's signed text, where a media URL has its
/// variant (never this): no media signature opens a download, nor the
/// reverse.
const DOWNLOAD: &str = "download";

/// A URL's expiry and signature, when both are there and in their form.
fn parse(expires: Option<&str>, signature: Option<&str>) -> Result<(u64, Vec<u8>), SignatureError> {
    let expires: u64 = expires
        .and_then(|e| e.parse().ok())
        .ok_or(SignatureError::Missing)?;
    let signature = signature
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .ok_or(SignatureError::Missing)?;
    Ok((expires, signature))
}

/// What a media URL's signature covers: its path, the variant and the
/// expiry.
fn signed_text(id: &str, variant: Option<&Variant>, expires: u64) -> String {
    let variant = variant.map_or(String::new(), |v| {
        format!("w={}&format={}", v.width, v.format.name())
    });
    path_text(&format!("/media/{id}"), &variant, expires)
}

/// The path, the variant and the expiry on lines of their own (none of
/// them can hold a line break).
fn path_text(path: &str, variant: &str, expires: u64) -> String {
    format!("{path}\n{variant}\n{expires}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::VariantFormat;

    fn parts(query: &str) -> (Option<&str>, Option<&str>) {
        let find = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        };
        (find("exp"), find("sig"))
    }

    #[test]
    fn a_signed_url_checks_until_it_expires() {
        let signer = UrlSigner::new(b"secret");
        let query = signer.query("abc.png", None, 1000);
        let (exp, sig) = parts(&query);
        assert_eq!(signer.check("abc.png", None, exp, sig, 999), Ok(1000));
        assert_eq!(
            signer.check("abc.png", None, exp, sig, 1000),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn the_originals_signature_opens_its_variants() {
        let signer = UrlSigner::new(b"secret");
        let query = signer.query("abc.png", None, 1000);
        let (exp, sig) = parts(&query);
        let thumb = Variant {
            width: 64,
            format: VariantFormat::Png,
        };
        assert_eq!(
            signer.check("abc.png", Some(&thumb), exp, sig, 10),
            Ok(1000)
        );
        assert_eq!(
            signer.check("abd.png", Some(&thumb), exp, sig, 10),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn a_signature_holds_for_its_own_id_variant_expiry_and_key_only() {
        let signer = UrlSigner::new(b"secret");
        let thumb = Variant {
            width: 256,
            format: VariantFormat::Webp,
        };
        let query = signer.query("abc.png", Some(&thumb), 1000);
        assert!(
            query.starts_with("w=256&format=webp&exp=1000&sig="),
            "{query}"
        );
        let (exp, sig) = parts(&query);
        assert_eq!(
            signer.check("abc.png", Some(&thumb), exp, sig, 10),
            Ok(1000)
        );
        let invalid = Err(SignatureError::Invalid);
        assert_eq!(signer.check("abd.png", Some(&thumb), exp, sig, 10), invalid);
        assert_eq!(signer.check("abc.png", None, exp, sig, 10), invalid);
        let bigger = Variant {
            width: 512,
            ..thumb
        };
        assert_eq!(
            signer.check("abc.png", Some(&bigger), exp, sig, 10),
            invalid
        );
        assert_eq!(
            signer.check("abc.png", Some(&thumb), Some("2000"), sig, 10),
            invalid
        );
        let other = UrlSigner::new(b"other");
        assert_eq!(other.check("abc.png", Some(&thumb), exp, sig, 10), invalid);
        assert_eq!(
            signer.check("abc.png", Some(&thumb), exp, Some("!!"), 10),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            signer.check("abc.png", Some(&thumb), None, sig, 10),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn a_download_path_signature_holds_for_its_path_and_expiry_only() {
        let signer = UrlSigner::new(b"secret");
        let query = signer.path_query("/exports/job_1.zip", 1000);
        let (exp, sig) = parts(&query);
        let check = |path: &str, now| signer.check_path(path, exp, sig, now);
        assert_eq!(check("/exports/job_1.zip", 999), Ok(1000));
        assert_eq!(
            check("/exports/job_1.zip", 1000),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            check("/exports/job_2.zip", 10),
            Err(SignatureError::Invalid)
        );
        // A media id's signature does not open a download, nor the reverse.
        let media = signer.query("job_1.zip", None, 1000);
        let (exp, sig) = parts(&media);
        assert_eq!(
            signer.check_path("/exports/job_1.zip", exp, sig, 10),
            Err(SignatureError::Invalid)
        );
        let (exp, sig) = parts(&query);
        assert_eq!(
            signer.check("exports/job_1.zip", None, exp, sig, 10),
            Err(SignatureError::Invalid)
        );
    }
}
