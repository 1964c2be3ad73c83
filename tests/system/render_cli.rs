//! `failwatch render`: the exact payloads the worker would post, from files or stdin, through the same
//! classification and de-duplication. No emulator needed.

use std::path::Path;

use serde_json::Value;

use crate::support::events::{
    failed_execution, failed_task, failed_task_deprovisioning, finished_task, succeeded_execution,
    task_id,
};
use crate::support::receiver::payload_problems;
use crate::support::{failwatch, fixtures_dir};

/// `--to` value and the receiver service whose shape its output must have.
const TARGETS: [(&str, &str); 5] = [
    ("json", "webhook"),
    ("google-chat", "google-chat"),
    ("slack", "slack"),
    ("teams", "teams"),
    ("discord", "discord"),
];

fn stdout_lines(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .expect("render prints UTF-8")
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| {
                panic!("render printed a line that is not JSON ({err}): {line}")
            })
        })
        .collect()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write input");
    path.to_str().expect("UTF-8 temp path").to_owned()
}

#[test]
fn render_prints_one_valid_payload_line_per_alert_for_every_target() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "failed.json",
        &failed_task(&task_id(1, 1)).sqs_body("e-1"),
    );
    for (target, service) in TARGETS {
        let output = failwatch(&["render", "--to", target, &file], "", &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "render --to {target}: {}",
            stderr(&output)
        );
        let lines = stdout_lines(&output);
        assert_eq!(lines.len(), 1, "render --to {target} printed {lines:?}");
        let problems = payload_problems(service, &lines[0]);
        assert!(problems.is_empty(), "render --to {target}: {problems:?}");
    }
}

#[test]
fn render_defaults_to_the_alert_document() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "failed.json",
        &failed_task(&task_id(2, 1)).sqs_body("e-2"),
    );
    let output = failwatch(&["render", &file], "", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["schema"], "failwatch.alert.v1");
    assert_eq!(lines[0]["kind"], "ecs_task");
    assert_eq!(lines[0]["severity"], "critical");
    assert_eq!(lines[0]["cluster"], "prod-payments");
}

#[test]
fn render_ignored_event_prints_its_reason_on_stderr_and_exits_0() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "finished.json",
        &finished_task(&task_id(3, 1)).sqs_body("e-3"),
    );
    let output = failwatch(&["render", "--to", "slack", &file], "", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        output.stdout.is_empty(),
        "an ignored event printed a payload"
    );
    assert!(
        !stderr(&output).trim().is_empty(),
        "an ignored event must say why on stderr"
    );
}

#[test]
fn render_malformed_input_exits_65_naming_the_input() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = write(
        dir.path(),
        "good.json",
        &failed_task(&task_id(4, 1)).sqs_body("e-4"),
    );
    let bad = write(dir.path(), "broken-body-7.json", "{\"detail\": ");
    let output = failwatch(&["render", &good, &bad], "", &[]);
    assert_eq!(output.status.code(), Some(65), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("broken-body-7.json"),
        "the error must name the input: {}",
        stderr(&output)
    );
}

/// Review h2, nit 9: a missing file or a directory exited 65, as if its body were malformed; a file
/// that cannot be read is `EX_NOINPUT`, 66, and the inputs that can be read are still rendered.
#[test]
fn render_missing_file_or_directory_exits_66_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = write(
        dir.path(),
        "good.json",
        &failed_task(&task_id(3, 1)).sqs_body("e-3"),
    );
    let bad = write(dir.path(), "broken.json", "{\"detail\": ");
    let folder = dir.path().to_str().expect("UTF-8 temp path");
    for missing in ["/nonexistent/failwatch-missing-9.json", folder] {
        let output = failwatch(&["render", &good, missing, &bad], "", &[]);
        assert_eq!(output.status.code(), Some(66), "{}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!("error: {missing}: cannot read")),
            "{}",
            stderr(&output)
        );
        assert_eq!(
            stdout_lines(&output).len(),
            1,
            "the good input still renders"
        );
    }
}

/// Review h2, nit 9: a file saved with a UTF-8 byte order mark before valid JSON was "not JSON:
/// expected value at line 1 column 1".
#[test]
fn render_reads_a_body_after_a_utf8_byte_order_mark() {
    let dir = tempfile::tempdir().expect("temp dir");
    let body = failed_task(&task_id(3, 2)).sqs_body("e-3-2");
    let file = write(dir.path(), "bom.json", &format!("\u{feff}{body}"));
    let output = failwatch(&["render", &file], "", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout_lines(&output).len(), 1);
    let output = failwatch(&["render"], &format!("\u{feff}{body}\n"), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout_lines(&output).len(), 1);
}

#[test]
fn render_reads_one_body_per_line_from_stdin() {
    let stdin = [
        failed_task(&task_id(5, 1)).sqs_body("e-5-1"),
        finished_task(&task_id(5, 2)).sqs_body("e-5-2"),
        failed_execution("run-5-3").sqs_body("e-5-3"),
    ]
    .join("\n");
    let output = failwatch(&["render", "--to", "json"], &stdin, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines = stdout_lines(&output);
    let kinds: Vec<&str> = lines
        .iter()
        .map(|line| line["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["ecs_task", "sfn_execution"], "in input order");
}

#[test]
fn render_malformed_stdin_line_exits_65_naming_the_line() {
    let stdin = [
        failed_task(&task_id(6, 1)).sqs_body("e-6-1"),
        "not json at all".to_owned(),
    ]
    .join("\n");
    let output = failwatch(&["render"], &stdin, &[]);
    assert_eq!(output.status.code(), Some(65), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("stdin") && message.contains('2'),
        "the error must name stdin and the line: {message}"
    );
}

#[test]
fn render_gives_one_alert_for_deprovisioning_and_stopped_of_one_task() {
    let task = task_id(7, 1);
    let stdin = [
        failed_task_deprovisioning(&task).sqs_body("e-7-1"),
        failed_task(&task).sqs_body("e-7-2"),
        // EventBridge delivering the STOPPED event twice.
        failed_task(&task).sqs_body("e-7-2"),
        failed_task(&task_id(7, 2)).sqs_body("e-7-3"),
    ]
    .join("\n");
    let output = failwatch(&["render", "--to", "json"], &stdin, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 2, "one alert per stopped task: {lines:?}");
    assert_ne!(lines[0]["dedup_key"], lines[1]["dedup_key"]);
}

/// Every sample body in tests/fixtures/events renders for every target: exit 0, and each printed line
/// is a valid payload for its service. Across the samples, some alert and some stay silent.
#[test]
fn render_every_fixture_for_every_target() {
    let mut files: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures/events")
        .map(|entry| entry.expect("fixture entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| path.to_str().expect("UTF-8 fixture path").to_owned())
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "expected sample events in {}",
        fixtures_dir().display()
    );
    let mut alerting = 0;
    for file in &files {
        for (target, service) in TARGETS {
            let output = failwatch(&["render", "--to", target, file], "", &[]);
            assert_eq!(
                output.status.code(),
                Some(0),
                "render --to {target} {file}: {}",
                stderr(&output)
            );
            let lines = stdout_lines(&output);
            assert!(lines.len() <= 1, "{file} gave {} alerts", lines.len());
            for line in &lines {
                let problems = payload_problems(service, line);
                assert!(problems.is_empty(), "{file} --to {target}: {problems:?}");
            }
            if target == "json" && !lines.is_empty() {
                alerting += 1;
            }
        }
    }
    assert!(alerting > 0, "no fixture alerts");
    assert!(alerting < files.len(), "no fixture is silent");
}

/// Every body in tests/fixtures/malformed fails to render with exit 65 and an error naming the file.
#[test]
fn render_every_malformed_fixture_exits_65_naming_it() {
    let dir = fixtures_dir().with_file_name("malformed");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("fixture entry").path())
        .filter(|path| path.is_file() && path.extension().is_none_or(|ext| ext != "md"))
        .collect();
    assert!(
        !files.is_empty(),
        "no malformed fixtures in {}",
        dir.display()
    );
    for path in files {
        let file = path.to_str().expect("UTF-8 fixture path");
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let output = failwatch(&["render", file], "", &[]);
        assert_eq!(
            output.status.code(),
            Some(65),
            "{file}: {}",
            stderr(&output)
        );
        assert!(output.stdout.is_empty(), "{file} rendered something");
        assert!(
            stderr(&output).contains(name),
            "{file}: {}",
            stderr(&output)
        );
    }
}

/// Twelve failed tasks of one service, one body a line.
fn burst_of_twelve() -> String {
    (1..=12)
        .map(|n| failed_task(&task_id(13, n)).sqs_body(&format!("e-13-{n}")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn render_group_interval_folds_a_burst_into_one_alert_and_one_digest() {
    let stdin = burst_of_twelve();
    let output = failwatch(
        &["render", "--to", "json", "--group-interval", "5m"],
        &stdin,
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 2, "one alert and one digest: {lines:?}");
    let (alert, digest) = (&lines[0], &lines[1]);
    assert_eq!(alert["schema"], "failwatch.alert.v1");
    assert_eq!(digest["schema"], "failwatch.digest.v1");
    assert_eq!(digest["count"], 11);
    assert_eq!(digest["group_key"], alert["group_key"]);
    let keys = digest["dedup_keys"].as_array().expect("dedup_keys");
    assert_eq!(keys.len(), 11);
    assert!(
        !keys.contains(&alert["dedup_key"]),
        "the posted alert is not folded"
    );
    assert_eq!(
        stderr(&output).matches("folded into the digest").count(),
        11
    );

    for (target, service) in TARGETS.into_iter().filter(|(t, _)| *t != "json") {
        let args = ["render", "--to", target, "--group-interval", "5m"];
        let output = failwatch(&args, &stdin, &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{target}: {}",
            stderr(&output)
        );
        let lines = stdout_lines(&output);
        assert_eq!(lines.len(), 2, "{target}: {lines:?}");
        for line in &lines {
            let problems = payload_problems(service, line);
            assert!(problems.is_empty(), "{target}: {problems:?}");
        }
        assert!(
            lines[1].to_string().contains("and 1 more"),
            "{target}: {}",
            lines[1]
        );
    }
}

#[test]
fn render_crash_loop_flags_set_when_a_burst_is_a_crash_loop() {
    let digest = |extra: &[&str]| {
        let args = [
            &["render", "--to", "json", "--group-interval", "5m"][..],
            extra,
        ]
        .concat();
        let output = failwatch(&args, &burst_of_twelve(), &[]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        stdout_lines(&output).pop().expect("a digest")
    };
    // Twelve failures a second apart: a crash loop by the defaults (5 within 10 min).
    let by_default = digest(&[]);
    assert_eq!(by_default["crash_loop"]["failures"], 12, "{by_default}");
    assert!(digest(&["--crash-loop-threshold", "0"])["crash_loop"].is_null());
    assert!(digest(&["--crash-loop-threshold", "20"])["crash_loop"].is_null());
    // Failures count on the events' own times (all the same here), not the synthetic clock.
    let windowed = digest(&["--crash-loop-window", "3s"]);
    assert_eq!(windowed["crash_loop"]["window_secs"], 3, "{windowed}");
    assert_eq!(by_default["crash_loop"]["window_secs"], 600, "{by_default}");

    let output = failwatch(&["render", "--crash-loop-threshold", "3"], "", &[]);
    assert_eq!(
        output.status.code(),
        Some(64),
        "a crash-loop flag without --group-interval is a usage error"
    );
    let args = [
        "render",
        "--group-interval",
        "0s",
        "--crash-loop-threshold",
        "3",
    ];
    let output = failwatch(&args, "", &[]);
    assert_eq!(
        output.status.code(),
        Some(64),
        "a crash-loop flag with grouping off is a usage error: {}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("--crash-loop-threshold"),
        "{}",
        stderr(&output)
    );
}

/// Review h2, nit 6: `--group-interval` takes what `[grouping] group_interval` takes; `24h` was
/// accepted and `999ms` turned grouping off without a word.
#[test]
fn render_group_interval_out_of_the_configs_range_exits_64_naming_the_flag() {
    for interval in ["24h", "999ms"] {
        let output = failwatch(&["render", "--group-interval", interval], "", &[]);
        assert_eq!(
            output.status.code(),
            Some(64),
            "{interval}: {}",
            stderr(&output)
        );
        let message = stderr(&output);
        assert!(
            message.contains("--group-interval") && message.contains("1s to 1h"),
            "{message}"
        );
    }
}

#[test]
fn render_without_a_group_interval_prints_every_alert() {
    for args in [
        &["render", "--to", "json"][..],
        &["render", "--to", "json", "--group-interval", "0s"],
    ] {
        let output = failwatch(args, &burst_of_twelve(), &[]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let lines = stdout_lines(&output);
        assert_eq!(lines.len(), 12, "{args:?}");
        assert!(lines.iter().all(|l| l["schema"] == "failwatch.alert.v1"));
    }
}

/// Renders `stdin` as JSON with a 5 min group interval, which must print an alert, its digest and its
/// recovery, in that order; returns the three documents.
fn alert_digest_recovery(stdin: &str) -> Vec<Value> {
    let args = ["render", "--to", "json", "--group-interval", "5m"];
    let output = failwatch(&args, stdin, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines = stdout_lines(&output);
    let schemas: Vec<&str> = lines.iter().filter_map(|l| l["schema"].as_str()).collect();
    assert_eq!(
        schemas,
        [
            "failwatch.alert.v1",
            "failwatch.digest.v1",
            "failwatch.recovery.v1"
        ],
        "{lines:?}"
    );
    lines
}

#[test]
fn render_group_interval_prints_the_pending_digest_then_the_recovery() {
    let stdin = [
        failed_execution("run-1").sqs_body("e-14-1"),
        failed_execution("run-2").sqs_body("e-14-2"),
        failed_execution("run-3").sqs_body("e-14-3"),
        succeeded_execution("run-4").sqs_body("e-14-4"),
    ]
    .join("\n");
    let lines = alert_digest_recovery(&stdin);
    assert_eq!(lines[1]["count"], 2);
    assert_eq!(lines[2]["failures"], 3);
    assert_eq!(lines[2]["group_key"], lines[0]["group_key"]);
}

#[test]
fn render_group_interval_tells_no_recovery_for_successes_between_failures() {
    // Executions of one state machine failing and succeeding in turn, a second apart (their own
    // times too): each success is followed by a failure, so none is a recovery. The last success
    // comes after the last failure: told once the group was quiet for its interval.
    let at = |body: String, second: u32| {
        body.replace(
            "2026-11-21T00:00:00Z",
            &format!("2026-11-21T00:00:{second:02}Z"),
        )
    };
    let stdin = [
        at(failed_execution("run-1").sqs_body("e-15-1"), 1),
        at(succeeded_execution("run-2").sqs_body("e-15-2"), 2),
        at(failed_execution("run-3").sqs_body("e-15-3"), 3),
        at(succeeded_execution("run-4").sqs_body("e-15-4"), 4),
        at(failed_execution("run-5").sqs_body("e-15-5"), 5),
        at(succeeded_execution("run-6").sqs_body("e-15-6"), 6),
    ]
    .join("\n");
    let lines = alert_digest_recovery(&stdin);
    assert_eq!(lines[1]["count"], 2);
    assert_eq!(lines[2]["failures"], 3);
}
