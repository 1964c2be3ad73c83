//! The state table as every item kind calls it: its name, the client built on first use with the
//! SDK's timeouts and retries derived from `call_timeout`, and DynamoDB's errors turned into
//! [`StateError`]s that name the call, the table and DynamoDB's code and message.
//!
//! Shared by the alert items ([`super::DynamoStore`]) and the group items
//! ([`super::groups::DynamoGroupStore`]), so one replica has one client and one connection pool.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::sync::OnceCell;

use super::items::{PK, string};
use crate::state::StateError;

/// SDK attempts per call: one retry of a throttled or dropped request, within the call's timeout.
const MAX_ATTEMPTS: u32 = 2;

/// One item as DynamoDB returns it.
pub(super) type Item = HashMap<String, AttributeValue>;

/// A DynamoDB call that failed: the operation, the table, and the AWS error code and message when
/// DynamoDB answered; the SDK error is the source.
#[derive(Debug, thiserror::Error)]
#[error("DynamoDB {operation} on table {table}{detail}")]
struct DynamoError {
    operation: &'static str,
    table: String,
    /// `: <code>: <message>` when DynamoDB answered with an error, else empty (the source says more).
    detail: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The state table and its client (see the module docs).
#[derive(Debug)]
pub(super) struct Table {
    /// The table's name (`state.table`).
    pub(super) name: String,
    call_timeout: Duration,
    client: OnceCell<Client>,
}

impl Table {
    /// The table `name`, each call bounded by `call_timeout`; the client is built on the first call.
    pub(super) fn new(name: String, call_timeout: Duration) -> Self {
        Table {
            name,
            call_timeout,
            client: OnceCell::new(),
        }
    }

    /// The table `name` through a client built elsewhere (tests against an emulator, without the
    /// process environment).
    #[cfg(test)]
    pub(super) fn with_client(name: String, call_timeout: Duration, client: Client) -> Self {
        Table {
            name,
            call_timeout,
            client: OnceCell::new_with(Some(client)),
        }
    }

    /// The client, built on first use from the default chain (credentials, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL_DYNAMODB`), so that a store that cannot be reached never keeps the worker
    /// from starting.
    pub(super) async fn client(&self) -> &Client {
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

    /// `err` from `operation` as a [`StateError`], with DynamoDB's code and message when it answered.
    pub(super) fn error<E, R>(&self, operation: &'static str, err: SdkError<E, R>) -> StateError
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
        self.failure(operation, detail, Some(Box::new(err)))
    }

    /// A failure of `operation` that this backend found itself: `detail` says what (`: ...`).
    pub(super) fn failure(
        &self,
        operation: &'static str,
        detail: String,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> StateError {
        StateError::new(DynamoError {
            operation,
            table: self.name.clone(),
            detail,
            source,
        })
    }

    /// A consistent read of one item.
    pub(super) async fn read(&self, pk: &str) -> Result<Option<Item>, StateError> {
        let got = self
            .client()
            .await
            .get_item()
            .table_name(&self.name)
            .key(PK, string(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| self.error("GetItem", err))?;
        Ok(got.item)
    }
}

/// The SDK's timeouts for `call_timeout`: the whole call, retries included, ends just before
/// [`crate::state::State`]'s own timeout would cut it, so the SDK's error (which says why) is what is
/// logged.
fn timeouts(call_timeout: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(call_timeout / 2)
        .operation_attempt_timeout(call_timeout / 2)
        .operation_timeout(call_timeout.mul_f64(0.9))
        .build()
}

/// Whether an SDK error is a failed condition: an answer (another holder or writer), not a store
/// failure.
pub(super) fn condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;

    fn answer(code: &str, message: &str) -> SdkError<PutItemError, ()> {
        let error =
            PutItemError::generic(ErrorMetadata::builder().code(code).message(message).build());
        SdkError::service_error(error, ())
    }

    #[test]
    fn throttling_and_denial_are_state_errors_that_name_the_call_table_and_code() {
        let table = Table::new("t".into(), Duration::from_secs(2));
        for (code, message) in [
            ("ProvisionedThroughputExceededException", "Rate exceeded"),
            (
                "AccessDeniedException",
                "not authorized to perform: dynamodb:PutItem",
            ),
        ] {
            let err = answer(code, message);
            assert!(!condition_failed(&err));
            let shown = crate::errors::chain(&table.error("PutItem", err));
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
        let shown = crate::errors::chain(&table.error("PutItem", timeout));
        assert!(shown.contains("operation timeout reached"), "{shown}");
    }

    #[test]
    fn a_failed_condition_is_an_answer_not_an_error() {
        assert!(condition_failed(&answer(
            "ConditionalCheckFailedException",
            "The conditional request failed"
        )));
    }
}
