//! `FAILWATCH_<SECTION>__<KEY>` overrides, derived from the section structs rather than listed: every
//! variable of that shape sets `<key>` in `[<section>]`, and deserialising the section decides whether
//! the key exists and the value fits, exactly as for the file. A problem about an overridden value names
//! the variable.

use super::Checker;
use super::env::{self, Env};
use super::sections::SECTIONS;

/// Applies every override variable that is set, over the file's value (even an empty one, which then
/// fails validation loudly instead of being ignored). `RUST_LOG`, the conventional `tracing` variable,
/// sets `logging.filter` when no failwatch variable does.
pub(super) fn apply(table: &mut toml::Table, env: &dyn Env, c: &mut Checker) {
    let filter_set = ["FAILWATCH_LOGGING__FILTER", "FAILWATCH_LOG_FILTER"]
        .iter()
        .any(|var| env.get(var).is_some());
    if let Some(filter) = env.get(env::RUST_LOG).filter(|f| !f.trim().is_empty())
        && !filter_set
        && let Some(logging) = table
            .entry("logging")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
    {
        logging.insert("filter".into(), toml::Value::String(filter));
    }
    let mut names = env.names_with_prefix(env::PREFIX);
    names.sort();
    for var in names {
        let Some((section, key)) = var[env::PREFIX.len()..].split_once(env::SEPARATOR) else {
            // `FAILWATCH_CONFIG`, `FAILWATCH_WEBHOOK_URL` and the deprecated flat variables.
            continue;
        };
        let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
        let Some(text) = env.get(&var) else { continue };
        if !SECTIONS.contains(&section.as_str()) {
            c.problem(
                &var,
                format!(
                    "unknown section `{section}`: expected one of {}",
                    SECTIONS.join(", ")
                ),
            );
            continue;
        }
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let Some(section_table) = entry.as_table_mut() {
            section_table.insert(key.clone(), value(text));
            c.origin(
                format!("{section}.{key}"),
                format!("{var} ({section}.{key})"),
            );
        }
    }
}

/// A variable's text as a TOML value: a number or boolean when it reads as one, otherwise a string, so
/// that `5`, `true` and `20s` all mean what they would in the file without quotes.
fn value(text: String) -> toml::Value {
    match format!("v = {text}").parse::<toml::Table>() {
        Ok(mut parsed) => match parsed.remove("v") {
            Some(
                v @ (toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_)),
            ) => v,
            _ => toml::Value::String(text),
        },
        Err(_) => toml::Value::String(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_booleans_are_typed_everything_else_is_text() {
        assert_eq!(value("5".into()), toml::Value::Integer(5));
        assert_eq!(value("0.5".into()), toml::Value::Float(0.5));
        assert_eq!(value("true".into()), toml::Value::Boolean(true));
        for text in [
            "20s",
            "json",
            "127.0.0.1:9090",
            "https://sqs.example/1/q",
            "",
        ] {
            assert_eq!(
                value(text.into()),
                toml::Value::String(text.into()),
                "{text}"
            );
        }
    }
}
