//! System tests: the whole product against the AWS emulator and local chat receivers.
//!
//! One binary (see "Delete Cargo Integration Tests"): `support` holds the emulator, receiver and worker
//! harnesses, every other module is a group of scenarios. Each end-to-end test starts its own moto server,
//! receiver and `failwatch run`, so the tests run concurrently and share nothing. Nothing here is skipped
//! when a tool is missing: scripts/bootstrap.sh installs moto and promtool, and a test without them fails
//! saying so.

mod support;

mod check_config;
mod delivery;
mod enrichment;
mod failures;
mod grouping;
mod no_credentials;
mod ops;
mod render_cli;
mod shutdown;
mod state_dynamodb;
