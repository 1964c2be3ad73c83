//! Alerts with what the worker's lookups add (log tails, another container's log driver, the failed
//! state, tags), through every renderer: one insta snapshot per fixture and target,
//! `enriched-{fixture}__{target}.snap`, and the guarantee that a tail longer than a service allows still
//! fits and keeps its newest line.

use std::collections::BTreeMap;

use failwatch_core::{
    Alert, Decision, Enrichment, ExecutionLog, FailedState, LogSource, LogTail, RenderOptions,
    Target, log_stream_link, process, render,
};
use serde_json::Value;

use crate::fixtures::{ctx, load};
use crate::render::{assert_no_injection, assert_within_limits};
use crate::snapshots::{is_compact, pretty};

fn alert(fixture: &str) -> Alert {
    match process(&load(fixture), &ctx()) {
        Ok(Decision::Alert(alert)) => *alert,
        other => panic!("{fixture}: expected an alert, got {other:?}"),
    }
}

/// A Python service dying: 20 lines with a long one, unicode and emoji, room mentions and a markdown
/// link, and a code fence that must not close the block it is shown in.
fn python_tail() -> Vec<String> {
    [
        "INFO  2026-11-20 08:15:01 worker started pid=7 version=4.2.1",
        "INFO  2026-11-20 08:15:02 connected to postgres://payments-db:5432/payments",
        "WARN  2026-11-20 08:15:10 retrying batch 118 (attempt 2/5) <!channel> @everyone",
        "INFO  2026-11-20 08:15:11 see [the runbook](https://evil.example/runbook) for details",
        "INFO  2026-11-20 08:15:12 Größe überschritten — 処理中 🚨🔥 naïve café",
        "DEBUG 2026-11-20 08:15:13 payload: ```{\"id\": 118, \"items\": 40213}```",
        "Traceback (most recent call last):",
        "  File \"/app/worker/__main__.py\", line 88, in <module>",
        "    main()",
        "  File \"/app/worker/__main__.py\", line 61, in main",
        "    process(batch)",
        "  File \"/app/worker/batch.py\", line 142, in process",
        "    rows = [transform(r) for r in load_rows(batch.id)]",
        "  File \"/app/worker/batch.py\", line 142, in <listcomp>",
        "    rows = [transform(r) for r in load_rows(batch.id)]",
        "  File \"/app/worker/transform.py\", line 19, in transform",
        "    return {**row, \"_audit\": audit_trail(row)}",
        &format!(
            "  File \"/app/worker/audit.py\", line 7, in audit_trail {}",
            "x".repeat(700)
        ),
        "MemoryError: Unable to allocate 1.21 GiB for an array with shape (162000000,) and data type float64",
        "ERROR 2026-11-20 08:15:29 worker exiting with status 137 *** <@123> <users/all>",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// A Java service failing to start.
fn java_tail() -> Vec<String> {
    let mut lines = vec![
        "2026-11-20 08:15:29.114 ERROR 1 --- [main] o.s.boot.SpringApplication : Application run failed".to_owned(),
        "org.springframework.beans.factory.BeanCreationException: Error creating bean with name 'dataSource'".to_owned(),
    ];
    lines.extend((0..16).map(|i| {
        format!("\tat org.springframework.beans.factory.support.AbstractBeanFactory.doGetBean(AbstractBeanFactory.java:{})", 300 + i)
    }));
    lines.push(
        "Caused by: java.net.UnknownHostException: db.internal: Name or service not known — ✗"
            .to_owned(),
    );
    lines.push("\t... 42 common frames omitted".to_owned());
    lines
}

fn log_link(container: &str) -> String {
    format!(
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Fecs$252Fpayments/log-events/ecs$252F{container}$252F0b9e6a7c1d2e4f30"
    )
}

fn enrichment(alert: &Alert, lines: Vec<String>) -> Enrichment {
    let lookups = alert.lookups();
    // A Batch job's lines come from its stream, as the worker reads them.
    let execution_log = lookups.batch_log.as_ref().map(|stream| ExecutionLog {
        source: LogSource::Batch,
        lines: lines.clone(),
        link: log_stream_link(
            &alert.partition,
            alert.region.as_deref().unwrap_or("us-east-1"),
            &stream.group,
            &stream.stream,
        ),
    });
    let failed = lookups.failed_containers;
    let mut log_tails: Vec<LogTail> = failed
        .first()
        .map(|name| LogTail {
            container: name.clone(),
            lines,
            link: Some(log_link(name)),
            driver: None,
        })
        .into_iter()
        .collect();
    // The OOM fixture's log router ships its logs elsewhere.
    log_tails.push(LogTail {
        container: "log-router".to_owned(),
        lines: Vec::new(),
        link: None,
        driver: Some("awsfirelens".to_owned()),
    });
    Enrichment {
        log_tails,
        failed_state: Some(FailedState {
            name: "RunReport".to_owned(),
            state_type: "Task".to_owned(),
            resource: Some("arn:aws:states:::ecs:runTask.sync".to_owned()),
        }),
        tags: Some(BTreeMap::from([
            ("team".to_owned(), "payments".to_owned()),
            ("env".to_owned(), "prod".to_owned()),
            (
                "aws:cloudformation:stack-name".to_owned(),
                "payments-prod".to_owned(),
            ),
        ])),
        execution_log,
    }
}

#[test]
fn every_renderer_for_enriched_fixtures() {
    for (fixture, lines) in [
        ("ecs_task-oom", python_tail()),
        ("ecs_task-essential-container-exit254", java_tail()),
        ("sfn_execution-failed-runtask-sync", python_tail()),
        ("sfn_execution-batch-out-of-memory", python_tail()),
    ] {
        let mut alert = alert(fixture);
        alert.enrich(enrichment(&alert, lines));
        for target in Target::ALL {
            let payload = render(&alert, target, &RenderOptions::default());
            assert!(is_compact(&payload), "{fixture} {target}: not compact");
            assert_within_limits(target, &payload);
            if target != Target::Json {
                assert_no_injection(target, &payload);
                assert!(payload.contains("Last log lines"), "{fixture} {target}");
                assert!(payload.contains("team=payments"), "{fixture} {target}");
            }
            insta::with_settings!({
                prepend_module_to_snapshot => false,
                description => format!("{fixture} with log lines, failed state and tags, for {target}"),
                omit_expression => true,
            }, {
                insta::assert_snapshot!(format!("enriched-{fixture}__{target}"), pretty(&payload));
            });
        }
    }
}

#[test]
fn twenty_lines_beyond_every_limit_fit_and_keep_the_newest() {
    // 20 lines of 1,000 characters: 20,000 in all, beyond a Discord embed (6,000), a Slack section
    // (3,000) and, with the escapes, near Teams' 28 KB.
    let lines: Vec<String> = (0..20)
        .map(|i| format!("L{i:02} {}", "é<&>🚨*_`".repeat(120)))
        .collect();
    let mut alert = alert("ecs_task-oom");
    alert.enrich(Enrichment {
        log_tails: vec![LogTail {
            container: "app".to_owned(),
            lines,
            link: Some(log_link("app")),
            driver: None,
        }],
        ..Enrichment::default()
    });
    for target in Target::ALL {
        let payload = render(&alert, target, &RenderOptions::default());
        assert_within_limits(target, &payload);
        let v: Value = serde_json::from_str(&payload).expect("JSON");
        let text = v.to_string();
        assert!(text.contains("L19 "), "{target}: the newest line is gone");
        if matches!(target, Target::Slack | Target::Discord) {
            assert!(!text.contains("L00 "), "{target}: the oldest line fits too");
            assert!(
                text.contains("earlier lines)"),
                "{target}: no count of the lines left out"
            );
        }
    }
}
