//! Rendering an alert for each chat service. (Being written.)

use crate::Alert;

/// Where a rendered payload goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Json,
    GoogleChat,
    Slack,
    Teams,
    Discord,
}

/// A target name that is not one of `json`, `google-chat`, `slack`, `teams`, `discord`.
#[derive(Debug, thiserror::Error)]
#[error("unknown target {0:?}: expected one of json, google-chat, slack, teams, discord")]
pub struct UnknownTarget(pub String);

/// Per-route rendering choices.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// A configured, trusted mention (e.g. a Slack user group) added to the message.
    pub mention: Option<String>,
}

/// Renders one alert as the exact JSON body to POST.
pub fn render(alert: &Alert, target: Target, _opts: &RenderOptions) -> String {
    match target {
        Target::Json => alert.to_json(),
        _ => unimplemented!("renderers are being written"),
    }
}
