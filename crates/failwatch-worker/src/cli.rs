//! The command line: every subcommand and flag of the `failwatch` binary, parsed with clap.
//!
//! This module only describes arguments. Reading the configuration file and environment is `config`'s
//! job (so that `FAILWATCH_CONFIG` goes through the same environment seam as every other variable), and
//! each command's behaviour lives in `commands` or the worker modules.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Alerts your chat room when an AWS ECS task or Step Functions execution fails.
#[derive(Debug, Parser)]
#[command(name = "failwatch", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands. Operator commands (`dlq`, `send-test`, `replay`) join this enum as they are added.
#[derive(Debug, Subcommand)]
pub enum Command {
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
    Ops(crate::ops::OpsCommand),
}

/// Arguments of `failwatch render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The chat service to render for; `json` is the `failwatch.alert.v1` document (the generic webhook's
    /// payload).
    #[arg(long, value_enum, default_value_t = RenderTarget::Json)]
    pub to: RenderTarget,
    /// Files each holding one SQS message body. Without any, bodies are read from stdin, one per line.
    pub files: Vec<PathBuf>,
}

/// Where to find the configuration file.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The TOML configuration file (default: `FAILWATCH_CONFIG`; with neither, the zero-file shortcut
    /// `FAILWATCH_QUEUE_URL` + `FAILWATCH_WEBHOOK_URL`).
    #[arg(long, short = 'c', value_name = "PATH")]
    pub config: Option<PathBuf>,
}

/// The `--to` values of `failwatch render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderTarget {
    Json,
    GoogleChat,
    Slack,
    Teams,
    Discord,
}

impl From<RenderTarget> for failwatch_core::Target {
    fn from(target: RenderTarget) -> Self {
        match target {
            RenderTarget::Json => failwatch_core::Target::Json,
            RenderTarget::GoogleChat => failwatch_core::Target::GoogleChat,
            RenderTarget::Slack => failwatch_core::Target::Slack,
            RenderTarget::Teams => failwatch_core::Target::Teams,
            RenderTarget::Discord => failwatch_core::Target::Discord,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn render_defaults_to_json_and_reads_stdin() {
        let cli = Cli::try_parse_from(["failwatch", "render"]).unwrap();
        match cli.command {
            Command::Render(args) => {
                assert_eq!(args.to, RenderTarget::Json);
                assert!(args.files.is_empty());
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn render_accepts_every_target_name_of_the_issue() {
        for (name, want) in [
            ("json", RenderTarget::Json),
            ("google-chat", RenderTarget::GoogleChat),
            ("slack", RenderTarget::Slack),
            ("teams", RenderTarget::Teams),
            ("discord", RenderTarget::Discord),
        ] {
            let cli = Cli::try_parse_from(["failwatch", "render", "--to", name, "a.json"]).unwrap();
            let Command::Render(args) = cli.command else {
                panic!("not render")
            };
            assert_eq!(args.to, want);
            assert_eq!(args.files, vec![PathBuf::from("a.json")]);
        }
        assert!(Cli::try_parse_from(["failwatch", "render", "--to", "webhook"]).is_err());
    }

    #[test]
    fn check_config_takes_a_path() {
        let cli = Cli::try_parse_from(["failwatch", "check-config", "--config", "x.toml"]).unwrap();
        let Command::CheckConfig(args) = cli.command else {
            panic!("not check-config")
        };
        assert_eq!(args.config, Some(PathBuf::from("x.toml")));
    }
}
