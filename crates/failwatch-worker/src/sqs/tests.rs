//! The client's region and timeouts, against real sockets on loopback.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

#[test]
fn regions_come_from_real_queue_urls_only() {
    for (url, want) in [
        (
            "https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch",
            Some("eu-west-1"),
        ),
        (
            "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q",
            Some("cn-north-1"),
        ),
        (
            "https://sqs.us-gov-west-1.amazonaws.com/123456789012/q",
            Some("us-gov-west-1"),
        ),
        (
            "https://us-east-2.queue.amazonaws.com/123456789012/q",
            Some("us-east-2"),
        ),
        (
            "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/q",
            Some("us-east-1"),
        ),
        ("http://127.0.0.1:5000/123456789012/q", None),
        ("https://queue.amazonaws.com/123456789012/q", None),
        ("not a url", None),
    ] {
        assert_eq!(region_of_queue_url(url).as_deref(), want, "{url}");
    }
}

/// A queue whose endpoint is `addr`, on a client configured exactly as [`client`] configures its
/// timeouts.
fn queue_at(addr: std::net::SocketAddr) -> Queue {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url(format!("http://{addr}"))
        .timeout_config(short_calls())
        .build();
    Queue::new(
        Client::from_conf(config),
        "http://127.0.0.1/123456789012/failwatch",
    )
}

/// Finding 6 of the review: every call inherited the 35 s long-poll attempt timeout, retried, so a
/// hung delete could outlast the message's visibility timeout.
#[tokio::test]
async fn a_delete_on_a_silent_sqs_gives_up_within_the_short_call_bound() {
    // The kernel completes the handshake for the backlog, so the request is sent and never answered.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind on loopback");
    let queue = queue_at(listener.local_addr().expect("bound"));
    let started = Instant::now();
    let err = queue
        .delete_batch(&["handle"])
        .await
        .expect_err("nothing answers");
    let took = started.elapsed();
    assert!(
        took >= SHORT_ATTEMPT_TIMEOUT && took < SHORT_OPERATION_TIMEOUT + Duration::from_secs(3),
        "gave up after {took:?}: {err}"
    );
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(err.operation, "DeleteMessageBatch");
}

/// The other side of the short calls: a long poll answered after longer than a short attempt may last
/// still succeeds, because a receive's attempt timeout follows its own wait.
#[tokio::test]
async fn a_long_poll_outlasts_the_short_call_timeout() {
    let answer_after = SHORT_ATTEMPT_TIMEOUT + Duration::from_secs(1);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind on loopback");
    let queue = queue_at(listener.local_addr().expect("bound"));
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("one connection");
        let mut request = vec![0; 64 * 1024];
        let _ = socket.read(&mut request).await;
        tokio::time::sleep(answer_after).await;
        let body = "{}";
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.expect("answer");
    });
    let started = Instant::now();
    let received = queue
        .receive(10, answer_after, Duration::from_secs(30))
        .await
        .expect("the long poll is allowed its wait");
    assert!(received.is_empty());
    assert!(started.elapsed() >= answer_after);
    server.await.expect("server task");
}

#[test]
fn a_receive_may_take_its_wait_plus_a_margin_with_no_overall_bound() {
    let timeouts = receive::long_poll_timeouts(Duration::from_secs(20));
    assert_eq!(
        timeouts.operation_attempt_timeout(),
        Some(Duration::from_secs(35))
    );
    assert_eq!(timeouts.operation_timeout(), None);
    assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
}
