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
