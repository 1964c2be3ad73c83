//! The AWS clients enrichment calls through: one SDK configuration per account (the default credential
//! chain, or credentials from `sts:AssumeRole` of the account's `[[enrichment.accounts]]` role), and
//! ECS, CloudWatch Logs and Step Functions clients per (account, region), built on first use and kept.
//!
//! Every call gets a short attempt timeout, an overall operation timeout just past the budget and at
//! most one retry: a lookup that cannot answer quickly is worth less than the alert it would delay.
//! `AWS_ENDPOINT_URL_ECS`, `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` and `AWS_ENDPOINT_URL_SFN` (read by
//! aws-config itself) point the clients at an emulator.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use moka::sync::Cache;

use crate::config::EnrichmentAccount;

/// How long a connection may take to open; an endpoint that does not accept within this will not
/// answer within the budget either.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(800);
/// One attempt of one call.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1_500);
/// A call's own bound is the budget plus this, so that the budget (which ends every lookup of an alert
/// at one instant and counts it as a timeout) always ends first; the call's bound only matters to a
/// call that outlives its alert.
const OPERATION_MARGIN: Duration = Duration::from_millis(500);
/// One initial attempt and one retry.
const MAX_ATTEMPTS: u32 = 2;
/// The session name CloudTrail shows for the assumed roles.
const SESSION_NAME: &str = "failwatch-enrichment";
/// Distinct (account, region) pairs kept; a bound, not a limit anyone should reach.
const MAX_REGIONAL: u64 = 256;

/// The three clients of one account in one region. Cloning is cheap (each client is reference-counted).
#[derive(Debug, Clone)]
pub(crate) struct Regional {
    pub(crate) ecs: aws_sdk_ecs::Client,
    pub(crate) logs: aws_sdk_cloudwatchlogs::Client,
    pub(crate) sfn: aws_sdk_sfn::Client,
}

/// Clients by account and region.
#[derive(Debug, Clone)]
pub(crate) struct Clients {
    /// The default credential chain's configuration, for every account without a role.
    base: SdkConfig,
    /// Account id → the configuration whose credentials come from assuming its role. The provider's
    /// credentials are cached by the configuration's identity cache, shared by every region's clients.
    roles: HashMap<String, SdkConfig>,
    regional: Cache<(Option<String>, String), Regional>,
}

impl Clients {
    /// Loads the default configuration (environment, profile, container or instance role) and prepares
    /// one assumed-role configuration per listed account. No network call happens here: credentials
    /// are fetched on the first lookup.
    pub(crate) async fn new(accounts: &[EnrichmentAccount], budget: Duration) -> Clients {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT.min(budget))
            .operation_timeout(budget + OPERATION_MARGIN)
            .build();
        let base = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .load()
            .await;
        let mut roles = HashMap::new();
        for entry in accounts {
            let provider = AssumeRoleProvider::builder(entry.role_arn.clone())
                .session_name(SESSION_NAME)
                .configure(&base)
                .build()
                .await;
            let config = base
                .to_builder()
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .build();
            roles.insert(entry.account.clone(), config);
        }
        Clients {
            base,
            roles,
            regional: Cache::builder().max_capacity(MAX_REGIONAL).build(),
        }
    }

    /// The clients for `account`'s resources in `region`: its role's credentials when one is
    /// configured, the default chain's otherwise.
    pub(crate) fn regional(&self, account: Option<&str>, region: &str) -> Regional {
        let role_account = account.filter(|a| self.roles.contains_key(*a));
        let key = (role_account.map(str::to_owned), region.to_owned());
        self.regional.get_with(key, || {
            let config = role_account
                .and_then(|a| self.roles.get(a))
                .unwrap_or(&self.base)
                .to_builder()
                .region(Region::new(region.to_owned()))
                .build();
            Regional {
                ecs: aws_sdk_ecs::Client::new(&config),
                logs: aws_sdk_cloudwatchlogs::Client::new(&config),
                sfn: aws_sdk_sfn::Client::new(&config),
            }
        })
    }
}
