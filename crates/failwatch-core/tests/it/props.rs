//! Property tests over the whole pipeline: whatever arrives on the queue, decode → classify → render
//! never panics, and every rendered payload is JSON within its service's limits with no room mention or
//! link injection.
//!
//! Four generators, from least to most realistic: arbitrary bytes; arbitrary JSON; an EventBridge
//! envelope of each real detail-type around an arbitrary `detail` built from the keys AWS uses; and the
//! real fixtures with every free-text field (reasons, causes, errors, names) replaced by arbitrary text,
//! also with arbitrary log lines, log drivers, failed states and tags added as the worker would.

use failwatch_core::{Alert, Decision, RenderOptions, Target, process, render};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::fixtures::{ctx, events};
use crate::render::{INJECTION, assert_no_injection, assert_within_limits, enrich_all};

/// Runs one body through the pipeline and checks every payload it renders.
fn check_body(body: &str, check_injection: bool) {
    let Ok(Decision::Alert(alert)) = process(body, &ctx()) else {
        return;
    };
    check_alert(&alert, check_injection);
}

/// Checks every payload one alert renders to.
fn check_alert(alert: &Alert, check_injection: bool) {
    let mention = RenderOptions {
        mention: Some("<@42>".to_owned()),
    };
    for target in Target::ALL {
        for opts in [&RenderOptions::default(), &mention] {
            let payload = render(alert, target, opts);
            assert_within_limits(target, &payload);
            if check_injection && opts.mention.is_none() && target != Target::Json {
                assert_no_injection(target, &payload);
            }
        }
    }
}

/// Free text: arbitrary Unicode, or a mix of the fragments each service gives a meaning to.
pub(crate) fn text() -> impl Strategy<Value = String> {
    let fragment = prop::sample::select(vec![
        "<!channel>",
        "<!here>",
        "<users/all>",
        "@everyone",
        "@here",
        "<@123>",
        "<@&456>",
        "[x](https://evil.example)",
        "<https://evil.example|y>",
        "https://evil.example",
        "&",
        "&amp;",
        "<",
        ">",
        "]",
        "\\",
        "`",
        "*",
        "_",
        "\n",
        "\u{0}",
        "\u{202E}",
        "é",
        "🚨",
        "\u{200B}",
        "OutOfMemoryError",
        "CannotPullContainerError",
        " ",
    ]);
    prop_oneof![
        any::<String>(),
        prop::collection::vec(fragment, 0..40).prop_map(|v| v.concat()),
        // Long enough to force truncation at every level.
        (prop::collection::vec(any::<char>(), 1..8), 500usize..6000).prop_map(|(chars, n)| chars
            .into_iter()
            .cycle()
            .take(n)
            .collect()),
    ]
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A value for one of AWS's keys: a plausible real value, free text, or any JSON at all.
fn field_value() -> impl Strategy<Value = Value> {
    let real = prop::sample::select(vec![
        json!("STOPPED"),
        json!("DEPROVISIONING"),
        json!("RUNNING"),
        json!("EssentialContainerExited"),
        json!("TaskFailedToStart"),
        json!("SpotInterruption"),
        json!("ServiceSchedulerInitiated"),
        json!("FAILED"),
        json!("TIMED_OUT"),
        json!("ABORTED"),
        json!("ERROR"),
        json!("WARN"),
        json!("SERVICE_DEPLOYMENT_FAILED"),
        json!("SERVICE_TASK_PLACEMENT_FAILURE"),
        json!("FARGATE"),
        json!("arn:aws:ecs:us-east-1:123456789012:task/c/0123456789abcdef"),
        json!("arn:aws:ecs:cn-north-1:123456789012:cluster/c"),
        json!("arn:aws-us-gov:ecs:us-gov-west-1:123456789012:service/c/s"),
        json!("arn:aws:states:us-east-1:123456789012:execution:sm:run"),
        json!("service:api"),
        json!(137),
        json!(0),
        json!(1),
        json!("2026-11-20T08:15:30Z"),
        json!(1_700_000_000_000_i64),
    ]);
    prop_oneof![4 => real, 3 => text().prop_map(Value::String), 1 => json_value()]
}

/// The keys ECS and Step Functions put in `detail`, plus the ones of a container.
const DETAIL_KEYS: &[&str] = &[
    "taskArn",
    "clusterArn",
    "lastStatus",
    "desiredStatus",
    "stopCode",
    "stoppedReason",
    "group",
    "taskDefinitionArn",
    "launchType",
    "version",
    "stoppedAt",
    "createdAt",
    "eventType",
    "eventName",
    "reason",
    "deploymentId",
    "updatedAt",
    "status",
    "executionArn",
    "stateMachineArn",
    "name",
    "error",
    "cause",
    "startDate",
    "stopDate",
];

fn container() -> impl Strategy<Value = Value> {
    (
        field_value(),
        prop::option::of(any::<i64>()),
        field_value(),
        field_value(),
    )
        .prop_map(|(name, exit, reason, status)| {
            json!({"name": name, "exitCode": exit, "reason": reason, "lastStatus": status})
        })
}

/// An arbitrary `detail` built from AWS's keys.
fn detail() -> impl Strategy<Value = Value> {
    (
        prop::collection::btree_map(prop::sample::select(DETAIL_KEYS), field_value(), 0..20),
        prop::option::of(prop::collection::vec(container(), 0..30)),
    )
        .prop_map(|(fields, containers)| {
            let mut map: Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            if let Some(containers) = containers {
                map.insert("containers".to_owned(), Value::Array(containers));
            }
            Value::Object(map)
        })
}

/// An EventBridge envelope of each real detail-type around an arbitrary detail.
fn envelope() -> impl Strategy<Value = String> {
    let kind = prop::sample::select(vec![
        ("ECS Task State Change", "aws.ecs"),
        ("ECS Deployment State Change", "aws.ecs"),
        ("ECS Service Action", "aws.ecs"),
        ("Step Functions Execution Status Change", "aws.states"),
    ]);
    (
        kind,
        detail(),
        prop::collection::vec(field_value(), 0..3),
        any::<bool>(),
    )
        .prop_map(|((detail_type, source), detail, resources, with_account)| {
            let mut event = json!({
                "version": "0",
                "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
                "detail-type": detail_type,
                "source": source,
                "time": "2026-11-20T08:15:30Z",
                "region": "us-east-1",
                "resources": resources,
                "detail": detail,
            });
            if with_account {
                event["account"] = json!("123456789012");
            }
            event.to_string()
        })
}

/// Replaces every free-text field of a fixture, at any depth, with `texts` in turn.
fn replace_free_text(value: &mut Value, texts: &[String], next: &mut usize) {
    const FREE_TEXT: &[&str] = &[
        "stoppedReason",
        "reason",
        "cause",
        "error",
        "Cause",
        "Error",
        "StoppedReason",
        "Reason",
        "name",
        "Name",
        "group",
    ];
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if FREE_TEXT.contains(&key.as_str()) && v.is_string() && !texts.is_empty() {
                    *v = Value::String(texts[*next % texts.len()].clone());
                    *next += 1;
                } else {
                    replace_free_text(v, texts, next);
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                replace_free_text(v, texts, next);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        check_body(&String::from_utf8_lossy(&bytes), false);
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        check_body(&value.to_string(), false);
    }

    #[test]
    fn arbitrary_details_of_every_real_detail_type_render_within_limits(body in envelope()) {
        check_body(&body, true);
    }

    #[test]
    fn arbitrary_free_text_in_real_fixtures_renders_safely(
        index in any::<prop::sample::Index>(),
        texts in prop::collection::vec(text(), 1..6),
    ) {
        let fixtures = events();
        let (_, body) = &fixtures[index.index(fixtures.len())];
        let Ok(mut value) = serde_json::from_str::<Value>(body) else {
            return Ok(());
        };
        replace_free_text(&mut value, &texts, &mut 0);
        check_body(&value.to_string(), true);
    }
}

/// What the worker could add to an alert: arbitrary log lines for each container (or another driver),
/// a failed state and tags, all free text.
fn enrichment() -> impl Strategy<Value = (Vec<Vec<String>>, Option<String>, String, Vec<String>)> {
    (
        prop::collection::vec(prop::collection::vec(text(), 0..40), 0..4),
        prop::option::of(text()),
        text(),
        prop::collection::vec(text(), 0..12),
    )
}

fn enrich(
    alert: &mut Alert,
    (tails, driver, state, tags): (Vec<Vec<String>>, Option<String>, String, Vec<String>),
) {
    let tags = tags.into_iter().map(|t| (t.clone(), t)).collect();
    enrich_all(alert, tails, driver, state, tags);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_log_lines_tags_and_failed_states_render_safely(
        index in any::<prop::sample::Index>(),
        texts in prop::collection::vec(text(), 1..6),
        added in enrichment(),
    ) {
        let fixtures = events();
        let (_, body) = &fixtures[index.index(fixtures.len())];
        let Ok(mut value) = serde_json::from_str::<Value>(body) else {
            return Ok(());
        };
        replace_free_text(&mut value, &texts, &mut 0);
        let Ok(Decision::Alert(mut alert)) = process(&value.to_string(), &ctx()) else {
            return Ok(());
        };
        enrich(&mut alert, added);
        check_alert(&alert, true);
    }
}

#[test]
fn the_injection_text_in_every_fixture_renders_safely() {
    // The deterministic counterpart of the last property: the full injection text everywhere.
    for (file, body) in events() {
        let Ok(mut value) = serde_json::from_str::<Value>(&body) else {
            panic!("{file}: fixture is not JSON");
        };
        replace_free_text(&mut value, &[INJECTION.to_owned()], &mut 0);
        check_body(&value.to_string(), true);
    }
}
