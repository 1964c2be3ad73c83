//! `[grouping]`: its defaults, its checks naming the key, its overrides, and `[routes.grouping]`.

use std::time::Duration;

use super::*;

const QUEUE: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/failwatch";

fn minimal() -> String {
    format!(
        "[sqs]\nqueue_url = {QUEUE:?}\n\n[[destinations]]\nname = \"chat\"\n\
         type = \"google-chat\"\nurl_env = \"CHAT_URL\"\n\n[[destinations]]\nname = \"hook\"\n\
         type = \"webhook\"\nurl_env = \"CHAT_URL\"\n"
    )
}

#[test]
fn grouping_is_on_by_default_with_the_documented_values() {
    let config = load_text(&minimal(), &[("CHAT_URL", CHAT)]).unwrap();
    let g = &config.grouping;
    assert_eq!(g.group_interval, Duration::from_secs(300));
    assert_eq!(g.crash_loop_threshold, 5);
    assert_eq!(g.crash_loop_window, Duration::from_secs(600));
    assert!(g.recovery_notices);
    assert_eq!(g.max_held, 5_000);
    assert!(g.enabled());
}

#[test]
fn grouping_is_set_by_file_or_override_and_0s_turns_it_off() {
    let text = format!(
        "{}\n[grouping]\ngroup_interval = \"0s\"\ncrash_loop_threshold = 0\n\
         recovery_notices = false\n",
        minimal()
    );
    let config = load_text(&text, &[("CHAT_URL", CHAT)]).unwrap();
    assert!(!config.grouping.enabled());
    assert_eq!(config.grouping.crash_loop_threshold, 0);
    assert!(!config.grouping.recovery_notices);

    let config = load_text(
        &minimal(),
        &[
            ("CHAT_URL", CHAT),
            ("FAILWATCH_GROUPING__GROUP_INTERVAL", "30s"),
            ("FAILWATCH_GROUPING__CRASH_LOOP_WINDOW", "1h"),
            ("FAILWATCH_GROUPING__MAX_HELD", "100"),
        ],
    )
    .unwrap();
    assert_eq!(config.grouping.group_interval, Duration::from_secs(30));
    assert_eq!(config.grouping.crash_loop_window, Duration::from_secs(3600));
    assert_eq!(config.grouping.max_held, 100);
}

#[test]
fn bad_grouping_values_name_their_keys() {
    let text = format!(
        "{}\n[grouping]\ngroup_interval = \"2h\"\ncrash_loop_threshold = 1\n\
         crash_loop_window = \"0s\"\nmax_held = 200000\n",
        minimal()
    );
    assert_eq!(
        problems(load_text(&text, &[("CHAT_URL", CHAT)])),
        vec![
            "grouping.group_interval: 2h is out of range (1s..=1h)",
            "grouping.crash_loop_threshold: 1 would call every failure a crash loop: use 0 (off) \
             or 2 to 10000",
            "grouping.crash_loop_window: 0s is out of range (1s..=1day)",
            "grouping.max_held: 200000 is out of range (10..=100000)",
        ]
    );
    let p = problems(load_text(
        &minimal(),
        &[
            ("CHAT_URL", CHAT),
            ("FAILWATCH_GROUPING__GROUP_INTERVAL", "500ms"),
        ],
    ));
    assert_eq!(
        p,
        vec![
            "FAILWATCH_GROUPING__GROUP_INTERVAL (grouping.group_interval): 500ms is out of range \
             (1s..=1h)"
        ]
    );
}

#[test]
fn a_route_overrides_grouping_for_the_destinations_it_chooses() {
    let text = format!(
        "{}\n[grouping]\ngroup_interval = \"1m\"\n\n[[routes]]\ndestinations = [\"chat\"]\n\
         [routes.match]\nservice = \"api\"\n[routes.grouping]\ngroup_interval = \"0s\"\n\
         crash_loop_threshold = 3\n\n[default_route]\ndestinations = [\"hook\"]\n\
         [default_route.grouping]\nrecovery_notices = false\n",
        minimal()
    );
    let config = load_text(&text, &[("CHAT_URL", CHAT)]).unwrap();
    let route = config.router.routes[0].grouping.unwrap();
    let effective = config.grouping.with(&route);
    assert!(!effective.enabled());
    assert_eq!(effective.crash_loop_threshold, 3);
    assert_eq!(
        effective.crash_loop_window,
        config.grouping.crash_loop_window
    );
    let default = config.router.default_route.as_ref().unwrap().grouping;
    let effective = config.grouping.with(&default.unwrap());
    assert_eq!(effective.group_interval, Duration::from_secs(60));
    assert!(!effective.recovery_notices);

    let printed = config.redacted_toml().unwrap();
    assert!(printed.contains("[grouping]\n"), "{printed}");
    assert!(printed.contains("[routes.grouping]\n"), "{printed}");
    let again = load_text(&printed, &[("CHAT_URL", CHAT)]).unwrap();
    assert_eq!(again.redacted_toml().unwrap(), printed);
}

#[test]
fn a_bad_route_grouping_value_names_the_route_key() {
    let text = format!(
        "{}\n[[routes]]\ndestinations = [\"chat\"]\n[routes.grouping]\ncrash_loop_window = \"2d\"\n\
         colour = 1\n",
        minimal()
    );
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    assert!(
        p.contains(&"routes[0].grouping.colour: unknown field `colour`".to_owned()),
        "{p:?}"
    );
    let text = format!(
        "{}\n[[routes]]\ndestinations = [\"chat\"]\n[routes.grouping]\ncrash_loop_window = \"2d\"\n",
        minimal()
    );
    assert_eq!(
        problems(load_text(&text, &[("CHAT_URL", CHAT)])),
        vec!["routes[0].grouping.crash_loop_window: 2days is out of range (1s..=1day)"]
    );
}

/// Review h2, bug 5: one value that did not parse (`group_interval = "x"`) hid every other problem in
/// the file: the range checks of every section, the keys after it in its own table, the other routes.
#[test]
fn a_value_that_does_not_parse_hides_no_other_problem() {
    let text = format!(
        "{}\n[grouping]\ngroup_interval = \"x\"\ncrash_loop_threshold = 1\nmax_held = \"many\"\n\
         \n[[routes]]\ndestinations = [\"chat\"]\n[routes.grouping]\ngroup_interval = \"y\"\n\
         nope = 1\ncrash_loop_window = \"2d\"\n\n[[routes]]\ndestinations = \"chat\"\n\
         \n[[routes]]\ndestinations = [\"gone\"]\n",
        minimal()
    );
    assert_eq!(
        problems(load_text(&text, &[("CHAT_URL", CHAT)])),
        vec![
            "grouping.group_interval: invalid value: string \"x\", expected a duration",
            "grouping.max_held: invalid type: string \"many\", expected u32",
            "routes[0].grouping.nope: unknown field `nope`",
            "routes[0].grouping.group_interval: invalid value: string \"y\", expected a duration",
            "routes[1].destinations: invalid type: string \"chat\", expected a sequence",
            "grouping.crash_loop_threshold: 1 would call every failure a crash loop: use 0 (off) \
             or 2 to 10000",
            "routes[0].grouping.crash_loop_window: 2days is out of range (1s..=1day)",
            "routes[2].destinations: unknown destination \"gone\" (configured: chat, hook)",
        ]
    );
}

/// A bad value that is taken out to go on is reported once, not again as missing or by the checks
/// that then see its default.
#[test]
fn a_value_that_does_not_parse_is_reported_once() {
    let text = minimal()
        .replace("url_env = \"CHAT_URL\"\n\n", "url = 5\n\n")
        .replace("[sqs]\n", "[sqs]\nvisibility_timeout = true\n");
    let p = problems(load_text(&text, &[("CHAT_URL", CHAT)]));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].starts_with("destinations[0].url: invalid type"),
        "{p:?}"
    );
}
