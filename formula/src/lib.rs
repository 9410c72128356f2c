//! Formulas: TOML workflow source cooked into protomolecules. Pure: text in, records out.
//!
//! The MEOW stack's first two phases: a *formula* (`*.formula.toml`, the composable source)
//! is *cooked* into a [`Protomolecule`] (a frozen template: extends and composition resolved,
//! variables substituted, steps in topological order). Pouring that into beads is the
//! ledger's job; [`Protomolecule::pour_records`] hands it the steps with their edges.
//!
//! - [`model`]: the file schema ([`Formula`], [`Step`], [`VarDef`], legs, compose, advice,
//!   step overrides, [`Overlay`]);
//! - [`Formula::parse`]: text → formula, TOML errors with file, line and column;
//! - [`Library`]: formulas by name along a search path (rig, town, built-in);
//! - [`cook`] / [`cook_formula`]: formula → [`Protomolecule`], every error naming the file and,
//!   where there is one, the step ([`FormulaError`]);
//! - [`loader`]: the only I/O — reading search-path directories, files and overlays.
//!
//! ```
//! use gastown_formula::{Formula, Library, Vars, CookOptions, cook_formula};
//! let text = r#"
//! formula = "release"
//! [vars.version]
//! required = true
//! [[steps]]
//! id = "tag"
//! title = "Tag v{{version}}"
//! [[steps]]
//! id = "publish"
//! needs = ["tag"]
//! "#;
//! let formula = Formula::parse("release.formula.toml", text).expect("valid");
//! let vars = Vars::from([("version".to_string(), "1.2.0".to_string())]);
//! let options = CookOptions { vars: Some(&vars), overlay: None };
//! let proto = cook_formula(&Library::builtin(), &formula, &options).expect("cooks");
//! assert_eq!(proto.steps[0].title, "Tag v1.2.0");
//! assert_eq!(proto.pour_records()[1].blocked_by, vec![0]);
//! ```

mod builtin;
mod compose;
mod cook;
mod error;
mod graph;
mod library;
pub mod loader;
pub mod model;
mod parse;
mod proto;
mod resolve;
mod template;

#[cfg(test)]
mod tests;

pub use builtin::SOURCES as BUILTIN_SOURCES;
pub use cook::{CookOptions, Vars, cook, cook_formula, declared_vars};
pub use error::FormulaError;
pub use library::{Entry, Library, Listed, stem};
pub use model::{Formula, FormulaKind, Overlay, OverrideMode, Step, StepOverride, VarDef};
pub use proto::{PourRecord, ProtoStep, Protomolecule};
pub use resolve::MAX_EXTENDS_DEPTH;
