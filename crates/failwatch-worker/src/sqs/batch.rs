//! The calls that change messages — DeleteMessageBatch, ChangeMessageVisibility(Batch),
//! SendMessageBatch — and the one function that decides what SQS's per-entry answer to a batch call
//! means ([`batch_outcome`]).

use std::time::Duration;

use aws_sdk_sqs::error::BuildError;
use aws_sdk_sqs::operation::change_message_visibility_batch::ChangeMessageVisibilityBatchOutput;
use aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchOutput;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput;
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry,
    DeleteMessageBatchRequestEntry, MessageSystemAttributeNameForSends,
    MessageSystemAttributeValue, SendMessageBatchRequestEntry,
};

use super::receive::{Carried, Received};
use super::{MAX_BATCH, MAX_VISIBILITY, Queue, SqsError, clamp_i32};

/// The most bytes of bodies and attributes one SendMessageBatch call may carry, for every queue and
/// emulator (SQS has since raised its own limit; the old one is always safe).
pub(crate) const MAX_BATCH_BYTES: usize = 256 * 1024;
/// The code given to entries whose outcome SQS's answer does not state.
pub(crate) const UNREPORTED: &str = "Unreported";

/// One entry of a batch call that failed, or whose outcome SQS's answer did not make known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryFailure {
    /// Index into the entries passed in; always in range.
    pub(crate) index: usize,
    /// SQS's error code for the entry (or [`UNREPORTED`]).
    pub(crate) code: String,
    /// SQS's explanation, for people.
    pub(crate) message: String,
    /// Whether SQS blamed the request (retrying the same entry cannot help).
    pub(crate) sender_fault: bool,
}

/// The outcome of a batch call, entry by entry: every entry index appears in exactly one of the two
/// lists, each sorted ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BatchOutcome {
    /// Indices of the entries SQS confirmed.
    pub(crate) succeeded: Vec<usize>,
    /// The other entries, each with why.
    pub(crate) failed: Vec<EntryFailure>,
}

/// One message to send.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outgoing {
    /// The message body, sent as it is.
    pub(crate) body: String,
    /// Attributes and FIFO ids to send with it.
    pub(crate) carried: Carried,
}

impl Outgoing {
    /// The bytes SQS counts against a batch's size limit for this message: its body and each message
    /// attribute's name, data type and value.
    pub(crate) fn size(&self) -> usize {
        let attributes: usize = self
            .carried
            .attributes
            .iter()
            .map(|(name, value)| {
                name.len()
                    + value.data_type().len()
                    + value.string_value().map_or(0, str::len)
                    + value.binary_value().map_or(0, |b| b.as_ref().len())
            })
            .sum();
        self.body.len() + attributes
    }

    /// The same message again, body and attributes unchanged.
    pub(crate) fn from_received(message: &Received) -> Outgoing {
        Outgoing {
            body: message.body.clone(),
            carried: message.carried.clone(),
        }
    }
}

/// Splits `items` into runs for SendMessageBatch calls, in order: at most [`MAX_BATCH`] entries and
/// [`MAX_BATCH_BYTES`] (as `size` counts them) each. An item larger than the limit on its own gets a
/// run of its own, for SQS to refuse that entry alone.
pub(crate) fn split<T>(items: &[T], size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        let size = size(item);
        if i > start && (i - start == MAX_BATCH || bytes + size > MAX_BATCH_BYTES) {
            out.push(&items[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

impl BatchOutcome {
    /// Adds `other`, the outcome of entries that start at index `offset` of a longer list.
    pub(crate) fn extend(&mut self, other: BatchOutcome, offset: usize) {
        self.succeeded
            .extend(other.succeeded.into_iter().map(|i| i + offset));
        self.failed
            .extend(other.failed.into_iter().map(|failure| EntryFailure {
                index: failure.index + offset,
                ..failure
            }));
    }
}

impl Queue {
    /// Deletes up to 10 messages by receipt handle; the outcome says which deletes SQS confirmed.
    pub(crate) async fn delete_batch(
        &self,
        receipt_handles: &[&str],
    ) -> Result<BatchOutcome, SqsError> {
        const OPERATION: &str = "DeleteMessageBatch";
        let entries = delete_entries(receipt_handles);
        self.batch_call(OPERATION, receipt_handles.len(), entries, |entries| {
            let call = self.client.delete_message_batch().queue_url(&self.url);
            async move {
                let sent = call.set_entries(Some(entries)).send().await;
                sent.map_err(|e| self.error(OPERATION, e))
            }
        })
        .await
    }

    /// Makes one message visible again after `visibility` (zero: at once; capped at 12 hours).
    pub(crate) async fn change_visibility(
        &self,
        receipt_handle: &str,
        visibility: Duration,
    ) -> Result<(), SqsError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(clamp_i32(visibility.min(MAX_VISIBILITY).as_secs()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.error("ChangeMessageVisibility", e))
    }

    /// Changes the visibility of up to 10 messages at once, each to its own timeout.
    pub(crate) async fn change_visibility_batch(
        &self,
        entries: &[(&str, Duration)],
    ) -> Result<BatchOutcome, SqsError> {
        const OPERATION: &str = "ChangeMessageVisibilityBatch";
        let batch = visibility_entries(entries.iter().copied());
        self.batch_call(OPERATION, entries.len(), batch, |batch| {
            let call = self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.url);
            async move {
                let sent = call.set_entries(Some(batch)).send().await;
                sent.map_err(|e| self.error(OPERATION, e))
            }
        })
        .await
    }

    /// Sends up to 10 messages in one call; the outcome says which entries SQS accepted.
    pub(crate) async fn send_batch(&self, messages: &[Outgoing]) -> Result<BatchOutcome, SqsError> {
        const OPERATION: &str = "SendMessageBatch";
        let entries = messages
            .iter()
            .enumerate()
            .map(|(i, m)| send_entry(i, m))
            .collect::<Result<Vec<_>, _>>();
        self.batch_call(OPERATION, messages.len(), entries, |entries| {
            let call = self.client.send_message_batch().queue_url(&self.url);
            async move {
                let sent = call.set_entries(Some(entries)).send().await;
                sent.map_err(|e| self.error(OPERATION, e))
            }
        })
        .await
    }

    /// What every batch call shares: nothing to do for no entries, a request that cannot be built is an
    /// error, and SQS's answer is mapped entry by entry ([`batch_outcome`]).
    async fn batch_call<E, A, Fut>(
        &self,
        operation: &'static str,
        count: usize,
        entries: Result<Vec<E>, BuildError>,
        send: impl FnOnce(Vec<E>) -> Fut,
    ) -> Result<BatchOutcome, SqsError>
    where
        A: BatchAnswer,
        Fut: Future<Output = Result<A, SqsError>>,
    {
        if count == 0 {
            return Ok(BatchOutcome::default());
        }
        let entries = entries.map_err(|e| SqsError::build(operation, &self.url, e))?;
        let answer = send(entries).await?;
        Ok(batch_outcome(
            count,
            answer.successful_ids(),
            answer.failed(),
        ))
    }
}

/// SQS's answer to a batch call, entry by entry.
trait BatchAnswer {
    /// The ids of the entries SQS reports as done.
    fn successful_ids(&self) -> Vec<&str>;
    /// The entries SQS reports as failed.
    fn failed(&self) -> &[BatchResultErrorEntry];
}

impl BatchAnswer for DeleteMessageBatchOutput {
    fn successful_ids(&self) -> Vec<&str> {
        self.successful.iter().map(|e| e.id.as_str()).collect()
    }
    fn failed(&self) -> &[BatchResultErrorEntry] {
        &self.failed
    }
}

impl BatchAnswer for ChangeMessageVisibilityBatchOutput {
    fn successful_ids(&self) -> Vec<&str> {
        self.successful.iter().map(|e| e.id.as_str()).collect()
    }
    fn failed(&self) -> &[BatchResultErrorEntry] {
        &self.failed
    }
}

impl BatchAnswer for SendMessageBatchOutput {
    fn successful_ids(&self) -> Vec<&str> {
        self.successful.iter().map(|e| e.id.as_str()).collect()
    }
    fn failed(&self) -> &[BatchResultErrorEntry] {
        &self.failed
    }
}

/// DeleteMessageBatch entries for `receipt_handles`, each entry's id its index, which
/// [`batch_outcome`] maps back.
fn delete_entries(
    receipt_handles: &[&str],
) -> Result<Vec<DeleteMessageBatchRequestEntry>, BuildError> {
    receipt_handles
        .iter()
        .enumerate()
        .map(|(i, handle)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(*handle)
                .build()
        })
        .collect()
}

/// ChangeMessageVisibilityBatch entries, each id its index, each visibility capped at SQS's maximum.
fn visibility_entries<'a>(
    entries: impl IntoIterator<Item = (&'a str, Duration)>,
) -> Result<Vec<ChangeMessageVisibilityBatchRequestEntry>, BuildError> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, (handle, visibility))| {
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(handle)
                .visibility_timeout(clamp_i32(visibility.min(MAX_VISIBILITY).as_secs()))
                .build()
        })
        .collect()
}

/// The SendMessageBatch entry for message `index`, its id the index.
fn send_entry(index: usize, m: &Outgoing) -> Result<SendMessageBatchRequestEntry, BuildError> {
    let carried = &m.carried;
    let mut entry = SendMessageBatchRequestEntry::builder()
        .id(index.to_string())
        .message_body(&m.body)
        .set_message_attributes(
            (!carried.attributes.is_empty()).then(|| carried.attributes.clone()),
        )
        .set_message_group_id(carried.group_id.clone())
        .set_message_deduplication_id(carried.deduplication_id.clone());
    if let Some(header) = &carried.trace_header {
        let trace = MessageSystemAttributeValue::builder()
            .data_type("String")
            .string_value(header)
            .build()?;
        entry = entry
            .message_system_attributes(MessageSystemAttributeNameForSends::AwsTraceHeader, trace);
    }
    entry.build()
}

/// Maps SQS's answer to a batch call back onto the `count` entries sent, whose ids were their indices
/// (`"0"`, `"1"`, ...).
///
/// An entry succeeded only when SQS listed its id as successful and not also as failed. A failure whose
/// id is unparseable, out of range or otherwise not one of ours cannot be pinned on one entry, so it is
/// charged to every entry SQS did not explicitly report as successful; an entry the answer does not
/// mention at all fails with the code [`UNREPORTED`]. A refused delete or send must never be counted as
/// done: the cost of a false failure is one more delivery attempt, the cost of a false success is a
/// lost or silently duplicated message.
pub(crate) fn batch_outcome<'a>(
    count: usize,
    successful_ids: impl IntoIterator<Item = &'a str>,
    failed: &[BatchResultErrorEntry],
) -> BatchOutcome {
    let index_of = |id: &str| id.parse::<usize>().ok().filter(|&i| i < count);
    let mut failures: Vec<Option<EntryFailure>> = vec![None; count];
    let mut unattributed: Option<&BatchResultErrorEntry> = None;
    for entry in failed {
        match index_of(entry.id()) {
            // The first report of an id wins; a duplicate adds nothing.
            Some(index) => {
                failures[index].get_or_insert_with(|| EntryFailure {
                    index,
                    code: entry.code().to_owned(),
                    message: entry.message().unwrap_or_default().to_owned(),
                    sender_fault: entry.sender_fault(),
                });
            }
            None => {
                unattributed.get_or_insert(entry);
            }
        }
    }
    let mut reported_ok = vec![false; count];
    for index in successful_ids.into_iter().filter_map(index_of) {
        reported_ok[index] = true;
    }
    let mut outcome = BatchOutcome::default();
    for (index, (failure, ok)) in failures.into_iter().zip(reported_ok).enumerate() {
        match (failure, ok) {
            (Some(failure), _) => outcome.failed.push(failure),
            (None, true) => outcome.succeeded.push(index),
            (None, false) => outcome.failed.push(unconfirmed(index, unattributed)),
        }
    }
    outcome
}

/// The failure of an entry SQS neither confirmed nor refused by id: charged with the unattributed
/// failure when there is one, else [`UNREPORTED`].
fn unconfirmed(index: usize, unattributed: Option<&BatchResultErrorEntry>) -> EntryFailure {
    match unattributed {
        Some(entry) => EntryFailure {
            index,
            code: entry.code().to_owned(),
            message: format!(
                "{} (reported for unknown entry id {:?}; charged to every entry SQS did not confirm)",
                entry.message().unwrap_or_default(),
                entry.id()
            ),
            sender_fault: entry.sender_fault(),
        },
        None => EntryFailure {
            index,
            code: UNREPORTED.to_owned(),
            message: "SQS's answer reported neither success nor failure for this entry".to_owned(),
            sender_fault: false,
        },
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
