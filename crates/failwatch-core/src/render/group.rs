//! What the digest and recovery layouts of every chat service share: a [`Notice`], the one view of a
//! `failwatch.digest.v1` or `failwatch.recovery.v1` document that each service's module lays out.
//!
//! A notice holds our own words (heading, labels) apart from text that came from the group's alerts
//! (title, ids, reasons, times). That text was redacted when the alerts were built, but it is still
//! workload text: it is cut here to the [`Level`]'s caps, before escaping, and each service escapes it
//! with [`crate::text::fit`] exactly as it escapes an alert's. Cutting the source text (between
//! characters) and escaping afterwards never leaves half an escape.

use std::borrow::Cow;

use super::{
    Button, Fact, Level, blank, link_buttons, safe_url, severity_emoji, severity_rgb,
    severity_word, shrink,
};
use crate::text::{TRUNCATION_MARKER, Unit, cut_plain, measure};
use crate::{Digest, Recovery, Severity, Tally};

/// The colour and word of a notice: a severity, or resolved for a recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tone {
    /// A digest, at its severity (critical for a crash loop).
    Severity(Severity),
    /// A recovery.
    Resolved,
}

impl Tone {
    /// The tone as a word.
    pub(super) fn word(self) -> &'static str {
        match self {
            Tone::Severity(severity) => severity_word(severity),
            Tone::Resolved => "Resolved",
        }
    }

    /// The tone as an emoji, for services without colour.
    pub(super) fn emoji(self) -> &'static str {
        match self {
            Tone::Severity(severity) => severity_emoji(severity),
            Tone::Resolved => "✅",
        }
    }

    /// The tone as an RGB colour: a severity's, or green for resolved.
    pub(super) fn rgb(self) -> u32 {
        match self {
            Tone::Severity(severity) => severity_rgb(severity),
            Tone::Resolved => 0x2E7D32,
        }
    }
}

/// One folded alert as a digest lists it. Every text field is workload text, cut but not escaped.
#[derive(Debug)]
pub(super) struct Listed<'a> {
    /// The task id or execution name.
    pub(super) id: Cow<'a, str>,
    /// When it failed, as the alert states it.
    pub(super) time: Cow<'a, str>,
    /// Exit codes and reason on one line, e.g. "exit 137 · OutOfMemoryError"; empty when it has neither.
    pub(super) detail: String,
    /// Its console link, when it has one that [`safe_url`] accepts.
    pub(super) link: Option<&'a str>,
}

/// A digest or a recovery, ready for a service's layout.
#[derive(Debug)]
pub(super) struct Notice<'a> {
    pub(super) tone: Tone,
    /// Our own heading, e.g. "🚨 Critical · ECS task crash loop" (trusted, not escaped).
    pub(super) heading: String,
    /// The document's title, built from workload names: escaped like workload text.
    pub(super) title: &'a str,
    /// Labelled values in display order (counts, times, tallies, account, region).
    pub(super) facts: Vec<Fact<'a>>,
    /// The folded alerts listed one by one (empty for a recovery).
    pub(super) listed: Vec<Listed<'a>>,
    /// How many folded alerts `listed` leaves out, shown as "and N more".
    pub(super) more: u64,
    /// The document's shared console links, as buttons.
    pub(super) buttons: Vec<Button<'a>>,
    /// The group's key and, below, where its alerts come from (partition, account, region): Google
    /// Chat's thread key, so the notice replies in the group's thread.
    pub(super) group_key: &'a str,
    pub(super) origin: (&'a str, Option<&'a str>, Option<&'a str>),
    /// What the footer names after "failwatch · ": a label and a value (workload text).
    pub(super) footer: (&'static str, &'a str),
    /// When the notice's news happened (last failure, recovery), RFC 3339, for Discord's timestamp.
    pub(super) time: &'a str,
    /// The Google Chat card id.
    pub(super) card_id: &'static str,
}

impl Notice<'_> {
    /// "and N more", when the digest folds alerts it does not list.
    pub(super) fn more_text(&self) -> Option<String> {
        (self.more > 0).then(|| format!("and {} more", self.more))
    }
}

/// Renders the notice `build` makes at each [`Level`] with `json` and returns the first payload of at
/// most `max_bytes`, or the last level's (see [`shrink`]).
pub(super) fn shrink_to_bytes<'a>(
    build: impl Fn(Level) -> Notice<'a>,
    json: impl Fn(&Notice<'a>, Level) -> String,
    max_bytes: usize,
) -> String {
    shrink(
        |level| json(&build(level), level),
        |payload| measure(payload, Unit::Bytes) <= max_bytes,
    )
}

/// The most exit codes shown for one listed alert; a task has a handful of containers.
const MAX_EXIT_CODES: usize = 5;

/// `digest` as a notice at `level`.
pub(super) fn digest(digest: &Digest, level: Level) -> Notice<'_> {
    let tone = Tone::Severity(if digest.crash_loop.is_some() {
        Severity::Critical
    } else {
        digest.severity
    });
    let what = if digest.crash_loop.is_some() {
        "crash loop"
    } else {
        "digest"
    };
    let heading = format!(
        "{} {} · {} {what}",
        tone.emoji(),
        tone.word(),
        digest.kind.label()
    );

    let mut facts = Facts::new();
    facts.short("Failures", Cow::Owned(digest.count.to_string()), level);
    if let Some(crash_loop) = digest.crash_loop {
        let window = duration_words(crash_loop.window_secs);
        let value = format!("{} failures in {window}", crash_loop.failures);
        facts.short("Crash loop", Cow::Owned(value), level);
    }
    facts.short("First failure", Cow::Borrowed(&digest.first_time), level);
    facts.short("Last failure", Cow::Borrowed(&digest.last_time), level);
    let reasons = tallies(&digest.reasons, level.short, |count, value| {
        format!("{count}× {value}")
    });
    facts.long("Reasons", reasons.join("\n"));
    let exit_codes = tallies(&digest.exit_codes, level.short, |count, value| {
        format!("{value} ({count}×)")
    });
    facts.short("Exit codes", Cow::Owned(exit_codes.join(", ")), level);
    facts.short("Account", opt(&digest.account), level);
    facts.short("Region", opt(&digest.region), level);

    let listed: Vec<Listed<'_>> = digest
        .alerts
        .iter()
        .take(level.listed.min(Digest::MAX_LISTED))
        .map(|alert| Listed {
            id: clip(&alert.id, level.short),
            time: clip(&alert.time, level.short),
            detail: detail(&alert.exit_codes, alert.reason.as_deref(), level),
            link: alert.link.as_deref().filter(|u| safe_url(u)),
        })
        .collect();
    let dropped = digest.alerts.len().saturating_sub(listed.len());
    Notice {
        tone,
        heading,
        title: &digest.title,
        facts: facts.0,
        more: digest.unlisted.saturating_add(dropped as u64),
        listed,
        buttons: link_buttons(&digest.links),
        group_key: &digest.group_key,
        origin: (
            &digest.partition,
            digest.account.as_deref(),
            digest.region.as_deref(),
        ),
        footer: ("group", &digest.group_key),
        time: &digest.last_time,
        card_id: "failwatch-digest",
    }
}

/// `recovery` as a notice at `level`: title, failures, duration, first failure, links.
pub(super) fn recovery(recovery: &Recovery, level: Level) -> Notice<'_> {
    let tone = Tone::Resolved;
    let heading = format!("{} Recovered · {}", tone.emoji(), recovery.kind.label());
    let mut facts = Facts::new();
    facts.short("Failures", Cow::Owned(recovery.failures.to_string()), level);
    facts.short(
        "Duration",
        Cow::Owned(duration_words(recovery.duration_secs)),
        level,
    );
    facts.short(
        "First failure",
        Cow::Borrowed(&recovery.first_failure_time),
        level,
    );
    facts.short("Recovered", Cow::Borrowed(&recovery.recovered_time), level);
    facts.short("Account", opt(&recovery.account), level);
    facts.short("Region", opt(&recovery.region), level);
    Notice {
        tone,
        heading,
        title: &recovery.title,
        facts: facts.0,
        listed: Vec::new(),
        more: 0,
        buttons: link_buttons(&recovery.links),
        group_key: &recovery.group_key,
        origin: (
            &recovery.partition,
            recovery.account.as_deref(),
            recovery.region.as_deref(),
        ),
        footer: ("event", &recovery.event_id),
        time: &recovery.recovered_time,
        card_id: "failwatch-recovery",
    }
}

/// The facts of a notice, leaving out blank values (services reject empty fields).
struct Facts<'a>(Vec<Fact<'a>>);

impl<'a> Facts<'a> {
    fn new() -> Self {
        Self(Vec::with_capacity(8))
    }

    /// A one-line value, cut to the level's short cap.
    fn short(&mut self, label: &'static str, value: Cow<'a, str>, level: Level) {
        if !blank(&value) {
            let value = match value {
                Cow::Borrowed(v) => clip(v.trim(), level.short),
                Cow::Owned(v) => Cow::Owned(clip(v.trim(), level.short).into_owned()),
            };
            self.0.push(Fact {
                label,
                value,
                long: false,
            });
        }
    }

    /// Free text over several lines, whose parts the caller already cut; the service cuts the whole
    /// to the level's long cap.
    fn long(&mut self, label: &'static str, value: String) {
        if !blank(&value) {
            self.0.push(Fact {
                label,
                value: Cow::Owned(value),
                long: true,
            });
        }
    }
}

fn opt(value: &Option<String>) -> Cow<'_, str> {
    Cow::Borrowed(value.as_deref().unwrap_or_default())
}

/// At most [`Digest::MAX_TALLIES`] tallies, each value cut to `limit` and written by `line`.
fn tallies(tallies: &[Tally], limit: usize, line: impl Fn(u64, &str) -> String) -> Vec<String> {
    tallies
        .iter()
        .take(Digest::MAX_TALLIES)
        .filter(|t| !blank(&t.value))
        .map(|t| line(t.count, &clip(t.value.trim(), limit)))
        .collect()
}

/// A listed alert's exit codes and reason on one line.
fn detail(exit_codes: &[i64], reason: Option<&str>, level: Level) -> String {
    let mut parts = Vec::with_capacity(2);
    if !exit_codes.is_empty() {
        let codes: Vec<String> = exit_codes
            .iter()
            .take(MAX_EXIT_CODES)
            .map(i64::to_string)
            .collect();
        let word = if exit_codes.len() == 1 {
            "exit"
        } else {
            "exits"
        };
        let ellipsis = if exit_codes.len() > MAX_EXIT_CODES {
            ", …"
        } else {
            ""
        };
        parts.push(format!("{word} {}{ellipsis}", codes.join(", ")));
    }
    if let Some(reason) = reason.filter(|r| !blank(r)) {
        parts.push(clip(reason.trim(), level.short).into_owned());
    }
    parts.join(" · ")
}

/// `text` cut to at most `limit` characters, ending with [`TRUNCATION_MARKER`] when cut.
fn clip(text: &str, limit: usize) -> Cow<'_, str> {
    if measure(text, Unit::Chars) <= limit {
        return Cow::Borrowed(text);
    }
    let room = limit.saturating_sub(measure(TRUNCATION_MARKER, Unit::Chars));
    Cow::Owned(format!(
        "{}{TRUNCATION_MARKER}",
        cut_plain(text, room, Unit::Chars)
    ))
}

/// Whole seconds in the words of "over 12 min": "45 s", "12 min", "2 h 5 min", "3 d 4 h".
pub(super) fn duration_words(secs: u64) -> String {
    let (days, hours, mins) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{mins} min"),
        3600..86_400 if mins == 0 => format!("{hours} h"),
        3600..86_400 => format!("{hours} h {mins} min"),
        _ if hours == 0 => format!("{days} d"),
        _ => format!("{days} d {hours} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        for (secs, words) in [
            (0, "0 s"),
            (59, "59 s"),
            (60, "1 min"),
            (725, "12 min"),
            (3600, "1 h"),
            (7500, "2 h 5 min"),
            (86_400, "1 d"),
            (273_600, "3 d 4 h"),
        ] {
            assert_eq!(duration_words(secs), words);
        }
    }

    #[test]
    fn clipped_text_ends_with_the_marker_within_the_limit() {
        assert_eq!(clip("short", 10), "short");
        let long = "é".repeat(100);
        let cut = clip(&long, 20);
        assert!(cut.ends_with(TRUNCATION_MARKER));
        assert_eq!(measure(&cut, Unit::Chars), 20);
    }

    #[test]
    fn a_listed_alert_names_its_exit_codes_then_its_reason() {
        let level = super::super::LEVELS[0];
        assert_eq!(detail(&[137], Some("OOM"), level), "exit 137 · OOM");
        assert_eq!(detail(&[1, 2], None, level), "exits 1, 2");
        assert_eq!(
            detail(&[1, 2, 3, 4, 5, 6], Some(" "), level),
            "exits 1, 2, 3, 4, 5, …"
        );
        assert_eq!(detail(&[], None, level), "");
    }
}
