//! `failwatch replay`: send event JSON into the queue, so the whole pipeline (queue, worker, routing,
//! chat) can be exercised on demand — the Google Chat seed's "publish a test message" step, with any
//! event.
//!
//! Each FILE holds either one JSON document (an EventBridge event, an SNS notification, any body the
//! worker accepts; pretty-printed is fine) or JSON lines, one body per line. `-` reads JSON lines from
//! stdin. Every input is checked to be JSON before anything is sent, so a typo sends nothing (exit 65);
//! bodies are sent exactly as written. Sends use SendMessageBatch, up to ten entries per call; entries
//! SQS refuses for a transient reason are sent again a few times, and anything still refused is listed
//! and makes the command exit 1.
//!
//! The summary also says what the worker will make of the bodies (alerts, silent events, malformed),
//! using the worker's own decoder, so a replay that cannot produce an alert is obvious at once.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;

use super::progress::Progress;
use super::{Described, OpsError, say};
use crate::sqs::batch;
use crate::sqs::{Outgoing, Queue};

/// SQS's classic message size limit; larger bodies are refused before sending.
const MAX_BODY_BYTES: usize = 256 * 1024;
/// Attempts per entry when SQS refuses it for a reason that is not the sender's fault.
const ATTEMPTS: u32 = 3;

/// One message body to send, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Input {
    /// `FILE` or `FILE:LINE`.
    pub(crate) origin: String,
    pub(crate) body: String,
}

/// Reads and checks every input; lists every problem at once.
pub(crate) fn read_inputs(files: &[PathBuf]) -> Result<Vec<Input>, OpsError> {
    let mut inputs = Vec::new();
    let mut problems = Vec::new();
    for path in files {
        if path == Path::new("-") {
            let mut text = String::new();
            for line in std::io::stdin().lock().lines() {
                match line {
                    Ok(line) => {
                        text.push_str(&line);
                        text.push('\n');
                    }
                    Err(err) => {
                        problems.push(format!("stdin: {err}"));
                        break;
                    }
                }
            }
            split_lines("stdin", &text, &mut inputs, &mut problems);
            continue;
        }
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => parse_file(&name, &text, &mut inputs, &mut problems),
            Err(err) => problems.push(format!("{name}: cannot read: {err}")),
        }
    }
    for input in &inputs {
        if input.body.len() > MAX_BODY_BYTES {
            problems.push(format!(
                "{}: {} bytes is larger than an SQS message may be ({MAX_BODY_BYTES})",
                input.origin,
                input.body.len()
            ));
        }
    }
    if inputs.is_empty() && problems.is_empty() {
        problems.push("no events in the given files".to_owned());
    }
    if problems.is_empty() {
        Ok(inputs)
    } else {
        problems.push("nothing was sent".to_owned());
        Err(OpsError::Input(problems.join("\n")))
    }
}

/// One JSON document, or else JSON lines.
fn parse_file(name: &str, text: &str, inputs: &mut Vec<Input>, problems: &mut Vec<String>) {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        problems.push(format!("{name}: empty file"));
        return;
    }
    match serde_json::from_str::<serde::de::IgnoredAny>(trimmed) {
        Ok(_) => inputs.push(Input {
            origin: name.to_owned(),
            body: trimmed.to_owned(),
        }),
        // A single line that is not JSON is reported as the file's error, not as "line 1".
        Err(err) if !trimmed.contains('\n') => {
            problems.push(format!("{name}: not JSON: {err}"));
        }
        Err(_) => split_lines(name, text, inputs, problems),
    }
}

fn split_lines(name: &str, text: &str, inputs: &mut Vec<Input>, problems: &mut Vec<String>) {
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let origin = format!("{name}:{}", index + 1);
        match serde_json::from_str::<serde::de::IgnoredAny>(line) {
            Ok(_) => inputs.push(Input {
                origin,
                body: line.to_owned(),
            }),
            Err(err) => problems.push(format!("{origin}: not JSON: {err}")),
        }
    }
}

/// Groups inputs into SendMessageBatch calls: at most ten entries and [`batch::MAX_BATCH_BYTES`] each.
pub(crate) fn batches(inputs: &[Input]) -> Vec<&[Input]> {
    batch::split(inputs, |input| input.body.len())
}

/// Sends every input to `queue` and prints what was sent.
pub(crate) async fn run(
    queue: &Queue,
    inputs: &[Input],
    out: &mut dyn Write,
) -> Result<(), OpsError> {
    let (alerts, silent, malformed) = foresee(inputs);
    let mut progress = Progress::new("sent", Some(inputs.len() as u64));
    let mut sent = 0u64;
    let mut not_sent: Vec<String> = Vec::new();
    for batch in batches(inputs) {
        let mut pending: Vec<&Input> = batch.iter().collect();
        for attempt in 1..=ATTEMPTS {
            let messages: Vec<Outgoing> = pending
                .iter()
                .map(|input| Outgoing {
                    body: input.body.clone(),
                    ..Outgoing::default()
                })
                .collect();
            let result = match queue.send_batch(&messages).await {
                Ok(result) => result,
                Err(err) => {
                    progress.finish();
                    say(
                        out,
                        &format!(
                            "sent {sent} of {} message(s) to {}",
                            inputs.len(),
                            queue.url()
                        ),
                    )?;
                    return Err(err.into());
                }
            };
            sent += result.succeeded.len() as u64;
            let mut retry = Vec::new();
            for failure in &result.failed {
                let input = pending[failure.index];
                if failure.sender_fault || attempt == ATTEMPTS {
                    not_sent.push(format!(
                        "{}: {} {}",
                        input.origin, failure.code, failure.message
                    ));
                } else {
                    retry.push(input);
                }
            }
            if retry.is_empty() {
                break;
            }
            pending = retry;
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
        progress.set(sent, None, "");
    }
    progress.finish();
    for line in &not_sent {
        say(out, &format!("not sent {line}"))?;
    }
    say(
        out,
        &format!(
            "sent {sent} of {} message(s) to {}; the worker will see {alerts} alert(s), \
             {silent} silent event(s), {malformed} malformed body(ies)",
            inputs.len(),
            queue.url()
        ),
    )?;
    if !not_sent.is_empty() {
        return Err(OpsError::Incomplete(format!(
            "{} message(s) were not sent",
            not_sent.len()
        )));
    }
    Ok(())
}

/// What the worker will make of the inputs: alerts, silent events and malformed bodies.
fn foresee(inputs: &[Input]) -> (usize, usize, usize) {
    let now = OffsetDateTime::now_utc();
    let (mut alerts, mut silent, mut malformed) = (0, 0, 0);
    for input in inputs {
        match Described::of(&input.body, None, now) {
            Described::Alert { .. } => alerts += 1,
            Described::Silent { .. } => silent += 1,
            Described::Malformed { .. } => malformed += 1,
        }
    }
    (alerts, silent, malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<Input>, Vec<String>) {
        let (mut inputs, mut problems) = (Vec::new(), Vec::new());
        parse_file("f", text, &mut inputs, &mut problems);
        (inputs, problems)
    }

    #[test]
    fn a_pretty_printed_document_is_one_body() {
        let (inputs, problems) = parse("{\n  \"a\": 1,\n  \"b\": [2]\n}\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(inputs.len(), 1);
        assert_eq!(inputs[0].body, "{\n  \"a\": 1,\n  \"b\": [2]\n}");
    }

    #[test]
    fn json_lines_are_one_body_each_and_bad_lines_are_named() {
        let (inputs, problems) = parse("{\"a\":1}\n\n{\"b\":2}\n");
        assert!(problems.is_empty());
        assert_eq!(
            inputs.iter().map(|i| i.origin.as_str()).collect::<Vec<_>>(),
            ["f:1", "f:3"]
        );
        let (_, problems) = parse("{\"a\":1}\n{oops\n");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("f:2: not JSON"), "{problems:?}");
        let (_, problems) = parse("oops");
        assert!(problems[0].starts_with("f: not JSON"), "{problems:?}");
    }

    #[test]
    fn batches_hold_ten_entries_and_stay_under_the_size_limit() {
        let small: Vec<Input> = (0..25)
            .map(|i| Input {
                origin: i.to_string(),
                body: "{}".into(),
            })
            .collect();
        let sizes: Vec<usize> = batches(&small).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [10, 10, 5]);
        let big: Vec<Input> = (0..4)
            .map(|i| Input {
                origin: i.to_string(),
                body: "x".repeat(100 * 1024),
            })
            .collect();
        let sizes: Vec<usize> = batches(&big).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [2, 2]);
        assert!(batches(&[]).is_empty());
    }
}
