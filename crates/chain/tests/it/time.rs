//! Timestamps: the wall clock, moved forward on request; interval mining.

use std::time::Duration;

use agora_chain::Config;
use serde_json::json;

use crate::common::{chain, eventually, hex_u64, result};

async fn head_timestamp(handle: &agora_chain::Handle) -> u64 {
    let block = result(handle, "eth_getBlockByNumber", json!(["latest", false])).await;
    hex_u64(&block["timestamp"])
}

#[tokio::test]
async fn blocks_follow_the_wall_clock() {
    let handle = chain().await;
    result(&handle, "evm_mine", json!([])).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ts = head_timestamp(&handle).await;
    assert!(
        ts.abs_diff(now) <= 2,
        "block timestamp {ts} should be close to now {now}"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn increase_time_moves_the_next_blocks_forward() {
    let handle = chain().await;
    result(&handle, "evm_mine", json!([])).await;
    let before = head_timestamp(&handle).await;
    let offset = result(&handle, "evm_increaseTime", json!([3600])).await;
    assert!(hex_u64(&offset) >= 3600);
    result(&handle, "evm_mine", json!([])).await;
    let after = head_timestamp(&handle).await;
    assert!(
        after >= before + 3600,
        "{after} should be an hour after {before}"
    );
    assert!(after <= before + 3600 + 3);
    // Later blocks keep the offset.
    result(&handle, "evm_mine", json!([])).await;
    assert!(head_timestamp(&handle).await >= after);
    handle.shutdown().await;
}

#[tokio::test]
async fn set_next_block_timestamp_is_exact_and_refuses_the_past() {
    let handle = chain().await;
    let target = head_timestamp(&handle).await + 86_400;
    result(&handle, "evm_setNextBlockTimestamp", json!([target])).await;
    result(&handle, "evm_mine", json!([])).await;
    assert_eq!(head_timestamp(&handle).await, target);
    // evm_mine with a timestamp, as a hex quantity.
    result(&handle, "evm_mine", json!([format!("{:#x}", target + 10)])).await;
    assert_eq!(head_timestamp(&handle).await, target + 10);
    let (code, message) =
        crate::common::error(&handle, "evm_setNextBlockTimestamp", json!([target - 100])).await;
    assert_eq!(code, -32602);
    assert!(message.contains("before the head block"), "{message}");
    assert_eq!(
        hex_u64(&result(&handle, "eth_blockNumber", json!([])).await),
        2
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn interval_mining_groups_transactions_in_one_block() {
    let handle = agora_chain::spawn(Config::test().with_block_time(Duration::from_millis(500)))
        .await
        .unwrap();
    let to = handle.dev_accounts()[1].address;
    let mut hashes = Vec::new();
    for account in &handle.dev_accounts()[2..5] {
        let hash = result(
            &handle,
            "eth_sendTransaction",
            json!([{ "from": account.address, "to": to, "value": "0x1", "gas": "0x5208" }]),
        )
        .await;
        hashes.push(hash);
    }
    let mut blocks = Vec::new();
    for hash in &hashes {
        let receipt = eventually(Duration::from_secs(5), "the receipt", || async {
            let receipt = result(&handle, "eth_getTransactionReceipt", json!([hash])).await;
            (!receipt.is_null()).then_some(receipt)
        })
        .await;
        blocks.push(receipt["blockNumber"].clone());
    }
    assert!(
        blocks.windows(2).all(|w| w[0] == w[1]),
        "one block for all: {blocks:?}"
    );
    // Empty blocks keep coming on the interval.
    let first = handle.block_number();
    eventually(Duration::from_secs(5), "an empty block", || async {
        (handle.block_number() > first).then_some(())
    })
    .await;
    handle.shutdown().await;
}

/// A contract that reverts while `block.timestamp` is before `at`, as a claim does before a
/// task's final deadline: its creation code.
fn not_before(at: u64) -> String {
    // Runtime: PUSH8 at, TIMESTAMP, LT, PUSH1 15, JUMPI, STOP, JUMPDEST, PUSH0, PUSH0, REVERT.
    let runtime = format!("67{at:016x}4210600f57005b5f5ffd");
    // Creation (9 bytes): PUSH1 19, DUP1, PUSH1 9, PUSH0, CODECOPY, PUSH0, RETURN.
    format!("0x60138060095f395ff3{runtime}")
}

#[tokio::test]
async fn estimate_gas_without_a_block_runs_in_the_pending_blocks_context() {
    let handle = chain().await;
    let deadline = head_timestamp(&handle).await + 1_000;
    let from = handle.dev_accounts()[0].address;
    let hash = result(
        &handle,
        "eth_sendTransaction",
        json!([{ "from": from, "data": not_before(deadline) }]),
    )
    .await;
    let receipt = result(&handle, "eth_getTransactionReceipt", json!([hash])).await;
    let contract = receipt["contractAddress"].clone();
    assert!(contract.is_string(), "{receipt}");
    // The next block is at the deadline; the head is still before it (an idle chain).
    result(&handle, "evm_setNextBlockTimestamp", json!([deadline])).await;
    let call = json!({ "from": from, "to": contract });
    // No block: the estimate is for a transaction sent now, mined at the deadline.
    let gas = result(&handle, "eth_estimateGas", json!([call])).await;
    assert!(hex_u64(&gas) >= 21_000, "{gas}");
    // "pending" says the same; "latest" named explicitly runs at the head's time and reverts.
    result(&handle, "eth_estimateGas", json!([call, "pending"])).await;
    let (code, message) =
        crate::common::error(&handle, "eth_estimateGas", json!([call, "latest"])).await;
    assert_eq!(code, 3, "{message}");
    // eth_call keeps `latest` as its default, as go-ethereum and anvil do.
    let (code, _) = crate::common::error(&handle, "eth_call", json!([call])).await;
    assert_eq!(code, 3);
    // The transaction itself succeeds at the deadline.
    let hash = result(&handle, "eth_sendTransaction", json!([call])).await;
    let receipt = result(&handle, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["status"], json!("0x1"));
    handle.shutdown().await;
}
