//! What SQS's per-entry answers to batch calls mean, and what a copy of a message weighs.

use super::*;

fn refused(id: &str, code: &str, sender_fault: bool) -> aws_sdk_sqs::types::BatchResultErrorEntry {
    aws_sdk_sqs::types::BatchResultErrorEntry::builder()
        .id(id)
        .code(code)
        .message(format!("{code} says no"))
        .sender_fault(sender_fault)
        .build()
        .expect("every required field is set")
}

fn failed_indices(outcome: &BatchOutcome) -> Vec<usize> {
    outcome.failed.iter().map(|f| f.index).collect()
}

#[test]
fn batch_outcome_maps_entries_by_id() {
    let outcome = batch_outcome(
        3,
        ["0", "2"],
        &[refused("1", "ReceiptHandleIsInvalid", true)],
    );
    assert_eq!(outcome.succeeded, vec![0, 2]);
    assert_eq!(
        outcome.failed,
        vec![EntryFailure {
            index: 1,
            code: "ReceiptHandleIsInvalid".into(),
            message: "ReceiptHandleIsInvalid says no".into(),
            sender_fault: true,
        }]
    );
}

/// The bug this replaced: an unparseable id was reported against index `count`, which the deleter
/// looked up, found nothing, and so counted every entry of the batch as deleted.
#[test]
fn unparseable_failure_id_fails_every_unconfirmed_entry_never_counts_as_deleted() {
    let outcome = batch_outcome(3, ["1"], &[refused("not-an-index", "InternalError", false)]);
    assert_eq!(outcome.succeeded, vec![1]);
    assert_eq!(failed_indices(&outcome), vec![0, 2]);
    for failure in &outcome.failed {
        assert_eq!(failure.code, "InternalError");
        assert!(!failure.sender_fault);
        assert!(
            failure.message.contains("not-an-index"),
            "{}",
            failure.message
        );
    }
}

#[test]
fn out_of_range_failure_ids_fail_every_unconfirmed_entry() {
    for id in ["3", "99", "-1", "18446744073709551616"] {
        let outcome = batch_outcome(3, ["0"], &[refused(id, "InternalError", false)]);
        assert_eq!(outcome.succeeded, vec![0], "{id}");
        assert_eq!(failed_indices(&outcome), vec![1, 2], "{id}");
    }
}

#[test]
fn an_entry_reported_both_ways_or_twice_fails_once() {
    let outcome = batch_outcome(
        2,
        ["0", "0", "1"],
        &[refused("0", "First", true), refused("0", "Second", false)],
    );
    assert_eq!(outcome.succeeded, vec![1]);
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].index, 0);
    assert_eq!(outcome.failed[0].code, "First");
    assert!(outcome.failed[0].sender_fault);
}

#[test]
fn success_ids_out_of_range_or_unparseable_confirm_nothing() {
    let outcome = batch_outcome(2, ["2", "x", " 0", "1"], &[]);
    assert_eq!(outcome.succeeded, vec![1]);
    assert_eq!(failed_indices(&outcome), vec![0]);
    assert_eq!(outcome.failed[0].code, UNREPORTED);
    assert!(!outcome.failed[0].sender_fault);
}

#[test]
fn sender_faults_are_kept_per_entry() {
    let outcome = batch_outcome(
        3,
        ["2"],
        &[
            refused("0", "InvalidParameterValue", true),
            refused("1", "RequestThrottled", false),
        ],
    );
    let faults: Vec<(usize, bool)> = outcome
        .failed
        .iter()
        .map(|f| (f.index, f.sender_fault))
        .collect();
    assert_eq!(faults, vec![(0, true), (1, false)]);
    assert_eq!(outcome.succeeded, vec![2]);
}

#[test]
fn every_entry_lands_in_exactly_one_list() {
    let outcome = batch_outcome(
        10,
        ["0", "3", "3", "7", "12"],
        &[refused("3", "A", true), refused("??", "B", false)],
    );
    let mut all: Vec<usize> = outcome.succeeded.clone();
    all.extend(failed_indices(&outcome));
    all.sort_unstable();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    assert_eq!(outcome.succeeded, vec![0, 7]);
    assert!(batch_outcome(0, [], &[refused("0", "A", true)]) == BatchOutcome::default());
}

#[test]
fn a_message_weighs_its_body_and_its_attributes() {
    let mut message = Outgoing {
        body: "x".repeat(100),
        ..Outgoing::default()
    };
    assert_eq!(message.size(), 100);
    message.carried.attributes.insert(
        "origin".to_owned(),
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value("y".repeat(50))
            .build()
            .expect("attribute"),
    );
    assert_eq!(message.size(), 100 + "origin".len() + "String".len() + 50);
}

#[test]
fn split_keeps_order_and_each_run_within_ten_entries_and_the_byte_limit() {
    let sizes = [200 * 1024, 200 * 1024, 10, 10, 300 * 1024, 1];
    let runs: Vec<Vec<usize>> = split(&sizes, |&s| s).iter().map(|r| r.to_vec()).collect();
    assert_eq!(
        runs,
        [
            vec![200 * 1024],
            vec![200 * 1024, 10, 10],
            vec![300 * 1024],
            vec![1],
        ]
    );
    let many = [1usize; 25];
    let lens: Vec<usize> = split(&many, |&s| s).iter().map(|r| r.len()).collect();
    assert_eq!(lens, [10, 10, 5]);
}

#[test]
fn outcomes_of_later_calls_are_shifted_to_the_whole_batch() {
    let mut whole = batch_outcome(2, ["0", "1"], &[]);
    whole.extend(
        batch_outcome(2, ["1"], &[refused("0", "Throttled", false)]),
        2,
    );
    assert_eq!(whole.succeeded, vec![0, 1, 3]);
    assert_eq!(failed_indices(&whole), vec![2]);
}
