//! The `dynamodb` backend of the grouping state ([`GroupStore`]): every open group of alerts and the
//! index of open groups, in the state table under the `group#` prefix, shared by every replica. The
//! items are in [`super::group_items`].
//!
//! **A group** is one item holding its body and version. `put` is one conditional PutItem: with no
//! expected version, `attribute_not_exists(pk) OR expires_at <= :now` (an expired body counts as
//! absent); with one, `version = :expected AND expires_at > :now`. A `put` without an entry (the
//! caller knows the index already says it) is one conditional UpdateItem of the body and version under
//! the same condition, which keeps the item's token and expiry, and so its entry. A failed condition is the answer
//! "another writer changed it first" (`Ok(false)`); every other error is a [`StateError`]. `remove` is
//! one DeleteItem conditional on the version. A body over DynamoDB's 400 KB item limit is refused
//! before anything is written.
//!
//! **The index** is one item, `group#index`, with one attribute per open group (its [`GroupEntry`]):
//! `open_groups` is one consistent GetItem, whatever the number of groups — the digest scheduler of
//! every replica reads it once a second. Each writer sets or removes only its group's attribute
//! (`SET #entry = :entry`, `REMOVE #entry`), so concurrent writers of different groups never
//! overwrite each other's entries. Top-level attributes rather than a map attribute: a nested path
//! cannot be set before its map exists, and creating the map is one more race.
//!
//! Order of writes, so that no open group is ever missing from the index: `put` writes the entry
//! **before** the body, `remove` removes it **after** the body. A crash or error between the two leaves
//! an entry whose body is missing or older — a stale entry, which is harmless: a caller reads the group
//! ([`GroupStore::get`]) before acting on its entry and skips a key whose group is gone. Stale entries
//! end by themselves: each entry lasts as long as the body write it was made for
//! ([`super::group_items::GROUP_TTL`] after it), `open_groups` leaves out expired entries and sweeps them from
//! the index with one conditional UpdateItem (best effort: a sweep that fails is retried by the next
//! read). `remove` removes the entry only if it still carries the removed body's random `token`, so a
//! group created again under the same key meanwhile keeps its new entry; when that second call fails,
//! `remove` returns its error although the body is gone (the entry is stale, as above). One race is left: when two
//! writers race on one version, the loser's entry may land after the winner's; it names the right key,
//! and the worker rewrites it: the loser's next write of the group names its entry again, and the digest
//! scheduler rewrites an entry whose due time disagrees with the group's body when it reads the group
//! (`crate::grouping::Grouping::repair`). An entry whose token no body carries any more outlives its
//! group's removal until it expires: a read per look, nothing posted.
//!
//! **Limits.** The index item is bounded by DynamoDB's 400 KB: an entry is about 280 bytes with a
//! 100-byte key and an 80-byte scope, so about 1,400 open groups (fewer with longer keys or scopes).
//! Beyond it DynamoDB refuses the index write, `put` fails with a [`StateError`] that says the index
//! of open groups is full, and the body is not written: the caller counts the error and keeps the
//! alert as if the store had failed, nothing is lost silently. Every `put` with an entry rewrites the index
//! item, which DynamoDB bills by the item's size (1 write unit per KB: about 28 units with 100 open
//! groups) and limits to 1,000 write units a second per item, so about 35 such writes a second across
//! all replicas with 100 open groups. The worker writes an entry only when a group's due time or scope
//! changes (about twice per group per `group_interval` in a storm), not for each folded alert.
//!
//! Calls use the alert items' client ([`Table`]): built on first use, bounded by the SDK timeouts
//! derived from `call_timeout`, at most two attempts.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::group_items::{
    BODY, GROUP_TTL, MAX_ITEM_BYTES, TOKEN, VERSION, body_item_bytes, body_pk, entry_name,
    entry_value, index_pk, new_token, read_index, stored_group,
};
use super::items::{EXPIRES_AT, PK, epoch_secs, expiry, number, string};
use super::table::Table;
use crate::state::StateError;
use crate::state::groups::{GroupEntry, GroupStore, StoredGroup};

/// At most this many expired entries are swept from the index by one read (one UpdateItem).
const SWEEP_AT_MOST: usize = 16;

/// The grouping state in the state table (see the module docs).
#[derive(Debug)]
pub(crate) struct DynamoGroupStore {
    table: Arc<Table>,
}

impl DynamoGroupStore {
    /// The grouping state in `table` (`state.table`), each call bounded by `call_timeout`
    /// (`state.call_timeout`), with a client of its own built on the first call.
    pub(crate) fn new(table: String, call_timeout: Duration) -> Self {
        DynamoGroupStore::on(Arc::new(Table::new(table, call_timeout)))
    }

    /// The grouping state in `table`, through its client.
    pub(super) fn on(table: Arc<Table>) -> Self {
        DynamoGroupStore { table }
    }

    /// Sets group `key`'s index entry to `entry`, written with `token` and lasting until `until`.
    async fn set_entry(
        &self,
        key: &str,
        entry: &GroupEntry,
        token: &str,
        until: u64,
    ) -> Result<(), StateError> {
        self.table
            .update_item(index_pk())
            .await
            .update_expression("SET #entry = :entry")
            .expression_attribute_names("#entry", entry_name(key))
            .expression_attribute_values(":entry", entry_value(entry, token, until))
            .send()
            .await
            .map_err(|err| self.index_error(err))?;
        Ok(())
    }

    /// An index write that failed; DynamoDB's item size limit is said in plain words.
    fn index_error<E, R>(&self, err: SdkError<E, R>) -> StateError
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let too_large = err.code() == Some("ValidationException")
            && err.message().is_some_and(|m| m.contains("size"));
        if !too_large {
            return self.table.error("UpdateItem", err);
        }
        let detail = format!(
            ": the index of open groups is full (DynamoDB's {} KB item limit): too many open groups",
            MAX_ITEM_BYTES / 1024
        );
        self.table
            .failure("UpdateItem", detail, Some(Box::new(err)))
    }

    /// Writes the body item of `key` as the version after `expected`, if that is still the stored one.
    async fn write_body(
        &self,
        key: &str,
        body: &str,
        expected: Option<u64>,
        token: &str,
        now: SystemTime,
    ) -> Result<bool, StateError> {
        let put = self
            .table
            .put_item()
            .await
            .item(PK, string(body_pk(key)))
            .item(BODY, string(body))
            .item(VERSION, number(expected.map_or(1, |v| v + 1)))
            .item(TOKEN, string(token))
            .item(EXPIRES_AT, number(expiry(now, GROUP_TTL)))
            .expression_attribute_values(":now", number(epoch_secs(now)));
        let put = match expected {
            None => put.condition_expression("attribute_not_exists(pk) OR expires_at <= :now"),
            Some(version) => put
                .condition_expression("#version = :expected AND expires_at > :now")
                .expression_attribute_names("#version", VERSION)
                .expression_attribute_values(":expected", number(version)),
        };
        let written = self.table.conditional("PutItem", put.send().await)?;
        Ok(written.is_some())
    }

    /// Writes the body of `key` as the version after `expected`, if that is still the stored one,
    /// keeping the item's token and expiry: its index entry, which carries both, stays the group's, and
    /// the body never outlives it (the worker writes the entry again at least hourly while it writes).
    async fn update_body(
        &self,
        key: &str,
        body: &str,
        expected: u64,
        now: SystemTime,
    ) -> Result<bool, StateError> {
        let update = self
            .table
            .update_item(body_pk(key))
            .await
            .update_expression("SET #body = :body, #version = :next")
            .condition_expression("#version = :expected AND expires_at > :now")
            .expression_attribute_names("#body", BODY)
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_values(":body", string(body))
            .expression_attribute_values(":next", number(expected + 1))
            .expression_attribute_values(":expected", number(expected))
            .expression_attribute_values(":now", number(epoch_secs(now)))
            .send()
            .await;
        let written = self.table.conditional("UpdateItem", update)?;
        Ok(written.is_some())
    }

    /// Removes group `key`'s index entry if it is still the one written with `token`.
    async fn remove_entry(&self, key: &str, token: &str) -> Result<(), StateError> {
        let removed = self
            .table
            .update_item(index_pk())
            .await
            .update_expression("REMOVE #entry")
            .condition_expression("#entry.#token = :token")
            .expression_attribute_names("#entry", entry_name(key))
            .expression_attribute_names("#token", TOKEN)
            .expression_attribute_values(":token", string(token))
            .send()
            .await;
        // A failed condition: a newer write of the group owns the entry now (or it is gone): leave it.
        self.table.conditional("UpdateItem", removed)?;
        Ok(())
    }

    /// Removes expired entries from the index, each only if no write has renewed it since it was read.
    /// Best effort (see the module docs): a failure leaves them to the next read.
    async fn sweep(&self, expired: &[(String, AttributeValue)]) {
        let expired = &expired[..expired.len().min(SWEEP_AT_MOST)];
        let names: Vec<String> = (0..expired.len()).map(|i| format!("#e{i}")).collect();
        let condition: Vec<String> = (0..expired.len())
            .map(|i| format!("#e{i}.expires_at = :e{i}"))
            .collect();
        let mut update = self
            .table
            .update_item(index_pk())
            .await
            .update_expression(format!("REMOVE {}", names.join(", ")))
            .condition_expression(condition.join(" AND "));
        for (i, (name, seen)) in expired.iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#e{i}"), name)
                .expression_attribute_values(format!(":e{i}"), seen.clone());
        }
        if let Err(err) = update.send().await {
            let err = self.table.error("UpdateItem", err);
            tracing::debug!(error = %crate::errors::chain(&err), "sweeping expired group entries failed; the next read tries again");
        }
    }
}

#[async_trait]
impl GroupStore for DynamoGroupStore {
    fn durable(&self) -> bool {
        true
    }

    async fn get(&self, key: &str) -> Result<Option<StoredGroup>, StateError> {
        let item = self.table.read(&body_pk(key)).await?;
        let now = epoch_secs(SystemTime::now());
        Ok(item.and_then(|item| stored_group(&item, now)))
    }

    async fn put(
        &self,
        key: &str,
        body: &str,
        expected: Option<u64>,
        entry: Option<&GroupEntry>,
    ) -> Result<bool, StateError> {
        let bytes = body_item_bytes(&body_pk(key), body);
        if bytes > MAX_ITEM_BYTES {
            let detail = format!(
                ": the group's item would be {bytes} bytes, over DynamoDB's {} KB item limit; nothing was written",
                MAX_ITEM_BYTES / 1024
            );
            return Err(self.table.failure("PutItem", detail, None));
        }
        let now = SystemTime::now();
        if let (None, Some(expected)) = (entry, expected) {
            // Only the body changes; it keeps the token its index entry carries.
            return self.update_body(key, body, expected, now).await;
        }
        // A first write names its entry (the trait's contract); without one, nothing is due in it.
        let entry = entry.cloned().unwrap_or_else(|| GroupEntry {
            key: key.to_owned(),
            due: None,
            scope: None,
        });
        let token = new_token();
        // The entry first: an open group is never missing from the index (see the module docs).
        self.set_entry(key, &entry, &token, expiry(now, GROUP_TTL))
            .await?;
        self.write_body(key, body, expected, &token, now).await
    }

    async fn remove(&self, key: &str, expected: u64) -> Result<bool, StateError> {
        let deleted = self
            .table
            .delete_item(body_pk(key))
            .await
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_values(":expected", number(expected))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let Some(deleted) = self.table.conditional("DeleteItem", deleted)? else {
            return Ok(false);
        };
        let old = deleted.attributes;
        let token = old.as_ref().and_then(|old| old.get(TOKEN)?.as_s().ok());
        if let Some(token) = token {
            self.remove_entry(key, token).await?;
        }
        Ok(true)
    }

    async fn open_groups(&self) -> Result<Vec<GroupEntry>, StateError> {
        let Some(item) = self.table.read(&index_pk()).await? else {
            return Ok(Vec::new());
        };
        let index = read_index(&item, epoch_secs(SystemTime::now()));
        if !index.expired.is_empty() {
            self.sweep(&index.expired).await;
        }
        Ok(index.live)
    }
}

#[cfg(test)]
mod tests;
