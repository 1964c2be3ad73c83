//! Configuration loading and validation, with the environment passed in as a map: the flat keys of
//! the first release ([`flat`]) and the sectioned form ([`sections`]).

mod enrichment;
mod flat;
mod grouping;
mod sections;

use std::collections::BTreeMap;
use std::io::Write;

use super::*;

pub(super) const SLACK: &str = "https://hooks.slack.com/services/T000/B000/SLACKSECRET";
pub(super) const CHAT: &str =
    "https://chat.googleapis.com/v1/spaces/AAA/messages?key=CHATKEY&token=CHATTOKEN";

pub(super) fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Writes `text` to a temporary file and loads it with `vars`.
pub(super) fn load_text(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    load(Some(file.path()), &env(vars))
}

pub(super) fn problems<T>(result: Result<T, ConfigError>) -> Vec<String> {
    match result {
        Ok(_) => panic!("expected the configuration to be rejected"),
        Err(err) => err.to_string().lines().map(str::to_owned).collect(),
    }
}
