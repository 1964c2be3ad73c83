//! `[[routes]]` and `[default_route]` as written, and building the [`Router`] from them: destination
//! names resolved to indices, glob patterns compiled, `kind` and `severity` patterns checked against
//! the values alerts can have.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::destinations::looks_like_url;
use super::sections::GroupingOverride;
use super::{Checker, URL_NOT_SHOWN, quoted};
use crate::routing::{self, DefaultRoute, Match, Pattern, Route, Router};

/// One `[[routes]]` entry as written.
#[derive(Debug, Deserialize)]
pub(super) struct RawRoute {
    name: Option<String>,
    destinations: Vec<String>,
    mention: Option<String>,
    #[serde(default, rename = "continue")]
    continue_: bool,
    #[serde(default, rename = "match")]
    matcher: RawMatch,
    /// `[routes.grouping]`: `[grouping]` keys for the destinations this route chooses.
    grouping: Option<GroupingOverride>,
}

/// A route's `[routes.match]` table as written.
#[derive(Debug, Default, Deserialize)]
struct RawMatch {
    cluster: Option<String>,
    service: Option<String>,
    kind: Option<String>,
    severity: Option<String>,
    account: Option<String>,
    region: Option<String>,
    group_key: Option<String>,
    /// `tags.<key> = "<glob>"`.
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// `[default_route]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct RawDefaultRoute {
    destinations: Vec<String>,
    mention: Option<String>,
    /// `[default_route.grouping]`, as a route's.
    grouping: Option<GroupingOverride>,
}

/// Builds the router. Routes are checked against every declared destination name, not only the
/// destinations that resolved: a destination whose URL failed already has its problem, and a second
/// "unknown destination" would point the reader at the wrong line.
pub(super) fn build(
    c: &mut Checker,
    raw: Vec<Option<RawRoute>>,
    raw_default: Option<RawDefaultRoute>,
    destinations: &[String],
) -> Router {
    // A route that did not deserialise has its problem; the others keep their indices.
    let routes = raw
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| Some(route(c, i, r?, destinations)))
        .collect();
    if let Some(grouping) = raw_default.as_ref().and_then(|d| d.grouping.as_ref()) {
        grouping.check(c, "default_route.grouping");
    }
    let default_route = raw_default.map(|d| DefaultRoute {
        grouping: d.grouping,
        destination_indices: resolve(
            c,
            "default_route.destinations",
            &d.destinations,
            destinations,
        ),
        destinations: d.destinations,
        mention: d.mention.filter(|m| !m.is_empty()),
    });
    Router {
        routes,
        default_route,
        destination_count: destinations.len(),
    }
}

fn route(c: &mut Checker, i: usize, r: RawRoute, destinations: &[String]) -> Route {
    let indices = resolve(
        c,
        &format!("routes[{i}].destinations"),
        &r.destinations,
        destinations,
    );
    let mut pattern = |field: &str, text: Option<String>| {
        text.and_then(|t| match Pattern::new(&t) {
            Ok(p) => Some(p),
            Err(message) => {
                c.problem(format!("routes[{i}].match.{field}"), message);
                None
            }
        })
    };
    let matcher = Match {
        cluster: pattern("cluster", r.matcher.cluster),
        service: pattern("service", r.matcher.service),
        kind: pattern("kind", r.matcher.kind),
        severity: pattern("severity", r.matcher.severity),
        account: pattern("account", r.matcher.account),
        region: pattern("region", r.matcher.region),
        group_key: pattern("group_key", r.matcher.group_key),
        tags: r
            .matcher
            .tags
            .into_iter()
            .filter_map(|(key, text)| {
                Some((key.clone(), pattern(&format!("tags.{key}"), Some(text))?))
            })
            .collect(),
    };
    if let Some(grouping) = &r.grouping {
        grouping.check(c, &format!("routes[{i}].grouping"));
    }
    if let Some(p) = &matcher.kind
        && let Err(message) =
            routing::check_matches_some(p, routing::KINDS.iter().map(|k| k.as_str()))
    {
        c.problem(format!("routes[{i}].match.kind"), message);
    }
    if let Some(p) = &matcher.severity
        && let Err(message) =
            routing::check_matches_some(p, routing::SEVERITIES.iter().map(|s| s.as_str()))
    {
        c.problem(format!("routes[{i}].match.severity"), message);
    }
    Route {
        name: r.name.unwrap_or_else(|| format!("routes[{i}]")),
        destinations: r.destinations,
        destination_indices: indices,
        mention: r.mention.filter(|m| !m.is_empty()),
        continue_: r.continue_,
        matcher,
        grouping: r.grouping,
    }
}

/// The indices of `names` among the declared destinations; a problem at `key` for each unknown name.
/// Neither the unknown name nor a declared one is repeated when it looks like a URL: a webhook URL
/// pasted where its destination's name belongs is an easy mistake.
fn resolve(c: &mut Checker, key: &str, names: &[String], destinations: &[String]) -> Vec<usize> {
    if names.is_empty() {
        c.problem(key, "must name at least one destination");
    }
    let mut out = Vec::new();
    for name in names {
        match destinations.iter().position(|d| d == name) {
            Some(i) => out.push(i),
            None => {
                let configured = destinations
                    .iter()
                    .map(|d| {
                        if looks_like_url(d) {
                            quoted(d)
                        } else {
                            d.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let message = if looks_like_url(name) {
                    format!(
                        "a URL is not a destination name ({URL_NOT_SHOWN}): name a [[destinations]] \
                         entry (configured: {configured})"
                    )
                } else {
                    format!("unknown destination {name:?} (configured: {configured})")
                };
                c.problem(key, message);
            }
        }
    }
    out
}
