//! The `failwatch` command line: parse the arguments, load and validate configuration, install
//! telemetry, build clients, run the command, and map its outcome to an exit code. `main.rs` only calls
//! [`main`], so everything the binary does is inside the library where the compiler sees what is used.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::{Cli, Command, ConfigArgs, RenderArgs};
use crate::commands::render;
use crate::config::{self, Config, EnrichmentConfig, GroupingConfig, env::ProcessEnv};
use crate::enrich::Enricher;
use crate::{exit, metrics, sqs, telemetry};
use failwatch_core::GroupPolicy;
use tokio_util::sync::CancellationToken;

/// Runs the `failwatch` command line: parses the arguments, runs the command and returns the process
/// exit code from [`exit`](crate::exit) (usage and configuration errors are 64, bad `render` input 65,
/// a `render` input file that cannot be read 66, run-time failures 1). Errors are written to stderr
/// or, once logging is installed, to the log.
pub fn main() -> ExitCode {
    let cli = match Cli::parse_args(std::env::args_os()) {
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
        Command::Ops(command) => match block_on(crate::ops::main(command, &ProcessEnv)) {
            Ok(code) => ExitCode::from(code),
            Err(err) => {
                eprintln!("error: cannot start the async runtime: {err}");
                ExitCode::from(exit::RUNTIME)
            }
        },
        Command::Run(args) => run_command(&args),
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
    let runtime = match args.enrich.then(runtime).transpose() {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = writeln!(diag, "error: cannot start the async runtime: {err}");
            return ExitCode::from(exit::RUNTIME);
        }
    };
    let mut enrich = runtime.as_ref().map(|runtime| {
        let config = EnrichmentConfig::default();
        let enricher = runtime.block_on(Enricher::new(&config));
        move |alert: &mut failwatch_core::Alert| {
            let deadline = tokio::time::Instant::now() + config.budget;
            runtime.block_on(enricher.enrich(alert, deadline));
        }
    });
    let enrich = enrich
        .as_mut()
        .map(|f| f as &mut dyn FnMut(&mut failwatch_core::Alert));
    let defaults = GroupingConfig::default();
    let grouping = args
        .group_interval
        .filter(|interval| !interval.is_zero())
        .map(|group_interval| GroupPolicy {
            group_interval,
            crash_loop_threshold: args
                .crash_loop_threshold
                .unwrap_or(defaults.crash_loop_threshold),
            crash_loop_window: args.crash_loop_window.unwrap_or(defaults.crash_loop_window),
        });
    match render::run(inputs, args.to, grouping, enrich, &mut out, &mut diag) {
        // A file that is not there says more about the call than a bad body does.
        Ok(summary) if summary.unreadable > 0 => ExitCode::from(exit::NO_INPUT),
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

/// Loads the configuration or explains, naming the key, why it cannot be used. Its warnings are left
/// to the caller, which writes them once its logging is set up, in the configured format.
fn load_config(args: &ConfigArgs) -> Result<Config, ExitCode> {
    match config::load(args.config.as_deref(), &ProcessEnv) {
        Ok(config) => Ok(config),
        Err(err) => {
            for line in err.to_string().lines() {
                eprintln!("error: {line}");
            }
            Err(ExitCode::from(exit::USAGE))
        }
    }
}

fn check_config(args: &ConfigArgs) -> ExitCode {
    let config = match load_config(args) {
        Ok(config) => config,
        Err(code) => return code,
    };
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    match config.redacted_toml() {
        Ok(text) => {
            print!("{text}");
            ExitCode::from(exit::OK)
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(exit::RUNTIME)
        }
    }
}

fn run_command(args: &ConfigArgs) -> ExitCode {
    let config = match load_config(args) {
        Ok(config) => Arc::new(config),
        Err(code) => return code,
    };
    if let Err(err) = telemetry::init(config.logging.format, &config.logging.filter) {
        eprintln!("error: {err}");
        return ExitCode::from(exit::USAGE);
    }
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let result = block_on(async {
        // Signal handlers go in before anything that can be slow (the SDK's region lookup can wait on
        // IMDS): until they are installed SIGTERM keeps its default action, and a pod stopped during
        // start-up would die with 143 instead of exiting 0.
        let shutdown = CancellationToken::new();
        let watcher = watch_signals(shutdown.clone());
        let result = start_and_run(config, shutdown).await;
        // The watcher is still waiting when the worker stopped on its own; it owns nothing to flush.
        watcher.abort();
        let _ = watcher.await;
        result
    });
    match result {
        Ok(Ok(())) => ExitCode::from(exit::OK),
        Ok(Err(err)) => {
            tracing::error!(error = format!("{err:#}"), "failwatch failed");
            ExitCode::from(exit::RUNTIME)
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot start the async runtime");
            ExitCode::from(exit::RUNTIME)
        }
    }
}

/// Runs `future` to completion on the process's one async runtime, which only `run` and the operator
/// commands start (`render` builds one only for `--enrich`; `check-config` needs none).
fn block_on<F: Future>(future: F) -> io::Result<F::Output> {
    let runtime = runtime()?;
    let output = runtime.block_on(future);
    // Everything of ours has ended by now; this only bounds an SDK connection that is still closing.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(output)
}

/// The multi-threaded runtime `run`, the operator commands and `render --enrich` use.
fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// Builds the clients and runs the worker until `shutdown`; a shutdown that arrives while the clients
/// are still being built ends start-up at once, successfully.
async fn start_and_run(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let recorder = metrics::recorder().context("building the metrics recorder")?;
    let handle = recorder.handle();
    ::metrics::set_global_recorder(recorder).context("installing the metrics recorder")?;
    metrics::describe();
    // Signal handlers are in place from here on; the system tests wait for this line.
    tracing::debug!("building the SQS client");
    let sqs = tokio::select! {
        sqs = sqs::client(&config.sqs.queue_url) => sqs,
        () = shutdown.cancelled() => {
            tracing::info!("stopped during start-up");
            return Ok(());
        }
    };
    crate::run(config, sqs, handle, shutdown)
        .await
        .map_err(anyhow::Error::from)
}

/// Installs the SIGTERM and SIGINT handlers now, before returning, and spawns the task that cancels
/// `shutdown` on the first of them.
fn watch_signals(shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        );
        tokio::spawn(async move {
            match handlers {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => tracing::info!(signal = "SIGTERM", "signal received"),
                        _ = int.recv() => tracing::info!(signal = "SIGINT", "signal received"),
                    }
                }
                (Err(err), _) | (_, Err(err)) => {
                    tracing::error!(error = %err, "cannot listen for signals; only Ctrl-C will stop the worker");
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            shutdown.cancel();
        })
    }
    #[cfg(not(unix))]
    {
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
        })
    }
}
