//! Progress of long operator commands: an `indicatif` bar when stdout is a terminal, plain lines
//! otherwise.
//!
//! Plain lines matter as much as the bar: a redrive run from CI, `tee` or a `kubectl exec` without a TTY
//! must leave a readable record, and a bar's carriage returns would turn that record into noise. Plain
//! progress is throttled to one line per [`PLAIN_INTERVAL`] so a million-message redrive does not print a
//! million lines; the final counts are always printed by the command itself.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The shortest gap between two plain progress lines.
const PLAIN_INTERVAL: Duration = Duration::from_secs(2);

/// Reports how far an operation got.
#[derive(Debug)]
pub(crate) struct Progress {
    label: &'static str,
    bar: Option<ProgressBar>,
    last_plain: Option<Instant>,
}

impl Progress {
    /// A bar (or plain lines) for `label`, with `total` units of work when known.
    pub(crate) fn new(label: &'static str, total: Option<u64>) -> Progress {
        Progress::with_terminal(label, total, std::io::stdout().is_terminal())
    }

    /// As [`Progress::new`], choosing bar or plain lines explicitly.
    pub(crate) fn with_terminal(
        label: &'static str,
        total: Option<u64>,
        terminal: bool,
    ) -> Progress {
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stdout());
            // The templates are constants: a parse error is a bug caught by the unit test below, and the
            // default style is a fine fallback at run time.
            let template = if total.is_some() {
                "{prefix} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left) {msg}"
            } else {
                "{prefix} {spinner} {pos} {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(label);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            label,
            bar,
            last_plain: None,
        }
    }

    /// Records that `done` units are finished (of `total`, when it became known or changed).
    pub(crate) fn set(&mut self, done: u64, total: Option<u64>, detail: &str) {
        match &self.bar {
            Some(bar) => {
                if let Some(total) = total {
                    bar.set_length(total);
                }
                bar.set_position(done);
                bar.set_message(detail.to_owned());
            }
            None => {
                let due = self
                    .last_plain
                    .is_none_or(|at| at.elapsed() >= PLAIN_INTERVAL);
                if due {
                    self.last_plain = Some(Instant::now());
                    let of = total.map(|t| format!("/{t}")).unwrap_or_default();
                    let detail = if detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({detail})")
                    };
                    let mut out = std::io::stdout().lock();
                    // Progress is best effort: a closed stdout must not abort a half-done move.
                    let _ = writeln!(out, "{}: {done}{of}{detail}", self.label);
                }
            }
        }
    }

    /// Prints a line above the bar (or as a plain line).
    pub(crate) fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => {
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
        }
    }

    /// Removes the bar; the command prints its own summary afterwards.
    pub(crate) fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_templates_parse() {
        for template in [
            "{prefix} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left) {msg}",
            "{prefix} {spinner} {pos} {msg}",
        ] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }

    #[test]
    fn plain_progress_is_throttled() {
        let mut progress = Progress::with_terminal("moved", Some(10), false);
        progress.set(1, Some(10), "");
        let first = progress.last_plain.expect("first line printed");
        progress.set(2, Some(10), "");
        assert_eq!(progress.last_plain, Some(first), "second line within 2 s");
        progress.finish();
    }
}
