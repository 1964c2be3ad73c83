//! `check-config`'s output: the effective configuration in the sectioned form, loadable back as a
//! configuration file, with every webhook URL redacted.
//!
//! A destination is printed with the key its URL was configured by (`url_env`, `url_file`, or a
//! redacted `url`); for the first two a trailing comment shows the redacted URL it resolved to, so the
//! reader sees which host each destination posts to.

use serde::Serialize;

use super::{Config, UrlSource};

/// The effective configuration could not be written as TOML (a bug, not a configuration problem).
#[derive(Debug, thiserror::Error)]
#[error("cannot print the effective configuration: {0}")]
pub(crate) struct RedactedTomlError(#[from] toml::ser::Error);

/// See [`Config::redacted_toml`].
pub(super) fn redacted_toml(config: &Config) -> Result<String, RedactedTomlError> {
    let text = to_toml(config)?;
    let Ok(mut document) = text.parse::<toml_edit::DocumentMut>() else {
        // What toml just wrote always parses; without the comments the output is still complete.
        return Ok(text);
    };
    if let Some(tables) = document
        .get_mut("destinations")
        .and_then(toml_edit::Item::as_array_of_tables_mut)
    {
        for (table, destination) in tables.iter_mut().zip(&config.destinations) {
            let key = match destination.source {
                UrlSource::Env(_) => "url_env",
                UrlSource::File(_) => "url_file",
                UrlSource::Literal(_) => continue,
            };
            if let Some(value) = table.get_mut(key).and_then(toml_edit::Item::as_value_mut) {
                value
                    .decor_mut()
                    .set_suffix(format!("  # url = \"{}\"", destination.url.redacted()));
            }
        }
    }
    Ok(document.to_string())
}

/// Writes `value` as a TOML document; [`redacted_toml`]'s first step, separate so that its error path
/// can be tested.
pub(super) fn to_toml<T: Serialize>(value: &T) -> Result<String, RedactedTomlError> {
    Ok(toml::to_string_pretty(value)?)
}
