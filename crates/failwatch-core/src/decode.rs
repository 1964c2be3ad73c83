//! Decoding an SQS message body into an [`Event`]. (Being written: see issue "failwatch core".)

use time::OffsetDateTime;

/// What the caller knows about a message beyond its body. Bodies with no envelope (a bare `detail`, a
/// Step Functions `Catch` output) take their id and time from here.
#[derive(Debug, Clone)]
pub struct DecodeContext {
    /// The SQS message id, when the body came from SQS.
    pub message_id: Option<String>,
    /// When the message was sent to or received from the queue; the fallback event time.
    pub received_at: OffsetDateTime,
}

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("body is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
}

/// A decoded AWS event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {}

/// Decodes one SQS message body.
pub fn decode(body: &str, _ctx: &DecodeContext) -> Result<Event, DecodeError> {
    match serde_json::from_str::<serde_json::Value>(body) {
        Err(e) => Err(DecodeError::NotJson(e)),
        Ok(_) => unimplemented!("decode is being written"),
    }
}
