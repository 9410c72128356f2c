//! Cooking speed: the largest corpus formula (target < 1 ms) and a generated 1,000-step
//! protomolecule (what a 1,000-step pour starts from), and `extends` diamonds 22 and 30 levels
//! deep (memoized resolution). Plain `Instant`, medians printed.
//!
//! Run: `cargo bench -p gastown-formula --bench cook` (corpus from `GASTOWN_CORPUS`, default
//! `../shared/corpus` beside the workspace root).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gastown_formula::loader::{SearchDir, formula_files, load_library};
use gastown_formula::{CookOptions, Formula, Library, Vars, cook_formula, declared_vars};

/// Median and minimum of `runs` timings of `f` (after a few warm-up calls). The minimum is
/// shown because on a loaded machine a run of a few ms is often preempted, which drags the
/// median of longer runs up.
fn median(runs: usize, mut f: impl FnMut()) -> Timing {
    for _ in 0..3 {
        f();
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    Timing {
        median: times[runs / 2],
        min: times[0],
    }
}

/// What [`median`] measured.
struct Timing {
    median: Duration,
    min: Duration,
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "median {:>8.3} ms  (min {:>8.3} ms)",
            ms(self.median),
            ms(self.min)
        )
    }
}

fn corpus_dir() -> PathBuf {
    match std::env::var_os("GASTOWN_CORPUS") {
        Some(root) => PathBuf::from(root).join("gastown-formulas"),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/gastown-formulas")
        }
    }
}

/// Required variables of `formula` filled with placeholders.
fn placeholders(library: &Library, formula: &Formula) -> Vars {
    declared_vars(library, formula)
        .expect("resolves")
        .into_iter()
        .filter(|(_, d)| d.required && d.default.is_none())
        .map(|(n, _)| (n.clone(), format!("<{n}>")))
        .collect()
}

fn bench_largest_corpus_formula() {
    let dir = corpus_dir();
    let files = formula_files(&dir).expect("corpus directory lists");
    let Some(largest) = files
        .iter()
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
    else {
        println!("skipped: no corpus formulas in {}", dir.display());
        return;
    };
    let text = std::fs::read_to_string(largest).expect("readable");
    let source = largest.display().to_string();
    let library = load_library(&[SearchDir::new("corpus", &dir)]).expect("corpus loads");
    let formula = Formula::parse(&source, &text).expect("parses");
    let vars = placeholders(&library, &formula);
    let options = CookOptions {
        vars: Some(&vars),
        overlay: None,
    };
    let steps = cook_formula(&library, &formula, &options)
        .expect("cooks")
        .steps
        .len();
    let parse = median(101, || {
        black_box(Formula::parse(&source, black_box(&text)).expect("parses"));
    });
    let cook = median(101, || {
        black_box(cook_formula(&library, black_box(&formula), &options).expect("cooks"));
    });
    let both = median(101, || {
        let f = Formula::parse(&source, black_box(&text)).expect("parses");
        black_box(cook_formula(&library, &f, &options).expect("cooks"));
    });
    let load = median(21, || {
        black_box(load_library(&[SearchDir::new("corpus", &dir)]).expect("corpus loads"));
    });
    println!(
        "load the corpus library ({} files + built-ins): {load}",
        files.len()
    );
    let name = largest.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    println!(
        "largest corpus formula: {name} ({} bytes, {steps} steps)",
        text.len()
    );
    println!("  parse            {parse}");
    println!("  cook (parsed)    {cook}   target < 1 ms");
    println!("  parse + cook     {both}");
}

/// A 1,000-step workflow: a chain with a fan-out/fan-in every tenth step, variables in text.
fn thousand_step_formula() -> String {
    let mut text = String::from(
        "formula = \"big\"\ndescription = \"1,000 steps\"\n[vars.rig]\nrequired = true\n",
    );
    for i in 0..1000 {
        text.push_str(&format!(
            "[[steps]]\nid = \"s{i}\"\ntitle = \"Step {i} of {{{{rig}}}}\"\ndescription = \"Do part {i} for {{{{rig}}}}.\"\nacceptance = \"part {i} done\"\n"
        ));
        if i > 0 {
            let previous = if i % 10 == 0 {
                format!("\"s{}\", \"s{}\"", i - 1, i - 5)
            } else {
                format!("\"s{}\"", i - 1)
            };
            text.push_str(&format!("needs = [{previous}]\n"));
        }
    }
    text
}

fn bench_thousand_steps() {
    let text = thousand_step_formula();
    let library = Library::builtin();
    let vars = Vars::from([("rig".to_string(), "gastown".to_string())]);
    let options = CookOptions {
        vars: Some(&vars),
        overlay: None,
    };
    let formula = Formula::parse("big.formula.toml", &text).expect("parses");
    let proto = cook_formula(&library, &formula, &options).expect("cooks");
    assert_eq!(proto.steps.len(), 1000);
    let parse = median(51, || {
        black_box(Formula::parse("big.formula.toml", black_box(&text)).expect("parses"));
    });
    let cook = median(51, || {
        black_box(cook_formula(&library, black_box(&formula), &options).expect("cooks"));
    });
    let records = median(51, || {
        black_box(black_box(&proto).pour_records());
    });
    println!("1,000-step protomolecule ({} bytes of TOML)", text.len());
    println!("  parse            {parse}");
    println!("  cook (parsed)    {cook}");
    println!("  pour_records     {records}");
}

/// A diamond of `extends` `depth` levels deep: level i has `a{i}` and `b{i}`, both extending
/// `a{i-1}` and `b{i-1}`, each with a step of its own; `top` extends the last level. Resolved
/// naively it visits 2^depth paths (8 s at depth 22); memoized, each formula once.
fn bench_extends_diamond(depth: usize) {
    let mut library = Library::new();
    let mut add = |name: String, text: String| {
        let formula = Formula::parse(&format!("{name}.formula.toml"), &text).expect("parses");
        library.insert("bench", formula);
    };
    for side in ["a", "b"] {
        add(
            format!("{side}0"),
            format!("formula = \"{side}0\"\n[[steps]]\nid = \"s-{side}0\"\n"),
        );
    }
    for i in 1..=depth {
        for side in ["a", "b"] {
            add(
                format!("{side}{i}"),
                format!(
                    "formula = \"{side}{i}\"\nextends = [\"a{p}\", \"b{p}\"]\n[[steps]]\nid = \"s-{side}{i}\"\n",
                    p = i - 1
                ),
            );
        }
    }
    add(
        "top".to_string(),
        format!("formula = \"top\"\nextends = [\"a{depth}\", \"b{depth}\"]\n"),
    );
    let top = library.get("top").expect("top").clone();
    let options = CookOptions {
        vars: None,
        overlay: None,
    };
    let steps = cook_formula(&library, &top, &options)
        .expect("cooks")
        .steps
        .len();
    let cook = median(51, || {
        black_box(cook_formula(&library, black_box(&top), &options).expect("cooks"));
    });
    println!("extends diamond {depth} levels deep ({steps} steps)");
    println!("  cook (parsed)    {cook}");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    bench_largest_corpus_formula();
    bench_thousand_steps();
    bench_extends_diamond(22);
    bench_extends_diamond(30);
}
