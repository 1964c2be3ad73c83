//! What SQS says about a queue (GetQueueAttributes) and how a queue is found by ARN (GetQueueUrl):
//! message counts, the ARN, the RedrivePolicy, and from it the dead-letter queue.

use std::collections::HashMap;

use aws_sdk_sqs::types::QueueAttributeName;
use serde::Deserialize;

use super::{Queue, SqsError};

/// Approximate message counts of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// `ApproximateNumberOfMessages`: waiting to be received.
    pub(crate) visible: u64,
    /// `ApproximateNumberOfMessagesNotVisible`: received and not yet deleted or handed back.
    pub(crate) in_flight: u64,
    /// `ApproximateNumberOfMessagesDelayed`: sent with a delay that has not passed.
    pub(crate) delayed: u64,
}

impl Counts {
    /// Every message the queue holds, in any state.
    pub(crate) fn total(&self) -> u64 {
        self.visible + self.in_flight + self.delayed
    }

    fn from_attributes(attributes: &HashMap<QueueAttributeName, String>) -> Counts {
        let count = |name: QueueAttributeName| {
            attributes
                .get(&name)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Counts {
            visible: count(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            delayed: count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        }
    }
}

/// A queue's `RedrivePolicy` attribute: where messages go after too many receives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RedrivePolicy {
    /// `arn:PARTITION:sqs:REGION:ACCOUNT:NAME` of the dead-letter queue.
    pub(crate) dead_letter_target_arn: String,
    /// SQS writes it as a string, CloudFormation and some emulators as a number.
    #[serde(default, deserialize_with = "number_or_string")]
    pub(crate) max_receive_count: Option<u32>,
}

fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        N(u32),
        S(String),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        Some(Either::N(n)) => Some(n),
        Some(Either::S(s)) => s.trim().parse().ok(),
        None => None,
    })
}

/// What GetQueueAttributes says about a queue.
#[derive(Debug, Clone)]
pub(crate) struct QueueInfo {
    /// The queue URL asked about.
    pub(crate) url: String,
    /// `QueueArn`; StartMessageMoveTask names queues by ARN.
    pub(crate) arn: Option<String>,
    pub(crate) counts: Counts,
    /// `None` when the queue has no dead-letter queue.
    pub(crate) redrive_policy: Option<RedrivePolicy>,
}

/// A queue's dead-letter queue, found through its RedrivePolicy.
#[derive(Debug, Clone)]
pub(crate) struct DeadLetterQueue {
    /// The dead-letter queue, on the same client.
    pub(crate) queue: Queue,
    /// After how many receives SQS moves a message there.
    pub(crate) max_receive_count: Option<u32>,
}

impl Queue {
    /// Counts, ARN and RedrivePolicy of this queue. An unreadable RedrivePolicy is an error.
    pub(crate) async fn info(&self) -> Result<QueueInfo, SqsError> {
        const OPERATION: &str = "GetQueueAttributes";
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| self.error(OPERATION, e))?;
        let attributes = out.attributes.unwrap_or_default();
        let redrive_policy = match attributes.get(&QueueAttributeName::RedrivePolicy) {
            Some(text) if !text.trim().is_empty() => {
                Some(serde_json::from_str::<RedrivePolicy>(text).map_err(|err| {
                    SqsError::unusable(
                        OPERATION,
                        &self.url,
                        format!("RedrivePolicy is not valid: {err}"),
                    )
                })?)
            }
            _ => None,
        };
        Ok(QueueInfo {
            url: self.url.clone(),
            arn: attributes.get(&QueueAttributeName::QueueArn).cloned(),
            counts: Counts::from_attributes(&attributes),
            redrive_policy,
        })
    }

    /// Approximate visible, in-flight and delayed message counts; asks for nothing else.
    pub(crate) async fn depth(&self) -> Result<Counts, SqsError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| self.error("GetQueueAttributes", e))?;
        Ok(Counts::from_attributes(&out.attributes.unwrap_or_default()))
    }

    /// This queue's dead-letter queue, from its RedrivePolicy; `None` when it has none.
    pub(crate) async fn dead_letter_queue(&self) -> Result<Option<DeadLetterQueue>, SqsError> {
        let Some(policy) = self.info().await?.redrive_policy else {
            return Ok(None);
        };
        Ok(Some(DeadLetterQueue {
            queue: self.by_arn(&policy.dead_letter_target_arn).await?,
            max_receive_count: policy.max_receive_count,
        }))
    }

    /// The queue an ARN names (`arn:PARTITION:sqs:REGION:ACCOUNT:NAME`), on this queue's client.
    pub(crate) async fn by_arn(&self, arn: &str) -> Result<Queue, SqsError> {
        const OPERATION: &str = "GetQueueUrl";
        let (account, name) = split_queue_arn(arn)
            .ok_or_else(|| SqsError::unusable(OPERATION, arn, "not an SQS queue ARN"))?;
        let out = self
            .client
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(|e| SqsError::sdk(OPERATION, arn, e))?;
        let url = out
            .queue_url
            .ok_or_else(|| SqsError::unusable(OPERATION, arn, "answered without a URL"))?;
        Ok(self.at(url))
    }
}

/// The account and name of `arn:PARTITION:sqs:REGION:ACCOUNT:NAME`.
pub(crate) fn split_queue_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("sqs"), Some(_region), Some(account), Some(name)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (!account.is_empty() && !name.is_empty()).then_some((account, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_arns_split_into_account_and_name() {
        assert_eq!(
            split_queue_arn("arn:aws:sqs:eu-west-1:123456789012:failwatch-dlq"),
            Some(("123456789012", "failwatch-dlq"))
        );
        assert_eq!(
            split_queue_arn("arn:aws-cn:sqs:cn-north-1:123456789012:q.fifo"),
            Some(("123456789012", "q.fifo"))
        );
        assert_eq!(split_queue_arn("arn:aws:sns:eu-west-1:1:topic"), None);
        assert_eq!(split_queue_arn("arn:aws:sqs:eu-west-1::name"), None);
        assert_eq!(split_queue_arn("failwatch-dlq"), None);
    }

    #[test]
    fn redrive_policy_count_is_a_string_or_a_number() {
        let p: RedrivePolicy = serde_json::from_str(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:d","maxReceiveCount":"5"}"#,
        )
        .unwrap();
        assert_eq!(p.max_receive_count, Some(5));
        let p: RedrivePolicy = serde_json::from_str(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:d","maxReceiveCount":3}"#,
        )
        .unwrap();
        assert_eq!(p.max_receive_count, Some(3));
        assert_eq!(p.dead_letter_target_arn, "arn:aws:sqs:us-east-1:1:d");
    }

    /// The worker's and the operator commands' DLQ lookups are one now; this is the worker's old test.
    #[test]
    fn dead_letter_targets_are_parsed_from_the_redrive_policy() {
        let policy: RedrivePolicy = serde_json::from_str(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:123456789012:failwatch-dlq","maxReceiveCount":5}"#,
        )
        .unwrap();
        assert_eq!(
            split_queue_arn(&policy.dead_letter_target_arn),
            Some(("123456789012", "failwatch-dlq"))
        );
        assert!(serde_json::from_str::<RedrivePolicy>(r#"{"maxReceiveCount":5}"#).is_err());
        assert!(serde_json::from_str::<RedrivePolicy>("nonsense").is_err());
    }
}
