//! `states:startExecution.sync`: a child execution failed, and the cause is the child's
//! `DescribeExecution` (`ExecutionArn`, `StateMachineArn`, `Status`, and the child's own `Error` and
//! `Cause`). The child's cause is read like any other ([`super::cause`]), so the alert says what failed
//! inside the child, and links to it.

use serde_json::{Map, Value};

use super::cause::{Read, epoch_millis, text};
use super::states;
use crate::decode::sfn_state_machine_name;
use crate::hint::FailureClass;
use crate::links;
use crate::{EventMeta, Links};

/// A failed child execution and what its own error and cause say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChildExecution {
    pub(crate) arn: String,
    pub(crate) state_machine_arn: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) status: Option<String>,
    /// The child's own error, e.g. `Lambda.Unknown`.
    pub(crate) error: Option<String>,
    /// The child's own cause, as text.
    pub(crate) cause: Option<String>,
    /// The child's cause, read.
    pub(crate) read: Read,
    /// When the child stopped (`StopDate`).
    stopped_at: Option<time::OffsetDateTime>,
}

/// A child execution description: an `ExecutionArn` with a `StateMachineArn` or a `Status`. `read_cause`
/// reads the child's own error and cause, one level deeper.
pub(crate) fn read(
    object: &Map<String, Value>,
    read_cause: impl FnOnce(Option<&str>, Option<&Value>) -> Read,
) -> Option<ChildExecution> {
    let arn = text(object, "ExecutionArn")?;
    if !object.contains_key("StateMachineArn") && !object.contains_key("Status") {
        return None;
    }
    let error = text(object, "Error");
    let cause_value = object.get("Cause").filter(|c| !c.is_null());
    let read = read_cause(error, cause_value);
    let cause = cause_value.map(|c| match c {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    Some(ChildExecution {
        arn: arn.to_owned(),
        state_machine_arn: text(object, "StateMachineArn").map(str::to_owned),
        name: text(object, "Name").map(str::to_owned),
        status: text(object, "Status").map(str::to_owned),
        error: error.map(str::to_owned),
        cause,
        read,
        stopped_at: epoch_millis(object, "StopDate"),
    })
}

impl ChildExecution {
    /// The class of what failed inside the child, else of the child's `States.*` error.
    pub(crate) fn class(&self) -> Option<FailureClass> {
        self.read
            .failure
            .class()
            .or_else(|| states::class(self.error.as_deref()))
    }

    /// When the child stopped.
    pub(crate) fn stopped_at(&self) -> Option<time::OffsetDateTime> {
        self.stopped_at
    }

    /// The child's state machine name, else its execution ARN.
    pub(crate) fn workload(&self) -> &str {
        self.state_machine_arn
            .as_deref()
            .or(Some(self.arn.as_str()))
            .and_then(sfn_state_machine_name)
            .unwrap_or(&self.arn)
    }

    /// `ExtractLoad-child/3f0e9d8c-...`: the state machine and the execution's name.
    pub(crate) fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{}/{name}", self.workload()),
            None => self.workload().to_owned(),
        }
    }

    /// The ARNs the child names, for the alert's account and region.
    pub(crate) fn arns(&self) -> [Option<&str>; 2] {
        [Some(self.arn.as_str()), self.state_machine_arn.as_deref()]
    }

    /// The child execution's page.
    pub(crate) fn links(&self, meta: &EventMeta, out: &mut Links) {
        if let Some(region) = meta.region.as_deref()
            && sfn_state_machine_name(&self.arn).is_some()
        {
            out.child_execution = links::sfn_execution(&meta.partition, region, &self.arn);
        }
    }
}
