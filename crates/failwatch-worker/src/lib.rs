//! The failwatch worker as a library: configuration, the SQS consumer, delivery to chat services, the
//! admin server and the commands of the `failwatch` binary.
//!
//! `main.rs` is deliberately thin — parse the command line, load and validate configuration, install
//! telemetry, build clients and call [`run`] — so that every behaviour lives here where unit tests and
//! the system tests can reach it.

pub mod admin;
pub mod cli;
pub mod commands;
pub mod config;
pub mod consumer;
pub mod delivery;
pub mod errors;
pub mod metrics;
pub mod ops;
pub(crate) mod retry;
pub mod routing;
mod run;
pub mod secret;
pub mod sqs;
pub(crate) mod state;
pub mod telemetry;

pub use run::{RunError, run};

/// Process exit codes, from BSD `sysexits.h` where one fits, so that scripts and orchestrators can tell a
/// configuration mistake (fix the deployment) from bad input data or a runtime failure (retry).
pub mod exit {
    /// Success, including a clean shutdown on SIGTERM.
    pub const OK: u8 = 0;
    /// A failure at run time: the queue cannot be reached, the admin port is taken.
    pub const RUNTIME: u8 = 1;
    /// `EX_USAGE`: bad command line or configuration.
    pub const USAGE: u8 = 64;
    /// `EX_DATAERR`: an input (a message body given to `render`) is malformed.
    pub const DATA: u8 = 65;
}
