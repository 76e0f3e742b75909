//! The test-control methods, under anvil's and Hardhat's names: state edits, snapshots and
//! reverts, mining many blocks, impersonation, the node's description.

use agora_chain::Config;
use alloy::primitives::{Address, address};
use serde_json::{Value, json};

use crate::common::{chain, error, hex_u64, result};

const WHO: Address = address!("0x00000000000000000000000000000000000000ab");

async fn balance(handle: &agora_chain::Handle, at: &str) -> u64 {
    hex_u64(&result(handle, "eth_getBalance", json!([WHO, at])).await)
}

async fn head(handle: &agora_chain::Handle) -> u64 {
    hex_u64(&result(handle, "eth_blockNumber", json!([])).await)
}

/// The nonce, code and slot 5 of `WHO` at the head.
async fn edited(handle: &agora_chain::Handle) -> (Value, Value, Value) {
    (
        result(handle, "eth_getTransactionCount", json!([WHO, "latest"])).await,
        result(handle, "eth_getCode", json!([WHO, "latest"])).await,
        result(handle, "eth_getStorageAt", json!([WHO, "0x5", "latest"])).await,
    )
}

#[tokio::test]
async fn edits_change_the_head_durably_and_leave_earlier_blocks_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let config = || Config::test().with_data_dir(dir.path());
    let handle = agora_chain::spawn(config()).await.unwrap();
    result(&handle, "anvil_setBalance", json!([WHO, "0x64"])).await;
    result(&handle, "evm_mine", json!([])).await;
    result(&handle, "hardhat_setBalance", json!([WHO, "0xc8"])).await;
    result(&handle, "anvil_setNonce", json!([WHO, "0x7"])).await;
    result(
        &handle,
        "hardhat_setCode",
        json!([WHO, "0x600160005260206000f3"]),
    )
    .await;
    let value = format!("0x{:064x}", 0x1234);
    result(&handle, "anvil_setStorageAt", json!([WHO, "0x5", value])).await;
    assert_eq!(balance(&handle, "latest").await, 200);
    assert_eq!(
        balance(&handle, "0x1").await,
        200,
        "block 1 is the head: edited"
    );
    assert_eq!(balance(&handle, "0x0").await, 0);
    result(&handle, "evm_mine", json!([])).await;
    // Block 1 as it was when mined, before the edits made on it.
    assert_eq!(balance(&handle, "0x1").await, 100);
    assert_eq!(balance(&handle, "0x2").await, 200);
    let expected = (json!("0x7"), json!("0x600160005260206000f3"), json!(value));
    assert_eq!(edited(&handle).await, expected);
    // The code runs: it returns 1.
    let out = result(&handle, "eth_call", json!([{ "to": WHO }])).await;
    assert_eq!(out, json!(format!("0x{:064x}", 1)));
    handle.shutdown().await;
    // A restart keeps every edit (they are in the block log).
    let handle = agora_chain::spawn(config()).await.unwrap();
    assert_eq!(edited(&handle).await, expected);
    assert_eq!(balance(&handle, "latest").await, 200);
    assert_eq!(balance(&handle, "0x1").await, 100);
    handle.shutdown().await;
}

#[tokio::test]
async fn a_revert_undoes_blocks_edits_and_transactions_and_uses_the_snapshot_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = || Config::test().with_data_dir(dir.path());
    let handle = agora_chain::spawn(config()).await.unwrap();
    let from = handle.dev_accounts()[0].address;
    result(&handle, "anvil_setBalance", json!([WHO, "0x1"])).await;
    let first = result(&handle, "evm_snapshot", json!([])).await;
    assert_eq!(
        first,
        json!("0x1"),
        "ids start at 1 (never a falsy 0 in JavaScript)"
    );
    let start = head(&handle).await;
    let hash = result(
        &handle,
        "eth_sendTransaction",
        json!([{ "from": from, "to": WHO, "value": "0x10" }]),
    )
    .await;
    let second = result(&handle, "evm_snapshot", json!([])).await;
    result(&handle, "anvil_setBalance", json!([WHO, "0x999"])).await;
    result(&handle, "anvil_mine", json!(["0x5"])).await;
    assert_eq!(head(&handle).await, start + 6);
    // Back to the second: the transaction stays, the edit and the five blocks go.
    assert_eq!(
        result(&handle, "evm_revert", json!([second])).await,
        json!(true)
    );
    assert_eq!(head(&handle).await, start + 1);
    assert_eq!(balance(&handle, "latest").await, 0x11);
    // Back to the first: the transaction goes too, and its receipt with it.
    assert_eq!(
        result(&handle, "evm_revert", json!([first])).await,
        json!(true)
    );
    assert_eq!(head(&handle).await, start);
    assert_eq!(balance(&handle, "latest").await, 1);
    let receipt = result(&handle, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt, Value::Null);
    // A snapshot is used up by its revert, and later ones with it.
    assert_eq!(
        result(&handle, "evm_revert", json!([first])).await,
        json!(false)
    );
    assert_eq!(
        result(&handle, "evm_revert", json!([second])).await,
        json!(false)
    );
    // The same transaction can be sent again: its nonce is free.
    let again = result(
        &handle,
        "eth_sendTransaction",
        json!([{ "from": from, "to": WHO, "value": "0x10" }]),
    )
    .await;
    assert_eq!(again, hash);
    handle.shutdown().await;
    // The log was cut back too: a restart sees the reverted timeline.
    let handle = agora_chain::spawn(config()).await.unwrap();
    assert_eq!(head(&handle).await, start + 1);
    assert_eq!(balance(&handle, "latest").await, 0x11);
    handle.shutdown().await;
}

#[tokio::test]
async fn anvil_mine_mines_a_count_of_blocks_an_interval_apart() {
    let handle = chain().await;
    result(&handle, "anvil_mine", json!(["0x3"])).await;
    assert_eq!(head(&handle).await, 3);
    result(&handle, "hardhat_mine", json!(["0x4", "0x3c"])).await;
    assert_eq!(head(&handle).await, 7);
    let stamp = |n: u64| {
        let handle = &handle;
        async move {
            let block = result(
                handle,
                "eth_getBlockByNumber",
                json!([format!("{n:#x}"), false]),
            )
            .await;
            hex_u64(&block["timestamp"])
        }
    };
    for n in 5..=7 {
        assert_eq!(stamp(n).await - stamp(n - 1).await, 60, "block {n}");
    }
    // The first block of the run is an interval after its parent as well (anvil's order).
    assert!(stamp(4).await - stamp(3).await >= 60);
    // No count: one block. A count that would take hours is refused, not mined as a date.
    result(&handle, "anvil_mine", json!([])).await;
    assert_eq!(head(&handle).await, 8);
    let (code, message) = error(&handle, "anvil_mine", json!(["0x80000000"])).await;
    assert_eq!(code, -32602);
    assert!(message.contains("more than the 100000 blocks"), "{message}");
    assert_eq!(head(&handle).await, 8);
    handle.shutdown().await;
}

#[tokio::test]
async fn an_impersonated_address_sends_without_its_key_until_stopped() {
    let handle = chain().await;
    result(
        &handle,
        "anvil_setBalance",
        json!([WHO, "0xde0b6b3a7640000"]),
    )
    .await;
    let send = json!([{ "from": WHO, "to": handle.dev_accounts()[0].address, "value": "0x1" }]);
    let (_, refused) = error(&handle, "eth_sendTransaction", send.clone()).await;
    assert!(refused.contains("unknown account"), "{refused}");
    assert_eq!(
        result(&handle, "hardhat_impersonateAccount", json!([WHO])).await,
        json!(true)
    );
    let hash = result(&handle, "eth_sendTransaction", send.clone()).await;
    let receipt = result(&handle, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["status"], json!("0x1"));
    assert_eq!(
        receipt["from"].as_str().unwrap().to_lowercase(),
        format!("{WHO:#x}")
    );
    result(&handle, "anvil_stopImpersonatingAccount", json!([WHO])).await;
    let (_, refused) = error(&handle, "eth_sendTransaction", send).await;
    assert!(refused.contains("anvil_impersonateAccount"), "{refused}");
    handle.shutdown().await;
}

#[tokio::test]
async fn the_node_describes_itself_as_hardhat_and_anvil_clients_expect() {
    let handle = chain().await;
    for method in ["hardhat_metadata", "anvil_nodeInfo", "anvil_metadata"] {
        let meta = result(&handle, method, json!([])).await;
        assert_eq!(meta["chainId"], json!(31337), "{method}");
        assert!(
            meta["clientVersion"]
                .as_str()
                .unwrap()
                .starts_with("anvil-compatible/agora-chain/v")
        );
        assert!(meta["instanceId"].is_string());
        assert_eq!(meta["latestBlockNumber"], json!(0));
    }
    handle.shutdown().await;
}

#[tokio::test]
async fn automine_off_queues_transactions_until_evm_mine_puts_them_in_one_block() {
    let handle = chain().await;
    let from = handle.dev_accounts()[0].address;
    assert_eq!(
        result(&handle, "hardhat_getAutomine", json!([])).await,
        json!(true)
    );
    result(&handle, "evm_setAutomine", json!([false])).await;
    assert_eq!(
        result(&handle, "anvil_getAutomine", json!([])).await,
        json!(false)
    );
    let mut hashes = Vec::new();
    for _ in 0..3 {
        let send = json!([{ "from": from, "to": WHO, "value": "0x1" }]);
        hashes.push(result(&handle, "eth_sendTransaction", send).await);
    }
    assert_eq!(head(&handle).await, 0, "nothing mined yet");
    let status = result(&handle, "txpool_status", json!([])).await;
    assert_eq!(status["pending"], json!("0x3"));
    result(&handle, "evm_mine", json!([])).await;
    assert_eq!(head(&handle).await, 1);
    let block = result(&handle, "eth_getBlockByNumber", json!(["0x1", false])).await;
    assert_eq!(
        block["transactions"],
        json!(hashes),
        "all three in one block, in order"
    );
    // Back on: a transaction is mined as it arrives.
    result(&handle, "evm_setAutomine", json!([true])).await;
    let send = json!([{ "from": from, "to": WHO, "value": "0x1" }]);
    let hash = result(&handle, "eth_sendTransaction", send).await;
    let receipt = result(&handle, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["blockNumber"], json!("0x2"));
    handle.shutdown().await;
}

#[tokio::test]
async fn the_pending_block_is_the_next_one_with_what_waits() {
    let handle = chain().await;
    let from = handle.dev_accounts()[0].address;
    result(&handle, "evm_setAutomine", json!([false])).await;
    let send = json!([{ "from": from, "to": WHO, "value": "0x1" }]);
    let hash = result(&handle, "eth_sendTransaction", send).await;
    let head_block = result(&handle, "eth_getBlockByNumber", json!(["latest", false])).await;
    let pending = result(&handle, "eth_getBlockByNumber", json!(["pending", false])).await;
    assert_eq!(pending["number"], json!("0x1"), "head + 1");
    assert_eq!(pending["parentHash"], head_block["hash"]);
    assert_eq!(pending["hash"], Value::Null);
    assert_eq!(pending["transactions"], json!([hash]));
    assert!(hex_u64(&pending["timestamp"]) >= hex_u64(&head_block["timestamp"]));
    handle.shutdown().await;
}

#[tokio::test]
async fn state_overrides_change_one_call_and_nothing_else() {
    let handle = chain().await;
    // Code that returns 1, at an address with none; a balance for a sender with none.
    let code = "0x600160005260206000f3";
    let overrides = json!({ WHO.to_string(): { "code": code, "stateDiff": { format!("0x{:064x}", 5): format!("0x{:064x}", 9) } } });
    let out = result(
        &handle,
        "eth_call",
        json!([{ "to": WHO }, "latest", overrides]),
    )
    .await;
    assert_eq!(out, json!(format!("0x{:064x}", 1)));
    assert_eq!(
        result(&handle, "eth_getCode", json!([WHO, "latest"])).await,
        json!("0x"),
        "nothing stored"
    );
    let poor = address!("0x00000000000000000000000000000000000000ee");
    let send = json!({ "from": poor, "to": WHO, "value": "0xde0b6b3a7640000" });
    let (_, refused) = error(&handle, "eth_estimateGas", json!([send])).await;
    assert!(refused.contains("funds"), "{refused}");
    let rich = json!({ poor.to_string(): { "balance": "0x56bc75e2d63100000" } });
    let gas = result(&handle, "eth_estimateGas", json!([send, "latest", rich])).await;
    assert_eq!(hex_u64(&gas), 21_000);
    handle.shutdown().await;
}
