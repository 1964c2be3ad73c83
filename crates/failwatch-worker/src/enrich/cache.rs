//! The enrichment caches: task definitions' log settings and resources' tags, by ARN, each with a time
//! to live and a bounded size (`moka`). A task definition revision never changes, so its entry lives
//! long; tags change, so theirs expire after minutes. Failed lookups are not cached: the next alert
//! tries again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use super::logs::TaskLogs;

/// A task definition revision is immutable; an hour only bounds memory held for retired revisions.
const DEFINITION_TTL: Duration = Duration::from_secs(3_600);
/// Tags are edited by people; five minutes is how stale a route by tag may be.
const TAGS_TTL: Duration = Duration::from_secs(300);
/// Entries per cache: far more task definitions and resources than one worker alerts about in an hour.
const CAPACITY: u64 = 10_000;

/// The caches every alert's lookups share. Cloning shares them.
#[derive(Debug, Clone)]
pub(crate) struct Caches {
    /// Task definition ARN → each container's log settings.
    pub(crate) definitions: Cache<String, Arc<TaskLogs>>,
    /// Resource ARN → its tags.
    pub(crate) tags: Cache<String, Arc<BTreeMap<String, String>>>,
}

impl Caches {
    pub(crate) fn new() -> Self {
        Caches {
            definitions: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(DEFINITION_TTL)
                .build(),
            tags: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TAGS_TTL)
                .build(),
        }
    }
}
