//! The documents a group of alerts produces besides its first alert: `failwatch.digest.v1` (the alerts
//! folded into one message at the end of a `group_interval`) and `failwatch.recovery.v1` (the group's
//! resource is healthy again). Like `failwatch.alert.v1`, both are a public contract: the generic
//! webhook receives them as they are, fields are added and never renamed, and every field is always
//! present (`null` or empty when there is nothing).

use serde::{Deserialize, Serialize};

use crate::alert::{Links, Severity};
use crate::kind::AlertKind;

/// The schema identifier carried in every digest document.
pub const DIGEST_SCHEMA: &str = "failwatch.digest.v1";
/// The schema identifier carried in every recovery document.
pub const RECOVERY_SCHEMA: &str = "failwatch.recovery.v1";

/// A crash loop: a group reached `crash_loop_threshold` failures within `crash_loop_window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashLoop {
    /// Failures of the group within the window, counting the one that carries this notice.
    pub failures: u64,
    /// The window, in whole seconds (`crash_loop_window`).
    pub window_secs: u64,
}

/// A count of one value among a digest's alerts, e.g. exit code `137` seen 12 times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// The value, as the alerts state it (a reason verbatim and redacted, an exit code in decimal).
    pub value: String,
    /// How many of the digest's alerts had it.
    pub count: u64,
}

/// One alert folded into a digest, as much as a digest lists of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldedAlert {
    /// The alert's `dedup_key`.
    pub dedup_key: String,
    /// The alert's `event_id`.
    pub event_id: String,
    /// When it failed, RFC 3339 in UTC (the alert's `time`).
    pub time: String,
    /// The task id or execution name the alert is about, or its title when it has neither.
    pub id: String,
    /// The alert's most specific console link (task, execution, ...), when it has one.
    pub link: Option<String>,
    /// The stop reason or Step Functions error, redacted, when the alert states one.
    pub reason: Option<String>,
    /// The exit codes of the failed containers, in container order (empty when none).
    pub exit_codes: Vec<i64>,
}

/// `failwatch.digest.v1`: the alerts of one group that followed its first alert within one
/// `group_interval`, folded into one message posted when the interval ends (in Google Chat, a reply in
/// the group's thread).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// Always `failwatch.digest.v1`.
    pub schema: String,
    /// The kind of the group's alerts, e.g. `ecs_task`.
    pub kind: AlertKind,
    /// The highest severity among the folded alerts; `critical` when the group is crash-looping.
    pub severity: Severity,
    /// One line a human reads first, e.g. "payments-api: 12 more tasks failed (exit 137)", or, in a
    /// crash loop, "payments-api is crash-looping: 8 tasks failed in 10 min".
    pub title: String,
    /// The alerts' `group_key`.
    pub group_key: String,
    /// The human name of what the group is about: the service, task family or state machine.
    pub subject: String,
    /// How many alerts this digest folds.
    pub count: u64,
    /// The earliest folded alert's time, RFC 3339 in UTC.
    pub first_time: String,
    /// The latest folded alert's time, RFC 3339 in UTC.
    pub last_time: String,
    /// Set when the group reached its crash-loop threshold.
    pub crash_loop: Option<CrashLoop>,
    /// The first folded alerts, in the order they arrived, at most [`Digest::MAX_LISTED`].
    pub alerts: Vec<FoldedAlert>,
    /// How many folded alerts `alerts` does not list (`count - alerts.len()`).
    pub unlisted: u64,
    /// The `dedup_key` of every folded alert, in the order they arrived.
    pub dedup_keys: Vec<String>,
    /// Stop reasons or errors with their counts, most frequent first, at most [`Digest::MAX_TALLIES`].
    pub reasons: Vec<Tally>,
    /// Exit codes with their counts, most frequent first, at most [`Digest::MAX_TALLIES`].
    pub exit_codes: Vec<Tally>,
    /// The AWS account id, when the alerts name it.
    pub account: Option<String>,
    /// The AWS region, when the alerts name it.
    pub region: Option<String>,
    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub partition: String,
    /// Links shared by the group (service page, state machine's executions); per-alert links are in
    /// `alerts`.
    pub links: Links,
}

impl Digest {
    /// The most folded alerts a digest lists one by one; the rest are counted in `unlisted`.
    pub const MAX_LISTED: usize = 10;
    /// The most distinct reasons or exit codes a digest tallies.
    pub const MAX_TALLIES: usize = 5;

    /// The digest document as compact JSON, exactly as the generic webhook receives it.
    pub fn to_json(&self) -> String {
        // Serialising plain strings, numbers, options and vectors cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `failwatch.recovery.v1`: a group that alerted is healthy again (an ECS service reached a steady
/// state or completed a deployment, a state machine's execution succeeded). Posted once, in the
/// group's thread where the chat service has threads, and the group closes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// Always `failwatch.recovery.v1`.
    pub schema: String,
    /// The kind of the group's alerts, e.g. `ecs_task`.
    pub kind: AlertKind,
    /// One line, e.g. "payments-api recovered after 8 failures over 12 min".
    pub title: String,
    /// The group's `group_key`.
    pub group_key: String,
    /// The human name of what recovered: the service, task family or state machine.
    pub subject: String,
    /// Failures the group saw from its first alert to the recovery.
    pub failures: u64,
    /// The group's first failure, RFC 3339 in UTC.
    pub first_failure_time: String,
    /// When the recovery event happened, RFC 3339 in UTC.
    pub recovered_time: String,
    /// Whole seconds from the first failure to the recovery.
    pub duration_secs: u64,
    /// The recovery event's EventBridge id.
    pub event_id: String,
    /// The AWS account id, when known.
    pub account: Option<String>,
    /// The AWS region, when known.
    pub region: Option<String>,
    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub partition: String,
    /// Links to what recovered (service page, succeeded execution).
    pub links: Links,
}

impl Recovery {
    /// The recovery document as compact JSON, exactly as the generic webhook receives it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
