//! Integration tests for failwatch-core: one binary, one module per concern.

mod classify;
mod decode;
mod dedup;
mod enriched;
mod fixtures;
mod group;
mod kinds;
mod notices;
mod props;
mod redact;
mod render;
mod snapshots;
