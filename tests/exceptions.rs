//! Deviations are evidence: an exception recorded at a step and an aborted
//! ceremony both end up in the signed transcript and in what `verify`
//! prints.

mod ceremony_support;

use ceremony_support::*;

#[test]
fn an_exception_and_an_abort_appear_in_the_verified_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let answers = write_answers(
        dir.path(),
        "exceptions:\n  materials-in:\n    expected: bag REHEARSAL-BAG-0001 intact\n    happened: the bag's seal is torn at one corner\n    decision: continue; photograph the seal for the record\nabort:\n  at: inventory\n  by: alice\n  reason: the auditor must inspect the torn seal before the token is used\n",
    );
    let run = run_root(&answers);
    assert_eq!(
        run.code(),
        Some(1),
        "an aborted ceremony exits 1: {}",
        run.stderr()
    );
    assert!(run.stderr().contains("ABORTED"), "{}", run.stderr());

    let kinds: Vec<String> = run
        .entries()
        .iter()
        .map(|e| e["kind"].as_str().expect("kind").to_string())
        .collect();
    let exception_at = kinds
        .iter()
        .position(|k| k == "exception")
        .expect("recorded");
    // The witness confirms the exception right after it is recorded.
    let next = &run.entries()[exception_at + 1];
    assert_eq!(next["kind"], "confirm");
    assert_eq!(next["body"]["as"], "exception-witness");
    assert_eq!(next["actor"], "bob");
    assert_eq!(kinds.last().map(String::as_str), Some("close"));
    assert!(kinds.contains(&"abort".to_string()));

    let (code, report) = verify(&run.transcript());
    assert_eq!(
        code, 0,
        "an aborted transcript is complete and valid: {report}"
    );
    assert!(
        report.starts_with("VALID, ceremony ABORTED: the auditor must inspect"),
        "{report}"
    );
    assert!(
        report.contains("exception at step `materials-in`, recorded by alice: expected bag REHEARSAL-BAG-0001 intact; happened the bag's seal is torn at one corner"),
        "{report}"
    );
    assert!(
        report.contains("aborted by alice at step `inventory`"),
        "{report}"
    );

    // The ceremony report shows both too.
    let rendered = keyceremony()
        .args(["report", "--format", "md"])
        .arg(run.transcript())
        .output()
        .expect("report runs");
    let markdown = String::from_utf8_lossy(&rendered.stdout);
    assert!(
        rendered.status.success(),
        "{markdown}{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    assert!(
        markdown.contains("the bag's seal is torn at one corner"),
        "{markdown}"
    );
    assert!(
        markdown.contains("continue; photograph the seal for the record"),
        "{markdown}"
    );
    assert!(
        markdown.contains("the auditor must inspect the torn seal before the token is used"),
        "{markdown}"
    );
    assert!(markdown.to_lowercase().contains("abort"), "{markdown}");
}
