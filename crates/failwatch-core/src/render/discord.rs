//! Discord: one embed for a webhook, coloured by severity.
//!
//! Webhook messages cannot carry link buttons (components need an application-owned webhook), so the
//! console links are a "Links" field of markdown links whose labels are ours and whose URLs passed
//! [`super::safe_url`]; the embed title links to the first of them. `allowed_mentions.parse` is always
//! empty, so nothing in the message pings anyone — except the configured mention, which goes in
//! `content` and is allowed explicitly when it is a user (`<@id>`), a role (`<@&id>`), or `@everyone` /
//! `@here`.
//!
//! The summary and each container's last log lines share the description, the one element with room
//! for a code block of log lines.
//!
//! Limits: title 256, description 4,096, at most 25 fields, field name 256 and value 1,024, footer
//! 2,048, all embed text together 6,000, content 2,000 characters.

use std::borrow::Cow;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::enrichment::{LogBody, LogSection, driver_note, log_sections, tail_text};
use super::group::{Listed, Notice};
use super::{
    Button, Fact, Level, blank, buttons, facts, severity_emoji, severity_rgb, shrink, to_json,
};
use crate::Alert;
use crate::render::RenderOptions;
use crate::text::{Markup, Unit, cut_plain, fit, measure};

pub(crate) const MAX_TITLE: usize = 256;
pub(crate) const MAX_DESCRIPTION: usize = 4096;
pub(crate) const MAX_FIELDS: usize = 25;
pub(crate) const MAX_FIELD_NAME: usize = 256;
pub(crate) const MAX_FIELD_VALUE: usize = 1024;
pub(crate) const MAX_FOOTER: usize = 2048;
pub(crate) const MAX_EMBED_TOTAL: usize = 6000;
pub(crate) const MAX_CONTENT: usize = 2000;

#[derive(Debug, Serialize)]
struct Message<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    embeds: [Embed<'a>; 1],
    allowed_mentions: AllowedMentions,
}

#[derive(Debug, Default, Serialize)]
struct AllowedMentions {
    parse: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    users: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roles: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Embed<'a> {
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<Cow<'a, str>>,
    color: u32,
    fields: Vec<Field<'a>>,
    footer: Footer,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct Field<'a> {
    name: &'static str,
    value: Cow<'a, str>,
    inline: bool,
}

#[derive(Debug, Serialize)]
struct Footer {
    text: String,
}

impl Embed<'_> {
    /// The characters Discord counts against its 6,000 total.
    fn total_chars(&self) -> usize {
        measure(&self.title, Unit::Chars)
            + self
                .description
                .as_deref()
                .map_or(0, |d| measure(d, Unit::Chars))
            + measure(&self.footer.text, Unit::Chars)
            + self
                .fields
                .iter()
                .map(|f| measure(f.name, Unit::Chars) + measure(&f.value, Unit::Chars))
                .sum::<usize>()
    }
}

pub(super) fn render(alert: &Alert, opts: &RenderOptions) -> String {
    let links = buttons(alert);
    let (json, _) = shrink(
        |level| {
            let facts = facts(alert, level);
            let message = message(alert, opts, &links, &facts, level);
            (to_json(&message), message.embeds[0].total_chars())
        },
        |(_, total)| *total <= MAX_EMBED_TOTAL,
    );
    json
}

fn md(value: &str, single_line: bool, limit: usize) -> Cow<'_, str> {
    fit(
        value,
        Markup::DiscordMarkdown,
        single_line,
        limit,
        Unit::Chars,
    )
}

/// Builds the message at `level`, borrowing from the alert and its facts, which the caller keeps alive
/// until the message is serialised.
fn message<'a>(
    alert: &'a Alert,
    opts: &'a RenderOptions,
    links: &[Button<'a>],
    facts: &'a [Fact<'a>],
    level: Level,
) -> Message<'a> {
    let mention = opts.mention();

    let title = title_text(severity_emoji(alert.severity), &alert.title, level);
    let mut fields = fact_fields(facts, level);
    if let Some(hint) = alert.hint.as_deref().filter(|_| level.hint) {
        fields.push(Field {
            name: "💡 Hint",
            value: md(hint, false, level.long.min(MAX_FIELD_VALUE)),
            inline: false,
        });
    }
    with_links(&mut fields, links);
    let footer = footer_text("event", &alert.event_id, level);
    let timestamp = timestamp(&alert.time);

    Message {
        content: mention.map(|m| cut_plain(m, MAX_CONTENT, Unit::Chars)),
        embeds: [Embed {
            title,
            url: links.first().map(|b| b.url),
            description: description(alert, level),
            color: severity_rgb(alert.severity),
            fields,
            footer,
            timestamp,
        }],
        allowed_mentions: allowed_mentions(mention),
    }
}

/// The embed's title: our emoji, then the title (escaped).
fn title_text(emoji: &str, title: &str, level: Level) -> String {
    let mut out = format!("{emoji} ");
    let room = MAX_TITLE.saturating_sub(measure(&out, Unit::Chars));
    out.push_str(&md(title, true, room.min(level.short)));
    out
}

/// Each fact as a field: short ones inline, long ones on their own.
fn fact_fields<'a>(facts: &'a [Fact<'a>], level: Level) -> Vec<Field<'a>> {
    let mut fields: Vec<Field<'a>> = Vec::with_capacity(MAX_FIELDS);
    for fact in facts {
        let limit = if fact.long { level.long } else { level.short };
        fields.push(Field {
            name: fact.label,
            value: md(&fact.value, !fact.long, limit.min(MAX_FIELD_VALUE)),
            inline: !fact.long,
        });
    }
    fields
}

/// Keeps at most [`MAX_FIELDS`] fields with the links field, when there are links, last.
fn with_links<'a>(fields: &mut Vec<Field<'a>>, links: &[Button<'_>]) {
    fields.truncate(MAX_FIELDS - usize::from(!links.is_empty()));
    fields.extend(links_field(links));
    debug_assert!(
        fields
            .iter()
            .all(|f| measure(f.name, Unit::Chars) <= MAX_FIELD_NAME)
    );
}

/// The footer: "failwatch · {label} {value}".
fn footer_text(label: &str, value: &str, level: Level) -> Footer {
    // Footers show markdown literally, so a real event id (a UUID) never shows a backslash; an odd one
    // is escaped anyway so that no workload text in a Discord payload is left unescaped.
    let text = format!("failwatch · {label} {}", md(value, true, level.short));
    Footer {
        text: cut_plain(&text, MAX_FOOTER, Unit::Chars).to_owned(),
    }
}

/// `time` as the embed's timestamp, when it is RFC 3339 (Discord rejects anything else).
fn timestamp(time: &str) -> Option<&str> {
    OffsetDateTime::parse(time, &Rfc3339)
        .is_ok()
        .then_some(time)
}

/// The longest log stream link put next to a log section's heading; a longer one would crowd out lines.
const MAX_LOG_LINK_CHARS: usize = 400;
/// A log section is left out when less room than this is left for its lines.
const MIN_LOG_LINES_CHARS: usize = 200;

/// The embed's description: the summary, then each log section, the one place with room for log lines
/// (4,096 characters against a field's 1,024). `None` when both are blank.
fn description(alert: &Alert, level: Level) -> Option<Cow<'_, str>> {
    let mut out = if blank(&alert.summary) {
        Cow::Borrowed("")
    } else {
        md(&alert.summary, false, level.long.min(MAX_DESCRIPTION))
    };
    for section in log_sections(alert, level) {
        let Some(text) = log_text(section, level, MAX_DESCRIPTION - measure(&out, Unit::Chars))
        else {
            break;
        };
        let out = out.to_mut();
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&text);
    }
    (!out.is_empty()).then_some(out)
}

/// A log section within `room` characters (counting the blank line before it): a bold heading with a
/// link to the log stream, then the lines in a code block, where Discord shows text verbatim (so they
/// are not backslash-escaped; [`Markup::Code`] keeps a line from closing the block). `None` when too
/// little room is left.
fn log_text(section: LogSection<'_>, level: Level, room: usize) -> Option<String> {
    let mut out = format!("**{}**", section.heading(Markup::DiscordMarkdown, level));
    if let Some(url) = section.link {
        let link = format!(" · [Log stream]({url})");
        if measure(&link, Unit::Chars) <= MAX_LOG_LINK_CHARS {
            out.push_str(&link);
        }
    }
    const OVERHEAD: usize = "\n\n\n```\n\n```".len();
    let lines_room = room.checked_sub(measure(&out, Unit::Chars) + OVERHEAD)?;
    match section.body {
        LogBody::Lines(lines) if lines_room >= MIN_LOG_LINES_CHARS => {
            let tail = tail_text(lines, Markup::Code, "\n", level, lines_room);
            out.push_str(&format!("\n```\n{tail}\n```"));
        }
        LogBody::Lines(_) => return None,
        LogBody::Driver(driver) => {
            let note = driver_note(driver, Markup::DiscordMarkdown, level);
            if measure(&note, Unit::Chars) > lines_room {
                return None;
            }
            out.push('\n');
            out.push_str(&note);
        }
    }
    Some(out)
}

/// The console links as one "Links" field of markdown links, `None` when there are none.
fn links_field(links: &[Button<'_>]) -> Option<Field<'static>> {
    let mut value = links
        .iter()
        .map(|b| format!("[{}]({})", b.label, b.url))
        .collect::<Vec<_>>()
        .join(" · ");
    // Four safe URLs of at most 2,000 bytes could exceed a field; drop whole links, never cut one.
    while measure(&value, Unit::Chars) > MAX_FIELD_VALUE {
        match value.rfind(" · ") {
            Some(at) => value.truncate(at),
            None => {
                value.clear();
                break;
            }
        }
    }
    (!value.is_empty()).then_some(Field {
        name: "Links",
        value: Cow::Owned(value),
        inline: false,
    })
}

/// Allows exactly the configured mention to ping, and nothing else.
fn allowed_mentions(mention: Option<&str>) -> AllowedMentions {
    let mut allowed = AllowedMentions::default();
    let Some(mention) = mention else {
        return allowed;
    };
    let id =
        |s: &str| (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.to_owned());
    if mention == "@everyone" || mention == "@here" {
        allowed.parse.push("everyone");
    } else if let Some(inner) = mention
        .strip_prefix("<@&")
        .and_then(|s| s.strip_suffix('>'))
    {
        allowed.roles.extend(id(inner));
    } else if let Some(inner) = mention.strip_prefix("<@").and_then(|s| s.strip_suffix('>')) {
        allowed
            .users
            .extend(id(inner.strip_prefix('!').unwrap_or(inner)));
    }
    allowed
}

/// Renders a digest or recovery, built at each level by `build`, as one standalone embed.
pub(super) fn render_notice<'a>(
    build: impl Fn(Level) -> Notice<'a>,
    opts: &RenderOptions,
) -> String {
    let (json, _) = shrink(
        |level| {
            let notice = build(level);
            let message = notice_message(&notice, opts, level);
            (to_json(&message), message.embeds[0].total_chars())
        },
        |(_, total)| *total <= MAX_EMBED_TOTAL,
    );
    json
}

/// The embed of a notice: the title in the tone's colour, the listed alerts in the description, the
/// facts as fields, the group's links, the footer.
fn notice_message<'a>(n: &'a Notice<'a>, opts: &'a RenderOptions, level: Level) -> Message<'a> {
    let mention = opts.mention();
    let mut fields = fact_fields(&n.facts, level);
    with_links(&mut fields, &n.buttons);
    let (label, value) = n.footer;
    Message {
        content: mention.map(|m| cut_plain(m, MAX_CONTENT, Unit::Chars)),
        embeds: [Embed {
            title: title_text(n.tone.emoji(), n.title, level),
            url: n.buttons.first().map(|b| b.url),
            description: listed_description(n, level).map(Cow::Owned),
            color: n.tone.rgb(),
            fields,
            footer: footer_text(label, value, level),
            timestamp: timestamp(n.time),
        }],
        allowed_mentions: allowed_mentions(mention),
    }
}

/// Room kept at the end of the description for "and N more".
const MORE_CHARS: usize = 40;

/// The listed alerts, one line each, then "and N more" counting those the description had no room
/// for. A line too long for the room left is tried without its link, then left out with every line
/// after it; `None` when there is nothing to list.
fn listed_description(n: &Notice<'_>, level: Level) -> Option<String> {
    let room = MAX_DESCRIPTION.min(level.long.saturating_mul(10)) - MORE_CHARS;
    let mut out = String::new();
    let mut shown = 0u64;
    for listed in &n.listed {
        let plain = listed_line(listed, level);
        let linked = listed
            .link
            .filter(|url| measure(url, Unit::Chars) <= MAX_LOG_LINK_CHARS)
            .map(|url| format!("{plain} · [Open in console]({url})"));
        let used = measure(&out, Unit::Chars) + 1;
        let Some(line) = linked
            .into_iter()
            .chain([plain])
            .find(|line| used + measure(line, Unit::Chars) <= room)
        else {
            break;
        };
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&line);
        shown += 1;
    }
    let more = n.more + (n.listed.len() as u64 - shown);
    if more > 0 {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("and {more} more"));
    }
    (!out.is_empty()).then_some(out)
}

/// A listed alert without its link: "• **id** · time · exit 137 · reason".
fn listed_line(listed: &Listed<'_>, level: Level) -> String {
    let mut line = format!(
        "• **{}** · {}",
        md(&listed.id, true, level.short),
        md(&listed.time, true, level.short)
    );
    if !blank(&listed.detail) {
        line.push_str(" · ");
        line.push_str(&md(&listed.detail, true, level.long));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::allowed_mentions;

    #[test]
    fn only_the_configured_mention_is_allowed() {
        let none = allowed_mentions(None);
        assert!(none.parse.is_empty() && none.users.is_empty() && none.roles.is_empty());
        assert_eq!(allowed_mentions(Some("<@123>")).users, vec!["123"]);
        assert_eq!(allowed_mentions(Some("<@!123>")).users, vec!["123"]);
        assert_eq!(allowed_mentions(Some("<@&456>")).roles, vec!["456"]);
        assert!(allowed_mentions(Some("<@abc>")).users.is_empty());
        assert_eq!(allowed_mentions(Some("@here")).parse, vec!["everyone"]);
    }
}
