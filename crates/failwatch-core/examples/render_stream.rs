//! The `failwatch render` stream loop on the core library alone, for benchmarking without the worker
//! crate: one SQS message body per stdin line, decoded, classified, de-duplicated and rendered, one
//! compact JSON payload per alert on stdout. Silent events print nothing; a malformed line is reported
//! on stderr with its line number and ends the run with exit code 1.
//!
//! ```text
//! cargo run --release -p failwatch-core --example render_stream -- google-chat < stream.ndjson
//! ```

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use failwatch_core::{Decision, DecodeContext, Deduper, RenderOptions, Target, process, render};
use time::OffsetDateTime;

/// The worker's defaults: remember 10,000 alerts for 15 minutes.
const DEDUP_CAPACITY: NonZeroUsize = NonZeroUsize::new(10_000).expect("non-zero");
const DEDUP_TTL: Duration = Duration::from_secs(15 * 60);

fn main() -> ExitCode {
    let target = match std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or("google-chat")
        .parse::<Target>()
    {
        Ok(target) => target,
        Err(e) => {
            eprintln!("render_stream: {e}");
            return ExitCode::from(64);
        }
    };
    let opts = RenderOptions::default();
    let mut deduper = Deduper::new(DEDUP_CAPACITY, DEDUP_TTL);
    let ctx = DecodeContext {
        message_id: None,
        received_at: OffsetDateTime::now_utc(),
    };
    // One large buffer and one reused line: per-line allocation and 8 KB reads cost as much as rendering.
    let mut input = BufReader::with_capacity(1 << 20, std::io::stdin().lock());
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let (mut alerts, mut silent, mut repeats) = (0u64, 0u64, 0u64);
    let mut line = String::new();
    for n in 1.. {
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("render_stream: reading stdin: {e}");
                return ExitCode::FAILURE;
            }
        }
        if line.trim().is_empty() {
            continue;
        }
        match process(line.trim_end_matches(['\n', '\r']), &ctx) {
            Ok(Decision::Alert(alert)) => {
                if deduper.check_and_record(&alert.dedup_key, Instant::now()) {
                    repeats += 1;
                    continue;
                }
                alerts += 1;
                let payload = render(&alert, target, &opts);
                if writeln!(out, "{payload}").is_err() {
                    return ExitCode::FAILURE;
                }
            }
            Ok(Decision::Silent(_)) => silent += 1,
            Err(e) => {
                eprintln!("render_stream: stdin line {n}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if out.flush().is_err() {
        return ExitCode::FAILURE;
    }
    eprintln!("render_stream: {alerts} alerts, {repeats} repeats, {silent} silent");
    ExitCode::SUCCESS
}
