//! What cooking makes of extends, expansions, aspects, overrides, children, convoys, variables
//! and the built-in formulas.

use super::{cook_in, ids, library, needs};
use crate::{CookOptions, Formula, Library, Overlay, Vars, cook, cook_formula, declared_vars};

const BASE: &str = r#"
formula = "base"
description = "Base for {{feature}} by {{who}}"
[vars]
who = "nobody"
[vars.feature]
description = "What is built"
required = true
[[steps]]
id = "design"
title = "Design {{feature}}"
[[steps]]
id = "implement"
title = "Implement {{feature}}"
description = "Build {{feature}}"
needs = ["design"]
[[steps]]
id = "test"
needs = ["implement"]
acceptance = "{{feature}} tested"
"#;

const TWO_STEP_EXPANSION: &str = r#"
formula = "twice"
type = "expansion"
[vars]
rounds = "2"
[[template]]
id = "{target}.first"
title = "First: {target.title} x{{rounds}}"
description = "{target.description} ({pass})"
[[template]]
id = "{target}.second"
needs = ["{target}.first"]
"#;

#[test]
fn variables_substitute_with_defaults_and_given_values() {
    let proto = cook_in(
        &[("base.formula.toml", BASE)],
        "base",
        &[("feature", "auth")],
    )
    .expect("base cooks");
    assert_eq!(proto.steps[0].title, "Design auth");
    assert_eq!(proto.steps[1].description, "Build auth");
    assert_eq!(proto.steps[2].acceptance.as_deref(), Some("auth tested"));
    assert_eq!(proto.description, "Base for auth by nobody");
    assert_eq!(proto.vars["who"], "nobody");
    assert_eq!(proto.steps[2].title, "test", "title defaults to the id");
}

#[test]
fn undeclared_values_are_ignored_with_a_warning() {
    let vars = [("feature", "auth"), ("colour", "blue")];
    let proto = cook_in(&[("base.formula.toml", BASE)], "base", &vars).expect("base cooks");
    assert!(!proto.vars.contains_key("colour"));
    assert_eq!(proto.warnings.len(), 1);
    assert!(
        proto.warnings[0].contains("--var colour"),
        "{:?}",
        proto.warnings
    );
}

#[test]
fn optional_variable_without_default_is_empty() {
    let text = "formula = \"o\"\n[vars.focus]\nrequired = false\n[[steps]]\nid = \"a\"\ntitle = \"Focus:{{focus}}\"\n";
    let proto = cook_in(&[("o.formula.toml", text)], "o", &[]).expect("cooks");
    assert_eq!(proto.steps[0].title, "Focus:");
}

#[test]
fn template_control_words_are_left_for_the_agent() {
    let text = "formula = \"t\"\n[[steps]]\nid = \"a\"\ndescription = \"{{#if x}}y{{else}}z{{/if}} {{.leg.id}}\"\n";
    let proto = cook_in(&[("t.formula.toml", text)], "t", &[]).expect("cooks");
    assert_eq!(
        proto.steps[0].description,
        "{{#if x}}y{{else}}z{{/if}} {{.leg.id}}"
    );
}

#[test]
fn extends_inherits_steps_and_vars_and_child_steps_replace_same_ids() {
    let child = r#"
formula = "child"
extends = ["base"]
[vars]
who = "me"
[[steps]]
id = "implement"
title = "Implement {{feature}} carefully"
needs = ["design"]
[[steps]]
id = "ship"
needs = ["test"]
"#;
    let files = [("base.formula.toml", BASE), ("child.formula.toml", child)];
    let proto = cook_in(&files, "child", &[("feature", "x")]).expect("child cooks");
    assert_eq!(ids(&proto), ["design", "implement", "test", "ship"]);
    assert_eq!(proto.steps[1].title, "Implement x carefully");
    assert_eq!(proto.steps[1].source, "child.formula.toml");
    assert_eq!(proto.steps[0].source, "base.formula.toml");
    assert_eq!(proto.vars["who"], "me");
}

#[test]
fn expansion_replaces_target_and_rewires_needs() {
    let workflow = r#"
formula = "w"
extends = ["base"]
[[compose.expand]]
target = "implement"
with = "twice"
vars = { pass = "p1" }
"#;
    let files = [
        ("base.formula.toml", BASE),
        ("twice.formula.toml", TWO_STEP_EXPANSION),
        ("w.formula.toml", workflow),
    ];
    let proto = cook_in(&files, "w", &[("feature", "f")]).expect("w cooks");
    assert_eq!(
        ids(&proto),
        ["design", "implement.first", "implement.second", "test"]
    );
    assert_eq!(needs(&proto, "implement.first"), ["design"]);
    assert_eq!(needs(&proto, "test"), ["implement.second"]);
    assert_eq!(
        proto.steps[1].title, "First: Implement f x2",
        "expansion's own var"
    );
    assert_eq!(proto.steps[1].description, "Build f (p1)");
}

#[test]
fn map_expands_every_matching_step() {
    let workflow = r#"
formula = "m"
[[steps]]
id = "a.build"
[[steps]]
id = "b.build"
needs = ["a.build"]
[[steps]]
id = "c.check"
needs = ["b.build"]
[[compose.map]]
select = "*.build"
with = "twice"
"#;
    let files = [
        ("twice.formula.toml", TWO_STEP_EXPANSION),
        ("m.formula.toml", workflow),
    ];
    let proto = cook_in(&files, "m", &[]).expect("m cooks");
    assert_eq!(
        ids(&proto),
        [
            "a.build.first",
            "a.build.second",
            "b.build.first",
            "b.build.second",
            "c.check"
        ]
    );
    assert_eq!(needs(&proto, "b.build.first"), ["a.build.second"]);
    assert_eq!(needs(&proto, "c.check"), ["b.build.second"]);
}

#[test]
fn aspect_wraps_matching_steps_only_and_never_itself() {
    let aspect = r#"
formula = "audit"
type = "aspect"
[[advice]]
target = "*"
[advice.around]
before = [{ id = "{step.id}-pre", title = "Pre {step.title}" }]
after = [{ id = "{step.id}-post" }, { id = "{step.id}-post2" }]
[[pointcuts]]
glob = "implement"
"#;
    let workflow = "formula = \"w\"\nextends = [\"base\"]\n[compose]\naspects = [\"audit\"]\n";
    let files = [
        ("base.formula.toml", BASE),
        ("audit.formula.toml", aspect),
        ("w.formula.toml", workflow),
    ];
    let proto = cook_in(&files, "w", &[("feature", "f")]).expect("w cooks");
    assert_eq!(
        ids(&proto),
        [
            "design",
            "implement-pre",
            "implement",
            "implement-post",
            "implement-post2",
            "test"
        ]
    );
    assert_eq!(needs(&proto, "implement-pre"), ["design"]);
    assert_eq!(needs(&proto, "implement"), ["implement-pre"]);
    assert_eq!(needs(&proto, "implement-post2"), ["implement-post"]);
    assert_eq!(needs(&proto, "test"), ["implement-post2"]);
    assert_eq!(
        proto.steps[1].title,
        "Pre Implement {{feature}}".replace("{{feature}}", "f")
    );
    assert_eq!(proto.steps[1].source, "audit.formula.toml");
}

#[test]
fn step_overrides_replace_append_and_skip_keep_the_graph_connected() {
    let workflow = r#"
formula = "o"
extends = ["base"]
[[step-overrides]]
step_id = "design"
mode = "replace"
description = "Sketch it"
title = "Sketch"
[[step-overrides]]
step_id = "test"
mode = "append"
description = "Also run the fuzzers"
[[step-overrides]]
step_id = "implement"
mode = "skip"
"#;
    let files = [("base.formula.toml", BASE), ("o.formula.toml", workflow)];
    let proto = cook_in(&files, "o", &[("feature", "f")]).expect("o cooks");
    assert_eq!(ids(&proto), ["design", "test"]);
    assert_eq!(proto.steps[0].title, "Sketch");
    assert_eq!(proto.steps[0].description, "Sketch it");
    assert_eq!(proto.steps[1].description, "Also run the fuzzers");
    assert_eq!(needs(&proto, "test"), ["design"]);
}

#[test]
fn overlay_overrides_apply_last_and_stale_ones_become_warnings() {
    let overlay = Overlay::parse(
        "rig/formula-overlays/base.toml",
        "[[step-overrides]]\nstep_id = \"implement\"\nmode = \"append\"\ndescription = \"Use the rig's lint\"\n\n[[step-overrides]]\nstep_id = \"gone\"\nmode = \"skip\"\n",
    )
    .expect("overlay parses");
    let library = library(&[("base.formula.toml", BASE)]);
    let vars = Vars::from([("feature".to_string(), "f".to_string())]);
    let formula = library.get("base").expect("base present");
    let options = CookOptions {
        vars: Some(&vars),
        overlay: Some(&overlay),
    };
    let proto = cook_formula(&library, formula, &options).expect("cooks with overlay");
    assert_eq!(proto.steps[1].description, "Build f\nUse the rig's lint");
    assert_eq!(proto.warnings.len(), 1);
    assert!(proto.warnings[0].contains("`gone`"), "{:?}", proto.warnings);
    assert!(proto.warnings[0].contains("rig/formula-overlays/base.toml"));
}

#[test]
fn children_run_in_order_or_together_and_their_parent_waits() {
    let text = r#"
formula = "kids"
[[steps]]
id = "start"
[[steps]]
id = "seq"
needs = ["start"]
[[steps.children]]
id = "s1"
[[steps.children]]
id = "s2"
[[steps]]
id = "par"
type = "parallel"
needs = ["start"]
[[steps.children]]
id = "p1"
[[steps.children]]
id = "p2"
"#;
    let proto = cook_in(&[("kids.formula.toml", text)], "kids", &[]).expect("cooks");
    assert_eq!(needs(&proto, "s1"), ["start"]);
    assert_eq!(needs(&proto, "s2"), ["s1"]);
    assert_eq!(needs(&proto, "seq"), ["start", "s2"]);
    assert_eq!(needs(&proto, "p2"), ["start"]);
    assert_eq!(needs(&proto, "par"), ["start", "p1", "p2"]);
    assert!(proto.step("p1").expect("p1").parallel);
    assert_eq!(proto.step("s1").expect("s1").parent.as_deref(), Some("seq"));
    let records = proto.pour_records();
    let index = |id: &str| {
        records
            .iter()
            .position(|r| r.step.id == id)
            .expect("record")
    };
    assert_eq!(records[index("p2")].parent, Some(index("par")));
    assert!(
        index("p2") < index("par"),
        "children come before their container"
    );
}

#[test]
fn convoy_legs_are_parallel_and_synthesis_waits_for_all() {
    let text = r#"
formula = "review"
type = "convoy"
[inputs.pr]
description = "PR number"
required = true
[prompts]
base = "Review {{.leg.id}}"
[[legs]]
id = "correctness"
focus = "logic"
description = "Check PR {{pr}}"
[[legs]]
id = "style"
[synthesis]
title = "Combine"
"#;
    let proto =
        cook_in(&[("review.formula.toml", text)], "review", &[("pr", "7")]).expect("convoy cooks");
    assert_eq!(ids(&proto), ["correctness", "style", "synthesis"]);
    assert!(proto.steps[0].parallel);
    assert_eq!(proto.steps[0].description, "Focus: logic\n\nCheck PR 7");
    assert_eq!(needs(&proto, "synthesis"), ["correctness", "style"]);
}

#[test]
fn steps_come_out_in_topological_order_keeping_definition_order_when_free() {
    let text = "formula = \"t\"\n[[steps]]\nid = \"c\"\nneeds = [\"b\"]\n[[steps]]\nid = \"a\"\n[[steps]]\nid = \"b\"\nneeds = [\"a\"]\n[[steps]]\nid = \"d\"\n";
    let proto = cook_in(&[("t.formula.toml", text)], "t", &[]).expect("cooks");
    assert_eq!(ids(&proto), ["a", "b", "c", "d"]);
    let done = std::collections::HashSet::from(["a"]);
    let ready: Vec<&str> = proto
        .ready_steps(&done)
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(ready, ["b", "d"]);
    let records = proto.pour_records();
    assert_eq!(records[2].blocked_by, vec![1]);
    assert!(
        records
            .iter()
            .all(|r| r.blocked_by.iter().all(|&b| b < r.index))
    );
}

#[test]
fn expansion_and_aspect_cooked_alone_show_a_preview() {
    let aspect = "formula = \"a\"\ntype = \"aspect\"\n[[advice]]\ntarget = \"build\"\nbefore = { id = \"{step.id}-lint\" }\n";
    let files = [
        ("twice.formula.toml", TWO_STEP_EXPANSION),
        ("a.formula.toml", aspect),
    ];
    let proto = cook_in(&files, "twice", &[]).expect("expansion previews");
    assert_eq!(ids(&proto), ["twice.first", "twice.second"]);
    let proto = cook_in(&files, "a", &[]).expect("aspect previews");
    assert_eq!(ids(&proto), ["build-lint", "build"]);
}

#[test]
fn builtins_parse_and_cook_with_their_required_variables() {
    let library = Library::builtin();
    let names: Vec<&str> = library.list().iter().map(|l| l.name).collect();
    for wanted in [
        "mol-polecat-work",
        "shiny",
        "mol-witness-patrol",
        "mol-refinery-patrol",
        "mol-deacon-patrol",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }
    for listed in library.list() {
        let formula = listed
            .formula
            .unwrap_or_else(|e| panic!("built-in broken: {e}"));
        let vars: Vars = declared_vars(&library, formula)
            .expect("resolves")
            .into_iter()
            .filter(|(_, d)| d.required)
            .map(|(n, _)| (n.clone(), format!("<{n}>")))
            .collect();
        let proto = cook(&library, listed.name, &vars).unwrap_or_else(|e| panic!("{e}"));
        assert!(proto.steps.len() >= 4, "{} is too short", listed.name);
        assert!(proto.source.starts_with("builtin:"));
    }
    let work = cook(
        &library,
        "mol-polecat-work",
        &Vars::from([("issue".into(), "gt-1".into())]),
    )
    .expect("work formula cooks");
    assert_eq!(
        ids(&work),
        ["load-context", "implement", "test", "commit", "done"]
    );
    assert_eq!(work.steps[0].title, "Load context for gt-1");
}

#[test]
fn higher_layers_shadow_lower_ones_and_a_broken_override_is_reported() {
    let mut library = Library::new();
    let rig_shiny = Formula::parse(
        "rig/shiny.formula.toml",
        "formula = \"shiny\"\n[[steps]]\nid = \"only\"\n",
    )
    .expect("parses");
    assert!(library.insert("rig", rig_shiny));
    let broken =
        Formula::parse("rig/mol-polecat-work.formula.toml", "formula = ").expect_err("broken");
    library.insert_broken("rig", "mol-polecat-work", broken);
    library.add_builtins();
    let proto = cook(&library, "shiny", &Vars::new()).expect("rig shiny cooks");
    assert_eq!(ids(&proto), ["only"]);
    assert!(
        library
            .shadowed()
            .iter()
            .any(|e| e.formula.formula == "shiny" && e.layer == "builtin")
    );
    let error = cook(&library, "mol-polecat-work", &Vars::new()).expect_err("rig file is broken");
    assert_eq!(error.file(), Some("rig/mol-polecat-work.formula.toml"));
}

#[test]
fn protomolecule_serializes_for_the_cli() {
    let proto =
        cook_in(&[("base.formula.toml", BASE)], "base", &[("feature", "f")]).expect("cooks");
    let json = serde_json::to_value(&proto).expect("serializes");
    assert_eq!(json["formula"], "base");
    assert_eq!(json["type"], "workflow");
    assert_eq!(json["steps"][1]["needs"][0], "design");
    assert_eq!(json["steps"][2]["acceptance"], "f tested");
    let back: crate::Protomolecule = serde_json::from_value(json).expect("reads back");
    assert_eq!(back, proto);
    let text = proto.to_string();
    assert!(
        text.contains("  2. implement — Implement f  [needs design]"),
        "{text}"
    );
    let verbose = format!("{proto:#}");
    assert!(verbose.contains("acceptance: f tested"), "{verbose}");
}

/// A diamond of `depth` levels: level `i` has `a{i}` and `b{i}`, both extending `a{i-1}` and
/// `b{i-1}`; `top` extends `a{depth}` and `b{depth}`. Every formula adds its own step.
fn extends_diamond(depth: usize) -> Vec<(String, String)> {
    let mut files = vec![
        (
            "a0.formula.toml".to_string(),
            "formula = \"a0\"\n[[steps]]\nid = \"s-a0\"\n".to_string(),
        ),
        (
            "b0.formula.toml".to_string(),
            "formula = \"b0\"\n[[steps]]\nid = \"s-b0\"\n".to_string(),
        ),
    ];
    for i in 1..=depth {
        for side in ["a", "b"] {
            files.push((
                format!("{side}{i}.formula.toml"),
                format!(
                    "formula = \"{side}{i}\"\nextends = [\"a{p}\", \"b{p}\"]\n[[steps]]\nid = \"s-{side}{i}\"\n",
                    p = i - 1
                ),
            ));
        }
    }
    files.push((
        "top.formula.toml".to_string(),
        format!(
            "formula = \"top\"\nextends = [\"a{depth}\", \"b{depth}\"]\n[[steps]]\nid = \"s-top\"\n"
        ),
    ));
    files
}

#[test]
fn a_thirty_deep_extends_diamond_resolves_each_formula_once() {
    // Without memoizing, this resolves a0 2^30 times (hours); with it, each formula once.
    let files = extends_diamond(30);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let proto = cook_in(&refs, "top", &[]).expect("a 30-deep diamond cooks");
    // Every formula's step once: 31 levels of two, and top's own.
    assert_eq!(proto.steps.len(), 31 * 2 + 1);
    assert!(ids(&proto).contains(&"s-a0"));
    assert!(ids(&proto).contains(&"s-top"));
}

#[test]
fn extends_deeper_than_the_cap_is_refused_naming_the_chain() {
    let depth = crate::MAX_EXTENDS_DEPTH;
    let mut files: Vec<(String, String)> = vec![(
        "f0.formula.toml".to_string(),
        "formula = \"f0\"\n[[steps]]\nid = \"s0\"\n".to_string(),
    )];
    for i in 1..=depth {
        files.push((
            format!("f{i}.formula.toml"),
            format!(
                "formula = \"f{i}\"\nextends = [\"f{p}\"]\n[[steps]]\nid = \"s{i}\"\n",
                p = i - 1
            ),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    // f{depth-1} is a chain of exactly `depth` formulas: allowed.
    let ok = format!("f{}", depth - 1);
    cook_in(&refs, &ok, &[]).expect("a chain at the cap cooks");
    let top = format!("f{depth}");
    match cook_in(&refs, &top, &[]) {
        Err(crate::FormulaError::ExtendsTooDeep { max, chain, .. }) => {
            assert_eq!(max, depth);
            assert_eq!(chain.len(), depth + 1);
            assert_eq!(chain.first().map(String::as_str), Some(top.as_str()));
        }
        other => panic!("expected ExtendsTooDeep, got {other:?}"),
    }
    let message = cook_in(&refs, &top, &[]).expect_err("too deep").to_string();
    let expected = format!("more than the {depth} allowed");
    assert!(message.contains(&expected), "{message}");
}
