//! `[enrichment]`: its defaults, its overrides, every check naming its key, and `tags.*` route matches.

use std::time::Duration;

use super::*;

const QUEUE: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch";
const ROLE: &str = "arn:aws:iam::210987654321:role/failwatch-read";

fn with(extra: &str) -> String {
    format!(
        "[sqs]\nqueue_url = {QUEUE:?}\n\n[[destinations]]\nname = \"chat\"\n\
         type = \"google-chat\"\nurl_env = \"CHAT_URL\"\n\n{extra}"
    )
}

#[test]
fn every_part_is_on_by_default() {
    let config = load_text(&with(""), &[("CHAT_URL", CHAT)]).unwrap();
    let e = &config.enrichment;
    assert_eq!(e.log_lines, 20);
    assert!(e.failed_state && e.tags && e.enabled());
    assert_eq!(e.budget, Duration::from_secs(2));
    assert!(e.accounts.is_empty());
}

#[test]
fn keys_overrides_and_accounts_load_and_print_back() {
    let text = with(&format!(
        "[enrichment]\nfailed_state = false\n\n[[enrichment.accounts]]\naccount = \"210987654321\"\n\
         role_arn = {ROLE:?}\n"
    ));
    let vars = [
        ("CHAT_URL", CHAT),
        ("FAILWATCH_ENRICHMENT__LOG_LINES", "0"),
        ("FAILWATCH_ENRICHMENT__BUDGET", "750ms"),
    ];
    let config = load_text(&text, &vars).unwrap();
    let e = &config.enrichment;
    assert_eq!(e.log_lines, 0);
    assert_eq!(e.budget, Duration::from_millis(750));
    assert!(!e.failed_state && e.tags);
    assert_eq!(e.accounts[0].role_arn, ROLE);
    let printed = config.redacted_toml().unwrap();
    assert!(printed.contains("[[enrichment.accounts]]"), "{printed}");
    let again = load_text(&printed, &[("CHAT_URL", CHAT)]).unwrap();
    assert_eq!(again.enrichment, config.enrichment);
}

#[test]
fn bad_values_name_their_key() {
    let text = with(
        "[enrichment]\nlog_lines = 101\nbudget = \"11s\"\n\n[[enrichment.accounts]]\n\
         account = \"12345\"\nrole_arn = \"arn:aws:iam::210987654321:user/x\"\n\n\
         [[enrichment.accounts]]\naccount = \"12345\"\nrole_arn = \"arn:aws:iam::210987654321:role/x\"\n",
    );
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    for key in [
        "enrichment.log_lines: 101 is out of range (0..=100)",
        "enrichment.budget: 11s is out of range",
        "enrichment.accounts[0].account: must be a 12-digit AWS account id",
        "enrichment.accounts[0].role_arn: must be an IAM role ARN",
        "enrichment.accounts[1].account: account 12345 is listed twice",
    ] {
        assert!(p.iter().any(|l| l.starts_with(key)), "{key} not in {p:?}");
    }
    let p = problems(load_text(
        &with(""),
        &[
            ("CHAT_URL", CHAT),
            ("FAILWATCH_ENRICHMENT__LOG_LINES", "500"),
        ],
    ));
    assert!(
        p.iter()
            .any(|l| l
                .starts_with("FAILWATCH_ENRICHMENT__LOG_LINES (enrichment.log_lines): 500 is out")),
        "{p:?}"
    );
}

#[test]
fn the_budget_must_end_well_before_the_visibility_timeout() {
    let text = with("[enrichment]\nbudget = \"3s\"\n[retry]\nbudget = \"2s\"\n")
        .replace("[sqs]\n", "[sqs]\nvisibility_timeout = \"5s\"\n");
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("enrichment.budget: must be at most half of sqs.visibility_timeout (5s)"),
        "{p:?}"
    );
}

#[test]
fn routes_match_tags_with_globs() {
    let route = "[[routes]]\ndestinations = [\"chat\"]\n[routes.match]\ntags.team = \"pay*\"\n";
    let config = load_text(&with(route), &[("CHAT_URL", CHAT)]).unwrap();
    let tags = &config.router.routes[0].matcher.tags;
    assert!(tags["team"].is_match("payments"));
    assert!(!tags["team"].is_match("search"));
    let p = problems(load_text(
        &with(&route.replace("pay*", "pay[")),
        &[("CHAT_URL", CHAT)],
    ));
    assert!(
        p.iter()
            .any(|l| l.starts_with("routes[0].match.tags.team: invalid glob pattern")),
        "{p:?}"
    );
}
