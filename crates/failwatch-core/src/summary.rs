//! An alert's summary as structured facts: ordered label/value pairs, each with a [`Role`] that says
//! what it is, plus free-text parts.
//!
//! Each event kind fills a [`Summary`] fact by fact; the summary text of the `failwatch.alert.v1`
//! document is derived from it (one `Label: value` line per fact, free text as written), so the
//! document stays what it always was while renderers pick facts by role instead of reading the text
//! back. Roles exist only in memory: a summary deserialised from a document is its text alone.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Deref, Range};

use serde::{Deserialize, Serialize};

/// What a summary fact is, so a renderer can choose facts by meaning rather than by label text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// The ECS cluster name.
    Cluster,
    /// The ECS service name.
    Service,
    /// The task's group (`family:NAME`) when it belongs to no service.
    Group,
    /// The task id, followed by its task definition (`family:revision`) in parentheses when known.
    Task,
    /// The ECS `stopCode`.
    StopCode,
    /// Why it stopped or failed, in AWS's (or the workload's) own words.
    Reason,
    /// The failing containers with exit codes and reasons, e.g. `app (exit 137)`.
    FailedContainers,
    /// When it happened, RFC 3339 in UTC.
    Time,
    /// The AWS region.
    Region,
    /// The ECS deployment id.
    Deployment,
    /// The event's own name, e.g. `SERVICE_DEPLOYMENT_FAILED`.
    Event,
    /// The capacity providers involved, by name.
    CapacityProviders,
    /// The Step Functions state machine name.
    StateMachine,
    /// The Step Functions execution name.
    Execution,
    /// The Step Functions execution status, e.g. `FAILED`.
    Status,
    /// The Step Functions error name.
    Error,
    /// The Step Functions cause.
    Cause,
    /// A fact only one event kind has; its label says what it is.
    Detail,
}

impl Role {
    /// The label a fact of this role is shown with, e.g. "Stop code"; [`Role::Detail`] has none of its
    /// own and is always pushed with one ([`Summary::push_labelled`]).
    pub fn label(self) -> &'static str {
        match self {
            Role::Cluster => "Cluster",
            Role::Service => "Service",
            Role::Group => "Group",
            Role::Task => "Task",
            Role::StopCode => "Stop code",
            Role::Reason => "Reason",
            Role::FailedContainers => "Failed containers",
            Role::Time => "Time",
            Role::Region => "Region",
            Role::Deployment => "Deployment",
            Role::Event => "Event",
            Role::CapacityProviders => "Capacity providers",
            Role::StateMachine => "State machine",
            Role::Execution => "Execution",
            Role::Status => "Status",
            Role::Error => "Error",
            Role::Cause => "Cause",
            Role::Detail => "Detail",
        }
    }
}

/// One labelled value of a summary, borrowed from it. The label is ours; the value is event text,
/// unescaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact<'a> {
    /// What the fact is.
    pub role: Role,
    /// How it is shown, e.g. "Stop code".
    pub label: &'static str,
    /// Never empty: empty values are not facts.
    pub value: &'a str,
}

impl Fact<'_> {
    /// Whether this fact already says `value`: it is the value, starts with it and a parenthesis
    /// (`abc (family:3)` states `abc`), or ends with it in parentheses (and so states `family:3`).
    fn states(&self, value: &str) -> bool {
        let own = self.value;
        own == value
            || own
                .strip_prefix(value)
                .is_some_and(|rest| rest.starts_with(" ("))
            || own
                .strip_suffix(')')
                .and_then(|s| s.strip_suffix(value))
                .is_some_and(|s| s.ends_with('('))
    }
}

/// One part of a summary, in order, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part<'a> {
    /// A labelled value.
    Fact(Fact<'a>),
    /// Free text, shown as written (for example the note `failwatch send-test` puts first).
    Text(&'a str),
}

/// Where a part is in the summary text: the parts' values are not copied, only located.
#[derive(Debug, Clone)]
struct Span {
    /// The fact's role and label; `None` for free text.
    fact: Option<(Role, &'static str)>,
    /// The value's (or the free text's) byte range in the text.
    value: Range<usize>,
}

/// The summary of an alert: its parts and the text derived from them, one part per line.
///
/// Dereferences to that text. Equality is equality of the text, the only part of a summary the
/// `failwatch.alert.v1` document carries; it serialises as that string and deserialises into one
/// free-text part.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    parts: Vec<Span>,
    text: String,
}

impl Summary {
    /// An empty summary, with room for a typical alert's text.
    pub fn new() -> Self {
        Summary {
            parts: Vec::with_capacity(10),
            text: String::with_capacity(512),
        }
    }

    /// Appends a fact with its role's label; nothing when the value is absent or empty.
    pub fn push(&mut self, role: Role, value: Option<&str>) {
        self.push_labelled(role, role.label(), value);
    }

    /// Appends a fact with a label of the kind's own (for [`Role::Detail`] facts); nothing when the
    /// value is absent or empty.
    pub fn push_labelled(&mut self, role: Role, label: &'static str, value: Option<&str>) {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return;
        };
        self.new_line();
        self.text.push_str(label);
        self.text.push_str(": ");
        self.push_value(Some((role, label)), value);
    }

    /// Appends a line of free text.
    pub fn push_text(&mut self, text: &str) {
        self.new_line();
        self.push_value(None, text);
    }

    fn push_value(&mut self, fact: Option<(Role, &'static str)>, value: &str) {
        let start = self.text.len();
        self.text.push_str(value);
        self.parts.push(Span {
            fact,
            value: start..self.text.len(),
        });
    }

    /// Puts a line of free text before everything else.
    pub fn prepend_text(&mut self, text: &str) {
        self.text = format!("{text}\n{}", self.text);
        let shift = text.len() + 1;
        for span in &mut self.parts {
            span.value = span.value.start + shift..span.value.end + shift;
        }
        self.parts.insert(
            0,
            Span {
                fact: None,
                value: 0..text.len(),
            },
        );
    }

    fn new_line(&mut self) {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
    }

    /// The summary text, as in the alert document.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parts, in order.
    pub fn parts(&self) -> impl Iterator<Item = Part<'_>> {
        self.parts.iter().map(|span| {
            let value = &self.text[span.value.clone()];
            match span.fact {
                Some((role, label)) => Part::Fact(Fact { role, label, value }),
                None => Part::Text(value),
            }
        })
    }

    /// The facts, in order.
    pub fn facts(&self) -> impl Iterator<Item = Fact<'_>> {
        self.parts().filter_map(|p| match p {
            Part::Fact(f) => Some(f),
            Part::Text(_) => None,
        })
    }

    /// The value of the first fact with `role`.
    pub fn get(&self, role: Role) -> Option<&str> {
        self.facts().find(|f| f.role == role).map(|f| f.value)
    }

    /// The same summary with every fact value and free-text part mapped through `f` (redaction);
    /// labels and roles stay. A value mapped to empty text is dropped, as [`Summary::push`] would.
    pub(crate) fn map_values(&self, mut f: impl FnMut(&str) -> Cow<'_, str>) -> Summary {
        let mut out = Summary::new();
        for part in self.parts() {
            match part {
                Part::Fact(fact) => out.push_labelled(fact.role, fact.label, Some(&f(fact.value))),
                Part::Text(text) => out.push_text(&f(text)),
            }
        }
        out
    }

    /// Whether a fact already says `value` (see the rules on [`Fact`]), so showing it again would say
    /// it twice.
    pub(crate) fn states(&self, value: &str) -> bool {
        self.facts().any(|f| f.states(value))
    }

    /// Whether any part contains `value`: long text such as a stopped reason counts as said when a
    /// fact or free-text part holds it anywhere.
    pub(crate) fn mentions(&self, value: &str) -> bool {
        self.states(value)
            || self.parts().any(|p| match p {
                Part::Fact(Fact { value: own, .. }) | Part::Text(own) => own.contains(value),
            })
    }
}

impl Deref for Summary {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Summary {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Summary {}

impl PartialEq<str> for Summary {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for Summary {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl From<String> for Summary {
    /// A summary of one free-text part (none when the text is empty).
    fn from(text: String) -> Self {
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![Span {
                fact: None,
                value: 0..text.len(),
            }]
        };
        Summary { parts, text }
    }
}

impl From<&str> for Summary {
    fn from(text: &str) -> Self {
        Summary::from(text.to_owned())
    }
}

impl Serialize for Summary {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Summary {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Summary::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_one_line_per_part_and_skips_empty_values() {
        let mut s = Summary::new();
        s.push(Role::Cluster, Some("prod"));
        s.push(Role::Service, None);
        s.push(Role::Reason, Some(""));
        s.push_labelled(Role::Detail, "Job queue", Some("q"));
        s.prepend_text("Test.");
        assert_eq!(s.as_str(), "Test.\nCluster: prod\nJob queue: q");
        assert_eq!(s.get(Role::Cluster), Some("prod"));
        assert_eq!(s.facts().count(), 2);
    }

    #[test]
    fn a_fact_states_its_value_and_a_parenthesised_part() {
        let mut s = Summary::new();
        s.push(Role::Task, Some("abc (family:3)"));
        assert!(s.states("abc"));
        assert!(s.states("family:3"));
        assert!(!s.states("family"));
        assert!(s.mentions("family"));
    }
}
