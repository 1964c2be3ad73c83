//! AWS Glue, as Step Functions reports a failed `glue:startJobRun.sync`: the cause is the `GetJobRun`
//! job run (`Id`, `JobName`, `JobRunState`, `ErrorMessage`, `ExecutionTime`).

use serde_json::{Map, Value};

use super::cause::text;
use crate::hint::FailureClass;
use crate::links;
use crate::summary::{Role, Summary};
use crate::{EventMeta, Links};

/// A failed Glue job run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GlueJobRun {
    id: String,
    job_name: String,
    state: Option<String>,
    error_message: Option<String>,
    /// Seconds the run took.
    execution_time: Option<i64>,
}

/// A Glue job run: it has a `JobName` and a `JobRunState`.
pub(crate) fn read(object: &Map<String, Value>) -> Option<GlueJobRun> {
    let job_name = text(object, "JobName")?;
    let state = text(object, "JobRunState")?;
    Some(GlueJobRun {
        id: text(object, "Id").unwrap_or_default().to_owned(),
        job_name: job_name.to_owned(),
        state: Some(state.to_owned()),
        error_message: text(object, "ErrorMessage").map(str::to_owned),
        execution_time: object.get("ExecutionTime").and_then(Value::as_i64),
    })
}

impl GlueJobRun {
    pub(crate) fn class(&self) -> FailureClass {
        match self.state.as_deref() {
            Some("TIMEOUT") => FailureClass::GlueTimeout,
            _ => FailureClass::GlueJobFailed,
        }
    }

    /// The Glue job's name.
    pub(crate) fn workload(&self) -> &str {
        &self.job_name
    }

    /// "Glue job run failed: nightly-etl".
    pub(crate) fn headline(&self) -> String {
        format!("{}: {}", self.class().phrase(), self.job_name)
    }

    /// The job, run id, state, error message and run time.
    pub(crate) fn facts(&self, summary: &mut Summary) {
        summary.push_labelled(Role::Detail, "Glue job", Some(&self.job_name));
        summary.push_labelled(Role::Detail, "Job run", Some(&self.id));
        summary.push_labelled(Role::Detail, "Run state", self.state.as_deref());
        summary.push(Role::Reason, self.error_message.as_deref());
        let time = self.execution_time.map(|s| format!("{s} s"));
        summary.push_labelled(Role::Detail, "Run time", time.as_deref());
    }

    /// The job run's page.
    pub(crate) fn links(&self, meta: &EventMeta, out: &mut Links) {
        if let Some(region) = meta.region.as_deref()
            && !self.id.is_empty()
        {
            out.glue_job_run =
                links::glue_job_run(&meta.partition, region, &self.job_name, &self.id);
        }
    }
}
