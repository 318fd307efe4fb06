//! The SCIM endpoint checked by an independent checker: `scim2-tester` (PyPI, pinned in
//! `tests/scim/requirements.txt`, in a virtual environment under `target/scim2-tester` made
//! by `.ci/run` or on first use). It reads `ServiceProviderConfig`, `ResourceTypes` and
//! `Schemas`, then creates, reads, replaces, patches (`add`, `remove`, `replace` on every
//! attribute the schemas name) and deletes users and groups; every check it runs must pass.

use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_testkit::api::CreateScimTokenRequest;
use portcullis_testkit::python::Ready;
use portcullis_testkit::{both_backends, TestServer};
use serde_json::Value;

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scim")
}

/// The virtual environment's python, with the checker installed when missing.
fn python() -> PathBuf {
    let requirements = scripts().join("requirements.txt");
    let ready = Ready::Imports("import scim2_tester, httpx2");
    portcullis_testkit::python::venv("scim2-tester", &requirements, ready).join("bin/python")
}

async fn scim2_tester_passes_every_check_it_runs(app: TestServer) {
    let made = app
        .admin()
        .await
        .create_scim_token(
            "default",
            &CreateScimTokenRequest {
                description: "scim2-tester".into(),
            },
        )
        .await
        .unwrap();
    let python = python();
    let script = scripts().join("check.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(made.scim_base_url)
            .arg(made.token)
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the checker failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failed: Vec<&Value> = results
        .iter()
        .filter(|r| matches!(r["status"].as_str(), Some("ERROR" | "CRITICAL")))
        .collect();
    let passed = results.iter().filter(|r| r["status"] == "SUCCESS").count();
    assert!(
        failed.is_empty(),
        "{} of {} checks failed:\n{}",
        failed.len(),
        results.len(),
        failed
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Users and groups were created, read, replaced, patched and deleted.
    for (kind, at_least) in [("User", 20), ("Group", 5)] {
        let n = results
            .iter()
            .filter(|r| r["status"] == "SUCCESS" && r["resource_type"] == kind)
            .count();
        assert!(
            n >= at_least,
            "only {n} checks of {kind} passed of {passed}:\n{stdout}"
        );
    }
}

both_backends!(scim2_tester_passes_every_check_it_runs);
