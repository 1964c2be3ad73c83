//! Deciding whether an event alerts. (Being written.)

use crate::{Alert, Event};

/// The outcome of classifying one event.
#[derive(Debug, Clone)]
pub enum Decision {
    Alert(Box<Alert>),
    Silent(SilentReason),
}

/// Why an event deliberately produced no alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilentReason(pub String);

/// Classifies one event.
pub fn classify(event: &Event) -> Decision {
    match *event {}
}
