//! The flat keys and `FAILWATCH_<KEY>` variables of the first release, kept working for one more
//! release: each is moved to its sectioned key with a warning naming the new key, and problems about
//! its value still name the key the user wrote. Delete this module (and its one call per kind) when
//! the deprecation period ends.

use super::env::Env;
use super::{Checker, Problem};

/// How a flat value becomes its sectioned value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Convert {
    /// The same value (strings, counts).
    Same,
    /// A whole number of seconds becomes a duration string (`20` -> `"20s"`).
    Secs,
    /// A whole number of milliseconds becomes a duration string (`500` -> `"500ms"`).
    Millis,
}

/// Every flat key: (flat key, its variable, new section, new key, conversion).
const FLAT: &[(&str, &str, &str, &str, Convert)] = &[
    (
        "queue_url",
        "FAILWATCH_QUEUE_URL",
        "sqs",
        "queue_url",
        Convert::Same,
    ),
    (
        "dlq_url",
        "FAILWATCH_DLQ_URL",
        "sqs",
        "dlq_url",
        Convert::Same,
    ),
    (
        "pollers",
        "FAILWATCH_POLLERS",
        "sqs",
        "pollers",
        Convert::Same,
    ),
    (
        "max_in_flight",
        "FAILWATCH_MAX_IN_FLIGHT",
        "sqs",
        "max_in_flight",
        Convert::Same,
    ),
    (
        "wait_time_secs",
        "FAILWATCH_WAIT_TIME_SECS",
        "sqs",
        "wait_time",
        Convert::Secs,
    ),
    (
        "visibility_timeout_secs",
        "FAILWATCH_VISIBILITY_TIMEOUT_SECS",
        "sqs",
        "visibility_timeout",
        Convert::Secs,
    ),
    (
        "malformed_visibility_secs",
        "FAILWATCH_MALFORMED_VISIBILITY_SECS",
        "sqs",
        "malformed_visibility",
        Convert::Secs,
    ),
    (
        "shutdown_grace_secs",
        "FAILWATCH_SHUTDOWN_GRACE_SECS",
        "sqs",
        "shutdown_grace",
        Convert::Secs,
    ),
    (
        "queue_metrics_interval_secs",
        "FAILWATCH_QUEUE_METRICS_INTERVAL_SECS",
        "sqs",
        "queue_metrics_interval",
        Convert::Secs,
    ),
    (
        "retry_budget_secs",
        "FAILWATCH_RETRY_BUDGET_SECS",
        "retry",
        "budget",
        Convert::Secs,
    ),
    (
        "retry_initial_delay_ms",
        "FAILWATCH_RETRY_INITIAL_DELAY_MS",
        "retry",
        "initial_delay",
        Convert::Millis,
    ),
    (
        "retry_max_delay_secs",
        "FAILWATCH_RETRY_MAX_DELAY_SECS",
        "retry",
        "max_delay",
        Convert::Secs,
    ),
    (
        "retry_after_max_secs",
        "FAILWATCH_RETRY_AFTER_MAX_SECS",
        "retry",
        "retry_after_max",
        Convert::Secs,
    ),
    (
        "dedup_ttl_secs",
        "FAILWATCH_DEDUP_TTL_SECS",
        "dedup",
        "ttl",
        Convert::Secs,
    ),
    (
        "dedup_capacity",
        "FAILWATCH_DEDUP_CAPACITY",
        "dedup",
        "capacity",
        Convert::Same,
    ),
    (
        "admin_listen",
        "FAILWATCH_ADMIN_LISTEN",
        "admin",
        "listen",
        Convert::Same,
    ),
    (
        "readiness_max_poll_age_secs",
        "FAILWATCH_READINESS_MAX_POLL_AGE_SECS",
        "admin",
        "readiness_max_poll_age",
        Convert::Secs,
    ),
    (
        "log_format",
        "FAILWATCH_LOG_FORMAT",
        "logging",
        "format",
        Convert::Same,
    ),
    (
        "log_filter",
        "FAILWATCH_LOG_FILTER",
        "logging",
        "filter",
        Convert::Same,
    ),
];

/// Moves every flat key of the file into its section, warning once per key. A key given both ways is a
/// problem: which one was meant cannot be known.
pub(super) fn move_flat_keys(table: &mut toml::Table, c: &mut Checker) {
    for &(flat, _, section, key, convert) in FLAT {
        let Some(value) = table.remove(flat) else {
            continue;
        };
        let new = format!("{section}.{key}");
        c.warn(format!(
            "{flat} is deprecated and will be removed in the next release: use {new} ([{section}] \
             {key})"
        ));
        let Some(value) = converted(c, flat, value, convert) else {
            continue;
        };
        let Some(section_table) = section_mut(table, section) else {
            continue;
        };
        if section_table.contains_key(key) {
            c.problem(flat, format!("set twice, also as {new}: keep only {new}"));
            continue;
        }
        section_table.insert(key.to_owned(), value);
        c.origin(new, flat.to_owned());
    }
}

/// Applies every deprecated `FAILWATCH_<KEY>` variable that is set, over the file's value, warning
/// once per variable.
pub(super) fn apply_variables(table: &mut toml::Table, env: &dyn Env, c: &mut Checker) {
    for &(flat, var, section, key, convert) in FLAT {
        let Some(text) = env.get(var) else { continue };
        let new_var = format!(
            "FAILWATCH_{}__{}",
            section.to_uppercase(),
            key.to_uppercase()
        );
        c.warn(format!(
            "{var} is deprecated and will be removed in the next release: use {new_var}"
        ));
        let value = if convert == Convert::Same && !is_count(flat) {
            toml::Value::String(text)
        } else {
            match text.trim().parse::<i64>() {
                Ok(n) => toml::Value::Integer(n),
                Err(_) => {
                    // A webhook URL set in the wrong variable must not be repeated.
                    let got = if text.contains("://") {
                        "a URL (value not shown)".to_owned()
                    } else {
                        format!("{text:?}")
                    };
                    c.problems.push(Problem {
                        key: var.to_owned(),
                        message: format!("{flat}: expected a whole number, got {got}"),
                    });
                    continue;
                }
            }
        };
        if let Some(value) = converted(c, var, value, convert)
            && let Some(section_table) = section_mut(table, section)
        {
            section_table.insert(key.to_owned(), value);
            c.origin(format!("{section}.{key}"), flat.to_owned());
        }
    }
}

/// Moves a destination's `timeout_secs` to `timeout`.
pub(super) fn move_destination_keys(
    mut item: toml::Value,
    i: usize,
    c: &mut Checker,
) -> toml::Value {
    let Some(table) = item.as_table_mut() else {
        return item;
    };
    let Some(value) = table.remove("timeout_secs") else {
        return item;
    };
    let flat = format!("destinations[{i}].timeout_secs");
    let new = format!("destinations[{i}].timeout");
    c.warn(format!(
        "{flat} is deprecated and will be removed in the next release: use {new} (a duration such \
         as \"10s\")"
    ));
    if table.contains_key("timeout") {
        c.problem(&flat, format!("set twice, also as {new}: keep only {new}"));
    } else if let Some(value) = converted(c, &flat, value, Convert::Secs) {
        table.insert("timeout".into(), value);
        c.origin(new, flat);
    }
    item
}

/// The flat keys whose values are numbers that stay numbers.
fn is_count(flat: &str) -> bool {
    matches!(flat, "pollers" | "max_in_flight" | "dedup_capacity")
}

/// `value` in its sectioned form; a problem naming `key` when a number of seconds or milliseconds is
/// not a whole, non-negative number.
fn converted(
    c: &mut Checker,
    key: &str,
    value: toml::Value,
    convert: Convert,
) -> Option<toml::Value> {
    let unit = match convert {
        Convert::Same => return Some(value),
        Convert::Secs => "s",
        Convert::Millis => "ms",
    };
    match value.as_integer() {
        Some(n) if n >= 0 => Some(toml::Value::String(format!("{n}{unit}"))),
        Some(n) => {
            c.problem(key, format!("{n} is out of range (must not be negative)"));
            None
        }
        None => {
            c.problem(key, "invalid type: expected a whole number");
            None
        }
    }
}

/// The table of `[section]`, created when absent; `None` when the file has a non-table value there,
/// which deserialising the section then reports.
fn section_mut<'t>(table: &'t mut toml::Table, section: &str) -> Option<&'t mut toml::Table> {
    table
        .entry(section.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
}
