//! Google Chat: a `cardsV2` card plus a short `text` line, posted to an incoming webhook.
//!
//! The `text` carries the severity, the title and the configured mention, because it is what
//! notifications and screen readers show; the card carries everything else. `thread.threadKey` is the
//! alert's group key, so repeats of one problem land in one thread. A thread key only takes effect when
//! the request URL carries `messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`, which the worker
//! adds to every Google Chat webhook URL; without it Google Chat starts a new thread for each message.
//!
//! Limits: the whole message at most 32,000 bytes, `text` at most 4,096 characters, a thread key at
//! most 4,000 characters.

use serde::Serialize;

use super::{
    Button, Level, buttons, facts, heading, severity_emoji, severity_rgb, severity_word, shrink,
    to_json,
};
use crate::Alert;
use crate::render::RenderOptions;
use crate::text::{Markup, Unit, cut_plain, fit, measure};

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
    cards_v2: [CardWithId; 1],
    thread: Thread<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Thread<'a> {
    thread_key: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CardWithId {
    card_id: &'static str,
    card: Card,
}

#[derive(Debug, Serialize)]
struct Card {
    header: Header,
    sections: Vec<Section>,
}

#[derive(Debug, Serialize)]
struct Header {
    title: String,
    subtitle: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Section {
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    collapsible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    uncollapsible_widgets_count: Option<u32>,
    widgets: Vec<Widget>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
enum Widget {
    DecoratedText(DecoratedText),
    ButtonList(ButtonList),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DecoratedText {
    top_label: &'static str,
    text: String,
    wrap_text: bool,
}

#[derive(Debug, Serialize)]
struct ButtonList {
    buttons: Vec<ChatButton>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ChatButton {
    text: &'static str,
    on_click: OnClick,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OnClick {
    open_link: OpenLink,
}

#[derive(Debug, Serialize)]
struct OpenLink {
    url: String,
}

pub(super) fn render(alert: &Alert, opts: &RenderOptions) -> String {
    let links = buttons(alert);
    shrink(
        |level| to_json(&message(alert, opts, &links, level)),
        |json| measure(json, Unit::Bytes) <= MAX_BYTES,
    )
}

fn message<'a>(
    alert: &'a Alert,
    opts: &RenderOptions,
    links: &[Button<'_>],
    level: Level,
) -> Message<'a> {
    let html = |value: &str, single_line: bool, limit: usize| {
        fit(
            value,
            Markup::GoogleChatHtml,
            single_line,
            limit,
            Unit::Chars,
        )
    };

    let mut text = String::new();
    if let Some(mention) = opts.mention() {
        text.push_str(mention);
        text.push(' ');
    }
    text.push_str(severity_emoji(alert.severity));
    text.push(' ');
    text.push_str(severity_word(alert.severity));
    text.push_str(": ");
    let room = MAX_TEXT_CHARS.saturating_sub(measure(&text, Unit::Chars));
    text.push_str(&fit(
        &alert.title,
        Markup::GoogleChatText,
        true,
        room.min(level.long),
        Unit::Chars,
    ));

    let mut summary = vec![
        Widget::DecoratedText(DecoratedText {
            top_label: "Severity",
            text: format!(
                "<font color=\"#{:06x}\"><b>{}</b></font>",
                severity_rgb(alert.severity),
                severity_word(alert.severity)
            ),
            wrap_text: false,
        }),
        Widget::DecoratedText(DecoratedText {
            top_label: "What happened",
            text: html(&alert.summary, false, level.long),
            wrap_text: true,
        }),
    ];
    if let Some(hint) = alert.hint.as_deref().filter(|_| level.hint) {
        summary.push(Widget::DecoratedText(DecoratedText {
            top_label: "Hint",
            text: html(hint, false, level.long),
            wrap_text: true,
        }));
    }

    let details: Vec<Widget> = facts(alert, level)
        .into_iter()
        .map(|fact| {
            let limit = if fact.long { level.long } else { level.short };
            Widget::DecoratedText(DecoratedText {
                top_label: fact.label,
                text: html(&fact.value, !fact.long, limit),
                wrap_text: true,
            })
        })
        .collect();

    let mut sections = vec![Section {
        header: None,
        collapsible: false,
        uncollapsible_widgets_count: None,
        widgets: summary,
    }];
    if !details.is_empty() {
        let collapsible = details.len() > UNCOLLAPSIBLE_DETAILS as usize;
        sections.push(Section {
            header: Some("Details"),
            collapsible,
            uncollapsible_widgets_count: collapsible.then_some(UNCOLLAPSIBLE_DETAILS),
            widgets: details,
        });
    }
    if !links.is_empty() {
        sections.push(Section {
            header: None,
            collapsible: false,
            uncollapsible_widgets_count: None,
            widgets: vec![Widget::ButtonList(ButtonList {
                buttons: links
                    .iter()
                    .map(|b| ChatButton {
                        text: b.label,
                        on_click: OnClick {
                            open_link: OpenLink {
                                url: b.url.to_owned(),
                            },
                        },
                    })
                    .collect(),
            })],
        });
    }

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
            thread_key: cut_plain(&alert.group_key, MAX_THREAD_KEY_CHARS, Unit::Chars),
        },
    }
}
