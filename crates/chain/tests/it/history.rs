//! Reads at past blocks: the window of recent states (256 by default), what a wallet's block
//! tracker and the balance matchers of test frameworks read on an automining chain.

use agora_chain::{Config, History};
use alloy::{
    eips::BlockId,
    network::TransactionBuilder,
    primitives::{Address, U256, address},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use serde_json::json;

use crate::common::{Probe, chain, error, hex_u64, mined, provider, result};

const TO: Address = address!("0x00000000000000000000000000000000000000cc");

/// Sends `value` to `TO` and waits for its receipt.
async fn pay(provider: &alloy::providers::DynProvider, value: U256) {
    let send = TransactionRequest::default().with_to(TO).with_value(value);
    provider
        .send_transaction(send)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
}

#[tokio::test]
async fn balances_storage_code_and_calls_at_past_blocks_answer_as_they_did_then() {
    let handle = chain().await;
    let provider = provider(&handle, 0);
    let before_deploy = provider.get_block_number().await.unwrap();
    let probe = Probe::deploy(&provider).await.unwrap();
    let mut seen = Vec::new();
    for i in 1..=12u64 {
        pay(&provider, U256::from(i)).await;
        let receipt = mined!(probe.store(U256::from(7), U256::from(100 + i)));
        let block = receipt.block_number.unwrap();
        seen.push((
            block,
            provider.get_balance(TO).await.unwrap(),
            U256::from(100 + i),
        ));
    }
    let head = provider.get_block_number().await.unwrap();
    for (block, balance, stored) in &seen {
        let at = BlockId::number(*block);
        assert_eq!(
            provider.get_balance(TO).block_id(at).await.unwrap(),
            *balance
        );
        // The slot of `values[7]` (the mapping is the second variable, slot 1), and
        // `values(7)` through eth_call at that block.
        let mut key = [0u8; 64];
        key[31] = 7;
        key[63] = 1;
        let slot = U256::from_be_bytes(alloy::primitives::keccak256(key).0);
        assert_eq!(
            provider
                .get_storage_at(*probe.address(), slot)
                .block_id(at)
                .await
                .unwrap(),
            *stored
        );
        let value = probe.values(U256::from(7)).block(at).call().await.unwrap();
        assert_eq!(value, *stored, "values(7) at block {block}");
        // The block's own context: its timestamp.
        let stamp = probe.timestamp().block(at).call().await.unwrap();
        let header = provider
            .get_block_by_number((*block).into())
            .await
            .unwrap()
            .unwrap()
            .header;
        assert_eq!(stamp, U256::from(header.timestamp));
    }
    // Before its deployment the contract has no code, and its calls return nothing.
    let code = result(
        &handle,
        "eth_getCode",
        json!([probe.address(), format!("{before_deploy:#x}")]),
    )
    .await;
    assert_eq!(code, json!("0x"));
    // Nonces move back too; the head is unchanged by all these reads.
    let sender = handle.dev_accounts()[0].address;
    let nonce_then = provider
        .get_transaction_count(sender)
        .block_id(BlockId::number(before_deploy))
        .await
        .unwrap();
    assert_eq!(nonce_then, 0);
    assert_eq!(provider.get_transaction_count(sender).await.unwrap(), 25);
    assert_eq!(provider.get_block_number().await.unwrap(), head);
    handle.shutdown().await;
}

#[tokio::test]
async fn a_read_pinned_ten_blocks_behind_the_head_answers_as_a_block_tracker_expects() {
    // MetaMask's block tracker reads at the last block it saw, up to 20 s old: here ten
    // blocks behind, by number and by hash.
    let handle = chain().await;
    let provider = provider(&handle, 0);
    let mut balances = vec![provider.get_balance(TO).await.unwrap()];
    for _ in 0..10 {
        pay(&provider, U256::from(5)).await;
        balances.push(provider.get_balance(TO).await.unwrap());
    }
    let head = provider.get_block_number().await.unwrap();
    assert_eq!(head, 10);
    let pinned = provider
        .get_block_by_number(0.into())
        .await
        .unwrap()
        .unwrap();
    let by_hash = result(
        &handle,
        "eth_getBalance",
        json!([TO, { "blockHash": pinned.header.hash }]),
    )
    .await;
    assert_eq!(by_hash, json!(format!("{:#x}", balances[0])));
    for (n, expected) in balances.iter().enumerate() {
        let got = provider
            .get_balance(TO)
            .block_id(BlockId::number(n as u64))
            .await
            .unwrap();
        assert_eq!(got, *expected, "block {n}");
    }
    handle.shutdown().await;
}

#[tokio::test]
async fn the_window_is_rebuilt_after_a_restart_and_bounded_by_history() {
    let dir = tempfile::tempdir().unwrap();
    let config = || Config {
        history: History::Blocks(4),
        ..Config::test().with_data_dir(dir.path())
    };
    let handle = agora_chain::spawn(config()).await.unwrap();
    let provider = provider(&handle, 0);
    for _ in 0..8 {
        pay(&provider, U256::from(1)).await;
    }
    handle.shutdown().await;
    let handle = agora_chain::spawn(config()).await.unwrap();
    assert!(handle.restored());
    // Head 8: blocks 4..=8 are readable (four behind at most), with what they held.
    for n in 4..=8u64 {
        let balance = result(&handle, "eth_getBalance", json!([TO, format!("{n:#x}")])).await;
        assert_eq!(hex_u64(&balance), n, "block {n}");
    }
    let (code, message) = error(&handle, "eth_getBalance", json!([TO, "0x3"])).await;
    assert_eq!(code, -32000);
    assert!(
        message.contains("keeps the states of the last 4"),
        "{message}"
    );
    handle.shutdown().await;
    // An archive node reads them all, after a restart too.
    let archive = Config {
        history: History::Archive,
        ..Config::test().with_data_dir(dir.path())
    };
    let handle = agora_chain::spawn(archive).await.unwrap();
    for n in 0..=8u64 {
        let balance = result(&handle, "eth_getBalance", json!([TO, format!("{n:#x}")])).await;
        assert_eq!(hex_u64(&balance), n, "block {n}");
    }
    handle.shutdown().await;
}
