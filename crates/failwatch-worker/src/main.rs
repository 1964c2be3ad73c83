//! The `failwatch` binary. (Being written.)
fn main() {}
