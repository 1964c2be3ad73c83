//! A local chat receiver whose answers a test scripts: it records every request, checks the payload has
//! the shape its chat service requires, and answers each request with the next scripted [`Reply`]
//! (200 once the script runs out, unless the test set another default).
//!
//! One receiver serves every service on one port; the first path segment says which service a
//! destination pretends to be (`/slack/...`, `/teams/...`), the rest of the URL is the secret part the
//! tests look for in the worker's logs.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use tokio::sync::watch;

/// The five chat services a destination can be.
pub(crate) const SERVICES: [&str; 5] = ["google-chat", "slack", "teams", "discord", "webhook"];

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// 200 with an empty JSON object.
    Ok,
    /// Any status without special headers (5xx, 4xx).
    Status(u16),
    /// 429 with `Retry-After: secs`.
    RetryAfter(u64),
    /// Waits, then answers 200: for timeouts and for shutdowns in the middle of a delivery.
    Slow(Duration),
    /// Closes the connection without answering.
    Reset,
    /// Answers with this (error) status and a text that quotes the request's secret URL parts: the
    /// whole secret path, and its first segment alone, as some services name "the webhook" in errors.
    Echo(u16),
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) service: String,
    /// Everything after the service segment: the per-destination secret.
    pub(crate) secret_path: String,
    pub(crate) body: Value,
    /// What is wrong with the payload for its service; empty when it is valid.
    pub(crate) problems: Vec<String>,
    pub(crate) reply: Reply,
    pub(crate) at: Instant,
    /// Whether the answer was sent: false while a slow reply is pending or after the client gave up.
    pub(crate) answered: bool,
}

#[derive(Debug, Default)]
struct Script {
    replies: HashMap<String, VecDeque<Reply>>,
    defaults: HashMap<String, Reply>,
}

#[derive(Debug)]
struct Shared {
    script: Mutex<Script>,
    requests: Mutex<Vec<Request>>,
    count: watch::Sender<usize>,
}

/// A running receiver; stops when dropped.
#[derive(Debug)]
pub(crate) struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts a receiver on a free loopback port.
    pub(crate) async fn start() -> Receiver {
        let shared = Arc::new(Shared {
            script: Mutex::new(Script::default()),
            requests: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
        });
        let app = Router::new()
            .route("/{service}/{*secret}", post(handle))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            addr,
            shared,
            server,
        }
    }

    /// A destination URL for `service` whose path and query carry `secret`, which must never be logged.
    pub(crate) fn url(&self, service: &str, secret: &str) -> String {
        format!(
            "http://{}/{service}/{secret}/hook?token={secret}-query",
            self.addr
        )
    }

    /// Queues replies for the next requests to `service`, in order.
    pub(crate) fn script(&self, service: &str, replies: impl IntoIterator<Item = Reply>) {
        let mut script = self.shared.script.lock().expect("script lock");
        script
            .replies
            .entry(service.to_owned())
            .or_default()
            .extend(replies);
    }

    /// The reply for `service` once its script runs out (200 unless set).
    pub(crate) fn default_reply(&self, service: &str, reply: Reply) {
        let mut script = self.shared.script.lock().expect("script lock");
        script.defaults.insert(service.to_owned(), reply);
    }

    /// Every request so far.
    pub(crate) fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().expect("requests lock").clone()
    }

    /// Requests to `service` answered 200 (a slow reply counts once it was actually sent).
    pub(crate) fn accepted(&self, service: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|request| {
                request.service == service
                    && request.answered
                    && matches!(request.reply, Reply::Ok | Reply::Slow(_))
            })
            .collect()
    }

    /// Waits until at least `count` requests arrived, or panics after `limit`.
    pub(crate) async fn wait_requests(&self, count: usize, limit: Duration) {
        let mut seen = self.shared.count.subscribe();
        let waited = tokio::time::timeout(limit, seen.wait_for(|n| *n >= count)).await;
        assert!(
            waited.is_ok(),
            "receiver got {} requests after {limit:?}, expected at least {count}",
            self.requests().len()
        );
    }

    /// Panics unless every recorded payload has its service's required shape.
    pub(crate) fn assert_payloads_valid(&self) {
        for request in self.requests() {
            assert!(
                request.problems.is_empty(),
                "invalid {} payload: {:?}\n{}",
                request.service,
                request.problems,
                request.body
            );
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((service, secret_path)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = {
        let mut script = shared.script.lock().expect("script lock");
        let next = script
            .replies
            .get_mut(&service)
            .and_then(VecDeque::pop_front);
        next.or_else(|| script.defaults.get(&service).cloned())
            .unwrap_or(Reply::Ok)
    };
    let mut problems = Vec::new();
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_json {
        problems.push("Content-Type is not application/json".to_owned());
    }
    let body = match serde_json::from_slice::<Value>(&body) {
        Ok(body) => {
            problems.extend(payload_problems(&service, &body));
            body
        }
        Err(err) => {
            problems.push(format!("body is not JSON: {err}"));
            Value::String(String::from_utf8_lossy(&body).into_owned())
        }
    };
    let echoed_path = secret_path.clone();
    let index = {
        let mut requests = shared.requests.lock().expect("requests lock");
        requests.push(Request {
            service,
            secret_path,
            body,
            problems,
            reply: reply.clone(),
            at: Instant::now(),
            answered: !matches!(reply, Reply::Slow(_) | Reply::Reset),
        });
        shared.count.send_replace(requests.len());
        requests.len() - 1
    };
    match reply {
        Reply::Ok => ok(),
        Reply::Status(code) => StatusCode::from_u16(code)
            .expect("scripted status")
            .into_response(),
        Reply::RetryAfter(secs) => {
            let mut response = StatusCode::TOO_MANY_REQUESTS.into_response();
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&secs.to_string()).expect("header value"),
            );
            response
        }
        Reply::Slow(delay) => {
            // When the client gives up first, hyper drops this future here and the request stays
            // unanswered.
            tokio::time::sleep(delay).await;
            shared.requests.lock().expect("requests lock")[index].answered = true;
            ok()
        }
        // Unwinding out of the handler ends the connection's task before any response byte is written,
        // so the client sees the connection close mid-request. `resume_unwind` skips the panic hook, so
        // nothing is printed.
        Reply::Reset => std::panic::resume_unwind(Box::new("scripted connection reset")),
        Reply::Echo(code) => {
            let first = echoed_path.split('/').next().unwrap_or_default();
            (
                StatusCode::from_u16(code).expect("scripted status"),
                format!("no such webhook {first} (request to {echoed_path})"),
            )
                .into_response()
        }
    }
}

fn ok() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "{}",
    )
        .into_response()
}

/// What is wrong with `body` as a payload for `service`, per that service's documented webhook format.
pub(crate) fn payload_problems(service: &str, body: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut require = |ok: bool, what: &str| {
        if !ok {
            problems.push(what.to_owned());
        }
    };
    let non_empty_str = |value: &Value| value.as_str().is_some_and(|text| !text.is_empty());
    match service {
        "google-chat" => {
            require(non_empty_str(&body["text"]), "text fallback missing");
            let cards = body["cardsV2"].as_array();
            require(
                cards.is_some_and(|cards| !cards.is_empty()),
                "cardsV2 missing",
            );
            if let Some(card) = cards.and_then(|cards| cards.first()) {
                require(non_empty_str(&card["cardId"]), "cardsV2[0].cardId missing");
                require(
                    card["card"]["sections"].is_array(),
                    "cardsV2[0].card.sections missing",
                );
            }
            require(
                body.to_string().len() <= 32_000,
                "payload larger than 32,000 bytes",
            );
        }
        "slack" => {
            require(non_empty_str(&body["text"]), "top-level text missing");
            let blocks = body["blocks"].as_array();
            require(
                blocks.is_some_and(|blocks| !blocks.is_empty()),
                "blocks missing",
            );
            require(
                blocks.is_none_or(|blocks| blocks.len() <= 50),
                "more than 50 blocks",
            );
        }
        "teams" => {
            let attachment = &body["attachments"][0];
            require(
                attachment["contentType"] == "application/vnd.microsoft.card.adaptive",
                "attachments[0].contentType is not an Adaptive Card",
            );
            require(
                attachment["content"]["type"] == "AdaptiveCard",
                "attachments[0].content.type is not AdaptiveCard",
            );
            let version = attachment["content"]["version"].as_str().unwrap_or("");
            require(
                matches!(version, "1.0" | "1.1" | "1.2" | "1.3" | "1.4"),
                "Adaptive Card version above 1.4",
            );
        }
        "discord" => {
            let embeds = body["embeds"].as_array();
            require(
                embeds.is_some_and(|embeds| !embeds.is_empty() && embeds.len() <= 10),
                "embeds missing or more than 10",
            );
            require(
                body["allowed_mentions"]["parse"]
                    .as_array()
                    .is_some_and(Vec::is_empty),
                "allowed_mentions.parse is not []",
            );
        }
        "webhook" => {
            match body["schema"].as_str() {
                Some("failwatch.alert.v1") => {
                    require(non_empty_str(&body["dedup_key"]), "dedup_key missing");
                }
                Some("failwatch.digest.v1") => {
                    require(non_empty_str(&body["group_key"]), "group_key missing");
                    require(
                        body["dedup_keys"].as_array().map(Vec::len)
                            == body["count"].as_u64().and_then(|n| usize::try_from(n).ok()),
                        "dedup_keys do not number count",
                    );
                }
                Some("failwatch.recovery.v1") => {
                    require(non_empty_str(&body["group_key"]), "group_key missing");
                }
                _ => require(false, "schema is not a failwatch document"),
            }
            require(non_empty_str(&body["title"]), "title missing");
        }
        other => problems.push(format!("unknown service {other}")),
    }
    problems
}
