//! `failwatch render`: print exactly what the worker would post for a stream of SQS message bodies.
//!
//! The command runs the worker's own per-message pipeline — [`failwatch_core::process`], then the
//! [`failwatch_core::Deduper`], then [`failwatch_core::render`] — over every input in order, so what it
//! prints is what a destination of that type would receive. It owns only the framing: which inputs exist,
//! what goes to stdout (payloads, one compact JSON line each) and what goes to stderr (why an event was
//! ignored, why an input was malformed).

use std::fs;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use failwatch_core::{Decision, DecodeContext, Deduper, RenderOptions, Target};
use time::OffsetDateTime;

/// How long and how many dedup keys `render` remembers. One call is one stream that should behave as
/// one worker would over it, so the worker's default TTL applies; the count only bounds memory.
const DEDUP_TTL: Duration = Duration::from_secs(crate::config::defaults::DEDUP_TTL_SECS);
// Evaluated at compile time, so it cannot fail at run time.
const DEDUP_CAPACITY: NonZeroUsize = NonZeroUsize::new(1_000_000).expect("non-zero");

/// Where the bodies come from.
pub enum Inputs {
    /// Each file holds one SQS message body.
    Files(Vec<PathBuf>),
    /// One body per line; blank lines are skipped.
    Lines(Box<dyn BufRead>),
}

impl std::fmt::Debug for Inputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Inputs::Files(files) => f.debug_tuple("Files").field(files).finish(),
            Inputs::Lines(_) => f.write_str("Lines(..)"),
        }
    }
}

/// What one `render` call saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub alerts: usize,
    pub silent: usize,
    pub duplicates: usize,
    /// Inputs that could not be read or decoded. Any makes the command exit 65.
    pub malformed: usize,
}

/// Renders every input for `target`, writing payloads to `out` and diagnostics to `diag`.
///
/// A malformed input is reported and skipped, and the rest of the stream is still processed, so one bad
/// line does not hide what the others would have posted. Errors are only returned when writing to `out`
/// or `diag` fails (e.g. a closed pipe).
pub fn run(
    inputs: Inputs,
    target: Target,
    out: &mut dyn Write,
    diag: &mut dyn Write,
) -> io::Result<Summary> {
    let mut pipeline = Pipeline {
        target,
        options: RenderOptions::default(),
        deduper: Deduper::new(DEDUP_CAPACITY, DEDUP_TTL),
        summary: Summary::default(),
    };
    match inputs {
        Inputs::Files(files) => {
            for path in files {
                let name = path.display().to_string();
                match fs::read_to_string(&path) {
                    Ok(body) => pipeline.one(&name, &body, out, diag)?,
                    Err(err) => {
                        pipeline.summary.malformed += 1;
                        writeln!(diag, "error: {name}: cannot read: {err}")?;
                    }
                }
            }
        }
        Inputs::Lines(reader) => {
            for (index, line) in reader.lines().enumerate() {
                let name = format!("stdin line {}", index + 1);
                match line {
                    Ok(body) if body.trim().is_empty() => {}
                    Ok(body) => pipeline.one(&name, &body, out, diag)?,
                    Err(err) => {
                        // A line that is not UTF-8 is bad input, not a reason to stop reading.
                        if err.kind() == io::ErrorKind::InvalidData {
                            pipeline.summary.malformed += 1;
                            writeln!(diag, "error: {name}: not valid UTF-8")?;
                        } else {
                            return Err(err);
                        }
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(pipeline.summary)
}

struct Pipeline {
    target: Target,
    options: RenderOptions,
    deduper: Deduper,
    summary: Summary,
}

impl Pipeline {
    fn one(
        &mut self,
        name: &str,
        body: &str,
        out: &mut dyn Write,
        diag: &mut dyn Write,
    ) -> io::Result<()> {
        let now = OffsetDateTime::now_utc();
        let ctx = DecodeContext {
            message_id: None,
            received_at: now,
        };
        match failwatch_core::process(body, &ctx) {
            Err(err) => {
                self.summary.malformed += 1;
                writeln!(diag, "error: {name}: malformed message body: {err}")
            }
            Ok(Decision::Silent(reason)) => {
                self.summary.silent += 1;
                writeln!(diag, "{name}: ignored: {reason}")
            }
            Ok(Decision::Alert(alert)) => {
                if self
                    .deduper
                    .check_and_record(&alert.dedup_key, Instant::now())
                {
                    self.summary.duplicates += 1;
                    return writeln!(
                        diag,
                        "{name}: ignored: duplicate of an earlier alert (dedup key {})",
                        alert.dedup_key
                    );
                }
                self.summary.alerts += 1;
                let payload = failwatch_core::render(&alert, self.target, &self.options);
                writeln!(out, "{payload}")
            }
        }
    }
}
