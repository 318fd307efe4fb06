//! Python tools of the tests (schemathesis, emnify's SDK, scim2-tester), each in a virtual
//! environment of its own under `target/`, made from a pinned requirements file when
//! missing (`.ci/run` makes them first).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The virtual environment `target/{name}`, made and filled from `requirements` unless
/// `ready` (a file in it, relative to it, or a Python import that must succeed) says it is.
pub fn venv(name: &str, requirements: &Path, ready: Ready<'_>) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let venv = target.join(name);
    let python = venv.join("bin/python");
    let is_ready = match ready {
        Ready::File(f) => venv.join(f).exists(),
        Ready::Imports(code) => Command::new(&python)
            .args(["-c", code])
            .output()
            .is_ok_and(|o| o.status.success()),
    };
    if !is_ready {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 is needed for the tests' Python tools");
        assert!(made.success(), "python3 -m venv failed");
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "-r"])
            .arg(requirements)
            .status()
            .expect("pip runs");
        assert!(
            installed.success(),
            "pip could not install {}",
            requirements.display()
        );
    }
    venv
}

/// How to tell that a virtual environment is ready.
#[derive(Debug, Clone, Copy)]
pub enum Ready<'a> {
    /// This file exists in it.
    File(&'a str),
    /// This Python code (imports) runs in it.
    Imports(&'a str),
}
