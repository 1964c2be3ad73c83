//! Every metric the worker exports, named in one place.
//!
//! These names and labels are a contract: the Grafana dashboard, the Prometheus alert rules and users'
//! own queries are built on them. Add metrics freely; never rename one or add an unbounded label. Labels
//! carry only bounded values: a destination's configured *name* (never its URL), an alert kind, an
//! outcome from a fixed list. Names follow `failwatch_<name>_<unit>[_total]` in base units.

/// Counter. SQS messages received from the queue.
pub(crate) const MESSAGES_RECEIVED: &str = "failwatch_messages_received_total";
/// Counter. SQS messages deleted because their outcome was final.
pub(crate) const MESSAGES_DELETED: &str = "failwatch_messages_deleted_total";
/// Counter, label `reason` (`retry` | `malformed` | `permanent` | `shutdown`). Messages handed back to
/// SQS (visibility changed) instead of deleted.
pub(crate) const MESSAGES_RELEASED: &str = "failwatch_messages_released_total";
/// Counter, labels `kind` (a name of `failwatch_core::AlertKind::ALL`, e.g. `ecs_task`, or `unknown`)
/// and `outcome` (`alerted` | `silent` | `duplicate` | `malformed`).
pub(crate) const EVENTS: &str = "failwatch_events_total";
/// Counter, labels `destination` and `result` (`delivered` | `rejected` | `deferred`): the final outcome
/// of delivering one alert to one destination within one receive of its message. `rejected` is a
/// permanent failure (4xx), `deferred` means the in-process retry budget ran out and SQS will retry.
pub(crate) const DELIVERIES: &str = "failwatch_deliveries_total";
/// Counter, labels `destination` and `outcome` (`success` | `rate_limited` | `server_error` |
/// `client_error` | `timeout` | `network`). One per HTTP attempt.
pub(crate) const DELIVERY_ATTEMPTS: &str = "failwatch_delivery_attempts_total";
/// Counter, label `destination`. Attempts that were retries of an earlier failed attempt.
pub(crate) const DELIVERY_RETRIES: &str = "failwatch_delivery_retries_total";
/// Histogram (seconds), label `destination`. Duration of one successful delivery, retries included.
pub(crate) const DELIVERY_DURATION: &str = "failwatch_delivery_duration_seconds";
/// Histogram (seconds), label `destination`. From the event's time to its acceptance by the destination.
pub(crate) const END_TO_END_LAG: &str = "failwatch_end_to_end_lag_seconds";
/// Gauge. Messages received and not yet deleted or handed back.
pub(crate) const IN_FLIGHT_MESSAGES: &str = "failwatch_in_flight_messages";
/// Gauge (Unix seconds). When a receive call last succeeded; readiness and the "not polling" alert use it.
pub(crate) const LAST_SUCCESSFUL_POLL: &str = "failwatch_last_successful_poll_timestamp_seconds";
/// Counter. Receive calls that failed (credentials, network, throttling).
pub(crate) const POLL_ERRORS: &str = "failwatch_poll_errors_total";
/// Histogram (seconds). From a message's final outcome (delete) to SQS's answer to the
/// DeleteMessageBatch that carried it, waiting for a free call slot included: every crash in this
/// window makes the message come back, and an alert already delivered may be posted again.
pub(crate) const DELETE_DURATION: &str = "failwatch_delete_duration_seconds";
/// Histogram (seconds). Each wait of a poller that did not receive because no destination could start
/// a new attempt soon (every one held by a `Retry-After`, or its pacing queue too long); the sum over
/// pollers is the time spent paused by backpressure.
pub(crate) const RECEIVE_PAUSED: &str = "failwatch_receive_paused_seconds";
/// Gauge, labels `queue` (`main` | `dlq`) and `state` (`visible` | `in_flight` | `delayed`). Sampled from
/// GetQueueAttributes so that dashboards need no CloudWatch exporter.
pub(crate) const QUEUE_MESSAGES: &str = "failwatch_queue_messages";
/// Counter, label `op` (`claim` | `delivered_to` | `record_delivery` | `complete` | `release`, and the
/// grouping state's `group_get` | `group_put` | `group_remove` | `open_groups`). State store calls that
/// failed or timed out; the alert was delivered anyway (a duplicate is possible).
pub(crate) const STATE_ERRORS: &str = "failwatch_state_errors_total";
/// Counter, label `outcome` (`won` | `held` | `done`). Answers of the state store to a claim on an alert:
/// this worker delivers it, another message or replica is delivering it, or it was delivered already.
pub(crate) const STATE_CLAIMS: &str = "failwatch_state_claims_total";
/// Counter, label `level` (`alert` | `destination`). Posts the state store prevented: a whole alert that
/// was delivered already, or one destination that had accepted it on an earlier receive.
pub(crate) const STATE_DUPLICATES_SUPPRESSED: &str = "failwatch_state_duplicates_suppressed_total";
/// Histogram (seconds), label `op` (`claim` | `delivered_to` | `record_delivery` | `complete` |
/// `release`). Duration of one state store call, failed and timed-out ones included.
pub(crate) const STATE_CALL_DURATION: &str = "failwatch_state_call_duration_seconds";
/// Counter, labels `source` (`log_tail` | `failed_state` | `tags`) and `result` (`ok` | `error` |
/// `timeout` | `skipped`). One per enrichment lookup (a log tail per failed container); `skipped` when
/// the part is turned off or no time was left. An alert goes out whatever the result.
pub(crate) const ENRICHMENT: &str = "failwatch_enrichment_total";
/// Gauge. Groups of alerts this process knows to be open (from the last read of the index of open
/// groups: with DynamoDB, every replica's).
pub(crate) const GROUPS_OPEN: &str = "failwatch_groups_open";
/// Counter, label `destination`. Alerts folded into a pending digest instead of posted.
pub(crate) const ALERTS_FOLDED: &str = "failwatch_alerts_folded_total";
/// Counter, label `destination`. Digests delivered.
pub(crate) const DIGESTS_POSTED: &str = "failwatch_digests_posted_total";
/// Counter, label `destination`. Recovery notices delivered.
pub(crate) const RECOVERIES_POSTED: &str = "failwatch_recoveries_posted_total";
/// Counter, label `destination`. Alerts and digests posted as a crash-loop notice (critical, "is
/// crash-looping").
pub(crate) const CRASH_LOOPS: &str = "failwatch_crash_loops_total";
/// Gauge. Folded messages kept in flight until their digest is delivered (`memory` backend only).
pub(crate) const HELD_MESSAGES: &str = "failwatch_held_messages";
/// Gauge, labels `version` and `commit`; always 1.
pub(crate) const BUILD_INFO: &str = "failwatch_build_info";

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusRecorder};

/// Buckets of [`DELIVERY_DURATION`], in seconds: a healthy webhook answers in tens of milliseconds; the
/// top buckets catch retries and Retry-After waits within the retry budget.
pub(crate) const DELIVERY_DURATION_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Buckets of [`END_TO_END_LAG`], in seconds: EventBridge and SQS add about a second when all is well;
/// minutes mean retries or a backlog, hours a redrive from the DLQ.
pub(crate) const END_TO_END_LAG_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 21600.0,
];

/// Buckets of [`STATE_CALL_DURATION`], in seconds: memory answers in microseconds, DynamoDB in a few
/// milliseconds; the top buckets reach the longest call timeout.
pub(crate) const STATE_CALL_DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets of [`DELETE_DURATION`], in seconds: one SQS round trip is a few milliseconds near the
/// queue and tens of milliseconds across a region; the upper buckets show deletes queueing behind busy
/// call slots or the client's retries.
pub(crate) const DELETE_DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 12.0,
];

/// Buckets of [`RECEIVE_PAUSED`], in seconds: pacing pauses last a period or a few; a `Retry-After`
/// pause lasts what the service asked for, up to `retry.retry_after_max`.
pub(crate) const RECEIVE_PAUSED_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The commit the binary was built from, when the build passed `FAILWATCH_GIT_COMMIT`.
pub(crate) const COMMIT: &str = match option_env!("FAILWATCH_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// A Prometheus recorder with real histogram buckets (the exporter would otherwise render summaries).
pub(crate) fn recorder() -> Result<PrometheusRecorder, BuildError> {
    Ok(PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(DELIVERY_DURATION.to_owned()),
            DELIVERY_DURATION_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(END_TO_END_LAG.to_owned()),
            END_TO_END_LAG_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(STATE_CALL_DURATION.to_owned()),
            STATE_CALL_DURATION_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(DELETE_DURATION.to_owned()),
            DELETE_DURATION_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(RECEIVE_PAUSED.to_owned()),
            RECEIVE_PAUSED_BUCKETS,
        )?
        .build_recorder())
}

/// Registers HELP text and units for every metric, sets `failwatch_build_info`, and creates the
/// label-less counters at zero so that rates work from the first scrape. Call once the recorder is
/// installed.
pub(crate) fn describe() {
    describe_counter!(
        MESSAGES_RECEIVED,
        Unit::Count,
        "SQS messages received from the queue."
    );
    describe_counter!(
        MESSAGES_DELETED,
        Unit::Count,
        "SQS messages deleted because their outcome was final."
    );
    describe_counter!(
        MESSAGES_RELEASED,
        Unit::Count,
        "SQS messages handed back to the queue (visibility changed) instead of deleted, by reason."
    );
    describe_counter!(
        EVENTS,
        Unit::Count,
        "Decoded messages by event kind and outcome (alerted, silent, duplicate, malformed)."
    );
    describe_counter!(
        DELIVERIES,
        Unit::Count,
        "Final outcome of delivering one alert to one destination within one receive of its message."
    );
    describe_counter!(
        DELIVERY_ATTEMPTS,
        Unit::Count,
        "HTTP attempts to post an alert, by destination and outcome."
    );
    describe_counter!(
        DELIVERY_RETRIES,
        Unit::Count,
        "HTTP attempts that retried an earlier failed attempt, by destination."
    );
    describe_histogram!(
        DELIVERY_DURATION,
        Unit::Seconds,
        "Duration of one successful delivery to a destination, retries and pacing included."
    );
    describe_histogram!(
        END_TO_END_LAG,
        Unit::Seconds,
        "Time from the event to its acceptance by a destination."
    );
    describe_gauge!(
        IN_FLIGHT_MESSAGES,
        Unit::Count,
        "Messages received and not yet deleted or handed back."
    );
    describe_gauge!(
        LAST_SUCCESSFUL_POLL,
        Unit::Seconds,
        "Unix time of the last successful ReceiveMessage call."
    );
    describe_counter!(
        POLL_ERRORS,
        Unit::Count,
        "ReceiveMessage calls that failed."
    );
    describe_histogram!(
        DELETE_DURATION,
        Unit::Seconds,
        "Time from a message's final outcome to SQS's answer to the DeleteMessageBatch carrying it."
    );
    describe_histogram!(
        RECEIVE_PAUSED,
        Unit::Seconds,
        "Waits of a poller that did not receive because no destination could start an attempt soon."
    );
    describe_gauge!(
        QUEUE_MESSAGES,
        Unit::Count,
        "Approximate messages in the queue and its DLQ by state, from GetQueueAttributes."
    );
    describe_counter!(
        STATE_ERRORS,
        Unit::Count,
        "State store calls that failed or timed out, by operation; the alert was delivered anyway."
    );
    describe_counter!(
        STATE_CLAIMS,
        Unit::Count,
        "Claims on alerts by the state store's answer: won, held by another holder, or done already."
    );
    describe_counter!(
        STATE_DUPLICATES_SUPPRESSED,
        Unit::Count,
        "Posts the state store prevented: an alert delivered already, or a destination that had accepted it."
    );
    describe_histogram!(
        STATE_CALL_DURATION,
        Unit::Seconds,
        "Duration of one state store call, by operation."
    );
    describe_counter!(
        ENRICHMENT,
        Unit::Count,
        "Enrichment lookups (log tails, failed states, tags) by source and result; the alert goes out either way."
    );
    describe_gauge!(
        GROUPS_OPEN,
        "Groups of alerts open (from the last read of the index of open groups)."
    );
    describe_counter!(
        ALERTS_FOLDED,
        Unit::Count,
        "Alerts folded into a pending digest instead of posted, by destination."
    );
    describe_counter!(
        DIGESTS_POSTED,
        Unit::Count,
        "Digests delivered, by destination."
    );
    describe_counter!(
        RECOVERIES_POSTED,
        Unit::Count,
        "Recovery notices delivered, by destination."
    );
    describe_counter!(
        CRASH_LOOPS,
        Unit::Count,
        "Alerts and digests posted as crash-loop notices, by destination."
    );
    describe_gauge!(
        HELD_MESSAGES,
        "Folded messages kept in flight until their digest is delivered (memory backend)."
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; labels carry the version and commit of the running binary."
    );
    set_initial_values();
}

/// `failwatch_build_info`, the label-less counters and gauges at zero, and the state store's counters
/// of things that should not happen, for each of their few label values, so that the dashboard's
/// state panels and rates have series before the first failure.
fn set_initial_values() {
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "commit" => COMMIT)
        .set(1.0);
    for counter in [MESSAGES_RECEIVED, MESSAGES_DELETED, POLL_ERRORS] {
        metrics::counter!(counter).absolute(0);
    }
    for op in [
        "claim",
        "delivered_to",
        "record_delivery",
        "complete",
        "release",
        "group_get",
        "group_put",
        "group_remove",
        "open_groups",
    ] {
        metrics::counter!(STATE_ERRORS, "op" => op).absolute(0);
    }
    for level in ["alert", "destination"] {
        metrics::counter!(STATE_DUPLICATES_SUPPRESSED, "level" => level).absolute(0);
    }
    metrics::gauge!(IN_FLIGHT_MESSAGES).set(0.0);
    metrics::gauge!(GROUPS_OPEN).set(0.0);
    metrics::gauge!(HELD_MESSAGES).set(0.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_help_real_buckets_and_build_info() {
        let recorder = recorder().unwrap();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            metrics::histogram!(DELIVERY_DURATION, "destination" => "chat").record(0.2);
            metrics::histogram!(END_TO_END_LAG, "destination" => "chat").record(3.0);
            metrics::counter!(DELIVERIES, "destination" => "chat", "result" => "delivered")
                .increment(1);
        });
        let text = handle.render();
        assert!(text.contains("# HELP failwatch_deliveries_total"), "{text}");
        assert!(
            text.contains("# TYPE failwatch_delivery_duration_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains(
                "failwatch_delivery_duration_seconds_bucket{destination=\"chat\",le=\"0.25\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "failwatch_end_to_end_lag_seconds_bucket{destination=\"chat\",le=\"2\"} 0"
            ),
            "{text}"
        );
        assert!(text.contains("failwatch_build_info{"), "{text}");
        assert!(
            text.contains("failwatch_messages_received_total 0"),
            "{text}"
        );
        // Every counter name already ends in _total: the exporter adds no suffix.
        for line in text
            .lines()
            .filter(|l| l.starts_with("# TYPE") && l.ends_with(" counter"))
        {
            let name = line.split(' ').nth(2).unwrap();
            assert!(name.ends_with("_total"), "{line}");
        }
    }
}
