//! What the worker's lookups added to an alert, as every renderer shows it: the failed state and the
//! tags as facts, and for each container its last log lines (or the log driver that keeps failwatch
//! from reading them) with its log stream's console link — and likewise for the failed Batch job or
//! Lambda invocation of a Step Functions execution, after any containers.
//!
//! Log lines are workload text like any other and are escaped for the markup they land in. A tail
//! keeps its newest lines, because the last thing a container printed usually says why it died: the
//! [`Level`] caps how many containers, lines and characters per line are shown, a renderer's element
//! limit caps the whole, and lines are dropped from the oldest end with a first line saying how many.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Level, blank, safe_url};
use crate::Alert;
use crate::alert::{FailedState, LogSource};
use crate::text::{Markup, Unit, cut_plain, fit, measure};

/// The most tags a Tags fact names; the rest are counted.
const MAX_TAGS: usize = 5;
/// The longest tag key or value shown, in characters; longer ones end with "…".
const MAX_TAG_CHARS: usize = 40;
/// What the line saying how many older lines were left out may take, in characters.
const EARLIER_RESERVE: usize = 32;

/// One container's log section.
#[derive(Debug, Clone, Copy)]
pub(super) struct LogSection<'a> {
    /// What the lines are from: the container's name (workload text), or "Batch job" or "Lambda
    /// function" for an execution's lines.
    pub(super) container: &'a str,
    /// The log stream's console page, when it may be a button or link ([`safe_url`]).
    pub(super) link: Option<&'a str>,
    /// What the section shows.
    pub(super) body: LogBody<'a>,
}

/// The body of a [`LogSection`].
#[derive(Debug, Clone, Copy)]
pub(super) enum LogBody<'a> {
    /// The container's last log lines, oldest first, never empty.
    Lines(&'a [String]),
    /// The container's log driver, which failwatch does not read.
    Driver(&'a str),
}

impl LogSection<'_> {
    /// The section's heading, "Last log lines — <container>", with the name escaped for `markup`.
    pub(super) fn heading(&self, markup: Markup, level: Level) -> String {
        format!(
            "Last log lines — {}",
            fit(self.container, markup, true, level.short, Unit::Chars)
        )
    }
}

/// The log sections of an alert's containers, in the order the task lists them, then the execution's
/// (its Batch job's or Lambda invocation's), at most `level.tails`. A container with no lines and no
/// other driver has none, nor an execution without lines.
pub(super) fn log_sections(alert: &Alert, level: Level) -> Vec<LogSection<'_>> {
    let containers = alert.task.iter().flat_map(|t| &t.containers);
    let containers = containers.filter_map(|c| {
        let body = match (&c.log_tail, &c.log_driver) {
            (Some(lines), _) if lines.iter().any(|l| !blank(l)) => LogBody::Lines(lines),
            (_, Some(driver)) if !blank(driver) => LogBody::Driver(driver),
            _ => return None,
        };
        Some(LogSection {
            container: &c.name,
            link: c.log_link.as_deref().filter(|u| safe_url(u)),
            body,
        })
    });
    let execution = alert.execution.iter().filter_map(|e| {
        let lines = e
            .log_tail
            .as_deref()
            .filter(|l| l.iter().any(|l| !blank(l)))?;
        Some(LogSection {
            container: match e.log_source? {
                LogSource::Batch => "Batch job",
                LogSource::Lambda => "Lambda function",
            },
            link: e.log_link.as_deref().filter(|u| safe_url(u)),
            body: LogBody::Lines(lines),
        })
    });
    containers.chain(execution).take(level.tails).collect()
}

/// The one line shown for a container whose logs go elsewhere, the driver's name escaped for `markup`.
pub(super) fn driver_note(driver: &str, markup: Markup, level: Level) -> String {
    format!(
        "Logs go to {}; failwatch reads awslogs only.",
        fit(driver, markup, true, level.short, Unit::Chars)
    )
}

/// The newest of `lines` that fit, oldest first, each escaped for `markup` and cut to
/// `level.tail_line` characters, joined by `newline` (the markup's line break), at most
/// `level.tail_lines` of them and `budget` characters in all. When older lines are left out, a first
/// line says how many. The newest line is always there, cut to the budget if need be.
pub(super) fn tail_text(
    lines: &[String],
    markup: Markup,
    newline: &str,
    level: Level,
    budget: usize,
) -> String {
    let sep = measure(newline, Unit::Chars);
    let mut kept: Vec<Cow<'_, str>> = Vec::with_capacity(level.tail_lines.min(lines.len()));
    let mut used = 0usize;
    for line in lines.iter().rev().take(level.tail_lines) {
        // Only the newest line is cut to what is left; an older one is either whole (to its cap) or
        // left out, so the block never starts with half a line.
        let cap = if kept.is_empty() {
            level
                .tail_line
                .min(budget.saturating_sub(EARLIER_RESERVE + sep))
        } else {
            level.tail_line
        };
        let piece = fit(
            line.trim_end_matches(['\r', '\n']),
            markup,
            false,
            cap,
            Unit::Chars,
        );
        let cost = measure(&piece, Unit::Chars) + sep;
        if !kept.is_empty() && used + cost + EARLIER_RESERVE > budget {
            break;
        }
        used += cost;
        kept.push(piece);
    }
    let mut out = String::with_capacity(used + EARLIER_RESERVE);
    let earlier = lines.len() - kept.len();
    if earlier > 0 {
        // Writing to a String cannot fail.
        let _ = write!(out, "…({earlier} earlier lines){newline}");
    }
    for (i, line) in kept.iter().rev().enumerate() {
        if i > 0 {
            out.push_str(newline);
        }
        out.push_str(line);
    }
    out
}

/// The failed state as one fact value: "RunReport (Task, arn:aws:states:::ecs:runTask.sync)".
pub(super) fn failed_state(state: &FailedState) -> String {
    match state.resource.as_deref().filter(|r| !blank(r)) {
        Some(resource) => format!("{} ({}, {resource})", state.name, state.state_type),
        None => format!("{} ({})", state.name, state.state_type),
    }
}

/// The tags as one compact fact value, "env=prod, team=payments", sorted by key: at most [`MAX_TAGS`],
/// each key and value cut to [`MAX_TAG_CHARS`], then how many more. AWS's own `aws:` tags
/// (CloudFormation stack names and ids) are left out as noise; `None` when nothing is left.
pub(super) fn tags(tags: &BTreeMap<String, String>) -> Option<String> {
    let shown: Vec<_> = tags
        .iter()
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect();
    if shown.is_empty() {
        return None;
    }
    let cut = |s: &str| {
        let kept = cut_plain(s, MAX_TAG_CHARS, Unit::Chars);
        if kept.len() < s.len() {
            format!("{kept}…")
        } else {
            kept.to_owned()
        }
    };
    let mut out = shown
        .iter()
        .take(MAX_TAGS)
        .map(|(k, v)| format!("{}={}", cut(k), cut(v)))
        .collect::<Vec<_>>()
        .join(", ");
    let more = shown.len().saturating_sub(MAX_TAGS);
    if more > 0 {
        let _ = write!(out, " (+{more} more)");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::LEVELS;

    #[test]
    fn a_tail_keeps_its_newest_lines_and_says_how_many_it_left_out() {
        let lines: Vec<String> = (0..30).map(|i| format!("line {i:02}")).collect();
        let text = tail_text(&lines, Markup::Code, "\n", LEVELS[0], 60);
        assert!(text.starts_with("…("), "{text}");
        assert!(text.ends_with("line 29"), "{text}");
        assert!(measure(&text, Unit::Chars) <= 60, "{text}");
        let all = tail_text(&lines, Markup::Code, "\n", LEVELS[0], 10_000);
        assert!(all.starts_with("line 00\n"), "{all}");
    }

    #[test]
    fn tags_are_sorted_cut_and_counted() {
        let map: BTreeMap<String, String> = [
            ("team", "payments"),
            ("env", "prod"),
            ("aws:cloudformation:stack-name", "x"),
            ("a", "1"),
            ("b", "2"),
            ("c", "3"),
            ("long", &"v".repeat(100)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let text = tags(&map).expect("tags");
        assert!(
            text.starts_with("a=1, b=2, c=3, env=prod, long=vvv"),
            "{text}"
        );
        assert!(text.ends_with("… (+1 more)"), "{text}");
    }
}
