//! Test-only Python packages (independent implementations used as oracles, tools such as schemathesis), pinned
//! in a requirements file and installed into a virtual environment by `python-venv.sh` (this crate's directory).
//! `.ci/run` installs every one before the suite; elsewhere a test whose environment is missing is skipped with
//! the command that installs it — except under CI (`CI=true`), where that is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The script that makes the environments.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python-venv.sh")
}

/// Whether the tests run under CI (`CI=true` or `CI=1`).
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The `python` of the environment for `requirements`, or `None` (after saying why) when it is not installed
/// and the tests do not run under CI.
pub fn venv(requirements: &Path) -> Option<PathBuf> {
    let check = Command::new("bash")
        .arg(script())
        .arg("--check")
        .arg(requirements)
        .output()
        .expect("run bash");
    if check.status.success() {
        return Some(PathBuf::from(String::from_utf8_lossy(&check.stdout).trim()));
    }
    let install = format!("bash {} {}", script().display(), requirements.display());
    assert!(
        !on_ci(),
        "the Python environment for {} is missing and CI=true: .ci/run must run `{install}` first",
        requirements.display()
    );
    eprintln!(
        "SKIPPED: the Python packages of {} are not installed; `{install}` installs them (from PyPI, once)",
        requirements.display()
    );
    None
}

/// Runs `script` with the environment of `requirements`, `request` as JSON on its stdin, and reads one JSON
/// answer from its stdout (`None`, after saying why, when the environment is missing outside CI). A script
/// that fails fails the test with its stderr.
pub fn run_json(
    requirements: &Path,
    script: &Path,
    request: &serde_json::Value,
) -> Option<serde_json::Value> {
    use std::io::Write;
    use std::process::Stdio;

    let python = venv(requirements)?;
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write the request");
    let out = child.wait_with_output().expect("python ends");
    assert!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("one JSON answer on stdout"))
}
