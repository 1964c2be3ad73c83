//! Log lines of what failed inside a Step Functions execution, beyond ECS tasks:
//!
//! - a Batch job (`batch:submitJob.sync`): the cause names the job container's stream
//!   (`Container.LogStreamName`, in the job definition's `awslogs-group` or `/aws/batch/job`), read
//!   like a container's with one `GetLogEvents` (`startFromHead=false`);
//! - a Lambda invocation, best effort: when the cause names the request id and the function is known
//!   (from the cause's function ARN or the failed state's resource), `FilterLogEvents` on
//!   `/aws/lambda/{function}` for the quoted request id, newest first, in the window the core sets
//!   around the alert's time. The runtime writes the request id on its own lines (`START`, `END`,
//!   `REPORT`, errors, timeouts) and on every line of the Node.js, Java and .NET loggers and of the
//!   JSON log format; a bare `print` of a Python function carries none and is not found.

use failwatch_core::{
    BatchLogStream, ExecutionLog, LambdaFunction, LambdaInvocation, LogSource, log_stream_link,
};

use super::EnrichError;
use super::clients::Clients;
use super::logs::{line, newest_lines};

/// `FilterLogEvents` returns events newest first only for a `startTime` on or after this instant
/// (2024-01-01T00:00:00Z, in ms); an earlier one is refused, so the window starts there at the
/// earliest.
const NEWEST_FIRST_SINCE_MS: i64 = 1_704_067_200_000;
/// Pages read at most: a filter may return an empty page with a token while it searches on.
const MAX_PAGES: usize = 3;

/// Where the alert's resources are: the account and region of its lookups, and its partition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    pub(crate) account: Option<&'a str>,
    pub(crate) region: &'a str,
    pub(crate) partition: &'a str,
}

/// The newest `lines` lines of a Batch job's container, with its stream's console link.
pub(crate) async fn batch(
    clients: &Clients,
    place: Place<'_>,
    stream: &BatchLogStream,
    lines: i32,
) -> Result<ExecutionLog, EnrichError> {
    let logs = clients.regional(place.account, place.region).logs;
    Ok(ExecutionLog {
        source: LogSource::Batch,
        lines: newest_lines(&logs, &stream.group, &stream.stream, lines).await?,
        link: log_stream_link(place.partition, place.region, &stream.group, &stream.stream),
    })
}

/// The newest `lines` lines of `function`'s log group that name the invocation's request id, oldest
/// first, with the console link of the stream the newest one is in (no link when none matched).
/// The function's ARN, when it names one, decides the account and region.
pub(crate) async fn lambda(
    clients: &Clients,
    place: Place<'_>,
    invocation: &LambdaInvocation,
    function: &LambdaFunction,
    lines: i32,
) -> Result<ExecutionLog, EnrichError> {
    let region = function.region.as_deref().unwrap_or(place.region);
    let account = function.account.as_deref().or(place.account);
    let logs = clients.regional(account, region).logs;
    let group = function.log_group();
    let start = invocation.start_ms.max(NEWEST_FIRST_SINCE_MS);
    if invocation.end_ms <= start {
        return Err(EnrichError::Unusable(format!(
            "the Lambda invocation {} is older than FilterLogEvents reads newest first",
            invocation.request_id
        )));
    }
    let wanted = usize::try_from(lines).unwrap_or(0);
    // (timestamp, stream, message), newest first as the pages come.
    let mut found: Vec<Event> = Vec::new();
    let mut token = None;
    for _ in 0..MAX_PAGES {
        let page = logs
            .filter_log_events()
            .log_group_name(&group)
            .filter_pattern(format!("\"{}\"", invocation.request_id))
            .start_time(start)
            .end_time(invocation.end_ms)
            .start_from_head(false)
            .limit(lines)
            .set_next_token(token)
            .send()
            .await
            .map_err(|err| EnrichError::aws("FilterLogEvents", err))?;
        found.extend(page.events().iter().filter_map(|e| {
            Some((
                e.timestamp().unwrap_or(0),
                e.log_stream_name().map(str::to_owned),
                line(e.message()?),
            ))
        }));
        token = page.next_token().map(str::to_owned);
        if found.len() >= wanted || token.is_none() {
            break;
        }
    }
    let events = oldest_first(found, wanted);
    let link = events
        .last()
        .and_then(|(_, stream, _)| stream.as_deref())
        .and_then(|stream| log_stream_link(place.partition, region, &group, stream));
    Ok(ExecutionLog {
        source: LogSource::Lambda,
        lines: events.into_iter().map(|(_, _, message)| message).collect(),
        link,
    })
}

/// One matched log event: its timestamp (ms), stream and message.
type Event = (i64, Option<String>, String);

/// The newest `wanted` of events read newest first, oldest first. The pages' own order is reversed
/// and then sorted by timestamp, stably: an endpoint that ignores `startFromHead=false` and answers
/// oldest first (moto does) still yields what it returned in order.
fn oldest_first(mut events: Vec<Event>, wanted: usize) -> Vec<Event> {
    events.reverse();
    events.sort_by_key(|(at, _, _)| *at);
    let skip = events.len().saturating_sub(wanted);
    events.split_off(skip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at: i64, message: &str) -> Event {
        (at, Some(format!("s{at}")), message.to_owned())
    }

    #[test]
    fn newest_first_pages_become_the_newest_lines_oldest_first() {
        let newest_first = vec![event(5, "e"), event(4, "d"), event(4, "c"), event(1, "a")];
        let kept = oldest_first(newest_first, 3);
        let lines: Vec<_> = kept.iter().map(|(_, _, m)| m.as_str()).collect();
        assert_eq!(
            lines,
            ["c", "d", "e"],
            "ties keep the order they were written in"
        );
    }

    #[test]
    fn an_endpoint_answering_oldest_first_still_yields_the_newest_in_order() {
        let oldest_first_pages = vec![event(1, "a"), event(2, "b"), event(3, "c")];
        let kept = oldest_first(oldest_first_pages, 2);
        let lines: Vec<_> = kept.iter().map(|(_, _, m)| m.as_str()).collect();
        assert_eq!(lines, ["b", "c"]);
    }
}
