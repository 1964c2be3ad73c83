//! Reading a Step Functions `error` and `cause` into a [`Failure`]: which integration failed and what it
//! says, so the alert shows facts instead of escaped JSON.
//!
//! A cause is whatever the failed integration wrote: a whole ECS task description (`runTask.sync`), a
//! Batch job (`submitJob.sync`), a child execution (`startExecution.sync`), a Glue job run
//! (`startJobRun.sync`), a Lambda error payload, or plain text. The integration is recognised by the
//! shape of the JSON (each module's `read`), never by a word in it. Step Functions cuts a cause at
//! [`CAUSE_LIMIT`] characters; such a cause is read up to the cut with a partial JSON parser, and the
//! alert says it was cut.

use jiter::{JsonValue, PartialMode};
use serde_json::{Map, Value};

use super::{batch, ecs, glue, lambda, nested};
use crate::hint::FailureClass;

/// The most characters Step Functions keeps of a cause; a longer one is cut there.
pub(crate) const CAUSE_LIMIT: usize = 32_768;

/// How many nested child executions are followed into before the innermost cause is shown as is.
const MAX_DEPTH: usize = 3;

/// What the failed state's integration says about the failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// `ecs:runTask.sync`: the task the cause describes (`SfnExecutionEvent::task`).
    EcsTask,
    /// `lambda:invoke`, or a Lambda task: the function's error.
    Lambda(Box<lambda::LambdaError>),
    /// `batch:submitJob.sync`: the failed job.
    Batch(Box<batch::BatchJob>),
    /// `states:startExecution.sync`: the failed child execution and what failed in it.
    Child(Box<nested::ChildExecution>),
    /// `glue:startJobRun.sync`: the failed job run.
    Glue(Box<glue::GlueJobRun>),
    /// A JSON cause no integration module recognises: `name: value` of its first scalar fields.
    Json(String),
    /// A cause in plain text, or none.
    Text,
}

/// A cause as read: the failure, and whether Step Functions had cut the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Read {
    pub(crate) failure: Failure,
    /// The ECS task of a `runTask.sync` failure.
    pub(crate) task: Option<crate::EcsTask>,
    /// The cause was cut at [`CAUSE_LIMIT`] characters and read up to the cut.
    pub(crate) truncated: bool,
}

/// A cause as the event carries it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CauseRef<'a> {
    /// A string: text, or JSON as text (the usual case).
    Text(&'a str),
    /// A value `States.StringToJson` already parsed, or a child execution's cause object.
    Json(&'a Value),
}

impl<'a> CauseRef<'a> {
    /// A JSON value as a cause: a string is text, anything else is JSON.
    pub(crate) fn of(value: &'a Value) -> Self {
        match value {
            Value::String(text) => CauseRef::Text(text),
            other => CauseRef::Json(other),
        }
    }
}

/// Reads an error and a cause.
pub(crate) fn read(error: Option<&str>, cause: Option<CauseRef<'_>>) -> Read {
    read_at(error, cause, 0)
}

fn read_at(error: Option<&str>, cause: Option<CauseRef<'_>>, depth: usize) -> Read {
    // The common case, `runTask.sync`, read straight into the task: building a JSON tree of the
    // whole description first would cost a third more per event.
    if let Some(CauseRef::Text(text)) = cause
        && let Some(task) = ecs::read_text(text)
    {
        return Read {
            failure: Failure::EcsTask,
            task: Some(task),
            truncated: false,
        };
    }
    let (parsed, truncated) = match cause {
        Some(CauseRef::Text(text)) => parse(text),
        _ => (None, false),
    };
    let value = match cause {
        Some(CauseRef::Json(value)) => Some(value),
        _ => parsed.as_ref(),
    };
    let text = match cause {
        Some(CauseRef::Text(text)) => Some(text),
        _ => None,
    };
    let (failure, task) = match value {
        Some(value @ Value::Object(_)) => of_object(error, value, depth),
        _ => (of_text(error, text), None),
    };
    Read {
        failure,
        task,
        truncated,
    }
}

/// A JSON cause by its shape: each integration's `read` recognises its own.
fn of_object(
    error: Option<&str>,
    value: &Value,
    depth: usize,
) -> (Failure, Option<crate::EcsTask>) {
    let Some(object) = value.as_object() else {
        return (Failure::Text, None);
    };
    if let Some(task) = ecs::read(value, object) {
        return (Failure::EcsTask, Some(task));
    }
    if let Some(job) = batch::read(object) {
        return (Failure::Batch(Box::new(job)), None);
    }
    if depth < MAX_DEPTH
        && let Some(child) = nested::read(object, |e, c| read_at(e, c.map(CauseRef::of), depth + 1))
    {
        return (Failure::Child(Box::new(child)), None);
    }
    if let Some(run) = glue::read(object) {
        return (Failure::Glue(Box::new(run)), None);
    }
    if let Some(lambda) = lambda::from_payload(error, object) {
        return (Failure::Lambda(Box::new(lambda)), None);
    }
    (Failure::Json(scalar_fields(object)), None)
}

/// A text cause: a Lambda error names itself by its error (`Lambda.*`) or its wording.
fn of_text(error: Option<&str>, text: Option<&str>) -> Failure {
    match lambda::from_text(error, text) {
        Some(lambda) => Failure::Lambda(Box::new(lambda)),
        None => Failure::Text,
    }
}

/// Parses a cause that looks like JSON; a cause of exactly [`CAUSE_LIMIT`] characters that does not
/// parse was cut by Step Functions and is read up to the cut.
fn parse(text: &str) -> (Option<Value>, bool) {
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') {
        return (None, false);
    }
    if let Ok(value) = serde_json::from_str(trimmed) {
        return (Some(value), false);
    }
    if text.chars().count() < CAUSE_LIMIT {
        return (None, false);
    }
    let partial =
        JsonValue::parse_with_config(trimmed.as_bytes(), false, PartialMode::TrailingStrings);
    (partial.ok().map(|v| to_serde(&v)), true)
}

/// A jiter value as a `serde_json` value, so the integration modules read one type.
fn to_serde(value: &JsonValue<'_>) -> Value {
    match value {
        JsonValue::Null => Value::Null,
        JsonValue::Bool(b) => Value::Bool(*b),
        JsonValue::Int(i) => Value::from(*i),
        JsonValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        JsonValue::Str(s) => Value::String(s.to_string()),
        JsonValue::Array(items) => Value::Array(items.iter().map(to_serde).collect()),
        JsonValue::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), to_serde(v)))
                .collect(),
        ),
    }
}

/// How many fields of an unrecognised JSON cause are shown, and how long each value may be.
const SCALAR_FIELDS: usize = 6;
const SCALAR_CHARS: usize = 200;

/// `name: value; name: value` of the first strings, numbers and booleans of an unrecognised JSON cause:
/// something to read instead of escaped JSON. Nested objects and arrays are left out.
fn scalar_fields(object: &Map<String, Value>) -> String {
    let mut out = String::new();
    for (name, value) in object
        .iter()
        .filter_map(|(k, v)| Some((k, scalar(v)?)))
        .take(SCALAR_FIELDS)
    {
        if !out.is_empty() {
            out.push_str("; ");
        }
        out.push_str(name);
        out.push_str(": ");
        // A `name: value` pair of plain words is not recognisable as a secret once written out, so
        // the name decides here, as it does for JSON fields.
        if crate::redact::is_secret_name(name) {
            out.push_str(crate::redact::MARKER);
        } else {
            out.extend(value.chars().take(SCALAR_CHARS));
        }
    }
    out
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A time in epoch milliseconds, as Batch and Step Functions causes write `StoppedAt`/`StopDate`.
pub(crate) fn epoch_millis(
    object: &Map<String, Value>,
    name: &str,
) -> Option<time::OffsetDateTime> {
    let millis = object.get(name)?.as_i64()?;
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok()
}

/// A string field of a JSON object, when present and not blank.
pub(crate) fn text<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    object
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

impl Failure {
    /// The class this integration's failure belongs to, or `None` when it says nothing specific.
    pub(crate) fn class(&self) -> Option<FailureClass> {
        match self {
            Failure::EcsTask | Failure::Json(_) | Failure::Text => None,
            Failure::Lambda(l) => Some(l.class()),
            Failure::Batch(j) => Some(j.class()),
            Failure::Child(c) => c.class(),
            Failure::Glue(r) => Some(r.class()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_cut_at_the_limit_is_read_up_to_the_cut() {
        let head = r#"{"ClusterArn":"arn:aws:ecs:us-east-1:1:cluster/c","Containers":[{"ExitCode":3,"Name":"app","TaskArn":"arn:aws:ecs:us-east-1:1:task/c/abc"}],"Overrides":{"ContainerOverrides":[{"Environment":[{"Name":"A","Value":""#;
        let cut: String = head
            .chars()
            .chain(std::iter::repeat('x'))
            .take(CAUSE_LIMIT)
            .collect();
        let read = read(Some("States.TaskFailed"), Some(CauseRef::Text(&cut)));
        assert!(read.truncated);
        assert_eq!(read.failure, Failure::EcsTask);
        let task = read.task.expect("task salvaged");
        assert_eq!(task.id, "abc");
        assert_eq!(task.containers[0].exit_code, Some(3));
    }

    #[test]
    fn a_short_invalid_cause_is_text_not_truncated() {
        let read = read(None, Some(CauseRef::Text("{not json")));
        assert!(!read.truncated);
        assert_eq!(read.failure, Failure::Text);
    }

    #[test]
    fn an_unknown_json_cause_becomes_fields() {
        let read = read(
            None,
            Some(CauseRef::Text(
                r#"{"a":"x","nested":{"b":1},"n":2,"t":true}"#,
            )),
        );
        assert_eq!(
            read.failure,
            Failure::Json("a: x; n: 2; t: true".to_owned())
        );
    }
}
