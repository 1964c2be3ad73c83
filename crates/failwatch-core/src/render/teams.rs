//! Microsoft Teams: an Adaptive Card (schema version 1.4) for a Workflows (Power Automate) webhook.
//!
//! Office 365 connectors are retired; the "Post to a channel when a webhook request is received"
//! workflow takes a message activity whose attachment is the card. Version 1.4 is the newest Teams
//! renders everywhere, including mobile. Workload text is Adaptive Card markdown with link syntax broken
//! (see [`crate::text::Markup::TeamsMarkdown`]); links appear only as `Action.OpenUrl` buttons.
//!
//! Teams notifies only for a mention backed by an `msteams.entities` entry. A configured mention that
//! looks like a user principal name (`oncall@example.com`) becomes `<at>…</at>` with that entry; any
//! other mention is shown verbatim at the top of the card.
//!
//! Limit: about 28 KB for the whole message, above which Teams answers "request entity too large".

use std::borrow::Cow;

use serde::Serialize;

use super::enrichment::{LogBody, driver_note, log_sections, tail_text};
use super::group::{Notice, Tone};
use super::{Button, Fact, Level, blank, buttons, facts, heading, shrink, to_json};
use crate::render::RenderOptions;
use crate::text::{Markup, Unit, fit, measure};
use crate::{Alert, Severity};

/// The Workflows message size limit, taken as decimal kilobytes so it holds for either reading.
pub(crate) const MAX_BYTES: usize = 28_000;

#[derive(Debug, Serialize)]
struct Message<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    attachments: [Attachment<'a>; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Attachment<'a> {
    content_type: &'static str,
    content_url: Option<&'static str>,
    content: Card<'a>,
}

#[derive(Debug, Serialize)]
struct Card<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    version: &'static str,
    msteams: MsTeams,
    body: Vec<Element<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    actions: Vec<Action<'a>>,
}

#[derive(Debug, Serialize)]
struct MsTeams {
    width: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entities: Vec<Entity>,
}

#[derive(Debug, Serialize)]
struct Entity {
    #[serde(rename = "type")]
    kind: &'static str,
    text: String,
    mentioned: Mentioned,
}

#[derive(Debug, Serialize)]
struct Mentioned {
    id: String,
    name: String,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type")]
enum Element<'a> {
    TextBlock(TextBlock<'a>),
    Container {
        style: &'static str,
        bleed: bool,
        items: Vec<Element<'a>>,
    },
    FactSet {
        facts: Vec<CardFact<'a>>,
    },
    ActionSet {
        actions: Vec<Action<'a>>,
    },
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct TextBlock<'a> {
    text: Cow<'a, str>,
    wrap: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    color: Option<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    is_subtle: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    font_type: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct CardFact<'a> {
    title: &'static str,
    value: Cow<'a, str>,
}

#[derive(Debug, Serialize)]
struct Action<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    url: &'a str,
}

pub(super) fn render(alert: &Alert, opts: &RenderOptions) -> String {
    let links = buttons(alert);
    shrink(
        |level| {
            let facts = facts(alert, level);
            to_json(&message(alert, opts, &links, &facts, level))
        },
        |json| measure(json, Unit::Bytes) <= MAX_BYTES,
    )
}

fn text(value: &str, single_line: bool, limit: usize) -> Cow<'_, str> {
    fit(
        value,
        Markup::TeamsMarkdown,
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
    let (mut body, entities) = mentioned(opts);
    body.push(banner(alert, level));
    if !blank(&alert.summary) {
        body.push(Element::TextBlock(TextBlock {
            text: text(&alert.summary, false, level.long),
            wrap: true,
            ..TextBlock::default()
        }));
    }

    fact_elements(&mut body, facts, level);
    if let Some(hint) = alert.hint.as_deref().filter(|_| level.hint) {
        body.push(Element::TextBlock(TextBlock {
            text: Cow::Owned(format!("💡 {}", text(hint, false, level.long))),
            wrap: true,
            ..TextBlock::default()
        }));
    }
    log_elements(&mut body, alert, level);
    body.push(Element::TextBlock(TextBlock {
        text: Cow::Owned(format!(
            "failwatch · event {}",
            text(&alert.event_id, true, level.short)
        )),
        wrap: true,
        size: Some("Small"),
        is_subtle: true,
        ..TextBlock::default()
    }));

    card(body, entities, links)
}

/// The message carrying one full-width card with `body`, the mention `entities` and the links as
/// buttons.
fn card<'a>(body: Vec<Element<'a>>, entities: Vec<Entity>, links: &[Button<'a>]) -> Message<'a> {
    Message {
        kind: "message",
        attachments: [Attachment {
            content_type: "application/vnd.microsoft.card.adaptive",
            content_url: None,
            content: Card {
                schema: "http://adaptivecards.io/schemas/adaptive-card.json",
                kind: "AdaptiveCard",
                version: "1.4",
                msteams: MsTeams {
                    width: "Full",
                    entities,
                },
                body,
                actions: links.iter().map(|b| open_url(b.label, b.url)).collect(),
            },
        }],
    }
}

fn open_url<'a>(title: &'static str, url: &'a str) -> Action<'a> {
    Action {
        kind: "Action.OpenUrl",
        title,
        url,
    }
}

/// The coloured banner: heading and title.
fn banner(alert: &Alert, level: Level) -> Element<'_> {
    let style = match alert.severity {
        Severity::Critical => ("attention", "Attention"),
        Severity::Warning => ("warning", "Warning"),
    };
    banner_with(style, heading(alert), &alert.title, level)
}

/// A banner in a container `style` and text `color`: our `heading`, then the `title` (escaped).
fn banner_with<'a>(
    (style, color): (&'static str, &'static str),
    heading: String,
    title: &'a str,
    level: Level,
) -> Element<'a> {
    Element::Container {
        style,
        bleed: true,
        items: vec![
            Element::TextBlock(TextBlock {
                text: Cow::Owned(heading),
                wrap: true,
                weight: Some("Bolder"),
                size: Some("Medium"),
                color: Some(color),
                ..TextBlock::default()
            }),
            Element::TextBlock(TextBlock {
                text: text(title, true, level.short),
                wrap: true,
                weight: Some("Bolder"),
                ..TextBlock::default()
            }),
        ],
    }
}

/// The start of a card's body and its `msteams.entities`: the mention's block, when one is configured.
fn mentioned(opts: &RenderOptions) -> (Vec<Element<'static>>, Vec<Entity>) {
    let mut body = Vec::with_capacity(16);
    let mut entities = Vec::new();
    if let Some(mention) = opts.mention() {
        body.push(mention_block(mention, &mut entities));
    }
    (body, entities)
}

/// The mention's text block: a user principal name becomes `<at>…</at>` with its `msteams.entities`
/// entry, so Teams notifies; anything else is shown verbatim.
fn mention_block(mention: &str, entities: &mut Vec<Entity>) -> Element<'static> {
    let text = if is_user_principal_name(mention) {
        let tag = format!("<at>{mention}</at>");
        entities.push(Entity {
            kind: "mention",
            text: tag.clone(),
            mentioned: Mentioned {
                id: mention.to_owned(),
                name: mention.to_owned(),
            },
        });
        tag
    } else {
        mention.to_owned()
    };
    Element::TextBlock(TextBlock {
        text: Cow::Owned(text),
        wrap: true,
        ..TextBlock::default()
    })
}

/// The detail facts: short ones in one fact set, long ones as a bold label and a text block each.
fn fact_elements<'a>(body: &mut Vec<Element<'a>>, facts: &'a [Fact<'a>], level: Level) {
    let (short, long): (Vec<_>, Vec<_>) = facts.iter().partition(|f| !f.long);
    if !short.is_empty() {
        body.push(Element::FactSet {
            facts: short
                .iter()
                .map(|f| CardFact {
                    title: f.label,
                    value: text(&f.value, true, level.short),
                })
                .collect(),
        });
    }
    for fact in long {
        body.push(Element::TextBlock(TextBlock {
            text: Cow::Borrowed(fact.label),
            wrap: true,
            weight: Some("Bolder"),
            ..TextBlock::default()
        }));
        body.push(Element::TextBlock(TextBlock {
            text: text(&fact.value, false, level.long),
            wrap: true,
            ..TextBlock::default()
        }));
    }
}

/// Each log section: the container as a bold heading, the lines in a monospace text block (Adaptive
/// Cards have no preformatted text; link syntax is broken as everywhere), and a button to the log
/// stream right under them.
fn log_elements<'a>(body: &mut Vec<Element<'a>>, alert: &'a Alert, level: Level) {
    for section in log_sections(alert, level) {
        body.push(Element::TextBlock(TextBlock {
            text: Cow::Owned(section.heading(Markup::TeamsMarkdown, level)),
            wrap: true,
            weight: Some("Bolder"),
            ..TextBlock::default()
        }));
        body.push(Element::TextBlock(match section.body {
            // The message's byte limit, checked by `shrink`, bounds the whole.
            LogBody::Lines(lines) => TextBlock {
                text: Cow::Owned(tail_text(
                    lines,
                    Markup::TeamsMarkdown,
                    "\n\n",
                    level,
                    usize::MAX,
                )),
                wrap: true,
                font_type: Some("Monospace"),
                ..TextBlock::default()
            },
            LogBody::Driver(driver) => TextBlock {
                text: Cow::Owned(driver_note(driver, Markup::TeamsMarkdown, level)),
                wrap: true,
                ..TextBlock::default()
            },
        }));
        if let Some(url) = section.link {
            body.push(Element::ActionSet {
                actions: vec![open_url("Log stream", url)],
            });
        }
    }
}

/// A digest or recovery at `level` as one standalone card, compact JSON.
pub(super) fn notice_json(n: &Notice<'_>, opts: &RenderOptions, level: Level) -> String {
    to_json(&notice_message(n, opts, level))
}

/// The card of a notice: the banner in the tone's colour, the facts, each listed alert (its id in bold,
/// its time, exit codes and reason, and a button to its console page), "and N more", the footer and
/// the group's links.
fn notice_message<'a>(n: &'a Notice<'a>, opts: &RenderOptions, level: Level) -> Message<'a> {
    let (mut body, entities) = mentioned(opts);
    let style = match n.tone {
        Tone::Severity(Severity::Critical) => ("attention", "Attention"),
        Tone::Severity(Severity::Warning) => ("warning", "Warning"),
        Tone::Resolved => ("good", "Good"),
    };
    body.push(banner_with(style, n.heading.clone(), n.title, level));
    fact_elements(&mut body, &n.facts, level);
    for listed in &n.listed {
        let mut line = format!(
            "**{}** · {}",
            text(&listed.id, true, level.short),
            text(&listed.time, true, level.short)
        );
        if !blank(&listed.detail) {
            line.push_str("\n\n");
            line.push_str(&text(&listed.detail, true, level.long));
        }
        body.push(Element::TextBlock(TextBlock {
            text: Cow::Owned(line),
            wrap: true,
            ..TextBlock::default()
        }));
        if let Some(url) = listed.link {
            body.push(Element::ActionSet {
                actions: vec![open_url("Open", url)],
            });
        }
    }
    if let Some(more) = n.more_text() {
        body.push(Element::TextBlock(TextBlock {
            text: Cow::Owned(more),
            wrap: true,
            ..TextBlock::default()
        }));
    }
    let (label, value) = n.footer;
    body.push(Element::TextBlock(TextBlock {
        text: Cow::Owned(format!(
            "failwatch · {label} {}",
            text(value, true, level.short)
        )),
        wrap: true,
        size: Some("Small"),
        is_subtle: true,
        ..TextBlock::default()
    }));
    card(body, entities, &n.buttons)
}

/// Whether a configured mention is a user principal name Teams can resolve: one `@`, no spaces, no
/// markup.
fn is_user_principal_name(mention: &str) -> bool {
    mention.matches('@').count() == 1
        && !mention.starts_with('@')
        && !mention.ends_with('@')
        && !mention.contains(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
}
