//! JSON values to protobuf `Struct`s and back, the encoding Pulumi uses for resource properties.
//! Numbers go as doubles, so callers send large integers as strings.

use prost_types::{value::Kind, ListValue, Struct, Value};
use serde_json::Value as Json;

pub fn to_struct(map: &serde_json::Map<String, Json>) -> Struct {
    Struct {
        fields: map.iter().map(|(k, v)| (k.clone(), to_value(v))).collect(),
    }
}

pub fn to_value(v: &Json) -> Value {
    let kind = match v {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Json::String(s) => Kind::StringValue(s.clone()),
        Json::Array(a) => Kind::ListValue(ListValue {
            values: a.iter().map(to_value).collect(),
        }),
        Json::Object(m) => Kind::StructValue(to_struct(m)),
    };
    Value { kind: Some(kind) }
}

/// A `Struct` as a JSON object (the engine's answers: an invoke's return, outputs).
pub fn from_struct(s: &Struct) -> Json {
    Json::Object(
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), from_value(v)))
            .collect(),
    )
}

fn from_value(v: &Value) -> Json {
    match v.kind.as_ref() {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => Json::Bool(*b),
        Some(Kind::NumberValue(n)) => serde_json::json!(n),
        Some(Kind::StringValue(s)) => Json::String(s.clone()),
        Some(Kind::ListValue(l)) => Json::Array(l.values.iter().map(from_value).collect()),
        Some(Kind::StructValue(s)) => from_struct(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structs_read_back_as_the_json_they_were_made_from() {
        let j = serde_json::json!({"held": {"v1/ConfigMap": ["a", "b"]}, "read": 3.0, "ok": true});
        assert_eq!(from_struct(&to_struct(j.as_object().unwrap())), j);
    }

    #[test]
    fn nested_values_round_trip_their_shape() {
        let j = serde_json::json!({"a": [1, "x", null, {"b": true}]});
        let s = to_struct(j.as_object().unwrap());
        let Some(Kind::ListValue(list)) = &s.fields["a"].kind else {
            panic!("not a list")
        };
        assert_eq!(list.values.len(), 4);
        assert_eq!(list.values[0].kind, Some(Kind::NumberValue(1.0)));
        assert!(matches!(list.values[3].kind, Some(Kind::StructValue(_))));
    }
}
