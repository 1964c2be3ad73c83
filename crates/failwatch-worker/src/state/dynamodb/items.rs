//! The DynamoDB table's items and what they mean, without the client: partition keys, the attributes
//! each item holds, expiry in epoch seconds, and how a claim item read back answers a claim. Pure
//! functions of their inputs (the time included), so the rules are unit-tested without a table.
//!
//! One table, partition key `pk` (a string), no sort key, TTL on `expires_at`. Items:
//! - `claim#<key>`: the alert's claim: `owner` (the replica delivering it), `status` (`claimed` or
//!   `done`) and `expires_at` — the lease's end while `claimed`, the dedup TTL's end once `done`.
//! - `delivered#<key>#<destination>`: `destination` accepted the alert; `expires_at` is the dedup
//!   TTL's end. Destination names contain no `#`, so the last `#` ends the key.
//! - `group#...`: the grouping state of failure storms (one item per open group and the index of
//!   open groups), described in [`super::group_items`].
//!
//! `<key>` is the alert's `dedup_key` when it is at most [`MAX_VERBATIM_KEY`] bytes (readable in the
//! console), else `sha256:` and its SHA-256 in hex: keys can hold several ARNs, and a partition key
//! holds at most 2048 bytes. An item whose `expires_at` has passed counts as absent everywhere — in
//! condition expressions and on reads — because DynamoDB's TTL deletes expired items lazily.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};

use crate::state::Claim;

/// The partition key attribute.
pub(super) const PK: &str = "pk";
/// The TTL attribute: epoch seconds (a number) after which the item means nothing.
pub(super) const EXPIRES_AT: &str = "expires_at";
/// The replica that wrote a claim or a delivered-to record.
pub(super) const OWNER: &str = "owner";
/// A claim's state: [`CLAIMED`] or [`DONE`].
pub(super) const STATUS: &str = "status";
/// A claim being delivered under a lease.
pub(super) const CLAIMED: &str = "claimed";
/// A claim whose alert every routed destination accepted.
pub(super) const DONE: &str = "done";

/// The prefix of claim items.
pub(super) const CLAIM_PREFIX: &str = "claim#";
/// The prefix of delivered-to items.
pub(super) const DELIVERED_PREFIX: &str = "delivered#";
/// The prefix of the grouping state's items (failure storms, many alerts threaded as one): no claim
/// or delivered-to key starts with it, so both share the table without a migration.
pub(super) const GROUP_PREFIX: &str = "group#";

/// Alert keys longer than this many bytes are hashed. Real keys (`ecs-task:<task ARN>`) are about 120
/// bytes; this leaves room for the prefixes and a destination name within DynamoDB's 2048-byte limit.
pub(super) const MAX_VERBATIM_KEY: usize = 512;

/// When this replica may write the claim item: there is none, it expired, or it is this replica's own
/// live claim (never a completed one). Claiming: a claim left by a release that failed does not block
/// its own replica. Completing: the
/// claim is this replica's, or nobody else holds a live one (it expired, or was taken over, released and
/// deleted meanwhile — every destination accepted, so `done` is true either way).
pub(super) const TAKE_CONDITION: &str =
    "attribute_not_exists(pk) OR expires_at <= :now OR (#owner = :me AND #status = :claimed)";
/// Releasing: only this replica's own claim, never a completed one or another replica's.
pub(super) const RELEASE_CONDITION: &str = "#owner = :me AND #status = :claimed";

/// The part of a partition key that names the alert: `key` itself, or its hash when long.
pub(super) fn alert_part(key: &str) -> Cow<'_, str> {
    if key.len() <= MAX_VERBATIM_KEY {
        return Cow::Borrowed(key);
    }
    Cow::Owned(format!("sha256:{}", sha256_hex(key)))
}

/// The SHA-256 of `key` in lower-case hex (64 characters).
pub(super) fn sha256_hex(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The claim item's partition key.
pub(super) fn claim_pk(key: &str) -> String {
    format!("{CLAIM_PREFIX}{}", alert_part(key))
}

/// The delivered-to item's partition key.
pub(super) fn delivered_pk(key: &str, destination: &str) -> String {
    format!("{DELIVERED_PREFIX}{}#{destination}", alert_part(key))
}

/// Whole epoch seconds at `now`, rounded down: `expires_at <= floor(now)` exactly when the item has
/// expired, since `expires_at` is whole.
pub(super) fn epoch_secs(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// `expires_at` for something that lasts `lasting` from `now`: rounded up, so it lasts at least that.
pub(super) fn expiry(now: SystemTime, lasting: Duration) -> u64 {
    let end = now.duration_since(UNIX_EPOCH).unwrap_or_default() + lasting;
    end.as_secs() + u64::from(end.subsec_nanos() > 0)
}

/// A number attribute.
pub(super) fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// A string attribute.
pub(super) fn string(s: impl Into<String>) -> AttributeValue {
    AttributeValue::S(s.into())
}

/// An item's `expires_at`, when it has a readable one.
fn expires_at(item: &HashMap<String, AttributeValue>) -> Option<u64> {
    item.get(EXPIRES_AT)?.as_n().ok()?.parse().ok()
}

/// Whether `item` still means something at `now` (epoch seconds): its `expires_at` is later. An item
/// without a readable `expires_at` was not written by this backend and is ignored.
pub(super) fn is_live(item: &HashMap<String, AttributeValue>, now: u64) -> bool {
    expires_at(item).is_some_and(|at| at > now)
}

/// What a claim item that refused this replica's claim says, read at `now` (epoch seconds): `Done` when
/// the alert was completed, `Held` until the holder's lease ends. `None` when the item is gone or
/// expired after all (the claim can be tried again).
pub(super) fn refusal(item: &HashMap<String, AttributeValue>, now: u64) -> Option<Claim<()>> {
    if !is_live(item, now) {
        return None;
    }
    let done = item.get(STATUS).and_then(|s| s.as_s().ok()) == Some(&DONE.to_owned());
    Some(if done {
        Claim::Done
    } else {
        let left = expires_at(item).unwrap_or(now).saturating_sub(now);
        Claim::Held {
            // Whole seconds at least one: the lease ends within the second after `expires_at - 1`.
            retry_in: Duration::from_secs(left.max(1)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(status: &str, expires_at: u64) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_owned(), string("claim#k")),
            (STATUS.to_owned(), string(status)),
            (EXPIRES_AT.to_owned(), number(expires_at)),
            (OWNER.to_owned(), string("other")),
        ])
    }

    #[test]
    fn a_live_claim_is_held_until_its_lease_ends_and_a_done_one_is_a_duplicate() {
        assert_eq!(
            refusal(&item(CLAIMED, 1_030), 1_000),
            Some(Claim::Held {
                retry_in: Duration::from_secs(30)
            })
        );
        assert_eq!(refusal(&item(DONE, 4_600), 1_000), Some(Claim::Done));
    }

    #[test]
    fn an_expired_item_means_nothing_whatever_ttl_has_deleted() {
        assert_eq!(refusal(&item(DONE, 1_000), 1_000), None);
        assert_eq!(refusal(&item(CLAIMED, 999), 1_000), None);
        let mut unreadable = item(DONE, 0);
        unreadable.remove(EXPIRES_AT);
        assert_eq!(refusal(&unreadable, 1_000), None);
        assert!(is_live(&item(DONE, 1_001), 1_000));
    }

    #[test]
    fn expiry_lasts_at_least_the_duration_in_whole_seconds() {
        let now = UNIX_EPOCH + Duration::from_millis(1_000_400);
        assert_eq!(epoch_secs(now), 1_000);
        assert_eq!(expiry(now, Duration::from_secs(30)), 1_031);
        assert_eq!(
            expiry(
                UNIX_EPOCH + Duration::from_secs(1_000),
                Duration::from_secs(30)
            ),
            1_030
        );
    }

    #[test]
    fn short_keys_are_kept_and_long_ones_hashed_within_dynamodbs_key_limit() {
        let arn = "ecs-task:arn:aws:ecs:eu-west-1:123456789012:task/prod/0123456789abcdef";
        assert_eq!(claim_pk(arn), format!("claim#{arn}"));
        assert_eq!(delivered_pk(arn, "chat"), format!("delivered#{arn}#chat"));
        let long = "x".repeat(5_000);
        let pk = delivered_pk(&long, &"d".repeat(64));
        assert!(pk.starts_with("delivered#sha256:"), "{pk}");
        assert!(pk.len() <= 2_048, "{}", pk.len());
        assert_eq!(pk, delivered_pk(&long, &"d".repeat(64)), "stable");
        assert_ne!(claim_pk(&long), claim_pk(&"y".repeat(5_000)));
        let longest = "k".repeat(MAX_VERBATIM_KEY);
        assert!(delivered_pk(&longest, &"d".repeat(64)).len() <= 2_048);
    }
}
