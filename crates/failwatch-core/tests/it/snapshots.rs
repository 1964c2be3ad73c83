//! One insta snapshot per renderer per alerting fixture: `{fixture}__{target}.snap` in `snapshots/`.
//!
//! Snapshots hold the payload pretty-printed so a reviewer can read it; each test also asserts that
//! `render` returned exactly the compact form of that document, which is what gets POSTed. Run with
//! `INSTA_UPDATE=no` (or `CI=true`) in CI so a missing snapshot fails instead of being written.
//!
//! The pretty form keeps the payload's own key order (a `serde_json::Value` would sort keys), so the
//! snapshot reads in the order the service receives it.

use failwatch_core::{Decision, RenderOptions, Target, process, render};
use serde_json::Value;

use crate::fixtures::{ctx, events};
use crate::render::assert_within_limits;

#[test]
fn every_renderer_for_every_alerting_fixture() {
    let mut alerting = 0;
    for (file, body) in events() {
        let stem = file.trim_end_matches(".json");
        let decision = process(&body, &ctx()).unwrap_or_else(|e| panic!("{file}: {e}"));
        let Decision::Alert(alert) = decision else {
            continue;
        };
        alerting += 1;
        for target in Target::ALL {
            let payload = render(&alert, target, &RenderOptions::default());
            serde_json::from_str::<Value>(&payload)
                .unwrap_or_else(|e| panic!("{file} {target}: not JSON: {e}"));
            assert!(
                is_compact(&payload),
                "{file} {target}: payload is not compact JSON"
            );
            assert_within_limits(target, &payload);
            let pretty = pretty(&payload);
            insta::with_settings!({
                prepend_module_to_snapshot => false,
                description => format!("{file} rendered for {target}"),
                omit_expression => true,
            }, {
                insta::assert_snapshot!(format!("{stem}__{target}"), pretty);
            });
        }
    }
    // The fixture set has dozens of alerting events; a classifier that alerted on nothing would
    // otherwise pass this test with no snapshot at all.
    assert!(alerting >= 10, "only {alerting} fixtures alert");
}

/// Whether `json` has no whitespace outside strings.
pub(crate) fn is_compact(json: &str) -> bool {
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c.is_whitespace() {
            return false;
        }
    }
    true
}

/// Pretty-prints compact JSON with two-space indents, keeping key order; `{}` and `[]` stay on one line.
pub(crate) fn pretty(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut chars = compact.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.extend(chars.next());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
    out
}
