//! Classification: what one HTTP attempt's failure means, and so whether another attempt can help. This
//! is the one place that decides retry or give up, by error type.
//!
//! Transient (retry with backoff, then hand the message back to SQS): timeouts, connection errors, 5xx,
//! 429 and 408. Permanent (no retry; the message goes to the DLQ): every other non-2xx status — a deleted
//! webhook (404), a revoked token (403), a rejected payload (400) — and requests that could not even be
//! built. Redirects are not followed (a webhook that redirects is misconfigured, and following one could
//! send the alert somewhere unexpected), so a 3xx is permanent too.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

/// How many characters of a rejecting service's answer are kept for the log: enough for Slack's
/// `invalid_payload` or Google Chat's error JSON, not enough to flood a log line.
const DETAIL_CHARS: usize = 300;

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// 429: the service asks us to slow down, perhaps saying for how long.
    RateLimited {
        /// The service's `Retry-After`, unclamped.
        retry_after: Option<Duration>,
    },
    /// 5xx.
    ServerError {
        /// The HTTP status.
        status: u16,
        /// The service's `Retry-After` (a 503 may send one), unclamped.
        retry_after: Option<Duration>,
    },
    /// 408, or no answer within the destination's `timeout_secs`.
    Timeout {
        /// 408 when the service said so; none when the worker gave up waiting.
        status: Option<u16>,
    },
    /// The connection could not be made or broke.
    Network {
        /// The transport error's chain, without the URL.
        error: String,
    },
    /// Any other non-2xx status: retrying cannot help.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The start of the service's answer, scrubbed of the webhook URL, on one line.
        detail: String,
    },
    /// The request could not be built (e.g. the payload could not be sent at all).
    Invalid {
        /// Why, without the URL.
        error: String,
    },
    /// Not attempted: shutdown began while the attempt waited for its turn (pacing or a Retry-After).
    /// Transient, so the message is handed back for another worker.
    Stopped,
}

impl Failure {
    /// Classifies a response status. `None` means success.
    pub(crate) fn from_response(
        status: StatusCode,
        headers: &HeaderMap,
        body: &str,
    ) -> Option<Failure> {
        if status.is_success() {
            return None;
        }
        let retry_after = retry_after(headers, OffsetDateTime::now_utc());
        Some(match status.as_u16() {
            429 => Failure::RateLimited { retry_after },
            408 => Failure::Timeout { status: Some(408) },
            code @ 500..=599 => Failure::ServerError {
                status: code,
                retry_after,
            },
            code => Failure::Rejected {
                status: code,
                detail: detail(body),
            },
        })
    }

    /// Classifies a transport error. The error's URL must already be stripped (`without_url`).
    pub(crate) fn from_transport(err: &reqwest::Error) -> Failure {
        let error = crate::errors::chain(err);
        if err.is_timeout() {
            Failure::Timeout { status: None }
        } else if err.is_builder() {
            Failure::Invalid { error }
        } else {
            Failure::Network { error }
        }
    }

    /// Whether another attempt can succeed.
    pub(crate) fn is_transient(&self) -> bool {
        !matches!(self, Failure::Rejected { .. } | Failure::Invalid { .. })
    }

    /// What the service asked us to wait, if anything.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::RateLimited { retry_after } | Failure::ServerError { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// The `outcome` label of `failwatch_delivery_attempts_total`.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Failure::RateLimited { .. } => "rate_limited",
            Failure::ServerError { .. } => "server_error",
            Failure::Timeout { .. } => "timeout",
            Failure::Network { .. } => "network",
            Failure::Rejected { .. } | Failure::Invalid { .. } => "client_error",
            Failure::Stopped => "shutdown",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::RateLimited {
                retry_after: Some(d),
            } => write!(f, "HTTP 429 rate limited, retry after {}s", d.as_secs_f64()),
            Failure::RateLimited { retry_after: None } => f.write_str("HTTP 429 rate limited"),
            Failure::ServerError { status, .. } => write!(f, "HTTP {status} server error"),
            Failure::Timeout { status: Some(s) } => write!(f, "HTTP {s} request timeout"),
            Failure::Timeout { status: None } => f.write_str("no answer within the timeout"),
            Failure::Network { error } => write!(f, "network error: {error}"),
            Failure::Rejected { status, detail } if detail.is_empty() => {
                write!(f, "HTTP {status} rejected")
            }
            Failure::Rejected { status, detail } => write!(f, "HTTP {status} rejected: {detail}"),
            Failure::Invalid { error } => write!(f, "request could not be sent: {error}"),
            Failure::Stopped => f.write_str("not attempted: shutting down"),
        }
    }
}

/// Parses `Retry-After`: delta-seconds (possibly fractional, as Discord sends) or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now: OffsetDateTime) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)));
    }
    let at = OffsetDateTime::parse(text, &Rfc2822).ok()?;
    let wait = at - now;
    Some(if wait.is_negative() {
        Duration::ZERO
    } else {
        wait.unsigned_abs()
    })
}

/// The start of a rejecting service's answer, on one line, cut at a character boundary.
fn detail(body: &str) -> String {
    let one_line: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(DETAIL_CHARS)
        .collect();
    one_line.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        h
    }

    fn classify(status: u16, h: &HeaderMap) -> Option<Failure> {
        Failure::from_response(StatusCode::from_u16(status).unwrap(), h, "")
    }

    #[test]
    fn two_hundreds_are_success() {
        for s in [200, 201, 202, 204] {
            assert_eq!(classify(s, &HeaderMap::new()), None);
        }
    }

    #[test]
    fn transient_statuses_are_5xx_429_and_408() {
        for s in [500, 502, 503, 504, 429, 408] {
            let f = classify(s, &HeaderMap::new()).unwrap();
            assert!(f.is_transient(), "{s} should be transient");
        }
        for s in [400, 401, 403, 404, 410, 413, 301, 302] {
            let f = classify(s, &HeaderMap::new()).unwrap();
            assert!(!f.is_transient(), "{s} should be permanent");
            assert_eq!(f.label(), "client_error");
        }
        assert_eq!(
            classify(429, &HeaderMap::new()).unwrap().label(),
            "rate_limited"
        );
        assert_eq!(classify(408, &HeaderMap::new()).unwrap().label(), "timeout");
        assert_eq!(
            classify(503, &HeaderMap::new()).unwrap().label(),
            "server_error"
        );
    }

    #[test]
    fn retry_after_seconds_fractions_and_dates() {
        let now = OffsetDateTime::parse("Wed, 21 Oct 2026 07:28:00 GMT", &Rfc2822).unwrap();
        assert_eq!(
            retry_after(&headers("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers("0.25"), now),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2026 07:28:30 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2026 07:27:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&headers("-3"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
        let f = classify(429, &headers("3")).unwrap();
        assert_eq!(f.retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn rejection_detail_is_short_and_single_line() {
        let body = format!("invalid_payload\n{}", "é".repeat(1000));
        let f = Failure::from_response(StatusCode::BAD_REQUEST, &HeaderMap::new(), &body).unwrap();
        let Failure::Rejected { status, detail } = &f else {
            panic!("{f:?}")
        };
        assert_eq!(*status, 400);
        assert!(detail.starts_with("invalid_payload é"));
        assert_eq!(detail.chars().count(), DETAIL_CHARS);
        assert!(!detail.contains('\n'));
    }
}
