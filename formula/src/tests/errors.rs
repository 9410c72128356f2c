//! Every bad input the issue lists (and the ones composition adds), data-driven through one
//! `check`: the error must name the file, the step where there is one, and the culprit.

use super::cook_in;
use crate::FormulaError;

/// One bad input: the files, what to cook, and what the error must say.
struct Case {
    /// What the case is about, for failure messages.
    name: &'static str,
    /// `(file name, text)` of every formula in the library.
    files: &'static [(&'static str, &'static str)],
    /// The formula to cook.
    cook: &'static str,
    /// Variable values given.
    vars: &'static [(&'static str, &'static str)],
    /// The file the error must name.
    file: &'static str,
    /// The step the error must name, if any.
    step: Option<&'static str>,
    /// Further text the message must contain.
    contains: &'static [&'static str],
}

fn check(case: &Case) {
    let error = match cook_in(case.files, case.cook, case.vars) {
        Ok(proto) => panic!("{}: cooked, expected an error: {proto}", case.name),
        Err(error) => error,
    };
    let message = error.to_string();
    assert_eq!(error.file(), Some(case.file), "{}: {message}", case.name);
    assert!(
        message.contains(case.file),
        "{}: file not named: {message}",
        case.name
    );
    assert_eq!(error.step(), case.step, "{}: {message}", case.name);
    if let Some(step) = case.step {
        assert!(
            message.contains(&format!("`{step}`")) || message.contains(step),
            "{}: {message}",
            case.name
        );
    }
    for text in case.contains {
        assert!(
            message.contains(text),
            "{}: `{text}` missing from: {message}",
            case.name
        );
    }
    assert!(
        !message.ends_with('.'),
        "{}: trailing period: {message}",
        case.name
    );
}

const SHINY_ISH: &str = r#"
formula = "base"
[vars.feature]
required = true
[[steps]]
id = "design"
title = "Design {{feature}}"
[[steps]]
id = "implement"
needs = ["design"]
description = "Build {{featur}}"
"#;

const CASES: &[Case] = &[
    Case {
        name: "needs naming no step",
        files: &[(
            "bad-need.formula.toml",
            "formula = \"bad-need\"\n[[steps]]\nid = \"a\"\n[[steps]]\nid = \"b\"\nneeds = [\"nope\"]\n",
        )],
        cook: "bad-need",
        vars: &[],
        file: "bad-need.formula.toml",
        step: Some("b"),
        contains: &["`nope`"],
    },
    Case {
        name: "cycle of three",
        files: &[(
            "loop.formula.toml",
            "formula = \"loop\"\n[[steps]]\nid = \"a\"\nneeds = [\"c\"]\n[[steps]]\nid = \"b\"\nneeds = [\"a\"]\n[[steps]]\nid = \"c\"\nneeds = [\"b\"]\n[[steps]]\nid = \"d\"\n",
        )],
        cook: "loop",
        vars: &[],
        file: "loop.formula.toml",
        step: Some("a"),
        contains: &["a -> c -> b -> a"],
    },
    Case {
        name: "step needing itself",
        files: &[(
            "self.formula.toml",
            "formula = \"self\"\n[[steps]]\nid = \"z\"\nneeds = [\"z\"]\n",
        )],
        cook: "self",
        vars: &[],
        file: "self.formula.toml",
        step: Some("z"),
        contains: &["z -> z"],
    },
    Case {
        name: "duplicate step id in one file",
        files: &[(
            "dup.formula.toml",
            "formula = \"dup\"\n[[steps]]\nid = \"a\"\n[[steps]]\nid = \"a\"\n",
        )],
        cook: "dup",
        vars: &[],
        file: "dup.formula.toml",
        step: Some("a"),
        contains: &["defined twice"],
    },
    Case {
        name: "duplicate id between a child and a step",
        files: &[(
            "dupchild.formula.toml",
            "formula = \"dupchild\"\n[[steps]]\nid = \"p\"\n[[steps.children]]\nid = \"q\"\n[[steps]]\nid = \"q\"\n",
        )],
        cook: "dupchild",
        vars: &[],
        file: "dupchild.formula.toml",
        step: Some("q"),
        contains: &["defined twice"],
    },
    Case {
        name: "duplicate id made by an expansion",
        files: &[
            (
                "w.formula.toml",
                "formula = \"w\"\n[[steps]]\nid = \"impl\"\n[[steps]]\nid = \"impl.draft\"\n[[compose.expand]]\ntarget = \"impl\"\nwith = \"x\"\n",
            ),
            (
                "x.formula.toml",
                "formula = \"x\"\ntype = \"expansion\"\n[[template]]\nid = \"{target}.draft\"\n",
            ),
        ],
        cook: "w",
        vars: &[],
        file: "w.formula.toml",
        step: Some("impl.draft"),
        contains: &["defined twice"],
    },
    Case {
        name: "missing required variable",
        files: &[("base.formula.toml", SHINY_ISH)],
        cook: "base",
        vars: &[],
        file: "base.formula.toml",
        step: Some("design"),
        contains: &["`feature`", "--var feature=", "used by step `design`"],
    },
    Case {
        name: "unknown variable in a template",
        files: &[("base.formula.toml", SHINY_ISH)],
        cook: "base",
        vars: &[("feature", "auth")],
        file: "base.formula.toml",
        step: Some("implement"),
        contains: &["`featur`", "description"],
    },
    Case {
        name: "unknown variable stays unknown when given on the command line",
        files: &[("base.formula.toml", SHINY_ISH)],
        cook: "base",
        vars: &[("feature", "auth"), ("featur", "typo")],
        file: "base.formula.toml",
        step: Some("implement"),
        contains: &["`featur`"],
    },
    Case {
        name: "unknown variable in an inherited step names the parent's file",
        files: &[
            ("base.formula.toml", SHINY_ISH),
            (
                "child.formula.toml",
                "formula = \"child\"\nextends = [\"base\"]\n",
            ),
        ],
        cook: "child",
        vars: &[("feature", "auth")],
        file: "base.formula.toml",
        step: Some("implement"),
        contains: &["`featur`"],
    },
    Case {
        name: "required_unless with none of the alternatives",
        files: &[(
            "review.formula.toml",
            "formula = \"review\"\n[inputs.pr]\nrequired_unless = [\"files\"]\n[inputs.files]\nrequired_unless = [\"pr\"]\n[[legs]]\nid = \"l\"\n",
        )],
        cook: "review",
        vars: &[],
        file: "review.formula.toml",
        step: None,
        contains: &["or give one of"],
    },
    Case {
        name: "value outside enum",
        files: &[(
            "e.formula.toml",
            "formula = \"e\"\n[vars.mode]\nenum = [\"fast\", \"slow\"]\n[[steps]]\nid = \"a\"\n",
        )],
        cook: "e",
        vars: &[("mode", "medium")],
        file: "e.formula.toml",
        step: None,
        contains: &["`medium`", "fast, slow"],
    },
    Case {
        name: "extends of a formula that does not exist",
        files: &[(
            "orphan.formula.toml",
            "formula = \"orphan\"\nextends = [\"ghost\"]\n",
        )],
        cook: "orphan",
        vars: &[],
        file: "orphan.formula.toml",
        step: None,
        contains: &["extends `ghost`"],
    },
    Case {
        name: "loop of extends",
        files: &[
            ("a.formula.toml", "formula = \"a\"\nextends = [\"b\"]\n"),
            ("b.formula.toml", "formula = \"b\"\nextends = [\"a\"]\n"),
        ],
        cook: "a",
        vars: &[],
        file: "b.formula.toml",
        step: None,
        contains: &["a -> b -> a"],
    },
    Case {
        name: "formula extending itself",
        files: &[("me.formula.toml", "formula = \"me\"\nextends = [\"me\"]\n")],
        cook: "me",
        vars: &[],
        file: "me.formula.toml",
        step: None,
        contains: &["me -> me"],
    },
    Case {
        name: "TOML syntax error: unterminated string",
        files: &[(
            "syntax.formula.toml",
            "formula = \"syntax\"\n[[steps]]\nid = \"a\ntitle = \"x\"\n",
        )],
        cook: "syntax",
        vars: &[],
        file: "syntax.formula.toml",
        step: None,
        contains: &["syntax.formula.toml:3:8:"],
    },
    Case {
        name: "TOML syntax error: missing value",
        files: &[("eq.formula.toml", "formula = \"eq\"\n\n[[steps]]\n  id =\n")],
        cook: "eq",
        vars: &[],
        file: "eq.formula.toml",
        step: None,
        contains: &["eq.formula.toml:4:"],
    },
    Case {
        name: "wrong field type",
        files: &[(
            "ty.formula.toml",
            "formula = \"ty\"\n[[steps]]\nid = \"a\"\nneeds = \"b\"\n",
        )],
        cook: "ty",
        vars: &[],
        file: "ty.formula.toml",
        step: None,
        contains: &["ty.formula.toml:4:9:"],
    },
    Case {
        name: "misspelled field",
        files: &[(
            "typo.formula.toml",
            "formula = \"typo\"\n[[steps]]\nid = \"a\"\nneed = [\"b\"]\n",
        )],
        cook: "typo",
        vars: &[],
        file: "typo.formula.toml",
        step: None,
        contains: &["typo.formula.toml:4:1:", "need"],
    },
    Case {
        name: "misspelled variable field",
        files: &[(
            "v.formula.toml",
            "formula = \"v\"\n[vars.x]\nrequird = true\n[[steps]]\nid = \"a\"\n",
        )],
        cook: "v",
        vars: &[],
        file: "v.formula.toml",
        step: None,
        contains: &["v.formula.toml:3:1:", "unknown field `requird`"],
    },
    Case {
        name: "variable that is neither a string nor a table",
        files: &[(
            "n.formula.toml",
            "formula = \"n\"\n[vars]\nx = 3\n[[steps]]\nid = \"a\"\n",
        )],
        cook: "n",
        vars: &[],
        file: "n.formula.toml",
        step: None,
        contains: &[
            "n.formula.toml:3:5:",
            "a string (the default value) or a table",
        ],
    },
    Case {
        name: "unknown formula type",
        files: &[(
            "kind.formula.toml",
            "formula = \"kind\"\ntype = \"recipe\"\n[[steps]]\nid = \"a\"\n",
        )],
        cook: "kind",
        vars: &[],
        file: "kind.formula.toml",
        step: None,
        contains: &["kind.formula.toml:2:8:", "recipe"],
    },
    Case {
        name: "workflow without steps",
        files: &[("empty.formula.toml", "formula = \"empty\"\n")],
        cook: "empty",
        vars: &[],
        file: "empty.formula.toml",
        step: None,
        contains: &["[[steps]]"],
    },
    Case {
        name: "a table of another formula type",
        files: &[(
            "mixed.formula.toml",
            "formula = \"mixed\"\ntype = \"workflow\"\n[[steps]]\nid = \"a\"\n[[legs]]\nid = \"l\"\n",
        )],
        cook: "mixed",
        vars: &[],
        file: "mixed.formula.toml",
        step: None,
        contains: &["[[legs]] belongs to convoy formulas", "type workflow"],
    },
    Case {
        name: "aspect that does not exist",
        files: &[(
            "w.formula.toml",
            "formula = \"w\"\n[compose]\naspects = [\"nosuch\"]\n[[steps]]\nid = \"a\"\n",
        )],
        cook: "w",
        vars: &[],
        file: "w.formula.toml",
        step: None,
        contains: &["[compose] aspects", "`nosuch`"],
    },
    Case {
        name: "aspect that is a workflow",
        files: &[
            (
                "w.formula.toml",
                "formula = \"w\"\n[compose]\naspects = [\"v\"]\n[[steps]]\nid = \"a\"\n",
            ),
            ("v.formula.toml", "formula = \"v\"\n[[steps]]\nid = \"b\"\n"),
        ],
        cook: "w",
        vars: &[],
        file: "w.formula.toml",
        step: None,
        contains: &["`v`", "type workflow", "type aspect"],
    },
    Case {
        name: "expansion target that does not exist",
        files: &[
            (
                "w.formula.toml",
                "formula = \"w\"\n[[steps]]\nid = \"a\"\n[[compose.expand]]\ntarget = \"zz\"\nwith = \"x\"\n",
            ),
            (
                "x.formula.toml",
                "formula = \"x\"\n[[template]]\nid = \"{target}.t\"\n",
            ),
        ],
        cook: "w",
        vars: &[],
        file: "w.formula.toml",
        step: Some("zz"),
        contains: &["[[compose.expand]]"],
    },
    Case {
        name: "step override naming no step",
        files: &[(
            "o.formula.toml",
            "formula = \"o\"\n[[steps]]\nid = \"a\"\n[[step-overrides]]\nstep_id = \"b\"\nmode = \"skip\"\n",
        )],
        cook: "o",
        vars: &[],
        file: "o.formula.toml",
        step: Some("b"),
        contains: &["mode = \"skip\""],
    },
    Case {
        name: "convoy synthesis waiting for no leg",
        files: &[(
            "c.formula.toml",
            "formula = \"c\"\n[[legs]]\nid = \"l1\"\n[synthesis]\ndepends_on = [\"l2\"]\n",
        )],
        cook: "c",
        vars: &[],
        file: "c.formula.toml",
        step: Some("synthesis"),
        contains: &["`l2`"],
    },
    Case {
        name: "a broken parent reports its own file",
        files: &[
            (
                "kid.formula.toml",
                "formula = \"kid\"\nextends = [\"broken\"]\n",
            ),
            (
                "broken.formula.toml",
                "formula = \"broken\"\n[[steps]\nid = \"a\"\n",
            ),
        ],
        cook: "kid",
        vars: &[],
        file: "broken.formula.toml",
        step: None,
        contains: &["broken.formula.toml:2:"],
    },
];

#[test]
fn every_bad_input_is_an_error_naming_file_and_step() {
    for case in CASES {
        check(case);
    }
}

#[test]
fn a_formula_not_on_the_search_path_says_where_it_looked() {
    let error = cook_in(
        &[("a.formula.toml", "formula = \"a\"\n[[steps]]\nid = \"s\"\n")],
        "nope",
        &[],
    )
    .expect_err("nope is not there");
    assert!(matches!(error, FormulaError::NotFound { .. }), "{error}");
    assert!(error.to_string().contains("searched test"), "{error}");
}

#[test]
fn toml_positions_count_characters_not_bytes() {
    let text = "formula = \"ü\"\ndescription = \"ü\" x\n";
    let error = crate::Formula::parse("u.formula.toml", text).expect_err("trailing x");
    let FormulaError::Toml { line, column, .. } = error else {
        panic!("not a TOML error: {error}");
    };
    assert_eq!((line, column), (2, 19));
}
