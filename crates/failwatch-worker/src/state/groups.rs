//! The seam of the grouping state: where the worker keeps each open group of alerts (one per
//! destination and `group_key`, the core's `failwatch_core::Group` serialised as JSON) and the index of
//! open groups that the digest scheduler and recovery notices read.
//!
//! A backend stores opaque bodies under versions and never interprets them: every change is a
//! read-modify-write by the caller, made safe across replicas by compare-and-set on the version. The
//! `memory` backend keeps them in this process; the `dynamodb` backend in the state table under the
//! `group#` key prefix, shared by every replica.

use async_trait::async_trait;

use super::StateError;

/// One group as stored: its body (JSON) and the version a compare-and-set must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredGroup {
    /// The serialised group.
    pub(crate) body: String,
    /// Starts at 1 with the first write and grows by one with each.
    pub(crate) version: u64,
}

/// What the index of open groups holds for one group: enough to find it when its digest falls due or
/// when its resource recovers, without reading every group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupEntry {
    /// The group's store key (destination and `group_key`).
    pub(crate) key: String,
    /// When its pending digest falls due, in Unix seconds; `None` when nothing is pending.
    pub(crate) due: Option<i64>,
    /// The group's recovery scope (`failwatch_core::recovery_scope`), when it has one.
    pub(crate) scope: Option<String>,
}

/// A backend of the grouping state. Calls are fallible and bounded by the caller's call timeout, like
/// [`super::StateStore`]'s.
#[async_trait]
pub(crate) trait GroupStore: std::fmt::Debug + Send + Sync {
    /// Whether a write that returned is durable beyond this process: `true` for a shared store, so a
    /// message folded into a group may be deleted at once; `false` for memory, where a folded message
    /// stays in flight until the digest carrying it was delivered.
    fn durable(&self) -> bool;

    /// The group stored under `key`, or `None`.
    async fn get(&self, key: &str) -> Result<Option<StoredGroup>, StateError>;

    /// Writes `body` under `key` as the next version if the stored version is still `expected`
    /// (`None`: no group stored), and sets the group's index entry to `entry` when given (`None`: the
    /// caller knows the entry already says this; always given with `expected` `None`). `Ok(false)`
    /// when another writer changed the group first: read it again and redo the change.
    async fn put(
        &self,
        key: &str,
        body: &str,
        expected: Option<u64>,
        entry: Option<&GroupEntry>,
    ) -> Result<bool, StateError>;

    /// Removes the closed group `key` and its index entry if its version is still `expected`.
    async fn remove(&self, key: &str, expected: u64) -> Result<bool, StateError>;

    /// Every open group's index entry, in no particular order.
    async fn open_groups(&self) -> Result<Vec<GroupEntry>, StateError>;
}
