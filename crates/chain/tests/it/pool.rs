//! The pool: a transaction whose nonce is ahead of its sender's next one waits until the gap is
//! filled, as concurrent senders (viem's nonceManager) need.

use alloy::primitives::{Address, TxKind, U256, address};
use serde_json::json;

use crate::common::{chain, error, hex_u64, result, signed_tx};

const TO: Address = address!("0x00000000000000000000000000000000000000dd");

#[tokio::test]
async fn transactions_sent_out_of_nonce_order_all_get_mined_in_order() {
    let handle = chain().await;
    let sender = handle.dev_accounts()[3].address;
    // Twenty transactions, nonces 0..20, sent all at once in reverse order.
    let raws: Vec<_> = (0..20u64)
        .map(|n| {
            signed_tx(
                &handle,
                3,
                n,
                TxKind::Call(TO),
                U256::from(n + 1),
                21_000,
                vec![],
            )
        })
        .collect();
    let sends = raws.iter().rev().map(|raw| {
        let handle = &handle;
        async move { result(handle, "eth_sendRawTransaction", json!([raw])).await }
    });
    let hashes = futures::future::join_all(sends).await;
    for hash in &hashes {
        let receipt = crate::common::eventually(
            std::time::Duration::from_secs(10),
            "the receipt",
            || async {
                Some(result(&handle, "eth_getTransactionReceipt", json!([hash])).await)
                    .filter(|r| !r.is_null())
            },
        )
        .await;
        assert_eq!(receipt["status"], json!("0x1"));
    }
    let nonce = result(
        &handle,
        "eth_getTransactionCount",
        json!([sender, "latest"]),
    )
    .await;
    assert_eq!(hex_u64(&nonce), 20);
    let balance = result(&handle, "eth_getBalance", json!([TO, "latest"])).await;
    assert_eq!(hex_u64(&balance), (1..=20).sum::<u64>());
    let status = result(&handle, "txpool_status", json!([])).await;
    assert_eq!(status, json!({ "pending": "0x0", "queued": "0x0" }));
    handle.shutdown().await;
}

/// Dev account 4 sends 1 wei to `TO` with `nonce`, signed.
fn one_wei(handle: &agora_chain::Handle, nonce: u64) -> alloy::primitives::Bytes {
    signed_tx(
        handle,
        4,
        nonce,
        TxKind::Call(TO),
        U256::from(1),
        21_000,
        vec![],
    )
}

#[tokio::test]
async fn waiting_transactions_show_in_txpool_content_and_the_pool_is_bounded() {
    let handle = chain().await;
    let sender = handle.dev_accounts()[4].address;
    for n in 1..=64u64 {
        let raw = one_wei(&handle, n);
        result(&handle, "eth_sendRawTransaction", json!([raw])).await;
    }
    let content = result(&handle, "txpool_content", json!([])).await;
    let queued = &content["queued"][sender.to_checksum(None)];
    assert_eq!(queued.as_object().unwrap().len(), 64);
    assert_eq!(queued["1"]["nonce"], json!("0x1"));
    assert_eq!(queued["1"]["blockHash"], json!(null));
    // The 65th waiting transaction of one sender is refused, naming the missing nonce.
    let raw = one_wei(&handle, 65);
    let (code, message) = error(&handle, "eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(code, -32000);
    assert!(message.starts_with("txpool is full"), "{message}");
    assert!(
        message.contains("send the missing nonce 0 first"),
        "{message}"
    );
    // Nonce 0 lets all 64 through.
    let raw = one_wei(&handle, 0);
    result(&handle, "eth_sendRawTransaction", json!([raw])).await;
    crate::common::eventually(std::time::Duration::from_secs(10), "all mined", || async {
        let nonce = result(
            &handle,
            "eth_getTransactionCount",
            json!([sender, "latest"]),
        )
        .await;
        (hex_u64(&nonce) == 65).then_some(())
    })
    .await;
    handle.shutdown().await;
}
