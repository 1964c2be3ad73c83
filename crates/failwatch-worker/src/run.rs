//! `failwatch run`: wire the admin server, the queue-depth sampler, the deleter, the consumer and the
//! digest scheduler together, and shut them down in order.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, Health};
use crate::config::Config;
use crate::consumer::{self, Deleter, Shared};
use crate::delivery::{self, Deliverer};
use crate::enrich::Enricher;
use crate::grouping;
use crate::metrics;
use crate::retry::RetryPolicy;
use crate::sqs::{Counts, Queue};

/// How often the Prometheus recorder's histograms are maintained.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// Why the worker could not run. Each means exit code 1.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    /// The admin port could not be bound. The message leaves the OS's reason to the source chain, which
    /// `main` prints once.
    #[error("admin.listen {addr}: cannot listen")]
    AdminBind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Http(#[from] delivery::ClientError),
}

/// Runs the worker until `shutdown` is cancelled, then drains and returns.
///
/// Start-up does no network I/O before the admin port is listening and the pollers are running; the
/// first receive makes the worker ready.
pub(crate) async fn run(
    config: Arc<Config>,
    sqs: aws_sdk_sqs::Client,
    metrics_handle: PrometheusHandle,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let listener = TcpListener::bind(config.admin.listen)
        .await
        .map_err(|source| RunError::AdminBind {
            addr: config.admin.listen,
            source,
        })?;
    let deliverer = Deliverer::new(&config.destinations, RetryPolicy::from_config(&config))?;
    let health = Arc::new(Health::new(config.admin.readiness_max_poll_age));
    let queue = Queue::new(sqs, config.sqs.queue_url.clone());
    let background = CancellationToken::new();

    let admin_task = tokio::spawn(admin::serve(
        listener,
        metrics_handle.clone(),
        health.clone(),
        background.clone(),
    ));
    let upkeep_task = tokio::spawn(upkeep(metrics_handle, background.clone()));
    let sampler_task = tokio::spawn(sample_queues(
        config.clone(),
        queue.clone(),
        background.clone(),
    ));
    let (deleter, deleter_task) = Deleter::start(queue.clone());
    tracing::info!(
        admin = %config.admin.listen,
        queue = %config.sqs.queue_url,
        pollers = config.sqs.pollers,
        max_in_flight = config.sqs.max_in_flight,
        destinations = config.destinations.len(),
        "failwatch started"
    );

    let watcher_task = {
        let health = health.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            health.shutting_down();
            tracing::info!("shutdown requested: no more polling");
        })
    };
    let enricher = Enricher::new(&config.enrichment).await;
    let mut shared = Shared::new(config, queue, deliverer, deleter, health, shutdown);
    shared.enricher = enricher;
    let shared = Arc::new(shared);
    let digests_done = CancellationToken::new();
    let digests_task = tokio::spawn(grouping::digest::run(shared.clone(), digests_done.clone()));
    consumer::consume(shared.clone()).await;
    // Every message task has ended, held ones included: no digest is waited for any more.
    digests_done.cancel();
    if let Err(err) = digests_task.await {
        tracing::error!(error = %err, "the digest scheduler failed");
    }
    // Dropping the last `Shared` drops the last deleter handle, so the deleter flushes what is pending
    // and stops.
    drop(shared);
    if let Err(err) = deleter_task.await {
        tracing::error!(error = %err, "the deleter task failed");
    }
    watcher_task.abort();
    background.cancel();
    match admin_task.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!(error = %err, "the admin server failed"),
        Err(err) => tracing::error!(error = %err, "the admin server task failed"),
    }
    let _ = upkeep_task.await;
    let _ = sampler_task.await;
    tracing::info!("failwatch stopped");
    Ok(())
}

async fn upkeep(handle: PrometheusHandle, stop: CancellationToken) {
    let mut ticker = tokio::time::interval(METRICS_UPKEEP);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticker.tick() => handle.run_upkeep(),
        }
    }
}

/// Samples the queue's (and its DLQ's) depth into `failwatch_queue_messages`, so dashboards need no
/// CloudWatch exporter. Runs in the background: a slow or failing call never delays start-up or polling.
async fn sample_queues(config: Arc<Config>, queue: Queue, stop: CancellationToken) {
    if config.sqs.queue_metrics_interval.is_zero() {
        return;
    }
    let mut dlq = config.sqs.dlq_url.as_ref().map(|url| queue.at(url.clone()));
    let mut looked_up = dlq.is_some();
    let mut ticker = tokio::time::interval(config.sqs.queue_metrics_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        match queue.depth().await {
            Ok(depth) => set_depth("main", depth),
            Err(err) => tracing::debug!(error = %err, "could not sample the queue depth"),
        }
        if !looked_up {
            match queue.dead_letter_queue().await {
                Ok(found) => {
                    looked_up = true;
                    dlq = found.map(|found| found.queue);
                }
                Err(err) => tracing::debug!(error = %err, "could not find the dead-letter queue"),
            }
        }
        if let Some(dlq) = &dlq {
            match dlq.depth().await {
                Ok(depth) => set_depth("dlq", depth),
                Err(err) => tracing::debug!(error = %err, "could not sample the DLQ depth"),
            }
        }
    }
}

fn set_depth(queue: &'static str, depth: Counts) {
    for (state, value) in [
        ("visible", depth.visible),
        ("in_flight", depth.in_flight),
        ("delayed", depth.delayed),
    ] {
        ::metrics::gauge!(metrics::QUEUE_MESSAGES, "queue" => queue, "state" => state)
            .set(value as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9, rough edge 7: the reason was printed twice, once by this message and once as its source.
    #[test]
    fn a_busy_admin_port_is_reported_once() {
        let err = anyhow::Error::from(RunError::AdminBind {
            addr: "127.0.0.1:9090".parse().unwrap(),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        });
        let shown = format!("{err:#}");
        assert_eq!(
            shown.matches("address in use").count()
                + shown.matches("Address already in use").count(),
            1,
            "{shown}"
        );
        assert!(
            shown.starts_with("admin.listen 127.0.0.1:9090: cannot listen: "),
            "{shown}"
        );
    }
}
