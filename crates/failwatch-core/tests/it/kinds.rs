//! The kind registry is complete: every [`AlertKind`] has an alerting fixture named after it, a
//! snapshot of that fixture for every chat service, and a routing name (the name routes, metric labels
//! and the alert document use). Adding a kind to the registry without these fails here.

use failwatch_core::{AlertKind, Decision, Target, process};

use crate::fixtures::{ctx, events};

#[test]
fn every_kind_has_a_fixture_a_snapshot_per_target_and_a_routing_name() {
    let snapshots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots");
    for kind in AlertKind::ALL {
        let name = kind.as_str();
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{kind:?}: routing name {name:?} is not snake_case"
        );
        let alerting: Vec<String> = events()
            .into_iter()
            .filter(|(file, _)| file.starts_with(&format!("{name}-")))
            .filter_map(|(file, body)| match process(&body, &ctx()) {
                Ok(Decision::Alert(alert)) if alert.kind == kind => {
                    // The document names the kind exactly as routes match it.
                    assert!(
                        alert.to_json().contains(&format!("\"kind\":\"{name}\"")),
                        "{file}: the document does not name the kind {name}"
                    );
                    Some(file.trim_end_matches(".json").to_owned())
                }
                _ => None,
            })
            .collect();
        assert!(
            !alerting.is_empty(),
            "{kind:?}: no fixture tests/fixtures/events/{name}-*.json alerts as {name}"
        );
        for stem in &alerting {
            for target in Target::ALL {
                let snap = snapshots.join(format!("{stem}__{target}.snap"));
                assert!(snap.is_file(), "{kind:?}: no snapshot {}", snap.display());
            }
        }
    }
}
