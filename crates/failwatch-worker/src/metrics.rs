//! Every metric the worker exports, named in one place.
//!
//! These names and labels are a contract: the Grafana dashboard, the Prometheus alert rules and users'
//! own queries are built on them. Add metrics freely; never rename one or add an unbounded label. Labels
//! carry only bounded values: a destination's configured *name* (never its URL), an alert kind, an
//! outcome from a fixed list. Names follow `failwatch_<name>_<unit>[_total]` in base units.

/// Counter. SQS messages received from the queue.
pub const MESSAGES_RECEIVED: &str = "failwatch_messages_received_total";
/// Counter. SQS messages deleted because their outcome was final.
pub const MESSAGES_DELETED: &str = "failwatch_messages_deleted_total";
/// Counter, label `reason` (`retry` | `malformed` | `permanent` | `shutdown`). Messages handed back to
/// SQS (visibility changed) instead of deleted.
pub const MESSAGES_RELEASED: &str = "failwatch_messages_released_total";
/// Counter, labels `kind` (`ecs_task` | `ecs_deployment` | `ecs_service` | `sfn_execution` | `unknown`)
/// and `outcome` (`alerted` | `silent` | `duplicate` | `malformed`).
pub const EVENTS: &str = "failwatch_events_total";
/// Counter, labels `destination` and `result` (`delivered` | `rejected` | `deferred`): the final outcome
/// of delivering one alert to one destination within one receive of its message. `rejected` is a
/// permanent failure (4xx), `deferred` means the in-process retry budget ran out and SQS will retry.
pub const DELIVERIES: &str = "failwatch_deliveries_total";
/// Counter, labels `destination` and `outcome` (`success` | `rate_limited` | `server_error` |
/// `client_error` | `timeout` | `network`). One per HTTP attempt.
pub const DELIVERY_ATTEMPTS: &str = "failwatch_delivery_attempts_total";
/// Counter, label `destination`. Attempts that were retries of an earlier failed attempt.
pub const DELIVERY_RETRIES: &str = "failwatch_delivery_retries_total";
/// Histogram (seconds), label `destination`. Duration of one successful delivery, retries included.
pub const DELIVERY_DURATION: &str = "failwatch_delivery_duration_seconds";
/// Histogram (seconds), label `destination`. From the event's time to its acceptance by the destination.
pub const END_TO_END_LAG: &str = "failwatch_end_to_end_lag_seconds";
/// Gauge. Messages received and not yet deleted or handed back.
pub const IN_FLIGHT_MESSAGES: &str = "failwatch_in_flight_messages";
/// Gauge (Unix seconds). When a receive call last succeeded; readiness and the "not polling" alert use it.
pub const LAST_SUCCESSFUL_POLL: &str = "failwatch_last_successful_poll_timestamp_seconds";
/// Counter. Receive calls that failed (credentials, network, throttling).
pub const POLL_ERRORS: &str = "failwatch_poll_errors_total";
/// Gauge, labels `queue` (`main` | `dlq`) and `state` (`visible` | `in_flight` | `delayed`). Sampled from
/// GetQueueAttributes so that dashboards need no CloudWatch exporter.
pub const QUEUE_MESSAGES: &str = "failwatch_queue_messages";
/// Gauge, labels `version` and `commit`; always 1.
pub const BUILD_INFO: &str = "failwatch_build_info";
