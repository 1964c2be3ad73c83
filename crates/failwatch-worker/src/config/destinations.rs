//! `[[destinations]]`: the chat services and webhooks alerts are posted to, and where each one's secret
//! URL comes from (an environment variable, a mounted file or, discouraged, the file itself).
//!
//! A destination's type is the core's [`Target`], the one list of chat services; in configuration the
//! generic webhook is spelled `webhook` (its renderer is the `failwatch.alert.v1` JSON document).
//! Also here: the queue URL checks, since both are "is this URL usable" questions answered without ever
//! printing a secret.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use failwatch_core::Target;
use reqwest::Url;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::env::Env;
use super::sections::SqsConfig;
use super::{Checker, Needs, defaults};
use crate::secret::SecretUrl;

/// One chat service or webhook alerts are posted to, its URL resolved.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Destination {
    /// `[a-z0-9_-]{1,64}`, unique: the `destination` metric label and what routes refer to.
    pub(crate) name: String,
    /// The chat service, which decides the payload's shape.
    #[serde(rename = "type", serialize_with = "serialize_type")]
    pub(crate) kind: Target,
    /// The resolved webhook URL; printed only as its source.
    #[serde(skip)]
    pub(crate) url: SecretUrl,
    /// Where the URL came from: printed as the key it was given with, so the output loads back.
    #[serde(flatten)]
    pub(crate) source: UrlSource,
    /// Token-bucket rate (default 1/s for google-chat and slack, 5/s otherwise).
    pub(crate) rate_per_second: f64,
    /// Token-bucket size.
    pub(crate) burst: u32,
    /// One HTTP attempt's deadline.
    #[serde(with = "humantime_serde")]
    pub(crate) timeout: Duration,
}

/// Where a destination's URL came from; each variant is the key it is configured with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) enum UrlSource {
    /// `url_env`: the name of the environment variable holding the URL.
    #[serde(rename = "url_env")]
    Env(String),
    /// `url_file`: the path of a file (a mounted secret) holding the URL.
    #[serde(rename = "url_file")]
    File(PathBuf),
    /// `url`: the URL itself in the file (it serialises redacted).
    #[serde(rename = "url")]
    Literal(SecretUrl),
}

/// One `[[destinations]]` entry as written.
#[derive(Debug, Deserialize)]
pub(super) struct RawDestination {
    name: String,
    #[serde(rename = "type", deserialize_with = "deserialize_type")]
    kind: Target,
    url_env: Option<String>,
    url_file: Option<PathBuf>,
    url: Option<String>,
    rate_per_second: Option<f64>,
    burst: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
}

/// The configuration name of a destination type: the target's own name, except `webhook` for the
/// alert document ([`Target::Json`]). Also the `kind` metric label.
pub(crate) fn type_name(target: Target) -> &'static str {
    match target {
        Target::Json => "webhook",
        other => other.as_str(),
    }
}

/// The type named `text` in configuration: the core's own parsing, which takes every [`type_name`]
/// (and `json`, the renderer's name for `webhook`).
pub(super) fn parse_type(text: &str) -> Option<Target> {
    text.parse().ok()
}

pub(super) fn type_list() -> String {
    let names: Vec<&str> = Target::ALL.into_iter().map(type_name).collect();
    format!("expected one of {}", names.join(", "))
}

fn deserialize_type<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Target, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_type(&text).ok_or_else(|| {
        serde::de::Error::custom(format!("unknown variant `{text}`, {}", type_list()))
    })
}

fn serialize_type<S: Serializer>(target: &Target, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(type_name(*target))
}

/// Guesses the type from a webhook URL's host, for the zero-file shortcut.
pub(super) fn type_from_host(host: &str) -> Target {
    let host = host.to_ascii_lowercase();
    let is = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    if host == "chat.googleapis.com" {
        Target::GoogleChat
    } else if host == "hooks.slack.com" {
        Target::Slack
    } else if is("discord.com") || is("discordapp.com") {
        Target::Discord
    } else if host.ends_with(".logic.azure.com") || host.ends_with(".powerplatform.com") {
        // Power Automate Workflows (`*.environment.api.powerplatform.com`) and the older Logic Apps
        // endpoints (`*.logic.azure.com`) are how Teams takes incoming webhooks now.
        Target::Teams
    } else {
        Target::Json
    }
}

fn default_rate(target: Target) -> f64 {
    match target {
        Target::GoogleChat | Target::Slack => defaults::CHAT_RATE_PER_SECOND,
        _ => defaults::OTHER_RATE_PER_SECOND,
    }
}

/// `sqs.queue_url` (required by the commands that read the queue) and `sqs.dlq_url` (optional).
pub(super) fn check_queues(c: &mut Checker, sqs: &mut SqsConfig, from_file: bool, needs: Needs) {
    if !needs.queue() {
        return;
    }
    if sqs.queue_url.trim().is_empty() && c.origins.iter().all(|(k, _)| k != "sqs.queue_url") {
        let how = match (from_file, needs) {
            (true, _) => "required: set it in the configuration file or FAILWATCH_SQS__QUEUE_URL",
            (false, Needs::Queue) => {
                "required: no configuration file was given (--config or FAILWATCH_CONFIG), so \
                 set FAILWATCH_SQS__QUEUE_URL"
            }
            (false, _) => {
                "required: no configuration file was given (--config or FAILWATCH_CONFIG), so \
                 set FAILWATCH_SQS__QUEUE_URL and FAILWATCH_WEBHOOK_URL"
            }
        };
        c.problem("sqs.queue_url", how);
    } else if sqs.queue_url.trim().is_empty() {
        c.problem("sqs.queue_url", "must not be empty");
    } else {
        check_queue_url(c, "sqs.queue_url", &sqs.queue_url);
    }
    sqs.dlq_url = sqs.dlq_url.take().filter(|u| !u.trim().is_empty());
    if let Some(url) = &sqs.dlq_url {
        check_queue_url(c, "sqs.dlq_url", url);
    }
}

fn check_queue_url(c: &mut Checker, key: &str, url: &str) {
    match Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => {}
        _ => c.problem(
            key,
            format!(
                "{url:?} is not a queue URL such as \
                 https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch"
            ),
        ),
    }
}

/// Checks every destination and resolves its URL. `declared` holds every name written, including
/// those of entries that did not deserialise.
pub(super) fn resolve(
    c: &mut Checker,
    raw: Vec<RawDestination>,
    declared: &[String],
    env: &dyn Env,
) -> Vec<Destination> {
    if declared.is_empty() && raw.is_empty() {
        c.problem(
            "destinations",
            "at least one destination is required ([[destinations]] in the file, or \
             FAILWATCH_WEBHOOK_URL)",
        );
    }
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, d) in raw.into_iter().enumerate() {
        let at = |field: &str| format!("destinations[{i}].{field}");
        check_name(c, &at("name"), &d.name, &mut names);
        let resolved = resolve_url(c, i, &d, env);
        let rate_per_second = d.rate_per_second.unwrap_or(default_rate(d.kind));
        if !(rate_per_second > 0.0 && rate_per_second <= 1000.0) {
            c.problem(
                at("rate_per_second"),
                format!("{rate_per_second} is out of range (greater than 0, at most 1000)"),
            );
        }
        let burst = c.range(
            &at("burst"),
            d.burst.unwrap_or(defaults::DESTINATION_BURST),
            1..=1000,
        );
        let timeout = d.timeout.unwrap_or(defaults::DESTINATION_TIMEOUT);
        c.duration(
            &at("timeout"),
            timeout,
            Duration::from_secs(1),
            Duration::from_secs(300),
        );
        if let Some((url, source)) = resolved {
            out.push(Destination {
                name: d.name,
                kind: d.kind,
                url,
                source,
                rate_per_second,
                burst,
                timeout,
            });
        }
    }
    out
}

fn check_name(c: &mut Checker, key: &str, name: &str, names: &mut HashSet<String>) {
    let label_safe = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !label_safe {
        c.problem(
            key,
            format!(
                "{} must be 1 to 64 characters of a-z, 0-9, '_' and '-' (it is a metric label)",
                super::quoted(name)
            ),
        );
    } else if !names.insert(name.to_owned()) {
        c.problem(key, format!("{name:?} is used by two destinations"));
    }
}

/// The URL of destination `i` from its one source, checked; `None` with a problem recorded otherwise.
fn resolve_url(
    c: &mut Checker,
    i: usize,
    d: &RawDestination,
    env: &dyn Env,
) -> Option<(SecretUrl, UrlSource)> {
    let at = |field: &str| format!("destinations[{i}].{field}");
    let given = [d.url_env.is_some(), d.url_file.is_some(), d.url.is_some()];
    if given.iter().filter(|s| **s).count() != 1 {
        c.problem(
            format!("destinations[{i}]"),
            "exactly one of url_env, url_file and url is required",
        );
        return None;
    }
    let (key, text) = if let Some(var) = &d.url_env {
        (at("url_env"), from_env(c, &at("url_env"), var, env)?)
    } else if let Some(path) = &d.url_file {
        (at("url_file"), from_file(c, &at("url_file"), path)?)
    } else {
        let key = at("url");
        c.warn(format!(
            "{key}: a literal webhook URL in the configuration file is discouraged: it is a \
             secret; use url_env or url_file"
        ));
        (key, d.url.as_deref().unwrap_or("").trim().to_owned())
    };
    let url = SecretUrl::new(check_destination_url(c, &key, &text)?);
    let source = match (&d.url_env, &d.url_file) {
        (Some(var), _) => UrlSource::Env(var.clone()),
        (None, Some(path)) => UrlSource::File(path.clone()),
        (None, None) => UrlSource::Literal(url.clone()),
    };
    Some((url, source))
}

fn from_env(c: &mut Checker, key: &str, var: &str, env: &dyn Env) -> Option<String> {
    if !is_variable_name(var) {
        // Most often the webhook URL itself, written where its variable's name belongs: naming the
        // key is enough, repeating the value would print the secret.
        c.problem(key, "must name an environment variable (value not shown)");
        return None;
    }
    match env.get(var) {
        None => c.problem(key, format!("environment variable {var} is not set")),
        Some(v) if v.trim().is_empty() => {
            c.problem(key, format!("environment variable {var} is empty"));
        }
        Some(v) => return Some(v.trim().to_owned()),
    }
    None
}

fn from_file(c: &mut Checker, key: &str, path: &std::path::Path) -> Option<String> {
    if looks_like_url(&path.to_string_lossy()) {
        c.problem(
            key,
            "must be the path of a file holding the URL, not the URL (value not shown)",
        );
        return None;
    }
    match std::fs::read_to_string(path) {
        // Only the error's kind: an `io::Error` never carries the file's bytes today, but this
        // message must not depend on that.
        Err(err) => c.problem(
            key,
            format!("cannot read {}: {}", path.display(), io_reason(&err)),
        ),
        Ok(v) if v.trim().is_empty() => c.problem(key, format!("{} is empty", path.display())),
        Ok(v) => return Some(v.trim().to_owned()),
    }
    None
}

/// Whether `text` can be an environment variable's name (the POSIX portable set).
fn is_variable_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether a value is really a URL (`https://...`, also `https:host/...`, any case).
pub(super) fn looks_like_url(text: &str) -> bool {
    text.contains("://")
        || Url::parse(text.trim()).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// Why a file could not be read, without the OS's text where it could carry more than the reason.
fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::InvalidData => "not valid UTF-8 text".to_owned(),
        _ => err.to_string(),
    }
}

/// Checks a webhook URL without ever putting it into a message: only its scheme and host, which are not
/// secret, may appear.
fn check_destination_url(c: &mut Checker, key: &str, text: &str) -> Option<Url> {
    let Ok(url) = Url::parse(text) else {
        c.problem(key, "not a valid URL (value not shown: it is a secret)");
        return None;
    };
    let Some(host) = url.host_str() else {
        c.problem(key, "the URL has no host");
        return None;
    };
    match url.scheme() {
        "https" => Some(url),
        "http" if is_loopback(host) => Some(url),
        "http" => {
            c.problem(
                key,
                format!(
                    "http://{host}/... is not allowed: use https://, plain http:// is only accepted \
                     for loopback addresses"
                ),
            );
            None
        }
        other => {
            c.problem(key, format!("unsupported scheme {other:?}: use https://"));
            None
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
