//! One sample of every town request and reply (every variant, nested ones included), for the
//! golden-bytes test. Adding a variant? Add a sample too: the test checks that every variant of
//! every command family has one, and the bytes then change, as they must.

mod replies;
mod requests;

pub use replies::replies;
pub use requests::requests;

use gastown_beads::Bead;

fn s(text: &str) -> String {
    text.to_string()
}

/// A bead with fixed times and a field no version of gastown knows (it must cross intact).
fn bead(id: &str, title: &str) -> Bead {
    let mut bead = Bead::new(id, title);
    bead.created_at = s("2026-01-02T03:04:05Z");
    bead.updated_at = s("2026-01-02T03:04:05Z");
    bead.labels = vec![s("urgent")];
    bead.extra
        .insert(s("from_the_future"), serde_json::json!({"kept": true}));
    bead
}
