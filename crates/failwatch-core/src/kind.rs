//! The event kinds failwatch handles, one module each, and the registry that lists them.
//!
//! A kind's module owns everything about it: its wire types and the decoded event, how that event is
//! classified (alert or silent, severity, failure class), the summary facts, title, console links and
//! dedup/group keys of its alert. The body shapes (EventBridge, SNS envelope, bare detail, Step
//! Functions `Catch` output, custom notification) stay in [`mod@crate::decode`], which hands each
//! EventBridge event to the kind its `(source, detail-type)` names.
//!
//! The `kinds!` list below is the registry: it declares [`AlertKind`] (whose names are the module
//! names, as used in the alert document, routes and metric labels), [`Event`] and, for the kinds that
//! arrive as EventBridge events, [`EventBridgeKind`]; and it dispatches decoding and classification.
//! Every kind module provides:
//!
//! - `LABEL`: what failed, in words, for headings ("ECS task");
//! - `fn classify(&TheEvent) -> Decision`, where the event's `meta` field holds the [`EventMeta`].
//!
//! A kind listed under `eventbridge` also provides:
//!
//! - `SOURCE` and `DETAIL_TYPE`: the EventBridge `source` and `detail-type` it decodes;
//! - `Wire`: its `detail` as written (a `Deserialize` type), which the registry reads ([`WireDetail`]);
//! - `fn decode(Wire, Detail<'_>) -> Result<TheEvent, DecodeError>`: builds the event from the read
//!   detail and the rest of the event (`Detail::meta` for the facts).
//!
//! A kind listed under `other` is no EventBridge event (a custom notification): [`mod@crate::decode`]
//! recognises its body shape and calls the module's own decoder.

pub(crate) mod custom_notification;
pub(crate) mod ecs_deployment;
pub(crate) mod ecs_service;
pub(crate) mod ecs_task;
pub(crate) mod sfn_execution;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::classify::{Decision, SilentReason};
use crate::decode::{DecodeError, Detail, DetailValue, EventMeta, UnhandledEvent};

/// Declares the kinds: one line per kind, `Variant(EventType) => module`, EventBridge kinds first.
macro_rules! kinds {
    (
        eventbridge { $( $(#[$doc:meta])* $variant:ident($event:ty) => $module:ident, )+ }
        other { $( $(#[$odoc:meta])* $ovariant:ident($oevent:ty) => $omodule:ident, )* }
    ) => {
        /// What kind of AWS resource failed. Serialised as its snake_case name ([`AlertKind::as_str`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum AlertKind {
            $( $(#[$doc])* $variant, )+
            $( $(#[$odoc])* $ovariant, )*
        }

        impl AlertKind {
            /// Every kind, in registry order: the names routes are checked against and metrics label.
            pub const ALL: [AlertKind; [$(stringify!($variant),)+ $(stringify!($ovariant),)*].len()] =
                [$(AlertKind::$variant,)+ $(AlertKind::$ovariant,)*];

            /// The stable snake_case name, as used in the JSON document, routes and metric labels: the
            /// kind's module name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( AlertKind::$variant => stringify!($module), )+
                    $( AlertKind::$ovariant => stringify!($omodule), )*
                }
            }

            /// What failed, in words, e.g. "ECS task"; chat headings show it.
            pub fn label(self) -> &'static str {
                match self {
                    $( AlertKind::$variant => $module::LABEL, )+
                    $( AlertKind::$ovariant => $omodule::LABEL, )*
                }
            }
        }

        /// The kinds that arrive as EventBridge events, each found by its `source` and `detail-type`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum EventBridgeKind {
            $( $variant, )+
        }

        impl EventBridgeKind {
            /// Every EventBridge kind, in registry order.
            #[cfg(test)]
            pub(crate) const ALL: [EventBridgeKind; [$(stringify!($variant)),+].len()] =
                [$(EventBridgeKind::$variant),+];

            /// The kind of an EventBridge event, by its `source` and `detail-type`; `None` for events
            /// failwatch does not handle.
            pub(crate) fn of_event(source: Option<&str>, detail_type: Option<&str>) -> Option<Self> {
                let (source, detail_type) = (source?, detail_type?);
                $(
                    if source == $module::SOURCE && detail_type == $module::DETAIL_TYPE {
                        return Some(EventBridgeKind::$variant);
                    }
                )+
                None
            }

            /// The alert kind these events produce.
            #[cfg(test)]
            pub(crate) fn kind(self) -> AlertKind {
                match self {
                    $( EventBridgeKind::$variant => AlertKind::$variant, )+
                }
            }

            /// The EventBridge `source` of this kind, e.g. `aws.ecs`.
            #[cfg(test)]
            pub(crate) fn source(self) -> &'static str {
                match self {
                    $( EventBridgeKind::$variant => $module::SOURCE, )+
                }
            }

            /// The EventBridge `detail-type` of this kind; decode errors name the event by it.
            pub(crate) fn detail_type(self) -> &'static str {
                match self {
                    $( EventBridgeKind::$variant => $module::DETAIL_TYPE, )+
                }
            }
        }

        /// A decoded AWS event: one variant per kind, plus the events failwatch does not handle.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Event {
            $( $(#[$doc])* $variant($event), )+
            $( $(#[$odoc])* $ovariant($oevent), )*
            /// A well-formed EventBridge event of a source or detail-type failwatch does not handle.
            Unhandled(UnhandledEvent),
        }

        impl Event {
            /// The alert kind this event would produce, also for silent events (metric labels); `None`
            /// for events failwatch does not handle.
            pub fn kind(&self) -> Option<AlertKind> {
                match self {
                    $( Event::$variant(_) => Some(AlertKind::$variant), )+
                    $( Event::$ovariant(_) => Some(AlertKind::$ovariant), )*
                    Event::Unhandled(_) => None,
                }
            }

            /// Where and when the event happened.
            pub fn meta(&self) -> &EventMeta {
                match self {
                    $( Event::$variant(e) => &e.meta, )+
                    $( Event::$ovariant(e) => &e.meta, )*
                    Event::Unhandled(e) => &e.meta,
                }
            }
        }

        /// The `detail` of an EventBridge event of a handled kind, read into its module's `Wire` type.
        pub(crate) enum WireDetail {
            $( $variant($module::Wire), )+
        }

        impl WireDetail {
            /// Reads the detail of a `kind` event straight from the body's deserializer (`None` for
            /// `null`), so that the detail is scanned once.
            pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
                kind: EventBridgeKind,
                deserializer: D,
            ) -> Result<Option<Self>, D::Error> {
                Ok(match kind {
                    $( EventBridgeKind::$variant => Option::<$module::Wire>::deserialize(deserializer)?
                        .map(WireDetail::$variant), )+
                })
            }

            /// Reads a detail kept as raw JSON text; a type error names the kind's detail-type.
            fn from_raw(kind: EventBridgeKind, raw: &RawValue) -> Result<Self, DecodeError> {
                match kind {
                    $( EventBridgeKind::$variant => serde_json::from_str(raw.get())
                        .map(WireDetail::$variant), )+
                }
                .map_err(|source| DecodeError::Malformed {
                    what: kind.detail_type(),
                    source: source.into(),
                })
            }
        }

        /// Decodes an EventBridge event of `kind` from its detail (read, or still raw) and the rest of
        /// the event.
        pub(crate) fn decode(
            kind: EventBridgeKind,
            detail: DetailValue<'_>,
            input: Detail<'_>,
        ) -> Result<Event, DecodeError> {
            let wire = match detail {
                DetailValue::Read(wire) => wire,
                DetailValue::Raw(raw) => WireDetail::from_raw(kind, raw)?,
            };
            match wire {
                $( WireDetail::$variant(wire) => $module::decode(wire, input).map(Event::$variant), )+
            }
        }

        /// Classifies one event with its kind's rules; events failwatch does not handle are silent.
        pub(crate) fn classify(event: &Event) -> Decision {
            match event {
                $( Event::$variant(e) => $module::classify(e), )+
                $( Event::$ovariant(e) => $omodule::classify(e), )*
                Event::Unhandled(UnhandledEvent {
                    source,
                    detail_type,
                    ..
                }) => Decision::Silent(SilentReason::Unhandled {
                    source: source.clone(),
                    detail_type: detail_type.clone(),
                }),
            }
        }
    };
}

kinds! {
    eventbridge {
        /// `aws.ecs` / `ECS Task State Change`, or a bare `{"detail": {...}}` with task fields.
        EcsTask(ecs_task::EcsTaskEvent) => ecs_task,
        /// `aws.ecs` / `ECS Deployment State Change`.
        EcsDeployment(ecs_deployment::EcsDeploymentEvent) => ecs_deployment,
        /// `aws.ecs` / `ECS Service Action`.
        EcsService(ecs_service::EcsServiceEvent) => ecs_service,
        /// `aws.states` / `Step Functions Execution Status Change`, also as a bare detail (SNS-wrapped
        /// or not), or a Step Functions `Catch` output.
        SfnExecution(sfn_execution::SfnExecutionEvent) => sfn_execution,
    }
    other {
        /// An Amazon Q Developer in chat applications (AWS Chatbot) custom notification, passed through.
        CustomNotification(custom_notification::CustomNotificationEvent) => custom_notification,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_serialises_as_its_name_and_is_found_by_its_detail_type() {
        for kind in AlertKind::ALL {
            let json = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert!(!kind.label().is_empty());
        }
        for kind in EventBridgeKind::ALL {
            assert_eq!(
                EventBridgeKind::of_event(Some(kind.source()), Some(kind.detail_type())),
                Some(kind),
                "{kind:?} is not found by its source and detail-type"
            );
            assert!(AlertKind::ALL.contains(&kind.kind()));
        }
        // A kind that is no EventBridge event is never found by one.
        assert_eq!(
            EventBridgeKind::of_event(Some("custom"), Some("custom")),
            None
        );
    }
}
