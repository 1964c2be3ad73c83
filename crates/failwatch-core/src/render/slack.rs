//! Slack: a Block Kit message for an incoming webhook.
//!
//! The top-level `text` is what notifications show (and what clients without Block Kit show); the
//! configured mention goes there and at the top of the first section, so the message both pings and
//! shows who was called. Workload text is `mrkdwn` with `&`, `<`, `>` escaped, and every text object
//! that holds it is `verbatim`, so Slack does not auto-link URLs or channel names in it either.
//!
//! Limits: at most 50 blocks; a section's text at most 3,000 characters; at most 10 section fields of
//! 2,000 characters each; a header at most 150 characters; at most 10 context elements; a button's
//! label at most 75 characters and its URL at most 3,000; preformatted rich text (log lines) is held to
//! a section's 3,000 characters. Slack truncates a message beyond 40,000
//! characters, which the final size check keeps far away.

use serde::Serialize;

use super::enrichment::{LogBody, driver_note, log_sections, tail_text};
use super::group::{Listed, Notice};
use super::{
    Button, Fact, Level, blank, buttons, facts, heading, severity_emoji, severity_word, shrink,
    to_json,
};
use crate::Alert;
use crate::render::RenderOptions;
use crate::text::{Markup, Unit, fit, measure};

/// Block Kit's limit on blocks in one message.
pub(crate) const MAX_BLOCKS: usize = 50;
/// Block Kit's limit on a section's text.
pub(crate) const MAX_SECTION_CHARS: usize = 3000;
/// Block Kit's limit on one section field.
pub(crate) const MAX_FIELD_CHARS: usize = 2000;
/// Block Kit's limit on fields in one section.
pub(crate) const MAX_FIELDS: usize = 10;
/// Block Kit's limit on a header's text.
pub(crate) const MAX_HEADER_CHARS: usize = 150;
/// The top-level text is a notification line; longer would only be cut by clients.
pub(crate) const MAX_TEXT_CHARS: usize = 3000;
/// Block Kit documents no limit for preformatted rich text; it is held to a section's.
pub(crate) const MAX_PREFORMATTED_CHARS: usize = MAX_SECTION_CHARS;
/// Slack truncates longer messages; the whole body is kept below this many bytes.
pub(crate) const MAX_BYTES: usize = 40_000;

#[derive(Debug, Serialize)]
struct Message {
    text: String,
    blocks: Vec<Block>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Header {
        text: Text,
    },
    Section {
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<Text>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        fields: Vec<Text>,
        #[serde(skip_serializing_if = "Option::is_none")]
        accessory: Option<SlackButton>,
    },
    Context {
        elements: Vec<Text>,
    },
    Actions {
        elements: Vec<SlackButton>,
    },
    RichText {
        elements: [RichText; 1],
    },
}

/// A rich text block's one element: preformatted text, which Slack shows verbatim (no mrkdwn, no
/// mentions, no links), the safest place for log lines.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RichText {
    RichTextPreformatted { elements: [RichTextElement; 1] },
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RichTextElement {
    Text { text: String },
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Text {
    PlainText { text: String, emoji: bool },
    Mrkdwn { text: String, verbatim: bool },
}

#[derive(Debug, Serialize)]
struct SlackButton {
    #[serde(rename = "type")]
    kind: &'static str,
    action_id: &'static str,
    text: Text,
    url: String,
}

fn mrkdwn(text: String) -> Text {
    Text::Mrkdwn {
        text,
        verbatim: true,
    }
}

/// A labelled mrkdwn text: the bold label is ours, the value is escaped and cut to fit `limit` in all.
fn labelled(label: &str, value: &str, single_line: bool, limit: usize) -> String {
    let mut out = format!("*{label}*\n");
    let room = limit.saturating_sub(measure(&out, Unit::Chars));
    out.push_str(&fit(
        value,
        Markup::SlackMrkdwn,
        single_line,
        room,
        Unit::Chars,
    ));
    out
}

pub(super) fn render(alert: &Alert, opts: &RenderOptions) -> String {
    let links = buttons(alert);
    shrink(
        |level| to_json(&message(alert, opts, &links, level)),
        |json| measure(json, Unit::Bytes) <= MAX_BYTES,
    )
}

fn message(alert: &Alert, opts: &RenderOptions, links: &[Button<'_>], level: Level) -> Message {
    let mention = opts.mention();
    let mut blocks = Vec::with_capacity(12);
    blocks.push(Block::Header {
        text: Text::PlainText {
            text: crate::text::cut_plain(&heading(alert), MAX_HEADER_CHARS, Unit::Chars).to_owned(),
            emoji: true,
        },
    });
    blocks.push(Block::Section {
        text: Some(mrkdwn(lead(alert, mention, level))),
        fields: Vec::new(),
        accessory: None,
    });
    fact_blocks(&mut blocks, alert, level);
    log_blocks(&mut blocks, alert, level);
    blocks.push(Block::Context {
        elements: vec![mrkdwn(format!(
            "failwatch · event {}",
            fit(
                &alert.event_id,
                Markup::SlackMrkdwn,
                true,
                level.short,
                Unit::Chars
            )
        ))],
    });
    blocks.extend(actions(links));
    // Never reached with today's layout (at most a dozen blocks and two per log section), kept so a future field cannot make
    // Slack reject the message.
    blocks.truncate(MAX_BLOCKS);
    Message {
        text: notification(alert, mention),
        blocks,
    }
}

/// The console links as one actions block, `None` when there are none.
fn actions(links: &[Button<'_>]) -> Option<Block> {
    (!links.is_empty()).then(|| Block::Actions {
        elements: links.iter().map(|b| button(b.id, b.label, b.url)).collect(),
    })
}

fn button(action_id: &'static str, label: &str, url: &str) -> SlackButton {
    SlackButton {
        kind: "button",
        action_id,
        text: Text::PlainText {
            text: label.to_owned(),
            emoji: false,
        },
        url: url.to_owned(),
    }
}

/// The top-level text notifications show: mention, severity and title.
fn notification(alert: &Alert, mention: Option<&str>) -> String {
    let severity = alert.severity;
    let (emoji, word) = (severity_emoji(severity), severity_word(severity));
    notification_text(mention, emoji, word, &alert.title)
}

/// The top-level text: mention, emoji, word and title (workload text, escaped).
fn notification_text(mention: Option<&str>, emoji: &str, word: &str, title: &str) -> String {
    let mut text = String::new();
    if let Some(mention) = mention {
        text.push_str(mention);
        text.push(' ');
    }
    text.push_str(&format!("{emoji} {word}: "));
    let room = MAX_TEXT_CHARS.saturating_sub(measure(&text, Unit::Chars));
    text.push_str(&fit(title, Markup::SlackMrkdwn, true, room, Unit::Chars));
    text
}

/// The first section's text: mention, bold title, summary.
fn lead(alert: &Alert, mention: Option<&str>, level: Level) -> String {
    let mut lead = String::new();
    if let Some(mention) = mention {
        lead.push_str(mention);
        lead.push('\n');
    }
    lead.push('*');
    lead.push_str(&fit(
        &alert.title,
        Markup::SlackMrkdwn,
        true,
        level.short,
        Unit::Chars,
    ));
    lead.push_str("*\n");
    let room = MAX_SECTION_CHARS
        .min(level.long)
        .saturating_sub(measure(&lead, Unit::Chars));
    lead.push_str(&fit(
        &alert.summary,
        Markup::SlackMrkdwn,
        false,
        room,
        Unit::Chars,
    ));
    lead
}

/// The detail facts (short ones as section fields, ten per section; long ones as sections of their
/// own) and the hint.
fn fact_blocks(blocks: &mut Vec<Block>, alert: &Alert, level: Level) {
    fact_sections(blocks, &facts(alert, level), level);
    if let Some(hint) = alert.hint.as_deref().filter(|_| level.hint) {
        blocks.push(Block::Section {
            text: Some(mrkdwn(labelled(
                ":bulb: Hint",
                hint,
                false,
                MAX_SECTION_CHARS.min(level.long),
            ))),
            fields: Vec::new(),
            accessory: None,
        });
    }
}

/// Short facts as section fields, ten per section; long ones as sections of their own.
fn fact_sections(blocks: &mut Vec<Block>, all: &[Fact<'_>], level: Level) {
    let (short, long): (Vec<_>, Vec<_>) = all.iter().partition(|f| !f.long);
    for chunk in short.chunks(MAX_FIELDS) {
        blocks.push(Block::Section {
            text: None,
            fields: chunk
                .iter()
                .map(|f| {
                    mrkdwn(labelled(
                        f.label,
                        &f.value,
                        true,
                        MAX_FIELD_CHARS.min(level.short + 16),
                    ))
                })
                .collect(),
            accessory: None,
        });
    }
    for fact in long {
        blocks.push(Block::Section {
            text: Some(mrkdwn(labelled(
                fact.label,
                &fact.value,
                false,
                MAX_SECTION_CHARS.min(level.long),
            ))),
            fields: Vec::new(),
            accessory: None,
        });
    }
}

/// Each log section: a mrkdwn heading with a button to the log stream, then the lines as one
/// preformatted rich text element, or the one line naming another log driver.
fn log_blocks(blocks: &mut Vec<Block>, alert: &Alert, level: Level) {
    for section in log_sections(alert, level) {
        let mut heading = format!("*{}*", section.heading(Markup::SlackMrkdwn, level));
        let accessory = section
            .link
            .map(|url| button("failwatch-log-stream", "Log stream", url));
        let lines = match section.body {
            LogBody::Lines(lines) => Some(lines),
            LogBody::Driver(driver) => {
                heading.push('\n');
                heading.push_str(&driver_note(driver, Markup::SlackMrkdwn, level));
                None
            }
        };
        blocks.push(Block::Section {
            text: Some(mrkdwn(heading)),
            fields: Vec::new(),
            accessory,
        });
        if let Some(lines) = lines {
            let text = tail_text(lines, Markup::Code, "\n", level, MAX_PREFORMATTED_CHARS);
            blocks.push(Block::RichText {
                elements: [RichText::RichTextPreformatted {
                    elements: [RichTextElement::Text { text }],
                }],
            });
        }
    }
}

/// Action ids of the listed alerts' buttons: Slack wants every action id in a message to be unique.
const LISTED_ACTION_IDS: [&str; crate::Digest::MAX_LISTED] = [
    "failwatch-open-alert-1",
    "failwatch-open-alert-2",
    "failwatch-open-alert-3",
    "failwatch-open-alert-4",
    "failwatch-open-alert-5",
    "failwatch-open-alert-6",
    "failwatch-open-alert-7",
    "failwatch-open-alert-8",
    "failwatch-open-alert-9",
    "failwatch-open-alert-10",
];

/// A digest or recovery at `level` as one standalone message, compact JSON.
pub(super) fn notice_json(n: &Notice<'_>, opts: &RenderOptions, level: Level) -> String {
    to_json(&notice_message(n, opts, level))
}

/// The blocks of a notice: heading, bold title, facts, one section per listed alert (with a button to
/// its console page), "and N more", the footer and the group's links.
fn notice_message(n: &Notice<'_>, opts: &RenderOptions, level: Level) -> Message {
    let mention = opts.mention();
    let mut blocks = Vec::with_capacity(20);
    blocks.push(Block::Header {
        text: Text::PlainText {
            text: crate::text::cut_plain(&n.heading, MAX_HEADER_CHARS, Unit::Chars).to_owned(),
            emoji: true,
        },
    });
    let mut lead = String::new();
    if let Some(mention) = mention {
        lead.push_str(mention);
        lead.push('\n');
    }
    let title = fit(n.title, Markup::SlackMrkdwn, true, level.short, Unit::Chars);
    lead.push_str(&format!("*{title}*"));
    blocks.push(section(lead, None));
    fact_sections(&mut blocks, &n.facts, level);
    for (listed, id) in n.listed.iter().zip(LISTED_ACTION_IDS) {
        let accessory = listed.link.map(|url| button(id, "Open", url));
        blocks.push(section(listed_text(listed, level), accessory));
    }
    if let Some(more) = n.more_text() {
        blocks.push(section(more, None));
    }
    let (label, value) = n.footer;
    let value = fit(value, Markup::SlackMrkdwn, true, level.short, Unit::Chars);
    blocks.push(Block::Context {
        elements: vec![mrkdwn(format!("failwatch · {label} {value}"))],
    });
    blocks.extend(actions(&n.buttons));
    blocks.truncate(MAX_BLOCKS);
    Message {
        text: notification_text(mention, n.tone.emoji(), n.tone.word(), n.title),
        blocks,
    }
}

fn section(text: String, accessory: Option<SlackButton>) -> Block {
    Block::Section {
        text: Some(mrkdwn(text)),
        fields: Vec::new(),
        accessory,
    }
}

/// A listed alert: its id in bold and its time, then its exit codes and reason.
fn listed_text(listed: &Listed<'_>, level: Level) -> String {
    fn esc(text: &str, limit: usize) -> std::borrow::Cow<'_, str> {
        fit(text, Markup::SlackMrkdwn, true, limit, Unit::Chars)
    }
    let mut text = format!(
        "*{}* · {}",
        esc(&listed.id, level.short),
        esc(&listed.time, level.short)
    );
    if !blank(&listed.detail) {
        text.push('\n');
        let room = MAX_SECTION_CHARS
            .min(level.long)
            .saturating_sub(measure(&text, Unit::Chars));
        text.push_str(&esc(&listed.detail, room));
    }
    text
}
