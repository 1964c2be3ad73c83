//! The grouping state's items in the state table, without the client: their partition keys, the
//! attributes each holds, and how the index of open groups is read back. Pure functions of their inputs
//! (the time included), unit-tested without a table; [`super::groups`] says how they are written.
//!
//! - `group#body#<key>`: one open group. `body` (string: the core's `Group` as JSON), `version`
//!   (number: 1 on the first write, +1 on each), `token` (string: random, new on each write, the same
//!   as in the group's index entry) and `expires_at` ([`GROUP_TTL`] after the last write).
//! - `group#index`: the index of open groups, one attribute per group named `g#` and the first 128
//!   bits of the SHA-256 of the group's key in hex (34 bytes whatever the key), holding a map: `key`
//!   (string), `due` (number, Unix seconds; absent when nothing is pending), `scope` (string; absent
//!   without one), `token` and `expires_at` as in the body item that the entry was written for.
//!
//! `<key>` is the group's store key, hashed when long exactly as alert keys are
//! ([`super::items::alert_part`]). As everywhere in this table, an item or entry whose `expires_at` has
//! passed counts as absent, whatever DynamoDB's lazy TTL has deleted.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use super::items::{EXPIRES_AT, GROUP_PREFIX, alert_part, is_live, number, sha256_hex, string};
use super::table::Item;
use crate::state::groups::{GroupEntry, StoredGroup};

/// How long a group's items last after its last write. Far longer than any group stays open (a group
/// closes after one quiet `group_interval`): only a group whose removal failed, or an index entry
/// left behind, ever reaches it. Nothing depends on DynamoDB's TTL deleting them in time.
pub(super) const GROUP_TTL: Duration = Duration::from_secs(2 * 24 * 3600);
/// DynamoDB's item size limit (names and values, in bytes): a group body above it is refused before
/// any write, and the index item cannot grow beyond it.
pub(super) const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The group body attribute (string).
pub(super) const BODY: &str = "body";
/// The body's version (number).
pub(super) const VERSION: &str = "version";
/// The write's random token, in the body item and in its index entry (string).
pub(super) const TOKEN: &str = "token";
/// An index entry's group key (string).
const KEY: &str = "key";
/// An index entry's due time in Unix seconds (number).
const DUE: &str = "due";
/// An index entry's recovery scope (string).
const SCOPE: &str = "scope";
/// The prefix of the index item's entry attributes.
const ENTRY_PREFIX: &str = "g#";

/// The index item's partition key.
pub(super) fn index_pk() -> String {
    format!("{GROUP_PREFIX}index")
}

/// The partition key of the body item of group `key`.
pub(super) fn body_pk(key: &str) -> String {
    format!("{GROUP_PREFIX}body#{}", alert_part(key))
}

/// The index item's attribute holding the entry of group `key`: short and fixed whatever the key, so
/// every entry costs the same few bytes of name and never nears DynamoDB's limits on names.
pub(super) fn entry_name(key: &str) -> String {
    let hex = sha256_hex(key);
    format!("{ENTRY_PREFIX}{}", &hex[..32])
}

/// The bytes DynamoDB counts for the body item of `body` under `pk`, rounded up: attribute names and
/// values, numbers at their longest.
pub(super) fn body_item_bytes(pk: &str, body: &str) -> usize {
    const NUMBER: usize = 21;
    let names = [super::items::PK, BODY, VERSION, TOKEN, EXPIRES_AT];
    let names: usize = names.iter().map(|name| name.len()).sum();
    names + pk.len() + body.len() + 16 + 2 * NUMBER
}

/// A token for one write: random, so that removing a group's entry can tell it from a newer group's.
pub(super) fn new_token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The index entry of `entry`, written with `token` and lasting until `expires_at`.
pub(super) fn entry_value(entry: &GroupEntry, token: &str, expires_at: u64) -> AttributeValue {
    let mut fields = HashMap::from([
        (KEY.to_owned(), string(&entry.key)),
        (TOKEN.to_owned(), string(token)),
        (EXPIRES_AT.to_owned(), number(expires_at)),
    ]);
    if let Some(due) = entry.due {
        fields.insert(DUE.to_owned(), AttributeValue::N(due.to_string()));
    }
    if let Some(scope) = &entry.scope {
        fields.insert(SCOPE.to_owned(), string(scope));
    }
    AttributeValue::M(fields)
}

/// The group in a body item read at `now` (epoch seconds), or `None` when it expired or is not one of
/// this backend's.
pub(super) fn stored_group(item: &Item, now: u64) -> Option<StoredGroup> {
    if !is_live(item, now) {
        return None;
    }
    Some(StoredGroup {
        body: item.get(BODY)?.as_s().ok()?.clone(),
        version: item.get(VERSION)?.as_n().ok()?.parse().ok()?,
    })
}

/// The index item read at `now`: the live entries, and the expired ones still in it.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Index {
    /// Every live entry, in no particular order.
    pub(super) live: Vec<GroupEntry>,
    /// Expired entries: the attribute name and its `expires_at` as read (the sweep's condition).
    pub(super) expired: Vec<(String, AttributeValue)>,
}

/// Reads the index item `item` at `now` (epoch seconds). Attributes that are not well-formed entries
/// (the partition key, anything not written by this backend) are left out.
pub(super) fn read_index(item: &Item, now: u64) -> Index {
    let mut index = Index::default();
    for (name, value) in item {
        if !name.starts_with(ENTRY_PREFIX) {
            continue;
        }
        let Ok(fields) = value.as_m() else { continue };
        if !is_live(fields, now) {
            if let Some(seen) = fields.get(EXPIRES_AT) {
                index.expired.push((name.clone(), seen.clone()));
            }
            continue;
        }
        if let Some(entry) = group_entry(fields) {
            index.live.push(entry);
        }
    }
    index
}

/// One entry's fields as a [`GroupEntry`], when it names its key.
fn group_entry(fields: &Item) -> Option<GroupEntry> {
    Some(GroupEntry {
        key: fields.get(KEY)?.as_s().ok()?.clone(),
        due: fields
            .get(DUE)
            .and_then(|due| due.as_n().ok()?.parse().ok()),
        scope: fields
            .get(SCOPE)
            .and_then(|scope| scope.as_s().ok().cloned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, due: Option<i64>, scope: Option<&str>) -> GroupEntry {
        GroupEntry {
            key: key.to_owned(),
            due,
            scope: scope.map(str::to_owned),
        }
    }

    #[test]
    fn entries_read_back_as_written_and_expired_ones_are_set_apart_for_the_sweep() {
        let open = entry("chat\u{1f}svc", Some(1_300), Some("ecs-service:a"));
        let quiet = entry("chat\u{1f}other", None, None);
        let old = entry("chat\u{1f}old", Some(10), None);
        let item = Item::from([
            ("pk".to_owned(), string(index_pk())),
            (entry_name(&open.key), entry_value(&open, "t1", 2_000)),
            (entry_name(&quiet.key), entry_value(&quiet, "t2", 2_000)),
            (entry_name(&old.key), entry_value(&old, "t3", 1_000)),
        ]);
        let mut index = read_index(&item, 1_000);
        index.live.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(index.live, vec![quiet, open]);
        assert_eq!(
            index.expired,
            vec![(entry_name(&old.key), number(1_000))],
            "expires_at <= now is expired"
        );
    }

    #[test]
    fn an_expired_or_foreign_body_item_is_no_group() {
        let item = Item::from([
            (BODY.to_owned(), string("{}")),
            (VERSION.to_owned(), number(3)),
            (EXPIRES_AT.to_owned(), number(1_001)),
        ]);
        assert_eq!(
            stored_group(&item, 1_000),
            Some(StoredGroup {
                body: "{}".to_owned(),
                version: 3
            })
        );
        assert_eq!(stored_group(&item, 1_001), None);
        let mut foreign = item.clone();
        foreign.remove(VERSION);
        assert_eq!(stored_group(&foreign, 1_000), None);
    }

    #[test]
    fn keys_are_hashed_like_alert_keys_and_entry_names_are_short_and_distinct() {
        assert_eq!(body_pk("chat\u{1f}svc"), "group#body#chat\u{1f}svc");
        assert_eq!(index_pk(), "group#index");
        assert_ne!(
            index_pk(),
            body_pk("index"),
            "no key reaches the index item"
        );
        let long = "k".repeat(5_000);
        assert!(body_pk(&long).starts_with("group#body#sha256:"));
        assert!(body_pk(&long).len() <= 2_048);
        assert_eq!(entry_name(&long).len(), 34);
        assert_eq!(entry_name("a"), entry_name("a"));
        assert_ne!(entry_name("a"), entry_name("b"));
    }

    #[test]
    fn a_body_near_the_item_limit_is_measured_with_its_key_and_attributes() {
        let pk = body_pk("k");
        let body = "x".repeat(MAX_ITEM_BYTES - 200);
        assert!(body_item_bytes(&pk, &body) <= MAX_ITEM_BYTES);
        let body = "x".repeat(MAX_ITEM_BYTES - 50);
        assert!(body_item_bytes(&pk, &body) > MAX_ITEM_BYTES);
    }
}
