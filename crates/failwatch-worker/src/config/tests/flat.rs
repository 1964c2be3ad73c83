//! The first release's flat keys and `FAILWATCH_<KEY>` variables, which keep working for one release:
//! these are the configuration tests written for them, with only the field paths updated to the
//! sections their values now live in.

use std::io::Write;
use std::time::Duration;

use failwatch_core::Target;

use super::*;
use crate::config::*;
use crate::telemetry::LogFormat;

const MINIMAL: &str = r#"
queue_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch"

[[destinations]]
name = "platform-chat"
type = "google-chat"
url_env = "CHAT_URL"
"#;

#[test]
fn a_minimal_file_gets_the_documented_defaults() {
    // The queue URL in its section: the flat key would add a deprecation warning.
    let minimal = MINIMAL.replace("queue_url", "[sqs]\nqueue_url");
    let config = load_text(&minimal, &[("CHAT_URL", CHAT)]).unwrap();
    assert_eq!(config.admin.listen.to_string(), "0.0.0.0:9090");
    assert_eq!(config.sqs.pollers, 2);
    assert_eq!(config.sqs.max_in_flight, 64);
    assert_eq!(config.sqs.wait_time, Duration::from_secs(20));
    assert_eq!(config.sqs.visibility_timeout, Duration::from_secs(60));
    assert_eq!(config.retry.budget, Duration::from_secs(30));
    assert_eq!(config.sqs.shutdown_grace, Duration::from_secs(20));
    assert_eq!(config.dedup.ttl, Duration::from_secs(3600));
    assert_eq!(config.dedup.capacity, 100_000);
    assert_eq!(
        config.admin.readiness_max_poll_age,
        Duration::from_secs(120)
    );
    let d = &config.destinations[0];
    assert_eq!(d.kind, Target::GoogleChat);
    assert_eq!(d.rate_per_second, 1.0);
    assert_eq!(d.burst, 5);
    assert_eq!(d.timeout, Duration::from_secs(10));
    assert_eq!(d.url.expose().as_str(), CHAT);
    assert_eq!(d.source, UrlSource::Env("CHAT_URL".into()));
    assert!(config.warnings.is_empty());
}

#[test]
fn the_full_contract_example_loads() {
    let text = r#"
queue_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch"
dlq_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch-dlq"
admin_listen = "127.0.0.1:9191"
pollers = 3
max_in_flight = 16
wait_time_secs = 10
visibility_timeout_secs = 90
retry_budget_secs = 20
shutdown_grace_secs = 15
dedup_ttl_secs = 600
dedup_capacity = 5000
readiness_max_poll_age_secs = 60
log_format = "text"

[[destinations]]
name = "platform-chat"
type = "google-chat"
url_env = "CHAT_URL"
rate_per_second = 0.5
burst = 2
timeout_secs = 5

[[destinations]]
name = "slack_oncall"
type = "slack"
url_env = "SLACK_URL"

[[routes]]
name = "prod-critical"
destinations = ["slack_oncall", "platform-chat"]
mention = "<!subteam^S0123ABC>"
continue = true
[routes.match]
cluster = "prod-*"
service = "*"
kind = "ecs_task"
severity = "critical"
account = "123456789012"
region = "eu-*"

[default_route]
destinations = ["platform-chat"]
"#;
    let config = load_text(text, &[("CHAT_URL", CHAT), ("SLACK_URL", SLACK)]).unwrap();
    assert_eq!(config.sqs.pollers, 3);
    assert_eq!(config.logging.format, LogFormat::Text);
    assert_eq!(config.destinations[1].rate_per_second, 1.0);
    assert_eq!(config.destinations[0].rate_per_second, 0.5);
    let route = &config.router.routes[0];
    assert_eq!(route.destination_indices, vec![1, 0]);
    assert!(route.continue_);
    assert_eq!(route.mention.as_deref(), Some("<!subteam^S0123ABC>"));
    assert_eq!(
        config
            .router
            .default_route
            .as_ref()
            .unwrap()
            .destination_indices,
        vec![0]
    );
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    let text = format!("{MINIMAL}\npolers = 3\n");
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    assert!(p[0].contains("unknown field `polers`"), "{p:?}");

    let text = MINIMAL.replace("url_env", "colour = \"red\"\nurl_env");
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    assert!(p[0].starts_with("destinations[0]"), "{p:?}");
    assert!(p[0].contains("colour"), "{p:?}");
}

#[test]
fn a_wrong_type_names_the_key() {
    let text = MINIMAL.replace("queue_url", "pollers = \"two\"\nqueue_url");
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    assert!(p[0].starts_with("pollers: "), "{p:?}");
    let text = MINIMAL.replace("google-chat", "hangouts");
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    assert!(p[0].starts_with("destinations[0].type: "), "{p:?}");
}

#[test]
fn a_missing_url_variable_names_the_key_and_the_variable() {
    let text = format!(
        "{MINIMAL}\n[[destinations]]\nname = \"slack\"\ntype = \"slack\"\nurl_env = \"SLACK_URL\"\n"
    );
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    assert_eq!(
        p,
        vec!["destinations[1].url_env: environment variable SLACK_URL is not set"]
    );
}

/// A common mistake is putting the webhook URL itself where the variable's name belongs; the error must
/// say so without repeating the value.
#[test]
fn url_env_holding_a_url_is_refused_without_showing_it() {
    for value in [
        SLACK,
        "hooks.slack.com/services/T000/B000/SLACKSECRET",
        "SLACK SECRET",
        "9SLACKSECRET",
    ] {
        let text = MINIMAL.replace("url_env = \"CHAT_URL\"", &format!("url_env = {value:?}"));
        let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
        assert_eq!(
            p,
            vec!["destinations[0].url_env: must name an environment variable (value not shown)"],
            "{value}"
        );
    }
}

#[test]
fn url_file_holding_a_url_is_refused_without_showing_it() {
    for value in [
        SLACK,
        "HTTPS://hooks.slack.com/services/T000/B000/SLACKSECRET",
        "https:hooks.slack.com/SLACKSECRET",
    ] {
        let text = MINIMAL.replace("url_env = \"CHAT_URL\"", &format!("url_file = {value:?}"));
        let p = problems(load_text(&text, &[]));
        assert_eq!(
            p,
            vec![
                "destinations[0].url_file: must be the path of a file holding the URL, not the URL (value not shown)"
            ],
            "{value}"
        );
    }
}

/// A mounted file that is not valid UTF-8, or holds something that is not a URL, is refused without
/// echoing what it holds.
#[test]
fn url_file_contents_are_never_echoed() {
    let mut binary = tempfile::NamedTempFile::new().unwrap();
    binary
        .write_all(b"https://hooks.slack.com/SLACKSECRET\xff\xfe")
        .unwrap();
    let mut garbage = tempfile::NamedTempFile::new().unwrap();
    garbage.write_all(b"SLACKSECRET not a url").unwrap();
    for file in [&binary, &garbage] {
        let text = MINIMAL.replace(
            "url_env = \"CHAT_URL\"",
            &format!("url_file = {:?}", file.path().display().to_string()),
        );
        let p = problems(load_text(&text, &[]));
        assert!(p[0].starts_with("destinations[0].url_file: "), "{p:?}");
        assert!(
            !p[0].contains("SLACKSECRET"),
            "the error leaked the file: {p:?}"
        );
    }
}

#[test]
fn plain_http_is_only_for_loopback() {
    for ok in [
        "http://127.0.0.1:8080/hook",
        "http://127.3.4.5/hook",
        "http://localhost:1/x",
        "http://[::1]:9/x",
        "https://example.com/x",
    ] {
        load_text(MINIMAL, &[("CHAT_URL", ok)]).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "http://10.0.0.1/hook/SECRETPATH",
        "http://example.com/SECRETPATH",
        "ftp://example.com/SECRETPATH",
        "not a url SECRETPATH",
    ] {
        let p = problems(load_text(MINIMAL, &[("CHAT_URL", bad)]));
        assert!(p[0].starts_with("destinations[0].url_env: "), "{p:?}");
        assert!(
            !p[0].contains("SECRETPATH"),
            "the error leaked the URL: {p:?}"
        );
    }
}

#[test]
fn url_file_is_read_and_trimmed() {
    let mut secret = tempfile::NamedTempFile::new().unwrap();
    writeln!(secret, "{SLACK}").unwrap();
    let text = MINIMAL.replace(
        "url_env = \"CHAT_URL\"",
        &format!("url_file = {:?}", secret.path().display().to_string()),
    );
    let config = load_text(&text, &[]).unwrap();
    assert_eq!(config.destinations[0].url.expose().as_str(), SLACK);
    assert!(matches!(config.destinations[0].source, UrlSource::File(_)));

    let text = MINIMAL.replace("url_env = \"CHAT_URL\"", "url_file = \"/nonexistent/url\"");
    let p = problems(load_text(&text, &[]));
    assert!(
        p[0].starts_with("destinations[0].url_file: cannot read /nonexistent/url"),
        "{p:?}"
    );
}

#[test]
fn exactly_one_url_source() {
    let text = MINIMAL.replace("url_env", "url = \"https://x.example/\"\nurl_env");
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    assert_eq!(
        p,
        vec!["destinations[0]: exactly one of url_env, url_file and url is required"]
    );
}

#[test]
fn a_literal_url_works_with_a_warning() {
    // The queue URL in its section, so that the only warning is the literal URL's.
    let text = MINIMAL
        .replace("queue_url", "[sqs]\nqueue_url")
        .replace("url_env = \"CHAT_URL\"", &format!("url = {CHAT:?}"));
    let config = load_text(&text, &[]).unwrap();
    assert!(matches!(
        config.destinations[0].source,
        UrlSource::Literal(_)
    ));
    assert_eq!(config.warnings.len(), 1);
    assert!(config.warnings[0].starts_with("destinations[0].url: "));
    assert!(!config.warnings[0].contains("CHATKEY"));
}

#[test]
fn destination_names_are_label_safe_and_unique() {
    let text = MINIMAL.replace("platform-chat", "Platform Chat");
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    assert!(p[0].starts_with("destinations[0].name: "), "{p:?}");
    let text = format!("{MINIMAL}{}", &MINIMAL[MINIMAL.find("[[").unwrap()..]);
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    assert!(
        p[0].starts_with("destinations[1].name: \"platform-chat\" is used by two"),
        "{p:?}"
    );
}

#[test]
fn routes_must_reference_known_destinations_and_valid_globs() {
    let text = format!(
        "{MINIMAL}\n[[routes]]\ndestinations = [\"nope\"]\n[routes.match]\ncluster = \"prod-[\"\nkind = \"ecs-task\"\n\n[default_route]\ndestinations = [\"gone\"]\n"
    );
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    assert!(
        p.iter()
            .any(|l| l.starts_with("routes[0].destinations: unknown destination \"nope\"")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.starts_with("routes[0].match.cluster: invalid glob")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.starts_with("routes[0].match.kind: \"ecs-task\" matches none")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.starts_with("default_route.destinations: unknown destination \"gone\"")),
        "{p:?}"
    );
}

#[test]
fn ranges_are_checked_and_all_problems_reported_together() {
    let text = MINIMAL.replace(
        "queue_url",
        "pollers = 0\nwait_time_secs = 21\nvisibility_timeout_secs = 30\nretry_budget_secs = 30\nqueue_url",
    );
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    let keys: Vec<&str> = p.iter().map(|l| l.split(':').next().unwrap()).collect();
    assert!(keys.contains(&"pollers"), "{p:?}");
    assert!(keys.contains(&"wait_time_secs"), "{p:?}");
    assert!(keys.contains(&"visibility_timeout_secs"), "{p:?}");
}

/// The visibility heartbeat extends at most once a second, so a shorter timeout than a few seconds could
/// not keep a message in flight invisible.
#[test]
fn visibility_timeout_is_at_least_five_seconds() {
    let with = |secs: u32| {
        MINIMAL.replace(
            "queue_url",
            &format!("retry_budget_secs = 0\nvisibility_timeout_secs = {secs}\nqueue_url"),
        )
    };
    for secs in [1, 4] {
        let p = problems(load_text(&with(secs), &[("CHAT_URL", CHAT)]));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("visibility_timeout_secs: "), "{p:?}");
    }
    let config = load_text(&with(5), &[("CHAT_URL", CHAT)]).unwrap();
    assert_eq!(config.sqs.visibility_timeout, Duration::from_secs(5));
}

#[test]
fn environment_overrides_top_level_scalars() {
    let config = load_text(
        MINIMAL,
        &[
            ("CHAT_URL", CHAT),
            ("FAILWATCH_POLLERS", "5"),
            (
                "FAILWATCH_QUEUE_URL",
                "http://127.0.0.1:5000/123456789012/other",
            ),
            ("FAILWATCH_ADMIN_LISTEN", "127.0.0.1:0"),
            ("FAILWATCH_LOG_FORMAT", "json"),
            ("FAILWATCH_RETRY_BUDGET_SECS", "2"),
        ],
    )
    .unwrap();
    assert_eq!(config.sqs.pollers, 5);
    assert_eq!(
        config.sqs.queue_url,
        "http://127.0.0.1:5000/123456789012/other"
    );
    assert_eq!(config.admin.listen.port(), 0);
    assert_eq!(config.logging.format, LogFormat::Json);
    assert_eq!(config.retry.budget, Duration::from_secs(2));

    let p = problems(load_text(
        MINIMAL,
        &[("CHAT_URL", CHAT), ("FAILWATCH_POLLERS", "many")],
    ));
    assert_eq!(
        p,
        vec!["FAILWATCH_POLLERS: pollers: expected a whole number, got \"many\""]
    );
}

#[test]
fn the_config_path_can_come_from_the_environment() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(MINIMAL.as_bytes()).unwrap();
    let path = file.path().display().to_string();
    let config = load(None, &env(&[(env::CONFIG, &path), ("CHAT_URL", CHAT)])).unwrap();
    assert_eq!(config.destinations[0].name, "platform-chat");
    let err = load(None, &env(&[(env::CONFIG, "/nonexistent/failwatch.toml")])).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
}

#[test]
fn toml_syntax_errors_name_the_file() {
    let err = load_text("queue_url = ", &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
}

/// toml's own `Display` quotes the offending source line; an unclosed quote on a literal `url = "..."`
/// line would print the webhook URL. Only the parser's message and the position may appear.
#[test]
fn toml_syntax_errors_never_quote_the_source_line() {
    let text =
        format!("{MINIMAL}\n[[destinations]]\nname = \"x\"\ntype = \"slack\"\nurl = \"{SLACK}\n");
    let err = load_text(&text, &[("CHAT_URL", CHAT)]).unwrap_err();
    let shown = err.to_string();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{shown}");
    assert!(
        !shown.contains("SLACKSECRET"),
        "the error leaked the URL: {shown}"
    );
    assert!(
        !shown.contains("hooks.slack.com"),
        "the error quoted the line: {shown}"
    );
    // MINIMAL starts with an empty line, so the unclosed string is on line 12.
    assert!(shown.contains("line 12, column "), "{shown}");
    assert!(!shown.contains('\n'), "one line, no excerpt: {shown}");
}

#[test]
fn zero_file_shortcut_takes_the_type_from_the_host() {
    for (url, kind) in [
        (CHAT, Target::GoogleChat),
        (SLACK, Target::Slack),
        ("https://discord.com/api/webhooks/1/abc", Target::Discord),
        ("https://discordapp.com/api/webhooks/1/abc", Target::Discord),
        (
            "https://prod-01.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x",
            Target::Teams,
        ),
        (
            "https://default0123.ab.environment.api.powerplatform.com/powerautomate/x",
            Target::Teams,
        ),
        ("https://alerts.example.com/hook", Target::Json),
    ] {
        let config = load(
            None,
            &env(&[
                (
                    "FAILWATCH_QUEUE_URL",
                    "https://sqs.us-east-1.amazonaws.com/1/q",
                ),
                (env::WEBHOOK_URL, url),
            ]),
        )
        .unwrap();
        assert_eq!(config.destinations.len(), 1);
        assert_eq!(config.destinations[0].name, DEFAULT_DESTINATION);
        assert_eq!(config.destinations[0].kind, kind, "{url}");
    }
}

#[test]
fn zero_file_shortcut_type_can_be_forced() {
    let vars = [
        (
            "FAILWATCH_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/1/q",
        ),
        (env::WEBHOOK_URL, "http://127.0.0.1:9999/hook"),
        (env::WEBHOOK_TYPE, "slack"),
    ];
    let config = load(None, &env(&vars)).unwrap();
    assert_eq!(config.destinations[0].kind, Target::Slack);
    assert_eq!(config.destinations[0].rate_per_second, 1.0);

    let mut vars = env(&vars);
    vars.insert(env::WEBHOOK_TYPE.into(), "msteams".into());
    let p = problems(load(None, &vars));
    assert!(
        p[0].starts_with("FAILWATCH_WEBHOOK_TYPE: unknown destination type"),
        "{p:?}"
    );
}

#[test]
fn zero_file_shortcut_needs_both_variables() {
    let p = problems(load(None, &env(&[(env::WEBHOOK_URL, SLACK)])));
    assert!(p[0].starts_with("sqs.queue_url: required"), "{p:?}");
    let p = problems(load(
        None,
        &env(&[(
            "FAILWATCH_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/1/q",
        )]),
    ));
    assert!(
        p[0].starts_with("destinations: at least one destination"),
        "{p:?}"
    );
}

#[test]
fn the_effective_configuration_redacts_every_url() {
    let text = format!(
        "{MINIMAL}\n[[destinations]]\nname = \"slack\"\ntype = \"slack\"\nurl = {SLACK:?}\n\n[[routes]]\ndestinations = [\"slack\"]\n[routes.match]\nseverity = \"critical\"\n"
    );
    let config = load_text(&text, &[("CHAT_URL", CHAT)]).unwrap();
    let shown = config.redacted_toml().unwrap();
    for secret in [
        "SLACKSECRET",
        "CHATKEY",
        "CHATTOKEN",
        "/services/",
        "/spaces/",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked:\n{shown}");
    }
    assert!(
        shown.contains("url = \"https://hooks.slack.com/****\""),
        "{shown}"
    );
    assert!(
        shown.contains("url = \"https://chat.googleapis.com/****\""),
        "{shown}"
    );
    assert!(shown.contains("url_env = \"CHAT_URL\""), "{shown}");
    assert!(shown.contains("severity = \"critical\""), "{shown}");
    // The output is itself TOML.
    shown.parse::<toml::Table>().unwrap();
    // Debug output is just as safe.
    let debug = format!("{config:?}");
    assert!(!debug.contains("SLACKSECRET") && !debug.contains("CHATKEY"));
}

/// `check-config` must fail loudly rather than print nothing when the effective configuration cannot be
/// written out. No validated `Config` fails to serialise, so the shared writer is given a value TOML
/// cannot hold (a document must be a table).
#[test]
fn an_unprintable_configuration_is_an_error_not_empty_output() {
    let err = print::to_toml(&42_u32).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot print the effective configuration: "),
        "{err}"
    );
}

/// The queue commands load the worker's own file without the chat secrets: destinations are neither
/// required nor resolved, but the file is still checked as a whole and the queue URLs are still checked.
#[test]
fn queue_only_loading_needs_no_destination_secrets() {
    const QUEUE: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch";
    const DLQ: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch-dlq";
    let load_queue_text = |text: &str, vars: &[(&str, &str)]| {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        load_queue(Some(file.path()), &env(vars))
    };
    let text =
        format!("dlq_url = {DLQ:?}\n{MINIMAL}\n[[routes]]\ndestinations = [\"platform-chat\"]\n");
    // CHAT_URL is not set: the worker cannot start, the queue commands can.
    assert!(load_text(&text, &[]).is_err());
    assert_eq!(
        load_queue_text(&text, &[]).unwrap(),
        QueueConfig {
            queue_url: QUEUE.into(),
            dlq_url: Some(DLQ.into()),
        }
    );
    // No destinations at all.
    let bare = load_queue_text(&format!("queue_url = {QUEUE:?}\n"), &[]).unwrap();
    assert_eq!(bare.dlq_url, None);

    // No file and no webhook: the queue URL alone is enough, and the error says only that.
    let zero = load_queue(None, &env(&[("FAILWATCH_QUEUE_URL", QUEUE)])).unwrap();
    assert_eq!(zero.queue_url, QUEUE);
    assert_eq!(
        problems(load_queue(None, &env(&[]))),
        vec![
            "sqs.queue_url: required: no configuration file was given (--config or \
             FAILWATCH_CONFIG), so set FAILWATCH_SQS__QUEUE_URL"
        ]
    );

    // The rest of the file is still parsed, and the queue URLs are still checked.
    let p = problems(load_queue_text(
        &MINIMAL.replace("queue_url", "pollerz = 2\nqueue_url"),
        &[],
    ));
    assert!(p[0].starts_with("pollerz"), "{p:?}");
    let p = problems(load_queue(
        None,
        &env(&[("FAILWATCH_QUEUE_URL", "not a url")]),
    ));
    assert!(p[0].starts_with("queue_url: "), "{p:?}");
}

/// A destination whose URL cannot be resolved is still a destination routes may name: the one problem
/// is the URL, not a second "unknown destination" error that would send the reader the wrong way.
#[test]
fn routes_may_name_a_destination_whose_url_failed() {
    let text = format!("{MINIMAL}\n[[routes]]\ndestinations = [\"platform-chat\"]\n");
    let p = problems(load_text(&text, &[]));
    assert_eq!(
        p,
        vec!["destinations[0].url_env: environment variable CHAT_URL is not set"]
    );
}

/// A webhook URL pasted into the wrong key (`type`, `name`) is refused without being repeated, although
/// those errors otherwise quote the value.
#[test]
fn a_url_in_the_wrong_key_is_never_repeated() {
    for (from, to) in [
        ("type = \"google-chat\"", format!("type = {SLACK:?}")),
        ("name = \"platform-chat\"", format!("name = {SLACK:?}")),
    ] {
        let text = MINIMAL.replace(from, &to);
        let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
        assert!(p[0].starts_with("destinations[0]"), "{p:?}");
        assert!(p[0].contains("value not shown"), "{p:?}");
        assert!(
            !p.iter().any(|l| l.contains("SLACKSECRET")),
            "leaked: {p:?}"
        );
    }
}

/// Review h2, nit 7: a webhook URL pasted into a route's `destinations`, where the destination's name
/// belongs, was repeated in full ("unknown destination \"https://hooks.slack.com/...\""); so was a
/// destination named with a URL in another route's list of configured names, and a URL in
/// `FAILWATCH_WEBHOOK_TYPE`.
#[test]
fn a_url_given_as_a_destination_name_is_never_repeated() {
    let text = format!(
        "{MINIMAL}\n[[routes]]\ndestinations = [{SLACK:?}]\n\n[default_route]\n\
         destinations = [{SLACK:?}]\n"
    );
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    assert_eq!(
        p,
        [
            "routes[0].destinations: a URL is not a destination name (value not shown: it looks \
             like a URL, which may be a secret): name a [[destinations]] entry (configured: \
             platform-chat)",
            "default_route.destinations: a URL is not a destination name (value not shown: it \
             looks like a URL, which may be a secret): name a [[destinations]] entry (configured: \
             platform-chat)",
        ],
    );

    let text = format!(
        "{}\n[[routes]]\ndestinations = [\"nope\"]\n",
        MINIMAL.replace("name = \"platform-chat\"", &format!("name = {SLACK:?}"))
    );
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    assert!(
        p.iter()
            .any(|l| l.starts_with("routes[0].destinations: unknown destination \"nope\"")),
        "{p:?}"
    );
    assert!(
        !p.iter().any(|l| l.contains("SLACKSECRET")),
        "leaked: {p:?}"
    );

    let p = problems(load(
        None,
        &env(&[
            (
                "FAILWATCH_QUEUE_URL",
                "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
            ),
            ("FAILWATCH_WEBHOOK_URL", CHAT),
            ("FAILWATCH_WEBHOOK_TYPE", SLACK),
        ]),
    ));
    assert!(
        p[0].starts_with("FAILWATCH_WEBHOOK_TYPE: unknown destination type (value not shown"),
        "{p:?}"
    );
    assert!(
        !p.iter().any(|l| l.contains("SLACKSECRET")),
        "leaked: {p:?}"
    );
}
