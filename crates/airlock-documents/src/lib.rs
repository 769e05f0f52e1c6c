//! Documents: what an uploaded file is, whether a project takes it, and
//! its text.
//!
//! [`sniff`] tells a file's type from its bytes (magic numbers, then the
//! shape of text), never from its name or the type a client declared: a
//! `.pdf` that is an executable is an executable. [`AcceptedTypes`] is a
//! project's list of the types it takes. [`extract`] reads a document's
//! text and metadata, refusing encrypted or malformed documents,
//! decompression bombs and over-deep nesting, and sanitises the text.
//! [`Redactor`] takes personal data (and an operator's own patterns) out
//! of any text, such as logged requests.
//! Nothing here knows about HTTP, storage or providers: callers hand it
//! bytes.

mod accepted;
mod extract;
mod sniff;

pub use accepted::AcceptedTypes;
pub use extract::sanitise::{Redactor, redact_personal_data};
pub use extract::{Extracted, Limits, Metadata, Refusal, extract};
pub use sniff::{Family, FileType, sniff};

#[cfg(test)]
mod fixtures {
    /// An ELF header (64 bytes, as a real program starts).
    pub const ELF: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0\
        \0\0\0\0\0\0\0\0\x40\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x40\0\x38\0\
        \x01\0\x40\0\0\0\0\0";
}
