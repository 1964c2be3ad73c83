//! `failwatch run` on a machine without AWS credentials (rough edge 6 of issue 9): it used to write 21
//! WARN lines of up to 970 characters in 35 s, full of the SDK's `Debug` dumps (`SdkBody { inner:
//! Once(...) }`, response headers), plus one `receiving messages failed` per poller and retry. Now it
//! says once, clearly, what is missing, repeats that at the backoff's slowing pace, and is not ready.
//!
//! The worker runs with an empty environment (as `env -i` would give it) plus only what keeps every byte
//! on loopback: the SQS endpoint is a loopback port nobody listens on, and the EC2 instance metadata
//! endpoint — the default credential chain's last resort — is either a refused loopback port (a machine
//! off EC2) or a loopback server refusing every request with 403 (a proxy that denies it, which is how
//! the machine answered).

use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;

use crate::support::free_port;
use crate::support::worker::{FAILWATCH, signal};

/// How long the worker runs without credentials.
const RUN_FOR: Duration = Duration::from_secs(12);
/// The sentence a user needs.
const CLEAR_LINE: &str = "no AWS credentials found: set AWS_PROFILE";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_off_ec2_the_worker_says_so_in_one_clear_line_and_is_not_ready() {
    let refused = format!("http://127.0.0.1:{}", free_port());
    assert_clear_and_not_ready(&refused).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_behind_a_proxy_refusing_imds_the_worker_says_so_in_one_clear_line() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind on loopback");
    let imds = format!("http://{}", listener.local_addr().expect("bound"));
    let app = Router::new()
        .fallback(|| async { (StatusCode::FORBIDDEN, "resolve_deny: denied destination") });
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("IMDS stand-in");
    });
    assert_clear_and_not_ready(&imds).await;
    server.abort();
}

/// Runs the worker for [`RUN_FOR`] with `imds` as the instance metadata endpoint, checking `/readyz`
/// all along, then stops it and checks its logs.
async fn assert_clear_and_not_ready(imds: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let admin = format!("127.0.0.1:{}", free_port());
    let config = dir.path().join("failwatch.toml");
    // No log_filter: the default one is what a user gets.
    std::fs::write(
        &config,
        format!(
            "[sqs]\nqueue_url = \"https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch\"\n\
             [admin]\nlisten = \"{admin}\"\n\n[[destinations]]\nname = \"chat\"\ntype = \"webhook\"\n\
             url_env = \"FW_CHAT_URL\"\n"
        ),
    )
    .expect("write config");
    let child = tokio::process::Command::new(FAILWATCH)
        .args(["run", "--config"])
        .arg(&config)
        .env_clear()
        // An empty home: no ~/.aws profile to find.
        .env("HOME", dir.path())
        .env(
            "FW_CHAT_URL",
            format!("http://127.0.0.1:{}/hook", free_port()),
        )
        .env(
            "AWS_ENDPOINT_URL_SQS",
            format!("http://127.0.0.1:{}", free_port()),
        )
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn failwatch run");

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client");
    let started = std::time::Instant::now();
    let mut answered = 0;
    while started.elapsed() < RUN_FOR {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Ok(response) = http.get(format!("http://{admin}/readyz")).send().await {
            answered += 1;
            assert_eq!(
                response.status().as_u16(),
                503,
                "ready without ever polling SQS"
            );
        }
    }
    assert!(answered > 5, "the admin server hardly answered");

    signal(child.id().expect("running"), "TERM");
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("failwatch stops on SIGTERM")
        .expect("wait for failwatch");
    let logs = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    eprintln!("--- failwatch logs\n{logs}");
    assert!(output.status.success(), "exit status {}", output.status);

    let lines: Vec<&str> = logs.lines().collect();
    let failures = lines
        .iter()
        .filter(|line| line.contains("receiving messages failed"))
        .count();
    assert!(
        failures >= 2,
        "the failure should repeat while it lasts: {failures}"
    );
    assert!(
        failures <= 7,
        "{failures} failure lines in {RUN_FOR:?}: not backed off"
    );
    assert!(
        lines.iter().any(|line| line.contains(CLEAR_LINE)),
        "no line says what is missing"
    );
    for line in &lines {
        assert!(!line.contains("SdkBody"), "a Debug dump: {line}");
        assert!(!line.contains("headers"), "a Debug dump: {line}");
        assert!(line.len() <= 500, "{} characters: {line}", line.len());
    }
    // Started, the failures, and the shutdown's three lines; nothing from the SDK itself.
    assert!(
        lines.len() <= failures + 5,
        "{} lines, {failures} of them failures",
        lines.len()
    );
}
