//! The data directory: everything mined survives a restart.

use alloy::primitives::{TxKind, U256, address};
use serde_json::json;

use agora_chain::Config;

use crate::common::{result, signed_tx};

#[tokio::test]
async fn a_restart_keeps_blocks_receipts_state_and_clock() {
    let dir = tempfile::tempdir().unwrap();
    let to = address!("0x1000000000000000000000000000000000000001");
    let config = || Config::test().with_data_dir(dir.path());
    let handle = agora_chain::spawn(config()).await.unwrap();
    assert!(!handle.restored());
    let mut hashes = Vec::new();
    for nonce in 0..5 {
        let raw = signed_tx(
            &handle,
            0,
            nonce,
            TxKind::Call(to),
            U256::from(100 + nonce),
            21_000,
            vec![],
        );
        hashes.push(result(&handle, "eth_sendRawTransaction", json!([raw])).await);
    }
    result(&handle, "evm_increaseTime", json!([100_000])).await;
    let head = result(&handle, "eth_getBlockByNumber", json!(["latest", true])).await;
    let receipts: Vec<_> = {
        let mut v = Vec::new();
        for h in &hashes {
            v.push(result(&handle, "eth_getTransactionReceipt", json!([h])).await);
        }
        v
    };
    handle.shutdown().await;

    let handle = agora_chain::spawn(config()).await.unwrap();
    assert!(handle.restored());
    assert_eq!(handle.block_number(), 5);
    assert_eq!(
        result(&handle, "eth_getBlockByNumber", json!(["latest", true])).await,
        head
    );
    for (h, r) in hashes.iter().zip(&receipts) {
        assert_eq!(
            &result(&handle, "eth_getTransactionReceipt", json!([h])).await,
            r
        );
    }
    assert_eq!(handle.balance(to), U256::from(100 + 101 + 102 + 103 + 104));
    assert_eq!(
        result(
            &handle,
            "eth_getTransactionCount",
            json!([handle.dev_accounts()[0].address, "latest"])
        )
        .await,
        json!("0x5")
    );
    // The clock offset survived: the next block is a day later than the last.
    result(&handle, "evm_mine", json!([])).await;
    let next = result(&handle, "eth_getBlockByNumber", json!(["latest", false])).await;
    let ts = |v: &serde_json::Value| {
        u64::from_str_radix(
            v["timestamp"].as_str().unwrap().trim_start_matches("0x"),
            16,
        )
        .unwrap()
    };
    assert!(ts(&next) >= ts(&head) + 100_000);
    handle.shutdown().await;
}

#[tokio::test]
async fn a_data_dir_of_another_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let handle = agora_chain::spawn(Config::test().with_data_dir(dir.path()))
        .await
        .unwrap();
    handle.shutdown().await;
    let error = agora_chain::spawn(Config {
        chain_id: 134,
        ..Config::test().with_data_dir(dir.path())
    })
    .await
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("holds chain id 31337, but chain id 134 was asked for"),
        "{error}"
    );
}

#[tokio::test]
async fn a_torn_record_at_the_end_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let handle = agora_chain::spawn(Config::test().with_data_dir(dir.path()))
        .await
        .unwrap();
    let to = address!("0x1000000000000000000000000000000000000002");
    let raw = signed_tx(
        &handle,
        0,
        0,
        TxKind::Call(to),
        U256::from(7),
        21_000,
        vec![],
    );
    result(&handle, "eth_sendRawTransaction", json!([raw])).await;
    handle.shutdown().await;
    // Simulate a crash in the middle of writing the next record.
    let log = dir.path().join("chain.log");
    let mut bytes = std::fs::read(&log).unwrap();
    let good_len = bytes.len();
    bytes.extend_from_slice(&[200, 1, 0, 0, 1, 2, 3, 4, 5, 6]);
    std::fs::write(&log, &bytes).unwrap();
    let handle = agora_chain::spawn(Config::test().with_data_dir(dir.path()))
        .await
        .unwrap();
    assert_eq!(handle.block_number(), 1);
    assert_eq!(handle.balance(to), U256::from(7));
    assert_eq!(std::fs::metadata(&log).unwrap().len() as usize, good_len);
    handle.shutdown().await;
}
