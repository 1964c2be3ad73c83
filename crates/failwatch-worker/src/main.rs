//! The `failwatch` binary. Everything it does lives in the `failwatch_worker` library, which this only
//! calls, so the compiler can see which library code the binary really uses.

use std::process::ExitCode;

// The system allocator, deliberately: mimalloc cut `failwatch render`'s instructions by about 8 %, but
// more than doubled the worker's resident memory (idle 14 -> 31 MiB, draining 19 -> 44 MiB, measured
// with scripts/load.sh), and the long-running worker's footprint matters more than the CLI's speed.

fn main() -> ExitCode {
    failwatch_worker::main()
}
