//! `ecs:runTask.sync`: the cause is the whole ECS `DescribeTasks` task, PascalCase. The alert shows the
//! task's facts, classified by ECS's own rules ([`crate::hint::task_class`]).

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::EcsTask;
use crate::kind::ecs_task::{self, TaskDetail};

/// The task a text cause describes when it is a whole, valid ECS task description with its own
/// `TaskArn`, read in one pass; `None` for anything else (which [`read`] then looks at).
pub(crate) fn read_text(cause: &str) -> Option<EcsTask> {
    // Cheap pre-check so other causes are not run through the task reader.
    if !cause.trim_start().starts_with('{') || !cause.contains("\"TaskArn\"") {
        return None;
    }
    let detail = serde_json::from_str::<TaskDetail>(cause).ok()?;
    ecs_task::task_from_wire(detail).ok()
}

/// The task a cause describes, when it is an ECS task description (it has a `TaskArn`, or, when Step
/// Functions cut the cause before the top-level `TaskArn`, a container's).
pub(crate) fn read(value: &Value, object: &Map<String, Value>) -> Option<EcsTask> {
    let own = object.get("TaskArn").or_else(|| object.get("taskArn"));
    let from_container = || {
        object
            .get("Containers")?
            .as_array()?
            .iter()
            .find_map(|c| c.get("TaskArn"))
    };
    let arn = own.or_else(from_container)?.as_str()?;
    let mut detail = TaskDetail::deserialize(value).ok()?;
    if own.is_none() {
        detail.set_task_arn(arn.to_owned());
    }
    ecs_task::task_from_wire(detail).ok()
}
