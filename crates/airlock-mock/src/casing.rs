//! Field-name spellings: proto3 JSON accepts a field under its lowerCamelCase
//! JSON name and under its snake_case proto name.

/// `maxOutputTokens` → `max_output_tokens`; `$ref` stays `$ref`.
pub fn camel_to_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `key` spells the field whose JSON name is `camel`, in either form.
pub fn names_field(key: &str, camel: &str) -> bool {
    if key == camel {
        return true;
    }
    let mut key = key.chars();
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            if key.next() != Some('_') || key.next() != Some(c.to_ascii_lowercase()) {
                return false;
            }
        } else if key.next() != Some(c) {
            return false;
        }
    }
    key.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings() {
        assert_eq!(camel_to_snake("maxOutputTokens"), "max_output_tokens");
        assert_eq!(camel_to_snake("text"), "text");
        assert!(names_field("maxOutputTokens", "maxOutputTokens"));
        assert!(names_field("max_output_tokens", "maxOutputTokens"));
        assert!(!names_field("max_outputTokens_", "maxOutputTokens"));
        assert!(!names_field("maxoutputtokens", "maxOutputTokens"));
        assert!(!names_field("max_output_token", "maxOutputTokens"));
    }
}
