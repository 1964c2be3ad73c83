//! Custom notifications of Amazon Q Developer in chat applications (formerly AWS Chatbot): the
//! `{"version": "1.0", "source": "custom", "content": {...}, "metadata": {...}}` documents that
//! applications, Lambda functions and state machines (the Slack seed's) publish to an SNS topic for
//! Chatbot to post. failwatch passes them through as alerts of their own kind, so it can take Chatbot's
//! place on an existing topic. They are no EventBridge events: [`mod@crate::decode`] recognises the
//! shape by `source: "custom"` and calls [`decode`].
//!
//! The schema (AWS's "Custom notifications" page): `version` (`1.0`) and `source` (`custom`) mark it;
//! `content.description` is required; `id`, `content.textType` (only `client-markdown`),
//! `content.title`, `content.nextSteps`, `content.keywords` and all of `metadata` (`threadId`, `summary`,
//! `eventType`, `relatedResources`, `additionalContext`, `enableCustomActions`) are optional. failwatch
//! does not check `version` (publishers write it as a string or a number) and ignores
//! `enableCustomActions`: it has no custom actions.
//!
//! Classification: always an alert, critical unless the title, `eventType` or `keywords` report a
//! success, a recovery or a warning and no failure; then a warning, since failwatch has no info level.
//! The description's markdown is workload text like any other, so the renderers escape it: markup shows
//! as written and never as formatting, links or mentions. The title is `content.title` (else
//! `metadata.summary`, else the description's first line); the summary holds the description, then the
//! next steps, event type, keywords and related resources as facts. The thread id is the group key, so
//! what Chatbot threads together threads together here; the dedup key is the `id`, else a hash of the
//! content. Links: the console pages of the ECS tasks, ECS services and Step Functions executions among
//! the related resources, then AWS console URLs written in the texts, at most [`Links::MAX_RELATED`];
//! region and account come from the related resources' ARNs.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use crate::classify::{Decision, base_alert, rfc3339};
use crate::decode::{
    Arn, CUSTOM_NOTIFICATION, DecodeError, EventMeta, Fallback, Shape, ecs_service_parts,
    ecs_task_parts, fnv1a64,
};
use crate::hint::FailureClass;
use crate::links::{self, ServicePage, TaskPage};
use crate::summary::{Role, Summary};
use crate::{Alert, AlertKind, Links, Severity};

/// What it is, in words, for headings.
pub(crate) const LABEL: &str = "Custom notification";

/// An Amazon Q Developer in chat applications (AWS Chatbot) custom notification. Every text is the
/// publisher's, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomNotificationEvent {
    /// Where and when it happened: the id is `id` (else the SNS or SQS message id, else a hash of the
    /// body), the time when SNS published it (else when it was received), region and account from the
    /// related resources' ARNs.
    pub meta: EventMeta,
    /// `id`, the publisher's unique event id; `None` when absent or empty.
    pub id: Option<String>,
    /// `content.textType`, e.g. `client-markdown`.
    pub text_type: Option<String>,
    /// `content.title`; `None` when absent or blank.
    pub title: Option<String>,
    /// `content.description`, never blank.
    pub description: String,
    /// `content.nextSteps`, blank entries left out.
    pub next_steps: Vec<String>,
    /// `content.keywords`, blank entries left out.
    pub keywords: Vec<String>,
    /// `metadata.threadId`: notifications with the same one are threaded together.
    pub thread_id: Option<String>,
    /// `metadata.summary`.
    pub summary: Option<String>,
    /// `metadata.eventType`, e.g. `StepFunctionsFailure`.
    pub event_type: Option<String>,
    /// `metadata.relatedResources`, usually ARNs; blank entries left out.
    pub related_resources: Vec<String>,
    /// `metadata.additionalContext`, sorted by key; values that are not strings as JSON text.
    pub additional_context: Vec<(String, String)>,
}

/// `content` as written.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentWire {
    text_type: Option<String>,
    title: Option<String>,
    description: Option<String>,
    next_steps: Option<Vec<String>>,
    keywords: Option<Vec<String>>,
}

/// `metadata` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetadataWire {
    thread_id: Option<String>,
    summary: Option<String>,
    event_type: Option<String>,
    related_resources: Option<Vec<String>>,
    additional_context: Option<BTreeMap<String, serde_json::Value>>,
}

/// Decodes a custom notification from its `id` and its `content` and `metadata` objects (each as
/// raw JSON, `None` when absent or `null`).
///
/// # Errors
///
/// `content` or `content.description` missing or blank; a value of the wrong type (`content.title` a
/// number, `relatedResources` not a list of strings, ...).
pub(crate) fn decode(
    id: Option<String>,
    content: Option<&RawValue>,
    metadata: Option<&RawValue>,
    fallback: &Fallback<'_>,
) -> Result<CustomNotificationEvent, DecodeError> {
    let malformed = |source: serde_json::Error| DecodeError::Malformed {
        what: CUSTOM_NOTIFICATION,
        source: source.into(),
    };
    let missing = |field| DecodeError::MissingField {
        what: CUSTOM_NOTIFICATION,
        field,
    };
    let content: ContentWire =
        serde_json::from_str(content.ok_or_else(|| missing("content"))?.get())
            .map_err(malformed)?;
    let description =
        non_blank(content.description).ok_or_else(|| missing("content.description"))?;
    let metadata: MetadataWire = metadata
        .map(|raw| serde_json::from_str(raw.get()))
        .transpose()
        .map_err(malformed)?
        .unwrap_or_default();
    let related_resources = non_blank_entries(metadata.related_resources);
    let arns: Vec<Option<&str>> = related_resources.iter().map(|r| Some(r.as_str())).collect();
    let id = non_blank(id);
    let meta = fallback.meta_with_id(id.clone(), Shape::CustomNotification, &arns);
    let additional_context = metadata
        .additional_context
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => (key, text),
            other => (key, other.to_string()),
        })
        .collect();
    let mut event = CustomNotificationEvent {
        meta,
        id,
        text_type: non_blank(content.text_type),
        title: non_blank(content.title),
        description,
        next_steps: non_blank_entries(content.next_steps),
        keywords: non_blank_entries(content.keywords),
        thread_id: non_blank(metadata.thread_id),
        summary: non_blank(metadata.summary),
        event_type: non_blank(metadata.event_type),
        related_resources,
        additional_context,
    };
    // Without an ARN, the region of the first console URL the texts link to: the alert's region must
    // agree with its links.
    if event.meta.region.is_none() {
        let texts = std::iter::once(event.description.as_str())
            .chain(event.next_steps.iter().map(String::as_str));
        if let Some(region) = texts
            .flat_map(console_urls)
            .find_map(|url| console_region(&url).map(str::to_owned))
        {
            event.meta.partition = crate::decode::partition_of_region(&region).to_owned();
            event.meta.region = Some(region);
        }
    }
    Ok(event)
}

/// The region of a console URL's host, `<region>.console.aws.amazon.com`.
fn console_region(url: &str) -> Option<&str> {
    let host = url
        .strip_prefix("https://")?
        .split(['/', '?', '#'])
        .next()?;
    let (region, domain) = host.split_once('.')?;
    (CONSOLE_DOMAINS.contains(&domain) && !region.is_empty()).then_some(region)
}

/// `text` unless it is absent or only whitespace.
fn non_blank(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

/// The entries of a list that are not blank.
fn non_blank_entries(list: Option<Vec<String>>) -> Vec<String> {
    let mut list = list.unwrap_or_default();
    list.retain(|t| !t.trim().is_empty());
    list
}

/// Classifies a custom notification: always an alert (see the module docs for its severity).
pub(crate) fn classify(e: &CustomNotificationEvent) -> Decision {
    let time = rfc3339(&e.meta);
    let (title, summary_is_title) = title(e);
    let summary = summary(e, summary_is_title, &time);
    let dedup = dedup_part(e);
    let group_key = format!(
        "custom_notification:{}",
        e.thread_id.as_deref().unwrap_or(&dedup)
    );
    Decision::Alert(Box::new(Alert {
        links: notification_links(e),
        dedup_key: format!("custom_notification:{dedup}"),
        group_key,
        ..base_alert(
            AlertKind::CustomNotification,
            severity(e),
            FailureClass::Other,
            &e.meta,
            title,
            summary,
            time,
        )
    }))
}

/// The title on one line: `content.title`, else `metadata.summary` (and whether it was that), else
/// the description's first non-blank line.
fn title(e: &CustomNotificationEvent) -> (String, bool) {
    let one_line = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(title) = e.title.as_deref() {
        return (one_line(title), false);
    }
    if let Some(summary) = e.summary.as_deref() {
        return (one_line(summary), true);
    }
    let first = e
        .description
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default();
    (one_line(first), false)
}

/// The description, then the notification's facts, the time and the region.
fn summary(e: &CustomNotificationEvent, summary_is_title: bool, time: &str) -> Summary {
    let mut summary = Summary::new();
    summary.push_text(&e.description);
    summary.push_labelled(Role::Detail, "Next steps", Some(&e.next_steps.join("; ")));
    summary.push(Role::Event, e.event_type.as_deref());
    summary.push_labelled(Role::Detail, "Keywords", Some(&e.keywords.join(", ")));
    if !summary_is_title {
        summary.push_labelled(Role::Detail, "Summary", e.summary.as_deref());
    }
    summary.push_labelled(
        Role::Detail,
        "Resources",
        Some(&e.related_resources.join(", ")),
    );
    summary.push(Role::Time, Some(time));
    summary.push(Role::Region, e.meta.region.as_deref());
    summary
}

/// Words that say a notification reports a failure; they win over every calm word.
const FAILURE_WORDS: &[&str] = &[
    "fail",
    "failed",
    "failing",
    "failure",
    "failures",
    "error",
    "errors",
    "errored",
    "critical",
    "crash",
    "crashed",
    "down",
    "outage",
    "alarm",
    "timeout",
    "aborted",
    "unhealthy",
];
/// Words that say a notification reports a success, a recovery or only a warning.
const CALM_WORDS: &[&str] = &[
    "succeeded",
    "success",
    "successful",
    "recovered",
    "recovery",
    "resolved",
    "ok",
    "completed",
    "healthy",
    "passed",
    "warning",
    "warn",
];
/// Emoji (and their Slack short codes) that say a title reports a failure.
const FAILURE_EMOJI: &[&str] = &["❌", ":x:", "🚨", ":rotating_light:"];
/// Emoji (and their Slack short codes) that say a title reports a success or a warning.
const CALM_EMOJI: &[&str] = &[
    "✅",
    ":white_check_mark:",
    ":heavy_check_mark:",
    "⚠️",
    ":warning:",
];

/// Critical unless the title, event type or keywords say success, recovery or warning and nothing of
/// a failure. The description is not read: long text mentions failures in passing ("no errors").
fn severity(e: &CustomNotificationEvent) -> Severity {
    let texts = || {
        e.title
            .iter()
            .chain(&e.event_type)
            .chain(&e.keywords)
            .map(String::as_str)
    };
    let says = |word_list: &[&str], emoji: &[&str]| {
        texts()
            .flat_map(words)
            .any(|w| word_list.contains(&w.as_str()))
            || e.title
                .as_deref()
                .is_some_and(|t| emoji.iter().any(|e| t.contains(e)))
    };
    if !says(FAILURE_WORDS, FAILURE_EMOJI) && says(CALM_WORDS, CALM_EMOJI) {
        Severity::Warning
    } else {
        Severity::Critical
    }
}

/// The lowercase words of a text, split at anything but letters and digits and inside camelCase
/// (`StepFunctionsFailure` is `step`, `functions`, `failure`).
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        let boundary = !c.is_alphanumeric() || (previous_lower && c.is_uppercase());
        if boundary && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The dedup part of the keys: the `id`, else a hash of what the notification says (not of the
/// body, whose envelope differs from one delivery to the next).
fn dedup_part(e: &CustomNotificationEvent) -> String {
    if let Some(id) = &e.id {
        return id.clone();
    }
    let mut stable = String::with_capacity(e.description.len() + 256);
    let parts = e
        .title
        .iter()
        .chain(std::iter::once(&e.description))
        .chain(&e.next_steps)
        .chain(&e.keywords)
        .chain(&e.thread_id)
        .chain(&e.summary)
        .chain(&e.event_type)
        .chain(&e.related_resources);
    for part in parts {
        stable.push_str(part);
        // A separator no text holds, so that moving words between fields changes the hash.
        stable.push('\0');
    }
    format!("content:{:016x}", fnv1a64(stable.as_bytes()))
}

/// Console links for the related resources failwatch can link, then AWS console URLs written in
/// the description, the next steps and the additional context; each once, at most
/// [`Links::MAX_RELATED`].
fn notification_links(e: &CustomNotificationEvent) -> Links {
    let texts = std::iter::once(&e.description)
        .chain(&e.next_steps)
        .chain(e.additional_context.iter().map(|(_, value)| value));
    let candidates = e
        .related_resources
        .iter()
        .filter_map(|resource| resource_link(resource))
        .chain(texts.flat_map(|text| console_urls(text)));
    let mut related: Vec<String> = Vec::with_capacity(Links::MAX_RELATED);
    for url in candidates {
        if related.len() == Links::MAX_RELATED {
            break;
        }
        if !related.contains(&url) {
            related.push(url);
        }
    }
    Links {
        related,
        ..Links::default()
    }
}

/// The console page of a related resource: an ECS task (long ARN format, which names the cluster),
/// an ECS service (likewise) or a Step Functions execution; `None` for anything else.
fn resource_link(resource: &str) -> Option<String> {
    let arn = Arn::parse(resource)?;
    let region = arn.region()?;
    match arn.service {
        "ecs" => {
            if let Some((Some(cluster), id)) = ecs_task_parts(resource) {
                links::ecs_task(arn.partition, region, cluster, id, TaskPage::Configuration)
            } else if let Some((Some(cluster), name)) = ecs_service_parts(resource) {
                links::ecs_service(arn.partition, region, cluster, name, ServicePage::Health)
            } else {
                None
            }
        }
        "states" if arn.resource.starts_with("execution:") => {
            links::sfn_execution(arn.partition, region, resource)
        }
        _ => None,
    }
}

/// The console hosts of the partitions that have a public console; a region's host is a subdomain.
const CONSOLE_DOMAINS: [&str; 3] = [
    "console.aws.amazon.com",
    "console.amazonaws.cn",
    "console.amazonaws-us-gov.com",
];

/// The AWS console URLs written in a text (bare, in a markdown link or in a Slack `<url|label>`),
/// each as the URL parser writes it. A URL ends at whitespace or at a character that closes one of
/// those forms; trailing sentence punctuation is not part of it.
fn console_urls(text: &str) -> impl Iterator<Item = String> + '_ {
    text.match_indices("https://").filter_map(|(start, _)| {
        let rest = &text[start..];
        let end = rest
            .find(|c: char| {
                c.is_whitespace()
                    || matches!(
                        c,
                        '<' | '>'
                            | '"'
                            | '\''
                            | '('
                            | ')'
                            | '['
                            | ']'
                            | '{'
                            | '}'
                            | '|'
                            | '`'
                            | '\\'
                    )
            })
            .unwrap_or(rest.len());
        let candidate = rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', '*', '_', '~']);
        console_url(candidate)
    })
}

/// `candidate` as a URL when it is an https URL on an AWS console host, without credentials or a
/// port (which no console link has, and which could make a link point elsewhere than it reads).
fn console_url(candidate: &str) -> Option<String> {
    let url = Url::parse(candidate).ok()?;
    let host = url.host_str()?;
    let console = CONSOLE_DOMAINS.iter().any(|domain| {
        host == *domain
            || host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.ends_with('.'))
    });
    (url.scheme() == "https"
        && console
        && url.username().is_empty()
        && url.password().is_none()
        && url.port().is_none())
    .then(|| url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_at_punctuation_and_inside_camel_case() {
        assert_eq!(
            words("StepFunctionsFailure: run-42 OK"),
            ["step", "functions", "failure", "run", "42", "ok"]
        );
        assert_eq!(words("SUCCEEDED"), ["succeeded"]);
        assert_eq!(words(""), Vec::<String>::new());
    }

    #[test]
    fn only_console_hosts_over_https_become_links() {
        let found: Vec<String> = console_urls(
            "see [the task](https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/a/tasks/b?region=us-east-1), \
             <https://console.amazonaws.cn/states/home|china>, https://console.aws.amazon.com/cloudwatch/. \
             Not: https://console.aws.amazon.com.evil.example/x https://evil.example/console.aws.amazon.com \
             https://user@us-east-1.console.aws.amazon.com/x https://us-east-1.console.aws.amazon.com:8443/x \
             http://console.aws.amazon.com/x https://notconsole.aws.amazon.com/x",
        )
        .collect();
        assert_eq!(
            found,
            [
                "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/a/tasks/b?region=us-east-1",
                "https://console.amazonaws.cn/states/home",
                "https://console.aws.amazon.com/cloudwatch/",
            ]
        );
    }

    #[test]
    fn related_resources_link_tasks_services_and_executions_only() {
        let task = resource_link("arn:aws:ecs:eu-west-1:111122223333:task/prod/abc123");
        assert_eq!(
            task.as_deref(),
            Some(
                "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/abc123/configuration?region=eu-west-1"
            )
        );
        let service = resource_link("arn:aws:ecs:eu-west-1:111122223333:service/prod/api");
        assert!(service.is_some_and(|s| s.ends_with("/services/api/health?region=eu-west-1")));
        let execution =
            resource_link("arn:aws:states:us-east-1:111122223333:execution:orders:run-42");
        assert!(execution.is_some_and(|s| s.contains("#/v2/executions/details/")));
        // A short task ARN names no cluster; a state machine, a bucket and plain text are no pages
        // failwatch builds.
        for other in [
            "arn:aws:ecs:eu-west-1:111122223333:task/abc123",
            "arn:aws:states:us-east-1:111122223333:stateMachine:orders",
            "arn:aws:s3:::bucket",
            "orders-run-42",
        ] {
            assert_eq!(resource_link(other), None, "{other}");
        }
    }
}
