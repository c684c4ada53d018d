//! The merged OpenAPI document against a real `pinit serve`, fuzzed by schemathesis (`tests/schemathesis/`:
//! the pinned version, its installer and the run): every operation, positive and negative data, a fixed seed
//! and a small example count. No answer may be a 5xx, and none may break the document (schema or content
//! type).
//!
//! Without schemathesis installed the test is skipped with a message, except under CI (`CI=true`), where that
//! is a failure: `.ci/run` installs it with `tests/schemathesis/install.sh`.

use std::path::PathBuf;
use std::process::Command;

fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_off_the_document() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    let check = Command::new("bash")
        .arg(dir.join("install.sh"))
        .arg("--check")
        .output()
        .expect("run bash");
    if !check.status.success() {
        let install = format!("bash {}", dir.join("install.sh").display());
        assert!(
            !on_ci(),
            "schemathesis is not installed and CI=true: .ci/run must run `{install}` first"
        );
        eprintln!(
            "SKIPPED: schemathesis is not installed; `{install}` installs it (from PyPI, once)"
        );
        return;
    }
    let schemathesis = String::from_utf8_lossy(&check.stdout).trim().to_owned();
    let status = Command::new("bash")
        .arg(dir.join("run.sh"))
        .arg(env!("CARGO_BIN_EXE_pinit"))
        .env("SCHEMATHESIS", &schemathesis)
        .status()
        .expect("run tests/schemathesis/run.sh");
    assert!(
        status.success(),
        "schemathesis found problems (see its report above; `bash {}` reproduces the run)",
        dir.join("run.sh").display()
    );
}
