//! Media requests: a multipart form (image edits, transcriptions) read and
//! translated for a Gemini model; a media URL's id, signature and `Range`;
//! a stored picture resized. The first byte chooses which. Properties: no
//! panic, a translation is a `generateContent` body, no forged signature
//! passes, a byte range lies within the object.
#![no_main]

use airlock_gateway::fuzzing::{media_form, media_url, media_variant};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let _ = media_form(rest);
        }
        1 => {
            let text = String::from_utf8_lossy(rest);
            let mut fields = text.split('\n');
            let id = fields.next().unwrap_or("");
            let expires = fields.next();
            let signature = fields.next();
            let range = fields.next();
            let size = fields.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
            media_url(id, expires, signature, range, size);
        }
        _ => media_variant(rest),
    }
});
