//! Delivery: pacing on paused tokio time; status handling and connection reuse against a tiny local
//! receiver whose answers each test scripts. The retry loop itself is tested in `crate::retry`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap as AxumHeaders, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use reqwest::Url;

use super::scrub::scrub;
use super::*;
use crate::retry::MIN_HANDBACK;
use crate::retry::tests::policy;

fn target(rate: f64, burst: u32) -> Target {
    let destination = destination(
        "http://127.0.0.1:9/x",
        failwatch_core::Target::Slack,
        rate,
        burst,
    );
    Target::new(&destination)
}

/// A turn taken and spent at once, as a post that goes out as soon as it may.
async fn pace(target: &Target, deadline: Instant, stop: &CancellationToken) -> Result<(), Failure> {
    let turn = pacing::pace(target, deadline, stop).await?;
    turn.went_out(Instant::now());
    Ok(())
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

#[tokio::test(start_paused = true)]
async fn pacing_spends_the_burst_then_one_token_per_period() {
    let target = target(2.0, 3);
    let stop = CancellationToken::new();
    let started = Instant::now();
    for _ in 0..3 {
        pace(&target, far(), &stop).await.unwrap();
    }
    assert_eq!(started.elapsed(), Duration::ZERO, "the burst is immediate");
    for _ in 0..4 {
        pace(&target, far(), &stop).await.unwrap();
    }
    // Four more at two per second.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1990) && elapsed <= Duration::from_millis(2010),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn pacing_never_holds_a_message_past_a_stop() {
    // One request every ten seconds: a backlog would wait minutes for its turn.
    let target = target(0.1, 1);
    let stop = CancellationToken::new();
    pace(&target, far(), &stop).await.unwrap();
    let started = Instant::now();
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stop.cancel();
        })
    };
    assert_eq!(pace(&target, far(), &stop).await, Err(Failure::Stopped));
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    stopper.await.unwrap();
    // A wait that has not started is not started at all.
    assert_eq!(pace(&target, far(), &stop).await, Err(Failure::Stopped));
    assert_eq!(started.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn a_request_that_may_go_at_once_still_goes_during_shutdown() {
    let target = target(1.0, 1);
    let stop = CancellationToken::new();
    stop.cancel();
    assert_eq!(pace(&target, far(), &stop).await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_holds_every_message_to_the_destination() {
    let target = target(1000.0, 1000);
    let stop = CancellationToken::new();
    let started = Instant::now();
    target.hold.extend_to(started + Duration::from_secs(3));
    // An earlier hold never shortens a later one.
    target.hold.extend_to(started + Duration::from_secs(1));
    // A message whose deadline the hold overruns gives up at once, deferred by the rest of the hold.
    assert_eq!(
        pace(&target, started + Duration::from_secs(2), &stop).await,
        Err(Failure::RateLimited {
            retry_after: Some(Duration::from_secs(3))
        })
    );
    assert_eq!(started.elapsed(), Duration::ZERO);
    // Any other message waits the hold out.
    pace(&target, far(), &stop).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    // Then the destination is free again.
    pace(&target, far(), &stop).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_hold_ends_early_for_a_stop() {
    let target = target(1000.0, 1000);
    let stop = CancellationToken::new();
    let started = Instant::now();
    target.hold.extend_to(started + Duration::from_secs(30));
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            stop.cancel();
        })
    };
    assert_eq!(pace(&target, far(), &stop).await, Err(Failure::Stopped));
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    stopper.await.unwrap();
}

// ------------------------------------------------------------------------------------------------
// Against a local receiver.

fn destination(url: &str, kind: failwatch_core::Target, rate: f64, burst: u32) -> Destination {
    Destination {
        name: "test-dest".into(),
        kind,
        url: SecretUrl::new(Url::parse(url).unwrap()),
        source: crate::config::UrlSource::Literal(SecretUrl::new(Url::parse(url).unwrap())),
        rate_per_second: rate,
        burst,
        timeout: Duration::from_secs(1),
    }
}

/// Status, Retry-After and delay of one scripted answer.
type Answer = (u16, Option<&'static str>, Duration);
/// Query and body of one received request.
type Request = (Option<String>, String);

#[derive(Clone, Default)]
struct Receiver {
    /// Answers to give, in order: status, Retry-After, delay. Empty: 200.
    script: Arc<Mutex<VecDeque<Answer>>>,
    /// (query, body) of every request.
    seen: Arc<Mutex<Vec<Request>>>,
}

async fn receive(
    State(rx): State<Receiver>,
    RawQuery(query): RawQuery,
    body: String,
) -> impl IntoResponse {
    rx.seen.lock().unwrap().push((query, body));
    let next = rx.script.lock().unwrap().pop_front();
    let (status, retry_after, delay) = next.unwrap_or((200, None, Duration::ZERO));
    tokio::time::sleep(delay).await;
    let mut headers = AxumHeaders::new();
    if let Some(value) = retry_after {
        headers.insert("retry-after", value.parse().unwrap());
    }
    (
        AxumStatus::from_u16(status).unwrap(),
        headers,
        "echo /hook/SECRET-PATH invalid_payload",
    )
}

/// Starts a receiver on a loopback port; returns it and its webhook URL.
async fn receiver(script: Vec<Answer>) -> (Receiver, String) {
    let rx = Receiver::default();
    rx.script.lock().unwrap().extend(script);
    let app = axum::Router::new().fallback(receive).with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (rx, format!("http://{addr}/hook/SECRET-PATH"))
}

fn deliverer(url: &str, kind: failwatch_core::Target, budget_secs: u64) -> Deliverer {
    let mut p = policy(budget_secs);
    p.initial_delay = Duration::from_millis(10);
    p.max_delay = Duration::from_millis(50);
    Deliverer::new(&[destination(url, kind, 1000.0, 1000)], p).unwrap()
}

async fn deliver(d: &Deliverer, budget_secs: u64) -> Delivery {
    d.deliver(
        0,
        r#"{"text":"hi"}"#,
        Instant::now() + Duration::from_secs(budget_secs),
        &CancellationToken::new(),
    )
    .await
}

#[tokio::test]
async fn a_2xx_is_delivered_once_with_the_exact_payload() {
    let (rx, url) = receiver(vec![(204, None, Duration::ZERO)]).await;
    let d = deliverer(&url, failwatch_core::Target::Slack, 5);
    let delivery = deliver(&d, 5).await;
    assert!(
        matches!(delivery, Delivery::Delivered { attempts: 1, .. }),
        "{delivery:?}"
    );
    let seen = rx.seen.lock().unwrap().clone();
    assert_eq!(seen, vec![(None, r#"{"text":"hi"}"#.to_owned())]);
}

#[tokio::test]
async fn google_chat_posts_ask_for_threading() {
    let (rx, url) = receiver(vec![]).await;
    let d = deliverer(
        &format!("{url}?key=K&token=T"),
        failwatch_core::Target::GoogleChat,
        5,
    );
    deliver(&d, 5).await;
    let (query, _) = rx.seen.lock().unwrap()[0].clone();
    assert_eq!(
        query.as_deref(),
        Some("key=K&token=T&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD")
    );
}

#[tokio::test]
async fn server_errors_and_429_are_retried_until_accepted() {
    let (rx, url) = receiver(vec![
        (500, None, Duration::ZERO),
        (429, Some("1"), Duration::ZERO),
        (200, None, Duration::ZERO),
    ])
    .await;
    let d = deliverer(&url, failwatch_core::Target::Json, 5);
    let started = std::time::Instant::now();
    let delivery = deliver(&d, 5).await;
    assert!(
        matches!(delivery, Delivery::Delivered { attempts: 3, .. }),
        "{delivery:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(rx.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_permanent_4xx_is_attempted_once_and_its_answer_scrubbed() {
    let (rx, url) = receiver(vec![(404, None, Duration::ZERO); 5]).await;
    let d = deliverer(&url, failwatch_core::Target::Discord, 5);
    let delivery = deliver(&d, 5).await;
    let Delivery::Rejected { failure } = &delivery else {
        panic!("{delivery:?}")
    };
    let text = failure.to_string();
    assert!(
        text.starts_with("HTTP 404 rejected: echo **** invalid_payload"),
        "{text}"
    );
    assert!(!text.contains("SECRET"), "{text}");
    assert_eq!(rx.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_slow_receiver_times_out_and_is_deferred_when_the_budget_is_spent() {
    let (_rx, url) = receiver(vec![(200, None, Duration::from_secs(3)); 3]).await;
    let d = deliverer(&url, failwatch_core::Target::Teams, 1);
    let delivery = deliver(&d, 1).await;
    let Delivery::Deferred { failure, retry_in } = &delivery else {
        panic!("{delivery:?}")
    };
    assert_eq!(failure, &Failure::Timeout { status: None });
    assert!(*retry_in >= MIN_HANDBACK);
}

#[tokio::test]
async fn connection_errors_are_transient_and_never_show_the_url() {
    // Bind and drop, so nothing listens on the port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = deliverer(
        &format!("http://127.0.0.1:{port}/hook/SECRET-PATH"),
        failwatch_core::Target::Json,
        0,
    );
    let delivery = deliver(&d, 0).await;
    let Delivery::Deferred { failure, .. } = &delivery else {
        panic!("{delivery:?}")
    };
    assert!(matches!(failure, Failure::Network { .. }), "{failure:?}");
    let shown = format!("{failure} {failure:?} {delivery:?} {d:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
}

#[tokio::test]
async fn a_retry_after_from_one_message_holds_the_next_message_too() {
    let (rx, url) = receiver(vec![(429, Some("1"), Duration::ZERO)]).await;
    let d = deliverer(&url, failwatch_core::Target::Slack, 5);
    let started = std::time::Instant::now();
    // The first message has no budget left for the wait, so it is deferred by it.
    let first = deliver(&d, 0).await;
    assert!(
        matches!(&first, Delivery::Deferred { retry_in, .. } if *retry_in >= Duration::from_secs(1)),
        "{first:?}"
    );
    // The second message waits out the destination's Retry-After before its own first request.
    let second = deliver(&d, 5).await;
    assert!(
        matches!(second, Delivery::Delivered { attempts: 1, .. }),
        "{second:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "the second message posted {:?} after a Retry-After of 1 s",
        started.elapsed()
    );
    assert_eq!(rx.seen.lock().unwrap().len(), 2);
}

/// A deliverer paced at a thousand a second with a burst of two: pacing alone would admit two thousand
/// within a 2 s horizon, its slow-start window two.
fn windowed_deliverer(url: &str) -> Deliverer {
    let destination = destination(url, failwatch_core::Target::Json, 1000.0, 2);
    Deliverer::new(&[destination], policy(5)).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_fresh_deliverer_admits_a_small_window_that_answers_widen() {
    let d = windowed_deliverer("http://127.0.0.1:9/hook");
    let horizon = Duration::from_secs(2);
    assert_eq!(d.admission(horizon), Admission::Receive(2));
    // Both received and in progress: the window is full and opens only with an answer, so the poller
    // looks again shortly, whatever pacing allows.
    let in_progress: Vec<Ticket> = (0..2).map(|_| d.enqueue(0)).collect();
    assert_eq!(
        d.admission(horizon),
        Admission::WaitUntil(Instant::now() + Duration::from_millis(10))
    );
    // Two accepted answers: two more.
    d.accepted(0);
    d.accepted(0);
    assert_eq!(d.admission(horizon), Admission::Receive(2));
    drop(in_progress);
    assert_eq!(d.admission(horizon), Admission::Receive(4));
    // A Retry-After restarts the window: once the hold is over, two again.
    d.hold_until(0, Instant::now() + Duration::from_secs(1));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(d.admission(horizon), Admission::Receive(2));
}

#[tokio::test]
async fn accepted_answers_widen_admission_and_a_retry_after_restarts_it() {
    let ok = (200, None, Duration::ZERO);
    let (_rx, url) = receiver(vec![ok, ok, ok, (429, Some("1"), Duration::ZERO)]).await;
    let d = windowed_deliverer(&url);
    let horizon = Duration::from_secs(2);
    assert_eq!(d.admission(horizon), Admission::Receive(2));
    for _ in 0..3 {
        deliver(&d, 5).await;
    }
    assert_eq!(d.admission(horizon), Admission::Receive(5));
    // No budget left for the wait: deferred at once, and the destination held for a second.
    let deferred = deliver(&d, 0).await;
    assert!(
        matches!(deferred, Delivery::Deferred { .. }),
        "{deferred:?}"
    );
    assert_eq!(d.admission(horizon), Admission::Receive(2));
}

const TEAMS_LIKE: &str =
    "/webhookb2/0123abcd-tenant@9876fedc/IncomingWebhook/SEGMENTSECRET42/guid-0042";

#[test]
fn scrub_removes_every_secret_part_raw_and_decoded() {
    let url = SecretUrl::new(
        Url::parse(&format!(
            "https://example.webhook.office.com{TEAMS_LIKE}?api-version=1&sig=Sig%2BSECRET%3D%3Dvalue&key=KEYSECRET123"
        ))
        .unwrap(),
    );
    let echoed = [
        url.expose().as_str().to_owned(),
        TEAMS_LIKE.to_owned(),
        "api-version=1&sig=Sig%2BSECRET%3D%3Dvalue&key=KEYSECRET123".to_owned(),
        "bad signature Sig%2BSECRET%3D%3Dvalue".to_owned(),
        "bad signature Sig+SECRET==value".to_owned(),
        "unknown key KEYSECRET123".to_owned(),
        "no such webhook SEGMENTSECRET42".to_owned(),
        "tenant 0123abcd-tenant@9876fedc".to_owned(),
        "tenant 0123abcd-tenant%409876fedc".to_owned(),
    ];
    for body in echoed {
        let scrubbed = scrub(&body, &url);
        for secret in ["SECRET", "0123abcd", "9876fedc"] {
            assert!(!scrubbed.contains(secret), "{body} -> {scrubbed}");
        }
    }
    // Short, structural parts survive, so the text stays readable.
    assert_eq!(
        scrub("api-version=1 invalid", &url),
        "api-version=1 invalid"
    );
}

#[test]
fn scrub_redacts_tokens_the_answer_quotes() {
    let url =
        SecretUrl::new(Url::parse("https://discord.com/api/webhooks/1/SECRETTOKEN42").unwrap());
    let body =
        "error: invalid token sk_live_4eC39HqLyjWDarjtT1zdp7dc path /api/webhooks/1/SECRETTOKEN42";
    let scrubbed = scrub(body, &url);
    assert!(!scrubbed.contains("sk_live_4eC39"), "{scrubbed}");
    assert!(!scrubbed.contains("SECRETTOKEN42"), "{scrubbed}");
    assert_eq!(scrub("unknown webhook", &url), "unknown webhook");
}

/// A receiver that rejects every request with an answer quoting the request's URL in several forms.
async fn echoing_receiver() -> String {
    async fn echo(uri: axum::http::Uri) -> impl IntoResponse {
        let path = uri.path().to_owned();
        let query = uri.query().unwrap_or_default().to_owned();
        let decoded: Vec<String> = Url::parse(&format!("http://x/?{query}"))
            .unwrap()
            .query_pairs()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let segments: Vec<&str> = path.split('/').collect();
        (
            AxumStatus::FORBIDDEN,
            format!(
                "forbidden: path {path} query {query} decoded {} segments {}",
                decoded.join(" "),
                segments.join(" ")
            ),
        )
    }
    let app = axum::Router::new().fallback(echo);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_rejection_echoing_the_token_never_shows_it() {
    let base = echoing_receiver().await;
    let d = deliverer(
        &format!("{base}{TEAMS_LIKE}?api-version=1&sig=Sig%2BSECRET%3D%3Dvalue"),
        failwatch_core::Target::Teams,
        5,
    );
    let delivery = deliver(&d, 5).await;
    let Delivery::Rejected { failure } = &delivery else {
        panic!("{delivery:?}")
    };
    let shown = format!("{failure} {failure:?} {delivery:?}");
    assert!(shown.contains("HTTP 403 rejected: forbidden"), "{shown}");
    for secret in ["SECRET", "0123abcd", "9876fedc"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

/// A rejecting service whose answer never ends: only reading a bounded start of it gives a result
/// within the destination's timeout.
#[tokio::test]
async fn only_the_start_of_an_error_answer_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        let head = "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("{:x}\r\n{}\r\n", 1024, "x".repeat(1024));
        // Bounded: ten seconds of answer at most, far past the one-second timeout.
        for _ in 0..10_000 {
            if socket.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let d = deliverer(
        &format!("http://{addr}/hook"),
        failwatch_core::Target::Json,
        5,
    );
    let started = std::time::Instant::now();
    let delivery = deliver(&d, 5).await;
    // Reading on until the destination's one-second timeout would also end the read; the bound ends it
    // after the first few kilobytes.
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
    let Delivery::Rejected { failure } = &delivery else {
        panic!("{delivery:?}")
    };
    assert!(
        failure.to_string().starts_with("HTTP 400 rejected: xxx"),
        "{failure}"
    );
    server.abort();
}

/// Starts a receiver that answers every post 200 with `body` (Slack answers `ok`, Google Chat the
/// created message) and records the client port of each request: one port per connection.
async fn port_recording_receiver(body: &'static str) -> (Arc<Mutex<Vec<u16>>>, String) {
    use axum::extract::ConnectInfo;
    let ports = Arc::new(Mutex::new(Vec::new()));
    let seen = ports.clone();
    let app = axum::Router::new().fallback(
        move |ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>| {
            seen.lock().unwrap().push(peer.port());
            std::future::ready(body)
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    (ports, format!("http://{addr}/hook"))
}

#[tokio::test]
async fn sequential_posts_reuse_one_connection_whatever_the_answer_body() {
    // The last answer is longer than what arrives with the response's head: a connection whose answer
    // was dropped unread could not be reused.
    let long: &'static str = "x".repeat(20_000).leak();
    for body in [
        "",
        "ok",
        r#"{"name":"spaces/AAAA/messages/BBBB","text":"hi"}"#,
        long,
    ] {
        let (ports, url) = port_recording_receiver(body).await;
        let d = deliverer(&url, failwatch_core::Target::Json, 5);
        for _ in 0..5 {
            let delivery = deliver(&d, 5).await;
            assert!(
                matches!(delivery, Delivery::Delivered { .. }),
                "{delivery:?}"
            );
        }
        let ports = ports.lock().unwrap().clone();
        assert_eq!(ports.len(), 5);
        assert!(
            ports.iter().all(|p| *p == ports[0]),
            "an answer of {} bytes: five posts used connections from ports {ports:?}",
            body.len()
        );
    }
}

/// What a strict receiver saw: when it accepted each post, how many it refused with a 429, and whether
/// every post said its length.
#[derive(Debug, Default)]
struct StrictLog {
    accepted: Vec<std::time::Instant>,
    refused: usize,
    without_length: usize,
}

/// A receiver that takes one post per `spacing` at most, measured between arrivals, and answers any post
/// that follows the one before sooner with a 429 and `Retry-After: 1`. It runs on its own thread and
/// runtime, so stalls of the runtime that posts never shift its clock. `allowance` absorbs the
/// scheduling jitter of a shared machine between the two threads.
fn strict_receiver(spacing: Duration, allowance: Duration) -> (Arc<Mutex<StrictLog>>, String) {
    let log = Arc::new(Mutex::new(StrictLog::default()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let handler_log = Arc::clone(&log);
    let app = axum::Router::new().fallback(move |headers: AxumHeaders| {
        let log = Arc::clone(&handler_log);
        async move {
            let now = std::time::Instant::now();
            let mut log = log.lock().unwrap();
            log.without_length += usize::from(!headers.contains_key("content-length"));
            let too_soon = log
                .accepted
                .last()
                .is_some_and(|last| now.duration_since(*last) + allowance < spacing);
            if too_soon {
                log.refused += 1;
                (AxumStatus::TOO_MANY_REQUESTS, [("retry-after", "1")])
            } else {
                log.accepted.push(now);
                (AxumStatus::OK, [("retry-after", "0")])
            }
        }
    });
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await
        })
    });
    (log, format!("http://{addr}/room"))
}

/// Regression: a stall of the posting runtime (renewing visibility for thousands of in-flight messages)
/// between a post's turn and its sending let the next post follow the delayed one within 0.55 of a
/// period, and a strict receiver answered 429s.
#[tokio::test]
async fn stalls_never_draw_a_429_from_a_strict_receiver() {
    let spacing = Duration::from_millis(250);
    let (log, url) = strict_receiver(spacing, Duration::from_millis(20));
    let destination = destination(&url, failwatch_core::Target::Json, 4.0, 1);
    let d = Arc::new(Deliverer::new(&[destination], policy(30)).unwrap());
    let stalls = tokio::spawn(async {
        loop {
            // Blocks the (single-threaded) test runtime for 0.45 of a period, as the heartbeat did.
            std::thread::sleep(Duration::from_millis(110));
            tokio::time::sleep(Duration::from_millis(70)).await;
        }
    });
    let mut posts = tokio::task::JoinSet::new();
    for n in 0..20 {
        let d = Arc::clone(&d);
        posts.spawn(async move {
            let payload = format!(r#"{{"n":{n}}}"#);
            let deadline = Instant::now() + Duration::from_secs(30);
            d.deliver(0, &payload, deadline, &CancellationToken::new())
                .await
        });
    }
    while let Some(delivery) = posts.join_next().await {
        let delivery = delivery.unwrap();
        assert!(
            matches!(delivery, Delivery::Delivered { .. }),
            "{delivery:?}"
        );
    }
    stalls.abort();
    let log = log.lock().unwrap();
    assert_eq!((log.accepted.len(), log.refused), (20, 0), "{log:?}");
    assert_eq!(log.without_length, 0, "every post carries a Content-Length");
    let gaps = log.accepted.windows(2).map(|w| w[1] - w[0]);
    assert!(
        gaps.clone()
            .all(|g| g + Duration::from_millis(20) >= spacing)
    );
}

/// `n` destinations at one post a second, burst 1 (a strict room each), as in a storm with a room per
/// service and failure class.
fn rooms(n: usize) -> Deliverer {
    let destinations: Vec<Destination> = (0..n)
        .map(|i| Destination {
            name: format!("room-{i}"),
            ..destination(
                "http://127.0.0.1:9/hook",
                failwatch_core::Target::Json,
                1.0,
                1,
            )
        })
        .collect();
    Deliverer::new(&destinations, policy(5)).unwrap()
}

/// Routes `n` received messages, the i-th to destination `to(i)` (none: silent, duplicate or folded),
/// and lets every delivery finish.
fn route(deliverer: &Deliverer, n: usize, to: impl Fn(usize) -> Option<usize>) {
    for i in 0..n {
        let arrival = deliverer.arrival();
        let delivery = to(i).map(|index| deliverer.enqueue(index));
        drop(arrival);
        drop(delivery);
    }
}

#[tokio::test(start_paused = true)]
async fn until_admission_learns_where_messages_go_it_admits_what_the_roomiest_destination_serves() {
    let horizon = Duration::from_secs(2);
    let deliverer = rooms(60);
    // Nothing routed yet: any message might go to any one room, which takes two within two seconds.
    assert_eq!(deliverer.admission(horizon), Admission::Receive(2));
    // Fewer routed than it takes to learn: still the cautious rule.
    route(&deliverer, 10, |i| Some(i % 60));
    assert_eq!(deliverer.admission(horizon), Admission::Receive(2));
}

#[tokio::test(start_paused = true)]
async fn messages_spread_over_many_rooms_are_admitted_by_their_share_of_each() {
    let horizon = Duration::from_secs(2);
    let deliverer = rooms(60);
    route(&deliverer, 120, |i| Some(i % 60));
    // Each room gets one message in sixty: two turns each within the horizon serve 120 messages
    // (the poller takes at most a batch of them per receive).
    let Admission::Receive(room) = deliverer.admission(horizon) else {
        panic!("a storm over sixty rooms must not pause receiving");
    };
    assert!(room >= 100, "{room}");
    // Sixty messages not yet routed count as one ahead at each room: half the room is left.
    let arrivals: Vec<_> = (0..60).map(|_| deliverer.arrival()).collect();
    let Admission::Receive(room) = deliverer.admission(horizon) else {
        panic!("one turn each is still free");
    };
    assert!((40..=70).contains(&room), "{room}");
    drop(arrivals);
}

#[tokio::test(start_paused = true)]
async fn one_room_for_everything_is_admitted_as_before_and_a_held_room_of_many_does_not_stop_the_rest()
 {
    let horizon = Duration::from_secs(2);
    let deliverer = rooms(3);
    // Every message to room 0: its share is one, and admission is what it was.
    route(&deliverer, 40, |_| Some(0));
    assert_eq!(deliverer.admission(horizon), Admission::Receive(2));
    // Spread over three rooms, one held by a Retry-After: the other two still admit.
    let deliverer = rooms(3);
    route(&deliverer, 60, |i| Some(i % 3));
    deliverer.hold_until(0, Instant::now() + Duration::from_secs(10));
    assert!(matches!(deliverer.admission(horizon), Admission::Receive(n) if n >= 4));
}

#[tokio::test(start_paused = true)]
async fn messages_that_need_no_post_fill_a_whole_batch_and_shares_are_forgotten_with_time() {
    let horizon = Duration::from_secs(2);
    let deliverer = rooms(2);
    // Folded, silent or duplicates: no turn anywhere.
    route(&deliverer, 50, |_| None);
    assert_eq!(
        deliverer.admission(horizon),
        Admission::Receive(crate::sqs::MAX_BATCH)
    );
    // Minutes later what was learnt has decayed below what it takes to know: the cautious rule again.
    tokio::time::advance(Duration::from_secs(300)).await;
    assert_eq!(deliverer.admission(horizon), Admission::Receive(2));
}
