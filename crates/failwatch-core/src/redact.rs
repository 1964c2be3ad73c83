//! Redaction: secrets in event text are replaced by [`MARKER`] before an alert leaves the core.
//!
//! Events come from other people's workloads, and their text quotes configuration: a Step Functions
//! cause holds the whole ECS task description with its environment overrides, a pull error holds a
//! presigned URL with its credentials, a `States.Runtime` cause quotes the state input. [`alert`] runs
//! on every alert in [`crate::classify()`], so every destination (chat cards and the generic webhook's
//! document alike) and every log line of an alert sees only redacted text.
//!
//! The matching is one [`Regex`] whose every alternative starts with a literal (a secret word, a
//! parameter name, a token prefix), matched case-insensitively: ordinary text costs one pass of the
//! regex engine's lazy DFA, and on no match [`text`] returns the input borrowed. Text is matched as
//! text, not parsed: causes arrive cut at 32,768 characters and hold JSON escaped inside JSON strings,
//! so JSON string values are delimited by counting backslashes ([`string_end`]), at any nesting level,
//! and a value cut by the end of the text is redacted to the end.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::Alert;
use crate::summary::Role;

/// What a secret value is replaced with: visible, so a reader knows something was there.
pub(crate) const MARKER: &str = "[redacted]";

/// A key whose name says its value is secret, from the secret word to the end of the key: `password`
/// in `DB_PASSWORD`, `apiKey`, `client-secret`. The key's beginning is not matched, so that every
/// alternative of [`RULES`] starts with a literal. `auth` counts only as a whole part (`basic_auth`,
/// `auth_key`, `Authorization`), never inside a word (`author`, `Unauthorized`).
const SECRET_KEY: &str = r"(?:(?:passw(?:or)?d|passphrase|pwd|secret|token|credential|session|(?:api|access|private)[_.\-]?key)[A-Za-z0-9_.\-]*|auth(?:orization|entication|[_.\-]?(?:key|header|code|string))?(?:[_.\-][A-Za-z0-9_.\-]*)?)";

/// [`SECRET_KEY`] anywhere in a name, for callers that format a JSON object's fields themselves.
static SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    regex::RegexBuilder::new(SECRET_KEY)
        .case_insensitive(true)
        .build()
        .expect("SECRET_KEY is a valid regex")
});

/// Whether a field or variable name says its value is secret (`DB_PASSWORD`, `apiKey`,
/// `Authorization`), by the same words the text rules use.
pub(crate) fn is_secret_name(name: &str) -> bool {
    SECRET_NAME.is_match(name)
}

/// The rules, one alternative each. Every alternative starts with a literal; each names the part it
/// replaces with a group (`v_*`), or where a JSON string or array starts (`q_*`, `env`).
static RULES: LazyLock<Regex> = LazyLock::new(|| {
    let rules = [
        // An AWS secret access key with its label, also in the `Label: value` form whose PascalCase
        // keys the plain-text rule leaves alone (they look like AWS error codes).
        r#"secret[_.\-]?access[_.\-]?key[\\"']*\s*[:=]\s*[\\"']*(?P<v_aws_secret>[A-Za-z0-9/+]{40})"#,
        // An environment array (ECS, Batch, CodeBuild, Kubernetes): every value in it is
        // configuration the room should not see, whatever its name says.
        r#"(?:environment(?:[_.\-]?variables)?|env)(?P<env>\\*)"\s*:\s*\["#,
        // An environment map: Lambda's `"Environment": {"Variables": {...}}`, or an
        // `"environmentVariables": {...}` object; every value in it, as in the array.
        r#"environment(?P<env_map>[_.\-]?variables)?(?P<env_object>\\*)"\s*:\s*\{"#,
        // Presigned-URL credentials (S3 v4 and v2, Google Cloud Storage, Azure SAS): the URL stays
        // readable up to the value.
        // The URL may itself be percent-encoded inside another's parameter (`redirect=`), where `=`
        // is `%3D` and `&` is `%26`.
        r#"(?:x-amz-(?:security-token|credential|signature)|x-goog-(?:signature|credential)|signature|awsaccesskeyid|sig)(?:=|%3D)(?P<v_url>(?:[^%&\s"'<>\\#]|%[^2&\s"'<>\\#]|%2[^6&\s"'<>\\#])+)"#,
        // A JSON field whose name says secret: a string value (any escaping level) or a number.
        &format!(
            r#"{SECRET_KEY}\\*"\s*:\s*(?:(?P<q_json>\\*)"|(?P<v_json_number>-?[0-9][0-9.eE+\-]*))"#
        ),
        // `KEY=value` in plain text, URLs and command lines; a quoted value may hold spaces. An
        // authentication scheme before the value is kept (`Authorization=Bearer [redacted]`).
        &format!(
            r#"{SECRET_KEY}\s*=\s*(?:(?:bearer|basic|token|digest)\s+)?(?:\\*["'](?P<v_eq_quoted>[^"'\\]+)|(?P<v_eq>[^\s&;"'<>\\]+))"#
        ),
        // `Key: value` (headers, YAML, log lines) whose value is not a plain word or an ARN, which is
        // how AWS's own messages read ("registry auth: execution resource retrieval failed", "fetch
        // secret: arn:aws:..."); [`prose`] vetoes AWS error codes (`ExpiredToken: The ...`).
        &format!(
            r#"{SECRET_KEY}:[ \t]+(?:(?P<scheme>(?:bearer|basic|token|digest)\s+)(?P<v_scheme>[^\s"'<>,;\\]+)|(?P<v_colon>[^\s"'<>,;:\\]*[^A-Za-z\s"'<>,;:\\][^\s"'<>,;:\\]*))"#
        ),
        // A bearer token anywhere, e.g. in a quoted curl command; 16 characters at least, so that
        // "bearer token" in prose stays.
        r"bearer\s+(?P<v_bearer>[A-Za-z0-9._~+/\-]{16,}=*)",
        // AWS access key ids (long-term AKIA, temporary ASIA); other AWS ids (AROA, AIDA) are not
        // credentials.
        r"(?-i:(?P<v_aws_key_id>(?:AKIA|ASIA)[A-Z0-9]{16}))",
        // Slack bot, user, app-level and refresh tokens.
        r"(?-i:(?P<v_slack>xox[abposr]-[A-Za-z0-9\-]{10,}))",
        // A Slack incoming-webhook URL is its own credential: keep the host, drop the path.
        r"hooks\.slack\.com/services/(?P<v_slack_hook>[A-Za-z0-9/_\-]+)",
        // GitHub personal, OAuth, user-to-server, server-to-server and refresh tokens.
        r"(?-i:(?P<v_github>gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}))",
        // Stripe secret and restricted keys, live and test, and webhook signing secrets. Publishable
        // keys (`pk_`) are public by design (they are embedded in web pages) and stay.
        r"(?-i:(?P<v_stripe>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{8,}|whsec_[A-Za-z0-9]{16,}))",
        // JSON Web Tokens: a base64url JSON header and payload (both start `{"`, `eyJ`), then the
        // signature, which may be empty.
        r"(?-i:(?P<v_jwt>eyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*))",
        // PEM private keys: the body up to the END line, the end of the JSON string holding it, or the
        // end of the text when the block was cut.
        r#"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?P<v_pem>(?s:.*?))(?:-----END|\\*"|\z)"#,
        // Google API keys.
        r"(?-i:(?P<v_google_key>AIza[0-9A-Za-z_\-]{35}))",
        // A password in a URL's userinfo (`postgres://user:password@host`); the user stays. The user
        // may be empty (`redis://:password@host`).
        r#"://[^/\s:@"'\\]*:(?P<v_userinfo>[^/\s@"'\\]+)@"#,
    ];
    let pattern = format!("(?i){}", rules.join("|"));
    Regex::new(&pattern).expect("the redaction rules compile")
});

/// A JSON object key `value` and the opening quote of its string value, inside an environment array.
static ENV_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)"value\\*"\s*:\s*(?P<q>\\*)""#).expect("the environment rule compiles")
});

/// The `Variables` key of a Lambda environment object and the `{` of its map, whose strings are
/// quoted at the escaping level `q` gives.
static ENV_VARIABLES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)"variables(?P<q>\\*)"\s*:\s*\{"#).expect("the environment map rule compiles")
});

/// `input` with every secret value failwatch recognises in event text (environment values, fields
/// and `KEY=value` pairs named like secrets, presigned-URL credentials, well-known token shapes)
/// replaced by `[redacted]`; borrowed when there is none. Alerts are redacted by [`crate::classify()`]
/// already; this is for other text that may quote secrets, such as a destination's error answer.
pub fn text(input: &str) -> Cow<'_, str> {
    // The common case: one scan, no allocation (capture slots are only made once something matched).
    let Some(first) = RULES.find(input) else {
        return Cow::Borrowed(input);
    };
    let cuts = cuts(input, first.start());
    if cuts.is_empty() {
        return Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len());
    let mut last = 0;
    for cut in merged(cuts) {
        out.push_str(&input[last..cut.start]);
        out.push_str(MARKER);
        last = cut.end;
    }
    out.push_str(&input[last..]);
    Cow::Owned(out)
}

/// Redacts every text of `alert` that comes from the event: title, summary, names and ids, reasons,
/// the Step Functions error and cause, keys and links (which are built from names).
pub(crate) fn alert(alert: &mut Alert) {
    // The cause is redacted on its own, once: it is the longest text by far (a whole task or job
    // description), and every `runTask.sync` cause matches a rule (its ENI attachments are
    // `Name`/`Value` pairs, which stay), so joining it into the one-scan check would send nearly every
    // Step Functions alert down the field-by-field path and scan it twice.
    if let Some(execution) = &mut alert.execution {
        in_place_opt(&mut execution.cause);
    }
    if !has_secret(alert) {
        return;
    }
    in_place(&mut alert.title);
    if let Cow::Owned(_) = text(&alert.summary) {
        alert.summary = alert.summary.map_values(text);
    }
    for field in [&mut alert.cluster, &mut alert.service] {
        in_place_opt(field);
    }
    if let Some(task) = &mut alert.task {
        for field in [&mut task.arn, &mut task.id] {
            in_place(field);
        }
        for field in [
            &mut task.definition,
            &mut task.group,
            &mut task.launch_type,
            &mut task.stop_code,
            &mut task.stopped_reason,
        ] {
            in_place_opt(field);
        }
        for container in &mut task.containers {
            in_place(&mut container.name);
            in_place_opt(&mut container.reason);
        }
    }
    if let Some(execution) = &mut alert.execution {
        for field in [
            &mut execution.arn,
            &mut execution.name,
            &mut execution.state_machine,
            &mut execution.status,
            &mut execution.error,
        ] {
            in_place_opt(field);
        }
    }
    let links = &mut alert.links;
    for field in [
        &mut links.task,
        &mut links.task_logs,
        &mut links.service,
        &mut links.execution,
        &mut links.batch_job,
        &mut links.batch_job_logs,
        &mut links.child_execution,
        &mut links.glue_job_run,
    ] {
        in_place_opt(field);
    }
    for field in links
        .related
        .iter_mut()
        .chain([&mut alert.dedup_key, &mut alert.group_key])
    {
        in_place(field);
    }
}

/// Whether any text of `alert` that comes from the event matches a rule, in one scan of one buffer
/// (a rule that matches in one text also matches in texts joined around it, so the joins can only add
/// a needless slow path, never hide a secret), and each text once. The console links are left out:
/// failwatch builds them from the names and ids scanned here.
fn has_secret(alert: &Alert) -> bool {
    let summary = &alert.summary;
    let mut joined = String::with_capacity(2 * alert.summary.len() + 512);
    // A text that ends the one added before is in the buffer already: the task ARN ends the task's
    // dedup key, the task id ends its ARN.
    let mut add = |text: &str| {
        if !joined
            .strip_suffix('\n')
            .is_some_and(|last| last.ends_with(text))
        {
            joined.push_str(text);
            joined.push('\n');
        }
    };
    add(&alert.dedup_key);
    if let Some(task) = &alert.task {
        add(&task.arn);
        add(&task.id);
    }
    for text in [&alert.title, &alert.group_key]
        .into_iter()
        .chain(&alert.links.related)
    {
        add(text);
    }
    for text in [&alert.cluster, &alert.service].into_iter().flatten() {
        add(text);
    }
    if let Some(task) = &alert.task {
        let fields = [
            &task.definition,
            &task.group,
            &task.launch_type,
            &task.stop_code,
        ];
        for text in fields.into_iter().flatten() {
            add(text);
        }
        // Long texts the summary states as a whole fact are scanned there.
        if task.stopped_reason.as_deref() != summary.get(Role::Reason) {
            task.stopped_reason.as_deref().map(&mut add);
        }
        for container in &task.containers {
            add(&container.name);
            container.reason.as_deref().map(&mut add);
        }
    }
    if let Some(execution) = &alert.execution {
        let fields = [
            &execution.arn,
            &execution.name,
            &execution.state_machine,
            &execution.status,
            &execution.error,
        ];
        for text in fields.into_iter().flatten() {
            add(text);
        }
    }
    add(summary);
    RULES.is_match(&joined)
}

fn in_place(value: &mut String) {
    let redacted = match text(value) {
        Cow::Borrowed(_) => return,
        Cow::Owned(redacted) => redacted,
    };
    *value = redacted;
}

fn in_place_opt(value: &mut Option<String>) {
    if let Some(value) = value {
        in_place(value);
    }
}

/// The byte ranges of `input` to replace, searching from `at`, in the order found (possibly
/// overlapping).
fn cuts(input: &str, mut at: usize) -> Vec<Range<usize>> {
    let mut cuts = Vec::new();
    // The end of the last environment array read: one nested in it is read with it, so no byte is
    // read twice however deeply arrays nest.
    let mut env_end = 0;
    while let Some(caps) = RULES.captures_at(input, at) {
        let Some(whole) = caps.get(0).map(|m| m.range()) else {
            break;
        };
        // Search on after the match; a vetoed `Key: value` match from its value, which may hold a
        // token of another rule (`Authorization: Bearer ...`).
        at = whole.end;
        if let Some(level) = caps.name("env") {
            if whole.start >= env_end {
                env_end = env_values(input, whole.end, level.len(), &mut cuts);
            }
        } else if let Some(level) = caps.name("env_object") {
            if whole.start >= env_end {
                let level = level.len();
                env_end = if caps.name("env_map").is_some() {
                    object_values(input, whole.end, level, &mut cuts)
                } else {
                    env_object(input, whole.end, level, &mut cuts)
                };
            }
        } else if let Some(level) = caps.name("q_json") {
            let end = string_end(input, whole.end, level.len());
            cuts.push(whole.end..end);
            at = end;
        } else if let Some(value) = caps.name("v_colon") {
            if prose(input, whole.start, &caps) {
                at = value.start();
            } else {
                cuts.push(value.range());
            }
        } else if let Some(value) = caps.iter().skip(1).flatten().last() {
            cuts.push(value.range());
        }
    }
    cuts.retain(|c| !c.is_empty());
    cuts
}

/// Whether a `Key: value` match is an AWS error code rather than a secret: a PascalCase compound key
/// (`ExpiredToken: The security token ...` with a digit in its first word). `start` is where the match
/// begins, at the secret word; the key may begin before it.
fn prose(input: &str, start: usize, caps: &Captures<'_>) -> bool {
    let whole = caps.get(0).map_or("", |m| m.as_str());
    let key_start = input[..start]
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .map_or(0, |i| i + 1);
    let key = &input[key_start..start + whole.find(':').unwrap_or(0)];
    key.bytes().all(|b| b.is_ascii_alphabetic())
        && key.starts_with(|c: char| c.is_ascii_uppercase())
        && key.bytes().any(|b| b.is_ascii_lowercase())
        && key.bytes().skip(1).any(|b| b.is_ascii_uppercase())
}

/// Adds the value of every `"value"` key in the environment array that starts at `start` (just after
/// its `[`), whose strings are quoted at escaping `level`; returns where the array ends.
fn env_values(input: &str, start: usize, level: usize, cuts: &mut Vec<Range<usize>>) -> usize {
    let end = array_end(input, start, level);
    for caps in ENV_VALUE.captures_iter(&input[start..end]) {
        let (Some(whole), Some(q)) = (caps.get(0), caps.name("q")) else {
            continue;
        };
        if q.len() != level {
            continue;
        }
        let value_start = start + whole.end();
        cuts.push(value_start..string_end(input, value_start, level).min(end));
    }
    end
}

/// Adds every string value of the `Variables` map of the environment object that starts at `start`
/// (just after its `{`), whose strings are quoted at escaping `level`; returns where the object ends.
fn env_object(input: &str, start: usize, level: usize, cuts: &mut Vec<Range<usize>>) -> usize {
    let end = array_end(input, start, level);
    for caps in ENV_VARIABLES.captures_iter(&input[start..end]) {
        let (Some(whole), Some(q)) = (caps.get(0), caps.name("q")) else {
            continue;
        };
        if q.len() == level {
            object_values(input, start + whole.end(), level, cuts);
        }
    }
    end
}

/// Adds every string value at the top of the JSON object that starts at `start` (just after its
/// `{`), whose strings are quoted at escaping `level`; returns where the object ends. Keys stay.
fn object_values(input: &str, start: usize, level: usize, cuts: &mut Vec<Range<usize>>) -> usize {
    let bytes = input.as_bytes();
    let mut depth = 0usize;
    // Whether the last thing read at the top of the object was a `:`, so a string is a value.
    let mut after_colon = false;
    let mut at = start;
    while at < bytes.len() {
        match bytes[at] {
            b'"' if delimits(bytes, start, at, level) => {
                let end = string_end(input, at + 1, level);
                if depth == 0 && after_colon {
                    cuts.push(at + 1..end);
                }
                after_colon = false;
                at = end + level + 1;
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return at,
            },
            b':' if depth == 0 => after_colon = true,
            b'\\' => {}
            b if b.is_ascii_whitespace() => {}
            _ => after_colon = false,
        }
        at += 1;
    }
    input.len()
}

/// Whether the quote at byte `quote` delimits a JSON string at escaping `level` (the number of
/// backslashes before a delimiting quote: 0 in JSON, 1 in JSON inside a JSON string, 3 one level
/// deeper). A quote preceded by `b` backslashes delimits at `level` when `b mod 2(level + 1) ==
/// level`: the other counts are escaped quotes of deeper levels or escaped backslashes.
fn delimits(input: &[u8], from: usize, quote: usize, level: usize) -> bool {
    let backslashes = input[from..quote]
        .iter()
        .rev()
        .take_while(|&&b| b == b'\\')
        .count();
    backslashes % (2 * (level + 1)) == level
}

/// The end of the JSON string value that starts at `start` (just after its opening quote) at escaping
/// `level`: where its closing quote's backslashes begin, or the end of the text when it was cut.
fn string_end(input: &str, start: usize, level: usize) -> usize {
    let bytes = input.as_bytes();
    let mut at = start;
    while let Some(offset) = bytes[at..].iter().position(|&b| b == b'"') {
        let quote = at + offset;
        if delimits(bytes, start, quote, level) {
            return quote - level;
        }
        at = quote + 1;
    }
    input.len()
}

/// The position of the `]` that closes the array starting at `start` (just after its `[`), whose
/// strings are quoted at escaping `level`; the end of the text when it was cut.
fn array_end(input: &str, start: usize, level: usize) -> usize {
    let bytes = input.as_bytes();
    let mut depth = 0usize;
    let mut at = start;
    while at < bytes.len() {
        match bytes[at] {
            b'"' if delimits(bytes, start, at, level) => {
                at = string_end(input, at + 1, level) + level + 1;
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return at,
            },
            _ => {}
        }
        at += 1;
    }
    input.len()
}

/// Sorts and joins overlapping ranges.
fn merged(mut cuts: Vec<Range<usize>>) -> Vec<Range<usize>> {
    cuts.sort_by_key(|c| c.start);
    let mut out: Vec<Range<usize>> = Vec::with_capacity(cuts.len());
    for cut in cuts {
        match out.last_mut() {
            Some(last) if cut.start <= last.end => last.end = last.end.max(cut.end),
            _ => out.push(cut),
        }
    }
    out
}

#[cfg(test)]
mod tests;
