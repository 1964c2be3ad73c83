//! Reading the configuration: the file (or none) as a TOML table, the deprecated keys and variables
//! moved into their sections, the overrides and the zero-file shortcut applied, and then every part
//! (each section, each destination, each route) deserialised on its own.
//!
//! Deserialising part by part, with unknown keys collected by `serde_ignored` rather than refused by
//! `deny_unknown_fields`, is what lets one run report every unknown key and every wrong type together
//! instead of stopping at the first.

use std::path::{Path, PathBuf};

use reqwest::Url;
use serde::de::DeserializeOwned;

use super::destinations::RawDestination;
use super::routes::{RawDefaultRoute, RawRoute};
use super::sections::{
    AdminConfig, DedupConfig, EnrichmentConfig, GroupingConfig, LoggingConfig, RetryConfig,
    SECTIONS, SqsConfig, StateConfig,
};
use super::{
    Checker, ConfigError, DEFAULT_DESTINATION, Needs, destinations, env, legacy, overrides,
};
use env::Env;

/// The file's parts, each `None` when it could not be deserialised (its problem is already recorded).
/// A part with some bad values has its keys' defaults in their place (see [`part`]).
#[derive(Debug)]
pub(super) struct Parts {
    pub(super) sqs: Option<SqsConfig>,
    pub(super) retry: Option<RetryConfig>,
    pub(super) dedup: Option<DedupConfig>,
    pub(super) state: Option<StateConfig>,
    pub(super) grouping: Option<GroupingConfig>,
    pub(super) admin: Option<AdminConfig>,
    pub(super) logging: Option<LoggingConfig>,
    pub(super) enrichment: Option<EnrichmentConfig>,
    /// The destinations that deserialised.
    pub(super) destinations: Vec<RawDestination>,
    /// Every route, `None` where one could not be deserialised (so the others keep their indices).
    pub(super) routes: Vec<Option<RawRoute>>,
    pub(super) default_route: Option<RawDefaultRoute>,
    /// Every destination name written, including those of destinations that did not deserialise, so
    /// that routes naming them get no second, misleading "unknown destination".
    pub(super) declared: Vec<String>,
    /// Whether a configuration file was read.
    pub(super) from_file: bool,
}

/// Reads the file (or none), applies deprecated keys, overrides and, for commands that post alerts,
/// the zero-file shortcut, and deserialises every part. Problems found in the environment variables
/// themselves end loading here, since every later check would be about values nobody wrote.
pub(super) fn read(
    path: Option<&Path>,
    env: &dyn Env,
    needs: Needs,
    c: &mut Checker,
) -> Result<Parts, ConfigError> {
    let path = path.map(Path::to_path_buf).or_else(|| {
        env.get(env::CONFIG)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    let mut table = match &path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            parse_toml(path, &text)?
        }
        None => toml::Table::new(),
    };
    legacy::move_flat_keys(&mut table, c);
    let before = c.problems.len();
    legacy::apply_variables(&mut table, env, c);
    overrides::apply(&mut table, env, c);
    if needs.destinations() {
        add_shortcut_destination(&mut table, env, c);
    }
    if c.problems.len() > before {
        return Err(ConfigError::Invalid(std::mem::take(c).finish()));
    }
    Ok(split(table, c, path.is_some()))
}

/// Parses TOML text. Public so that tests and operator commands can check a file's syntax alone.
///
/// The error keeps the parser's message and the position, never toml's own `Display`: that quotes the
/// offending source line, and an unclosed quote on a literal `url = "..."` line would print the webhook
/// URL.
pub(crate) fn parse_toml(path: &Path, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|err| {
        let message = err.message().trim_end();
        let message = match err.span() {
            Some(span) => {
                let (line, column) = line_and_column(text, span.start);
                format!("line {line}, column {column}: {message}")
            }
            None => message.to_owned(),
        };
        ConfigError::Syntax {
            path: path.to_path_buf(),
            message,
        }
    })
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Deserialises each top-level key on its own, recording every problem.
fn split(table: toml::Table, c: &mut Checker, from_file: bool) -> Parts {
    let mut parts = Parts {
        sqs: Some(SqsConfig::default()),
        retry: Some(RetryConfig::default()),
        dedup: Some(DedupConfig::default()),
        state: Some(StateConfig::default()),
        grouping: Some(GroupingConfig::default()),
        admin: Some(AdminConfig::default()),
        logging: Some(LoggingConfig::default()),
        enrichment: Some(EnrichmentConfig::default()),
        destinations: Vec::new(),
        routes: Vec::new(),
        default_route: None,
        declared: Vec::new(),
        from_file,
    };
    for (key, value) in table {
        match key.as_str() {
            "sqs" => parts.sqs = part(c, &key, value),
            "retry" => parts.retry = part(c, &key, value),
            "dedup" => parts.dedup = part(c, &key, value),
            "state" => parts.state = part(c, &key, value),
            "grouping" => parts.grouping = part(c, &key, value),
            "admin" => parts.admin = part(c, &key, value),
            "logging" => parts.logging = part(c, &key, value),
            "enrichment" => parts.enrichment = part(c, &key, value),
            "destinations" => {
                for (i, item) in array(c, &key, value).into_iter().enumerate() {
                    if let Some(name) = item.get("name").and_then(toml::Value::as_str) {
                        parts.declared.push(name.to_owned());
                    }
                    let item = legacy::move_destination_keys(item, i, c);
                    let before = c.unparsed.len();
                    let destination =
                        part::<RawDestination>(c, &format!("destinations[{i}]"), item);
                    // One with a bad value taken out would only add "exactly one of url_env,
                    // url_file and url is required" about a URL key already reported.
                    if c.unparsed.len() == before {
                        parts.destinations.extend(destination);
                    }
                }
            }
            "routes" => {
                parts.routes = array(c, &key, value)
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| part(c, &format!("routes[{i}]"), item))
                    .collect();
            }
            "default_route" => parts.default_route = part(c, &key, value),
            other => c.problem(
                other,
                format!(
                    "unknown field `{other}`: expected a section ({}) or destinations, routes, \
                     default_route",
                    SECTIONS.join(", ")
                ),
            ),
        }
    }
    parts
}

/// The elements of an array of tables (`[[destinations]]`, `[[routes]]`).
fn array(c: &mut Checker, key: &str, value: toml::Value) -> Vec<toml::Value> {
    match value {
        toml::Value::Array(items) => items,
        _ => {
            c.problem(key, format!("must be an array of tables ([[{key}]])"));
            Vec::new()
        }
    }
}

/// Deserialises one part found at key path `at`, recording every unknown key in it and every value that
/// does not deserialise.
///
/// serde stops at a part's first bad value, so each bad value is recorded and taken out, and the part
/// is deserialised again without it (its key's default in its place) until it deserialises or a bad
/// value cannot be taken out (an array element, or a key the part cannot do without). The part
/// deserialised so lets the later checks run and report their problems too; it is never used otherwise,
/// since any problem stops loading. Problems the later checks find under a key recorded here are
/// dropped: they would be about the default, not what the user wrote.
fn part<T: DeserializeOwned>(c: &mut Checker, at: &str, mut value: toml::Value) -> Option<T> {
    let mut unknown: Vec<String> = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    let result = loop {
        let mut track = serde_path_to_error::Track::new();
        let result = {
            let mut note = |path: serde_ignored::Path<'_>| {
                let key = path_key(&path);
                if !unknown.contains(&key) {
                    unknown.push(key);
                }
            };
            let ignoring = serde_ignored::Deserializer::new(value.clone(), &mut note);
            T::deserialize(serde_path_to_error::Deserializer::new(ignoring, &mut track))
        };
        let err = match result {
            Ok(part) => break Some(part),
            Err(err) => err,
        };
        let path = track.path();
        let relative = path.to_string();
        let relative = if relative == "." {
            String::new()
        } else {
            relative
        };
        // toml's `Display` adds an `in `key`` line; only the message is wanted, on one line.
        let message = err.message().lines().next().unwrap_or("").to_owned();
        // A key this loop took out, now missing: its bad value is already recorded.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'));
        if missing.is_some_and(|field| bad.contains(&join(&relative, field))) {
            break None;
        }
        // serde quotes the offending value ("unknown variant `...`"); a webhook URL pasted into
        // the wrong key must not be repeated.
        let message = if message.contains("://") {
            format!("invalid value ({})", super::URL_NOT_SHOWN)
        } else {
            message
        };
        problems.push((join(at, &relative), message));
        if !take_out(&mut value, &path) {
            break None;
        }
        bad.push(relative);
    };
    for key in unknown {
        let last = key.rsplit('.').next().unwrap_or(&key).to_owned();
        c.problem(join(at, &key), format!("unknown field `{last}`"));
    }
    for (key, message) in problems {
        c.unparsed(key, message);
    }
    result
}

/// Removes the key at `path` from `value`; false when `path` does not end in a table's key that is
/// there.
fn take_out(value: &mut toml::Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((Segment::Map { key }, parents)) = segments.split_last() else {
        return false;
    };
    let mut here = value;
    for segment in parents {
        let next = match (segment, here) {
            (Segment::Map { key }, toml::Value::Table(table)) => table.get_mut(key.as_str()),
            (Segment::Seq { index }, toml::Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        let Some(next) = next else {
            return false;
        };
        here = next;
    }
    match here {
        toml::Value::Table(table) => table.remove(key.as_str()).is_some(),
        _ => false,
    }
}

/// `serde_ignored`'s path as this module's key syntax (`match.colour`, `list[2]`).
fn path_key(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", path_key(parent)),
        Path::Map { parent, key } => join(&path_key(parent), key),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => path_key(parent),
    }
}

fn join(parent: &str, key: &str) -> String {
    match (parent.is_empty(), key.starts_with('[')) {
        (true, _) => key.to_owned(),
        (false, true) => format!("{parent}{key}"),
        (false, false) => format!("{parent}.{key}"),
    }
}

/// With no destinations configured and `FAILWATCH_WEBHOOK_URL` set, makes the one destination named
/// `default`. Its type comes from `FAILWATCH_WEBHOOK_TYPE` or the URL's host.
fn add_shortcut_destination(table: &mut toml::Table, env: &dyn Env, c: &mut Checker) {
    let has_destinations = table
        .get("destinations")
        .and_then(toml::Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if has_destinations {
        return;
    }
    let Some(url) = env.get(env::WEBHOOK_URL) else {
        return;
    };
    let kind = match env.get(env::WEBHOOK_TYPE).filter(|t| !t.is_empty()) {
        Some(text) => match destinations::parse_type(&text) {
            Some(kind) => kind,
            None => {
                c.problem(
                    env::WEBHOOK_TYPE,
                    format!(
                        "unknown destination type {}: {}",
                        super::quoted(&text),
                        destinations::type_list()
                    ),
                );
                return;
            }
        },
        None => Url::parse(url.trim())
            .ok()
            .and_then(|u| u.host_str().map(destinations::type_from_host))
            .unwrap_or(failwatch_core::Target::Json),
    };
    let mut destination = toml::Table::new();
    destination.insert("name".into(), DEFAULT_DESTINATION.into());
    destination.insert("type".into(), destinations::type_name(kind).into());
    destination.insert("url_env".into(), env::WEBHOOK_URL.into());
    table.insert(
        "destinations".into(),
        toml::Value::Array(vec![toml::Value::Table(destination)]),
    );
}
