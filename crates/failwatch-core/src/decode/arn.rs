//! Just enough ARN parsing to recover what an envelope-less body leaves out: partition, region, account,
//! cluster, service, task id and Step Functions names.
//!
//! ARNs are `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, where RESOURCE may itself contain `:` (Step
//! Functions) or `/` (ECS). Nothing here fails: a string that is not an ARN simply yields `None`.

/// The fixed fields of an ARN, borrowed from the original string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arn<'a> {
    pub(crate) partition: &'a str,
    pub(crate) service: &'a str,
    pub(crate) region: &'a str,
    pub(crate) account: &'a str,
    pub(crate) resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits an ARN into its fields, or `None` when `s` is not one.
    pub(crate) fn parse(s: &'a str) -> Option<Self> {
        // The first five colons delimit the fixed fields; the resource keeps any further ones. A byte
        // scan that stops at the fifth colon: `splitn` cost more than the rest of the parse, and ARNs
        // are parsed several times per event.
        let mut colons = [0usize; 5];
        let mut found = 0;
        for (i, &b) in s.as_bytes().iter().enumerate() {
            if b == b':' {
                colons[found] = i;
                found += 1;
                if found == colons.len() {
                    break;
                }
            }
        }
        if found < colons.len() || &s[..colons[0]] != "arn" {
            return None;
        }
        let field = |n: usize| &s[colons[n] + 1..colons[n + 1]];
        let arn = Arn {
            partition: field(0),
            service: field(1),
            region: field(2),
            account: field(3),
            resource: &s[colons[4] + 1..],
        };
        (!arn.partition.is_empty() && !arn.service.is_empty()).then_some(arn)
    }

    /// The region, when the ARN names one.
    pub(crate) fn region(&self) -> Option<&'a str> {
        non_empty(self.region)
    }

    /// The account id, when the ARN names one.
    pub(crate) fn account(&self) -> Option<&'a str> {
        non_empty(self.account)
    }

    /// For an ECS resource `TYPE/A/B...`, the path after `TYPE/` when the type matches.
    fn ecs_path(&self, kind: &str) -> Option<&'a str> {
        if self.service != "ecs" {
            return None;
        }
        let (head, rest) = self.resource.split_once('/')?;
        (head == kind && !rest.is_empty()).then_some(rest)
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// The cluster name of `arn:...:ecs:...:cluster/NAME`.
pub(crate) fn ecs_cluster_name(cluster_arn: &str) -> Option<&str> {
    Arn::parse(cluster_arn)?.ecs_path("cluster")
}

/// `(cluster, task id)` of a task ARN. The long format `task/CLUSTER/ID` names the cluster; the
/// original short format `task/ID` does not, and the cluster must come from `clusterArn`.
pub(crate) fn ecs_task_parts(task_arn: &str) -> Option<(Option<&str>, &str)> {
    let path = Arn::parse(task_arn)?.ecs_path("task")?;
    match path.rsplit_once('/') {
        Some((cluster, id)) if !id.is_empty() => Some((non_empty(cluster), id)),
        Some(_) => None,
        None => Some((None, path)),
    }
}

/// `(cluster, service)` of a service ARN: `service/CLUSTER/NAME` (long format) or `service/NAME`.
pub(crate) fn ecs_service_parts(service_arn: &str) -> Option<(Option<&str>, &str)> {
    let path = Arn::parse(service_arn)?.ecs_path("service")?;
    match path.rsplit_once('/') {
        Some((cluster, name)) if !name.is_empty() => Some((non_empty(cluster), name)),
        Some(_) => None,
        None => Some((None, path)),
    }
}

/// `family:revision` of a task definition ARN.
pub(crate) fn ecs_task_definition(task_definition_arn: &str) -> Option<&str> {
    Arn::parse(task_definition_arn)?.ecs_path("task-definition")
}

/// The state machine name of `...:states:...:stateMachine:NAME`, or of an execution ARN
/// `...:execution:NAME:EXECUTION` / `...:express:NAME:EXECUTION:ID`.
pub(crate) fn sfn_state_machine_name(arn: &str) -> Option<&str> {
    let arn = Arn::parse(arn)?;
    if arn.service != "states" {
        return None;
    }
    let (kind, rest) = arn.resource.split_once(':')?;
    let name = match kind {
        "stateMachine" => rest.split(':').next(),
        "execution" | "express" => rest.split(':').next(),
        _ => None,
    }?;
    non_empty(name)
}

/// The partition a region belongs to, for bodies that carry a region but no ARN.
pub(crate) fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_splits_at_the_first_five_colons() {
        let arn = Arn::parse("arn:aws:states:us-east-1:1:execution:nightly:run-1").expect("an ARN");
        assert_eq!(
            (arn.partition, arn.service, arn.region, arn.account),
            ("aws", "states", "us-east-1", "1")
        );
        assert_eq!(arn.resource, "execution:nightly:run-1");
        let arn = Arn::parse("arn:aws:s3:::bucket").expect("an ARN");
        assert_eq!(
            (arn.region(), arn.account(), arn.resource),
            (None, None, "bucket")
        );
        assert_eq!(Arn::parse("arn:aws:s3:::").map(|a| a.resource), Some(""));
        assert_eq!(Arn::parse("arn:aws:s3::"), None);
        assert_eq!(Arn::parse("arn::s3:::x"), None);
        assert_eq!(Arn::parse("arn:aws::::x"), None);
        assert_eq!(Arn::parse("urn:aws:s3:::x"), None);
        assert_eq!(Arn::parse("arné:aws:s3:::x"), None);
        assert_eq!(Arn::parse(""), None);
    }

    #[test]
    fn long_and_short_task_arns() {
        assert_eq!(
            ecs_task_parts("arn:aws:ecs:eu-central-1:012345678900:task/scc/4ca7a4f9"),
            Some((Some("scc"), "4ca7a4f9"))
        );
        assert_eq!(
            ecs_task_parts("arn:aws:ecs:us-east-2:667471847564:task/e9511a82-9247"),
            Some((None, "e9511a82-9247"))
        );
        assert_eq!(ecs_task_parts("arn:aws:ecs:r:a:task/"), None);
        assert_eq!(ecs_task_parts("arn:aws:ecs:r:a:cluster/x"), None);
        assert_eq!(ecs_task_parts("not an arn"), None);
    }

    #[test]
    fn services_clusters_and_state_machines() {
        assert_eq!(
            ecs_service_parts("arn:aws:ecs:us-west-2:111122223333:service/default/servicetest"),
            Some((Some("default"), "servicetest"))
        );
        assert_eq!(
            ecs_service_parts("arn:aws:ecs:us-west-2:111122223333:service/servicetest"),
            Some((None, "servicetest"))
        );
        assert_eq!(
            ecs_cluster_name("arn:aws-cn:ecs:cn-north-1:1:cluster/prod"),
            Some("prod")
        );
        assert_eq!(
            sfn_state_machine_name("arn:aws:states:us-east-1:1:execution:nightly:run-1"),
            Some("nightly")
        );
        assert_eq!(
            sfn_state_machine_name("arn:aws:states:us-east-1:1:stateMachine:nightly"),
            Some("nightly")
        );
        assert_eq!(partition_of_region("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of_region("cn-northwest-1"), "aws-cn");
    }
}
