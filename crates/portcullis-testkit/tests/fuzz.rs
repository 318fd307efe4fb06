//! Fuzzing the whole API with schemathesis (from PyPI) against the live
//! `/v1/openapi.json`: a fixed seed and example budget, every operation, failing on any 5xx
//! and on any answer whose status, content type, headers or body the document does not
//! describe. Schemathesis lives in a virtual environment under `target/schemathesis`, made
//! here on first use (`.ci/run` makes it beforehand); `PORTCULLIS_SCHEMATHESIS` may name
//! another `st` executable.

use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_testkit::{python, Backend, TestServer, ADMIN_EMAIL, ADMIN_PASSWORD};

/// Examples per operation and phase, and the seed: fixed, so that a run is repeatable.
const MAX_EXAMPLES: &str = "15";
const SEED: &str = "20261122";

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

/// The `st` executable, installed into `target/schemathesis` when missing.
fn schemathesis() -> PathBuf {
    if let Some(st) = std::env::var_os("PORTCULLIS_SCHEMATHESIS") {
        return PathBuf::from(st);
    }
    let requirements = fuzz_dir().join("requirements.txt");
    python::venv("schemathesis", &requirements, python::Ready::File("bin/st")).join("bin/st")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_spec() {
    let st = schemathesis();
    // Rate limits off: the fuzzer would exhaust them in seconds and then see only 429s.
    let app = TestServer::spawn_with(Backend::Sqlite, |c| c.rate_limits = "off".to_owned())
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let st = st.clone();
    let url = app.url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(st)
            .current_dir(work.path())
            .env("SCHEMATHESIS_HOOKS", fuzz_dir().join("hooks.py"))
            .env("PORTCULLIS_FUZZ_URL", &url)
            .env("PORTCULLIS_FUZZ_ADMIN", ADMIN_EMAIL)
            .env("PORTCULLIS_FUZZ_PASSWORD", ADMIN_PASSWORD)
            .args(["run", &format!("{url}/v1/openapi.json")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_headers_conformance,response_schema_conformance",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--max-examples",
                MAX_EXAMPLES,
                "--seed",
                SEED,
                "--no-shrink",
                // One worker: CPython 3.11's parser is not thread-safe under Hypothesis's
                // lambda introspection ("AST constructor recursion depth mismatch").
                "--workers",
                "1",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let summary = text
        .lines()
        .filter(|l| l.contains("generated") || l.contains("Tested:"))
        .collect::<Vec<_>>()
        .join("; ");
    eprintln!("schemathesis: {summary}");
    assert!(
        output.status.success(),
        "schemathesis failed:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let count = |label: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(|v| v.trim().rsplit('/').next().unwrap_or("").to_owned())
    };
    let (selected, tested) = (count("Selected:"), count("Tested:"));
    assert!(
        selected.is_some() && selected == tested,
        "not every operation was tested ({selected:?} selected, {tested:?} tested):\n{text}"
    );
}
