//! Making untrusted workload text safe to show in a chat message, and short enough to fit.
//!
//! Everything an alert quotes from the workload (stopped reasons, container reasons, Step Functions
//! causes, even cluster and container names when a body arrives without an AWS envelope) is attacker- or
//! accident-controlled. Each chat service gives some character sequences a meaning — Slack's
//! `<!channel>`, Google Chat's `<users/all>`, Discord's `@everyone` and `[text](url)` — so a crashing
//! container could otherwise ping a whole room or plant a disguised link in an alert people trust.
//! [`fit`] neutralises those sequences for one [`Markup`] and truncates the result to a limit in the unit
//! the service counts, in one pass, so that:
//!
//! - a cut never falls inside a UTF-8 character or inside the escape of one source character (an
//!   `&amp;` is never left as `&am`), because the text is only ever cut between the escaped pieces of two
//!   source characters;
//! - a cut text always ends with [`TRUNCATION_MARKER`], and the marker is counted in the limit.
//!
//! Rules shared by every markup: control characters other than newline and tab become spaces, Unicode
//! bidirectional overrides (which can make text read backwards) become U+FFFD, `@everyone`, `@here`,
//! `@channel` and `@all` get a zero-width space after the `@`, and every `://` gets a zero-width space
//! after the colon so no client auto-links a URL the workload wrote. Links in alerts come only from
//! [`crate::Links`], built from ARNs, and are rendered as buttons or trusted link text.

use std::borrow::Cow;

/// Appended to every truncated text. Counted in the limit.
pub(crate) const TRUNCATION_MARKER: &str = "…(truncated)";

/// The zero-width space used to break mention and link syntax without changing what a reader sees.
const ZWSP: char = '\u{200B}';

/// The unit a service counts a limit in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// UTF-8 bytes, for limits on the size of the request body.
    Bytes,
    /// UTF-16 code units, for limits documented as "characters". Services disagree on whether an emoji
    /// outside the Basic Multilingual Plane is one character or two; UTF-16 counts it as two, which is
    /// never fewer than any service counts, so a text within the limit in this unit is within it for
    /// every interpretation.
    Chars,
}

/// Joins `parts` into one string allocated at its exact size: what `format!` does for plain string
/// pieces, without the formatting machinery or regrowth (titles and keys are built for every event).
pub(crate) fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// Measures `s` in `unit`.
pub(crate) fn measure(s: &str, unit: Unit) -> usize {
    match unit {
        Unit::Bytes => s.len(),
        Unit::Chars => s.chars().map(char::len_utf16).sum(),
    }
}

/// How the destination field interprets text, which decides what must be escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Markup {
    /// A field the service documents as shown verbatim (Google Chat card header, Discord footer). The
    /// shared rules apply, and a zero-width space follows every `<` as in [`Markup::GoogleChatText`],
    /// in case a client parses more than its documentation says; a reader cannot see it.
    Plain,
    /// Slack `mrkdwn` and top-level `text`: `&`, `<`, `>` become entities, as Slack requires, which
    /// makes `<!channel>`, `<@U123>` and `<https://x|y>` impossible.
    SlackMrkdwn,
    /// Google Chat message `text`: a zero-width space after every `<` breaks `<users/all>`,
    /// `<users/123>` and `<https://x|y>`. Entities are not used because message text is not HTML:
    /// readers would see `&lt;` literally.
    GoogleChatText,
    /// Google Chat card text (`decoratedText.text`), which is a small HTML subset: `&`, `<`, `>`
    /// become entities and newlines become `<br>`.
    GoogleChatHtml,
    /// Discord markdown (embed description, field values, titles): every markdown metacharacter gets a
    /// backslash, which Discord honours, so no `[text](url)`, `<@id>`, `<@&id>`, `<#channel>`,
    /// emphasis, spoiler, heading or quote can be formed.
    DiscordMarkdown,
    /// Adaptive Card markdown in Teams (`TextBlock.text`, `Fact.value`): the subset is bold, italic,
    /// lists and `[text](url)` links. Backslash escapes are not documented for Adaptive Cards, so a
    /// zero-width space after every `]` breaks link syntax instead. Teams only mentions through
    /// `msteams.entities`, which workload text cannot add; a zero-width space after every `<` keeps an
    /// `<at>` tag inert even so.
    TeamsMarkdown,
    /// Text inside a code block or preformatted element (a Discord ```` ``` ```` block, a Slack
    /// `rich_text_preformatted` text), which the service shows verbatim, so backslashes and entities
    /// would show literally. As [`Markup::Plain`], plus a zero-width space after every backtick, so
    /// no run of backticks can close the block early.
    Code,
}

/// Escapes `input` for `markup` and truncates the result to at most `limit` in `unit`, ending a cut text
/// with [`TRUNCATION_MARKER`]. With `single_line`, line breaks become spaces (for names and one-line
/// fields). Borrows `input` when it needs neither escaping nor cutting, which is the common case for
/// names, ids and codes.
pub(crate) fn fit(
    input: &str,
    markup: Markup,
    single_line: bool,
    limit: usize,
    unit: Unit,
) -> Cow<'_, str> {
    let marker_cost = measure(TRUNCATION_MARKER, unit);
    // Where the marker would still fit, as a cost budget; `None` when not even the marker fits.
    let budget = limit.checked_sub(marker_cost);
    // `None` while the output is identical to the input consumed so far (`input[..i]`); the owned
    // output is only built once a character changes or the text must be cut.
    let mut out: Option<String> = None;
    let mut cost = 0usize;
    // The longest prefix (in output bytes) after which the marker still fits.
    let mut cut_at = 0usize;
    let mut at_line_start = true;
    let bytes = input.as_bytes();
    let mut i = 0usize;
    let cut = |out, cut_at| cut_with_marker(input, out, cut_at, limit, unit);
    while i < bytes.len() {
        // Most text is plain ASCII that needs no escaping: take such a run in one go. Every byte of it
        // is one character and costs one in either unit.
        let run = bytes[i..]
            .iter()
            .position(|&b| !is_plain(b, markup))
            .unwrap_or(bytes.len() - i);
        if run > 0 {
            let start = out.as_ref().map_or(i, String::len);
            let room = budget.map_or(0, |b| b.saturating_sub(cost));
            if budget.is_some_and(|b| cost <= b) {
                cut_at = start + run.min(room);
            }
            if cost + run > limit {
                if let Some(out) = out.as_mut() {
                    out.push_str(&input[i..i + run.min(room)]);
                }
                return cut(out, cut_at);
            }
            if let Some(out) = out.as_mut() {
                out.push_str(&input[i..i + run]);
            }
            cost += run;
            i += run;
            at_line_start = false;
            continue;
        }
        let Some(c) = input[i..].chars().next() else {
            break;
        };
        let next = i + c.len_utf8();
        let piece = escape(c, &input[next..], markup, single_line, at_line_start);
        at_line_start = c == '\n' && !single_line;
        cost += piece.cost(c, unit);
        if cost > limit {
            return cut(out, cut_at);
        }
        match (&mut out, piece) {
            (None, Piece::Keep) => {}
            (None, piece) => {
                let mut owned = String::with_capacity(input.len() + 16);
                owned.push_str(&input[..i]);
                piece.push(c, &mut owned);
                out = Some(owned);
            }
            (Some(out), piece) => piece.push(c, out),
        }
        i = next;
        if budget.is_some_and(|b| cost <= b) {
            cut_at = out.as_ref().map_or(i, String::len);
        }
    }
    out.map_or(Cow::Borrowed(input), Cow::Owned)
}

/// The output of [`fit`] cut after `cut_at` output bytes, with the truncation marker: `out` when an owned
/// output was built, else the input's own prefix (identical to the output so far).
fn cut_with_marker(
    input: &str,
    out: Option<String>,
    cut_at: usize,
    limit: usize,
    unit: Unit,
) -> Cow<'_, str> {
    let mut out = out.unwrap_or_else(|| input[..cut_at].to_owned());
    out.truncate(cut_at);
    // No limit in this crate is smaller than the marker; stay correct anyway by cutting the marker
    // itself.
    out.push_str(cut_plain(TRUNCATION_MARKER, limit, unit));
    Cow::Owned(out)
}

/// Whether an input byte is an ASCII character that `markup` and the shared rules leave alone, so that
/// a run of such bytes can be copied without looking at each character. A table per markup, built at
/// compile time, because this is the innermost loop of every renderer.
fn is_plain(b: u8, markup: Markup) -> bool {
    PLAIN[markup as usize][usize::from(b)]
}

const PLAIN: [[bool; 256]; 7] = [
    plain_table(Markup::Plain),
    plain_table(Markup::SlackMrkdwn),
    plain_table(Markup::GoogleChatText),
    plain_table(Markup::GoogleChatHtml),
    plain_table(Markup::DiscordMarkdown),
    plain_table(Markup::TeamsMarkdown),
    plain_table(Markup::Code),
];

const fn plain_table(markup: Markup) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0u8;
    while b < 0x80 {
        table[b as usize] = !b.is_ascii_control()
            && !matches!(b, b'@' | b':')
            && match markup {
                Markup::SlackMrkdwn | Markup::GoogleChatHtml => !matches!(b, b'&' | b'<' | b'>'),
                Markup::GoogleChatText | Markup::Plain => b != b'<',
                Markup::DiscordMarkdown => !matches!(
                    b,
                    b'\\'
                        | b'*'
                        | b'_'
                        | b'~'
                        | b'`'
                        | b'|'
                        | b'['
                        | b']'
                        | b'<'
                        | b'>'
                        | b'#'
                        | b'-'
                        | b'+'
                ),
                Markup::TeamsMarkdown => !matches!(b, b']' | b'<'),
                Markup::Code => !matches!(b, b'<' | b'`'),
            };
        b += 1;
    }
    table
}

/// The longest prefix of `s` within `limit` in `unit`, cut at a character boundary, with no marker.
/// For trusted text (our own labels) and identifiers such as thread keys where a marker would be wrong.
pub(crate) fn cut_plain(s: &str, limit: usize, unit: Unit) -> &str {
    if measure(s, unit) <= limit {
        return s;
    }
    let mut cost = 0usize;
    for (i, c) in s.char_indices() {
        cost += match unit {
            Unit::Bytes => c.len_utf8(),
            Unit::Chars => c.len_utf16(),
        };
        if cost > limit {
            return &s[..i];
        }
    }
    s
}

/// What one source character becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    /// The character itself.
    Keep,
    /// A fixed replacement (an entity, a line break, a space).
    Text(&'static str),
    /// The character followed by a zero-width space.
    ThenZwsp,
    /// A backslash, then the character.
    Backslashed,
}

impl Piece {
    fn cost(self, c: char, unit: Unit) -> usize {
        let char_cost = |c: char| match unit {
            Unit::Bytes => c.len_utf8(),
            Unit::Chars => c.len_utf16(),
        };
        match self {
            Piece::Keep => char_cost(c),
            Piece::Text(s) => measure(s, unit),
            Piece::ThenZwsp => char_cost(c) + char_cost(ZWSP),
            Piece::Backslashed => 1 + char_cost(c),
        }
    }

    fn push(self, c: char, out: &mut String) {
        match self {
            Piece::Keep => out.push(c),
            Piece::Text(s) => out.push_str(s),
            Piece::ThenZwsp => {
                out.push(c);
                out.push(ZWSP);
            }
            Piece::Backslashed => {
                out.push('\\');
                out.push(c);
            }
        }
    }
}

/// The escaped form of one source character. `rest` is the source text after it, for the look-ahead
/// the mention and URL rules need.
fn escape(c: char, rest: &str, markup: Markup, single_line: bool, at_line_start: bool) -> Piece {
    // Shared rules first: they apply whatever the markup.
    match c {
        '\n' if single_line => return Piece::Text(" "),
        '\n' => {
            return match markup {
                Markup::GoogleChatHtml => Piece::Text("<br>"),
                // Adaptive Cards only break a line outside a list on a blank line.
                Markup::TeamsMarkdown => Piece::Text("\n\n"),
                _ => Piece::Keep,
            };
        }
        '\t' if single_line => return Piece::Text(" "),
        '\t' => return Piece::Keep,
        c if c.is_control() => return Piece::Text(" "),
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => return Piece::Text("\u{FFFD}"),
        _ => {}
    }
    match (markup, c) {
        (Markup::SlackMrkdwn | Markup::GoogleChatHtml, '&') => Piece::Text("&amp;"),
        (Markup::SlackMrkdwn | Markup::GoogleChatHtml, '<') => Piece::Text("&lt;"),
        (Markup::SlackMrkdwn | Markup::GoogleChatHtml, '>') => Piece::Text("&gt;"),
        (Markup::GoogleChatText | Markup::Plain, '<') => Piece::ThenZwsp,
        (
            Markup::DiscordMarkdown,
            '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '<' | '>' | '#',
        ) => Piece::Backslashed,
        // A dash or plus only starts a list at the beginning of a line.
        (Markup::DiscordMarkdown, '-' | '+') if at_line_start => Piece::Backslashed,
        (Markup::TeamsMarkdown, ']' | '<') => Piece::ThenZwsp,
        (Markup::Code, '<' | '`') => Piece::ThenZwsp,
        // The mention and URL rules every markup shares.
        (_, '@') if starts_with_room_word(rest) => Piece::ThenZwsp,
        (_, ':') if rest.starts_with("//") => Piece::ThenZwsp,
        _ => Piece::Keep,
    }
}

/// Whether `rest` starts with a word that, after `@`, addresses a whole room in some service.
fn starts_with_room_word(rest: &str) -> bool {
    const WORDS: [&str; 4] = ["everyone", "here", "channel", "all"];
    WORDS.iter().any(|w| {
        rest.get(..w.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(w))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_escapes_entities_and_room_mentions() {
        let s = fit(
            "<!channel> & <https://evil.example|click> @here",
            Markup::SlackMrkdwn,
            false,
            1000,
            Unit::Chars,
        );
        assert_eq!(
            s,
            "&lt;!channel&gt; &amp; &lt;https:\u{200B}//evil.example|click&gt; @\u{200B}here"
        );
    }

    #[test]
    fn discord_escapes_markdown_and_mentions() {
        let s = fit(
            "[x](https://evil.example) <@&1> @everyone\n- item",
            Markup::DiscordMarkdown,
            false,
            1000,
            Unit::Chars,
        );
        assert_eq!(
            s,
            "\\[x\\](https:\u{200B}//evil.example) \\<@&1\\> @\u{200B}everyone\n\\- item"
        );
    }

    #[test]
    fn code_keeps_text_verbatim_but_no_fence_or_mention_forms() {
        let s = fit(
            "a*b_c [x](y) ``` <@1> @here https://x",
            Markup::Code,
            false,
            1000,
            Unit::Chars,
        );
        assert_eq!(
            s,
            "a*b_c [x](y) `\u{200B}`\u{200B}`\u{200B} <\u{200B}@1> @\u{200B}here https:\u{200B}//x"
        );
        assert!(!s.contains("``"));
    }

    #[test]
    fn truncation_never_splits_an_entity_or_a_character() {
        // Every `<` becomes a 4-character entity; a limit that falls inside one must cut before it.
        let input = "<é🚨".repeat(50);
        for limit in 13..40 {
            let s = fit(&input, Markup::SlackMrkdwn, false, limit, Unit::Chars);
            assert!(measure(&s, Unit::Chars) <= limit, "{limit}: {s}");
            assert!(s.ends_with(TRUNCATION_MARKER));
            let body = s.strip_suffix(TRUNCATION_MARKER).unwrap_or_default();
            assert!(
                !body.contains("&l") || body.matches("&lt;").count() == body.matches('&').count()
            );
            assert!(!body.ends_with('&'));
        }
    }

    /// The obvious per-character algorithm the run-copying [`fit`] must agree with.
    fn reference_fit(
        input: &str,
        markup: Markup,
        single_line: bool,
        limit: usize,
        unit: Unit,
    ) -> String {
        let marker_cost = measure(TRUNCATION_MARKER, unit);
        let (mut out, mut cost, mut cut_at, mut at_line_start) = (String::new(), 0, 0, true);
        for (i, c) in input.char_indices() {
            let before = out.len();
            escape(
                c,
                &input[i + c.len_utf8()..],
                markup,
                single_line,
                at_line_start,
            )
            .push(c, &mut out);
            at_line_start = c == '\n' && !single_line;
            cost += measure(&out[before..], unit);
            if cost > limit {
                out.truncate(cut_at);
                out.push_str(cut_plain(TRUNCATION_MARKER, limit, unit));
                return out;
            }
            if cost + marker_cost <= limit {
                cut_at = out.len();
            }
        }
        out
    }

    #[test]
    fn run_copying_agrees_with_the_per_character_algorithm_at_every_limit() {
        let inputs = [
            "plain ascii text with no specials at all",
            "a<b&c>d @here x://y\n- list *bold* [x](y)",
            "é🚨abc<def\u{202E}g\u{1}h",
        ];
        let markups = [
            Markup::Plain,
            Markup::SlackMrkdwn,
            Markup::GoogleChatText,
            Markup::GoogleChatHtml,
            Markup::DiscordMarkdown,
            Markup::TeamsMarkdown,
            Markup::Code,
        ];
        for input in inputs {
            for markup in markups {
                for unit in [Unit::Chars, Unit::Bytes] {
                    for single_line in [false, true] {
                        for limit in 0..120 {
                            assert_eq!(
                                fit(input, markup, single_line, limit, unit),
                                reference_fit(input, markup, single_line, limit, unit),
                                "{input:?} {markup:?} {unit:?} {limit}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn plain_tables_are_indexed_in_declaration_order() {
        for markup in [
            Markup::Plain,
            Markup::SlackMrkdwn,
            Markup::GoogleChatText,
            Markup::GoogleChatHtml,
            Markup::DiscordMarkdown,
            Markup::TeamsMarkdown,
            Markup::Code,
        ] {
            assert_eq!(PLAIN[markup as usize], plain_table(markup), "{markup:?}");
        }
    }

    #[test]
    fn text_within_the_limit_is_untouched_and_unmarked() {
        // Unchanged text is borrowed, not copied; escaped text is owned.
        assert!(matches!(
            fit(
                "payments-api:42",
                Markup::DiscordMarkdown,
                true,
                100,
                Unit::Chars
            ),
            Cow::Borrowed("payments-api:42")
        ));
        assert!(matches!(
            fit("a*b", Markup::DiscordMarkdown, true, 100, Unit::Chars),
            Cow::Owned(s) if s == "a\\*b"
        ));
        assert_eq!(fit("abc", Markup::Plain, false, 3, Unit::Bytes), "abc");
        assert_eq!(cut_plain("aé", 2, Unit::Bytes), "a");
    }
}
