//! A field that crosses a binary wire as its JSON text: `#[serde(with = "as_json")]`.
//!
//! Ledger records keep fields they do not know in a JSON map (`#[serde(flatten)]`), leave empty
//! fields out (`skip_serializing_if`) and some outcomes are internally tagged enums: all of that
//! needs a self-describing format, which bincode (the socket's) is not. In a format that is not
//! human-readable a field marked with this adapter is written as one string holding its JSON —
//! the very JSON `--json` prints — and read back into its type, so a typed outcome stays typed
//! on both ends of the socket and a record loses none of its unknown fields on the way. In a
//! human-readable format (JSON itself) the field is written as it is.

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Writes `value` as itself (human-readable formats) or as a string holding its JSON.
pub fn serialize<T: Serialize, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        return value.serialize(serializer);
    }
    let text = serde_json::to_string(value).map_err(S::Error::custom)?;
    serializer.serialize_str(&text)
}

/// Reads what [`serialize`] wrote.
pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    if deserializer.is_human_readable() {
        return T::deserialize(deserializer);
    }
    let text = String::deserialize(deserializer)?;
    serde_json::from_str(&text).map_err(D::Error::custom)
}

#[cfg(test)]
mod tests {
    use gastown_beads::Bead;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Carrier {
        #[serde(with = "super")]
        bead: Bead,
        count: u32,
    }

    fn carrier() -> Carrier {
        let mut bead = Bead::new("gt-abc", "title".to_string());
        bead.extra.insert(
            "from_the_future".to_string(),
            serde_json::json!({"x": [1, 2]}),
        );
        Carrier { bead, count: 3 }
    }

    #[test]
    fn a_bead_keeps_its_unknown_fields_through_a_non_self_describing_format() {
        let carrier = carrier();
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&carrier, config).expect("encodes");
        let (back, _): (Carrier, usize) =
            bincode::serde::decode_from_slice(&bytes, config).expect("decodes");
        assert_eq!(back, carrier);
    }

    #[test]
    fn in_json_the_field_is_plain_json() {
        let carrier = carrier();
        let json = serde_json::to_value(&carrier).expect("json");
        assert_eq!(json["bead"]["id"], "gt-abc");
        assert_eq!(json["bead"]["from_the_future"]["x"][1], 2);
        let back: Carrier = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, carrier);
    }
}
