//! Third-party clients against the chain, run as the developers run them: viem and ethers
//! scripts under `tests/js/`, a Hardhat project under `tests/hardhat/`, and a page in headless
//! Chromium (Debian's `chromium`). Their packages come from the workspace's `package.json`.

use std::{path::Path, process::Command};

use agora_chain::Cors;

use crate::common::{chain, chain_with_cors};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Runs `command` on a blocking thread and returns its output, failing the test when it fails.
async fn run(mut command: Command, what: &'static str) -> String {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{what} could not start ({e}): Node 20 and `npm ci` at the workspace root are needed"));
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    assert!(output.status.success(), "{what} failed:\n{out}\n{err}");
    out
}

/// `node tests/js/<script> <args>` from the workspace root.
fn node_script(script: &str, args: &[&str]) -> Command {
    let mut command = Command::new("node");
    command
        .arg(format!("{}/tests/js/{script}", env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .current_dir(ROOT);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viem_test_client_and_a_nonce_manager_burst_work_against_the_node() {
    let handle = chain().await;
    let out = run(node_script("viem.mjs", &[&handle.http_url()]), "viem.mjs").await;
    assert!(out.contains("20 x 50 parallel sends: ok"), "{out}");
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_pinned_ten_blocks_behind_the_head_answer_as_metamasks_block_tracker_needs() {
    let handle = chain().await;
    let out = run(
        node_script("block_tracker.mjs", &[&handle.http_url()]),
        "block_tracker.mjs",
    )
    .await;
    assert!(out.contains("with the head at"), "{out}");
    handle.shutdown().await;
}

/// `hardhat test` of the project under `tests/hardhat/` on `network` (Hardhat's own, or
/// `agora` at `url`), compiled into a fresh folder.
fn hardhat_test(network: &str, url: Option<&str>, out: &Path) -> Command {
    let mut command = Command::new(format!("{ROOT}/node_modules/.bin/hardhat"));
    command
        .args(["test", "--network", network])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hardhat"))
        .env("HARDHAT_OUT_DIR", out)
        .env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
        .env("NO_COLOR", "1");
    if let Some(url) = url {
        command.env("AGORA_RPC_URL", url);
    }
    command
}

/// The count of passing tests in mocha's summary (`  8 passing (337ms)`).
fn passing(out: &str) -> usize {
    out.lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            let count = words.next()?.parse().ok()?;
            (words.next() == Some("passing")).then_some(count)
        })
        .unwrap_or_else(|| panic!("no mocha summary in:\n{out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hardhat_projects_tests_pass_against_the_node_as_on_hardhats_own_network() {
    let handle = chain().await;
    let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let url = handle.http_url();
    let against_agora = run(
        hardhat_test("agora", Some(&url), ours.path()),
        "hardhat test --network agora",
    )
    .await;
    let against_hardhat = run(
        hardhat_test("hardhat", None, theirs.path()),
        "hardhat test --network hardhat",
    )
    .await;
    assert_eq!(passing(&against_agora), 8, "{against_agora}");
    assert_eq!(passing(&against_hardhat), 8, "{against_hardhat}");
    assert!(!against_agora.contains("failing"), "{against_agora}");
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_in_chromium_reads_the_head_and_sends_a_transaction_over_http() {
    let handle = chain_with_cors(Cors::Any).await;
    let out = run(
        node_script("browser.mjs", &[&handle.http_url(), "expect-ok"]),
        "browser.mjs",
    )
    .await;
    assert!(out.contains("mined in block"), "{out}");
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_page_is_blocked_by_chromium_when_cors_is_off() {
    let handle = chain_with_cors(Cors::Off).await;
    let out = run(
        node_script("browser.mjs", &[&handle.http_url(), "expect-blocked"]),
        "browser.mjs",
    )
    .await;
    assert!(out.contains("blocked by CORS"), "{out}");
    handle.shutdown().await;
}
