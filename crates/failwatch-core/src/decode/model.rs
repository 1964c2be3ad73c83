//! What every decoded event has, whatever its kind: where and when it happened ([`EventMeta`]) and
//! which body shape it came in ([`Shape`]); plus the event of a kind failwatch does not handle.
//!
//! Events are shape-independent: an ECS task arriving in an EventBridge envelope, wrapped in SNS, or as
//! a bare `detail` decodes to the same [`crate::EcsTaskEvent`]; [`EventMeta::shape`] records which it
//! was.

use time::OffsetDateTime;

/// Which of the accepted body shapes a message had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An EventBridge event, as EventBridge delivers it to SQS.
    EventBridge,
    /// A `detail` without its EventBridge envelope: `{"detail": {...}}` like the Google Chat seed's test
    /// message, or the detail itself, as a rule with input path `$.detail` sends it.
    BareDetail,
    /// A Step Functions `Catch` output, `{"Error": ..., "Cause": ...}`.
    CatchOutput,
    /// An Amazon Q Developer in chat applications (AWS Chatbot) custom notification.
    CustomNotification,
}

/// Envelope facts, filled from the ARNs when the envelope lacks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// The EventBridge event id; for envelope-less bodies the SNS or SQS message id, else a stable hash
    /// of the body.
    pub id: String,
    /// The event time; else when the task stopped; else when the message was received.
    pub time: OffsetDateTime,
    /// The AWS account id (12 digits), from the envelope or else the ARNs.
    pub account: Option<String>,
    /// The AWS region, e.g. `eu-west-1`, from the envelope or else the ARNs.
    pub region: Option<String>,
    /// `aws`, `aws-cn`, `aws-us-gov`, ... (from the ARNs or the region; `aws` when nothing says).
    pub partition: String,
    /// Which body shape the event came in.
    pub shape: Shape,
    /// The body was an SNS notification whose `Message` held the event.
    pub via_sns: bool,
}

/// A well-formed EventBridge event failwatch does not handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnhandledEvent {
    /// Where and when it happened.
    pub meta: EventMeta,
    /// The envelope's `source`, e.g. `aws.ecs`.
    pub source: Option<String>,
    /// The envelope's `detail-type`, e.g. `ECS Container Instance State Change`.
    pub detail_type: Option<String>,
}
