//! Grouping: what a burst of alerts of one `group_key` becomes — its first alert, digests of the
//! alerts that follow within `group_interval`, a crash-loop notice, and a recovery.

mod document;

pub use document::{
    CrashLoop, DIGEST_SCHEMA, Digest, FoldedAlert, RECOVERY_SCHEMA, Recovery, Tally,
};
