//! Logging: one `tracing` subscriber writing structured lines to stderr.
//!
//! JSON (one object per line, the default for services) or human-readable text (the default when stderr
//! is a terminal). The worker opens one span per SQS message carrying its `message_id`; JSON lines include
//! the current span's fields so every line about a message can be found by its id.

use std::io::IsTerminal;

use serde::{Deserialize, Serialize};
use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter used when none is configured: our own events at info, the AWS SDK's and HTTP stack's
/// chatter only when something is wrong.
pub(crate) const DEFAULT_FILTER: &str = "info,aws_config=error,aws_smithy_runtime=warn,aws_smithy_runtime_api=warn,hyper=warn,hyper_util=warn,reqwest=warn,rustls=warn";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    Json,
    Text,
}

impl LogFormat {
    /// JSON for services and pipes, text when a human is watching the terminal.
    pub(crate) fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            LogFormat::Text
        } else {
            LogFormat::Json
        }
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TelemetryError {
    #[error("log_filter: invalid filter directive {directive:?}: {source}")]
    Filter {
        directive: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("a global logger is already installed")]
    AlreadyInstalled(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Builds the filter for a directive string such as `info,failwatch_worker=debug`.
pub(crate) fn filter(directive: &str) -> Result<EnvFilter, TelemetryError> {
    EnvFilter::try_new(directive).map_err(|source| TelemetryError::Filter {
        directive: directive.to_owned(),
        source,
    })
}

/// The HTTP client stack can log request URLs at debug and trace level, and a webhook URL is a secret,
/// so these crates never log below info, whatever the configured filter says.
fn below_http_stack_cap(meta: &Metadata<'_>) -> bool {
    const HTTP_STACK: [&str; 4] = ["reqwest", "hyper", "hyper_util", "h2"];
    let crate_name = meta.target().split("::").next().unwrap_or("");
    !(HTTP_STACK.contains(&crate_name) && *meta.level() > Level::INFO)
}

/// Installs the global subscriber. Call once, early in `main`.
pub(crate) fn init(format: LogFormat, directive: &str) -> Result<(), TelemetryError> {
    let filter = filter(directive)?.and(filter_fn(below_http_stack_cap));
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => tracing_subscriber::registry()
            .with(
                layer
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Text => tracing_subscriber::registry()
            .with(
                layer
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_filter(filter),
            )
            .try_init(),
    };
    result.map_err(|err| TelemetryError::AlreadyInstalled(Box::new(err)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_filter_parses() {
        filter(DEFAULT_FILTER).unwrap();
    }

    #[test]
    fn the_http_stack_never_logs_below_info() {
        use tracing::callsite::Identifier;
        use tracing::field::FieldSet;
        use tracing::metadata::Kind;
        struct Callsite;
        impl tracing::Callsite for Callsite {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unreachable!()
            }
        }
        static CALLSITE: Callsite = Callsite;
        let meta = |target: &'static str, level: Level| {
            Metadata::new(
                "event",
                target,
                level,
                None,
                None,
                None,
                FieldSet::new(&[], Identifier(&CALLSITE)),
                Kind::EVENT,
            )
        };
        assert!(!below_http_stack_cap(&meta(
            "reqwest::connect",
            Level::DEBUG
        )));
        assert!(!below_http_stack_cap(&meta(
            "hyper_util::client",
            Level::TRACE
        )));
        assert!(below_http_stack_cap(&meta("reqwest::connect", Level::INFO)));
        assert!(below_http_stack_cap(&meta(
            "failwatch_worker::delivery",
            Level::TRACE
        )));
    }

    #[test]
    fn a_bad_filter_names_the_key() {
        let err = filter("info,=[").unwrap_err();
        assert!(err.to_string().starts_with("log_filter:"), "{err}");
    }
}
