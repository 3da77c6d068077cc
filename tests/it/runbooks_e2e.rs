//! A runbook drill in the real binary: `mastop demo` in a pseudo-terminal, the operator goes
//! list → details → form → preview → run, and the run lands in the audit log.

// Shared with the other pty tests, which use more of it.
use crate::pty;

use pty::Console;

#[test]
fn demo_runbook_from_list_to_a_completed_audited_run() {
    let mut c = Console::start(&["demo"], 120, 40);
    c.wait_for_text("postgres/primary");
    c.send(b":runbooks\r");
    c.wait_for_text("Runbooks (10)");
    // reload-edge-nginx is sixth in name order.
    c.send(b"jjjjj");
    c.wait_for_text("▶ reload-edge-nginx");
    c.send(b"\r");
    c.wait_for_text("Rollback:");
    c.send(b"\r");
    c.wait_for_text("host with role edge-cdn");
    c.send(b"\t");
    c.wait_for_text("fremont-1█");
    c.send(b"\r");
    let preview = c.wait_for_text("Will run exactly:");
    assert!(
        preview.contains("(simulated) ssh fremont-1 -- sudo nginx -t"),
        "{preview}"
    );
    c.send(b"reload-edge-nginx");
    c.wait_for_text("to run: reload-edge-nginx");
    c.send(b"\r");
    let done = c.wait_for_text("reload-edge-nginx: completed (3 actions ok)");
    assert!(done.contains("✔ Reload nginx · fremont-1"), "{done}");
    c.send(b"\x1b");
    c.wait_for_text("Runbooks (10)");
    c.send(b"q");
    assert!(c.wait_exit());
    let audit = c.demo_audit().expect("the run was audited");
    let runbook_outcomes = audit
        .lines()
        .filter(|l| {
            l.contains(r#""name":"reload-edge-nginx""#) && l.contains(r#""phase":"outcome""#)
        })
        .count();
    assert_eq!(runbook_outcomes, 3, "{audit}");
}
