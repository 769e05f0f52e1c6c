//! Uploaded documents: arbitrary bytes sniffed and, whatever they are
//! taken for, read as a PDF, a Word document, HTML, JSON and plain text
//! within small limits. Input: a file's bytes. Properties: no panic and no
//! hang, a refusal or a text within the limit, and the text free of
//! control characters other than tabs and line breaks.
#![no_main]

use airlock_documents::{Family, FileType, Limits, extract, sniff};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    max_inflated_bytes: 1 << 20,
    max_depth: 64,
    max_text_bytes: 64 << 10,
};

const READERS: [FileType; 5] = [
    FileType {
        mime: "application/pdf",
        family: Family::Document,
    },
    FileType {
        mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        family: Family::Document,
    },
    FileType {
        mime: "text/html",
        family: Family::Text,
    },
    FileType {
        mime: "application/json",
        family: Family::Text,
    },
    FileType {
        mime: "text/plain",
        family: Family::Text,
    },
];

fuzz_target!(|data: &[u8]| {
    let sniffed = sniff(data, "upload");
    for file in std::iter::once(sniffed).chain(READERS) {
        if let Ok(Some(read)) = extract(file, data, &LIMITS) {
            assert!(read.text.len() <= LIMITS.max_text_bytes);
            assert!(
                !read
                    .text
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')),
                "a control character in the text"
            );
        }
    }
});
