//! The committed example apps (`examples/*/*.wasm`) are what their C sources build to.

use std::{path::PathBuf, process::Command};

const APT_LINE: &str = concat!(
    "apt-get install -y --no-install-recommends ",
    "clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc"
);

#[test]
fn committed_example_apps_match_their_sources() {
    // Never skipped: without the toolchain, the committed .wasm could not be checked.
    let clang = Command::new("clang-19").arg("--version").output();
    assert!(
        clang.is_ok_and(|out| out.status.success()),
        "clang-19 is not installed: the example apps cannot be rebuilt. Install the toolchain \
         with: {APT_LINE}"
    );

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("--check")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    assert!(
        out.status.success(),
        "examples/build.sh --check failed ({}): rebuild with examples/build.sh and commit the \
         .wasm (toolchain: {APT_LINE})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}
