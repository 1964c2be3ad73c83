//! The operator commands: `failwatch dlq stats|peek|redrive`, `failwatch send-test` and `failwatch
//! replay` — what an on-call engineer reaches for when alerts went missing or a webhook was broken for an
//! hour.
//!
//! This module owns their behaviour, their output and their exit codes; their arguments are described in
//! [`crate::cli`] (which depends on nothing here), their SQS calls are methods of [`crate::sqs::Queue`],
//! progress display lives in [`progress`]. They run on the binary's one runtime. Decoding, rendering and delivery are the worker's own code ([`failwatch_core::process`],
//! [`crate::delivery::Deliverer`]) so that what these commands show or send is what the worker would.
//!
//! Configuration: `send-test` loads the destinations, not the queue ([`config::load_for`]); the queue
//! commands load only the queue URLs ([`config::load_queue`]), so an on-call engineer without the chat
//! secrets can run them with the worker's own file.
//!
//! Output: results go to stdout (one line per item, counts at the end), problems to stderr as
//! `error: ...`. Exit codes follow [`crate::exit`]: 64 for a bad configuration or command line (and for a
//! redrive that needs confirmation it cannot ask for), 65 for unreadable input files, 1 when SQS or a
//! destination failed or when a redrive left messages behind.

pub(crate) mod dlq;
pub(crate) mod progress;
pub(crate) mod redrive;
pub(crate) mod replay;
pub(crate) mod send_test;

use std::io::{self, Write};
use std::time::Duration;

use failwatch_core::{Decision, DecodeContext};
use time::OffsetDateTime;

use crate::cli::{DlqCommand, OpsCommand};
use crate::config::env::Env;
use crate::config::{self, Config, ConfigError, QueueConfig};
use crate::exit;
use crate::sqs::{self, Queue, SqsError};

/// Why an operator command failed; each variant has one exit code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A command line or configuration that cannot work (exit 64).
    #[error("{0}")]
    Usage(String),
    /// Input files that cannot be used (exit 65).
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Sqs(#[from] SqsError),
    /// The command ran but did not achieve everything (exit 1): a redrive left messages behind, a
    /// destination refused the test alert.
    #[error("{0}")]
    Incomplete(String),
    #[error("writing output: {0}")]
    Output(#[from] io::Error),
}

impl OpsError {
    /// The process exit code this failure means (see [`crate::exit`]).
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            OpsError::Config(_) | OpsError::Usage(_) => exit::USAGE,
            OpsError::Input(_) => exit::DATA,
            OpsError::Sqs(_) | OpsError::Incomplete(_) | OpsError::Output(_) => exit::RUNTIME,
        }
    }
}

/// Runs one operator command to completion, on the caller's runtime, reports a failure on stderr and
/// returns the process exit code.
pub(crate) async fn main(command: OpsCommand, env: &dyn Env) -> u8 {
    match run(command, env).await {
        Ok(()) => exit::OK,
        // A reader that went away (`failwatch dlq peek | head`) is not a failure worth a message.
        Err(OpsError::Output(err)) if err.kind() == io::ErrorKind::BrokenPipe => exit::OK,
        Err(err) => {
            for line in err.to_string().lines() {
                eprintln!("error: {line}");
            }
            err.exit_code()
        }
    }
}

async fn run(command: OpsCommand, env: &dyn Env) -> Result<(), OpsError> {
    let mut out = io::stdout();
    match command {
        OpsCommand::Dlq(DlqCommand::Stats(args)) => {
            let config = config::load_queue(args.config.config.as_deref(), env)?;
            dlq::stats(&main_queue(&config).await, &config, &mut out).await
        }
        OpsCommand::Dlq(DlqCommand::Peek(args)) => {
            let config = config::load_queue(args.config.config.as_deref(), env)?;
            dlq::peek(&main_queue(&config).await, &config, &args, &mut out).await
        }
        OpsCommand::Dlq(DlqCommand::Redrive(args)) => {
            let plan = redrive::Plan::from_args(&args)?;
            let config = config::load_queue(args.config.config.as_deref(), env)?;
            redrive::run(&main_queue(&config).await, &config, &plan, &mut out).await
        }
        OpsCommand::SendTest(args) => {
            let config = load_config(args.config.config.as_deref(), env)?;
            send_test::run(&config, args.destination.as_deref(), &mut out).await
        }
        OpsCommand::Replay(args) => {
            // Inputs are checked before the configuration so a typo in a file name costs no AWS call.
            let inputs = replay::read_inputs(&args.files)?;
            let config = config::load_queue(args.config.config.as_deref(), env)?;
            let main = main_queue(&config).await;
            let queue = args
                .to
                .as_deref()
                .map_or_else(|| main.clone(), |url| main.at(url));
            replay::run(&queue, &inputs, &mut out).await
        }
    }
}

/// The configured queue, on a client built exactly as the worker builds its own.
async fn main_queue(config: &QueueConfig) -> Queue {
    Queue::new(
        sqs::client(&config.queue_url).await,
        config.queue_url.clone(),
    )
}

/// The configuration `send-test` needs: destinations resolved, no queue (it never touches one). The
/// queue commands use [`config::load_queue`] instead, so that they need no chat secrets.
fn load_config(path: Option<&std::path::Path>, env: &dyn Env) -> Result<Config, OpsError> {
    let config = config::load_for(path, env, config::Needs::Destinations)?;
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(config)
}

/// The dead-letter queue of the configured queue, and how it was found.
#[derive(Debug, Clone)]
pub(crate) struct Dlq {
    /// The dead-letter queue.
    pub(crate) queue: Queue,
    /// `dlq_url` or `RedrivePolicy`.
    pub(crate) source: &'static str,
    /// From the RedrivePolicy; unknown when `dlq_url` named the queue.
    pub(crate) max_receive_count: Option<u32>,
}

/// Finds the DLQ: `dlq_url` when configured, else the queue's RedrivePolicy.
pub(crate) async fn resolve_dlq(main: &Queue, config: &QueueConfig) -> Result<Dlq, OpsError> {
    if let Some(url) = &config.dlq_url {
        return Ok(Dlq {
            queue: main.at(url.clone()),
            source: "dlq_url",
            max_receive_count: None,
        });
    }
    match main.dead_letter_queue().await? {
        Some(dlq) => Ok(Dlq {
            queue: dlq.queue,
            source: "RedrivePolicy",
            max_receive_count: dlq.max_receive_count,
        }),
        None => Err(OpsError::Usage(format!(
            "{}: the queue has no RedrivePolicy and dlq_url is not configured, so there is no \
             dead-letter queue to look at",
            config.queue_url
        ))),
    }
}

/// What the worker would make of one message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Described {
    Alert {
        title: String,
        kind: &'static str,
        cluster: Option<String>,
    },
    /// A valid event that deliberately produces no alert.
    Silent { code: &'static str },
    /// The body cannot be decoded; the text says why.
    Malformed { reason: String },
}

impl Described {
    /// Runs the worker's per-message decision ([`failwatch_core::process`]) over `body`.
    pub(crate) fn of(
        body: &str,
        message_id: Option<&str>,
        received_at: OffsetDateTime,
    ) -> Described {
        let ctx = DecodeContext {
            message_id: message_id.map(str::to_owned),
            received_at,
        };
        match failwatch_core::process(body, &ctx) {
            Ok(Decision::Alert(alert)) => Described::Alert {
                title: alert.title.clone(),
                kind: alert.kind.as_str(),
                cluster: alert.cluster.clone(),
            },
            Ok(Decision::Silent(reason)) => Described::Silent {
                code: reason.code(),
            },
            Err(err) => Described::Malformed {
                reason: err.to_string(),
            },
        }
    }

    /// One line for a listing.
    pub(crate) fn line(&self) -> String {
        match self {
            Described::Alert { title, .. } => title.clone(),
            Described::Silent { code } => format!("(no alert: {code})"),
            Described::Malformed { reason } => format!("(malformed: {reason})"),
        }
    }
}

/// A short human age: `42s`, `5m12s`, `2h13m`, `3d4h`.
pub(crate) fn format_age(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// How long ago `then` was, never negative (clocks of SQS and this machine differ slightly).
pub(crate) fn age_since(then: OffsetDateTime, now: OffsetDateTime) -> Duration {
    let age = now - then;
    if age.is_negative() {
        Duration::ZERO
    } else {
        age.unsigned_abs()
    }
}

/// Writes one line, so commands can report `io::Error`s from a closed stdout.
fn say(out: &mut dyn Write, line: &str) -> Result<(), OpsError> {
    writeln!(out, "{line}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_short_and_readable() {
        assert_eq!(format_age(Duration::from_secs(0)), "0s");
        assert_eq!(format_age(Duration::from_secs(59)), "59s");
        assert_eq!(format_age(Duration::from_secs(312)), "5m12s");
        assert_eq!(
            format_age(Duration::from_secs(2 * 3600 + 13 * 60 + 5)),
            "2h13m"
        );
        assert_eq!(
            format_age(Duration::from_secs(3 * 86_400 + 4 * 3600)),
            "3d04h"
        );
    }

    #[test]
    fn ages_never_go_negative() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(
            age_since(now + time::Duration::seconds(3), now),
            Duration::ZERO
        );
        assert_eq!(
            age_since(now - time::Duration::seconds(3), now),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn bodies_are_described_as_the_worker_sees_them() {
        let now = OffsetDateTime::now_utc();
        let sample = include_str!("sample_event.json");
        match Described::of(sample, Some("m-1"), now) {
            Described::Alert {
                title,
                kind,
                cluster,
            } => {
                assert!(title.starts_with("ECS task failed"), "{title}");
                assert_eq!(kind, "ecs_task");
                assert_eq!(cluster.as_deref(), Some("payments"));
            }
            other => panic!("{other:?}"),
        }
        let malformed = Described::of("{not json", None, now);
        assert!(
            malformed.line().starts_with("(malformed: body is not JSON"),
            "{}",
            malformed.line()
        );
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(OpsError::Usage("x".into()).exit_code(), 64);
        assert_eq!(OpsError::Input("x".into()).exit_code(), 65);
        assert_eq!(OpsError::Incomplete("x".into()).exit_code(), 1);
    }
}
