//! The command line: every subcommand and flag of the `failwatch` binary, parsed with clap.
//!
//! This module only describes arguments, and depends on no other module of the worker but the ranges
//! of `[grouping]`'s keys, which `render`'s grouping flags share: the commands (`commands`, `ops`,
//! `run`) read their arguments from here. Reading the configuration file and
//! environment is `config`'s job (so that `FAILWATCH_CONFIG` goes through the same environment seam as
//! every other variable).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use failwatch_core::Target;
use humantime_serde::re::humantime::format_duration;

use crate::config::grouping_ranges;

/// The most messages one `dlq peek` shows.
pub(crate) const PEEK_MAX: u16 = 1000;

/// Alerts your chat room when an AWS ECS task or Step Functions execution fails.
#[derive(Debug, Parser)]
#[command(name = "failwatch", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

impl Cli {
    /// Parses the arguments, then checks what clap's attributes cannot say: `render`'s crash-loop
    /// flags need grouping on, which `--group-interval 0s` turns off.
    pub(crate) fn parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let cli = Cli::try_parse_from(args)?;
        if let Command::Render(render) = &cli.command
            && render
                .group_interval
                .is_some_and(|interval| interval.is_zero())
        {
            let given = [
                (
                    "--crash-loop-threshold",
                    render.crash_loop_threshold.is_some(),
                ),
                ("--crash-loop-window", render.crash_loop_window.is_some()),
            ];
            if let Some((flag, _)) = given.iter().find(|(_, given)| *given) {
                // The error shows `render`'s usage line, as clap's own errors about its flags do.
                let mut command = Cli::command();
                command.build();
                let mut command = command
                    .find_subcommand("render")
                    .cloned()
                    .unwrap_or(command);
                return Err(command.error(
                    ErrorKind::ArgumentConflict,
                    format!(
                        "{flag} needs grouping on, and `--group-interval 0s` turns it off: give \
                         --group-interval a duration from {}",
                        duration_range(&grouping_ranges::GROUP_INTERVAL)
                    ),
                ));
            }
        }
        Ok(cli)
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print exactly what would be posted for SQS message bodies, without sending anything.
    ///
    /// Each FILE holds one SQS message body; with no FILE, standard input holds one body per line. All
    /// inputs are one stream, classified and de-duplicated in order as the worker would. Each alert is
    /// printed as one compact JSON line (the exact payload); ignored events print their reason on stderr.
    Render(RenderArgs),
    /// Run the worker: long-poll the queue, route and deliver alerts, serve /metrics, /healthz, /readyz.
    Run(ConfigArgs),
    /// Validate the configuration and print it with every secret redacted.
    CheckConfig(ConfigArgs),
    #[command(flatten)]
    Ops(OpsCommand),
}

/// Arguments of `failwatch render`.
#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    /// The chat service to render for; `json` is the `failwatch.alert.v1` document (the generic webhook's
    /// payload).
    #[arg(long, default_value_t = Target::Json, value_parser = target_parser())]
    pub(crate) to: Target,
    /// Look up log tails, failed states and tags as the worker does (`[enrichment]` defaults), with the
    /// default AWS credential chain. Off by default, so `render` stays offline.
    #[arg(long)]
    pub(crate) enrich: bool,
    /// Group alerts by their `group_key` as the worker does, with this `group_interval` (e.g. `5m`;
    /// `0s` is off). Each input takes the next second of a synthetic clock: a group's first alert is
    /// printed, the alerts that follow within the interval fold into one digest printed when the
    /// interval ends (or at the end of the input), and recovery events print recoveries. Off by default:
    /// every alert is printed. Otherwise 1s to 1h, as the configuration's.
    #[arg(long, value_name = "DURATION", value_parser = parse_group_interval)]
    pub(crate) group_interval: Option<Duration>,
    /// With `--group-interval` (not 0s): a group with this many failures within `--crash-loop-window`
    /// is crash-looping, as `[grouping] crash_loop_threshold` (default 5; 0 is off, otherwise 2 to
    /// 10000).
    #[arg(long, value_name = "N", requires = "group_interval", value_parser = parse_threshold)]
    pub(crate) crash_loop_threshold: Option<u32>,
    /// With `--group-interval` (not 0s): the window the crash-loop threshold counts failures in, as
    /// `[grouping] crash_loop_window` (default 10m; 1s to 1 day). Failures are counted on the
    /// events' own times, as the worker counts them, not on the synthetic clock.
    #[arg(long, value_name = "DURATION", requires = "group_interval", value_parser = parse_window)]
    pub(crate) crash_loop_window: Option<Duration>,
    /// Files each holding one SQS message body. Without any, bodies are read from stdin, one per line.
    pub(crate) files: Vec<PathBuf>,
}

/// The chat services' names, listed as the possible values in `--help` and parsed with the core's own
/// `FromStr`. Only the canonical names are listed; `webhook` (the destination type whose payload is
/// `json`) is accepted as a hidden alias, as the configuration accepts it.
fn target_parser() -> impl TypedValueParser<Value = Target> {
    PossibleValuesParser::new(Target::ALL.map(|target| {
        let value = PossibleValue::new(target.as_str());
        if target == Target::Json {
            value.alias("webhook")
        } else {
            value
        }
    }))
    .try_map(|name| name.parse::<Target>())
}

/// A duration in humantime's words (`90s`, `5m`, `1h 30m`), as the configuration writes them.
fn parse_duration(value: &str) -> Result<Duration, humantime_serde::re::humantime::DurationError> {
    humantime_serde::re::humantime::parse_duration(value)
}

/// `--group-interval`: the values `[grouping] group_interval` accepts.
fn parse_group_interval(value: &str) -> Result<Duration, String> {
    let interval = parse_duration(value).map_err(|err| err.to_string())?;
    let range = grouping_ranges::GROUP_INTERVAL;
    if interval.is_zero() || range.contains(&interval) {
        Ok(interval)
    } else {
        Err(format!(
            "expected 0s (off) or a duration from {}",
            duration_range(&range)
        ))
    }
}

/// `--crash-loop-threshold`: the values `[grouping] crash_loop_threshold` accepts.
fn parse_threshold(value: &str) -> Result<u32, String> {
    let range = grouping_ranges::CRASH_LOOP_THRESHOLD;
    match value.parse::<u32>() {
        Ok(n) if n == 0 || range.contains(&n) => Ok(n),
        _ => Err(format!(
            "expected 0 (off) or a whole number from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

/// `--crash-loop-window`: the values `[grouping] crash_loop_window` accepts.
fn parse_window(value: &str) -> Result<Duration, String> {
    let window = parse_duration(value).map_err(|err| err.to_string())?;
    let range = grouping_ranges::CRASH_LOOP_WINDOW;
    if range.contains(&window) {
        Ok(window)
    } else {
        Err(format!(
            "expected a duration from {}",
            duration_range(&range)
        ))
    }
}

/// "1s to 1h", as the configuration writes durations.
fn duration_range(range: &std::ops::RangeInclusive<Duration>) -> String {
    format!(
        "{} to {}",
        format_duration(*range.start()),
        format_duration(*range.end())
    )
}

/// Where to find the configuration file.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// The TOML configuration file (default: `FAILWATCH_CONFIG`; with neither, the zero-file shortcut
    /// `FAILWATCH_QUEUE_URL` + `FAILWATCH_WEBHOOK_URL`).
    #[arg(long, short = 'c', value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
}

/// The operator subcommands, flattened into [`Command`]; they run in `ops`.
#[derive(Debug, Subcommand)]
pub(crate) enum OpsCommand {
    /// Inspect the dead-letter queue and move its messages back.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Post a clearly marked sample alert to the configured destinations to prove the webhooks work.
    ///
    /// The sample is a real ECS event run through the worker's own decoding, rendering and delivery code.
    /// Prints each destination's HTTP status and, on failure, the service's error text (never the URL).
    /// Exits 1 if any destination failed.
    SendTest(SendTestArgs),
    /// Send event JSON files (or files of JSON lines) into the queue, to exercise the whole pipeline.
    Replay(ReplayArgs),
}

/// `failwatch dlq ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum DlqCommand {
    /// Messages visible, in flight and delayed in the queue and its dead-letter queue.
    Stats(StatsArgs),
    /// What is in the dead-letter queue, without consuming it: id, receive count, age and the decoded
    /// alert title (or why the body is malformed) of each message.
    Peek(PeekArgs),
    /// Move messages from the dead-letter queue back to the queue (or `--to`).
    Redrive(RedriveArgs),
}

/// Arguments of `failwatch dlq stats`.
#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
}

/// Arguments of `failwatch dlq peek`.
#[derive(Debug, Args)]
pub(crate) struct PeekArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Show at most N messages (1 to 1000).
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(1..=i64::from(PEEK_MAX)))]
    pub(crate) max: u16,
}

/// Arguments of `failwatch dlq redrive`.
#[derive(Debug, Args)]
pub(crate) struct RedriveArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// The queue to move messages to (default: the configured queue_url).
    #[arg(long, value_name = "QUEUE_URL")]
    pub(crate) to: Option<String>,
    /// Move at most N messages per second (StartMessageMoveTask accepts at most 500).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_per_second: Option<u32>,
    /// Show what would be moved, and move nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// Only move messages whose alert kind matches this glob (ecs_task, ecs_deployment, ecs_service,
    /// sfn_execution, custom_notification). Implies the client-side move; malformed and silent messages never match.
    #[arg(long, value_name = "GLOB")]
    pub(crate) kind: Option<String>,
    /// Only move messages whose alert's cluster matches this glob. Implies the client-side move.
    #[arg(long, value_name = "GLOB")]
    pub(crate) cluster: Option<String>,
    /// Move client-side (send, then delete) even where StartMessageMoveTask is available.
    #[arg(long)]
    pub(crate) client_side: bool,
    /// Client-side move: how long received DLQ messages stay hidden while the run works on them; the
    /// ones it leaves behind become visible again at the end of the run, or after this time if it
    /// crashed.
    #[arg(long, value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u32).range(1..=43_200))]
    pub(crate) visibility_timeout_secs: u32,
    /// Fault injection for the system tests: abort the process after sending this many batches, before
    /// deleting the last one from the DLQ, to prove what a crash at the worst moment costs. Only in
    /// builds with the `fault-injection` feature, which the release binary never has.
    #[cfg(feature = "fault-injection")]
    #[arg(long, hide = true, value_name = "BATCHES")]
    pub(crate) crash_after_send: Option<u32>,
}

/// Arguments of `failwatch send-test`.
#[derive(Debug, Args)]
pub(crate) struct SendTestArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Only this destination (default: every configured destination).
    #[arg(long, value_name = "NAME")]
    pub(crate) destination: Option<String>,
}

/// Arguments of `failwatch replay`.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Send to this queue instead of the configured queue_url.
    #[arg(long, value_name = "QUEUE_URL")]
    pub(crate) to: Option<String>,
    /// Files holding one JSON event each, or JSON lines; `-` reads JSON lines from stdin.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn render_defaults_to_json_and_reads_stdin() {
        let cli = Cli::try_parse_from(["failwatch", "render"]).unwrap();
        match cli.command {
            Command::Render(args) => {
                assert_eq!(args.to, Target::Json);
                assert!(args.files.is_empty());
                assert!(!args.enrich, "render stays offline unless asked");
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn render_groups_only_with_a_group_interval_in_humantime() {
        let parse = |extra: &[&str]| {
            let cli = Cli::try_parse_from([&["failwatch", "render"], extra].concat())?;
            match cli.command {
                Command::Render(args) => Ok::<_, clap::Error>(args.group_interval),
                other => panic!("not render: {other:?}"),
            }
        };
        assert_eq!(parse(&[]).unwrap(), None);
        assert_eq!(
            parse(&["--group-interval", "5m"]).unwrap(),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse(&["--group-interval", "30m 30s"]).unwrap(),
            Some(Duration::from_secs(1830))
        );
        assert!(parse(&["--group-interval", "soon"]).is_err());
    }

    #[test]
    fn render_takes_crash_loop_settings_only_with_a_group_interval_and_in_the_configs_ranges() {
        let parse = |extra: &[&str]| {
            let cli = Cli::try_parse_from([&["failwatch", "render"], extra].concat())?;
            match cli.command {
                Command::Render(args) => {
                    Ok::<_, clap::Error>((args.crash_loop_threshold, args.crash_loop_window))
                }
                other => panic!("not render: {other:?}"),
            }
        };
        let grouped = |extra: &[&str]| parse(&[&["--group-interval", "5m"], extra].concat());
        assert_eq!(grouped(&[]).unwrap(), (None, None));
        assert_eq!(
            grouped(&["--crash-loop-threshold", "3", "--crash-loop-window", "2m"]).unwrap(),
            (Some(3), Some(Duration::from_secs(120)))
        );
        assert_eq!(
            grouped(&["--crash-loop-threshold", "0"]).unwrap().0,
            Some(0)
        );
        for bad in [
            &["--crash-loop-threshold", "1"][..],
            &["--crash-loop-threshold", "10001"],
            &["--crash-loop-window", "0s"],
            &["--crash-loop-window", "2d"],
        ] {
            assert!(grouped(bad).is_err(), "{bad:?}");
        }
        let without = parse(&["--crash-loop-threshold", "3"]).unwrap_err();
        assert!(
            without.to_string().contains("--group-interval"),
            "{without}"
        );
    }

    /// Review h2, nit 6: `--group-interval 24h` was accepted, `999ms` silently turned grouping off, and
    /// `0s` took crash-loop flags that then did nothing.
    #[test]
    fn render_group_interval_takes_the_configs_range_and_crash_loop_flags_need_grouping_on() {
        let parse = |extra: &[&str]| Cli::parse_args([&["failwatch", "render"], extra].concat());
        for good in ["0s", "1s", "5m", "1h"] {
            assert!(parse(&["--group-interval", good]).is_ok(), "{good}");
        }
        for bad in ["24h", "1h 1ms", "999ms", "500ms"] {
            let err = parse(&["--group-interval", bad]).unwrap_err();
            let text = err.to_string();
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{text}");
            assert!(
                text.contains("--group-interval")
                    && text.contains("0s (off) or a duration from 1s to 1h"),
                "{text}"
            );
        }
        for flag in [
            ["--crash-loop-threshold", "3"],
            ["--crash-loop-window", "2m"],
        ] {
            let err = parse(&[&["--group-interval", "0s"][..], &flag].concat()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ArgumentConflict, "{err}");
            assert!(err.use_stderr(), "a usage error, exit 64");
            let text = err.to_string();
            assert!(
                text.contains(flag[0]) && text.contains("--group-interval 0s"),
                "{text}"
            );
            let on = parse(&[&["--group-interval", "1m"][..], &flag].concat());
            assert!(on.is_ok(), "{flag:?}");
        }
    }

    #[test]
    fn render_accepts_webhook_as_the_configuration_does() {
        let cli = Cli::try_parse_from(["failwatch", "render", "--to", "webhook"]).unwrap();
        match cli.command {
            Command::Render(args) => assert_eq!(args.to, Target::Json),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn render_accepts_every_target_name_of_the_issue() {
        for (name, want) in [
            ("json", Target::Json),
            ("google-chat", Target::GoogleChat),
            ("slack", Target::Slack),
            ("teams", Target::Teams),
            ("discord", Target::Discord),
        ] {
            let cli = Cli::try_parse_from(["failwatch", "render", "--to", name, "a.json"]).unwrap();
            let Command::Render(args) = cli.command else {
                panic!("not render")
            };
            assert_eq!(args.to, want);
            assert_eq!(args.files, vec![PathBuf::from("a.json")]);
        }
    }

    #[test]
    fn render_help_lists_every_chat_service() {
        let help = Cli::command()
            .find_subcommand_mut("render")
            .expect("render")
            .render_long_help()
            .to_string();
        for target in Target::ALL {
            assert!(help.contains(target.as_str()), "{target} missing:\n{help}");
        }
        assert!(help.contains("possible values"), "{help}");
    }

    #[test]
    fn check_config_takes_a_path() {
        let cli = Cli::try_parse_from(["failwatch", "check-config", "--config", "x.toml"]).unwrap();
        let Command::CheckConfig(args) = cli.command else {
            panic!("not check-config")
        };
        assert_eq!(args.config, Some(PathBuf::from("x.toml")));
    }

    /// Fault injection exists only in test builds: the shipped binary must not abort on a hidden flag.
    #[test]
    fn crash_after_send_exists_only_with_fault_injection() {
        let parsed =
            Cli::try_parse_from(["failwatch", "dlq", "redrive", "--crash-after-send", "2"]);
        assert_eq!(parsed.is_ok(), cfg!(feature = "fault-injection"));
    }
}
