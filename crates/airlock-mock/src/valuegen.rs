//! Schema-driven value generation: a deterministic JSON value that satisfies a
//! schema, for tool-call arguments and JSON-mode answers.
//!
//! Understands JSON Schema (as OpenAI `parameters`, `json_schema.schema` and
//! Gemini `parametersJsonSchema` / `responseJsonSchema` carry it) and Gemini's
//! OpenAPI subset (`type` in upper or lower case, `nullable`, `anyOf`,
//! `propertyOrdering`, keywords in camelCase or snake_case). Honoured:
//! `type` (string or list), `enum`, `const`, `properties`, `required`,
//! `propertyOrdering`, `items`, `prefixItems`, `minItems`/`maxItems`,
//! `minLength`/`maxLength`, `minimum`/`maximum` (and exclusive forms),
//! `multipleOf` for integers, `format` (date-time, date, time, email, uuid,
//! uri, hostname, ipv4, ipv6), `anyOf`/`oneOf` (one branch is chosen),
//! `allOf` (branches merged), `$ref` to `#/...` pointers. Not honoured:
//! `pattern` and `uniqueItems`. Every declared property is generated.
//! Arrays hold at most [`MAX_ITEMS`] items, nesting stops at [`MAX_DEPTH`],
//! and at most [`MAX_NODES`] values are produced, after which containers
//! come out empty: recursive or enormous schemas cannot exhaust the server.

use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::{Map, Value};

use crate::textgen;

pub const MAX_DEPTH: usize = 16;
pub const MAX_ITEMS: u64 = 64;
pub const MAX_NODES: usize = 20_000;
const MAX_STRING_CHARS: u64 = 4096;

/// A value valid against `schema`, drawn from `rng`.
pub fn generate(schema: &Value, rng: &mut SmallRng) -> Value {
    Generator {
        root: schema,
        rng,
        nodes: 0,
    }
    .value(schema, 0)
}

/// A numeric bound and whether it is exclusive.
type Bound = Option<(f64, bool)>;

struct Generator<'a> {
    root: &'a Value,
    rng: &'a mut SmallRng,
    nodes: usize,
}

/// Looks a keyword up under its camelCase and snake_case spellings.
fn kw<'v>(schema: &'v Map<String, Value>, camel: &str) -> Option<&'v Value> {
    schema.get(camel).or_else(|| {
        let snake = crate::casing::camel_to_snake(camel);
        schema.get(&snake)
    })
}

/// A non-negative count, given as a number or (proto int64 style) a string.
fn count(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn float(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

fn type_names(schema: &Map<String, Value>) -> Vec<String> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.to_ascii_lowercase()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .collect(),
        _ => Vec::new(),
    }
}

fn is_null_schema(schema: &Value) -> bool {
    schema
        .as_object()
        .is_some_and(|s| type_names(s) == ["null"])
}

impl Generator<'_> {
    fn exhausted(&self, depth: usize) -> bool {
        depth >= MAX_DEPTH || self.nodes >= MAX_NODES
    }

    fn value(&mut self, schema: &Value, depth: usize) -> Value {
        self.nodes += 1;
        let schema = match schema {
            Value::Object(s) => s,
            Value::Bool(false) => return Value::Null,
            _ => return Value::String(textgen::phrase(self.rng, 2)),
        };
        if let Some(target) = kw(schema, "$ref")
            .or_else(|| schema.get("ref"))
            .and_then(Value::as_str)
        {
            if self.exhausted(depth) {
                return Value::Null;
            }
            let resolved = target
                .strip_prefix('#')
                .and_then(|pointer| self.root.pointer(pointer))
                .unwrap_or(&Value::Null);
            return self.value(resolved, depth + 1);
        }
        if let Some(c) = schema.get("const") {
            return c.clone();
        }
        if let Some(Value::Array(options)) = schema.get("enum")
            && !options.is_empty()
        {
            return options[self.rng.random_range(0..options.len())].clone();
        }
        for union in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = kw(schema, union) {
                let usable: Vec<&Value> = branches.iter().filter(|b| !is_null_schema(b)).collect();
                if usable.is_empty() {
                    return Value::Null;
                }
                let pick = usable[self.rng.random_range(0..usable.len())];
                return self.value(pick, depth + 1);
            }
        }
        if let Some(Value::Array(branches)) = kw(schema, "allOf") {
            let merged = self.merge(schema, branches, depth);
            return self.value(&Value::Object(merged), depth + 1);
        }
        let types = type_names(schema);
        let chosen = types
            .iter()
            .find(|t| *t != "null" && *t != "type_unspecified")
            .cloned()
            .or_else(|| types.iter().any(|t| t == "null").then(|| "null".to_owned()))
            .unwrap_or_else(|| infer_type(schema).to_owned());
        match chosen.as_str() {
            "object" => self.object(schema, depth),
            "array" => self.array(schema, depth),
            "integer" => self.integer(schema),
            "number" => self.number(schema),
            "boolean" => Value::Bool(self.rng.random_bool(0.5)),
            "null" => Value::Null,
            _ => Value::String(self.string(schema)),
        }
    }

    /// Folds `allOf` branches (with `$ref`s resolved) into one schema.
    fn merge(
        &mut self,
        base: &Map<String, Value>,
        branches: &[Value],
        depth: usize,
    ) -> Map<String, Value> {
        let mut merged: Map<String, Value> = base
            .iter()
            .filter(|(k, _)| k.as_str() != "allOf" && k.as_str() != "all_of")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for branch in branches {
            let mut branch = branch;
            let mut hops = depth;
            while let Some(target) = branch.get("$ref").and_then(Value::as_str) {
                hops += 1;
                match target.strip_prefix('#').and_then(|p| self.root.pointer(p)) {
                    Some(resolved) if hops < MAX_DEPTH => branch = resolved,
                    _ => break,
                }
            }
            let Some(branch) = branch.as_object() else {
                continue;
            };
            for (k, v) in branch {
                match (k.as_str(), merged.get_mut(k)) {
                    ("properties", Some(Value::Object(props))) => {
                        if let Value::Object(more) = v {
                            props.extend(more.iter().map(|(k, v)| (k.clone(), v.clone())));
                        }
                    }
                    ("required", Some(Value::Array(req))) => {
                        if let Value::Array(more) = v {
                            req.extend(more.iter().cloned());
                        }
                    }
                    (_, Some(_)) => {}
                    (_, None) => {
                        merged.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        merged
    }

    fn object(&mut self, schema: &Map<String, Value>, depth: usize) -> Value {
        let mut out = Map::new();
        if self.exhausted(depth) {
            return Value::Object(out);
        }
        let empty = Map::new();
        let props = kw(schema, "properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let required: Vec<&str> = kw(schema, "required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut order: Vec<&str> = kw(schema, "propertyOrdering")
            .and_then(Value::as_array)
            .map(|o| {
                o.iter()
                    .filter_map(Value::as_str)
                    .filter(|n| props.contains_key(*n))
                    .collect()
            })
            .unwrap_or_default();
        for name in props.keys() {
            if !order.contains(&name.as_str()) {
                order.push(name);
            }
        }
        for name in &required {
            if !order.contains(name) {
                order.push(name);
            }
        }
        let limit = count(kw(schema, "maxProperties")).unwrap_or(u64::MAX);
        let any = Value::Object(Map::new());
        let mandatory = order.iter().filter(|n| required.contains(n));
        let optional = order.iter().filter(|n| !required.contains(n));
        for (i, name) in mandatory.chain(optional).enumerate() {
            if i >= required.len() && out.len() as u64 >= limit {
                break;
            }
            let sub = props.get(*name).unwrap_or(&any);
            let v = self.value(sub, depth + 1);
            out.insert((*name).to_owned(), v);
        }
        let wanted = count(kw(schema, "minProperties"))
            .unwrap_or(0)
            .min(MAX_ITEMS);
        let extra = match kw(schema, "additionalProperties") {
            Some(Value::Bool(false)) => None,
            Some(s @ Value::Object(_)) => Some(s.clone()),
            _ => Some(any),
        };
        if let Some(extra) = extra {
            let mut n = 1;
            while (out.len() as u64) < wanted {
                let key = format!("extra_{n}");
                n += 1;
                if !out.contains_key(&key) {
                    let v = self.value(&extra, depth + 1);
                    out.insert(key, v);
                }
            }
        }
        Value::Object(out)
    }

    fn array(&mut self, schema: &Map<String, Value>, depth: usize) -> Value {
        if self.exhausted(depth) {
            return Value::Array(Vec::new());
        }
        let min = count(kw(schema, "minItems")).unwrap_or(0).min(MAX_ITEMS);
        let max = count(kw(schema, "maxItems"))
            .unwrap_or(u64::MAX)
            .min(MAX_ITEMS)
            .max(min);
        let n = if min == 0 {
            self.rng.random_range(max.min(1)..=max.min(3))
        } else {
            self.rng.random_range(min..=max.min(min + 2))
        };
        let prefix: &[Value] = match (kw(schema, "prefixItems"), schema.get("items")) {
            (Some(Value::Array(p)), _) | (None, Some(Value::Array(p))) => p,
            _ => &[],
        };
        let rest = match schema.get("items") {
            Some(Value::Array(_)) | None if !prefix.is_empty() => None,
            Some(Value::Bool(false)) => None,
            Some(items) => Some(items.clone()),
            None => Some(Value::Object(Map::new())),
        };
        let mut out = Vec::new();
        for i in 0..n as usize {
            let item = match prefix.get(i) {
                Some(s) => self.value(s, depth + 1),
                None => match &rest {
                    Some(s) => self.value(s, depth + 1),
                    None => break,
                },
            };
            out.push(item);
        }
        Value::Array(out)
    }

    fn bounds(&self, schema: &Map<String, Value>) -> (Bound, Bound) {
        let exclusive = |key: &str, plain: &str| match kw(schema, key) {
            Some(Value::Bool(true)) => float(kw(schema, plain)).map(|v| (v, true)),
            Some(v @ (Value::Number(_) | Value::String(_))) => float(Some(v)).map(|v| (v, true)),
            _ => float(kw(schema, plain)).map(|v| (v, false)),
        };
        (
            exclusive("exclusiveMinimum", "minimum"),
            exclusive("exclusiveMaximum", "maximum"),
        )
    }

    fn integer(&mut self, schema: &Map<String, Value>) -> Value {
        const LIMIT: f64 = 9_007_199_254_740_991.0;
        let (lo, hi) = self.bounds(schema);
        let lo = lo.map(|(v, ex)| {
            if ex && v == v.floor() {
                v + 1.0
            } else {
                v.ceil()
            }
        });
        let hi = hi.map(|(v, ex)| {
            if ex && v == v.ceil() {
                v - 1.0
            } else {
                v.floor()
            }
        });
        let (lo, hi) = match (lo, hi) {
            (Some(l), Some(h)) => (l, h),
            (Some(l), None) => (l, l + 100.0),
            (None, Some(h)) => (h - 100.0, h),
            (None, None) => (0.0, 100.0),
        };
        let (lo, hi) = (
            lo.clamp(-LIMIT, LIMIT) as i64,
            hi.clamp(-LIMIT, LIMIT) as i64,
        );
        if lo >= hi {
            return Value::from(lo);
        }
        let step = float(kw(schema, "multipleOf"))
            .filter(|m| *m >= 1.0 && *m == m.floor() && *m <= LIMIT)
            .map(|m| m as i64);
        match step {
            Some(m) => {
                let (first, last) = (
                    lo.div_euclid(m) + i64::from(lo.rem_euclid(m) != 0),
                    hi.div_euclid(m),
                );
                if first > last {
                    Value::from(lo)
                } else {
                    Value::from(self.rng.random_range(first..=last) * m)
                }
            }
            None => Value::from(self.rng.random_range(lo..=hi)),
        }
    }

    fn number(&mut self, schema: &Map<String, Value>) -> Value {
        let (lo, hi) = self.bounds(schema);
        let (l, h) = match (lo, hi) {
            (Some((l, _)), Some((h, _))) => (l, h),
            (Some((l, _)), None) => (l, l + 100.0),
            (None, Some((h, _))) => (h - 100.0, h),
            (None, None) => (0.0, 100.0),
        };
        if l >= h || !(h - l).is_finite() {
            return Value::from(if l.is_finite() { l } else { 0.0 });
        }
        let raw = l + (h - l) * self.rng.random_range(0.05..0.95);
        let rounded = (raw * 100.0).round() / 100.0;
        let inside = |v: f64| {
            lo.is_none_or(|(b, ex)| if ex { v > b } else { v >= b })
                && hi.is_none_or(|(b, ex)| if ex { v < b } else { v <= b })
        };
        let v = if inside(rounded) { rounded } else { raw };
        serde_json::Number::from_f64(v).map_or(Value::from(0), Value::Number)
    }

    fn string(&mut self, schema: &Map<String, Value>) -> String {
        let r = &mut *self.rng;
        let formatted = match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => Some(format!(
                "2025-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                r.random_range(1..=12),
                r.random_range(1..=28),
                r.random_range(0..24),
                r.random_range(0..60),
                r.random_range(0..60)
            )),
            Some("date") => Some(format!(
                "2025-{:02}-{:02}",
                r.random_range(1..=12),
                r.random_range(1..=28)
            )),
            Some("time") => Some(format!(
                "{:02}:{:02}:{:02}",
                r.random_range(0..24),
                r.random_range(0..60),
                r.random_range(0..60)
            )),
            Some("email") => Some(format!(
                "{}@example.com",
                textgen::phrase(r, 2).replace(' ', ".")
            )),
            Some("uuid") => {
                let a: u128 = r.random();
                let h = format!("{a:032x}");
                Some(format!(
                    "{}-{}-4{}-a{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[13..16],
                    &h[17..20],
                    &h[20..]
                ))
            }
            Some("uri" | "url" | "uri-reference" | "iri") => Some(format!(
                "https://example.com/{}",
                textgen::phrase(r, 2).replace(' ', "/")
            )),
            Some("hostname") => Some(format!("{}.example.com", textgen::phrase(r, 1))),
            Some("ipv4") => Some(format!("192.0.2.{}", r.random_range(1..=254))),
            Some("ipv6") => Some(format!("2001:db8::{:x}", r.random_range(1..=0xffffu32))),
            _ => None,
        };
        if let Some(s) = formatted {
            return s;
        }
        let min = count(kw(schema, "minLength"))
            .unwrap_or(0)
            .min(MAX_STRING_CHARS) as usize;
        let max = count(kw(schema, "maxLength"))
            .unwrap_or(MAX_STRING_CHARS)
            .min(MAX_STRING_CHARS) as usize;
        let words = r.random_range(1..=4);
        let mut s = textgen::phrase(r, words);
        while s.chars().count() < min {
            s.push(' ');
            s.push_str(&textgen::phrase(r, 1));
        }
        if s.chars().count() > max {
            s = s.chars().take(max).collect();
        }
        s
    }
}

fn infer_type(schema: &Map<String, Value>) -> &'static str {
    if kw(schema, "properties").is_some() || kw(schema, "additionalProperties").is_some() {
        "object"
    } else if schema.contains_key("items") || kw(schema, "prefixItems").is_some() {
        "array"
    } else if schema.contains_key("minimum") || schema.contains_key("maximum") {
        "number"
    } else {
        "string"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prng::Digest;
    use serde_json::json;

    fn generated(schema: Value) -> Value {
        generate(&schema, &mut Digest::new(3).rng())
    }

    #[test]
    fn json_schema_object_with_required_enum_and_nesting() {
        let v = generated(json!({
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 30},
                "unit": {"type": "string", "enum": ["c", "f"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
                "where": {"type": "object", "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90}}, "required": ["lat"]}
            },
            "required": ["city", "unit"],
            "additionalProperties": false
        }));
        assert!(v["city"].as_str().unwrap().chars().count() >= 30);
        assert!(["c", "f"].contains(&v["unit"].as_str().unwrap()));
        assert!((1..=7).contains(&v["days"].as_i64().unwrap()));
        assert_eq!(v["tags"].as_array().unwrap().len(), 2);
        assert!(v["where"]["lat"].as_f64().unwrap().abs() <= 90.0);
    }

    #[test]
    fn gemini_openapi_subset_upper_case_and_snake_keys() {
        let v = generated(json!({
            "type": "OBJECT",
            "properties": {
                "b": {"type": "BOOLEAN"},
                "n": {"type": "INTEGER", "nullable": true},
                "xs": {"type": "ARRAY", "items": {"type": "NUMBER"}, "min_items": "3"}
            },
            "property_ordering": ["xs", "n", "b"],
            "required": ["b"]
        }));
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["b", "xs", "n"]);
        assert!(v["b"].is_boolean() && v["n"].is_i64());
        assert!(v["xs"].as_array().unwrap().len() >= 3);
    }

    #[test]
    fn refs_unions_and_exclusive_bounds() {
        let v = generated(json!({
            "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}, "required": ["next"]}},
            "type": "object",
            "properties": {
                "tree": {"$ref": "#/$defs/node"},
                "either": {"anyOf": [{"type": "null"}, {"type": "integer", "exclusiveMinimum": 5, "exclusiveMaximum": 7}]},
                "both": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, {"properties": {"b": {"const": 1}}}]},
                "kind": {"type": ["null", "string"], "format": "uuid"}
            }
        }));
        assert_eq!(v["either"], json!(6));
        assert!(v["both"]["a"].is_string());
        assert_eq!(v["both"]["b"], json!(1));
        assert_eq!(v["kind"].as_str().unwrap().len(), 36);
        assert!(v["tree"]["next"].is_object());
    }

    #[test]
    fn hostile_schemas_stay_bounded() {
        let v = generated(
            json!({"type": "array", "minItems": 1_000_000_000u64, "items": {"type": "array", "minItems": 64, "items": {"type": "array", "minItems": 64, "items": {"type": "string"}}}}),
        );
        assert_eq!(v.as_array().unwrap().len(), MAX_ITEMS as usize);
        let v = generated(json!({"$ref": "#"}));
        assert!(v.is_null());
        let v = generated(json!({"type": "integer", "minimum": 1e300, "maximum": -1e300}));
        assert!(v.is_i64());
        let v = generated(json!({"type": "number", "minimum": -1e308, "maximum": 1e308}));
        assert!(v.is_number());
        let m = generated(json!({"type": "integer", "minimum": 3, "maximum": 9, "multipleOf": 4}));
        assert!(m == json!(4) || m == json!(8), "{m}");
    }
}
