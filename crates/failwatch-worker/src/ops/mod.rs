//! The operator commands: `failwatch dlq stats|peek|redrive`, `failwatch send-test` and `failwatch
//! replay` — what an on-call engineer reaches for when alerts went missing or a webhook was broken for an
//! hour.
//!
//! This module owns their command-line arguments (flattened into the binary's [`crate::cli::Command`]),
//! their output, and their exit codes. SQS calls live in [`queue_admin`], progress display in
//! [`progress`]; decoding, rendering and delivery are the worker's own code ([`failwatch_core::process`],
//! [`crate::delivery::Deliverer`]) so that what these commands show or send is what the worker would.
//!
//! Configuration: `send-test` loads the destinations, not the queue ([`config::load_for`]); the queue commands load
//! only the queue URLs ([`config::load_queue`]), so an on-call engineer without the chat secrets can run
//! them with the worker's own file.
//!
//! Output: results go to stdout (one line per item, counts at the end), problems to stderr as
//! `error: ...`. Exit codes follow [`crate::exit`]: 64 for a bad configuration or command line (and for a
//! redrive that needs confirmation it cannot ask for), 65 for unreadable input files, 1 when SQS or a
//! destination failed or when a redrive left messages behind.

pub mod dlq;
pub mod progress;
pub mod queue_admin;
pub mod redrive;
pub mod replay;
pub mod send_test;

use std::io::{self, Write};
use std::time::Duration;

use clap::Subcommand;
use failwatch_core::{Decision, DecodeContext};
use time::OffsetDateTime;

use crate::config::env::Env;
use crate::config::{self, Config, ConfigError, QueueConfig};
use crate::exit;
use queue_admin::{AdminError, QueueAdmin};

/// The operator subcommands, flattened into the binary's command enum.
#[derive(Debug, Subcommand)]
pub enum OpsCommand {
    /// Inspect the dead-letter queue and move its messages back.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Post a clearly marked sample alert to the configured destinations to prove the webhooks work.
    ///
    /// The sample is a real ECS event run through the worker's own decoding, rendering and delivery code.
    /// Prints each destination's HTTP status and, on failure, the service's error text (never the URL).
    /// Exits 1 if any destination failed.
    SendTest(send_test::SendTestArgs),
    /// Send event JSON files (or files of JSON lines) into the queue, to exercise the whole pipeline.
    Replay(replay::ReplayArgs),
}

/// `failwatch dlq ...`.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Messages visible, in flight and delayed in the queue and its dead-letter queue.
    Stats(dlq::StatsArgs),
    /// What is in the dead-letter queue, without consuming it: id, receive count, age and the decoded
    /// alert title (or why the body is malformed) of each message.
    Peek(dlq::PeekArgs),
    /// Move messages from the dead-letter queue back to the queue (or `--to`).
    Redrive(redrive::RedriveArgs),
}

/// Why an operator command failed; each variant has one exit code.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A command line or configuration that cannot work (exit 64).
    #[error("{0}")]
    Usage(String),
    /// Input files that cannot be used (exit 65).
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Sqs(#[from] AdminError),
    /// The command ran but did not achieve everything (exit 1): a redrive left messages behind, a
    /// destination refused the test alert.
    #[error("{0}")]
    Incomplete(String),
    #[error("writing output: {0}")]
    Output(#[from] io::Error),
}

impl OpsError {
    pub fn exit_code(&self) -> u8 {
        match self {
            OpsError::Config(_) | OpsError::Usage(_) => exit::USAGE,
            OpsError::Input(_) => exit::DATA,
            OpsError::Sqs(_) | OpsError::Incomplete(_) | OpsError::Output(_) => exit::RUNTIME,
        }
    }
}

/// Runs one operator command to completion and returns the process exit code.
pub fn main(command: OpsCommand, env: &dyn Env) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return exit::RUNTIME;
        }
    };
    let result = runtime.block_on(run(command, env));
    // Nothing of ours is left running; this only bounds an SDK connection that is still closing.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
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
            let admin = QueueAdmin::for_queue(&config.queue_url).await;
            dlq::stats(&admin, &config, &mut out).await
        }
        OpsCommand::Dlq(DlqCommand::Peek(args)) => {
            let config = config::load_queue(args.config.config.as_deref(), env)?;
            let admin = QueueAdmin::for_queue(&config.queue_url).await;
            dlq::peek(&admin, &config, &args, &mut out).await
        }
        OpsCommand::Dlq(DlqCommand::Redrive(args)) => {
            let plan = redrive::Plan::from_args(&args)?;
            let config = config::load_queue(args.config.config.as_deref(), env)?;
            let admin = QueueAdmin::for_queue(&config.queue_url).await;
            redrive::run(&admin, &config, &plan, &mut out).await
        }
        OpsCommand::SendTest(args) => {
            let config = load_config(args.config.config.as_deref(), env)?;
            send_test::run(&config, args.destination.as_deref(), &mut out).await
        }
        OpsCommand::Replay(args) => {
            // Inputs are checked before the configuration so a typo in a file name costs no AWS call.
            let inputs = replay::read_inputs(&args.files)?;
            let config = config::load_queue(args.config.config.as_deref(), env)?;
            let admin = QueueAdmin::for_queue(&config.queue_url).await;
            let queue = args.to.as_deref().unwrap_or(&config.queue_url);
            replay::run(&admin, queue, &inputs, &mut out).await
        }
    }
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dlq {
    pub url: String,
    /// `dlq_url` or `RedrivePolicy`.
    pub source: &'static str,
    pub max_receive_count: Option<u32>,
}

/// Finds the DLQ: `dlq_url` when configured, else the queue's RedrivePolicy.
pub async fn resolve_dlq(admin: &QueueAdmin, config: &QueueConfig) -> Result<Dlq, OpsError> {
    if let Some(url) = &config.dlq_url {
        return Ok(Dlq {
            url: url.clone(),
            source: "dlq_url",
            max_receive_count: None,
        });
    }
    let queue = admin.info(&config.queue_url).await?;
    let Some(policy) = queue.redrive_policy else {
        return Err(OpsError::Usage(format!(
            "{}: the queue has no RedrivePolicy and dlq_url is not configured, so there is no \
             dead-letter queue to look at",
            config.queue_url
        )));
    };
    Ok(Dlq {
        url: admin.url_of(&policy.dead_letter_target_arn).await?,
        source: "RedrivePolicy",
        max_receive_count: policy.max_receive_count,
    })
}

/// What the worker would make of one message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Described {
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
    pub fn of(body: &str, message_id: Option<&str>, received_at: OffsetDateTime) -> Described {
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
    pub fn line(&self) -> String {
        match self {
            Described::Alert { title, .. } => title.clone(),
            Described::Silent { code } => format!("(no alert: {code})"),
            Described::Malformed { reason } => format!("(malformed: {reason})"),
        }
    }
}

/// A short human age: `42s`, `5m12s`, `2h13m`, `3d4h`.
pub fn format_age(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// How long ago `then` was, never negative (clocks of SQS and this machine differ slightly).
pub fn age_since(then: OffsetDateTime, now: OffsetDateTime) -> Duration {
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
