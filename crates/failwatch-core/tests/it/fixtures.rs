//! Access to the shared fixtures in `tests/fixtures/` at the workspace root: one SQS message body per file.
//!
//! `events/` holds bodies that decode (alerting or silent); `malformed/` holds bodies that must fail to
//! decode. The helpers panic with the path on I/O errors: a missing fixture is a broken checkout.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use failwatch_core::{Decision, DecodeContext, Event};
use time::macros::datetime;

fn dir(which: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(which)
}

fn read_dir(which: &str) -> Vec<(String, String)> {
    let dir = dir(which);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            let body = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            (name, body)
        })
        .collect();
    out.sort();
    out
}

/// Every event fixture as `(file name, body)`, sorted by name.
pub fn events() -> Vec<(String, String)> {
    read_dir("events")
}

/// Every malformed fixture as `(file name, body)`, sorted by name.
pub fn malformed() -> Vec<(String, String)> {
    read_dir("malformed")
}

/// The body of `events/<name>` (name with or without `.json`).
pub fn load(name: &str) -> String {
    load_from("events", name)
}

/// The body of `malformed/<name>` (name with or without `.json`).
pub fn load_malformed(name: &str) -> String {
    load_from("malformed", name)
}

fn load_from(which: &str, name: &str) -> String {
    let file = if name.ends_with(".json") {
        name.to_owned()
    } else {
        format!("{name}.json")
    };
    let path = dir(which).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A fixed decode context, so ids and fallback times in snapshots never change.
pub fn ctx() -> DecodeContext {
    DecodeContext {
        message_id: None,
        received_at: datetime!(2026-11-20 09:00:00 UTC),
    }
}

/// Decodes `events/<name>`, panicking with the error when it does not decode.
pub fn event(name: &str) -> Event {
    let body = load(name);
    failwatch_core::decode(&body, &ctx()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Decodes and classifies `events/<name>`.
pub fn decision(name: &str) -> Decision {
    failwatch_core::classify(&event(name))
}
