//! The secondary indexes (by status, assignee and type) against a full scan, on real redb files
//! and real git repositories: after every kind of write, across the fold of the write-ahead
//! table, a reopen, a tombstone imported from `bd`, and an index file rebuilt from git.

use gastown_beads::{Bead, BeadPatch, IssueType, Ledger, ListFilter, NewBead, Status};

mod common;
use common::{open, town};

/// A small deterministic generator (the same sequence on every run).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

const ASSIGNEES: [&str; 4] = ["", "alpha/witness", "alpha/polecats/nux", "mayor"];
const STATUSES: [Status; 5] = [
    Status::Open,
    Status::InProgress,
    Status::Hooked,
    Status::Blocked,
    Status::Closed,
];
const TYPES: [IssueType; 3] = [IssueType::Task, IssueType::Message, IssueType::MergeRequest];

/// Every filter the checks compare: each status (and none), with and without `all`, each
/// assignee (and none), each type (and none), and a label.
fn filters() -> Vec<ListFilter> {
    let mut statuses: Vec<Option<Status>> = STATUSES.iter().cloned().map(Some).collect();
    statuses.push(Some(Status::Tombstone));
    statuses.push(None);
    let mut out = Vec::new();
    for status in &statuses {
        for all in [false, true] {
            for assignee in ASSIGNEES.iter().map(|a| Some(a.to_string())).chain([None]) {
                for issue_type in TYPES.iter().cloned().map(Some).chain([None]) {
                    out.push(ListFilter {
                        status: status.clone(),
                        issue_type,
                        assignee: assignee.clone(),
                        label: None,
                        all,
                    });
                }
            }
        }
    }
    out.push(ListFilter {
        label: Some("urgent".to_string()),
        ..ListFilter::default()
    });
    out
}

/// What `list` must return for `f`: the definition, applied to every bead the ledger holds.
fn by_definition(every: &[Bead], f: &ListFilter) -> Vec<String> {
    every
        .iter()
        .filter(|b| match &f.status {
            Some(s) => b.status == *s,
            None => b.status != Status::Tombstone && (f.all || b.status != Status::Closed),
        })
        .filter(|b| f.issue_type.as_ref().is_none_or(|t| b.issue_type == *t))
        .filter(|b| f.assignee.as_ref().is_none_or(|a| b.assignee == *a))
        .filter(|b| f.label.as_ref().is_none_or(|l| b.labels.contains(l)))
        .map(|b| b.id.clone())
        .collect()
}

/// Every bead and wisp of the ledger, tombstones included (through the export, a full scan).
fn every_bead(l: &Ledger) -> Vec<Bead> {
    let mut out = Vec::new();
    l.export_to(&mut out).expect("export");
    String::from_utf8(out)
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("an exported line parses"))
        .collect()
}

fn check(l: &Ledger, when: &str) {
    let every = every_bead(l);
    for f in filters() {
        let listed: Vec<String> = l
            .list(&f)
            .expect("list")
            .into_iter()
            .map(|b| b.id)
            .collect();
        assert_eq!(listed, by_definition(&every, &f), "{when}: {f:?}");
    }
}

/// One random write: a create (bead or wisp), a status or assignee change, a close, a reopen,
/// a label, or burning a wisp.
fn mutate(l: &mut Ledger, rng: &mut Lcg, ids: &mut Vec<String>) {
    let pick = |rng: &mut Lcg, ids: &[String]| ids[rng.below(ids.len())].clone();
    match rng.below(8) {
        0 | 1 => {
            let new = NewBead {
                title: format!("bead {}", ids.len()),
                issue_type: TYPES[rng.below(TYPES.len())].clone(),
                assignee: ASSIGNEES[rng.below(ASSIGNEES.len())].to_string(),
                priority: 2,
                ephemeral: rng.below(4) == 0,
                ..NewBead::default()
            };
            ids.push(l.create(new, "t").expect("create").id);
        }
        2 => {
            let id = pick(rng, ids);
            let patch = BeadPatch {
                status: Some(STATUSES[rng.below(STATUSES.len())].clone()),
                ..BeadPatch::default()
            };
            l.update(&id, patch, "t").expect("status");
        }
        3 => {
            let id = pick(rng, ids);
            let patch = BeadPatch {
                assignee: Some(ASSIGNEES[rng.below(ASSIGNEES.len())].to_string()),
                ..BeadPatch::default()
            };
            l.update(&id, patch, "t").expect("assignee");
        }
        4 => {
            l.close(&pick(rng, ids), "done", "t").expect("close");
        }
        5 => {
            l.reopen(&pick(rng, ids), "t").expect("reopen");
        }
        6 => {
            l.add_label(&pick(rng, ids), "urgent", "t").expect("label");
        }
        _ => {
            let id = pick(rng, ids);
            if l.get(&id).expect("get").is_some_and(|b| b.ephemeral) {
                l.burn_wisp(&id).expect("burn");
                ids.retain(|i| *i != id);
            }
        }
    }
}

#[test]
fn list_by_status_assignee_and_type_agrees_with_a_full_scan_through_folds_and_reopens() {
    let t = town();
    let mut l = open(t.path());
    let mut rng = Lcg(13);
    let mut ids: Vec<String> = Vec::new();
    for _ in 0..6 {
        ids.push(
            l.create(
                NewBead {
                    title: "seed".to_string(),
                    priority: 2,
                    ..NewBead::default()
                },
                "t",
            )
            .expect("seed")
            .id,
        );
    }
    for round in 0..6 {
        for _ in 0..40 {
            mutate(&mut l, &mut rng, &mut ids);
        }
        check(&l, &format!("round {round}, changes in the log"));
        match round % 3 {
            // The fold moves the changes into the index tables.
            0 => {
                l.sync().expect("sync");
                check(&l, &format!("round {round}, folded"));
            }
            // Reopened with the changes still in the log: replayed at open.
            1 => {
                drop(l);
                l = open(t.path());
                check(&l, &format!("round {round}, reopened unfolded"));
            }
            _ => {
                l.close_ledger().expect("close");
                l = open(t.path());
                check(&l, &format!("round {round}, reopened folded"));
            }
        }
    }
}

#[test]
fn tombstones_from_bd_and_an_index_rebuilt_from_git_are_listed_like_everything_else() {
    let t = town();
    let mut l = open(t.path());
    let export = t.path().join("issues.jsonl");
    let lines = [
        r#"{"id":"bd-a","title":"a","status":"open","priority":2,"issue_type":"task","assignee":"mayor","created_at":"2025-01-01T00:00:00Z"}"#,
        r#"{"id":"bd-b","title":"b","status":"tombstone","priority":2,"issue_type":"task","assignee":"mayor","created_at":"2025-01-01T00:00:00Z","deleted_at":"2025-01-03T00:00:00Z"}"#,
        r#"{"id":"bd-c","title":"c","status":"hooked","priority":2,"issue_type":"message","assignee":"alpha/witness","created_at":"2025-01-01T00:00:00Z"}"#,
        r#"{"id":"bd-d","title":"d","status":"closed","priority":2,"issue_type":"merge-request","created_at":"2025-01-01T00:00:00Z","closed_at":"2025-01-02T00:00:00Z"}"#,
        r#"{"id":"bd-e","title":"e","priority":2,"issue_type":"task","created_at":"2025-01-01T00:00:00Z"}"#,
    ];
    std::fs::write(&export, lines.join("\n") + "\n").expect("write the export");
    l.import_file(&export, "import").expect("import");
    check(&l, "imported");
    let tombstones = l
        .list(&ListFilter {
            status: Some(Status::Tombstone),
            ..ListFilter::default()
        })
        .expect("list");
    assert_eq!(tombstones.len(), 1, "only asked for, never by default");
    let unset = l
        .list(&ListFilter {
            status: Some(Status::Open),
            assignee: Some(String::new()),
            ..ListFilter::default()
        })
        .expect("list");
    assert_eq!(
        unset.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
        ["bd-e"],
        "a bead without a status is open, one without an assignee has the empty one"
    );
    l.close_ledger().expect("close");
    std::fs::remove_file(t.path().join(".runtime/ledger.redb")).expect("drop the index");
    let l = open(t.path());
    check(&l, "rebuilt from git");
    assert_eq!(l.len(), 5);
}
