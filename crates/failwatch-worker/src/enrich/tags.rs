//! The failed resource's tags: `ListTagsForResource` of ECS (a service or task definition) or of Step
//! Functions (a state machine), chosen by the ARN's service, cached by ARN.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::EnrichError;
use super::cache::Caches;
use super::clients::Regional;

/// The AWS service an ARN belongs to (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`).
pub(crate) fn arn_service(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_), Some(service)) if !service.is_empty() => Some(service),
        _ => None,
    }
}

/// One tag as a map entry; a tag without a key is dropped, one without a value has an empty one (both
/// services type them as optional).
fn pair(key: Option<&str>, value: Option<&str>) -> Option<(String, String)> {
    Some((key?.to_owned(), value.unwrap_or("").to_owned()))
}

/// The resource's tags, from the cache or the resource's service.
pub(crate) async fn lookup(
    regional: &Regional,
    caches: &Caches,
    arn: &str,
) -> Result<Arc<BTreeMap<String, String>>, EnrichError> {
    if let Some(found) = caches.tags.get(arn) {
        return Ok(found);
    }
    let tags: BTreeMap<String, String> = match arn_service(arn) {
        Some("ecs") => regional
            .ecs
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|err| EnrichError::aws("ecs:ListTagsForResource", err))?
            .tags()
            .iter()
            .filter_map(|t| pair(t.key(), t.value()))
            .collect(),
        Some("states") => regional
            .sfn
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|err| EnrichError::aws("states:ListTagsForResource", err))?
            .tags()
            .iter()
            .filter_map(|t| pair(t.key(), t.value()))
            .collect(),
        _ => {
            return Err(EnrichError::Unusable(format!(
                "no tag lookup for {arn}: neither ECS nor Step Functions"
            )));
        }
    };
    let tags = Arc::new(tags);
    caches.tags.insert(arn.to_owned(), tags.clone());
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_is_the_arns_third_part() {
        assert_eq!(
            arn_service("arn:aws:ecs:eu-west-1:123456789012:service/prod/api"),
            Some("ecs")
        );
        assert_eq!(
            arn_service("arn:aws-cn:states:cn-north-1:123456789012:stateMachine:etl"),
            Some("states")
        );
        assert_eq!(arn_service("not-an-arn"), None);
        assert_eq!(arn_service("arn:aws::x"), None);
    }
}
