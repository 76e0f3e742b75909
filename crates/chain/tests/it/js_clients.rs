//! Third-party JavaScript clients against the chain, run with Node (the scripts under
//! `tests/js/`, their packages from the workspace's `package.json`).

use std::process::Command;

use crate::common::chain;

fn node_script(script: &str, url: &str) -> std::process::Output {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    Command::new("node")
        .arg(format!("{}/tests/js/{script}", env!("CARGO_MANIFEST_DIR")))
        .arg(url)
        .current_dir(root)
        .output()
        .expect("node runs (Node 20, and `npm ci` at the workspace root)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viem_test_client_and_a_nonce_manager_burst_work_against_the_node() {
    let handle = chain().await;
    let url = handle.http_url();
    let output = tokio::task::spawn_blocking(move || node_script("viem.mjs", &url))
        .await
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "viem.mjs failed:\n{out}\n{err}");
    assert!(out.contains("20 x 50 parallel sends: ok"), "{out}");
    handle.shutdown().await;
}
