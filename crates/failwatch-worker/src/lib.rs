//! The failwatch worker as a library: configuration, the SQS consumer, delivery to chat services, the
//! admin server and the commands of the `failwatch` binary.
//!
//! The library's one public item is [`main`], the whole command line, which `main.rs` calls and nothing
//! else: every module is `pub(crate)`, so the compiler reports any code the binary no longer uses.

pub(crate) mod admin;
pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod config;
pub(crate) mod consumer;
pub(crate) mod delivery;
pub(crate) mod enrich;
mod entry;
pub(crate) mod errors;
pub(crate) mod grouping;
pub(crate) mod metrics;
pub(crate) mod ops;
pub(crate) mod retry;
pub(crate) mod routing;
mod run;
pub(crate) mod secret;
pub(crate) mod sqs;
pub(crate) mod state;
pub(crate) mod telemetry;

pub use entry::main;
pub(crate) use run::run;

/// Process exit codes, from BSD `sysexits.h` where one fits, so that scripts and orchestrators can tell a
/// configuration mistake (fix the deployment) from bad input data or a runtime failure (retry).
pub(crate) mod exit {
    /// Success, including a clean shutdown on SIGTERM.
    pub(crate) const OK: u8 = 0;
    /// A failure at run time: the queue cannot be reached, the admin port is taken.
    pub(crate) const RUNTIME: u8 = 1;
    /// `EX_USAGE`: bad command line or configuration.
    pub(crate) const USAGE: u8 = 64;
    /// `EX_DATAERR`: an input (a message body given to `render`) is malformed.
    pub(crate) const DATA: u8 = 65;
    /// `EX_NOINPUT`: an input file (given to `render`) cannot be opened or read: it is missing, a
    /// directory, or not readable.
    pub(crate) const NO_INPUT: u8 = 66;
}
