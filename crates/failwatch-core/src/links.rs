//! One-click AWS console links, right for every partition.
//!
//! The console host depends on the partition (`aws.amazon.com`, `amazonaws.cn`, `amazonaws-us-gov.com`);
//! a partition without a public console (the ISO partitions, anything unknown) gets no link rather than a
//! wrong one. Every piece that comes from the event is percent-encoded, and the region (which becomes part
//! of the host name) must look like a region, so a crafted event can never point a link at another host.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The console host for a partition and region, e.g. `eu-west-1.console.aws.amazon.com`.
#[cfg(test)]
fn console_base(partition: &str, region: &str) -> Option<String> {
    console_url(partition, region, 0)
}

/// The console base URL (`https://` and the host), in a string with `room` more bytes reserved for the
/// path the caller appends: links are built once per alert, so one allocation each.
fn console_url(partition: &str, region: &str, room: usize) -> Option<String> {
    const SCHEME: &str = "https://";
    let domain = match partition {
        "aws" => "console.aws.amazon.com",
        "aws-cn" => "console.amazonaws.cn",
        "aws-us-gov" => "console.amazonaws-us-gov.com",
        _ => return None,
    };
    if !is_region(region) {
        return None;
    }
    let mut url = String::with_capacity(SCHEME.len() + region.len() + 1 + domain.len() + room);
    url.push_str(SCHEME);
    url.push_str(region);
    url.push('.');
    url.push_str(domain);
    Some(url)
}

/// A region name is lowercase letters, digits and dashes (`us-east-1`, `cn-northwest-1`).
fn is_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
}

/// Every byte but RFC 3986's unreserved characters is percent-encoded in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An execution ARN in the Step Functions console's URL fragment keeps its colons readable.
const ARN_FRAGMENT: &AsciiSet = &SEGMENT.remove(b':');

/// Appends `s` to `out`, percent-encoded with `set`.
fn encode(out: &mut String, s: &str, set: &'static AsciiSet) {
    out.extend(utf8_percent_encode(s, set));
}

/// Which page of an ECS task to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskPage {
    Configuration,
    Logs,
}

/// The ECS console (v2) page of one task.
pub(crate) fn ecs_task(
    partition: &str,
    region: &str,
    cluster: &str,
    task_id: &str,
    page: TaskPage,
) -> Option<String> {
    let page = match page {
        TaskPage::Configuration => "configuration",
        TaskPage::Logs => "logs",
    };
    let room = 40 + cluster.len() + task_id.len() + page.len() + region.len();
    let mut url = console_url(partition, region, room)?;
    url.push_str("/ecs/v2/clusters/");
    encode(&mut url, cluster, SEGMENT);
    url.push_str("/tasks/");
    encode(&mut url, task_id, SEGMENT);
    url.push('/');
    url.push_str(page);
    url.push_str("?region=");
    url.push_str(region);
    Some(url)
}

/// Which page of an ECS service to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServicePage {
    Health,
    Deployments,
}

/// The ECS console (v2) page of one service.
pub(crate) fn ecs_service(
    partition: &str,
    region: &str,
    cluster: &str,
    service: &str,
    page: ServicePage,
) -> Option<String> {
    let page = match page {
        ServicePage::Health => "health",
        ServicePage::Deployments => "deployments",
    };
    let room = 40 + cluster.len() + service.len() + page.len() + region.len();
    let mut url = console_url(partition, region, room)?;
    url.push_str("/ecs/v2/clusters/");
    encode(&mut url, cluster, SEGMENT);
    url.push_str("/services/");
    encode(&mut url, service, SEGMENT);
    url.push('/');
    url.push_str(page);
    url.push_str("?region=");
    url.push_str(region);
    Some(url)
}

/// The Step Functions console page of one execution. The ARN goes into the fragment, where `:` may stay
/// as it is (RFC 3986 `pchar`) and the console expects it unencoded.
pub(crate) fn sfn_execution(partition: &str, region: &str, execution_arn: &str) -> Option<String> {
    sfn_page(partition, region, "#/v2/executions/details/", execution_arn)
}

/// The Step Functions console page of one state machine (its executions), the ARN in the fragment as
/// for an execution.
pub(crate) fn sfn_state_machine(
    partition: &str,
    region: &str,
    state_machine_arn: &str,
) -> Option<String> {
    sfn_page(
        partition,
        region,
        "#/statemachines/view/",
        state_machine_arn,
    )
}

/// A Step Functions console page: the `fragment` route followed by `arn`.
fn sfn_page(partition: &str, region: &str, fragment: &str, arn: &str) -> Option<String> {
    let room = 40 + fragment.len() + region.len() + arn.len();
    let mut url = console_url(partition, region, room)?;
    url.push_str("/states/home?region=");
    url.push_str(region);
    url.push_str(fragment);
    encode(&mut url, arn, ARN_FRAGMENT);
    Some(url)
}

/// The AWS Batch console page of one job.
pub(crate) fn batch_job(partition: &str, region: &str, job_id: &str) -> Option<String> {
    let room = 40 + region.len() + job_id.len();
    let mut url = console_url(partition, region, room)?;
    url.push_str("/batch/home?region=");
    url.push_str(region);
    url.push_str("#jobs/detail/");
    encode(&mut url, job_id, SEGMENT);
    Some(url)
}

/// The CloudWatch Logs console page of one log stream. The console reads the group and stream from its
/// URL fragment percent-encoded twice with `$` for `%` (`/aws/batch/job` is `$252Faws$252Fbatch$252Fjob`).
pub fn cloudwatch_log_stream(
    partition: &str,
    region: &str,
    group: &str,
    stream: &str,
) -> Option<String> {
    let room = 80 + region.len() + 3 * (group.len() + stream.len());
    let mut url = console_url(partition, region, room)?;
    url.push_str("/cloudwatch/home?region=");
    url.push_str(region);
    url.push_str("#logsV2:log-groups/log-group/");
    push_console_fragment(&mut url, group);
    url.push_str("/log-events/");
    push_console_fragment(&mut url, stream);
    Some(url)
}

/// Appends `s` encoded as the CloudWatch console's fragment wants it: percent-encoded, the `%` of each
/// escape encoded again, and then written as `$`.
fn push_console_fragment(out: &mut String, s: &str) {
    let once: String = utf8_percent_encode(s, SEGMENT).collect();
    out.extend(utf8_percent_encode(&once, SEGMENT).map(|piece| piece.replace('%', "$")));
}

/// The AWS Glue Studio page of one job run.
pub(crate) fn glue_job_run(
    partition: &str,
    region: &str,
    job_name: &str,
    run_id: &str,
) -> Option<String> {
    let room = 48 + region.len() + job_name.len() + run_id.len();
    let mut url = console_url(partition, region, room)?;
    url.push_str("/gluestudio/home?region=");
    url.push_str(region);
    url.push_str("#/job/");
    encode(&mut url, job_name, SEGMENT);
    url.push_str("/run/");
    encode(&mut url, run_id, SEGMENT);
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_stream_links_use_the_consoles_double_encoding() {
        assert_eq!(
            cloudwatch_log_stream("aws", "us-west-2", "/aws/batch/job", "job/default/7c7c")
                .as_deref(),
            Some(
                "https://us-west-2.console.aws.amazon.com/cloudwatch/home?region=us-west-2#logsV2:log-groups/log-group/$252Faws$252Fbatch$252Fjob/log-events/job$252Fdefault$252F7c7c"
            )
        );
    }

    #[test]
    fn hosts_per_partition() {
        assert_eq!(
            console_base("aws", "eu-west-1").as_deref(),
            Some("https://eu-west-1.console.aws.amazon.com")
        );
        assert_eq!(
            console_base("aws-cn", "cn-north-1").as_deref(),
            Some("https://cn-north-1.console.amazonaws.cn")
        );
        assert_eq!(
            console_base("aws-us-gov", "us-gov-west-1").as_deref(),
            Some("https://us-gov-west-1.console.amazonaws-us-gov.com")
        );
        assert_eq!(console_base("aws-iso", "us-iso-east-1"), None);
    }

    #[test]
    fn a_crafted_region_never_changes_the_host() {
        assert_eq!(console_base("aws", "evil.example/"), None);
        assert_eq!(console_base("aws", "x@evil"), None);
        assert_eq!(console_base("aws", ""), None);
        assert_eq!(console_base("aws", "US-EAST-1"), None);
    }

    #[test]
    fn path_parts_are_percent_encoded() {
        let url = ecs_task("aws", "us-east-1", "a b/c?d#e", "ü", TaskPage::Logs);
        assert_eq!(
            url.as_deref(),
            Some(
                "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/a%20b%2Fc%3Fd%23e/tasks/%C3%BC/logs?region=us-east-1"
            )
        );
        let url = sfn_execution(
            "aws",
            "us-east-1",
            "arn:aws:states:us-east-1:1:execution:sm:ex#1",
        );
        assert_eq!(
            url.as_deref(),
            Some(
                "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:aws:states:us-east-1:1:execution:sm:ex%231"
            )
        );
    }
}
