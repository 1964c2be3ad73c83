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
//! with at most [`MAX_ATTEMPTS`] attempts.

mod items;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValuesOnConditionCheckFailure,
};
use tokio::sync::OnceCell;

use super::{Claim, StateError, StateStore};
use items::{
    CLAIMED, DONE, EXPIRES_AT, OWNER, PK, RELEASE_CONDITION, STATUS, TAKE_CONDITION, claim_pk,
    delivered_pk, epoch_secs, expiry, is_live, number, refusal, string,
};

/// SDK attempts per call: one retry of a throttled or dropped request, within the call's timeout.
pub(crate) const MAX_ATTEMPTS: u32 = 2;

/// A DynamoDB call that failed: the operation, the table, and the AWS error code and message when
/// DynamoDB answered; the SDK error is the source.
#[derive(Debug, thiserror::Error)]
#[error("DynamoDB {operation} on table {table}{detail}")]
pub(crate) struct DynamoError {
    operation: &'static str,
    table: String,
    /// `: <code>: <message>` when DynamoDB answered with an error, else empty (the source says more).
    detail: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Alert state in one DynamoDB table (see the module docs).
#[derive(Debug)]
pub(crate) struct DynamoStore {
    table: String,
    /// This replica's name in claims: the host (a pod's name) and a random part, so a restarted
    /// process never mistakes its predecessor's claim for its own.
    owner: String,
    /// How long completed alerts and delivered-to records count (`dedup.ttl`).
    ttl: Duration,
    call_timeout: Duration,
    client: OnceCell<Client>,
}

impl DynamoStore {
    /// A store on `table`, remembering for `ttl`, each call bounded by `call_timeout`; `host` names
    /// this replica in its claims (the pod or host name, when known).
    pub(crate) fn new(table: String, ttl: Duration, call_timeout: Duration, host: &str) -> Self {
        DynamoStore {
            table,
            owner: format!("{host}-{:016x}", rand::random::<u64>()),
            ttl,
            call_timeout,
            client: OnceCell::new(),
        }
    }

    /// The client, built on first use (see the module docs).
    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let config = aws_config::defaults(BehaviorVersion::latest())
                    .timeout_config(timeouts(self.call_timeout))
                    .retry_config(
                        RetryConfig::standard()
                            .with_max_attempts(MAX_ATTEMPTS)
                            .with_initial_backoff(Duration::from_millis(50)),
                    )
                    .load()
                    .await;
                Client::new(&config)
            })
            .await
    }

    fn error<E, R>(&self, operation: &'static str, err: SdkError<E, R>) -> StateError
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let detail = match (&err, err.code()) {
            (SdkError::ServiceError(_), Some(code)) => match err.message() {
                Some(message) => format!(": {code}: {message}"),
                None => format!(": {code}"),
            },
            _ => String::new(),
        };
        StateError::new(DynamoError {
            operation,
            table: self.table.clone(),
            detail,
            source: Some(Box::new(err)),
        })
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
            .client()
            .await
            .put_item()
            .table_name(&self.table)
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
            return Err(self.error("PutItem", err));
        }
        let refused = match err.into_service_error() {
            PutItemError::ConditionalCheckFailedException(failed) => failed.item().cloned(),
            _ => None,
        };
        // An emulator (or an older API) may not return the item with the failure: read it.
        let item = match refused {
            Some(item) => Some(item),
            None => self.read(&pk).await?,
        };
        Ok(item.and_then(|item| refusal(&item, epoch_secs(SystemTime::now()))))
    }

    /// A consistent read of one item.
    async fn read(&self, pk: &str) -> Result<Option<HashMap<String, AttributeValue>>, StateError> {
        let got = self
            .client()
            .await
            .get_item()
            .table_name(&self.table)
            .key(PK, string(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| self.error("GetItem", err))?;
        Ok(got.item)
    }
}

/// The SDK's timeouts for `call_timeout`: the whole call, retries included, ends just before
/// [`super::State`]'s own timeout would cut it, so the SDK's error (which says why) is what is logged.
fn timeouts(call_timeout: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(call_timeout / 2)
        .operation_attempt_timeout(call_timeout / 2)
        .operation_timeout(call_timeout.mul_f64(0.9))
        .build()
}

/// Whether an SDK error is a failed condition: an answer (another holder), not a store failure.
fn condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
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
            StateError::new(DynamoError {
                operation: "BatchGetItem",
                table: self.table.clone(),
                detail: String::new(),
                source: Some(Box::new(err)),
            })
        })?;
        let got = self
            .client()
            .await
            .batch_get_item()
            .request_items(&self.table, wanted)
            .send()
            .await
            .map_err(|err| self.error("BatchGetItem", err))?;
        if got.unprocessed_keys().is_some_and(|keys| !keys.is_empty()) {
            // Throttled in part: an answer with holes is no answer (State delivers anyway).
            return Err(StateError::new(DynamoError {
                operation: "BatchGetItem",
                table: self.table.clone(),
                detail: ": some keys were left unprocessed (throttled)".to_owned(),
                source: None,
            }));
        }
        let now = epoch_secs(SystemTime::now());
        let found: Vec<&str> = got
            .responses()
            .and_then(|tables| tables.get(&self.table))
            .into_iter()
            .flatten()
            .filter(|item| is_live(item, now))
            .filter_map(|item| item.get(PK)?.as_s().ok().map(String::as_str))
            .collect();
        Ok(pks.iter().map(|pk| found.contains(&pk.as_str())).collect())
    }

    async fn record_delivery(&self, key: &str, destination: &str) -> Result<(), StateError> {
        // Unconditional: recording an acceptance twice is harmless, and it must never be refused.
        self.client()
            .await
            .put_item()
            .table_name(&self.table)
            .item(PK, string(delivered_pk(key, destination)))
            .item(OWNER, string(&self.owner))
            .item(EXPIRES_AT, number(expiry(SystemTime::now(), self.ttl)))
            .send()
            .await
            .map_err(|err| self.error("PutItem", err))?;
        Ok(())
    }

    async fn complete(&self, key: &str) -> Result<(), StateError> {
        let now = SystemTime::now();
        let updated = self
            .client()
            .await
            .update_item()
            .table_name(&self.table)
            .key(PK, string(claim_pk(key)))
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
        match updated {
            Ok(_) => Ok(()),
            // Another replica took the alert over after this one's lease ran out; it finds every
            // destination recorded and completes it itself.
            Err(err) if condition_failed(&err) => Ok(()),
            Err(err) => Err(self.error("UpdateItem", err)),
        }
    }

    async fn release(&self, key: &str) -> Result<(), StateError> {
        let deleted = self
            .client()
            .await
            .delete_item()
            .table_name(&self.table)
            .key(PK, string(claim_pk(key)))
            .condition_expression(RELEASE_CONDITION)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":me", string(&self.owner))
            .expression_attribute_values(":claimed", string(CLAIMED))
            .send()
            .await;
        match deleted {
            // Not this replica's claim any more (its lease ran out and another took it): leave it.
            Ok(_) => Ok(()),
            Err(err) if condition_failed(&err) => Ok(()),
            Err(err) => Err(self.error("DeleteItem", err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::ErrorMetadata;

    fn answer(code: &str, message: &str) -> SdkError<PutItemError, ()> {
        let error =
            PutItemError::generic(ErrorMetadata::builder().code(code).message(message).build());
        SdkError::service_error(error, ())
    }

    fn store() -> DynamoStore {
        DynamoStore::new(
            "t".into(),
            Duration::from_secs(3600),
            Duration::from_secs(2),
            "pod-1",
        )
    }

    #[test]
    fn throttling_and_denial_are_state_errors_that_name_the_call_table_and_code() {
        let store = store();
        for (code, message) in [
            ("ProvisionedThroughputExceededException", "Rate exceeded"),
            (
                "AccessDeniedException",
                "not authorized to perform: dynamodb:PutItem",
            ),
        ] {
            let err = answer(code, message);
            assert!(!condition_failed(&err));
            let shown = crate::errors::chain(&store.error("PutItem", err));
            assert!(
                shown.starts_with(&format!(
                    "the state store failed: DynamoDB PutItem on table t: {code}: {message}"
                )),
                "{shown}"
            );
        }
        let timeout = SdkError::<PutItemError, ()>::timeout_error(std::io::Error::other(
            "operation timeout reached",
        ));
        let shown = crate::errors::chain(&store.error("PutItem", timeout));
        assert!(shown.contains("operation timeout reached"), "{shown}");
    }

    #[test]
    fn a_failed_condition_is_an_answer_not_an_error() {
        assert!(condition_failed(&answer(
            "ConditionalCheckFailedException",
            "The conditional request failed"
        )));
    }

    #[test]
    fn each_replica_has_its_own_owner_name_even_on_one_host() {
        let (a, b) = (store(), store());
        assert!(a.owner.starts_with("pod-1-"), "{}", a.owner);
        assert_ne!(a.owner, b.owner);
    }
}
