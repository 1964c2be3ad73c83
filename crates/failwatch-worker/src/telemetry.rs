//! Logging: one `tracing` subscriber writing structured lines to stderr.
//!
//! JSON (one object per line, the default for services) or human-readable text (the default when stderr
//! is a terminal). The worker opens one span per SQS message carrying its `message_id`; JSON lines include
//! the current span's fields so every line about a message can be found by its id.

use std::io::IsTerminal;

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

/// The filter used when none is configured: our own events at info, the AWS SDK's and HTTP stack's
/// chatter only when something is wrong.
pub const DEFAULT_FILTER: &str = "info,aws_config=warn,aws_smithy_runtime=warn,aws_smithy_runtime_api=warn,hyper=warn,hyper_util=warn,reqwest=warn,rustls=warn";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

impl LogFormat {
    /// JSON for services and pipes, text when a human is watching the terminal.
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            LogFormat::Text
        } else {
            LogFormat::Json
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Json => "json",
            LogFormat::Text => "text",
        }
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("log_filter: invalid filter directive {directive:?}: {source}")]
    Filter {
        directive: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("a global logger is already installed")]
    AlreadyInstalled(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Appended to every filter: the HTTP client stack can log request URLs at debug and trace level, and a
/// webhook URL is a secret, so these crates never log below info whatever the configured filter says.
const HTTP_STACK_CAP: &str = "reqwest=info,hyper=info,hyper_util=info,h2=info";

/// Builds the filter for a directive string such as `info,failwatch_worker=debug`.
pub fn filter(directive: &str) -> Result<EnvFilter, TelemetryError> {
    let capped = if directive.trim().is_empty() {
        HTTP_STACK_CAP.to_owned()
    } else {
        format!("{directive},{HTTP_STACK_CAP}")
    };
    EnvFilter::try_new(capped).map_err(|source| TelemetryError::Filter {
        directive: directive.to_owned(),
        source,
    })
}

/// Installs the global subscriber. Call once, early in `main`.
pub fn init(format: LogFormat, directive: &str) -> Result<(), TelemetryError> {
    let filter = filter(directive)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    result.map_err(TelemetryError::AlreadyInstalled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_filter_parses() {
        filter(DEFAULT_FILTER).unwrap();
    }

    #[test]
    fn a_bad_filter_names_the_key() {
        let err = filter("info,=[").unwrap_err();
        assert!(err.to_string().starts_with("log_filter:"), "{err}");
    }
}
