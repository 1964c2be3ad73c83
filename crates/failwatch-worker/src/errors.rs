//! Printing error chains. AWS SDK and HTTP client errors say little at the top (`dispatch failure`,
//! `service error`); the useful part is further down the `source()` chain.

use std::error::Error;
use std::fmt::Write as _;

/// The error and every source below it, joined with `: `, skipping a source whose text the previous
/// level already included.
pub(crate) fn chain(err: &(dyn Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut current = err.source();
    while let Some(source) = current {
        let text = source.to_string();
        if !text.is_empty() && !out.contains(&text) {
            let _ = write!(out, ": {text}");
        }
        current = source.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Middle);
    #[derive(Debug, thiserror::Error)]
    #[error("middle")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn walks_every_source() {
        let err = Outer(Middle(std::io::Error::other("connection refused")));
        assert_eq!(chain(&err), "outer: middle: connection refused");
    }
}
