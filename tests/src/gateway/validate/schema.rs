//! The JSON type of every top-level field of seven's `WabaMessageRequest`, as its published
//! schema states, checked before any other rule: a field sent as the wrong type (`"delay":
//! 1796430651` where the schema says string) is refused with 400 naming it, as seven refuses it,
//! so that no field of wacast's requests drifts from the schema unnoticed. An explicit `null`
//! is an absent field, as everywhere in the mock.

use serde_json::{Map, Value};

use crate::gateway::validate::{Rejection, bad};

/// A JSON type of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    String,
    Integer,
    Number,
    Boolean,
    Array,
    Object,
}

impl Type {
    fn holds(self, value: &Value) -> bool {
        match self {
            Type::String => value.is_string(),
            Type::Integer => value.is_i64() || value.is_u64(),
            Type::Number => value.is_number(),
            Type::Boolean => value.is_boolean(),
            Type::Array => value.is_array(),
            Type::Object => value.is_object(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Type::String => "a string",
            Type::Integer => "an integer",
            Type::Number => "a number",
            Type::Boolean => "a boolean (true or false)",
            Type::Array => "an array",
            Type::Object => "an object",
        }
    }
}

/// Every field of the request body and its type (`seeds/001_…` and the `WabaMessageRequest`
/// schema, where `delay` is a string: `YYYY-MM-DD hh:mm:ss` or a Unix timestamp as text).
const FIELDS: &[(&str, Type)] = &[
    ("from", Type::String),
    ("to", Type::String),
    ("type", Type::String),
    ("delay", Type::String),
    ("ttl", Type::Integer),
    ("label", Type::String),
    ("performance_tracking", Type::Boolean),
    ("foreign_id", Type::String),
    ("template", Type::String),
    ("language", Type::String),
    ("components", Type::Object),
    ("text", Type::String),
    ("url", Type::String),
    ("caption", Type::String),
    ("filename", Type::String),
    ("latitude", Type::Number),
    ("longitude", Type::Number),
    ("name", Type::String),
    ("address", Type::String),
    ("contacts", Type::Array),
    ("interactive_type", Type::String),
    ("body", Type::String),
    ("header", Type::String),
    ("footer", Type::String),
    ("buttons", Type::Array),
    ("button_text", Type::String),
    ("sections", Type::Array),
];

/// Refuses the first field whose value is not of the schema's type.
pub(crate) fn check_types(obj: &Map<String, Value>) -> Result<(), Rejection> {
    for (key, kind) in FIELDS {
        if let Some(value) = obj.get(*key).filter(|v| !v.is_null())
            && !kind.holds(value)
        {
            return Err(bad(format!(
                "{key} must be {} (seven's WabaMessageRequest schema), got {value}",
                kind.name()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(body: Value) -> Result<(), String> {
        check_types(body.as_object().unwrap()).map_err(|r| r.message)
    }

    #[test]
    fn every_field_has_the_schemas_type() {
        assert!(check(json!({"from": "49151", "delay": "1796430651", "ttl": 60})).is_ok());
        let err = check(json!({"delay": 1_796_430_651})).unwrap_err();
        assert!(err.starts_with("delay must be a string"), "{err}");
        assert!(
            check(json!({"ttl": "60"}))
                .unwrap_err()
                .contains("ttl must be an integer")
        );
        assert!(check(json!({"latitude": "52.5"})).is_err());
        assert!(check(json!({"latitude": 52.5, "delay": null})).is_ok());
    }
}
