//! WebSocket: the same calls as HTTP, plus subscriptions.

use alloy::{
    primitives::U256,
    providers::{Provider, ProviderBuilder, WsConnect},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use tokio_stream::StreamExt;

use crate::common::{Probe, chain, mined, provider};

#[tokio::test]
async fn new_heads_and_logs_arrive_over_websocket() {
    let handle = chain().await;
    let ws = ProviderBuilder::new()
        .connect_ws(WsConnect::new(handle.ws_url()))
        .await
        .unwrap();
    assert_eq!(ws.get_chain_id().await.unwrap(), 31337);

    let http = provider(&handle, 0);
    let probe = Probe::deploy(&http).await.unwrap();
    let mut heads = ws.subscribe_blocks().await.unwrap().into_stream();
    let mut logs = ws
        .subscribe_logs(
            &Filter::new()
                .address(*probe.address())
                .event_signature(Probe::Ping::SIGNATURE_HASH),
        )
        .await
        .unwrap()
        .into_stream();

    mined!(probe.ping(U256::from(2)));
    mined!(probe.store(U256::from(1), U256::from(1)));

    let timeout = std::time::Duration::from_secs(10);
    let first = tokio::time::timeout(timeout, heads.next())
        .await
        .unwrap()
        .unwrap();
    let second = tokio::time::timeout(timeout, heads.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.number, first.number + 1);
    assert_eq!(second.parent_hash, first.hash);
    for expected in 0..2u64 {
        let log = tokio::time::timeout(timeout, logs.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            log.log_decode::<Probe::Ping>().unwrap().inner.data.n,
            U256::from(expected)
        );
    }
    // The Stored event does not match the filter: nothing more arrives.
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), logs.next())
            .await
            .is_err()
    );
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transactions_sent_back_to_back_on_one_socket_keep_their_order() {
    let handle = chain().await;
    let ws = ProviderBuilder::new()
        .connect_ws(WsConnect::new(handle.ws_url()))
        .await
        .unwrap();
    let to = alloy::primitives::Address::repeat_byte(7);
    let raws: Vec<_> = (0..200)
        .map(|nonce| {
            crate::common::signed_tx(
                &handle,
                3,
                nonce,
                alloy::primitives::TxKind::Call(to),
                U256::from(1),
                21_000,
                vec![],
            )
        })
        .collect();
    // All the requests are written to the socket before any answer comes back.
    let sends = raws.iter().map(|raw| ws.send_raw_transaction(raw));
    let results = futures::future::join_all(sends).await;
    for (nonce, result) in results.into_iter().enumerate() {
        assert!(result.is_ok(), "nonce {nonce}: {:?}", result.err());
    }
    assert_eq!(ws.get_balance(to).await.unwrap(), U256::from(200));
    handle.shutdown().await;
}

#[tokio::test]
async fn new_pending_transactions_arrive_as_hashes_over_websocket() {
    let handle = chain().await;
    let ws = ProviderBuilder::new()
        .connect_ws(WsConnect::new(handle.ws_url()))
        .await
        .unwrap();
    let mut pending = ws
        .subscribe_pending_transactions()
        .await
        .unwrap()
        .into_stream();
    let http = provider(&handle, 0);
    let probe = Probe::deploy(&http).await.unwrap();
    let receipt = mined!(probe.store(U256::from(1), U256::from(2)));
    let timeout = std::time::Duration::from_secs(10);
    let mut seen = Vec::new();
    for _ in 0..2 {
        let hash = tokio::time::timeout(timeout, pending.next())
            .await
            .unwrap()
            .unwrap();
        seen.push(hash);
    }
    assert_eq!(
        seen[1], receipt.transaction_hash,
        "the deployment, then the store"
    );
    handle.shutdown().await;
}
