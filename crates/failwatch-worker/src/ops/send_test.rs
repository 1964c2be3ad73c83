//! `failwatch send-test`: post a realistic, clearly marked sample alert to each destination to prove its
//! webhook works.
//!
//! The sample is a real ECS "task stopped: out of memory" event (`sample_event.json`, copied from the
//! test fixtures so the release build does not depend on the test tree) decoded and classified by
//! [`failwatch_core::process`], rendered by [`failwatch_core::render`] and posted by the worker's
//! [`Deliverer`] — the same code path as a real alert, so a webhook that accepts the test accepts real
//! alerts. Only the title, summary, ids and time are changed, so nobody mistakes it for an incident and
//! chat services do not thread it with real ones. Route mentions are left out on purpose: a test should
//! not page anyone.
//!
//! Each destination gets exactly one attempt (a retry would hide what the service answered). The
//! output names the destination and its type, the HTTP status and, on failure, the service's own error
//! text — never the URL, which is a secret.

use std::io::Write;

use failwatch_core::{Alert, Decision, DecodeContext, RenderOptions};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{OpsError, say};
use crate::config::Config;
use crate::delivery::{Deliverer, Delivery};
use crate::retry::RetryPolicy;

/// A real ECS event whose alert is the sample.
const SAMPLE_EVENT: &str = include_str!("sample_event.json");
/// The dedup and group key of every test alert, so services that thread by key keep tests together and
/// away from real incidents.
const TEST_KEY: &str = "failwatch-send-test";

/// The sample alert, marked as a test and dated `now`.
pub(crate) fn sample_alert(now: OffsetDateTime) -> Result<Alert, OpsError> {
    let ctx = DecodeContext {
        message_id: Some(TEST_KEY.to_owned()),
        received_at: now,
    };
    let mut alert = match failwatch_core::process(SAMPLE_EVENT, &ctx) {
        Ok(Decision::Alert(alert)) => *alert,
        Ok(Decision::Silent(reason)) => {
            return Err(OpsError::Incomplete(format!(
                "the built-in sample event no longer produces an alert ({})",
                reason.code()
            )));
        }
        Err(err) => {
            return Err(OpsError::Incomplete(format!(
                "the built-in sample event no longer decodes: {err}"
            )));
        }
    };
    alert.title = format!("[failwatch test] {}", alert.title);
    alert.summary.prepend_text(
        "This is a test message sent by `failwatch send-test`: nothing failed. It shows what a real \
         alert looks like.",
    );
    alert.event_id = format!("{TEST_KEY}-{}", now.unix_timestamp());
    alert.time = now.format(&Rfc3339).unwrap_or_else(|_| alert.time.clone());
    alert.dedup_key = alert.event_id.clone();
    alert.group_key = TEST_KEY.to_owned();
    Ok(alert)
}

/// Posts the sample to the chosen destinations and prints each outcome.
pub(crate) async fn run(
    config: &Config,
    only: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), OpsError> {
    let chosen: Vec<usize> = match only {
        None => (0..config.destinations.len()).collect(),
        Some(name) => match config.destinations.iter().position(|d| d.name == name) {
            Some(index) => vec![index],
            None => {
                let known: Vec<&str> = config
                    .destinations
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect();
                return Err(OpsError::Usage(format!(
                    "--destination: no destination named {name:?} (configured: {})",
                    known.join(", ")
                )));
            }
        },
    };
    let deliverer = Deliverer::new(&config.destinations, RetryPolicy::from_config(config))
        .map_err(|err| OpsError::Incomplete(err.to_string()))?;
    let alert = sample_alert(OffsetDateTime::now_utc())?;
    let stop = CancellationToken::new();
    let mut failed = 0;
    for index in chosen.iter().copied() {
        let destination = &config.destinations[index];
        let payload = failwatch_core::render(&alert, destination.kind, &RenderOptions::default());
        // A deadline of now allows exactly one attempt: the first failure is reported, not retried.
        let outcome = deliverer
            .deliver(index, &payload, Instant::now(), &stop)
            .await;
        let who = format!(
            "{} ({})",
            destination.name,
            crate::config::type_name(destination.kind)
        );
        let line = match &outcome {
            Delivery::Delivered { duration, .. } => {
                format!("{who}: OK, HTTP 2xx in {} ms", duration.as_millis())
            }
            Delivery::Rejected { failure } => {
                failed += 1;
                format!("{who}: FAILED: {failure}")
            }
            Delivery::Deferred { failure, .. } => {
                failed += 1;
                format!("{who}: FAILED (the worker would retry this): {failure}")
            }
        };
        say(out, &line)?;
    }
    if failed > 0 {
        return Err(OpsError::Incomplete(format!(
            "{failed} of {} destination(s) did not accept the test alert",
            chosen.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_a_marked_real_alert() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let alert = sample_alert(now).unwrap();
        assert!(
            alert
                .title
                .starts_with("[failwatch test] ECS task failed: payments-api"),
            "{}",
            alert.title
        );
        assert!(alert.summary.contains("nothing failed"));
        assert_eq!(alert.group_key, TEST_KEY);
        assert_eq!(alert.time, "2027-01-15T08:00:00Z");
        assert_eq!(alert.kind.as_str(), "ecs_task");
        assert!(alert.task.is_some(), "the sample keeps the task details");
    }
}
