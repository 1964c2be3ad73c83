//! Throughput of the per-message work the worker and `failwatch render` do: decode + classify + render.
//!
//! The headline number is `pipeline/google-chat`: one ~2.5 KB failed-task event (the compact form of
//! `tests/fixtures/events/ecs_task-exit137-killed.json`) decoded, classified and rendered for Google Chat,
//! reported in events per second. `render/*` isolates each renderer on the decoded alert and `decode/*`
//! isolates decoding, so a regression shows where it comes from. Results and the command are in
//! BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use failwatch_core::{Decision, DecodeContext, RenderOptions, Target, decode, process, render};
use time::macros::datetime;

/// The benchmark event, pretty-printed in the repository and compacted here as SQS delivers it.
const FIXTURE: &str = include_str!("../../../tests/fixtures/events/ecs_task-exit137-killed.json");

fn body() -> String {
    let value: serde_json::Value = serde_json::from_str(FIXTURE).expect("fixture is JSON");
    serde_json::to_string(&value).expect("serialises")
}

fn ctx() -> DecodeContext {
    DecodeContext {
        message_id: Some("6f1c8e2a-0000-4000-8000-000000000000".to_owned()),
        received_at: datetime!(2026-11-20 09:00:00 UTC),
    }
}

fn pipeline(c: &mut Criterion) {
    let body = body();
    let ctx = ctx();
    let opts = RenderOptions::default();
    let Ok(Decision::Alert(alert)) = process(&body, &ctx) else {
        panic!("the benchmark event must alert");
    };

    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(1));
    group.bench_function("google-chat", |b| {
        b.iter(|| match process(black_box(&body), &ctx) {
            Ok(Decision::Alert(alert)) => render(&alert, Target::GoogleChat, &opts),
            _ => String::new(),
        })
    });
    group.finish();

    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(1));
    for target in Target::ALL {
        group.bench_function(target.as_str(), |b| {
            b.iter(|| render(black_box(&alert), target, &opts))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    group.bench_function(format!("ecs-task-{}-bytes", body.len()), |b| {
        b.iter(|| decode(black_box(&body), &ctx).map(|_| ()))
    });
    group.bench_function("decode+classify", |b| {
        b.iter(|| process(black_box(&body), &ctx).map(|_| ()))
    });
    group.finish();
}

fn config() -> Criterion {
    // Short runs: the machine is shared with other builds, and the best of several short runs is a
    // steadier number than one long one (see BENCHMARKS.md).
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = pipeline
}
criterion_main!(benches);
