//! Formulas: TOML workflow source cooked into protomolecules. Pure: text in, records out.
