//! Webhook URLs are secrets: whoever holds one can post into the room. [`SecretUrl`] is the only type
//! that carries one, and it cannot be printed by accident.
//!
//! `Debug`, `Display` and `Serialize` all show `scheme://host[:port]/****`: enough to tell destinations
//! apart in `check-config` output and logs, nothing that grants access (Google Chat puts its key and
//! token in the query, Slack and Discord in the path). The full URL is reachable only through
//! [`SecretUrl::expose`], which the delivery client calls when it sends a request.

use std::fmt;

use reqwest::Url;
use serde::{Serialize, Serializer};

/// A webhook URL that redacts itself everywhere except [`SecretUrl::expose`].
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SecretUrl(Url);

impl SecretUrl {
    pub(crate) fn new(url: Url) -> Self {
        SecretUrl(url)
    }

    /// The real URL, for building the HTTP request. Never log what this returns.
    pub(crate) fn expose(&self) -> &Url {
        &self.0
    }

    /// `scheme://host[:port]/****`.
    pub(crate) fn redacted(&self) -> String {
        let host = self.0.host_str().unwrap_or("");
        match self.0.port() {
            Some(port) => format!("{}://{host}:{port}/****", self.0.scheme()),
            None => format!("{}://{host}/****", self.0.scheme()),
        }
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({})", self.redacted())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for SecretUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str =
        "https://chat.googleapis.com/v1/spaces/AAAA/messages?key=KEYSECRET&token=TOKENSECRET";

    #[test]
    fn every_printed_form_hides_path_and_query() {
        let url = SecretUrl::new(Url::parse(SECRET).unwrap());
        for shown in [
            format!("{url}"),
            format!("{url:?}"),
            format!("{url:#?}"),
            serde_json::to_string(&url).unwrap(),
        ] {
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(!shown.contains("AAAA"), "{shown}");
            assert!(
                shown.contains("https://chat.googleapis.com/****"),
                "{shown}"
            );
        }
        assert_eq!(url.expose().as_str(), SECRET);
    }

    #[test]
    fn ports_are_shown_because_they_tell_local_receivers_apart() {
        let url = SecretUrl::new(Url::parse("http://127.0.0.1:8123/hook/xyz").unwrap());
        assert_eq!(url.to_string(), "http://127.0.0.1:8123/****");
    }
}
