//! Renderer behaviour that snapshots cannot prove: every payload stays within its service's limits on
//! hostile input, no room mention or link injection survives, cuts respect UTF-8 and escapes, and the
//! configured mention, thread key and `allowed_mentions` are where each service needs them.
//!
//! The limits are written out here from each service's documentation, independently of the constants
//! in the renderers, so a wrong constant fails a test.

use std::collections::BTreeMap;

use failwatch_core::{
    Alert, AlertKind, ContainerInfo, Enrichment, ExecutionInfo, ExecutionLog, FailedState, Links,
    LogSource, LogTail, MAX_LOG_LINES, RenderOptions, Schema, Severity, Target, TaskInfo, render,
};
use serde_json::Value;

/// Every text a workload could use to reach a whole room or plant a link, in each service's syntax.
pub(crate) const INJECTION: &str = "<!channel> <!here> <!everyone> <users/all> @everyone @here \
    @channel <@123> <@!123> <@&456> <#789> <https://evil.example|click> [click](https://evil.example) \
    https://evil.example/x <a href=\"https://evil.example\">x</a> **bold** `code` ||spoiler|| > quote";

pub(crate) const MARKER: &str = "…(truncated)";

/// The same text in every workload-controlled field of an alert with every optional part present.
pub(crate) fn alert_with(text: &str, containers: usize) -> Alert {
    let region = "eu-west-1";
    Alert {
        schema: Schema,
        kind: AlertKind::EcsTask,
        severity: Severity::Critical,
        title: format!("ECS task failed: {text}"),
        summary: format!("Task stopped: {text}").into(),
        hint: Some(format!("Check the image: {text}")),
        event_id: format!("evt-{text}"),
        time: "2026-01-20T10:30:45Z".to_owned(),
        account: Some("123456789012".to_owned()),
        region: Some(region.to_owned()),
        partition: "aws".to_owned(),
        cluster: Some(format!("cluster {text}")),
        service: Some(format!("service {text}")),
        task: Some(TaskInfo {
            arn: format!("arn:aws:ecs:{region}:123456789012:task/c/0123456789abcdef"),
            id: "0123456789abcdef".to_owned(),
            definition: Some(format!("family {text}:7")),
            group: Some("service:api".to_owned()),
            launch_type: Some("FARGATE".to_owned()),
            stop_code: Some(format!("EssentialContainerExited {text}")),
            stopped_reason: Some(format!("Essential container exited: {text}")),
            containers: (0..containers)
                .map(|i| ContainerInfo {
                    name: format!("c{i} {text}"),
                    exit_code: if i % 2 == 0 { Some(137) } else { None },
                    reason: Some(format!("OutOfMemoryError: {text}")),
                    log_tail: None,
                    log_link: None,
                    log_driver: None,
                })
                .collect(),
        }),
        execution: Some(ExecutionInfo {
            arn: Some(format!(
                "arn:aws:states:{region}:123456789012:execution:sm:run-1"
            )),
            name: Some(format!("run {text}")),
            state_machine: Some(format!("sm {text}")),
            status: Some("FAILED".to_owned()),
            error: Some(format!("States.TaskFailed {text}")),
            cause: Some(format!("{{\"StopCode\":\"{text}\"}}")),
            failed_state: None,
            log_tail: None,
            log_link: None,
            log_source: None,
        }),
        links: Links {
            task: Some(format!(
                "https://{region}.console.aws.amazon.com/ecs/v2/clusters/c/tasks/0123456789abcdef/configuration?region={region}"
            )),
            task_logs: Some(format!(
                "https://{region}.console.aws.amazon.com/ecs/v2/clusters/c/tasks/0123456789abcdef/logs?region={region}"
            )),
            service: Some(format!(
                "https://{region}.console.aws.amazon.com/ecs/v2/clusters/c/services/api/health?region={region}"
            )),
            execution: Some(format!(
                "https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/arn:aws:states:{region}:123456789012:execution:sm:run-1"
            )),
            ..Links::default()
        },
        dedup_key: "ecs_task:0123456789abcdef".to_owned(),
        group_key: "ecs_task:c:api:oom".to_owned(),
        tags: None,
        crash_loop: None,
    }
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
}

/// Every string value in a JSON document, with its JSON pointer.
pub(crate) fn strings(v: &Value) -> Vec<(String, String)> {
    fn walk(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
        match v {
            Value::String(s) => out.push((path.to_owned(), s.clone())),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}/{i}"), out);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    walk(item, &format!("{path}/{k}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}

/// Asserts that `payload` is one compact JSON document within every documented limit of `target`.
pub(crate) fn assert_within_limits(target: Target, payload: &str) {
    let v: Value = serde_json::from_str(payload)
        .unwrap_or_else(|e| panic!("{target}: payload is not JSON ({e}): {payload}"));
    assert_eq!(
        serde_json::to_string(&v).ok().as_deref().map(str::len),
        Some(payload.len()),
        "{target}: payload is not compact"
    );
    match target {
        Target::Json => {
            assert_eq!(str_at(&v, "/schema"), "failwatch.alert.v1");
        }
        Target::GoogleChat => {
            assert!(
                payload.len() <= 32_000,
                "google-chat: {} bytes",
                payload.len()
            );
            assert!(utf16(str_at(&v, "/text")) <= 4096);
            assert_eq!(v["cardsV2"].as_array().map(Vec::len), Some(1));
            assert!(!str_at(&v, "/cardsV2/0/cardId").is_empty());
            assert!(!str_at(&v, "/cardsV2/0/card/header/title").is_empty());
            assert!(utf16(str_at(&v, "/thread/threadKey")) <= 4000);
        }
        Target::Slack => {
            assert!(payload.len() <= 40_000, "slack: {} bytes", payload.len());
            assert!(!str_at(&v, "/text").is_empty());
            let blocks = v["blocks"].as_array().expect("blocks");
            assert!(
                !blocks.is_empty() && blocks.len() <= 50,
                "{} blocks",
                blocks.len()
            );
            for block in blocks {
                match block["type"].as_str() {
                    Some("header") => assert!(utf16(str_at(block, "/text/text")) <= 150),
                    Some("section") => {
                        if let Some(text) = block.pointer("/text/text").and_then(Value::as_str) {
                            assert!(
                                !text.is_empty() && utf16(text) <= 3000,
                                "section {}",
                                utf16(text)
                            );
                        }
                        if let Some(button) = block.get("accessory") {
                            assert!(utf16(str_at(button, "/text/text")) <= 75);
                            assert!(str_at(button, "/url").len() <= 3000);
                        }
                        if let Some(fields) = block["fields"].as_array() {
                            assert!(fields.len() <= 10);
                            for f in fields {
                                assert!(utf16(str_at(f, "/text")) <= 2000);
                            }
                        }
                    }
                    Some("context") => {
                        let elements = block["elements"].as_array().expect("elements");
                        assert!(!elements.is_empty() && elements.len() <= 10);
                    }
                    Some("rich_text") => {
                        // Preformatted log lines; failwatch holds them to a section's 3,000.
                        let elements = block["elements"].as_array().expect("elements");
                        assert_eq!(elements.len(), 1);
                        assert_eq!(str_at(&elements[0], "/type"), "rich_text_preformatted");
                        let text = str_at(&elements[0], "/elements/0/text");
                        assert!(
                            !text.is_empty() && utf16(text) <= 3000,
                            "preformatted {}",
                            utf16(text)
                        );
                    }
                    Some("actions") => {
                        let elements = block["elements"].as_array().expect("elements");
                        assert!(!elements.is_empty() && elements.len() <= 25);
                        for b in elements {
                            assert!(utf16(str_at(b, "/text/text")) <= 75);
                            assert!(str_at(b, "/url").len() <= 3000);
                        }
                    }
                    other => panic!("unexpected block type {other:?}"),
                }
            }
        }
        Target::Teams => {
            assert!(payload.len() <= 28_000, "teams: {} bytes", payload.len());
            assert_eq!(str_at(&v, "/type"), "message");
            assert_eq!(
                str_at(&v, "/attachments/0/contentType"),
                "application/vnd.microsoft.card.adaptive"
            );
            assert_eq!(str_at(&v, "/attachments/0/content/type"), "AdaptiveCard");
            let version: f64 = str_at(&v, "/attachments/0/content/version")
                .parse()
                .expect("version");
            assert!(version <= 1.4, "Adaptive Card version {version}");
            for action in v["attachments"][0]["content"]["actions"]
                .as_array()
                .into_iter()
                .flatten()
            {
                assert_eq!(str_at(action, "/type"), "Action.OpenUrl");
            }
        }
        Target::Discord => {
            if let Some(content) = v["content"].as_str() {
                assert!(utf16(content) <= 2000);
            }
            assert!(
                v["allowed_mentions"]["parse"].is_array(),
                "allowed_mentions.parse missing"
            );
            let embeds = v["embeds"].as_array().expect("embeds");
            assert_eq!(embeds.len(), 1);
            let e = &embeds[0];
            let title = str_at(e, "/title");
            let description = e["description"].as_str().unwrap_or_default();
            if e.get("description").is_some() {
                assert!(!description.trim().is_empty(), "discord: blank description");
            }
            let footer = str_at(e, "/footer/text");
            assert!(utf16(title) <= 256);
            assert!(utf16(description) <= 4096);
            assert!(utf16(footer) <= 2048);
            let fields = e["fields"].as_array().expect("fields");
            assert!(fields.len() <= 25);
            let mut total = utf16(title) + utf16(description) + utf16(footer);
            for f in fields {
                let (name, value) = (str_at(f, "/name"), str_at(f, "/value"));
                assert!(!name.is_empty() && utf16(name) <= 256);
                assert!(
                    !value.is_empty() && utf16(value) <= 1024,
                    "field value {}",
                    utf16(value)
                );
                total += utf16(name) + utf16(value);
            }
            assert!(total <= 6000, "discord embed total {total}");
            assert!(e["color"].is_u64());
        }
    }
}

/// Asserts that no string in a rendered payload can mention a whole room, mention anyone, or link
/// anywhere the alert's own console links do not go, in the syntax of `target`.
pub(crate) fn assert_no_injection(target: Target, payload: &str) {
    let v: Value = serde_json::from_str(payload).expect("JSON");
    for (path, s) in strings(&v) {
        if path == "/thread/threadKey" {
            // An opaque identifier Google Chat never displays.
            continue;
        }
        if path.ends_with("/url") {
            assert!(
                s.starts_with("https://") && !s.contains("evil.example"),
                "{target} {path}: {s}"
            );
            continue;
        }
        for forbidden in ["@everyone", "@here", "@channel", "://evil"] {
            assert!(
                !s.contains(forbidden),
                "{target} {path} contains {forbidden:?}: {s}"
            );
        }
        // Discord shows a backslash-escaped `\<users/all\>` literally; it is checked below.
        if target != Target::Discord {
            assert!(
                !s.contains("<users/"),
                "{target} {path} contains \"<users/\": {s}"
            );
        }
        match target {
            Target::Json => {}
            Target::Slack => {
                for forbidden in ["<!", "<@", "<#", "<http"] {
                    assert!(
                        !s.contains(forbidden),
                        "{target} {path} contains {forbidden:?}: {s}"
                    );
                }
            }
            Target::GoogleChat => {
                for forbidden in ["<http", "<a ", "<a\n", "<users"] {
                    assert!(
                        !s.contains(forbidden),
                        "{target} {path} contains {forbidden:?}: {s}"
                    );
                }
            }
            Target::Teams => {
                assert!(
                    !s.contains("]("),
                    "{target} {path} contains a markdown link: {s}"
                );
                assert!(
                    !s.contains("<at>"),
                    "{target} {path} contains a mention: {s}"
                );
            }
            Target::Discord => {
                // Inside a code block Discord shows text verbatim; no fence may occur in one (it
                // would close the block), so every odd piece between fences is code.
                let outside: String = s.split("```").step_by(2).collect::<Vec<_>>().join(" ");
                assert!(
                    s.matches("```").count() % 2 == 0,
                    "{target} {path}: an unclosed code block in {s}"
                );
                // A backslash before `<` or `[` makes Discord show it literally.
                let s = outside;
                let bytes = s.as_bytes();
                for (i, b) in bytes.iter().enumerate() {
                    if matches!(b, b'<' | b'[') && path != "/embeds/0/fields/-links" {
                        let escaped = i > 0 && bytes[i - 1] == b'\\';
                        let our_link = s[i..].starts_with("[Open ")
                            || s[i..].starts_with("[Task logs]")
                            || s[i..].starts_with("[Log stream]")
                            || s[i..].starts_with("[Job logs]")
                            || s[i..].starts_with("[Related link");
                        assert!(
                            escaped || our_link,
                            "{target} {path}: unescaped {:?} in {s}",
                            *b as char
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn every_target_is_within_limits_for_an_ordinary_alert() {
    let alert = alert_with("app exited 1", 2);
    for target in Target::ALL {
        let payload = render(&alert, target, &RenderOptions::default());
        assert_within_limits(target, &payload);
    }
}

#[test]
fn every_target_is_within_limits_for_20_kb_reasons_and_maximal_fields() {
    // Multi-byte characters, characters that escape to several, and astral emoji, 20 KB and more.
    let huge = "é<&>🚨*_[`\"\\\u{1}".repeat(1400);
    assert!(huge.len() > 20_000);
    let plain = alert_with(&huge, 60);
    // And with the most log lines the document holds, each of the longest kept, on every container.
    let with_tails = enriched(plain.clone(), &huge, &vec![huge.clone(); MAX_LOG_LINES]);
    for alert in [&plain, &with_tails] {
        for target in Target::ALL {
            let opts = RenderOptions {
                mention: Some("<@123>".to_owned()),
            };
            let payload = render(alert, target, &opts);
            assert_within_limits(target, &payload);
            if target != Target::Json {
                assert!(payload.contains(MARKER), "{target}: no truncation marker");
            }
        }
    }
    for target in Target::ALL.into_iter().filter(|t| *t != Target::Json) {
        let payload = render(&with_tails, target, &RenderOptions::default());
        assert!(payload.contains("Last log lines"), "{target}: no log lines");
    }
}

#[test]
fn no_room_mention_or_link_injection_survives_in_any_target() {
    assert_safe_everywhere(&alert_with(INJECTION, 3));
}

#[test]
fn injection_stays_neutral_when_it_is_cut() {
    // Cutting must never leave half an escape that a later character completes into syntax.
    for repeat in [1, 7, 50, 400] {
        assert_safe_everywhere(&alert_with(&INJECTION.repeat(repeat), 12));
    }
}

#[test]
fn slack_entities_are_never_cut_in_half() {
    let alert = alert_with(&"&<>".repeat(5000), 1);
    let payload = render(&alert, Target::Slack, &RenderOptions::default());
    let v: Value = serde_json::from_str(&payload).unwrap();
    for (path, s) in strings(&v) {
        let body = s.strip_suffix(MARKER).unwrap_or(&s);
        let mut rest = body;
        while let Some(at) = rest.find('&') {
            rest = &rest[at..];
            assert!(
                rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;"),
                "{path}: broken entity in {s}"
            );
            rest = &rest[1..];
        }
    }
}

#[test]
fn cuts_respect_utf8_characters_and_count_astral_characters_as_two() {
    // 🚨 is 4 bytes in UTF-8 and 2 units in UTF-16; a limit counted in code points or bytes would
    // overflow one service or another.
    let alert = alert_with(&"🚨".repeat(10_000), 1);
    for target in Target::ALL {
        let payload = render(&alert, target, &RenderOptions::default());
        assert_within_limits(target, &payload);
        if target != Target::Json {
            assert!(
                payload.contains(&format!("🚨{MARKER}")),
                "{target}: cut not right before the marker"
            );
        }
    }
}

#[test]
fn generic_webhook_payload_is_the_alert_document() {
    let alert = alert_with("x", 1);
    let payload = render(&alert, Target::Json, &RenderOptions::default());
    assert_eq!(payload, alert.to_json());
    let back: Alert = serde_json::from_str(&payload).unwrap();
    assert_eq!(back, alert);
}

#[test]
fn google_chat_threads_by_group_key_and_links_buttons() {
    let alert = alert_with("x", 1);
    let v: Value = serde_json::from_str(&render(
        &alert,
        Target::GoogleChat,
        &RenderOptions::default(),
    ))
    .unwrap();
    // One thread per problem: where it happened (partition, account, region) and its group_key.
    assert_eq!(
        str_at(&v, "/thread/threadKey"),
        format!("aws:123456789012:eu-west-1:{}", alert.group_key)
    );
    let mut unknown = alert.clone();
    (unknown.account, unknown.region) = (None, None);
    let v: Value = serde_json::from_str(&render(
        &unknown,
        Target::GoogleChat,
        &RenderOptions::default(),
    ))
    .unwrap();
    assert_eq!(
        str_at(&v, "/thread/threadKey"),
        format!("aws:::{}", alert.group_key)
    );
    let payload = v.to_string();
    for url in [
        &alert.links.task,
        &alert.links.task_logs,
        &alert.links.service,
        &alert.links.execution,
    ] {
        let url = url.as_deref().unwrap();
        assert!(payload.contains(&format!(
            "{{\"openLink\":{{\"url\":{}}}}}",
            serde_json::to_string(url).unwrap()
        )));
    }
}

#[test]
fn unsafe_links_never_become_buttons() {
    let mut alert = alert_with("x", 1);
    alert.links.task = Some("javascript:alert(1)".to_owned());
    alert.links.task_logs = Some("https://evil.example/a)[x](https://evil.example".to_owned());
    for target in Target::ALL.into_iter().filter(|t| *t != Target::Json) {
        let payload = render(&alert, target, &RenderOptions::default());
        assert!(!payload.contains("javascript:"), "{target}");
        assert!(!payload.contains("evil.example"), "{target}");
        assert!(
            payload.contains("/states/home"),
            "{target}: the safe link is gone too"
        );
    }
}

#[test]
fn without_a_mention_nobody_is_pinged() {
    let alert = alert_with("x", 1);
    let opts = RenderOptions::default();
    let discord: Value = serde_json::from_str(&render(&alert, Target::Discord, &opts)).unwrap();
    assert_eq!(
        discord["allowed_mentions"],
        serde_json::json!({"parse": []})
    );
    assert!(discord.get("content").is_none());
    let teams: Value = serde_json::from_str(&render(&alert, Target::Teams, &opts)).unwrap();
    assert!(
        teams["attachments"][0]["content"]["msteams"]
            .get("entities")
            .is_none()
    );
}

#[test]
fn the_configured_mention_goes_where_each_service_notifies() {
    let alert = alert_with("x", 1);
    let with = |m: &str| RenderOptions {
        mention: Some(m.to_owned()),
    };

    let slack: Value =
        serde_json::from_str(&render(&alert, Target::Slack, &with("<!subteam^S1>"))).unwrap();
    assert!(str_at(&slack, "/text").starts_with("<!subteam^S1> "));
    assert!(str_at(&slack, "/blocks/1/text/text").starts_with("<!subteam^S1>\n"));

    let chat: Value =
        serde_json::from_str(&render(&alert, Target::GoogleChat, &with("<users/all>"))).unwrap();
    assert!(str_at(&chat, "/text").starts_with("<users/all> "));

    let discord: Value =
        serde_json::from_str(&render(&alert, Target::Discord, &with("<@&42>"))).unwrap();
    assert_eq!(str_at(&discord, "/content"), "<@&42>");
    assert_eq!(
        discord["allowed_mentions"],
        serde_json::json!({"parse": [], "roles": ["42"]})
    );
    let discord: Value =
        serde_json::from_str(&render(&alert, Target::Discord, &with("<@42>"))).unwrap();
    assert_eq!(
        discord["allowed_mentions"],
        serde_json::json!({"parse": [], "users": ["42"]})
    );

    let teams: Value =
        serde_json::from_str(&render(&alert, Target::Teams, &with("oncall@example.com"))).unwrap();
    let card = &teams["attachments"][0]["content"];
    assert_eq!(str_at(card, "/body/0/text"), "<at>oncall@example.com</at>");
    assert_eq!(
        str_at(card, "/msteams/entities/0/mentioned/id"),
        "oncall@example.com"
    );
    assert_eq!(
        str_at(card, "/msteams/entities/0/text"),
        "<at>oncall@example.com</at>"
    );
}

#[test]
fn a_blank_mention_is_no_mention() {
    let alert = alert_with("x", 1);
    let blank = RenderOptions {
        mention: Some("  ".to_owned()),
    };
    for target in Target::ALL {
        assert_eq!(
            render(&alert, target, &blank),
            render(&alert, target, &RenderOptions::default()),
            "{target}"
        );
    }
}

#[test]
fn severity_is_shown_as_colour_and_word() {
    let mut alert = alert_with("x", 1);
    for (severity, word, rgb) in [
        (Severity::Critical, "Critical", 0xD3_2F_2F_u64),
        (Severity::Warning, "Warning", 0xF9_A8_25),
    ] {
        alert.severity = severity;
        let opts = RenderOptions::default();
        let discord: Value = serde_json::from_str(&render(&alert, Target::Discord, &opts)).unwrap();
        assert_eq!(discord["embeds"][0]["color"].as_u64(), Some(rgb));
        for target in [Target::GoogleChat, Target::Slack, Target::Teams] {
            assert!(
                render(&alert, target, &opts).contains(word),
                "{target} lacks {word}"
            );
        }
        let teams: Value = serde_json::from_str(&render(&alert, Target::Teams, &opts)).unwrap();
        let style = teams["attachments"][0]["content"]["body"][0]["style"].as_str();
        assert_eq!(
            style,
            Some(if severity == Severity::Critical {
                "attention"
            } else {
                "warning"
            })
        );
    }
}

#[test]
fn target_names_parse_and_print() {
    for (name, target) in [
        ("json", Target::Json),
        ("webhook", Target::Json),
        ("google-chat", Target::GoogleChat),
        ("slack", Target::Slack),
        ("teams", Target::Teams),
        ("discord", Target::Discord),
    ] {
        assert_eq!(name.parse::<Target>().unwrap(), target);
    }
    for target in Target::ALL {
        assert_eq!(target.to_string().parse::<Target>().unwrap(), target);
    }
    let err = "hangouts".parse::<Target>().unwrap_err();
    assert!(err.to_string().contains("hangouts"));
}

#[test]
fn blank_and_control_only_text_never_becomes_an_empty_field() {
    // Regression: a value of control characters escapes to spaces, which Discord rejects as empty.
    let mut alert = alert_with("\u{1}\u{2}", 2);
    alert.summary = " \n\t".into();
    alert.cluster = Some("\u{7}".to_owned());
    for target in Target::ALL {
        assert_within_limits(target, &render(&alert, target, &RenderOptions::default()));
    }
    let discord: Value =
        serde_json::from_str(&render(&alert, Target::Discord, &RenderOptions::default())).unwrap();
    assert!(discord["embeds"][0].get("description").is_none());
    assert!(
        !discord["embeds"][0]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "Cluster")
    );
}

#[test]
fn an_oversized_mention_cannot_break_a_limit() {
    let alert = alert_with(&"x".repeat(5000), 3);
    let opts = RenderOptions {
        mention: Some("<@1>".repeat(3000)),
    };
    for target in Target::ALL {
        assert_within_limits(target, &render(&alert, target, &opts));
    }
}

/// Adds what the worker could find to `alert`: `tails[i]` as the log lines of its i-th container (the
/// second one's logs going to `driver` instead, when given), with a log stream link each, a failed
/// state named `state` and `tags`.
pub(crate) fn enrich_all(
    alert: &mut Alert,
    tails: Vec<Vec<String>>,
    driver: Option<String>,
    state: String,
    tags: BTreeMap<String, String>,
) {
    let names: Vec<String> = alert
        .task
        .iter()
        .flat_map(|t| t.containers.iter().map(|c| c.name.clone()))
        .collect();
    alert.enrich(Enrichment {
        log_tails: names
            .into_iter()
            .zip(tails)
            .enumerate()
            .map(|(i, (container, lines))| LogTail {
                container,
                lines,
                link: Some(format!("https://example.invalid/logs/{i}")),
                driver: driver.clone().filter(|_| i == 1),
            })
            .collect(),
        failed_state: Some(FailedState {
            name: state.clone(),
            state_type: "Task".to_owned(),
            resource: Some(state),
        }),
        tags: Some(tags),
        execution_log: None,
    });
}

/// `alert` with `lines` as the log tail of every container but the second, whose logs go to another
/// driver, a failed state and 20 tags, all carrying `text`.
fn enriched(mut alert: Alert, text: &str, lines: &[String]) -> Alert {
    let containers = alert.task.as_ref().map_or(0, |t| t.containers.len());
    let tags = (0..20)
        .map(|i| (format!("k{i} {text}"), format!("v {text}")))
        .collect();
    enrich_all(
        &mut alert,
        vec![lines.to_vec(); containers],
        Some(format!("awsfirelens {text}")),
        format!("state {text}"),
        tags,
    );
    alert
}

/// Renders `alert` for every chat service, asserting each payload is within limits and injection-free.
fn assert_safe_everywhere(alert: &Alert) {
    for target in Target::ALL.into_iter().filter(|t| *t != Target::Json) {
        let payload = render(alert, target, &RenderOptions::default());
        assert_within_limits(target, &payload);
        assert_no_injection(target, &payload);
    }
}

#[test]
fn no_injection_survives_in_log_lines_tags_or_the_failed_state() {
    let lines: Vec<String> = INJECTION.split(' ').map(str::to_owned).collect();
    for repeat in [1, 30] {
        let text = INJECTION.repeat(repeat);
        assert_safe_everywhere(&enriched(alert_with("x", 3), &text, &lines));
    }
}

#[test]
fn an_executions_log_lines_fit_and_carry_no_injection_after_the_containers() {
    let huge = "é<&>🚨*_[`\"\\\u{1}".repeat(1400);
    let injection: Vec<String> = INJECTION.split(' ').map(str::to_owned).collect();
    for (text, lines, containers) in [
        (huge.as_str(), vec![huge.clone(); MAX_LOG_LINES], 3),
        ("x", injection.clone(), 0),
        (INJECTION, injection, 2),
    ] {
        let mut alert = enriched(alert_with(text, containers), text, &[]);
        for source in [LogSource::Batch, LogSource::Lambda] {
            alert.enrich(Enrichment {
                execution_log: Some(ExecutionLog {
                    source,
                    lines: lines.clone(),
                    link: Some("https://example.invalid/logs/execution".to_owned()),
                }),
                ..Enrichment::default()
            });
            assert_safe_everywhere(&alert);
        }
        if containers == 0 {
            let payload = render(&alert, Target::Slack, &RenderOptions::default());
            assert!(
                payload.contains("Last log lines — Lambda function"),
                "{payload}"
            );
        }
    }
}

#[test]
fn a_fence_in_a_log_line_cannot_close_discords_code_block() {
    let lines = vec![
        "before".to_owned(),
        "```\n@everyone [x](https://evil.example)".to_owned(),
    ];
    let alert = enriched(alert_with("x", 1), "x", &lines);
    let payload = render(&alert, Target::Discord, &RenderOptions::default());
    let v: Value = serde_json::from_str(&payload).unwrap();
    let description = str_at(&v, "/embeds/0/description");
    let (_, section) = description
        .split_once("**Last log lines — ")
        .expect("a log section");
    assert_eq!(section.matches("```").count(), 2, "{section}");
    assert!(section.contains("\n```\nbefore\n"), "{section}");
}
