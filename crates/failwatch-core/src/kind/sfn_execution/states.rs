//! Step Functions' own errors, `States.*`: what each means and its class. `States.TaskFailed` says only
//! that a task failed; its cause belongs to the integration ([`super::cause`]).

use crate::hint::FailureClass;

/// The class of a `States.*` error, `None` for other errors and for `States.TaskFailed` (whose cause
/// says more).
pub(crate) fn class(error: Option<&str>) -> Option<FailureClass> {
    Some(match error? {
        "States.Timeout" => FailureClass::SfnTimeout,
        "States.HeartbeatTimeout" => FailureClass::StatesHeartbeatTimeout,
        // Errors in the definition or its input: paths, intrinsics, Choice rules, JSONata.
        "States.Runtime"
        | "States.ResultPathMatchFailure"
        | "States.ParameterPathFailure"
        | "States.IntrinsicFailure"
        | "States.QueryEvaluationError"
        | "States.NoChoiceMatched" => FailureClass::StatesRuntime,
        "States.ExceedToleratedFailureThreshold" => FailureClass::StatesToleratedFailureExceeded,
        "States.Permissions" => FailureClass::StatesPermissions,
        "States.DataLimitExceeded" => FailureClass::StatesDataLimitExceeded,
        "States.BranchFailed" => FailureClass::StatesBranchFailed,
        _ => return None,
    })
}

/// Where a `States.Runtime` cause starts quoting the state's input, which may hold anything: the
/// quote is left out of the alert.
const INPUT_QUOTE: &str = " in the input '";

/// A cause as every destination shows it, the summary and the alert document alike: a `States.*`
/// error's cause without the state input it quotes, any other cause as it is.
pub(crate) fn shown_cause<'a>(error: Option<&str>, cause: &'a str) -> std::borrow::Cow<'a, str> {
    match class(error) {
        Some(_) => cause_without_input(cause),
        None => cause.into(),
    }
}

/// A `States.*` cause without the state input it quotes: "... could not be found in the input
/// '{...}'" becomes "... could not be found in the input (not shown)".
fn cause_without_input(cause: &str) -> std::borrow::Cow<'_, str> {
    match cause.find(INPUT_QUOTE) {
        Some(at) => format!("{} in the input (not shown)", &cause[..at]).into(),
        None => cause.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quoted_input_is_left_out() {
        let cause = "The JSONPath '$.a' could not be found in the input '{\"password\":\"p\"}'";
        assert_eq!(
            cause_without_input(cause),
            "The JSONPath '$.a' could not be found in the input (not shown)"
        );
        assert_eq!(cause_without_input("plain"), "plain");
        let quoting = "Invalid path '$.x': could not be found in the input '{\"a\":1}'";
        assert_eq!(shown_cause(Some("Lambda.Unknown"), quoting), quoting);
        assert_eq!(
            shown_cause(Some("States.Runtime"), quoting),
            "Invalid path '$.x': could not be found in the input (not shown)"
        );
        assert_eq!(class(Some("States.TaskFailed")), None);
        assert_eq!(
            class(Some("States.Runtime")),
            Some(FailureClass::StatesRuntime)
        );
    }
}
