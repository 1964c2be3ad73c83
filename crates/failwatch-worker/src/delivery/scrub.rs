//! Scrubbing a service's answer of the webhook URL it may echo back, and of anything else shaped like
//! a secret, before the answer is logged.

use crate::secret::SecretUrl;

/// Path segments and query values at least this long are treated as secrets when scrubbing an answer;
/// shorter ones ("services", "v1", "webhookb2" aside) are structure, not keys.
const SECRET_PART_MIN: usize = 8;

/// Removes every secret part of the webhook URL from a service's answer, in case it echoes the request
/// back: the whole URL, its path and query, and each path segment and query value long enough to be a
/// key or token, as sent, percent-decoded and fully percent-encoded (Teams' `sig=` is percent-encoded in
/// the URL but may come back decoded; its path's `@` may come back as `%40`).
/// Then the core's redactor, so a token the answer quotes (the one the service refused, say) is not
/// logged either.
pub(super) fn scrub(body: &str, url: &SecretUrl) -> String {
    use percent_encoding::{percent_decode_str, utf8_percent_encode};
    let url = url.expose();
    let mut secrets: Vec<String> = vec![url.as_str().to_owned(), url.path().to_owned()];
    secrets.extend(url.query().map(str::to_owned));
    let raw_values = url
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.split_once('=').map(|(_, value)| value));
    // Each long part as sent, decoded (query values form-decoded, so `+` is a space) and re-encoded.
    let mut parts: Vec<(String, String)> = url
        .path_segments()
        .into_iter()
        .flatten()
        .map(|segment| {
            let decoded = percent_decode_str(segment).decode_utf8_lossy().into_owned();
            (segment.to_owned(), decoded)
        })
        .collect();
    parts.extend(
        raw_values
            .zip(url.query_pairs())
            .map(|(raw, (_, decoded))| (raw.to_owned(), decoded.into_owned())),
    );
    for (raw, decoded) in parts {
        if raw.len() >= SECRET_PART_MIN {
            secrets.push(utf8_percent_encode(&decoded, NOT_UNRESERVED).to_string());
            secrets.push(raw);
            secrets.push(decoded);
        }
    }
    // Longest first, so a part never leaves the rest of a longer secret behind.
    secrets.retain(|s| s.len() > 1);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    let mut out = body.to_owned();
    for secret in &secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "****");
        }
    }
    match failwatch_core::redact_text(&out) {
        std::borrow::Cow::Borrowed(_) => out,
        std::borrow::Cow::Owned(redacted) => redacted,
    }
}

/// Every byte but RFC 3986's unreserved characters is percent-encoded: the fullest form a service could
/// echo a URL part back in.
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
