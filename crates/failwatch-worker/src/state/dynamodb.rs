//! The `dynamodb` backend: claims, delivered-to records and completed alerts in one DynamoDB table shared
//! by every replica, so that two copies of one event on two replicas alert once, and a message
//! redelivered after a crash is not posted again where it was accepted.
//!
//! The items and conditions are in [`items`]. Per alert, with one destination: a conditional PutItem
//! claims it (a lost race reads the winner's item from the failed condition), one BatchGetItem with
//! consistent reads finds the destinations that accepted it already, one PutItem per destination that
//! accepts it, and one UpdateItem completes it (or a DeleteItem releases it). Four round trips.
//!
//! Every write whose race matters is conditional: claiming (no live claim of another replica),
//! completing (this replica's claim, or none live) and releasing (this replica's claim only). A
//! condition that fails is an answer, not an error. Everything else — throttling, timeouts, access
//! denied, an unreachable endpoint, a missing region — is a [`StateError`], which [`super::State`]
//! counts and forgives.
//!
//! The client is built from the default chain (credentials, `AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`)
//! on the first call rather than at start-up, so that a store that cannot be reached never keeps the
//! worker from starting. Each call is bounded by the SDK's own timeouts, derived from `call_timeout`,
//! with at most two attempts ([`table`]).
//!
//! The grouping state of failure storms lives in the same table under the `group#` prefix
//! ([`groups::DynamoGroupStore`], with a client of its own: the grouping state is built apart from the
//! alert state, see `crate::grouping::Grouping::from_config`).

mod group_items;
pub(crate) mod groups;
mod items;
mod table;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValuesOnConditionCheckFailure,
};

use super::{Claim, StateError, StateStore};
use items::{
    CLAIMED, DONE, EXPIRES_AT, OWNER, PK, RELEASE_CONDITION, STATUS, TAKE_CONDITION, claim_pk,
    delivered_pk, epoch_secs, expiry, is_live, number, refusal, string,
};
use table::{Table, condition_failed};

/// Alert state in one DynamoDB table (see the module docs).
#[derive(Debug)]
pub(crate) struct DynamoStore {
    table: Arc<Table>,
    /// This replica's name in claims: the host (a pod's name) and a random part, so a restarted
    /// process never mistakes its predecessor's claim for its own.
    owner: String,
    /// How long completed alerts and delivered-to records count (`dedup.ttl`).
    ttl: Duration,
}

impl DynamoStore {
    /// A store on `table`, remembering for `ttl`, each call bounded by `call_timeout`; `host` names
    /// this replica in its claims (the pod or host name, when known).
    pub(crate) fn new(table: String, ttl: Duration, call_timeout: Duration, host: &str) -> Self {
        DynamoStore {
            table: Arc::new(Table::new(table, call_timeout)),
            owner: format!("{host}-{:016x}", rand::random::<u64>()),
            ttl,
        }
    }

    /// `:now`, `:me` and `:claimed` for [`items::TAKE_CONDITION`], plus the update's `extra` values.
    fn values(
        &self,
        now: u64,
        extra: Vec<(&str, AttributeValue)>,
    ) -> HashMap<String, AttributeValue> {
        let mut values = HashMap::from([
            (":now".to_owned(), number(now)),
            (":me".to_owned(), string(&self.owner)),
            (":claimed".to_owned(), string(CLAIMED)),
        ]);
        values.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
        values
    }

    /// One conditional PutItem of the claim item. `Ok(None)` when the condition failed and the item
    /// that refused it had gone or expired by the time it was read (try again).
    async fn try_claim(&self, key: &str, lease: Duration) -> Result<Option<Claim<()>>, StateError> {
        let pk = claim_pk(key);
        let now = SystemTime::now();
        let put = self
            .table
            .put_item()
            .await
            .item(PK, string(&pk))
            .item(STATUS, string(CLAIMED))
            .item(OWNER, string(&self.owner))
            .item(EXPIRES_AT, number(expiry(now, lease)))
            .condition_expression(TAKE_CONDITION)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#status", STATUS)
            .set_expression_attribute_values(Some(self.values(epoch_secs(now), Vec::new())))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match put {
            Ok(_) => return Ok(Some(Claim::Won(()))),
            Err(err) => err,
        };
        if !condition_failed(&err) {
            return Err(self.table.error("PutItem", err));
        }
        let refused = match err.into_service_error() {
            PutItemError::ConditionalCheckFailedException(failed) => failed.item().cloned(),
            _ => None,
        };
        // An emulator (or an older API) may not return the item with the failure: read it.
        let item = match refused {
            Some(item) => Some(item),
            None => self.table.read(&pk).await?,
        };
        Ok(item.and_then(|item| refusal(&item, epoch_secs(SystemTime::now()))))
    }
}

#[async_trait]
impl StateStore for DynamoStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim<()>, StateError> {
        // A refusing item that has vanished by the time it is read was released or expired: one more
        // try, then report it held briefly rather than loop.
        for _ in 0..2 {
            if let Some(claim) = self.try_claim(key, lease).await? {
                return Ok(claim);
            }
        }
        Ok(Claim::Held {
            retry_in: Duration::from_secs(1),
        })
    }

    async fn delivered_to(
        &self,
        key: &str,
        destinations: &[&str],
    ) -> Result<Vec<bool>, StateError> {
        if destinations.is_empty() {
            return Ok(Vec::new());
        }
        let pks: Vec<String> = destinations.iter().map(|d| delivered_pk(key, d)).collect();
        let mut wanted = KeysAndAttributes::builder()
            .consistent_read(true)
            .projection_expression("pk, expires_at");
        // BatchGetItem refuses duplicate keys; a destination routed twice is asked once.
        let mut unique = pks.clone();
        unique.sort();
        unique.dedup();
        for pk in unique {
            wanted = wanted.keys(HashMap::from([(PK.to_owned(), string(pk))]));
        }
        let wanted = wanted.build().map_err(|err| {
            self.table
                .failure("BatchGetItem", String::new(), Some(Box::new(err)))
        })?;
        let got = self
            .table
            .client()
            .await
            .batch_get_item()
            .request_items(&self.table.name, wanted)
            .send()
            .await
            .map_err(|err| self.table.error("BatchGetItem", err))?;
        if got.unprocessed_keys().is_some_and(|keys| !keys.is_empty()) {
            // Throttled in part: an answer with holes is no answer (State delivers anyway).
            return Err(self.table.failure(
                "BatchGetItem",
                ": some keys were left unprocessed (throttled)".to_owned(),
                None,
            ));
        }
        let now = epoch_secs(SystemTime::now());
        let found: Vec<&str> = got
            .responses()
            .and_then(|tables| tables.get(&self.table.name))
            .into_iter()
            .flatten()
            .filter(|item| is_live(item, now))
            .filter_map(|item| item.get(PK)?.as_s().ok().map(String::as_str))
            .collect();
        Ok(pks.iter().map(|pk| found.contains(&pk.as_str())).collect())
    }

    async fn record_delivery(&self, key: &str, destination: &str) -> Result<(), StateError> {
        // Unconditional: recording an acceptance twice is harmless, and it must never be refused.
        self.table
            .put_item()
            .await
            .item(PK, string(delivered_pk(key, destination)))
            .item(OWNER, string(&self.owner))
            .item(EXPIRES_AT, number(expiry(SystemTime::now(), self.ttl)))
            .send()
            .await
            .map_err(|err| self.table.error("PutItem", err))?;
        Ok(())
    }

    async fn complete(&self, key: &str) -> Result<(), StateError> {
        let now = SystemTime::now();
        let updated = self
            .table
            .update_item(claim_pk(key))
            .await
            .update_expression("SET #status = :done, #owner = :me, expires_at = :until")
            .condition_expression(TAKE_CONDITION)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#status", STATUS)
            .set_expression_attribute_values(Some(self.values(
                epoch_secs(now),
                vec![
                    (":done", string(DONE)),
                    (":until", number(expiry(now, self.ttl))),
                ],
            )))
            .send()
            .await;
        // A failed condition: another replica took the alert over after this one's lease ran out; it
        // finds every destination recorded and completes it itself.
        self.table.conditional("UpdateItem", updated)?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), StateError> {
        let deleted = self
            .table
            .delete_item(claim_pk(key))
            .await
            .condition_expression(RELEASE_CONDITION)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":me", string(&self.owner))
            .expression_attribute_values(":claimed", string(CLAIMED))
            .send()
            .await;
        // A failed condition: not this replica's claim any more (its lease ran out and another took
        // it): leave it.
        self.table.conditional("DeleteItem", deleted)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> DynamoStore {
        DynamoStore::new(
            "t".into(),
            Duration::from_secs(3600),
            Duration::from_secs(2),
            "pod-1",
        )
    }

    #[test]
    fn each_replica_has_its_own_owner_name_even_on_one_host() {
        let (a, b) = (store(), store());
        assert!(a.owner.starts_with("pod-1-"), "{}", a.owner);
        assert_ne!(a.owner, b.owner);
    }
}
