//! Secrets never leave failwatch: a secret-shaped value placed in any workload-controlled field of a
//! real fixture never appears in the alert document, in any rendered payload, or in a decode error.
//!
//! Each generated secret has a distinguishing part, random letters and digits that nothing else in a
//! fixture or a payload contains, and a shape (an environment override, a `password` field, a
//! presigned URL, a well-known token) around it. `redact/` holds two real-world bodies whose overrides
//! carry secrets (a Step Functions cause cut at 32,768 characters among them).

use failwatch_core::{Decision, RenderOptions, Target, process, render};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::fixtures::{ctx, load};

/// A secret in one of its shapes: `text` is what the workload wrote, `part` what must never show.
#[derive(Debug, Clone)]
struct Secret {
    text: String,
    /// The JSON form, for causes that are JSON documents.
    json: Value,
    part: String,
    /// Whether redaction still finds it when the text is cut after the first characters of `part`.
    survives_cut: bool,
}

fn alnum(len: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(
            "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
                .chars()
                .collect::<Vec<_>>(),
        ),
        len,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn upper(len: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select("ABCDEFGHJKLMNPQRSTUVWXYZ234567".chars().collect::<Vec<_>>()),
        len,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// A token shape in free text; as JSON, a message holding it.
fn shaped(text: String, part: String, survives_cut: bool) -> Secret {
    Secret {
        json: json!({ "message": text }),
        text,
        part,
        survives_cut,
    }
}

fn secret() -> impl Strategy<Value = Secret> {
    prop_oneof![
        alnum(24).prop_map(|p| Secret {
            text: format!(r#"{{"Environment":[{{"Name":"STRIPE_SECRET_KEY","Value":"{p}"}}]}}"#),
            json: json!({ "Overrides": { "ContainerOverrides": [
                { "Name": "app", "Environment": [{ "Name": "FEATURE", "Value": p }] }
            ] } }),
            part: p,
            survives_cut: true,
        }),
        alnum(20).prop_map(|p| Secret {
            text: format!("DB_PASSWORD={p} retrying"),
            json: json!({ "db_password": p, "user": "app" }),
            part: p,
            survives_cut: true,
        }),
        alnum(32).prop_map(|p| shaped(
            format!(
                "CannotPullContainerError: https://b.s3.amazonaws.com/l?X-Amz-Security-Token={p}&x=1"
            ),
            p,
            true
        )),
        upper(16).prop_map(|p| shaped(format!("key AKIA{p} used"), p, false)),
        alnum(24).prop_map(|p| shaped(format!("xoxb-{p}"), p, false)),
        alnum(36).prop_map(|p| shaped(format!("ghp_{p}"), p, false)),
        alnum(24).prop_map(|p| shaped(format!("sk_live_{p}"), p, false)),
        (alnum(24), alnum(24)).prop_map(|(p, s)| shaped(
            format!("eyJhbGciOiJIUzI1NiJ9.eyJ{p}.{s}"),
            p,
            false
        )),
        alnum(40).prop_map(|p| shaped(
            format!("-----BEGIN RSA PRIVATE KEY-----\nMIIE{p}\n-----END RSA PRIVATE KEY-----"),
            p,
            true
        )),
        alnum(16).prop_map(|p| shaped(format!("postgres://app:{p}@db:5432/x"), p, false)),
    ]
}

/// Every payload an alert becomes: the document and each target's rendering.
fn payloads(body: &str) -> Vec<String> {
    let decision = process(body, &ctx()).unwrap_or_else(|e| panic!("decodes: {e}"));
    let Decision::Alert(alert) = decision else {
        panic!("alerts: {decision:?}");
    };
    let opts = RenderOptions::default();
    let mut out = vec![alert.to_json(), format!("{alert:?}")];
    out.extend(Target::ALL.iter().map(|&t| render(&alert, t, &opts)));
    out
}

fn assert_hidden(body: &str, part: &str) {
    for payload in payloads(body) {
        assert!(!payload.contains(part), "{part} leaked into {payload}");
    }
}

/// `fixture` with the string at `pointer` replaced by `value`.
fn with(fixture: &str, pointer: &str, value: Value) -> String {
    let mut body: Value = serde_json::from_str(&load(fixture)).expect("fixture is JSON");
    *body.pointer_mut(pointer).expect("field exists") = value;
    body.to_string()
}

const TEXT_FIELDS: [(&str, &str); 5] = [
    ("ecs_task-oom", "/detail/stoppedReason"),
    ("ecs_task-oom", "/detail/containers/0/reason"),
    ("ecs_task-oom", "/detail/containers/0/name"),
    ("ecs_task-seed000-test-message", "/detail/stoppedReason"),
    ("sfn_execution-catch-lambda-error", "/Cause"),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_secret_in_a_workload_text_field_never_shows(
        secret in secret(),
        field in prop::sample::select(TEXT_FIELDS.to_vec()),
    ) {
        let (fixture, pointer) = field;
        let body = with(fixture, pointer, json!(format!("failed: {} (end)", secret.text)));
        assert_hidden(&body, &secret.part);
    }

    #[test]
    fn a_secret_in_a_step_functions_cause_never_shows(secret in secret(), form in 0..3usize) {
        let json = secret.json.to_string();
        let cause = match form {
            0 => secret.text.clone(),
            1 => json,
            // Escaped JSON inside a JSON string, as a nested execution's cause is.
            _ => json!({ "Error": "States.TaskFailed", "Cause": json }).to_string(),
        };
        let body = with("sfn_execution-failed-error-cause", "/detail/cause", json!(cause));
        assert_hidden(&body, &secret.part);
    }

    #[test]
    fn a_secret_in_a_cause_cut_at_any_point_never_shows(secret in secret(), keep in 8..40usize) {
        prop_assume!(secret.survives_cut);
        let json = secret.json.to_string();
        let start = json.find(&secret.part).expect("the part is in the JSON");
        let cut = (start + keep).min(json.len());
        let shown = &secret.part[..keep.min(secret.part.len())];
        let body = with("sfn_execution-failed-error-cause", "/detail/cause", json!(&json[..cut]));
        assert_hidden(&body, shown);
    }

    #[test]
    fn a_secret_in_a_rejected_field_never_shows_in_the_error(secret in secret()) {
        let bodies = [
            json!({ "Error": { "detail": secret.text }, "Cause": "x" }).to_string(),
            with("ecs_task-oom", "/detail/taskArn", json!(secret.text)),
        ];
        for body in bodies {
            let error = process(&body, &ctx()).expect_err("the field is rejected");
            let shown = format!("{error} {error:?}");
            prop_assert!(!shown.contains(&secret.part), "{} leaked into {shown}", secret.part);
        }
    }
}

#[test]
fn overrides_of_a_step_functions_cause_cut_at_32k_never_show() {
    let body = include_str!("redact/14-sfn-failed-runtask-cause-truncated-32k.json");
    assert!(body.contains("sk_live_"));
    for payload in payloads(body) {
        assert!(!payload.contains("sk_live_"), "{payload}");
        assert!(
            !payload.contains(&"x".repeat(40)),
            "an environment value: {payload}"
        );
    }
}

#[test]
fn overrides_of_a_task_event_never_show() {
    let body = include_str!("redact/08-env-overrides-secrets-exit3.json");
    for secret in [
        "S3cr3t-Pa55w0rd",
        "tok_live_EXAMPLE",
        "exports/2026-03-14.csv",
    ] {
        assert!(body.contains(secret));
        assert_hidden(body, secret);
    }
}
