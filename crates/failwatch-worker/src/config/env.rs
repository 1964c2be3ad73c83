//! The environment seam: every variable failwatch reads is a constant here, and every read goes through
//! [`Env`], so tests pass a map instead of mutating the process environment (which is `unsafe` in Rust
//! 2024 and racy across test threads).

use std::collections::BTreeMap;

/// The configuration file's path, when `--config` is not given.
pub(crate) const CONFIG: &str = "FAILWATCH_CONFIG";
/// Zero-file shortcut: the one webhook URL, made into a destination named `default`.
pub(crate) const WEBHOOK_URL: &str = "FAILWATCH_WEBHOOK_URL";
/// Zero-file shortcut: the destination type when the URL's host does not tell it.
pub(crate) const WEBHOOK_TYPE: &str = "FAILWATCH_WEBHOOK_TYPE";

/// The conventional `tracing` filter variable; used for `logging.filter` when no failwatch variable
/// sets it.
pub(crate) const RUST_LOG: &str = "RUST_LOG";

/// The host's name (a Kubernetes pod's name), naming this replica in the shared state store's claims.
pub(crate) const HOSTNAME: &str = "HOSTNAME";

/// Fault injection for the system tests (builds with the `fault-injection` feature only): when set,
/// `run` aborts right after recording a delivery, before the message can be deleted.
#[cfg(feature = "fault-injection")]
pub(crate) const FAULT_CRASH_AFTER_RECORD: &str = "FAILWATCH_FAULT_CRASH_AFTER_RECORD";

/// The prefix of every override variable: `FAILWATCH_<SECTION>__<KEY>` sets `<key>` in `[<section>]`
/// (for example `FAILWATCH_SQS__QUEUE_URL` sets `[sqs] queue_url`). The names are derived from the
/// section structs themselves, so a new key needs no new constant here; see [`super::overrides`].
pub(crate) const PREFIX: &str = "FAILWATCH_";
/// Separates the section from the key in an override variable's name.
pub(crate) const SEPARATOR: &str = "__";

/// Read access to environment variables.
pub(crate) trait Env {
    /// The variable's value, or `None` when it is unset or not valid Unicode.
    fn get(&self, name: &str) -> Option<String>;
    /// The names of every variable starting with `prefix`, so that overrides can be found without a
    /// list of every key.
    fn names_with_prefix(&self, prefix: &str) -> Vec<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn names_with_prefix(&self, prefix: &str) -> Vec<String> {
        std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .filter(|name| name.starts_with(prefix))
            .collect()
    }
}

/// A fixed set of variables, for tests and for commands that build an environment on purpose.
impl Env for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
    fn names_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.keys()
            .filter(|name| name.starts_with(prefix))
            .cloned()
            .collect()
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
    fn names_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(name, _)| (*name).to_owned())
            .collect()
    }
}
