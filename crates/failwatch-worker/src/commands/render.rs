//! `failwatch render`: print exactly what the worker would post for a stream of SQS message bodies.
//!
//! The command runs the worker's own per-message pipeline — [`failwatch_core::process`], then the
//! [`failwatch_core::Deduper`], then [`failwatch_core::render`] — over every input in order, so what it
//! prints is what a destination of that type would receive; with `--enrich`, each alert is first enriched
//! as the worker would (the caller's `enrich`). With `--group-interval`, alerts go through the core's
//! grouping state machine as well ([`groups`]): a group's first alert is printed, the alerts that follow
//! fold into digests printed when their interval ends, and recovery events print recoveries. It owns
//! only the framing: which inputs exist, what goes to stdout (payloads, one compact JSON line each) and
//! what goes to stderr (why an event was ignored or folded, why an input was malformed).

mod groups;

use std::fs;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use failwatch_core::{Alert, Decision, DecodeContext, Deduper, GroupPolicy, RenderOptions, Target};
use time::OffsetDateTime;

use groups::{Grouping, Notice, Verdict};

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
    /// Alerts folded into a digest (`--group-interval`).
    pub(crate) folded: usize,
    /// Digests and recoveries printed (`--group-interval`).
    pub(crate) digests: usize,
    pub(crate) recoveries: usize,
    /// Inputs that could not be decoded (or are not UTF-8). Any makes the command exit 65.
    pub(crate) malformed: usize,
    /// Files that could not be opened or read (missing, a directory, no permission). Any makes the
    /// command exit 66.
    pub(crate) unreadable: usize,
}

/// Adds enrichment to an alert before it is rendered (`render --enrich`).
pub(crate) type Enrich<'a> = &'a mut dyn FnMut(&mut Alert);

/// Renders every input for `target`, writing payloads to `out` and diagnostics to `diag`; each alert
/// goes through `enrich` first, when given. With a grouping policy, alerts are grouped as the worker
/// groups them, each input taking the next second of a synthetic clock (see [`groups`]).
///
/// A malformed input is reported and skipped, and the rest of the stream is still processed, so one bad
/// line does not hide what the others would have posted. Errors are only returned when writing to `out`
/// or `diag` fails (e.g. a closed pipe).
pub(crate) fn run(
    inputs: Inputs,
    target: Target,
    grouping: Option<GroupPolicy>,
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
        grouping: grouping.map(Grouping::new),
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
                    Ok(body) => pipeline.one(&name, without_bom(&body), &mut sink)?,
                    // Read, but not text: bad input data, like a body that is not JSON.
                    Err(err) if err.kind() == io::ErrorKind::InvalidData => {
                        pipeline.summary.malformed += 1;
                        sink.diag(format_args!("error: {name}: not valid UTF-8"))?;
                    }
                    Err(err) => {
                        pipeline.summary.unreadable += 1;
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
                if number == 1 {
                    body = body.strip_prefix(BOM.as_bytes()).unwrap_or(body);
                }
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
    pipeline.finish(&mut sink)?;
    out.flush()?;
    Ok(pipeline.summary)
}

/// The byte order mark some Windows editors write at the start of a UTF-8 file. It is no part of the
/// body: the file or stream starting with it is read as if it did not, where serde_json would refuse it
/// as "expected value at line 1 column 1".
const BOM: &str = "\u{feff}";

/// A file's text without its leading byte order mark.
fn without_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
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
    /// The groups and their synthetic clock, with `--group-interval`.
    grouping: Option<Grouping>,
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
        let due = self.grouping.as_mut().map(Grouping::tick);
        self.notices(due.unwrap_or_default(), sink)?;
        let event = match failwatch_core::decode(body, &ctx) {
            Ok(event) => event,
            Err(err) => {
                self.summary.malformed += 1;
                return sink.diag(format_args!("error: {name}: malformed message body: {err}"));
            }
        };
        if let Some(grouping) = self.grouping.as_mut()
            && let Some(signal) = failwatch_core::recovery_signal(&event)
        {
            let recovered = grouping.recover(&signal);
            self.notices(recovered, sink)?;
        }
        match failwatch_core::classify(&event) {
            Decision::Silent(reason) => {
                self.summary.silent += 1;
                sink.diag(format_args!("{name}: ignored: {reason}"))
            }
            Decision::Alert(mut alert) => {
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
                let verdict = match self.grouping.as_mut() {
                    Some(grouping) => {
                        let (first, verdict) = grouping.observe(&mut alert);
                        self.notices(first, sink)?;
                        Some(verdict)
                    }
                    None => None,
                };
                match verdict {
                    None | Some(Verdict::Post) => {}
                    Some(Verdict::Folded(due)) => {
                        self.summary.folded += 1;
                        let due = (due - OffsetDateTime::UNIX_EPOCH).whole_seconds();
                        return sink.diag(format_args!(
                            "{name}: folded into the digest of group {} (due at second {due})",
                            alert.group_key
                        ));
                    }
                    Some(Verdict::Repeat) => {
                        self.summary.duplicates += 1;
                        return sink.diag(format_args!(
                            "{name}: ignored: already in the digest of group {} (dedup key {})",
                            alert.group_key, alert.dedup_key
                        ));
                    }
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

    /// Prints digests and recoveries.
    fn notices(&mut self, notices: Vec<Notice>, sink: &mut Sink<'_, '_>) -> io::Result<()> {
        for notice in notices {
            let payload = match notice {
                Notice::Digest(digest) => {
                    self.summary.digests += 1;
                    failwatch_core::render_digest(&digest, self.target, &self.options)
                }
                Notice::Recovery(recovery) => {
                    self.summary.recoveries += 1;
                    failwatch_core::render_recovery(&recovery, self.target, &self.options)
                }
            };
            sink.payload(&payload)?;
        }
        Ok(())
    }

    /// At the end of the stream: the digests still pending, as if the worker ran until they fell due.
    fn finish(&mut self, sink: &mut Sink<'_, '_>) -> io::Result<()> {
        let pending = self.grouping.as_mut().map(Grouping::finish);
        self.notices(pending.unwrap_or_default(), sink)
    }
}
