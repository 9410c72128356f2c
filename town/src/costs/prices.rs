//! What tokens cost: a price table per model, in dollars per million tokens, with defaults for
//! the common models and overrides from `town.toml`:
//!
//! ```toml
//! [prices."claude-sonnet-4-5"]
//! input = 3.0
//! output = 15.0
//! cache_write = 3.75
//! cache_read = 0.30
//! ```
//!
//! A model is priced by the longest table key it starts with (`claude-sonnet-4-5-20250929` by
//! `claude-sonnet-4-5`). A model the table does not know has its tokens counted and no cost
//! (said so, never guessed).

use super::usage::Tokens;
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Dollars per million tokens, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    #[serde(default)]
    pub cache_write: f64,
    #[serde(default)]
    pub cache_read: f64,
}

impl Price {
    const fn new(input: f64, output: f64, cache_write: f64, cache_read: f64) -> Price {
        Price {
            input,
            output,
            cache_write,
            cache_read,
        }
    }

    /// What `tokens` cost at this price, in dollars.
    pub fn cost(&self, tokens: &Tokens) -> f64 {
        (tokens.input as f64 * self.input
            + tokens.output as f64 * self.output
            + tokens.cache_write as f64 * self.cache_write
            + tokens.cache_read as f64 * self.cache_read)
            / 1_000_000.0
    }
}

/// The defaults (public list prices, dollars per million tokens).
pub const DEFAULTS: &[(&str, Price)] = &[
    ("claude-opus-4", Price::new(15.0, 75.0, 18.75, 1.50)),
    ("claude-opus-4-5", Price::new(5.0, 25.0, 6.25, 0.50)),
    ("claude-sonnet-4", Price::new(3.0, 15.0, 3.75, 0.30)),
    ("claude-3-7-sonnet", Price::new(3.0, 15.0, 3.75, 0.30)),
    ("claude-haiku-4-5", Price::new(1.0, 5.0, 1.25, 0.10)),
    ("claude-3-5-haiku", Price::new(0.80, 4.0, 1.0, 0.08)),
    ("gpt-5", Price::new(1.25, 10.0, 0.0, 0.125)),
    ("gpt-5-mini", Price::new(0.25, 2.0, 0.0, 0.025)),
    ("gpt-5-nano", Price::new(0.05, 0.40, 0.0, 0.005)),
    ("gpt-4.1", Price::new(2.0, 8.0, 0.0, 0.50)),
    ("o3", Price::new(2.0, 8.0, 0.0, 0.50)),
    ("o4-mini", Price::new(1.10, 4.40, 0.0, 0.275)),
    // The scripted sim agent: its tokens are a record of its turns, not a bill.
    ("sim", Price::new(0.0, 0.0, 0.0, 0.0)),
];

/// The table: the defaults with `town.toml`'s `[prices]` over them.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable {
            prices: DEFAULTS
                .iter()
                .map(|(model, price)| (model.to_string(), *price))
                .collect(),
        }
    }
}

impl PriceTable {
    /// The defaults with `overrides` over them; a negative or non-finite price is refused,
    /// naming the key.
    pub fn with(overrides: &BTreeMap<String, Price>) -> Result<PriceTable> {
        let mut table = PriceTable::default();
        for (model, price) in overrides {
            if model.trim().is_empty() {
                bail!(
                    "[prices] has an empty model name: name the model, e.g. [prices.\"claude-sonnet-4-5\"]"
                );
            }
            for (kind, value) in [
                ("input", price.input),
                ("output", price.output),
                ("cache_write", price.cache_write),
                ("cache_read", price.cache_read),
            ] {
                if !value.is_finite() || value < 0.0 {
                    bail!(
                        "prices.\"{model}\".{kind} is {value}: a price is dollars per million tokens, 0 or more"
                    );
                }
            }
            table.prices.insert(model.clone(), *price);
        }
        Ok(table)
    }

    /// The price of `model`: the longest key it starts with.
    pub fn price(&self, model: &str) -> Option<&Price> {
        self.prices
            .iter()
            .filter(|(key, _)| model.starts_with(key.as_str()))
            .max_by_key(|(key, _)| key.len())
            .map(|(_, price)| price)
    }

    /// What `tokens` of `model` cost; `None` for a model the table does not know.
    pub fn cost(&self, model: &str, tokens: &Tokens) -> Option<f64> {
        self.price(model).map(|p| p.cost(tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_matching_key_prices_a_model() {
        let table = PriceTable::default();
        let tokens = Tokens {
            input: 1_000_000,
            output: 1_000_000,
            cache_write: 0,
            cache_read: 0,
        };
        assert_eq!(
            table.cost("claude-sonnet-4-5-20250929", &tokens),
            Some(18.0)
        );
        assert_eq!(table.cost("claude-opus-4-5-20251101", &tokens), Some(30.0));
        assert_eq!(table.cost("claude-opus-4-1-20250805", &tokens), Some(90.0));
        assert_eq!(table.cost("gpt-5-mini", &tokens), Some(2.25));
        assert_eq!(table.cost("some-local-model", &tokens), None);
    }

    #[test]
    fn overrides_replace_defaults_and_bad_prices_are_refused() {
        let mut overrides = BTreeMap::new();
        overrides.insert("gpt-5".to_string(), Price::new(2.0, 20.0, 0.0, 0.0));
        overrides.insert("my-model".to_string(), Price::new(0.5, 0.5, 0.0, 0.0));
        let table = PriceTable::with(&overrides).expect("valid");
        let tokens = Tokens {
            input: 500_000,
            output: 0,
            cache_write: 0,
            cache_read: 0,
        };
        assert_eq!(table.cost("gpt-5-codex", &tokens), Some(1.0));
        assert_eq!(table.cost("my-model", &tokens), Some(0.25));
        overrides.insert("bad".to_string(), Price::new(-1.0, 1.0, 0.0, 0.0));
        let err = PriceTable::with(&overrides).expect_err("negative");
        assert!(
            err.to_string().contains("prices.\"bad\".input is -1"),
            "{err}"
        );
    }
}
