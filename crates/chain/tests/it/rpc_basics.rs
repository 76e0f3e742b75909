//! Transfers, blocks, receipts and the read methods, through alloy's provider over HTTP.

use alloy::{
    consensus::Transaction as _,
    eips::{BlockNumberOrTag, eip2930::AccessList},
    network::TransactionBuilder,
    primitives::{Address, U256, address},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use serde_json::json;

use crate::common::{chain, hex_u64, post, provider, result};

const ACCOUNT_1: Address = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");

#[tokio::test]
async fn answers_identity_methods() {
    let handle = chain().await;
    let provider = provider(&handle, 0);
    assert_eq!(provider.get_chain_id().await.unwrap(), 31337);
    assert_eq!(provider.get_block_number().await.unwrap(), 0);
    assert_eq!(
        result(&handle, "net_version", json!([])).await,
        json!("31337")
    );
    let version = result(&handle, "web3_clientVersion", json!([])).await;
    assert!(
        version
            .as_str()
            .unwrap()
            .starts_with("anvil-compatible/agora-chain/v")
    );
    // The standard dev accounts, funded with 10,000 ETH each.
    let accounts = provider.get_accounts().await.unwrap();
    assert_eq!(accounts.len(), 10);
    assert_eq!(
        accounts[0],
        address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
    );
    assert_eq!(accounts[1], ACCOUNT_1);
    let ten_thousand_eth = U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18));
    assert_eq!(
        provider.get_balance(accounts[9]).await.unwrap(),
        ten_thousand_eth
    );
    assert_eq!(
        provider.get_gas_price().await.unwrap(),
        0,
        "zero gas price by default"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn transfers_of_every_type_are_mined_one_block_each() {
    let handle = chain().await;
    let provider = provider(&handle, 0);
    let from = handle.dev_accounts()[0].address;
    let before = provider.get_balance(ACCOUNT_1).await.unwrap();

    // EIP-1559 (the provider's default), legacy, and EIP-2930.
    let eip1559 = TransactionRequest::default()
        .with_to(ACCOUNT_1)
        .with_value(U256::from(1_000));
    let legacy = TransactionRequest::default()
        .with_to(ACCOUNT_1)
        .with_value(U256::from(2_000))
        .with_gas_price(0)
        .with_gas_limit(21_000);
    let eip2930 = TransactionRequest::default()
        .with_to(ACCOUNT_1)
        .with_value(U256::from(3_000))
        .with_gas_price(0)
        .with_gas_limit(30_000)
        .with_access_list(AccessList::default());
    let mut receipts = Vec::new();
    for request in [eip1559, legacy, eip2930] {
        let receipt = provider
            .send_transaction(request)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status());
        assert_eq!(receipt.gas_used, 21_000);
        assert_eq!(receipt.from, from);
        assert_eq!(receipt.to, Some(ACCOUNT_1));
        receipts.push(receipt);
    }
    let types: Vec<u8> = receipts.iter().map(|r| r.inner.tx_type() as u8).collect();
    assert_eq!(types, vec![2, 0, 1]);
    let numbers: Vec<u64> = receipts.iter().map(|r| r.block_number.unwrap()).collect();
    assert_eq!(
        numbers,
        vec![1, 2, 3],
        "automine: one block per transaction"
    );
    assert_eq!(
        provider.get_balance(ACCOUNT_1).await.unwrap(),
        before + U256::from(6_000)
    );
    assert_eq!(provider.get_transaction_count(from).await.unwrap(), 3);

    // The transaction and its block can be read back by hash and by number.
    let tx = provider
        .get_transaction_by_hash(receipts[1].transaction_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tx.inner.nonce(), 1);
    assert_eq!(tx.block_number, Some(2));
    assert_eq!(tx.inner.value(), U256::from(2_000));
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Number(2))
        .full()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(block.header.hash, receipts[1].block_hash.unwrap());
    assert_eq!(block.transactions.len(), 1);
    assert_eq!(block.header.gas_used, 21_000);
    let by_hash = provider
        .get_block_by_hash(block.header.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_hash.header.number, 2);
    assert_eq!(
        by_hash.header.parent_hash,
        provider
            .get_block_by_number(1.into())
            .await
            .unwrap()
            .unwrap()
            .header
            .hash
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn send_transaction_signs_for_dev_accounts() {
    let handle = chain().await;
    let from = handle.dev_accounts()[2].address;
    let hash = result(
        &handle,
        "eth_sendTransaction",
        json!([{ "from": from, "to": ACCOUNT_1, "value": "0x10" }]),
    )
    .await;
    let receipt = result(&handle, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["status"], json!("0x1"));
    assert_eq!(
        receipt["from"].as_str().unwrap(),
        from.to_string().to_lowercase()
    );
    assert_eq!(hex_u64(&receipt["gasUsed"]), 21_000);
    handle.shutdown().await;
}

#[tokio::test]
async fn answers_batches_in_order() {
    let handle = chain().await;
    let body = json!([
        { "jsonrpc": "2.0", "id": 7, "method": "eth_chainId" },
        { "jsonrpc": "2.0", "id": "b", "method": "eth_blockNumber" },
        { "jsonrpc": "2.0", "method": "eth_chainId" },
        { "jsonrpc": "2.0", "id": 9, "method": "no_such_method" },
    ]);
    let (status, answer) = post(&handle, body.to_string()).await;
    assert_eq!(status, 200);
    let answers = answer.as_array().unwrap();
    assert_eq!(
        answers.len(),
        3,
        "the notification gets no answer: {answer}"
    );
    assert_eq!(answers[0]["id"], json!(7));
    assert_eq!(answers[0]["result"], json!("0x7a69"));
    assert_eq!(answers[1]["id"], json!("b"));
    assert_eq!(answers[2]["error"]["code"], json!(-32601));
    handle.shutdown().await;
}

#[tokio::test]
async fn reports_fee_history_and_fees() {
    let handle = chain().await;
    let provider = provider(&handle, 0);
    for _ in 0..3 {
        let request = TransactionRequest::default()
            .with_to(ACCOUNT_1)
            .with_value(U256::from(1));
        provider
            .send_transaction(request)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    let history = provider
        .get_fee_history(4, BlockNumberOrTag::Latest, &[25.0, 75.0])
        .await
        .unwrap();
    assert_eq!(history.oldest_block, 0);
    assert_eq!(
        history.base_fee_per_gas.len(),
        5,
        "one per block plus the next block's"
    );
    assert_eq!(history.gas_used_ratio.len(), 4);
    assert_eq!(history.reward.as_ref().unwrap().len(), 4);
    assert!(history.gas_used_ratio[3] > 0.0);
    assert_eq!(
        result(&handle, "eth_maxPriorityFeePerGas", json!([])).await,
        json!("0x0")
    );
    handle.shutdown().await;
}
