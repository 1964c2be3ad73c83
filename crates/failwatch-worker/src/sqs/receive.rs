//! ReceiveMessage: the worker's long poll and the operator commands' scans, one call and one message
//! type. The worker asks only for what it uses (receive count, sent time); a redrive asks for
//! everything a copy of the message must carry over.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName};
use time::OffsetDateTime;

use super::{CONNECT_TIMEOUT, MAX_BATCH, Queue, SqsError, clamp_i32};

/// A ReceiveMessage with `WaitTimeSeconds` 20 legitimately takes 20 s; the attempt timeout must be well
/// above the wait, and still end a call that hangs on a dead connection.
const ATTEMPT_TIMEOUT_MARGIN: Duration = Duration::from_secs(15);
/// The longest long-poll wait SQS accepts.
const MAX_WAIT: Duration = Duration::from_secs(20);

/// One received message.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// SQS's id of the message, the same on every receive.
    pub(crate) message_id: String,
    /// The handle of this receive, needed to delete the message or change its visibility.
    pub(crate) receipt_handle: String,
    /// The body as sent.
    pub(crate) body: String,
    /// `ApproximateReceiveCount`: 1 on first delivery (and when SQS leaves it out).
    pub(crate) receive_count: u32,
    /// `SentTimestamp`: when the message entered the queue.
    pub(crate) sent_at: Option<OffsetDateTime>,
    /// What a copy must carry over; empty unless received with [`Queue::receive_whole`].
    pub(crate) carried: Carried,
}

/// Everything besides its body that a copy of a message must carry to be the same message.
#[derive(Debug, Clone, Default)]
pub(crate) struct Carried {
    /// The sender's message attributes, unchanged.
    pub(crate) attributes: HashMap<String, MessageAttributeValue>,
    /// X-Ray's trace header, the one system attribute a sender may set.
    pub(crate) trace_header: Option<String>,
    /// FIFO queues only.
    pub(crate) group_id: Option<String>,
    /// FIFO queues only.
    pub(crate) deduplication_id: Option<String>,
}

/// Which attributes a receive asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// The receive count and sent time: what the worker uses.
    Lean,
    /// Every system and message attribute.
    Whole,
}

impl Queue {
    /// Receives up to `max` (1..=10) messages, waiting up to `wait` (at most 20 s) for the first, and
    /// makes them invisible for `visibility`. Only the receive count and sent time are asked for.
    pub(crate) async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, SqsError> {
        self.receive_asking(max, wait, visibility, Asked::Lean)
            .await
    }

    /// As [`Queue::receive`], with every attribute a copy of each message must carry ([`Carried`]).
    pub(crate) async fn receive_whole(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, SqsError> {
        self.receive_asking(max, wait, visibility, Asked::Whole)
            .await
    }

    async fn receive_asking(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
        asked: Asked,
    ) -> Result<Vec<Received>, SqsError> {
        let wait = wait.min(MAX_WAIT);
        let mut request = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(clamp_i32(max.clamp(1, MAX_BATCH)))
            .wait_time_seconds(clamp_i32(wait.as_secs()))
            .visibility_timeout(clamp_i32(visibility.as_secs()));
        request = match asked {
            Asked::Lean => request
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp),
            Asked::Whole => request
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All"),
        };
        let out = request
            .customize()
            .config_override(
                aws_sdk_sqs::config::Builder::new().timeout_config(long_poll_timeouts(wait)),
            )
            .send()
            .await
            .map_err(|e| self.error("ReceiveMessage", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(received)
            .collect())
    }
}

/// A receive's own timeouts, layered over the client's: an attempt may last the whole wait plus a
/// margin, and the short calls' overall bound does not apply (it is shorter than a long poll). The
/// connect timeout is the client's.
pub(super) fn long_poll_timeouts(wait: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(wait + ATTEMPT_TIMEOUT_MARGIN)
        .disable_operation_timeout()
        .build()
}

/// One SQS message as the rest of the code sees it; `None` without an id or receipt handle (SQS always
/// sends both).
fn received(m: Message) -> Option<Received> {
    let mut system = m.attributes.unwrap_or_default();
    let mut take = |name: MessageSystemAttributeName| system.remove(&name);
    Some(Received {
        message_id: m.message_id?,
        receipt_handle: m.receipt_handle?,
        body: m.body.unwrap_or_default(),
        receive_count: take(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
        sent_at: take(MessageSystemAttributeName::SentTimestamp)
            .and_then(|v| v.parse::<i128>().ok())
            .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok()),
        carried: Carried {
            trace_header: take(MessageSystemAttributeName::AwsTraceHeader),
            group_id: take(MessageSystemAttributeName::MessageGroupId),
            deduplication_id: take(MessageSystemAttributeName::MessageDeduplicationId),
            attributes: m.message_attributes.unwrap_or_default(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_their_counts_times_and_carried_attributes() {
        let message = Message::builder()
            .message_id("m-1")
            .receipt_handle("h-1")
            .body("{}")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "3")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1800000000123")
            .attributes(MessageSystemAttributeName::AwsTraceHeader, "Root=1-abc")
            .message_attributes(
                "origin",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("test")
                    .build()
                    .unwrap(),
            )
            .build();
        let r = received(message).unwrap();
        assert_eq!(
            (r.message_id.as_str(), r.receipt_handle.as_str()),
            ("m-1", "h-1")
        );
        assert_eq!(r.receive_count, 3);
        assert_eq!(
            r.sent_at.map(OffsetDateTime::unix_timestamp_nanos),
            Some(1_800_000_000_123_000_000)
        );
        assert_eq!(r.carried.trace_header.as_deref(), Some("Root=1-abc"));
        assert_eq!(r.carried.attributes.len(), 1);
        assert_eq!(r.carried.group_id, None);

        let bare = received(
            Message::builder()
                .message_id("m")
                .receipt_handle("h")
                .build(),
        )
        .unwrap();
        assert_eq!(
            bare.receive_count, 1,
            "a missing count means a first delivery"
        );
        assert!(received(Message::builder().message_id("m").build()).is_none());
    }
}
