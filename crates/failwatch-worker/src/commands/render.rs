//! `failwatch render`: print exactly what the worker would post for a stream of SQS message bodies.
//!
//! The command runs the worker's own per-message pipeline — [`failwatch_core::process`], then the
//! [`failwatch_core::Deduper`], then [`failwatch_core::render`] — over every input in order, so what it
//! prints is what a destination of that type would receive; with `--enrich`, each alert is first enriched
//! as the worker would (the caller's `enrich`). It owns only the framing: which inputs exist,
//! what goes to stdout (payloads, one compact JSON line each) and what goes to stderr (why an event was
//! ignored, why an input was malformed).

use std::fs;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use failwatch_core::{Alert, Decision, DecodeContext, Deduper, RenderOptions, Target};
use time::OffsetDateTime;

/// How long and how many dedup keys `render` remembers. One call is one stream that should behave as
/// one worker would over it, so the worker's default TTL applies; the count only bounds memory.
const DEDUP_TTL: Duration = crate::config::defaults::DEDUP_TTL;
// Evaluated at compile time, so it cannot fail at run time.
const DEDUP_CAPACITY: NonZeroUsize = NonZeroUsize::new(1_000_000).expect("non-zero");

/// Where the bodies come from.
pub(crate) enum Inputs {
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
pub(crate) struct Summary {
    pub(crate) alerts: usize,
    pub(crate) silent: usize,
    pub(crate) duplicates: usize,
    /// Inputs that could not be read or decoded. Any makes the command exit 65.
    pub(crate) malformed: usize,
}

/// Adds enrichment to an alert before it is rendered (`render --enrich`).
pub(crate) type Enrich<'a> = &'a mut dyn FnMut(&mut Alert);

/// Renders every input for `target`, writing payloads to `out` and diagnostics to `diag`; each alert
/// goes through `enrich` first, when given.
///
/// A malformed input is reported and skipped, and the rest of the stream is still processed, so one bad
/// line does not hide what the others would have posted. Errors are only returned when writing to `out`
/// or `diag` fails (e.g. a closed pipe).
pub(crate) fn run(
    inputs: Inputs,
    target: Target,
    enrich: Option<Enrich<'_>>,
    out: &mut dyn Write,
    diag: &mut dyn Write,
) -> io::Result<Summary> {
    let mut pipeline = Pipeline {
        target,
        options: RenderOptions::default(),
        deduper: Deduper::new(DEDUP_CAPACITY, DEDUP_TTL),
        summary: Summary::default(),
        enrich,
    };
    // Payloads are small and many: a large buffer turns one write per alert into one per 64 KiB. It is
    // flushed before every diagnostic, so stdout and stderr still interleave in input order on a
    // terminal.
    let mut out = BufWriter::with_capacity(OUT_BUFFER, out);
    let mut sink = Sink {
        out: &mut out,
        diag,
    };
    match inputs {
        Inputs::Files(files) => {
            for path in files {
                let name = path.display().to_string();
                match fs::read_to_string(&path) {
                    Ok(body) => pipeline.one(&name, &body, &mut sink)?,
                    Err(err) => {
                        pipeline.summary.malformed += 1;
                        sink.diag(format_args!("error: {name}: cannot read: {err}"))?;
                    }
                }
            }
        }
        Inputs::Lines(reader) => {
            // One large read buffer and one reused line: with a new `String` per line and 8 KiB reads,
            // reading the stream cost about as much as rendering it.
            let mut reader = BufReader::with_capacity(IN_BUFFER, reader);
            let mut line = Vec::new();
            for number in 1usize.. {
                line.clear();
                if reader.read_until(b'\n', &mut line)? == 0 {
                    break;
                }
                // The same framing as `BufRead::lines`: strip one "\n", then one "\r".
                let mut body = line.as_slice();
                if let Some(rest) = body.strip_suffix(b"\n") {
                    body = rest;
                    if let Some(rest) = body.strip_suffix(b"\r") {
                        body = rest;
                    }
                }
                let name = LineName(number);
                match std::str::from_utf8(body) {
                    Ok(body) if body.trim().is_empty() => {}
                    Ok(body) => pipeline.one(&name, body, &mut sink)?,
                    // A line that is not UTF-8 is bad input, not a reason to stop reading.
                    Err(_) => {
                        pipeline.summary.malformed += 1;
                        sink.diag(format_args!("error: {name}: not valid UTF-8"))?;
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(pipeline.summary)
}

/// Read and write buffer sizes for streams.
const IN_BUFFER: usize = 1 << 20;
const OUT_BUFFER: usize = 1 << 16;

/// How a stdin line is named in diagnostics ("stdin line 7"), formatted only when a message needs it.
struct LineName(usize);

impl std::fmt::Display for LineName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stdin line {}", self.0)
    }
}

/// Where payloads and diagnostics go.
struct Sink<'a, 'b> {
    out: &'a mut BufWriter<&'b mut dyn Write>,
    diag: &'a mut dyn Write,
}

impl Sink<'_, '_> {
    fn payload(&mut self, payload: &str) -> io::Result<()> {
        self.out.write_all(payload.as_bytes())?;
        self.out.write_all(b"\n")
    }

    fn diag(&mut self, message: std::fmt::Arguments<'_>) -> io::Result<()> {
        self.out.flush()?;
        self.diag.write_fmt(message)?;
        self.diag.write_all(b"\n")
    }
}

struct Pipeline<'a> {
    target: Target,
    options: RenderOptions,
    deduper: Deduper,
    summary: Summary,
    enrich: Option<Enrich<'a>>,
}

impl Pipeline<'_> {
    fn one(
        &mut self,
        name: &dyn std::fmt::Display,
        body: &str,
        sink: &mut Sink<'_, '_>,
    ) -> io::Result<()> {
        let now = OffsetDateTime::now_utc();
        let ctx = DecodeContext {
            message_id: None,
            received_at: now,
        };
        match failwatch_core::process(body, &ctx) {
            Err(err) => {
                self.summary.malformed += 1;
                sink.diag(format_args!("error: {name}: malformed message body: {err}"))
            }
            Ok(Decision::Silent(reason)) => {
                self.summary.silent += 1;
                sink.diag(format_args!("{name}: ignored: {reason}"))
            }
            Ok(Decision::Alert(mut alert)) => {
                if self
                    .deduper
                    .check_and_record(&alert.dedup_key, Instant::now())
                {
                    self.summary.duplicates += 1;
                    return sink.diag(format_args!(
                        "{name}: ignored: duplicate of an earlier alert (dedup key {})",
                        alert.dedup_key
                    ));
                }
                self.summary.alerts += 1;
                if let Some(enrich) = self.enrich.as_mut() {
                    enrich(&mut alert);
                }
                let payload = failwatch_core::render(&alert, self.target, &self.options);
                sink.payload(&payload)
            }
        }
    }
}
