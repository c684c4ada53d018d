//! The merged OpenAPI document against a real `pinit serve`, fuzzed by schemathesis (`tests/schemathesis/`:
//! the pinned version, its installer and the run): every operation, positive and negative data, a fixed seed
//! and a small example count. No answer may be a 5xx, and none may break the document (schema or content
//! type).
//!
//! Without schemathesis installed the test is skipped with a message, except under CI (`CI=true`), where that
//! is a failure: `.ci/run` installs it with `tests/schemathesis/install.sh` (testkit's `python-venv.sh`).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_off_the_document() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    let Some(python) = pinit_testkit::python::venv(&dir.join("requirements.txt")) else {
        return;
    };
    let schemathesis = python.with_file_name("schemathesis");
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
