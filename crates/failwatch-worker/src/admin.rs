//! The admin server on `admin_listen`: `/metrics` (Prometheus text), `/healthz` (the process is alive
//! and serving), `/readyz` (a receive call succeeded recently and the worker is not shutting down).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics;

/// The Prometheus text format's content type.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What readiness is judged on.
#[derive(Debug)]
pub(crate) struct Health {
    /// Unix milliseconds of the last successful receive; negative before the first.
    last_poll_ms: AtomicI64,
    shutting_down: AtomicBool,
    max_poll_age: Duration,
}

impl Health {
    pub(crate) fn new(max_poll_age: Duration) -> Self {
        Health {
            last_poll_ms: AtomicI64::new(-1),
            shutting_down: AtomicBool::new(false),
            max_poll_age,
        }
    }

    /// Records a successful receive call.
    pub(crate) fn polled(&self) {
        let now = OffsetDateTime::now_utc();
        let ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let first = self.last_poll_ms.swap(ms, Ordering::Relaxed) < 0;
        ::metrics::gauge!(metrics::LAST_SUCCESSFUL_POLL).set(ms as f64 / 1000.0);
        if first {
            tracing::info!("first poll succeeded; ready");
        }
    }

    pub(crate) fn shutting_down(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    /// `Ok` when ready, else why not.
    pub(crate) fn readiness(&self, now: OffsetDateTime) -> Result<(), String> {
        if self.shutting_down.load(Ordering::Relaxed) {
            return Err("shutting down".into());
        }
        let last = self.last_poll_ms.load(Ordering::Relaxed);
        if last < 0 {
            return Err("no successful poll yet".into());
        }
        let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let age = Duration::from_millis(u64::try_from(now_ms - last).unwrap_or(0));
        if age > self.max_poll_age {
            Err(format!(
                "last successful poll {}s ago (limit {}s)",
                age.as_secs(),
                self.max_poll_age.as_secs()
            ))
        } else {
            Ok(())
        }
    }
}

#[derive(Clone)]
struct AppState {
    metrics: PrometheusHandle,
    health: Arc<Health>,
}

/// The admin routes.
pub(crate) fn router(metrics: PrometheusHandle, health: Arc<Health>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(AppState { metrics, health })
}

async fn metrics_page(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
        state.metrics.render(),
    )
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.health.readiness(OffsetDateTime::now_utc()) {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}

/// Serves the admin routes on `listener` until `stop` is cancelled.
pub(crate) async fn serve(
    listener: TcpListener,
    metrics: PrometheusHandle,
    health: Arc<Health>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, health))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_the_last_poll() {
        let health = Health::new(Duration::from_secs(60));
        let now = OffsetDateTime::now_utc();
        assert_eq!(
            health.readiness(now),
            Err("no successful poll yet".to_owned())
        );
        health.polled();
        assert_eq!(health.readiness(now + Duration::from_secs(1)), Ok(()));
        let err = health
            .readiness(now + Duration::from_secs(120))
            .unwrap_err();
        assert!(err.starts_with("last successful poll 1"), "{err}");
        health.polled();
        health.shutting_down();
        assert_eq!(health.readiness(now), Err("shutting down".to_owned()));
    }

    #[tokio::test]
    async fn the_routes_answer() {
        let recorder = crate::metrics::recorder().unwrap();
        let handle = recorder.handle();
        let health = Arc::new(Health::new(Duration::from_secs(60)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(listener, handle, health.clone(), stop.clone()));
        let http = reqwest::Client::new();
        let get = |path: &'static str| {
            let http = http.clone();
            async move {
                let r = http
                    .get(format!("http://{addr}{path}"))
                    .send()
                    .await
                    .unwrap();
                let ct = r
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_owned());
                (r.status().as_u16(), ct, r.text().await.unwrap())
            }
        };
        assert_eq!(get("/healthz").await.0, 200);
        assert_eq!(get("/readyz").await.0, 503);
        health.polled();
        assert_eq!(get("/readyz").await.0, 200);
        let (status, content_type, _) = get("/metrics").await;
        assert_eq!(status, 200);
        assert_eq!(content_type.as_deref(), Some(PROMETHEUS_TEXT));
        stop.cancel();
        server.await.unwrap().unwrap();
    }
}
