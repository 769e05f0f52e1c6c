//! How OpenAI lists items (a response's input items, a conversation's
//! items): each item in its listed form, and a page of them in a cursor
//! list (`limit` 1 to 100, 20 by default; `order` `desc` by default;
//! `after` an item id).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;

/// The query of an item listing.
#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<usize>,
    order: Option<String>,
    after: Option<String>,
}

/// A page of `items` (oldest first, each listed, with its `id`) as the
/// query asks.
pub fn page(mut items: Vec<Value>, query: &ListQuery) -> Result<Value, ApiError> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest {
            message: format!(
                "Invalid 'limit': integer out of range. Expected a value between 1 and 100, but got {limit} instead."
            ),
            param: Some("limit".into()),
        });
    }
    match query.order.as_deref() {
        None | Some("desc") => items.reverse(),
        Some("asc") => {}
        Some(other) => {
            return Err(ApiError::BadRequest {
                message: format!(
                    "Invalid value: '{other}'. Supported values are: 'asc' and 'desc'."
                ),
                param: Some("order".into()),
            });
        }
    }
    let start = match &query.after {
        Some(after) => items
            .iter()
            .position(|item| item["id"].as_str() == Some(after))
            .map_or(items.len(), |at| at + 1),
        None => 0,
    };
    let page: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
    let has_more = start + page.len() < items.len();
    Ok(list(page, has_more))
}

/// A list object of `data`.
pub fn list(data: Vec<Value>, has_more: bool) -> Value {
    json!({
        "object": "list",
        "first_id": data.first().map(|item| item["id"].clone()),
        "last_id": data.last().map(|item| item["id"].clone()),
        "data": data,
        "has_more": has_more,
    })
}

/// An item as OpenAI lists one: typed, a message's text content as a list
/// of parts, its status, and `id` when it came without one.
pub fn listed(item: &Value, id: &str) -> Value {
    let mut item = item.clone();
    if let Some(object) = item.as_object_mut() {
        let kind = object
            .entry("type")
            .or_insert_with(|| Value::String("message".into()));
        if kind == "message" {
            let part = match object.get("role").and_then(Value::as_str) {
                Some("assistant") => "output_text",
                _ => "input_text",
            };
            if let Some(Value::String(text)) = object.get("content") {
                let parts = json!([{"type": part, "text": text}]);
                object.insert("content".into(), parts);
            }
            object
                .entry("status")
                .or_insert_with(|| Value::String("completed".into()));
        }
        object
            .entry("id")
            .or_insert_with(|| Value::String(id.to_string()));
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(limit: Option<usize>, order: Option<&str>, after: Option<&str>) -> ListQuery {
        ListQuery {
            limit,
            order: order.map(String::from),
            after: after.map(String::from),
        }
    }

    fn ids(list: &Value) -> Vec<&str> {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn pages_go_newest_first_by_default_and_continue_after_an_id() {
        let items: Vec<Value> = (1..=5).map(|i| json!({"id": format!("m{i}")})).collect();
        let first = page(items.clone(), &query(Some(2), None, None)).unwrap();
        assert_eq!(ids(&first), ["m5", "m4"]);
        assert_eq!(
            (first["has_more"].clone(), first["last_id"].clone()),
            (json!(true), json!("m4"))
        );
        let next = page(items.clone(), &query(Some(2), None, Some("m4"))).unwrap();
        assert_eq!(ids(&next), ["m3", "m2"]);
        let last = page(items.clone(), &query(None, Some("asc"), Some("m3"))).unwrap();
        assert_eq!(
            (ids(&last), last["has_more"].clone()),
            (vec!["m4", "m5"], json!(false))
        );
        assert!(page(items.clone(), &query(Some(0), None, None)).is_err());
        assert!(page(items, &query(None, Some("up"), None)).is_err());
    }

    #[test]
    fn a_text_message_is_listed_with_typed_parts_and_its_id() {
        let listed = listed(&json!({"role": "user", "content": "hi"}), "msg_1");
        assert_eq!(
            listed,
            json!({"type": "message", "role": "user", "status": "completed", "id": "msg_1",
                   "content": [{"type": "input_text", "text": "hi"}]})
        );
        let kept = super::listed(&json!({"type": "function_call", "id": "fc_9"}), "msg_2");
        assert_eq!(kept["id"], "fc_9");
    }
}
