//! Durations in config files: written in humantime syntax (`"10m"`, `"500ms"`), parsed once when
//! the file is read, so a bad value is an error at load that names the key — never later, at
//! use.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// A duration written in humantime syntax (`"10m"`, `"200ms"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text)
            .map(HumanDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "bad duration {text:?} ({e}): use a duration like \"10m\" or \"500ms\""
                ))
            })
    }
}

impl std::fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Serialize)]
    struct T {
        d: HumanDuration,
    }

    #[test]
    fn parses_formats_and_names_what_is_wrong() {
        let t: T = toml::from_str("d = \"1m 30s\"").expect("parses");
        assert_eq!(t.d.0, Duration::from_secs(90));
        assert_eq!(
            toml::to_string(&t).expect("writes").trim(),
            "d = \"1m 30s\""
        );
        let err = toml::from_str::<T>("d = \"soon\"").err().expect("refused");
        let text = err.to_string();
        assert!(text.contains("soon") && text.contains("\"10m\""), "{text}");
    }
}
