//! The `failwatch` binary: parse the command line, load and validate configuration, install telemetry,
//! build clients, run the command, and map its outcome to an exit code. Everything else lives in the
//! `failwatch_worker` library.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use failwatch_worker::cli::{Cli, Command, ConfigArgs, RenderArgs};
use failwatch_worker::commands::render;
use failwatch_worker::config::{self, Config, env::ProcessEnv};
use failwatch_worker::exit;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` are "errors" clap prints to stdout; real usage errors exit 64, not
            // clap's default 2, so the exit codes match the documented contract.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    match cli.command {
        Command::Render(args) => render_command(args),
        Command::CheckConfig(args) => check_config(&args),
        Command::Ops(command) => ExitCode::from(failwatch_worker::ops::main(command, &ProcessEnv)),
        Command::Run(_) => {
            eprintln!("error: not available in this build yet");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn render_command(args: RenderArgs) -> ExitCode {
    let inputs = if args.files.is_empty() {
        render::Inputs::Lines(Box::new(io::stdin().lock()))
    } else {
        render::Inputs::Files(args.files)
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut diag = io::stderr().lock();
    match render::run(inputs, args.to.into(), &mut out, &mut diag) {
        Ok(summary) if summary.malformed > 0 => ExitCode::from(exit::DATA),
        Ok(_) => ExitCode::from(exit::OK),
        // A reader that went away (`failwatch render | head`) is not a failure worth a message.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(exit::OK),
        Err(err) => {
            let _ = writeln!(diag, "error: writing output: {err}");
            ExitCode::from(exit::RUNTIME)
        }
    }
}

/// Loads the configuration or explains, naming the key, why it cannot be used.
fn load_config(args: &ConfigArgs) -> Result<Config, ExitCode> {
    match config::load(args.config.as_deref(), &ProcessEnv) {
        Ok(config) => {
            for warning in &config.warnings {
                eprintln!("warning: {warning}");
            }
            Ok(config)
        }
        Err(err) => {
            for line in err.to_string().lines() {
                eprintln!("error: {line}");
            }
            Err(ExitCode::from(exit::USAGE))
        }
    }
}

fn check_config(args: &ConfigArgs) -> ExitCode {
    match load_config(args) {
        Ok(config) => {
            print!("{}", config.to_redacted_toml());
            ExitCode::from(exit::OK)
        }
        Err(code) => code,
    }
}
