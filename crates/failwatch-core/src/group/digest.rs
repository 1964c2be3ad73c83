//! Building a [`Digest`] from a group's pending alerts: counts, the few alerts it lists, the tallies
//! of reasons and exit codes, its title and severity.

use time::OffsetDateTime;

use super::state::rfc3339_ms;
use super::{DIGEST_SCHEMA, Digest, FoldedAlert, Group, GroupPolicy, Tally, words};
use crate::Severity;

impl Group {
    /// The digest of every folded alert not yet settled, or `None` when nothing is pending. `now` is
    /// not read: the digest depends on the group alone, so every replica builds the same one (the
    /// crash-loop check counts the alerts' own times).
    pub fn digest(&self, _now: OffsetDateTime, policy: &GroupPolicy) -> Option<Digest> {
        let kind = self.kind?;
        let first_time = self.pending.iter().map(|p| p.at).min()?;
        let last_time = self.pending.iter().map(|p| p.at).max()?;
        let count = self.pending.len() as u64;
        let alerts: Vec<FoldedAlert> = self
            .pending
            .iter()
            .filter_map(|p| {
                let listed = p.listed.as_ref()?;
                Some(FoldedAlert {
                    dedup_key: p.key.clone(),
                    event_id: listed.event_id.clone(),
                    time: listed.time.clone(),
                    id: listed.id.clone(),
                    link: listed.link.clone(),
                    reason: p
                        .reason
                        .and_then(|r| self.reason_text(r))
                        .map(str::to_owned),
                    exit_codes: p.exit.clone(),
                })
            })
            .take(Digest::MAX_LISTED)
            .collect();
        let reasons = tally(
            self.pending
                .iter()
                .map(|p| p.reason.and_then(|r| self.reason_text(r)).into_iter()),
        );
        let exit_codes = tally(self.pending.iter().map(|p| {
            let mut codes: Vec<String> = Vec::with_capacity(p.exit.len());
            for code in &p.exit {
                let code = code.to_string();
                if !codes.contains(&code) {
                    codes.push(code);
                }
            }
            codes.into_iter()
        }));
        let crash_loop = self.crash_loop(policy);
        let critical = self.pending.iter().any(|p| p.critical);
        let severity = if critical || crash_loop.is_some() {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let title = match crash_loop {
            Some(crash_loop) => words::crash_loop_title(&self.subject, kind, crash_loop),
            None => words::digest_title(
                &self.subject,
                kind,
                count,
                if critical { "failed" } else { "stopped" },
                exit_codes.first().map(|t| t.value.as_str()),
                reasons.first().map(|t| t.value.as_str()),
            ),
        };
        Some(Digest {
            schema: DIGEST_SCHEMA.to_owned(),
            kind,
            severity,
            title,
            group_key: self.key.clone(),
            subject: self.subject.clone(),
            count,
            first_time: rfc3339_ms(first_time),
            last_time: rfc3339_ms(last_time),
            crash_loop,
            unlisted: count - alerts.len() as u64,
            alerts,
            dedup_keys: self.pending.iter().map(|p| p.key.clone()).collect(),
            reasons,
            exit_codes,
            account: self.account.clone(),
            region: self.region.clone(),
            partition: self.partition.clone(),
            links: self.links.clone(),
        })
    }

    /// The reason at `index` of the reason table.
    fn reason_text(&self, index: u32) -> Option<&str> {
        self.reasons
            .get(usize::try_from(index).ok()?)
            .map(String::as_str)
    }
}

/// Counts the values each alert has (an iterator per alert, each value once), most frequent first,
/// ties in the order first seen, at most [`Digest::MAX_TALLIES`].
fn tally<V, I>(per_alert: impl Iterator<Item = I>) -> Vec<Tally>
where
    V: AsRef<str>,
    I: Iterator<Item = V>,
{
    let mut counts: Vec<Tally> = Vec::new();
    for value in per_alert.flatten() {
        let value = value.as_ref();
        match counts.iter_mut().find(|t| t.value == value) {
            Some(t) => t.count += 1,
            None => counts.push(Tally {
                value: value.to_owned(),
                count: 1,
            }),
        }
    }
    // A stable sort keeps first-seen order among equal counts.
    counts.sort_by_key(|t| std::cmp::Reverse(t.count));
    counts.truncate(Digest::MAX_TALLIES);
    counts
}
