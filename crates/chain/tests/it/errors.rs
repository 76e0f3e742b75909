//! Bad input gets the standard error code and a message that names the problem; the node keeps
//! serving and nothing changes.

use alloy::primitives::{Address, TxKind, U256, address};
use serde_json::{Value, json};

use crate::common::{call, chain, error, hex_u64, post, result, signed_tx};

const TO: Address = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");

/// Block number and the two balances involved: what must not change after a refusal.
async fn snapshot(handle: &agora_chain::Handle) -> (u64, U256, U256) {
    (
        handle.block_number(),
        handle.balance(handle.dev_accounts()[0].address),
        handle.balance(TO),
    )
}

#[tokio::test]
async fn malformed_requests_get_json_rpc_errors() {
    let handle = chain().await;
    let before = snapshot(&handle).await;
    let cases: &[(&str, i64, &str)] = &[
        ("{\"jsonrpc\":\"2.0\",", -32700, "parse error"),
        ("42", -32600, "expected a JSON object"),
        ("[]", -32600, "empty batch"),
        (
            r#"{"jsonrpc":"2.0","id":1}"#,
            -32600,
            "\"method\" is missing",
        ),
        (
            r#"{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}"#,
            -32600,
            "\"jsonrpc\" must be \"2.0\"",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            -32600,
            "\"method\" must be a string",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_nope"}"#,
            -32601,
            "eth_nope does not exist",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":{"a":1}}"#,
            -32602,
            "positional",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x12"]}"#,
            -32602,
            "argument 0 (address)",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[]}"#,
            -32602,
            "missing value for required argument 0",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[1,2,3]}"#,
            -32602,
            "too many arguments",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["soon",false]}"#,
            -32602,
            "argument 0 (block number)",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0xzz"]}"#,
            -32602,
            "argument 0 (signed transaction)",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x02ff"]}"#,
            -32602,
            "failed to decode signed transaction",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x04c0"]}"#,
            -32602,
            "transaction type 4 not supported",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}"#,
            -32601,
            "needs a WebSocket",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_getFilterChanges","params":["0x99"]}"#,
            -32000,
            "filter not found",
        ),
    ];
    for (body, code, needle) in cases {
        let (status, answer) = post(&handle, body.to_string()).await;
        assert_eq!(status, 200, "{body}");
        let err = &answer["error"];
        assert_eq!(err["code"], json!(code), "{body} -> {answer}");
        assert!(
            err["message"].as_str().unwrap().contains(needle),
            "{body}: {answer} should mention {needle:?}"
        );
    }
    assert_eq!(snapshot(&handle).await, before);
    // Still serving.
    assert_eq!(
        result(&handle, "eth_chainId", json!([])).await,
        json!("0x7a69")
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn oversized_requests_are_refused() {
    let handle = chain().await;
    // A body above the 16 MiB limit.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"web3_sha3","params":["0x{}"]}}"#,
        "ab".repeat(9 * 1024 * 1024)
    );
    let (status, answer) = post(&handle, huge).await;
    assert_eq!(status, 413);
    assert_eq!(answer["error"]["code"], json!(-32005));
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeds the limit")
    );
    // A transaction above 128 KiB.
    let raw = signed_tx(
        &handle,
        0,
        0,
        TxKind::Call(TO),
        U256::ZERO,
        30_000_000,
        vec![1; 140 * 1024],
    );
    let (code, message) = error(&handle, "eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(code, -32005);
    assert!(message.contains("oversized data"), "{message}");
    // A batch above the limit of 1000 calls.
    let batch: Vec<Value> = (0..1001)
        .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"eth_chainId"}))
        .collect();
    let (_, answer) = post(&handle, Value::Array(batch).to_string()).await;
    assert_eq!(answer["error"]["code"], json!(-32005));
    // Reward percentiles above geth's limit of 100: each would add a number per block.
    let percentiles: Vec<f64> = (0..101).map(|i| f64::from(i) * 0.99).collect();
    let (code, message) = error(&handle, "eth_feeHistory", json!([1, "latest", percentiles])).await;
    assert_eq!(code, -32602);
    assert!(
        message.contains("101 reward percentiles: at most 100"),
        "{message}"
    );
    let percentiles: Vec<f64> = (0..100).map(f64::from).collect();
    let fees = result(&handle, "eth_feeHistory", json!([1, "latest", percentiles])).await;
    assert_eq!(fees["reward"][0].as_array().map(Vec::len), Some(100));
    assert_eq!(handle.block_number(), 0);
    handle.shutdown().await;
}

/// The next text message of `socket`, as JSON.
async fn next_text<S>(socket: &mut S) -> Value
where
    S: futures::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures::StreamExt;
    while let Some(message) = socket.next().await {
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message.expect("a message") {
            return serde_json::from_str(&text).unwrap();
        }
    }
    panic!("the socket closed without an answer");
}

#[tokio::test]
async fn an_oversized_websocket_message_is_answered_and_the_socket_goes_on() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

    let handle = chain().await;
    let (mut socket, _) = tokio_tungstenite::connect_async(handle.ws_url())
        .await
        .expect("websocket");
    // Over the node's 16 MiB limit, and under the client's own (64 MiB).
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"web3_sha3","params":["0x{}"]}}"#,
        "ab".repeat(17 * 512 * 1024)
    );
    socket.send(Message::text(huge)).await.expect("send");
    let answer = next_text(&mut socket).await;
    assert_eq!(answer["error"]["code"], json!(-32005), "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeds the limit of 16777216 bytes"),
        "{answer}"
    );
    // The socket still serves.
    socket
        .send(Message::text(
            r#"{"jsonrpc":"2.0","id":2,"method":"eth_chainId"}"#,
        ))
        .await
        .expect("send");
    assert_eq!(next_text(&mut socket).await["result"], json!("0x7a69"));
    // Past four times the limit the node stops reading: an error and a close frame, not a
    // silent drop (when the peer reads them before the connection goes).
    let _ = socket
        .send(Message::text("x".repeat(65 * 1024 * 1024)))
        .await;
    let mut close = None;
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Close(frame) = message {
            close = frame;
            break;
        }
    }
    if let Some(close) = close {
        assert_eq!(close.code, CloseCode::Size);
    }
    // The node goes on serving.
    assert_eq!(
        result(&handle, "eth_chainId", json!([])).await,
        json!("0x7a69")
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn invalid_transactions_are_refused_without_changing_state() {
    let handle = chain().await;
    let one = U256::from(1);
    // One good transaction, so that nonce 0 is used.
    let good = signed_tx(&handle, 0, 0, TxKind::Call(TO), one, 21_000, vec![]);
    result(&handle, "eth_sendRawTransaction", json!([good])).await;
    let before = snapshot(&handle).await;

    let low = signed_tx(&handle, 0, 0, TxKind::Call(TO), one, 21_000, vec![]);
    let (code, message) = error(&handle, "eth_sendRawTransaction", json!([low])).await;
    assert_eq!(code, -32000);
    // The same bytes as the mined transaction: refused by their nonce, as anvil and geth do
    // (ethers reads "already known" for a mined transaction as an error it cannot coalesce).
    assert_eq!(message, "nonce too low: next nonce 1, tx nonce 0");
    let low = signed_tx(
        &handle,
        0,
        0,
        TxKind::Call(TO),
        U256::from(2),
        21_000,
        vec![],
    );
    let (_, message) = error(&handle, "eth_sendRawTransaction", json!([low])).await;
    assert_eq!(message, "nonce too low: next nonce 1, tx nonce 0");

    // A nonce ahead of the next one is not refused: it waits in the pool for the gap.
    let high = signed_tx(&handle, 0, 5, TxKind::Call(TO), one, 21_000, vec![]);
    result(&handle, "eth_sendRawTransaction", json!([high])).await;
    let status = result(&handle, "txpool_status", json!([])).await;
    assert_eq!(status["queued"], json!("0x1"));

    let rich = U256::from(10u64).pow(U256::from(30));
    let poor = signed_tx(&handle, 0, 1, TxKind::Call(TO), rich, 21_000, vec![]);
    let (_, message) = error(&handle, "eth_sendRawTransaction", json!([poor])).await;
    assert!(
        message.starts_with("insufficient funds for gas * price + value"),
        "{message}"
    );

    let starved = signed_tx(&handle, 0, 1, TxKind::Call(TO), one, 20_000, vec![]);
    let (_, message) = error(&handle, "eth_sendRawTransaction", json!([starved])).await;
    assert_eq!(
        message,
        "intrinsic gas too low: gas 20000, minimum needed 21000"
    );

    let greedy = signed_tx(&handle, 0, 1, TxKind::Call(TO), one, 31_000_000, vec![]);
    let (_, message) = error(&handle, "eth_sendRawTransaction", json!([greedy])).await;
    assert!(message.starts_with("exceeds block gas limit"), "{message}");

    // A signature with a high s value (EIP-2) recovers no valid sender.
    let mut bad = signed_tx(&handle, 0, 1, TxKind::Call(TO), one, 21_000, vec![]).to_vec();
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let len = bad.len();
    let s = U256::from_be_slice(&bad[len - 32..]);
    bad[len - 32..].copy_from_slice(&(n - s).to_be_bytes::<32>());
    let (code, message) = error(
        &handle,
        "eth_sendRawTransaction",
        json!([alloy::primitives::Bytes::from(bad)]),
    )
    .await;
    assert_eq!(code, -32000);
    assert!(message.contains("invalid signature"), "{message}");

    // Signed for another chain.
    let other = {
        use alloy::{
            consensus::{SignableTransaction, TxEnvelope, TxLegacy},
            eips::eip2718::Encodable2718,
            network::TxSignerSync,
        };
        let mut tx = TxLegacy {
            chain_id: Some(1),
            nonce: 1,
            gas_price: 0,
            gas_limit: 21_000,
            to: TxKind::Call(TO),
            value: one,
            input: Default::default(),
        };
        let signature = handle.dev_accounts()[0]
            .signer()
            .sign_transaction_sync(&mut tx)
            .unwrap();
        let envelope: TxEnvelope = tx.into_signed(signature).into();
        alloy::primitives::Bytes::from(envelope.encoded_2718())
    };
    let (_, message) = error(&handle, "eth_sendRawTransaction", json!([other])).await;
    assert_eq!(
        message,
        "invalid chain id: transaction is signed for chain 1, this chain is 31337"
    );

    // eth_sendTransaction for an account the node holds no key for.
    let (_, message) = error(
        &handle,
        "eth_sendTransaction",
        json!([{ "from": TO.to_string().replace("7099", "7098"), "to": TO }]),
    )
    .await;
    assert!(
        message.contains("eth_sendTransaction signs only for the dev accounts"),
        "{message}"
    );

    assert_eq!(snapshot(&handle).await, before, "nothing changed");
    // The next valid transaction goes through.
    let next = signed_tx(&handle, 0, 1, TxKind::Call(TO), one, 21_000, vec![]);
    let hash = result(&handle, "eth_sendRawTransaction", json!([next])).await;
    let receipt = result(&handle, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(hex_u64(&receipt["blockNumber"]), 2);
    handle.shutdown().await;
}

#[tokio::test]
async fn historical_state_queries_say_why_they_fail() {
    // A window of two past states.
    let handle = agora_chain::spawn(agora_chain::Config {
        history: agora_chain::History::Blocks(2),
        ..agora_chain::Config::test()
    })
    .await
    .unwrap();
    for _ in 0..3 {
        result(&handle, "evm_mine", json!([])).await;
    }
    let (code, message) = error(&handle, "eth_getBalance", json!([TO, "0x0"])).await;
    assert_eq!(code, -32000);
    assert!(
        message.contains(
            "historical state is not kept: block 0 is 3 blocks behind the head, block 3, and this node keeps the states of the last 2; start it with --history N or --archive"
        ),
        "{message}"
    );
    // Two blocks behind is inside the window.
    result(&handle, "eth_getBalance", json!([TO, "0x1"])).await;
    let (code, message) = error(&handle, "eth_getBalance", json!([TO, "0x99"])).await;
    assert_eq!(code, -32001);
    assert!(message.contains("block 153 not found"), "{message}");
    // The head, by number, is fine.
    result(&handle, "eth_getBalance", json!([TO, "0x3"])).await;
    let _ = call(&handle, "eth_blockNumber", json!([])).await;
    handle.shutdown().await;
}
