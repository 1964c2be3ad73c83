//! What the grouping documents say in words: the subject of a group, the unit its failures are
//! counted in, spans of time, and the titles of crash-loop notices, digests and recoveries.

use crate::decode::sfn_state_machine_name;
use crate::group::CrashLoop;
use crate::{Alert, AlertKind};

/// The human name of what an alert is about: the state machine of a Step Functions alert, else the
/// ECS service (`service:NAME` task group, or the alert's service), else the task family, else the
/// alert's title.
pub(super) fn subject(alert: &Alert) -> String {
    let state_machine = alert.execution.as_ref().and_then(|e| {
        e.state_machine
            .as_deref()
            .or(e.arn.as_deref())
            .and_then(sfn_state_machine_name)
    });
    let task_group = alert.task.as_ref().and_then(|t| {
        let group = t.group.as_deref()?;
        Some(
            group
                .strip_prefix("service:")
                .or_else(|| group.strip_prefix("family:"))
                .unwrap_or(group),
        )
    });
    let family = alert
        .task
        .as_ref()
        .and_then(|t| t.definition.as_deref())
        .map(|d| d.split(':').next().unwrap_or(d));
    state_machine
        .or(task_group)
        .or(alert.service.as_deref())
        .or(family)
        .filter(|s| !s.is_empty())
        .unwrap_or(&alert.title)
        .to_owned()
}

/// What one failure of `kind` is called, singular or plural by `n`: ECS tasks, Step Functions
/// executions, plain failures otherwise.
pub(super) fn unit(kind: AlertKind, n: u64) -> &'static str {
    match (kind, n == 1) {
        (AlertKind::EcsTask, true) => "task",
        (AlertKind::EcsTask, false) => "tasks",
        (AlertKind::SfnExecution, true) => "execution",
        (AlertKind::SfnExecution, false) => "executions",
        (_, true) => "failure",
        (_, false) => "failures",
    }
}

/// `n` failures of `kind` in words: "8 tasks failed", "3 failures" (a failure needs no verb).
pub(super) fn failures(kind: AlertKind, n: u64, verb: &str) -> String {
    match kind {
        AlertKind::EcsTask | AlertKind::SfnExecution => format!("{n} {} {verb}", unit(kind, n)),
        _ => format!("{n} {}", unit(kind, n)),
    }
}

/// A span of whole seconds as people say it: "45 s", "10 min" (rounded to the nearest minute from
/// one minute on), "2 h" or "2 h 5 min" from two hours on.
pub(super) fn span(secs: u64) -> String {
    if secs < 60 {
        return format!("{secs} s");
    }
    let minutes = (secs + 30) / 60;
    if minutes < 120 {
        return format!("{minutes} min");
    }
    match (minutes / 60, minutes % 60) {
        (hours, 0) => format!("{hours} h"),
        (hours, rest) => format!("{hours} h {rest} min"),
    }
}

/// "payments-api is crash-looping: 8 tasks failed in 10 min".
pub(super) fn crash_loop_title(subject: &str, kind: AlertKind, crash_loop: CrashLoop) -> String {
    format!(
        "{subject} is crash-looping: {} in {}",
        failures(kind, crash_loop.failures, "failed"),
        span(crash_loop.window_secs)
    )
}

/// "payments-api: 12 more tasks failed (exit 137)": the digest's title without a crash loop, with the
/// most common exit code, or else the most common reason cut to a few words, when there is one.
pub(super) fn digest_title(
    subject: &str,
    kind: AlertKind,
    count: u64,
    verb: &str,
    exit_code: Option<&str>,
    reason: Option<&str>,
) -> String {
    let what = more(&failures(kind, count, verb));
    match (exit_code, reason) {
        (Some(code), _) => format!("{subject}: {what} (exit {code})"),
        (None, Some(reason)) => format!("{subject}: {what} ({})", few_words(reason)),
        (None, None) => format!("{subject}: {what}"),
    }
}

/// "12 tasks failed" → "12 more tasks failed".
fn more(what: &str) -> String {
    match what.split_once(' ') {
        Some((n, rest)) => format!("{n} more {rest}"),
        None => what.to_owned(),
    }
}

/// The first few words of a reason, for a title: at most 6 words and 48 characters.
fn few_words(reason: &str) -> String {
    const MAX_WORDS: usize = 6;
    const MAX_CHARS: usize = 48;
    let mut out = String::new();
    for (i, word) in reason.split_whitespace().enumerate() {
        if i == MAX_WORDS || out.chars().count() + 1 + word.chars().count() > MAX_CHARS {
            out.push('…');
            return out;
        }
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// "payments-api recovered after 8 failures over 12 min".
pub(super) fn recovery_title(subject: &str, failures: u64, secs: u64) -> String {
    let noun = if failures == 1 { "failure" } else { "failures" };
    format!(
        "{subject} recovered after {failures} {noun} over {}",
        span(secs)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(0), "0 s");
        assert_eq!(span(59), "59 s");
        assert_eq!(span(60), "1 min");
        assert_eq!(span(600), "10 min");
        assert_eq!(span(629), "10 min");
        assert_eq!(span(630), "11 min");
        assert_eq!(span(7199), "2 h");
        assert_eq!(span(7200 + 300), "2 h 5 min");
    }

    #[test]
    fn titles_count_in_the_kinds_unit() {
        let cl = CrashLoop {
            failures: 8,
            window_secs: 600,
        };
        assert_eq!(
            crash_loop_title("payments-api", AlertKind::EcsTask, cl),
            "payments-api is crash-looping: 8 tasks failed in 10 min"
        );
        assert_eq!(
            crash_loop_title("etl", AlertKind::SfnExecution, cl),
            "etl is crash-looping: 8 executions failed in 10 min"
        );
        assert_eq!(
            crash_loop_title("api", AlertKind::EcsService, cl),
            "api is crash-looping: 8 failures in 10 min"
        );
        assert_eq!(
            digest_title("api", AlertKind::EcsTask, 1, "failed", Some("137"), None),
            "api: 1 more task failed (exit 137)"
        );
        assert_eq!(
            digest_title(
                "api",
                AlertKind::EcsTask,
                12,
                "failed",
                None,
                Some(
                    "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing)"
                )
            ),
            "api: 12 more tasks failed (Task failed ELB health checks in…)"
        );
        assert_eq!(
            recovery_title("payments-api", 8, 720),
            "payments-api recovered after 8 failures over 12 min"
        );
    }
}
