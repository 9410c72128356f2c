//! Typed reads and writes of a bead's `extra` fields: the fields Gas Town's records (agents,
//! merge requests, mail, molecules) keep beside the classic schema, which a round trip through
//! `bd` keeps like any unknown field.
//!
//! [`Fields`] reads a field as the JSON type it must have and fails with a [`FieldError`] naming
//! the bead and the field when it has another (an absent or `null` field reads as `None`: beads
//! made by `bd` or by older versions have none). [`ExtraPatch`] collects changes for
//! [`Ledger::set_extra`]. The record views built on them live with the domain (`gastown-town`).

use crate::ledger::Ledger;
use crate::{Bead, LedgerError};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A field of a bead's `extra` that holds another JSON type than its record says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "field `{field}` of {bead} is {found}, not {expected}: the record was changed by hand or by \
     another tool; correct the field (`gastown bead show {bead} --json` shows it; `gastown bead \
     export`, edit, `gastown bead import` writes it back)"
)]
pub struct FieldError {
    pub bead: String,
    pub field: &'static str,
    /// The JSON type the field must have: "a string".
    pub expected: &'static str,
    /// What it holds (shortened), e.g. `3.5` or an object.
    pub found: String,
}

/// Typed reads of one bead's `extra` fields.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    bead: &'a Bead,
}

impl<'a> Fields<'a> {
    /// Read the fields of `bead`.
    pub fn of(bead: &'a Bead) -> Fields<'a> {
        Fields { bead }
    }

    /// The raw value of a field (absent or `null`: `None`).
    pub fn value(&self, field: &str) -> Option<&'a Value> {
        self.bead.extra.get(field).filter(|v| !v.is_null())
    }

    fn wrong(&self, field: &'static str, expected: &'static str, found: &Value) -> FieldError {
        let mut found = found.to_string();
        if found.len() > 60 {
            let mut end = 57;
            while !found.is_char_boundary(end) {
                end -= 1;
            }
            found.truncate(end);
            found.push('…');
        }
        FieldError {
            bead: self.bead.id.clone(),
            field,
            expected,
            found,
        }
    }

    /// A text field.
    pub fn text(&self, field: &'static str) -> Result<Option<&'a str>, FieldError> {
        match self.value(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(self.wrong(field, "a string", other)),
        }
    }

    /// A text field where the empty string means "none", as several records write it.
    pub fn non_empty(&self, field: &'static str) -> Result<Option<&'a str>, FieldError> {
        Ok(self.text(field)?.filter(|s| !s.is_empty()))
    }

    /// A count.
    pub fn count(&self, field: &'static str) -> Result<Option<u64>, FieldError> {
        match self.value(field) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.wrong(field, "a whole number", v)),
        }
    }

    /// A flag.
    pub fn flag(&self, field: &'static str) -> Result<Option<bool>, FieldError> {
        match self.value(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong(field, "true or false", other)),
        }
    }

    /// A structured field, read as `T` (`expected` names its shape for the error).
    pub fn parsed<T: DeserializeOwned>(
        &self,
        field: &'static str,
        expected: &'static str,
    ) -> Result<Option<T>, FieldError> {
        match self.value(field) {
            None => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|_| self.wrong(field, expected, v)),
        }
    }
}

/// Changes to a record's `extra` fields, built by the typed setters of its view: what
/// [`Ledger::set_extra`] applies (a field set to nothing is removed), or the `extra` of a new
/// bead.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExtraPatch {
    fields: Map<String, Value>,
}

impl ExtraPatch {
    /// Set `field` to `value`.
    pub fn set(mut self, field: &'static str, value: impl Into<Value>) -> ExtraPatch {
        self.fields.insert(field.to_string(), value.into());
        self
    }

    /// Remove `field`.
    pub fn unset(mut self, field: &'static str) -> ExtraPatch {
        self.fields.insert(field.to_string(), Value::Null);
        self
    }

    /// Set `field` to `value`, or remove it for `None`.
    pub fn set_or_unset(self, field: &'static str, value: Option<impl Into<Value>>) -> ExtraPatch {
        match value {
            Some(v) => self.set(field, v),
            None => self.unset(field),
        }
    }

    /// Nothing to change.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields as they go into the ledger (`null`: remove).
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// Apply to the bead `id` as `who`; returns the bead as written.
    pub fn write(self, ledger: &mut Ledger, id: &str, who: &str) -> Result<Bead, LedgerError> {
        ledger.set_extra(id, self.fields, who)
    }

    /// The `extra` of a new bead (fields to remove are left out).
    pub fn into_extra(self) -> Map<String, Value> {
        self.fields
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bead(extra: Value) -> Bead {
        let mut bead = Bead::new("gt-abc", "t");
        bead.extra = extra.as_object().expect("an object").clone();
        bead
    }

    #[test]
    fn fields_read_their_type_or_name_the_bead_and_the_field() {
        let b = bead(json!({"s": "x", "e": "", "n": 3, "f": true, "z": null, "bad": 3.5}));
        let f = Fields::of(&b);
        assert_eq!(f.text("s"), Ok(Some("x")));
        assert_eq!(f.non_empty("e"), Ok(None));
        assert_eq!(f.text("missing"), Ok(None));
        assert_eq!(f.text("z"), Ok(None), "null is absent");
        assert_eq!(f.count("n"), Ok(Some(3)));
        assert_eq!(f.flag("f"), Ok(Some(true)));
        let err = f.count("bad").expect_err("not a count");
        assert_eq!(
            err,
            FieldError {
                bead: "gt-abc".to_string(),
                field: "bad",
                expected: "a whole number",
                found: "3.5".to_string(),
            }
        );
        let text = err.to_string();
        assert!(text.contains("`bad` of gt-abc is 3.5"), "{text}");
        assert!(!text.ends_with('.'), "{text}");
        assert!(f.text("n").is_err());
        assert!(f.flag("s").is_err());
    }

    #[test]
    fn a_patch_sets_and_removes_and_a_new_bead_gets_only_what_is_set() {
        let patch = ExtraPatch::default()
            .set("a", "x")
            .unset("b")
            .set_or_unset("c", Some(2))
            .set_or_unset("d", None::<String>);
        assert_eq!(
            Value::Object(patch.fields().clone()),
            json!({"a": "x", "b": null, "c": 2, "d": null})
        );
        assert_eq!(Value::Object(patch.into_extra()), json!({"a": "x", "c": 2}));
    }
}
