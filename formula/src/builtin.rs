//! The formulas built into the binary: the lowest layer of every search path, so a fresh town
//! can sling work and run patrols before anyone writes a formula.

/// `(file name, text)` of every built-in formula, embedded at compile time.
pub const SOURCES: &[(&str, &str)] = &[
    (
        "mol-polecat-work.formula.toml",
        include_str!("../formulas/mol-polecat-work.formula.toml"),
    ),
    (
        "shiny.formula.toml",
        include_str!("../formulas/shiny.formula.toml"),
    ),
    (
        "mol-witness-patrol.formula.toml",
        include_str!("../formulas/mol-witness-patrol.formula.toml"),
    ),
    (
        "mol-refinery-patrol.formula.toml",
        include_str!("../formulas/mol-refinery-patrol.formula.toml"),
    ),
    (
        "mol-deacon-patrol.formula.toml",
        include_str!("../formulas/mol-deacon-patrol.formula.toml"),
    ),
];
