//! The failed state of a Step Functions execution, from `GetExecutionHistory` read newest first
//! (`reverseOrder=true`) a bounded number of pages at a time.
//!
//! Every history event names the event before it (`previousEventId`), so the state that failed is found
//! by walking back from the failure: from the newest task failure (`TaskFailed`, `TaskTimedOut`,
//! `ActivityFailed`, `LambdaFunctionFailed`, ...) when there is one, else from `ExecutionFailed` (a
//! `Fail` state, or a `Map` or `Parallel` state that failed), to the `*StateEntered` event it belongs
//! to, which names the state and its type; the `*Scheduled` event passed on the way names the task's
//! resource — and, for a Lambda task, the function: the ARN of a `LambdaFunctionScheduled`, or the
//! `FunctionName` of a `lambda:invoke` task's parameters when the history includes them.

use std::collections::HashMap;

use aws_sdk_sfn::types::HistoryEvent as SdkEvent;
use failwatch_core::{FailedState, LambdaFunction};
use serde::Deserialize;

use super::EnrichError;
use super::clients::Regional;

/// Events per page: one page of a failed execution's newest events almost always holds the failure
/// and the state it happened in.
const PAGE_SIZE: i32 = 200;
/// Pages read at most, so a huge `Map` run cannot make the lookup unbounded.
const MAX_PAGES: usize = 3;
/// The longest `previousEventId` chain followed from a failure to its state.
const MAX_HOPS: usize = 64;

/// One history event, with only what finding the failed state needs. The field names are the wire's,
/// so a `GetExecutionHistory` answer (`{"events": [...]}`) deserialises straight into [`History`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HistoryEvent {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) id: i64,
    #[serde(default)]
    pub(crate) previous_event_id: i64,
    /// The state's name, from `stateEnteredEventDetails`.
    #[serde(default, rename = "stateEnteredEventDetails")]
    pub(crate) entered: Option<Named>,
    /// The task's resource, from `taskScheduledEventDetails`.
    #[serde(default, rename = "taskScheduledEventDetails")]
    pub(crate) task: Option<TaskScheduled>,
    /// An activity's ARN, from `activityScheduledEventDetails`.
    #[serde(default, rename = "activityScheduledEventDetails")]
    pub(crate) activity: Option<Resource>,
    /// A Lambda function's ARN, from `lambdaFunctionScheduledEventDetails`.
    #[serde(default, rename = "lambdaFunctionScheduledEventDetails")]
    pub(crate) lambda: Option<Resource>,
}

/// `stateEnteredEventDetails`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct Named {
    pub(crate) name: String,
}

/// `taskScheduledEventDetails`: `resourceType` (`ecs`, `lambda`, ...) and `resource` (`runTask.sync`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskScheduled {
    pub(crate) resource_type: String,
    pub(crate) resource: String,
    /// The task's parameters as JSON text (a `lambda:invoke` task's `FunctionName` is there).
    #[serde(default)]
    pub(crate) parameters: Option<String>,
}

/// What the history says about the failure: the state, and the Lambda function when a Lambda task
/// failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failed {
    pub(crate) state: FailedState,
    pub(crate) function: Option<LambdaFunction>,
}

/// `activityScheduledEventDetails` and `lambdaFunctionScheduledEventDetails`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct Resource {
    pub(crate) resource: String,
}

/// A `GetExecutionHistory` answer as JSON (the tests' samples).
#[cfg(test)]
#[derive(Debug, Deserialize)]
pub(crate) struct History {
    pub(crate) events: Vec<HistoryEvent>,
}

impl HistoryEvent {
    fn from_sdk(event: &SdkEvent) -> Self {
        HistoryEvent {
            kind: event.r#type().as_str().to_owned(),
            id: event.id(),
            previous_event_id: event.previous_event_id(),
            entered: event.state_entered_event_details().map(|d| Named {
                name: d.name().to_owned(),
            }),
            task: event.task_scheduled_event_details().map(|d| TaskScheduled {
                resource_type: d.resource_type().to_owned(),
                resource: d.resource().to_owned(),
                parameters: Some(d.parameters().to_owned()).filter(|p| !p.is_empty()),
            }),
            activity: event.activity_scheduled_event_details().map(|d| Resource {
                resource: d.resource().to_owned(),
            }),
            lambda: event
                .lambda_function_scheduled_event_details()
                .map(|d| Resource {
                    resource: d.resource().to_owned(),
                }),
        }
    }

    /// Whether this event is a task, activity or Lambda function failing or timing out.
    fn is_task_failure(&self) -> bool {
        ["Task", "Activity", "LambdaFunction"]
            .iter()
            .any(|p| self.kind.starts_with(p))
            && (self.kind.ends_with("Failed") || self.kind.ends_with("TimedOut"))
    }

    fn is_execution_end(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted"
        )
    }

    /// The state's type when this is a `*StateEntered` event (`TaskStateEntered` → `Task`).
    fn entered_type(&self) -> Option<&str> {
        self.kind.strip_suffix("StateEntered")
    }

    /// The resource a `*Scheduled` event names, as the state machine definition writes it.
    fn resource(&self, partition: &str) -> Option<String> {
        if let Some(task) = &self.task {
            return Some(format!(
                "arn:{partition}:states:::{}:{}",
                task.resource_type, task.resource
            ));
        }
        self.activity
            .as_ref()
            .or(self.lambda.as_ref())
            .map(|r| r.resource.clone())
    }

    /// The Lambda function a `*Scheduled` event names.
    fn function(&self) -> Option<LambdaFunction> {
        if let Some(lambda) = &self.lambda {
            return LambdaFunction::parse(&lambda.resource);
        }
        let task = self.task.as_ref().filter(|t| t.resource_type == "lambda")?;
        let parameters: serde_json::Value =
            serde_json::from_str(task.parameters.as_deref()?).ok()?;
        LambdaFunction::parse(parameters.get("FunctionName")?.as_str()?)
    }
}

/// The state that failed, from events read newest first; `None` when they do not reach it.
pub(crate) fn failed_state(events: &[HistoryEvent], partition: &str) -> Option<Failed> {
    let by_id: HashMap<i64, &HistoryEvent> = events.iter().map(|e| (e.id, e)).collect();
    let start = events
        .iter()
        .find(|e| e.is_task_failure())
        .or_else(|| events.iter().find(|e| e.is_execution_end()))?;
    let (mut resource, mut function) = (None, None);
    let mut current = start;
    for _ in 0..MAX_HOPS {
        if resource.is_none() {
            resource = current.resource(partition);
            function = current.function();
        }
        if let (Some(state_type), Some(entered)) = (current.entered_type(), &current.entered) {
            return Some(Failed {
                state: FailedState {
                    name: entered.name.clone(),
                    state_type: state_type.to_owned(),
                    resource,
                },
                function,
            });
        }
        current = by_id.get(&current.previous_event_id)?;
    }
    None
}

/// Reads the execution's history newest first, page by page (at most [`MAX_PAGES`]), until the failed
/// state is found.
pub(crate) async fn lookup(
    regional: &Regional,
    execution_arn: &str,
    partition: &str,
) -> Result<Option<Failed>, EnrichError> {
    let mut events = Vec::new();
    let mut token = None;
    for _ in 0..MAX_PAGES {
        let page = regional
            .sfn
            .get_execution_history()
            .execution_arn(execution_arn)
            .reverse_order(true)
            .max_results(PAGE_SIZE)
            .include_execution_data(false)
            .set_next_token(token)
            .send()
            .await
            .map_err(|err| EnrichError::aws("GetExecutionHistory", err))?;
        events.extend(page.events().iter().map(HistoryEvent::from_sdk));
        if let Some(found) = failed_state(&events, partition) {
            return Ok(Some(found));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newest_first(json: &str) -> Vec<HistoryEvent> {
        let mut events = serde_json::from_str::<History>(json).unwrap().events;
        events.sort_by_key(|e| std::cmp::Reverse(e.id));
        events
    }

    /// An `ecs:runTask.sync` state that failed after its retry, as GetExecutionHistory reports it.
    const RUN_TASK: &str = r#"{"events": [
      {"timestamp": 1763683200.0, "type": "ExecutionStarted", "id": 1, "previousEventId": 0,
       "executionStartedEventDetails": {"input": "{}", "roleArn": "arn:aws:iam::123456789012:role/sfn"}},
      {"timestamp": 1763683200.1, "type": "PassStateEntered", "id": 2, "previousEventId": 0,
       "stateEnteredEventDetails": {"name": "Prepare", "input": "{}"}},
      {"timestamp": 1763683200.2, "type": "PassStateExited", "id": 3, "previousEventId": 2,
       "stateExitedEventDetails": {"name": "Prepare", "output": "{}"}},
      {"timestamp": 1763683200.3, "type": "TaskStateEntered", "id": 4, "previousEventId": 3,
       "stateEnteredEventDetails": {"name": "RunReport", "input": "{}"}},
      {"timestamp": 1763683200.4, "type": "TaskScheduled", "id": 5, "previousEventId": 4,
       "taskScheduledEventDetails": {"resourceType": "ecs", "resource": "runTask.sync",
         "region": "eu-west-1", "parameters": "{}"}},
      {"timestamp": 1763683200.5, "type": "TaskStarted", "id": 6, "previousEventId": 5,
       "taskStartedEventDetails": {"resourceType": "ecs", "resource": "runTask.sync"}},
      {"timestamp": 1763683201.0, "type": "TaskSubmitted", "id": 7, "previousEventId": 6,
       "taskSubmittedEventDetails": {"resourceType": "ecs", "resource": "runTask.sync", "output": "{}"}},
      {"timestamp": 1763683260.0, "type": "TaskFailed", "id": 8, "previousEventId": 7,
       "taskFailedEventDetails": {"resourceType": "ecs", "resource": "runTask.sync",
         "error": "States.TaskFailed", "cause": "{}"}},
      {"timestamp": 1763683260.1, "type": "ExecutionFailed", "id": 9, "previousEventId": 8,
       "executionFailedEventDetails": {"error": "States.TaskFailed", "cause": "{}"}}
    ]}"#;

    #[test]
    fn a_failed_task_names_its_state_type_and_resource() {
        assert_eq!(
            failed_state(&newest_first(RUN_TASK), "aws").map(|f| f.state),
            Some(FailedState {
                name: "RunReport".into(),
                state_type: "Task".into(),
                resource: Some("arn:aws:states:::ecs:runTask.sync".into()),
            })
        );
    }

    #[test]
    fn a_fail_state_is_found_from_execution_failed() {
        let json = r#"{"events": [
          {"type": "ExecutionStarted", "id": 1, "previousEventId": 0},
          {"type": "ChoiceStateEntered", "id": 2, "previousEventId": 1,
           "stateEnteredEventDetails": {"name": "Check"}},
          {"type": "ChoiceStateExited", "id": 3, "previousEventId": 2,
           "stateExitedEventDetails": {"name": "Check"}},
          {"type": "FailStateEntered", "id": 4, "previousEventId": 3,
           "stateEnteredEventDetails": {"name": "Reject"}},
          {"type": "ExecutionFailed", "id": 5, "previousEventId": 4,
           "executionFailedEventDetails": {"error": "Rejected"}}
        ]}"#;
        assert_eq!(
            failed_state(&newest_first(json), "aws").map(|f| f.state),
            Some(FailedState {
                name: "Reject".into(),
                state_type: "Fail".into(),
                resource: None,
            })
        );
    }

    #[test]
    fn a_lambda_timeout_inside_a_map_names_the_inner_state() {
        let json = r#"{"events": [
          {"type": "MapStateEntered", "id": 2, "previousEventId": 1,
           "stateEnteredEventDetails": {"name": "EachFile"}},
          {"type": "MapIterationStarted", "id": 3, "previousEventId": 2},
          {"type": "TaskStateEntered", "id": 4, "previousEventId": 3,
           "stateEnteredEventDetails": {"name": "Convert"}},
          {"type": "LambdaFunctionScheduled", "id": 5, "previousEventId": 4,
           "lambdaFunctionScheduledEventDetails": {"resource": "arn:aws:lambda:eu-west-1:123456789012:function:convert"}},
          {"type": "LambdaFunctionStarted", "id": 6, "previousEventId": 5},
          {"type": "LambdaFunctionTimedOut", "id": 7, "previousEventId": 6},
          {"type": "MapIterationFailed", "id": 8, "previousEventId": 7},
          {"type": "MapStateFailed", "id": 9, "previousEventId": 8},
          {"type": "ExecutionFailed", "id": 10, "previousEventId": 9}
        ]}"#;
        let found = failed_state(&newest_first(json), "aws").unwrap();
        assert_eq!(found.function.map(|f| f.name).as_deref(), Some("convert"));
        let found = found.state;
        assert_eq!(found.name, "Convert");
        assert_eq!(found.state_type, "Task");
        assert_eq!(
            found.resource.as_deref(),
            Some("arn:aws:lambda:eu-west-1:123456789012:function:convert")
        );
    }

    #[test]
    fn a_lambda_invoke_task_names_its_function_from_its_parameters() {
        let json = r#"{"events": [
          {"type": "TaskStateEntered", "id": 2, "previousEventId": 1,
           "stateEnteredEventDetails": {"name": "Extract"}},
          {"type": "TaskScheduled", "id": 3, "previousEventId": 2,
           "taskScheduledEventDetails": {"resourceType": "lambda", "resource": "invoke",
             "parameters": "{\"FunctionName\":\"arn:aws:lambda:eu-west-1:123456789012:function:extract:live\",\"Payload\":{}}"}},
          {"type": "TaskStarted", "id": 4, "previousEventId": 3},
          {"type": "TaskFailed", "id": 5, "previousEventId": 4},
          {"type": "ExecutionFailed", "id": 6, "previousEventId": 5}
        ]}"#;
        let found = failed_state(&newest_first(json), "aws").unwrap();
        assert_eq!(
            found.state.resource.as_deref(),
            Some("arn:aws:states:::lambda:invoke")
        );
        let function = found.function.expect("the function");
        assert_eq!(function.name, "extract");
        assert_eq!(function.region.as_deref(), Some("eu-west-1"));
        // An ECS task names none.
        let run_task = failed_state(&newest_first(RUN_TASK), "aws").unwrap();
        assert_eq!(run_task.function, None);
    }

    #[test]
    fn a_page_that_does_not_reach_the_state_finds_nothing_yet() {
        let events = newest_first(RUN_TASK);
        assert_eq!(failed_state(&events[..3], "aws"), None);
        assert_eq!(failed_state(&[], "aws"), None);
    }
}
