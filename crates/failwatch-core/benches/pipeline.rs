//! Decode + classify + render throughput. (Being written.)
fn main() {}
