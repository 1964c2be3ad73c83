//! Digests (`failwatch.digest.v1`) and recoveries (`failwatch.recovery.v1`) rendered for every target:
//! one insta snapshot per document and target (`digest-…__{target}.snap`, `recovery…__{target}.snap`),
//! every payload within its service's documented limits (the same assertions as alerts), no mention or
//! link injection from the alerts' text, and a property test over arbitrary digests.
//!
//! The documents are built by hand, independently of the grouping state machine, so these tests pin
//! the layouts alone.

use failwatch_core::{
    AlertKind, CrashLoop, DIGEST_SCHEMA, Digest, FoldedAlert, Links, RECOVERY_SCHEMA, Recovery,
    RenderOptions, Severity, Tally, Target, render_digest, render_recovery,
};
use proptest::prelude::*;
use serde_json::Value;

use crate::props::text;
use crate::render::{INJECTION, MARKER, assert_no_injection, assert_within_limits};
use crate::snapshots::{is_compact, pretty};

const REGION: &str = "eu-west-1";

fn task_link(id: &str) -> String {
    format!(
        "https://{REGION}.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/{id}/configuration?region={REGION}"
    )
}

fn service_links() -> Links {
    Links {
        service: Some(service_link()),
        ..Links::default()
    }
}

fn service_link() -> String {
    format!(
        "https://{REGION}.console.aws.amazon.com/ecs/v2/clusters/prod/services/payments-api/health?region={REGION}"
    )
}

/// One folded task: even ones ran out of memory (exit 137), odd ones exited 1 with `reason`.
fn folded(i: usize, reason: &str) -> FoldedAlert {
    let id = format!("{i:032x}");
    let oom = i.is_multiple_of(2);
    FoldedAlert {
        dedup_key: format!("ecs_task:{id}"),
        event_id: format!("00000000-0000-0000-0000-{i:012}"),
        time: format!("2026-01-20T10:{:02}:{:02}Z", 30 + i / 60 % 30, i % 60),
        link: Some(task_link(&id)),
        id,
        reason: Some(if oom {
            "OutOfMemoryError: Container killed due to memory usage".to_owned()
        } else {
            format!("Essential container in task exited: {reason}")
        }),
        exit_codes: vec![if oom { 137 } else { 1 }],
    }
}

/// A digest of `count` failed tasks of payments-api, odd ones stopped for `reason`.
pub(crate) fn digest_of(count: usize, reason: &str) -> Digest {
    let alerts: Vec<FoldedAlert> = (0..count).map(|i| folded(i, reason)).collect();
    let listed = alerts.len().min(Digest::MAX_LISTED);
    let (oom, other) = (count.div_ceil(2) as u64, (count / 2) as u64);
    Digest {
        schema: DIGEST_SCHEMA.to_owned(),
        kind: AlertKind::EcsTask,
        severity: Severity::Critical,
        title: format!("payments-api: {count} more tasks failed"),
        group_key: "ecs_task:prod:payments-api:exit".to_owned(),
        subject: "payments-api".to_owned(),
        count: count as u64,
        first_time: alerts[0].time.clone(),
        last_time: alerts[count - 1].time.clone(),
        crash_loop: None,
        dedup_keys: alerts.iter().map(|a| a.dedup_key.clone()).collect(),
        unlisted: (count - listed) as u64,
        reasons: vec![
            Tally {
                value: "OutOfMemoryError: Container killed due to memory usage".to_owned(),
                count: oom,
            },
            Tally {
                value: format!("Essential container in task exited: {reason}"),
                count: other,
            },
        ]
        .into_iter()
        .filter(|t| t.count > 0)
        .collect(),
        exit_codes: vec![
            Tally {
                value: "137".to_owned(),
                count: oom,
            },
            Tally {
                value: "1".to_owned(),
                count: other,
            },
        ]
        .into_iter()
        .filter(|t| t.count > 0)
        .collect(),
        alerts: alerts.into_iter().take(listed).collect(),
        account: Some("123456789012".to_owned()),
        region: Some(REGION.to_owned()),
        partition: "aws".to_owned(),
        links: service_links(),
    }
}

/// The crash-loop digest: 8 tasks failed within 10 minutes.
fn crash_loop_digest() -> Digest {
    let mut digest = digest_of(8, "exit status 1");
    digest.severity = Severity::Warning;
    digest.crash_loop = Some(CrashLoop {
        failures: 8,
        window_secs: 600,
    });
    digest.title = "payments-api is crash-looping: 8 tasks failed in 10 min".to_owned();
    digest
}

/// 500 folded tasks, each listed one and each tallied reason carrying 10 KB of hostile text.
fn storm_digest() -> Digest {
    let hostile = format!("{INJECTION} </div> é🚨\u{202E}\u{1}").repeat(40);
    let hostile: String = hostile.chars().take(10_000).collect();
    let mut digest = digest_of(500, &hostile);
    for (i, alert) in digest.alerts.iter_mut().enumerate() {
        alert.reason = Some(hostile.clone());
        alert.id = format!("{i} {hostile}");
        alert.exit_codes = (0..40).collect();
    }
    digest.reasons = (0..Digest::MAX_TALLIES as u64)
        .map(|i| Tally {
            value: format!("{i} {hostile}"),
            count: 100,
        })
        .collect();
    digest.title = format!("payments-api: 500 more tasks failed {hostile}");
    digest.group_key = format!("ecs_task:{hostile}");
    digest
}

fn recovery() -> Recovery {
    Recovery {
        schema: RECOVERY_SCHEMA.to_owned(),
        kind: AlertKind::EcsTask,
        title: "payments-api recovered after 12 failures over 14 min".to_owned(),
        group_key: "ecs_task:prod:payments-api:exit".to_owned(),
        subject: "payments-api".to_owned(),
        failures: 12,
        first_failure_time: "2026-01-20T10:30:00Z".to_owned(),
        recovered_time: "2026-01-20T10:44:10Z".to_owned(),
        duration_secs: 850,
        event_id: "5c3a9e0e-1f1b-4c79-9a4e-4a7f3e0d2b11".to_owned(),
        account: Some("123456789012".to_owned()),
        region: Some(REGION.to_owned()),
        partition: "aws".to_owned(),
        links: service_links(),
    }
}

/// Asserts what [`assert_within_limits`] asserts of an alert; for [`Target::Json`], that the payload
/// is the compact document of `schema`.
fn assert_notice_within_limits(target: Target, payload: &str, schema: &str) {
    if target == Target::Json {
        let v: Value = serde_json::from_str(payload).expect("JSON");
        assert_eq!(v["schema"], schema);
        assert!(is_compact(payload));
    } else {
        assert_within_limits(target, payload);
    }
}

fn snapshot(name: &str, target: Target, payload: &str) {
    insta::with_settings!({
        prepend_module_to_snapshot => false,
        snapshot_path => "snapshots",
        description => format!("{name} rendered for {target}"),
        omit_expression => true,
    }, {
        insta::assert_snapshot!(format!("{name}__{target}"), pretty(payload));
    });
}

#[test]
fn every_renderer_for_digests_and_recoveries() {
    let opts = RenderOptions::default();
    let storm = storm_digest();
    for target in Target::ALL {
        for (name, digest) in [
            ("digest-small", digest_of(3, "exit status 2")),
            ("digest-crash-loop", crash_loop_digest()),
        ] {
            let payload = render_digest(&digest, target, &opts);
            assert_notice_within_limits(target, &payload, DIGEST_SCHEMA);
            snapshot(name, target, &payload);
        }
        let payload = render_recovery(&recovery(), target, &opts);
        assert_notice_within_limits(target, &payload, RECOVERY_SCHEMA);
        snapshot("recovery", target, &payload);

        // The storm's document is 170 KB of repeated text: its JSON is checked, not snapshotted.
        let payload = render_digest(&storm, target, &opts);
        assert_notice_within_limits(target, &payload, DIGEST_SCHEMA);
        if target == Target::Json {
            assert_eq!(payload, storm.to_json());
        } else {
            assert!(payload.contains(MARKER), "{target}: no truncation marker");
            assert!(payload.contains("more"), "{target}: no \"and N more\"");
            assert_no_injection(target, &payload);
            snapshot("digest-storm", target, &payload);
        }
    }
}

#[test]
fn the_json_target_is_the_document_itself() {
    let digest = digest_of(12, "x");
    let payload = render_digest(&digest, Target::Json, &RenderOptions::default());
    assert_eq!(serde_json::from_str::<Digest>(&payload).ok(), Some(digest));
    let recovery = recovery();
    let payload = render_recovery(&recovery, Target::Json, &RenderOptions::default());
    assert_eq!(
        serde_json::from_str::<Recovery>(&payload).ok(),
        Some(recovery)
    );
}

#[test]
fn google_chat_replies_in_the_groups_thread() {
    let digest = digest_of(12, "x");
    for payload in [
        render_digest(&digest, Target::GoogleChat, &RenderOptions::default()),
        render_recovery(&recovery(), Target::GoogleChat, &RenderOptions::default()),
    ] {
        let v: Value = serde_json::from_str(&payload).unwrap();
        let origin = "aws:123456789012:eu-west-1";
        assert_eq!(
            v["thread"]["threadKey"],
            format!("{origin}:{}", digest.group_key)
        );
    }
    // The same group_key from another account is another thread, as it is another group.
    let mut elsewhere = digest.clone();
    elsewhere.account = Some("210987654321".to_owned());
    let other: Value = serde_json::from_str(&render_digest(
        &elsewhere,
        Target::GoogleChat,
        &RenderOptions::default(),
    ))
    .unwrap();
    assert_eq!(
        other["thread"]["threadKey"],
        format!("aws:210987654321:eu-west-1:{}", digest.group_key)
    );
    // A key longer than Google Chat takes is cut, as an alert's is.
    let storm = render_digest(
        &storm_digest(),
        Target::GoogleChat,
        &RenderOptions::default(),
    );
    let v: Value = serde_json::from_str(&storm).unwrap();
    let key = v["thread"]["threadKey"].as_str().unwrap();
    assert!(
        key.contains(":ecs_task:") && key.encode_utf16().count() <= 4000,
        "{key}"
    );
}

#[test]
fn a_digest_lists_ten_alerts_counts_the_rest_and_tallies() {
    let digest = digest_of(12, "exit status 2");
    for target in Target::ALL.into_iter().filter(|t| *t != Target::Json) {
        let payload = render_digest(&digest, target, &RenderOptions::default());
        assert!(payload.contains("and 2 more"), "{target}");
        for listed in &digest.alerts {
            assert!(
                payload.contains(&listed.id),
                "{target}: {} missing",
                listed.id
            );
            assert!(
                payload.contains(listed.link.as_deref().unwrap()),
                "{target}: {}'s link missing",
                listed.id
            );
        }
        assert!(payload.contains("6× OutOfMemoryError"), "{target}");
        assert!(payload.contains("137 (6×), 1 (6×)"), "{target}");
        assert!(payload.contains(&service_link()), "{target}: no group link");
    }
}

#[test]
fn a_crash_loop_is_critical_and_a_recovery_is_green() {
    let opts = RenderOptions::default();
    let crash = crash_loop_digest();
    let discord: Value =
        serde_json::from_str(&render_digest(&crash, Target::Discord, &opts)).unwrap();
    assert_eq!(discord["embeds"][0]["color"], 0xD3_2F_2F);
    let teams: Value = serde_json::from_str(&render_digest(&crash, Target::Teams, &opts)).unwrap();
    assert_eq!(
        teams["attachments"][0]["content"]["body"][0]["style"],
        "attention"
    );
    for target in [Target::GoogleChat, Target::Slack] {
        let payload = render_digest(&crash, target, &opts);
        assert!(
            payload.contains("Critical · ECS task crash loop"),
            "{target}"
        );
        assert!(payload.contains("8 failures in 10 min"), "{target}");
    }

    let recovery = recovery();
    let discord: Value =
        serde_json::from_str(&render_recovery(&recovery, Target::Discord, &opts)).unwrap();
    assert_eq!(discord["embeds"][0]["color"], 0x2E7D32);
    let teams: Value =
        serde_json::from_str(&render_recovery(&recovery, Target::Teams, &opts)).unwrap();
    assert_eq!(
        teams["attachments"][0]["content"]["body"][0]["style"],
        "good"
    );
    for target in [Target::GoogleChat, Target::Slack] {
        let payload = render_recovery(&recovery, target, &opts);
        assert!(payload.contains("Resolved"), "{target}");
        assert!(payload.contains("14 min"), "{target}");
    }
}

#[test]
fn the_configured_mention_goes_where_alerts_put_it() {
    let digest = digest_of(3, "x");
    let with = |m: &str| RenderOptions {
        mention: Some(m.to_owned()),
    };
    let slack: Value = serde_json::from_str(&render_digest(
        &digest,
        Target::Slack,
        &with("<!subteam^S1>"),
    ))
    .unwrap();
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .starts_with("<!subteam^S1> ")
    );
    let chat: Value = serde_json::from_str(&render_recovery(
        &recovery(),
        Target::GoogleChat,
        &with("<users/all>"),
    ))
    .unwrap();
    assert!(chat["text"].as_str().unwrap().starts_with("<users/all> "));
    let discord: Value =
        serde_json::from_str(&render_digest(&digest, Target::Discord, &with("<@&42>"))).unwrap();
    assert_eq!(discord["content"], "<@&42>");
    assert_eq!(
        discord["allowed_mentions"],
        serde_json::json!({"parse": [], "roles": ["42"]})
    );
    let teams: Value = serde_json::from_str(&render_digest(
        &digest,
        Target::Teams,
        &with("oncall@example.com"),
    ))
    .unwrap();
    let card = &teams["attachments"][0]["content"];
    assert_eq!(card["body"][0]["text"], "<at>oncall@example.com</at>");
}

#[test]
fn no_injection_from_the_alerts_text_survives() {
    for repeat in [1, 7, 60] {
        let text = INJECTION.repeat(repeat);
        let mut digest = digest_of(14, &text);
        digest.title = format!("{text} failed");
        digest.alerts[1].id = text.clone();
        digest.alerts[2].link = Some("https://evil.example/a)[x](https://evil.example".to_owned());
        let mut recovery = recovery();
        recovery.title = text.clone();
        recovery.event_id = text.clone();
        for target in Target::ALL.into_iter().filter(|t| *t != Target::Json) {
            let payload = render_digest(&digest, target, &RenderOptions::default());
            assert_within_limits(target, &payload);
            assert_no_injection(target, &payload);
            let payload = render_recovery(&recovery, target, &RenderOptions::default());
            assert_within_limits(target, &payload);
            assert_no_injection(target, &payload);
        }
    }
}

/// Any digest: arbitrary text in every string, any number of listed alerts, tallies and exit codes.
fn any_digest() -> impl Strategy<Value = Digest> {
    let folded = (
        text(),
        text(),
        prop::option::of(text()),
        prop::collection::vec(any::<i64>(), 0..12),
        any::<bool>(),
    )
        .prop_map(|(id, time, reason, exit_codes, linked)| FoldedAlert {
            dedup_key: format!("ecs_task:{id}"),
            event_id: id.clone(),
            link: linked.then(|| task_link("0123")),
            id,
            time,
            reason,
            exit_codes,
        });
    let tally = || (text(), any::<u64>()).prop_map(|(value, count)| Tally { value, count });
    (
        (text(), text(), any::<u64>(), any::<bool>(), any::<bool>()),
        prop::collection::vec(folded, 0..14),
        prop::collection::vec(tally(), 0..8),
        prop::collection::vec(tally(), 0..8),
        (text(), text()),
    )
        .prop_map(
            |((title, key, unlisted, loop_, warn), alerts, reasons, exit_codes, (t1, t2))| {
                let mut digest = digest_of(1, "x");
                digest.title = title;
                digest.group_key = key;
                digest.unlisted = unlisted;
                digest.count = unlisted.saturating_add(alerts.len() as u64);
                digest.crash_loop = loop_.then_some(CrashLoop {
                    failures: unlisted,
                    window_secs: unlisted / 3,
                });
                if warn {
                    digest.severity = Severity::Warning;
                }
                digest.alerts = alerts;
                digest.reasons = reasons;
                digest.exit_codes = exit_codes;
                digest.first_time = t1;
                digest.last_time = t2;
                digest
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_digest_renders_within_every_limit(digest in any_digest()) {
        let mention = RenderOptions { mention: Some("<@42>".to_owned()) };
        for target in Target::ALL {
            for opts in [&RenderOptions::default(), &mention] {
                let payload = render_digest(&digest, target, opts);
                assert_notice_within_limits(target, &payload, DIGEST_SCHEMA);
            }
        }
    }
}
