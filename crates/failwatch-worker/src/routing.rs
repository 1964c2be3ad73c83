//! Routing: which destinations receive an alert, and with which mention.
//!
//! Routes are checked in order. A route matches when every field it names matches its glob pattern
//! (`globset` syntax; an omitted field matches anything; a field the alert does not have, such as the
//! service of a Step Functions execution, is matched as the empty string, so only `*` matches it). The
//! first matching route wins unless it says `continue = true`, in which case later routes are checked
//! too. When no route matched, the default route applies; without one, every destination receives the
//! alert, so a configuration can never silently drop an alert it did not anticipate. A destination
//! reached by several matching routes receives the alert once, with the first route's mention.
//!
//! `tags.<key>` patterns match the failed resource's tags, which enrichment looked up before routing;
//! a route with a tag pattern never matches an alert without tags (enrichment off, failed or late), nor
//! one whose tags lack the key.

use std::collections::BTreeMap;

use failwatch_core::{Alert, AlertKind, Severity};
use globset::{GlobBuilder, GlobMatcher};
use serde::{Serialize, Serializer};

use crate::config::GroupingOverride;

/// The alert kinds a `kind` pattern is checked against: the core's registry.
pub(crate) const KINDS: [AlertKind; AlertKind::ALL.len()] = AlertKind::ALL;
/// The severities a `severity` pattern is checked against.
pub(crate) const SEVERITIES: [Severity; 2] = [Severity::Critical, Severity::Warning];

/// One compiled glob, remembering its source text for display.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    text: String,
    matcher: GlobMatcher,
}

impl Pattern {
    /// Compiles a glob pattern; the error text is globset's.
    pub(crate) fn new(text: &str) -> Result<Self, String> {
        let glob = GlobBuilder::new(text)
            .literal_separator(false)
            .build()
            .map_err(|err| format!("invalid glob pattern {text:?}: {}", err.kind()))?;
        Ok(Pattern {
            text: text.to_owned(),
            matcher: glob.compile_matcher(),
        })
    }

    pub(crate) fn is_match(&self, value: &str) -> bool {
        self.matcher.is_match(value)
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// The `[routes.match]` table: every given field must match.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Match {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cluster: Option<Pattern>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) service: Option<Pattern>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<Pattern>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) severity: Option<Pattern>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) account: Option<Pattern>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) region: Option<Pattern>,
    /// Matched against the alert's `group_key` (`ecs_task:<cluster>:<group>:<class>`, ...), so a
    /// failure class can have its own room: `group_key = "*:oom"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) group_key: Option<Pattern>,
    /// `tags.<key> = "<glob>"`: each named tag must be present and match.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) tags: BTreeMap<String, Pattern>,
}

impl Match {
    pub(crate) fn matches(&self, alert: &Alert) -> bool {
        fn field(pattern: Option<&Pattern>, value: Option<&str>) -> bool {
            pattern.is_none_or(|p| p.is_match(value.unwrap_or("")))
        }
        field(self.cluster.as_ref(), alert.cluster.as_deref())
            && field(self.service.as_ref(), alert.service.as_deref())
            && field(self.kind.as_ref(), Some(alert.kind.as_str()))
            && field(self.severity.as_ref(), Some(alert.severity.as_str()))
            && field(self.account.as_ref(), alert.account.as_deref())
            && field(self.region.as_ref(), alert.region.as_deref())
            && field(self.group_key.as_ref(), Some(&alert.group_key))
            && self.tags.iter().all(|(key, pattern)| {
                alert
                    .tags
                    .as_ref()
                    .and_then(|tags| tags.get(key))
                    .is_some_and(|value| pattern.is_match(value))
            })
    }
}

/// One `[[routes]]` entry, with destination names resolved to indices into the configured destinations.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Route {
    pub(crate) name: String,
    pub(crate) destinations: Vec<String>,
    #[serde(skip)]
    pub(crate) destination_indices: Vec<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mention: Option<String>,
    #[serde(rename = "continue")]
    pub(crate) continue_: bool,
    #[serde(rename = "match")]
    pub(crate) matcher: Match,
    /// `[routes.grouping]`: `[grouping]` keys for the destinations this route chooses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) grouping: Option<GroupingOverride>,
}

/// The `[default_route]` table.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DefaultRoute {
    pub(crate) destinations: Vec<String>,
    #[serde(skip)]
    pub(crate) destination_indices: Vec<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mention: Option<String>,
    /// `[default_route.grouping]`, as a route's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) grouping: Option<GroupingOverride>,
}

/// One destination an alert goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Routed {
    /// Index into the configured destinations.
    pub(crate) destination: usize,
    /// The trusted mention text of the route that chose this destination.
    pub(crate) mention: Option<String>,
    /// The `[grouping]` keys that route overrides, if any.
    pub(crate) grouping: Option<GroupingOverride>,
}

/// All routes of a configuration.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Router {
    pub(crate) routes: Vec<Route>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) default_route: Option<DefaultRoute>,
    /// How many destinations exist, for the "no default route: everyone" rule.
    #[serde(skip)]
    pub(crate) destination_count: usize,
}

impl Router {
    /// The destinations `alert` goes to, in configuration order of first selection, each once.
    pub(crate) fn route(&self, alert: &Alert) -> Vec<Routed> {
        let mut out: Vec<Routed> = Vec::new();
        let mut add =
            |destination: usize, mention: &Option<String>, grouping: Option<GroupingOverride>| {
                if !out.iter().any(|r| r.destination == destination) {
                    out.push(Routed {
                        destination,
                        mention: mention.clone(),
                        grouping,
                    });
                }
            };
        let mut matched = false;
        for route in &self.routes {
            if route.matcher.matches(alert) {
                matched = true;
                for &d in &route.destination_indices {
                    add(d, &route.mention, route.grouping);
                }
                if !route.continue_ {
                    break;
                }
            }
        }
        if !matched {
            match &self.default_route {
                Some(default) => {
                    for &d in &default.destination_indices {
                        add(d, &default.mention, default.grouping);
                    }
                }
                None => {
                    for d in 0..self.destination_count {
                        add(d, &None, None);
                    }
                }
            }
        }
        out
    }
}

/// Checks that a `kind` or `severity` pattern can match at least one real value, so that a typo such
/// as `kind = "ecs-task"` is a start-up error instead of a route that silently never fires.
pub(crate) fn check_matches_some<'a>(
    pattern: &Pattern,
    known: impl IntoIterator<Item = &'a str> + Clone,
) -> Result<(), String> {
    if known.clone().into_iter().any(|v| pattern.is_match(v)) {
        Ok(())
    } else {
        let list: Vec<&str> = known.into_iter().collect();
        Err(format!(
            "{:?} matches none of {}",
            pattern.as_str(),
            list.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(kind: AlertKind, severity: Severity, cluster: &str, service: Option<&str>) -> Alert {
        let json = serde_json::json!({
            "schema": "failwatch.alert.v1",
            "kind": kind.as_str(),
            "severity": severity.as_str(),
            "title": "t", "summary": "s", "hint": null, "event_id": "e",
            "time": "2026-01-01T00:00:00Z",
            "account": "123456789012", "region": "eu-west-1", "partition": "aws",
            "cluster": cluster, "service": service,
            "task": null, "execution": null,
            "links": {"task": null, "task_logs": null, "service": null, "execution": null},
            "dedup_key": "d", "group_key": "g"
        });
        serde_json::from_value(json).unwrap()
    }

    fn pattern(s: &str) -> Option<Pattern> {
        Some(Pattern::new(s).unwrap())
    }

    fn route(name: &str, dests: &[usize], matcher: Match, cont: bool) -> Route {
        Route {
            name: name.into(),
            destinations: dests.iter().map(|d| format!("d{d}")).collect(),
            destination_indices: dests.to_vec(),
            mention: Some(format!("@{name}")),
            continue_: cont,
            matcher,
            grouping: None,
        }
    }

    fn router(routes: Vec<Route>, default: Option<Vec<usize>>) -> Router {
        Router {
            routes,
            default_route: default.map(|d| DefaultRoute {
                destinations: vec![],
                destination_indices: d,
                mention: None,
                grouping: None,
            }),
            destination_count: 4,
        }
    }

    #[test]
    fn first_match_wins_without_continue() {
        let r = router(
            vec![
                route(
                    "prod",
                    &[0],
                    Match {
                        cluster: pattern("prod-*"),
                        ..Match::default()
                    },
                    false,
                ),
                route("all", &[1], Match::default(), false),
            ],
            None,
        );
        let got = r.route(&alert(
            AlertKind::EcsTask,
            Severity::Critical,
            "prod-eu",
            Some("api"),
        ));
        assert_eq!(
            got,
            vec![Routed {
                destination: 0,
                mention: Some("@prod".into()),
                grouping: None
            }]
        );
        let got = r.route(&alert(
            AlertKind::EcsTask,
            Severity::Critical,
            "staging",
            None,
        ));
        assert_eq!(got.iter().map(|r| r.destination).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn continue_collects_later_routes_and_each_destination_once() {
        let r = router(
            vec![
                route(
                    "critical",
                    &[0, 1],
                    Match {
                        severity: pattern("critical"),
                        ..Match::default()
                    },
                    true,
                ),
                route("everything", &[1, 2], Match::default(), false),
                route("never-reached", &[3], Match::default(), false),
            ],
            None,
        );
        let got = r.route(&alert(AlertKind::EcsTask, Severity::Critical, "c", None));
        assert_eq!(
            got,
            vec![
                Routed {
                    destination: 0,
                    mention: Some("@critical".into()),
                    grouping: None
                },
                Routed {
                    destination: 1,
                    mention: Some("@critical".into()),
                    grouping: None
                },
                Routed {
                    destination: 2,
                    mention: Some("@everything".into()),
                    grouping: None
                },
            ]
        );
    }

    #[test]
    fn unmatched_alerts_use_the_default_route_or_reach_everyone() {
        let only_sfn = || {
            route(
                "sfn",
                &[3],
                Match {
                    kind: pattern("sfn_*"),
                    ..Match::default()
                },
                false,
            )
        };
        let task = alert(AlertKind::EcsTask, Severity::Warning, "c", None);
        let with_default = router(vec![only_sfn()], Some(vec![2]));
        assert_eq!(
            with_default
                .route(&task)
                .iter()
                .map(|r| r.destination)
                .collect::<Vec<_>>(),
            [2]
        );
        let without_default = router(vec![only_sfn()], None);
        assert_eq!(
            without_default
                .route(&task)
                .iter()
                .map(|r| r.destination)
                .collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn absent_fields_match_only_a_star() {
        let m = Match {
            service: pattern("*"),
            ..Match::default()
        };
        assert!(m.matches(&alert(
            AlertKind::SfnExecution,
            Severity::Critical,
            "",
            None
        )));
        let m = Match {
            service: pattern("api-*"),
            ..Match::default()
        };
        assert!(!m.matches(&alert(
            AlertKind::SfnExecution,
            Severity::Critical,
            "",
            None
        )));
        assert!(m.matches(&alert(
            AlertKind::EcsTask,
            Severity::Critical,
            "c",
            Some("api-payments")
        )));
    }

    #[test]
    fn group_key_patterns_route_a_failure_class() {
        let oom = Match {
            service: pattern("api"),
            group_key: pattern("*:oom"),
            ..Match::default()
        };
        let mut a = alert(AlertKind::EcsTask, Severity::Critical, "prod", Some("api"));
        a.group_key = "ecs_task:prod:service:api:oom".into();
        assert!(oom.matches(&a));
        a.group_key = "ecs_task:prod:service:api:essential_exit".into();
        assert!(!oom.matches(&a));
        // The class is the last segment: a key that only contains it elsewhere does not match.
        a.group_key = "ecs_task:prod:service:oom:image_pull".into();
        assert!(!oom.matches(&a));
    }

    #[test]
    fn every_field_must_match() {
        let m = Match {
            cluster: pattern("prod-*"),
            kind: pattern("ecs_{task,service}"),
            severity: pattern("critical"),
            account: pattern("1234*"),
            region: pattern("eu-*"),
            service: None,
            group_key: None,
            tags: BTreeMap::new(),
        };
        assert!(m.matches(&alert(
            AlertKind::EcsService,
            Severity::Critical,
            "prod-1",
            None
        )));
        assert!(!m.matches(&alert(
            AlertKind::EcsDeployment,
            Severity::Critical,
            "prod-1",
            None
        )));
        assert!(!m.matches(&alert(
            AlertKind::EcsTask,
            Severity::Warning,
            "prod-1",
            None
        )));
    }

    #[test]
    fn tag_patterns_need_the_tag_and_a_match() {
        let m = Match {
            tags: [("team".to_owned(), Pattern::new("pay*").unwrap())].into(),
            ..Match::default()
        };
        let mut a = alert(AlertKind::EcsTask, Severity::Critical, "c", Some("api"));
        assert!(!m.matches(&a), "an alert without tags");
        a.tags = Some([("owner".to_owned(), "payments".to_owned())].into());
        assert!(!m.matches(&a), "tags without the key");
        a.tags = Some([("team".to_owned(), "search".to_owned())].into());
        assert!(!m.matches(&a), "a value that does not match");
        a.tags = Some([("team".to_owned(), "payments".to_owned())].into());
        assert!(m.matches(&a));
        assert!(Match::default().matches(&a), "no tag pattern, any tags");
    }

    #[test]
    fn typos_in_kind_are_caught() {
        let kinds = KINDS.iter().map(|k| k.as_str());
        let err =
            check_matches_some(&Pattern::new("ecs-task").unwrap(), kinds.clone()).unwrap_err();
        assert!(err.contains("matches none of ecs_task"), "{err}");
        check_matches_some(&Pattern::new("ecs_*").unwrap(), kinds).unwrap();
        assert!(Pattern::new("prod-[").is_err());
    }
}
