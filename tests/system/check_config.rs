//! `failwatch check-config` and start-up validation: a bad configuration exits 64 naming the offending
//! key, a good one prints the effective configuration with every secret redacted.

use crate::support::failwatch;

const QUEUE: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch";
const SLACK_SECRET: &str = "T0CHECK/B0CHECK/CheckConfigSecret42";

fn check(config: &str, env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failwatch.toml");
    std::fs::write(&path, config).expect("write config");
    let output = failwatch(
        &[
            "check-config",
            "--config",
            path.to_str().expect("UTF-8 path"),
        ],
        "",
        env,
    );
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn valid_config() -> String {
    format!(
        "queue_url = \"{QUEUE}\"\n\n[[destinations]]\nname = \"platform\"\ntype = \"slack\"\n\
         url_env = \"SLACK_URL\"\n\n[[routes]]\nname = \"prod\"\ndestinations = [\"platform\"]\n\
         [routes.match]\ncluster = \"prod-*\"\n"
    )
}

fn slack_url() -> String {
    format!("https://hooks.slack.com/services/{SLACK_SECRET}")
}

#[test]
fn check_config_prints_the_effective_configuration_with_urls_redacted() {
    let url = slack_url();
    let (code, stdout, stderr) = check(&valid_config(), &[("SLACK_URL", &url)]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("platform"), "{stdout}");
    assert!(
        stdout.contains("hooks.slack.com"),
        "the host stays visible: {stdout}"
    );
    for secret in ["CheckConfigSecret42", "T0CHECK"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "check-config printed a secret"
        );
    }
}

#[test]
fn bad_configurations_exit_64_naming_the_key() {
    let url = slack_url();
    let env = [("SLACK_URL", url.as_str())];
    let base = valid_config();
    // (configuration, environment, the key the error must name)
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            format!("{base}\nqueue_urll = \"x\"\n"),
            env.to_vec(),
            "queue_urll",
        ),
        (base.clone(), vec![], "destinations[0].url_env"),
        (
            base.replace("\"platform\"]", "\"nowhere\"]"),
            env.to_vec(),
            "routes[0].destinations",
        ),
        (format!("pollers = 0\n{base}"), env.to_vec(), "pollers"),
        (
            format!("wait_time_secs = 21\n{base}"),
            env.to_vec(),
            "wait_time_secs",
        ),
        (
            base.replace("cluster = \"prod-*\"", "cluster = \"prod-[\""),
            env.to_vec(),
            "routes[0].match.cluster",
        ),
        (
            base.replace("type = \"slack\"", "type = \"pager\""),
            env.to_vec(),
            "type",
        ),
        (
            base.replace(&format!("queue_url = \"{QUEUE}\"\n"), ""),
            env.to_vec(),
            "queue_url",
        ),
    ];
    for (config, env, key) in cases {
        let (code, _, stderr) = check(&config, &env);
        assert_eq!(
            code,
            Some(64),
            "expected exit 64 for bad {key}:\n{config}\n{stderr}"
        );
        assert!(stderr.contains(key), "the error must name {key}: {stderr}");
    }
}

#[test]
fn plain_http_destinations_are_refused_unless_loopback() {
    let config = valid_config();
    let (code, _, stderr) = check(
        &config,
        &[(
            "SLACK_URL",
            "http://hooks.example.com/services/PlainHttpSecret",
        )],
    );
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("destinations[0]"), "{stderr}");
    assert!(
        !stderr.contains("PlainHttpSecret"),
        "the error leaked the URL: {stderr}"
    );

    let (code, _, stderr) = check(
        &config,
        &[("SLACK_URL", "http://127.0.0.1:9/hook/LoopSecret")],
    );
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn zero_file_shortcut_takes_the_type_from_the_host() {
    let url = slack_url();
    let output = failwatch(
        &["check-config"],
        "",
        &[
            ("FAILWATCH_QUEUE_URL", QUEUE),
            ("FAILWATCH_WEBHOOK_URL", &url),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("slack"), "{stdout}");
    assert!(!stdout.contains("CheckConfigSecret42") && !stderr.contains("CheckConfigSecret42"));
}

#[test]
fn run_with_a_bad_config_exits_64_before_polling() {
    let output = failwatch(
        &["run"],
        "",
        &[
            ("FAILWATCH_QUEUE_URL", QUEUE),
            ("FAILWATCH_POLLERS", "0"),
            (
                "FAILWATCH_WEBHOOK_URL",
                "https://hooks.slack.com/services/x",
            ),
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(64),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("pollers"));
}

/// Asserts a rejected configuration: exit 64, the key (or position) named, the secret nowhere in the
/// output.
fn assert_refused_without_leaking(config: &str, env: &[(&str, &str)], names: &str, secret: &str) {
    let (code, stdout, stderr) = check(config, env);
    assert_eq!(code, Some(64), "{stdout}{stderr}");
    assert!(
        stderr.contains(names),
        "the error must name {names}: {stderr}"
    );
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "the output leaked the secret:\n{stdout}{stderr}"
    );
}

#[test]
fn a_toml_syntax_error_shows_the_position_not_the_line() {
    // An unclosed quote on a literal URL line: toml's own error text would quote the whole line.
    let config = format!(
        "queue_url = \"{QUEUE}\"\n\n[[destinations]]\nname = \"platform\"\ntype = \"slack\"\n\
         url = \"https://hooks.slack.com/services/{SLACK_SECRET}\n"
    );
    assert_refused_without_leaking(&config, &[], "line 6, column", "CheckConfigSecret42");
}

#[test]
fn a_url_where_a_variable_name_belongs_is_refused_without_showing_it() {
    let url = slack_url();
    let base = valid_config();
    let config = base.replace("url_env = \"SLACK_URL\"", &format!("url_env = \"{url}\""));
    assert_refused_without_leaking(
        &config,
        &[("SLACK_URL", &url)],
        "destinations[0].url_env: must name an environment variable (value not shown)",
        "CheckConfigSecret42",
    );
    let config = base.replace("url_env = \"SLACK_URL\"", &format!("url_file = \"{url}\""));
    assert_refused_without_leaking(
        &config,
        &[],
        "destinations[0].url_file",
        "CheckConfigSecret42",
    );
}

/// Issue 9, rough edges 7 and 9: with `format = "json"` every stderr line is JSON, including the
/// warnings found while loading the configuration (the literal-URL warning was plain text), and a busy
/// admin port is reported with its reason once (it was repeated).
#[test]
fn run_writes_config_warnings_in_the_configured_format_and_a_busy_port_once() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port to keep busy");
    let addr = busy.local_addr().expect("local address");
    let config = format!(
        "[sqs]\nqueue_url = \"{QUEUE}\"\n\n[admin]\nlisten = \"{addr}\"\n\n[logging]\n\
         format = \"json\"\n\n[[destinations]]\nname = \"platform\"\ntype = \"slack\"\n\
         url = \"https://hooks.slack.com/services/{SLACK_SECRET}\"\n"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("failwatch.toml");
    std::fs::write(&path, config).expect("write config");
    let output = failwatch(
        &["run", "--config", path.to_str().expect("UTF-8 path")],
        "",
        &[
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}\n{stderr}"))
        })
        .collect();
    assert!(
        lines.first().is_some_and(|l| l["level"] == "WARN"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("destinations[0].url: a literal webhook URL"))),
        "{stderr}"
    );
    assert_eq!(stderr.matches("in use").count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("admin.listen {addr}: cannot listen")),
        "{stderr}"
    );
    assert!(!stderr.contains("CheckConfigSecret42"), "{stderr}");
    drop(busy);
}
