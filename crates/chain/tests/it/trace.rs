//! Tracing: `debug_traceTransaction` and `debug_traceCall` (struct logger, callTracer,
//! prestateTracer), `eth_createAccessList`; a reverted transaction can be debugged.

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    sol_types::{SolCall, SolError},
};
use serde_json::json;

use crate::common::{Probe, chain, error, provider, result};

/// Sends `data` to `to` from a dev account with its own gas limit (an estimate would refuse a
/// call that reverts) and returns the transaction's hash.
async fn send_failing(
    handle: &agora_chain::Handle,
    from: Address,
    to: Address,
    data: &[u8],
) -> serde_json::Value {
    let tx = json!({ "from": from, "to": to, "data": format!("0x{}", alloy::hex::encode(data)), "gas": "0x30000" });
    result(handle, "eth_sendTransaction", json!([tx])).await
}

#[tokio::test]
async fn a_reverted_transaction_is_traced_to_its_revert() {
    let handle = chain().await;
    let provider = provider(&handle, 0);
    let probe = Probe::deploy(&provider).await.unwrap();
    let from = handle.dev_accounts()[0].address;
    let data = Probe::failWithReasonCall {
        reason: "not the owner".into(),
    }
    .abi_encode();
    let hash = send_failing(&handle, from, *probe.address(), &data).await;
    let receipt = result(&handle, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["status"], json!("0x0"));
    let call = result(
        &handle,
        "debug_traceTransaction",
        json!([hash, { "tracer": "callTracer" }]),
    )
    .await;
    assert_eq!(call["type"], json!("CALL"));
    assert_eq!(call["error"], json!("execution reverted"));
    assert_eq!(call["revertReason"], json!("not the owner"));
    assert_eq!(call["gasUsed"], receipt["gasUsed"]);
    let steps = result(&handle, "debug_traceTransaction", json!([hash])).await;
    assert_eq!(steps["failed"], json!(true));
    let logs = steps["structLogs"].as_array().unwrap();
    assert_eq!(logs.last().unwrap()["op"], json!("REVERT"));
    assert!(logs.iter().all(|s| s["depth"] == json!(1)));
    handle.shutdown().await;
}

#[tokio::test]
async fn a_call_is_traced_without_being_sent_and_its_access_list_made() {
    let handle = chain().await;
    let provider = provider(&handle, 0);
    let probe = Probe::deploy(&provider).await.unwrap();
    let from = handle.dev_accounts()[0].address;
    let store = Probe::storeCall {
        key: U256::from(3),
        value: U256::from(4),
    }
    .abi_encode();
    let request = json!({ "from": from, "to": probe.address(), "data": format!("0x{}", alloy::hex::encode(&store)) });
    let head = provider.get_block_number().await.unwrap();
    let call = result(
        &handle,
        "debug_traceCall",
        json!([request, "latest", { "tracer": "callTracer", "tracerConfig": { "withLog": true } }]),
    )
    .await;
    assert_eq!(call["type"], json!("CALL"));
    assert_eq!(
        call["logs"].as_array().unwrap().len(),
        1,
        "the Stored event"
    );
    let prestate = result(
        &handle,
        "debug_traceCall",
        json!([request, "latest", { "tracer": "prestateTracer" }]),
    )
    .await;
    assert!(
        prestate
            .get(probe.address().to_string().to_lowercase())
            .is_some(),
        "{prestate}"
    );
    // Nothing was sent.
    assert_eq!(provider.get_block_number().await.unwrap(), head);
    let list = result(&handle, "eth_createAccessList", json!([request])).await;
    let items = list["accessList"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["storageKeys"].as_array().unwrap().len(), 1);
    assert!(list["gasUsed"].as_str().unwrap().starts_with("0x"));
    handle.shutdown().await;
}

#[tokio::test]
async fn unknown_tracers_and_transactions_are_refused_by_name() {
    let handle = chain().await;
    let (code, message) = error(
        &handle,
        "debug_traceCall",
        json!([{ "to": handle.dev_accounts()[1].address }, "latest", { "tracer": "4byteTracer" }]),
    )
    .await;
    assert_eq!(code, -32602);
    assert!(message.contains("is not supported"), "{message}");
    let (code, message) = error(
        &handle,
        "debug_traceTransaction",
        json!(["0x1111111111111111111111111111111111111111111111111111111111111111"]),
    )
    .await;
    assert_eq!(code, -32001);
    assert!(message.contains("not found"), "{message}");
    handle.shutdown().await;
}

/// Foundry's `cast run` replays a mined transaction on a fork of the block before it (reads at
/// a past block, from the window of recent states) and prints its call trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cast_run_prints_the_trace_of_a_reverted_transaction() {
    let handle = chain().await;
    let provider = provider(&handle, 0);
    let probe = Probe::deploy(&provider).await.unwrap();
    let from = handle.dev_accounts()[0].address;
    // A few blocks after the deployment, so that the fork is not of the head.
    for key in 0..3u64 {
        let call = probe.store(U256::from(key), U256::from(key + 1));
        call.send().await.unwrap().get_receipt().await.unwrap();
    }
    let data = Probe::failWithCustomCall {
        code: U256::from(77),
    }
    .abi_encode();
    let hash = send_failing(&handle, from, *probe.address(), &data)
        .await
        .as_str()
        .unwrap()
        .to_string();
    let url = handle.http_url();
    let cast = concat!(env!("CARGO_MANIFEST_DIR"), "/../../node_modules/.bin/cast");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(cast)
            .args(["run", &hash, "--rpc-url", &url])
            .env("NO_COLOR", "1")
            .env("FOUNDRY_DISABLE_NIGHTLY_WARNING", "1")
            .output()
    })
    .await
    .unwrap()
    .expect("cast runs (`npm ci` at the workspace root installs it)");
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "cast run failed:\n{out}\n{err}");
    let address = format!("{:?}", probe.address()).to_lowercase();
    assert!(
        out.to_lowercase().contains(&address),
        "the trace names the contract:\n{out}"
    );
    assert!(out.contains("Revert"), "the trace shows the revert:\n{out}");
    // The custom error's selector and arguments are in the revert data.
    let selector = alloy::hex::encode(Probe::Unauthorized::SELECTOR);
    assert!(
        out.contains(&selector) || out.contains("Unauthorized"),
        "{out}"
    );
    handle.shutdown().await;
}
