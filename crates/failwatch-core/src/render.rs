//! Rendering an alert as the exact JSON body each chat service accepts.
//!
//! This module owns what every renderer shares: the [`Target`] names, the facts an alert shows and in
//! which order, severity words and emoji, which console links may become buttons, and the progressive
//! shortening that keeps every payload inside its service's limits. Each service's payload model lives
//! in its own submodule; escaping and truncation of workload text live in [`crate::text`].
//!
//! Every renderer builds its payload at the most generous [`Level`] first and re-renders at the next,
//! tighter level while the serialised payload breaks a limit. The last level caps every field so
//! tightly that it fits by construction, so `render` always returns a postable payload and never fails.

mod discord;
mod enrichment;
mod google_chat;
mod group;
mod slack;
mod teams;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::{Alert, Digest, Links, Recovery, Severity};

/// Where a rendered payload goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// The generic webhook: the `failwatch.alert.v1` document itself.
    Json,
    /// A Google Chat incoming webhook.
    GoogleChat,
    /// A Slack incoming webhook (Block Kit).
    Slack,
    /// A Microsoft Teams Workflows (Power Automate) webhook, carrying an Adaptive Card.
    Teams,
    /// A Discord webhook.
    Discord,
}

impl Target {
    /// Every target, in the order documentation lists them.
    pub const ALL: [Target; 5] = [
        Target::Json,
        Target::GoogleChat,
        Target::Slack,
        Target::Teams,
        Target::Discord,
    ];

    /// The names of [`Target::ALL`], in the same order: the `--to` values of `failwatch render`.
    pub const NAMES: [&'static str; 5] = ["json", "google-chat", "slack", "teams", "discord"];

    /// The stable kebab-case name used on the command line, in configuration and in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Json => "json",
            Target::GoogleChat => "google-chat",
            Target::Slack => "slack",
            Target::Teams => "teams",
            Target::Discord => "discord",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Target {
    type Err = UnknownTarget;

    /// Accepts the names [`Target::as_str`] returns, plus `webhook` for [`Target::Json`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" | "webhook" => Ok(Target::Json),
            "google-chat" => Ok(Target::GoogleChat),
            "slack" => Ok(Target::Slack),
            "teams" => Ok(Target::Teams),
            "discord" => Ok(Target::Discord),
            other => Err(UnknownTarget(other.to_owned())),
        }
    }
}

impl serde::Serialize for Target {
    /// Writes [`Target::as_str`].
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Target {
    /// Reads any name [`Target::from_str`] accepts; an unknown one is an error listing the names.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A target name that is not one of `json`, `webhook`, `google-chat`, `slack`, `teams`, `discord`.
#[derive(Debug, thiserror::Error)]
#[error("unknown target {0:?}: expected one of json, webhook, google-chat, slack, teams, discord")]
pub struct UnknownTarget(pub String);

/// The longest mention kept. Real mentions are a few dozen characters; Discord's `content` (2,000) and
/// Google Chat's `text` (4,096) must still hold the title after it.
const MAX_MENTION_CHARS: usize = 500;

/// Per-route rendering choices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// A configured, trusted mention added where the service notifies, copied verbatim: for example
    /// `<!subteam^S0123>` or `<@U0123>` for Slack, `<users/123456789>` or `<users/all>` for Google Chat,
    /// `<@123>` (user) or `<@&123>` (role) for Discord, and for Teams a user principal name such as
    /// `oncall@example.com`. It is never escaped, because it comes from the operator's configuration,
    /// not from the workload.
    pub mention: Option<String>,
}

impl RenderOptions {
    /// The mention, ignoring an empty or blank one, and cut to [`MAX_MENTION_CHARS`] so that even a
    /// misconfigured one cannot push a payload past its limits.
    fn mention(&self) -> Option<&str> {
        self.mention
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(|m| crate::text::cut_plain(m, MAX_MENTION_CHARS, crate::text::Unit::Chars))
    }
}

/// Renders one alert as the exact compact JSON body to POST to `target`.
///
/// The body always fits the service's documented limits, however long the workload's text.
pub fn render(alert: &Alert, target: Target, opts: &RenderOptions) -> String {
    match target {
        Target::Json => alert.to_json(),
        Target::GoogleChat => google_chat::render(alert, opts),
        Target::Slack => slack::render(alert, opts),
        Target::Teams => teams::render(alert, opts),
        Target::Discord => discord::render(alert, opts),
    }
}

/// Renders a digest (`failwatch.digest.v1`) as the exact compact JSON body to POST to `target`: for
/// [`Target::Json`] the document itself, for a chat service one message that lists the first folded
/// alerts, counts the rest and tallies their reasons and exit codes. In Google Chat it replies in the
/// group's thread (`thread.threadKey` names the group's origin and `group_key`, as for its alerts).
///
/// The body always fits the service's documented limits, however long the alerts' text.
pub fn render_digest(digest: &Digest, target: Target, opts: &RenderOptions) -> String {
    let build = |level| group::digest(digest, level);
    render_notice(build, || digest.to_json(), target, opts)
}

/// Renders a recovery (`failwatch.recovery.v1`) as the exact compact JSON body to POST to `target`:
/// for [`Target::Json`] the document itself, for a chat service a short message in the service's
/// "resolved" colour, in Google Chat a reply in the group's thread.
///
/// The body always fits the service's documented limits.
pub fn render_recovery(recovery: &Recovery, target: Target, opts: &RenderOptions) -> String {
    let build = |level| group::recovery(recovery, level);
    render_notice(build, || recovery.to_json(), target, opts)
}

/// Renders the notice `build` makes at each level for `target`; `document` is the generic webhook's.
fn render_notice<'a>(
    build: impl Fn(Level) -> group::Notice<'a>,
    document: impl FnOnce() -> String,
    target: Target,
    opts: &RenderOptions,
) -> String {
    use group::shrink_to_bytes;
    match target {
        Target::Json => document(),
        Target::GoogleChat => shrink_to_bytes(
            build,
            |n, level| google_chat::notice_json(n, opts, level),
            google_chat::MAX_BYTES,
        ),
        Target::Slack => shrink_to_bytes(
            build,
            |n, level| slack::notice_json(n, opts, level),
            slack::MAX_BYTES,
        ),
        Target::Teams => shrink_to_bytes(
            build,
            |n, level| teams::notice_json(n, opts, level),
            teams::MAX_BYTES,
        ),
        Target::Discord => discord::render_notice(build, opts),
    }
}

/// How generously a renderer may quote: the first level is for ordinary alerts, each next one is used
/// only when the payload at the previous one broke a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Level {
    /// The cap, in the service's unit, for long free text (summary, reasons, causes, containers).
    long: usize,
    /// The cap for short values (names, ids, codes).
    short: usize,
    /// How many containers are listed by name before "and N more".
    containers: usize,
    /// Whether the hint is shown.
    hint: bool,
    /// How many containers' log sections are shown.
    tails: usize,
    /// How many of a container's newest log lines are shown.
    tail_lines: usize,
    /// The cap, in characters, for one log line.
    tail_line: usize,
    /// How many of a digest's folded alerts are listed one by one before "and N more".
    listed: usize,
}

/// The levels, most generous first. The last one keeps a payload with every fact present well below the
/// smallest byte limit (Teams, 28,000 bytes) even when every character takes its worst-case escape.
const LEVELS: [Level; 4] = [
    Level {
        long: 3000,
        short: 256,
        containers: 10,
        hint: true,
        tails: 3,
        tail_lines: 50,
        tail_line: 500,
        listed: 10,
    },
    Level {
        long: 1000,
        short: 200,
        containers: 10,
        hint: true,
        tails: 3,
        tail_lines: 20,
        tail_line: 300,
        listed: 10,
    },
    Level {
        long: 300,
        short: 100,
        containers: 5,
        hint: true,
        tails: 2,
        tail_lines: 10,
        tail_line: 200,
        listed: 5,
    },
    Level {
        long: 100,
        short: 60,
        containers: 2,
        hint: false,
        tails: 1,
        tail_lines: 5,
        tail_line: 100,
        listed: 3,
    },
];

/// Builds a payload at each level in turn and returns the first that `fits`, or the last level's.
fn shrink<T>(mut build: impl FnMut(Level) -> T, fits: impl Fn(&T) -> bool) -> T {
    let (last, tighter) = LEVELS.split_last().unwrap_or((&LEVELS[0], &[]));
    for level in tighter {
        let payload = build(*level);
        if fits(&payload) {
            return payload;
        }
    }
    build(*last)
}

/// Serialises a payload model as compact JSON. The models hold only strings, integers, booleans,
/// options and vectors, which serde_json cannot fail to write.
fn to_json<T: serde::Serialize>(payload: &T) -> String {
    serde_json::to_string(payload).unwrap_or_default()
}

/// Severity as a word.
fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "Critical",
        Severity::Warning => "Warning",
    }
}

/// Severity as an emoji, for services without colour.
fn severity_emoji(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "🚨",
        Severity::Warning => "⚠️",
    }
}

/// Severity as an RGB colour: red for critical, amber for warning.
fn severity_rgb(severity: Severity) -> u32 {
    match severity {
        Severity::Critical => 0xD3_2F_2F,
        Severity::Warning => 0xF9_A8_25,
    }
}

/// The trusted one-line heading every renderer starts with, e.g. "🚨 Critical · ECS task".
fn heading(alert: &Alert) -> String {
    format!(
        "{} {} · {}",
        severity_emoji(alert.severity),
        severity_word(alert.severity),
        alert.kind.label()
    )
}

/// One labelled value of an alert. Labels are ours; values are workload text and must be escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fact<'a> {
    label: &'static str,
    value: Cow<'a, str>,
    /// Free text that may run long and span lines, as opposed to a one-line name or code.
    long: bool,
}

/// The facts an alert shows besides its summary, in display order, omitting absent ones and those the
/// summary's facts already state ([`crate::Summary::states`]: the Task fact `abc (family:3)` states both the
/// task id and its definition), so nothing is said twice.
fn facts<'a>(alert: &'a Alert, level: Level) -> Vec<Fact<'a>> {
    let summary = &alert.summary;
    let mut facts = Vec::with_capacity(16);
    let mut short = |label: &'static str, value: Option<Cow<'a, str>>| {
        if let Some(value) = value.filter(|v| !blank(v.trim()) && !summary.states(v.trim())) {
            facts.push(Fact {
                label,
                value: match value {
                    Cow::Borrowed(v) => Cow::Borrowed(v.trim()),
                    Cow::Owned(v) => Cow::Owned(v.trim().to_owned()),
                },
                long: false,
            });
        }
    };
    let b = |value: Option<&'a str>| value.map(Cow::Borrowed);
    short("Cluster", b(alert.cluster.as_deref()));
    short("Service", b(alert.service.as_deref()));
    if let Some(task) = &alert.task {
        short("Task", b(Some(task.id.as_str())));
        short("Task definition", b(task.definition.as_deref()));
        short("Launch type", b(task.launch_type.as_deref()));
        short("Stop code", b(task.stop_code.as_deref()));
    }
    if let Some(execution) = &alert.execution {
        short("Execution", b(execution.name.as_deref()));
        short("State machine", b(execution.state_machine.as_deref()));
        short("Status", b(execution.status.as_deref()));
        short("Error", b(execution.error.as_deref()));
        let state = execution.failed_state.as_ref();
        short(
            "Failed state",
            state.map(|s| Cow::Owned(enrichment::failed_state(s))),
        );
    }
    short("Account", b(alert.account.as_deref()));
    short("Region", b(alert.region.as_deref()));
    short("Time", b(Some(alert.time.as_str())));
    let tags = alert.tags.as_ref().and_then(enrichment::tags);
    short("Tags", tags.map(Cow::Owned));

    // `look`: whether the summary may already hold the value. Long text counts as said when any part
    // of the summary contains it ([`crate::Summary::mentions`]).
    let mut long = |label: &'static str, value: Option<Cow<'a, str>>, look: bool| {
        let stated = |v: &str| look && summary.mentions(v);
        if let Some(value) = value.filter(|v| !blank(v) && !stated(v.trim())) {
            facts.push(Fact {
                label,
                value,
                long: true,
            });
        }
    };
    if let Some(task) = &alert.task {
        long(
            "Stopped reason",
            task.stopped_reason.as_deref().map(Cow::Borrowed),
            true,
        );
        // Listed in our own format, which a summary never repeats verbatim: no need to look.
        long("Containers", containers(task, level).map(Cow::Owned), false);
    }
    // A Step Functions cause is never quoted from `execution.cause`: its kind module put what is worth
    // reading into the summary (a text cause, or the facts of a JSON one) with anything it must not
    // show (a `States.*` cause's quoted state input) left out.
    facts
}

/// Whether text would show as nothing: only whitespace and control characters (which escaping turns
/// into spaces). Services reject blank fields (Discord answers 400 to an empty field value).
fn blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || c.is_control())
}

/// The containers of a task, one per line, e.g. "app: exit 137 (OutOfMemoryError: …)", at most
/// `level.containers` of them and then how many more there are.
fn containers(task: &crate::TaskInfo, level: Level) -> Option<String> {
    use std::fmt::Write as _;
    if task.containers.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (i, c) in task.containers.iter().take(level.containers).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        // Writing to a String cannot fail.
        let _ = match c.exit_code {
            Some(code) => write!(out, "{}: exit {code}", c.name),
            // The document does not say whether the task ran: a reason other than a start failure
            // (`CannotInspectContainerError`) says the container got that far.
            None => write!(
                out,
                "{}: {}",
                c.name,
                crate::kind::ecs_task::no_exit_code(
                    task.stop_code.as_deref() == Some("TaskFailedToStart"),
                    c.reason.as_deref(),
                    c.reason.is_some(),
                )
            ),
        };
        if let Some(reason) = c.reason.as_deref().filter(|r| !r.is_empty()) {
            let _ = write!(out, " ({reason})");
        }
    }
    let more = task.containers.len().saturating_sub(level.containers);
    if more > 0 {
        let _ = write!(out, "\nand {more} more");
    }
    Some(out)
}

/// A console link shown as a button, with our own label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Button<'a> {
    /// A stable identifier, e.g. for Slack's `action_id`.
    id: &'static str,
    label: &'static str,
    url: &'a str,
}

/// The alert's console links that are safe to put in a button or markdown link, in display order.
fn buttons(alert: &Alert) -> Vec<Button<'_>> {
    link_buttons(&alert.links)
}

/// The console links that are safe to put in a button or markdown link, in display order.
fn link_buttons(links: &Links) -> Vec<Button<'_>> {
    [
        ("failwatch-open-task", "Open task", links.task.as_deref()),
        (
            "failwatch-task-logs",
            "Task logs",
            links.task_logs.as_deref(),
        ),
        (
            "failwatch-open-service",
            "Open service",
            links.service.as_deref(),
        ),
        (
            "failwatch-open-execution",
            "Open execution",
            links.execution.as_deref(),
        ),
        (
            "failwatch-open-child-execution",
            "Open child execution",
            links.child_execution.as_deref(),
        ),
        (
            "failwatch-open-batch-job",
            "Open job",
            links.batch_job.as_deref(),
        ),
        (
            "failwatch-batch-job-logs",
            "Job logs",
            links.batch_job_logs.as_deref(),
        ),
        (
            "failwatch-open-glue-job-run",
            "Open job run",
            links.glue_job_run.as_deref(),
        ),
    ]
    .into_iter()
    .chain(
        RELATED
            .iter()
            .zip(&links.related)
            .map(|((id, label), url)| (*id, *label, Some(url.as_str()))),
    )
    .filter_map(|(id, label, url)| {
        url.filter(|u| safe_url(u))
            .map(|url| Button { id, label, url })
    })
    .collect()
}

/// Button ids and labels for [`crate::Links::related`], one per link kept.
const RELATED: [(&str, &str); crate::Links::MAX_RELATED] = [
    ("failwatch-related-1", "Related link"),
    ("failwatch-related-2", "Related link 2"),
    ("failwatch-related-3", "Related link 3"),
];

/// Whether a URL may be placed in a button or a markdown link: https, printable ASCII, no characters
/// that end a markdown or Slack link, and short enough for every service (Slack buttons take 3000).
/// Links are built from ARNs, which a body without an envelope could fill with anything.
fn safe_url(url: &str) -> bool {
    url.starts_with("https://")
        && url.len() <= 2000
        && url.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'"' | b'<' | b'>' | b'|' | b'(' | b')' | b'\\' | b'[' | b']' | b'`'
                )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names_round_trip() {
        for (target, name) in Target::ALL.into_iter().zip(Target::NAMES) {
            assert_eq!(target.as_str(), name);
            assert_eq!(target.as_str().parse::<Target>().ok(), Some(target));
            let json = serde_json::to_string(&target).expect("serialises");
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Target>(&json).ok(), Some(target));
        }
        assert_eq!(
            serde_json::from_str::<Target>("\"webhook\"").ok(),
            Some(Target::Json)
        );
        assert!(serde_json::from_str::<Target>("\"msteams\"").is_err());
        assert_eq!("webhook".parse::<Target>().ok(), Some(Target::Json));
        assert!("msteams".parse::<Target>().is_err());
    }

    #[test]
    fn unsafe_urls_are_not_buttons() {
        assert!(safe_url(
            "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/a/tasks/b/configuration?region=eu-west-1"
        ));
        assert!(!safe_url("http://example.com"));
        assert!(!safe_url("https://x.example/a)b"));
        assert!(!safe_url("https://x.example/a b"));
        assert!(!safe_url("javascript:alert(1)"));
    }
}
