//! Google Chat: a `cardsV2` card plus a short `text` line, posted to an incoming webhook.
//!
//! The `text` carries the severity, the title and the configured mention, because it is what
//! notifications and screen readers show; the card carries everything else. `thread.threadKey` is the
//! alert's partition, account, region and group key ([`thread_key`]), so repeats of one problem land
//! in one thread, and one service name in two accounts or regions is two threads, as it is two groups. A thread key only takes effect when
//! the request URL carries `messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`, which the worker
//! adds to every Google Chat webhook URL; without it Google Chat starts a new thread for each message.
//!
//! Limits: the whole message at most 32,000 bytes, `text` at most 4,096 characters, a thread key at
//! most 4,000 characters.

use std::borrow::Cow;

use serde::Serialize;

use super::enrichment::{LogBody, LogSection, driver_note, log_sections, tail_text};
use super::group::{Listed, Notice, Tone};
use super::{
    Button, Fact, Level, blank, buttons, facts, heading, severity_emoji, severity_word, shrink,
    to_json,
};
use crate::render::RenderOptions;
use crate::text::{Markup, Unit, cut_plain, fit, measure};
use crate::{Alert, Severity};

/// The documented maximum size of a message, text and cards together.
pub(crate) const MAX_BYTES: usize = 32_000;
/// The documented maximum length of `text`.
pub(crate) const MAX_TEXT_CHARS: usize = 4096;
/// The documented maximum length of a thread key.
const MAX_THREAD_KEY_CHARS: usize = 4000;
/// The first widgets of the details section stay visible; the rest fold behind "show more".
const UNCOLLAPSIBLE_DETAILS: u32 = 6;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    text: String,
    cards_v2: [CardWithId<'a>; 1],
    thread: Thread,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Thread {
    thread_key: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CardWithId<'a> {
    card_id: &'static str,
    card: Card<'a>,
}

#[derive(Debug, Serialize)]
struct Card<'a> {
    header: Header<'a>,
    sections: Vec<Section<'a>>,
}

#[derive(Debug, Serialize)]
struct Header<'a> {
    title: String,
    subtitle: Cow<'a, str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Section<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    collapsible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    uncollapsible_widgets_count: Option<u32>,
    widgets: Vec<Widget<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
enum Widget<'a> {
    DecoratedText(DecoratedText<'a>),
    TextParagraph(TextParagraph),
    ButtonList(ButtonList<'a>),
}

#[derive(Debug, Serialize)]
struct TextParagraph {
    text: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DecoratedText<'a> {
    top_label: Cow<'a, str>,
    text: Cow<'a, str>,
    wrap_text: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    button: Option<ChatButton<'a>>,
}

#[derive(Debug, Serialize)]
struct ButtonList<'a> {
    buttons: Vec<ChatButton<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ChatButton<'a> {
    text: &'static str,
    on_click: OnClick<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OnClick<'a> {
    open_link: OpenLink<'a>,
}

#[derive(Debug, Serialize)]
struct OpenLink<'a> {
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

/// The severity in its colour, as Google Chat's HTML subset writes it; constant per severity, so it is
/// not formatted per alert. A unit test checks it against [`super::severity_rgb`] and [`super::severity_word`].
fn severity_html(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "<font color=\"#d32f2f\"><b>Critical</b></font>",
        Severity::Warning => "<font color=\"#f9a825\"><b>Warning</b></font>",
    }
}

fn html(value: &str, single_line: bool, limit: usize) -> Cow<'_, str> {
    fit(
        value,
        Markup::GoogleChatHtml,
        single_line,
        limit,
        Unit::Chars,
    )
}

/// Builds the message at `level`. It borrows from the alert and its facts, which the caller keeps alive
/// until the message is serialised, so unchanged text is never copied.
fn message<'a>(
    alert: &'a Alert,
    opts: &RenderOptions,
    links: &[Button<'a>],
    facts: &'a [Fact<'a>],
    level: Level,
) -> Message<'a> {
    let text = notification(alert, opts, level);

    let summary = summary_widgets(alert, level);

    let details = fact_widgets(facts, level);

    let mut sections = vec![Section {
        header: None,
        collapsible: false,
        uncollapsible_widgets_count: None,
        widgets: summary,
    }];
    if !details.is_empty() {
        let collapsible = details.len() > UNCOLLAPSIBLE_DETAILS as usize;
        sections.push(Section {
            header: Some(Cow::Borrowed("Details")),
            collapsible,
            uncollapsible_widgets_count: collapsible.then_some(UNCOLLAPSIBLE_DETAILS),
            widgets: details,
        });
    }
    sections.extend(
        log_sections(alert, level)
            .into_iter()
            .map(|l| log_section(l, level)),
    );
    sections.extend(buttons_section(links));

    Message {
        text,
        cards_v2: [CardWithId {
            card_id: "failwatch-alert",
            card: Card {
                header: Header {
                    title: heading(alert),
                    subtitle: fit(&alert.title, Markup::Plain, true, level.short, Unit::Chars),
                },
                sections,
            },
        }],
        thread: Thread {
            thread_key: thread_key(
                &alert.partition,
                alert.account.as_deref(),
                alert.region.as_deref(),
                &alert.group_key,
            ),
        },
    }
}

/// Each fact as a labelled text, cut to the level's cap for its kind.
fn fact_widgets<'a>(facts: &'a [Fact<'a>], level: Level) -> Vec<Widget<'a>> {
    facts
        .iter()
        .map(|fact| {
            let limit = if fact.long { level.long } else { level.short };
            Widget::DecoratedText(DecoratedText {
                top_label: Cow::Borrowed(fact.label),
                text: html(&fact.value, !fact.long, limit),
                wrap_text: true,
                button: None,
            })
        })
        .collect()
}

/// The console links as one row of buttons, `None` when there are none.
fn buttons_section<'a>(links: &[Button<'a>]) -> Option<Section<'a>> {
    (!links.is_empty()).then(|| Section {
        header: None,
        collapsible: false,
        uncollapsible_widgets_count: None,
        widgets: vec![Widget::ButtonList(ButtonList {
            buttons: links
                .iter()
                .map(|b| ChatButton {
                    text: b.label,
                    on_click: OnClick {
                        open_link: OpenLink { url: b.url },
                    },
                })
                .collect(),
        })],
    })
}

/// A log section: the container in the header, the lines as a paragraph with one line each (the card
/// HTML subset documents no monospace or preformatted text), and a button to the log stream.
fn log_section(section: LogSection<'_>, level: Level) -> Section<'_> {
    let text = match section.body {
        // The message's byte limit, checked by `shrink`, bounds the whole.
        LogBody::Lines(lines) => {
            tail_text(lines, Markup::GoogleChatHtml, "<br>", level, usize::MAX)
        }
        LogBody::Driver(driver) => driver_note(driver, Markup::GoogleChatHtml, level),
    };
    let mut widgets = vec![Widget::TextParagraph(TextParagraph { text })];
    if let Some(url) = section.link {
        widgets.push(Widget::ButtonList(ButtonList {
            buttons: vec![ChatButton {
                text: "Log stream",
                on_click: OnClick {
                    open_link: OpenLink { url },
                },
            }],
        }));
    }
    Section {
        header: Some(Cow::Owned(section.heading(Markup::GoogleChatHtml, level))),
        collapsible: false,
        uncollapsible_widgets_count: None,
        widgets,
    }
}

/// The `text` notifications show: mention, severity and title.
fn notification(alert: &Alert, opts: &RenderOptions, level: Level) -> String {
    let severity = alert.severity;
    let (emoji, word) = (severity_emoji(severity), severity_word(severity));
    notification_text(opts, emoji, word, &alert.title, level)
}

/// The `text` notifications show: mention, emoji, word and title (workload text, escaped).
fn notification_text(
    opts: &RenderOptions,
    emoji: &str,
    word: &str,
    title: &str,
    level: Level,
) -> String {
    let mut text = String::new();
    if let Some(mention) = opts.mention() {
        text.push_str(mention);
        text.push(' ');
    }
    text.push_str(emoji);
    text.push(' ');
    text.push_str(word);
    text.push_str(": ");
    let room = MAX_TEXT_CHARS.saturating_sub(measure(&text, Unit::Chars));
    text.push_str(&fit(
        title,
        Markup::GoogleChatText,
        true,
        room.min(level.long),
        Unit::Chars,
    ));
    text
}

/// The first section: severity, what happened (the summary) and the hint.
fn summary_widgets(alert: &Alert, level: Level) -> Vec<Widget<'_>> {
    let mut summary = vec![Widget::DecoratedText(DecoratedText {
        top_label: Cow::Borrowed("Severity"),
        text: Cow::Borrowed(severity_html(alert.severity)),
        wrap_text: false,
        button: None,
    })];
    if !blank(&alert.summary) {
        summary.push(Widget::DecoratedText(DecoratedText {
            top_label: Cow::Borrowed("What happened"),
            text: html(&alert.summary, false, level.long),
            wrap_text: true,
            button: None,
        }));
    }
    if let Some(hint) = alert.hint.as_deref().filter(|_| level.hint) {
        summary.push(Widget::DecoratedText(DecoratedText {
            top_label: Cow::Borrowed("Hint"),
            text: html(hint, false, level.long),
            wrap_text: true,
            button: None,
        }));
    }
    summary
}

/// The tone in its colour, as [`severity_html`] writes a severity.
fn tone_html(tone: Tone) -> &'static str {
    match tone {
        Tone::Severity(severity) => severity_html(severity),
        Tone::Resolved => "<font color=\"#2e7d32\"><b>Resolved</b></font>",
    }
}

/// A digest or recovery at `level` as one card replying in the group's thread, compact JSON.
pub(super) fn notice_json(n: &Notice<'_>, opts: &RenderOptions, level: Level) -> String {
    to_json(&notice_message(n, opts, level))
}

/// The card of a notice: the tone and its facts, the listed alerts (each with a button to its
/// console page) and "and N more", then the group's links.
fn notice_message<'a>(n: &'a Notice<'a>, opts: &RenderOptions, level: Level) -> Message<'a> {
    let mut summary = vec![Widget::DecoratedText(DecoratedText {
        top_label: Cow::Borrowed(if n.tone == Tone::Resolved {
            "Status"
        } else {
            "Severity"
        }),
        text: Cow::Borrowed(tone_html(n.tone)),
        wrap_text: false,
        button: None,
    })];
    summary.extend(fact_widgets(&n.facts, level));
    let mut sections = vec![Section {
        header: None,
        collapsible: false,
        uncollapsible_widgets_count: None,
        widgets: summary,
    }];
    let mut alerts: Vec<Widget<'a>> = n.listed.iter().map(|l| listed_widget(l, level)).collect();
    alerts.extend(
        n.more_text()
            .map(|text| Widget::TextParagraph(TextParagraph { text })),
    );
    if !alerts.is_empty() {
        sections.push(Section {
            header: Some(Cow::Borrowed("Alerts")),
            collapsible: false,
            uncollapsible_widgets_count: None,
            widgets: alerts,
        });
    }
    sections.extend(buttons_section(&n.buttons));
    Message {
        text: notification_text(opts, n.tone.emoji(), n.tone.word(), n.title, level),
        cards_v2: [CardWithId {
            card_id: n.card_id,
            card: Card {
                header: Header {
                    title: n.heading.clone(),
                    subtitle: fit(n.title, Markup::Plain, true, level.short, Unit::Chars),
                },
                sections,
            },
        }],
        thread: Thread {
            thread_key: thread_key(n.origin.0, n.origin.1, n.origin.2, n.group_key),
        },
    }
}

/// One listed alert: its time above, its id in bold and its exit codes and reason, and a button to its
/// console page.
fn listed_widget<'a>(listed: &'a Listed<'a>, level: Level) -> Widget<'a> {
    let mut text = format!("<b>{}</b>", html(&listed.id, true, level.short));
    if !blank(&listed.detail) {
        text.push_str("<br>");
        text.push_str(&html(&listed.detail, true, level.long));
    }
    Widget::DecoratedText(DecoratedText {
        top_label: html(&listed.time, true, level.short),
        text: Cow::Owned(text),
        wrap_text: true,
        button: listed.link.map(|url| ChatButton {
            text: "Open",
            on_click: OnClick {
                open_link: OpenLink { url },
            },
        }),
    })
}

/// The thread of one problem: `{partition}:{account}:{region}:{group_key}` (an unknown account or region
/// is empty), as the worker keeps one group per origin and `group_key`; cut to Google Chat's limit.
pub(super) fn thread_key(
    partition: &str,
    account: Option<&str>,
    region: Option<&str>,
    group_key: &str,
) -> String {
    let account = account.unwrap_or_default();
    let region = region.unwrap_or_default();
    let key = format!("{partition}:{account}:{region}:{group_key}");
    cut_plain(&key, MAX_THREAD_KEY_CHARS, Unit::Chars).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::severity_rgb;

    #[test]
    fn severity_html_is_the_severity_word_in_its_colour() {
        for severity in [Severity::Critical, Severity::Warning] {
            let expected = format!(
                "<font color=\"#{:06x}\"><b>{}</b></font>",
                severity_rgb(severity),
                severity_word(severity)
            );
            assert_eq!(severity_html(severity), expected);
        }
    }
}
