//! Helpers shared by the tests.

use std::time::Duration;

use agora_chain::{Config, Handle};
use alloy::{
    network::EthereumWallet,
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use serde_json::{Value, json};

/// Sends a contract call built by the `sol!` bindings and waits for its receipt.
macro_rules! mined {
    ($call:expr) => {
        $call.send().await.unwrap().get_receipt().await.unwrap()
    };
}
pub(crate) use mined;

/// Starts a chain in memory on a free port.
pub(crate) async fn chain() -> Handle {
    agora_chain::spawn(Config::test())
        .await
        .expect("the chain starts")
}

/// The same, with the given CORS setting.
pub(crate) async fn chain_with_cors(cors: agora_chain::Cors) -> Handle {
    agora_chain::spawn(Config {
        cors,
        ..Config::test()
    })
    .await
    .expect("the chain starts")
}

/// A provider that signs with dev account `index`.
pub(crate) fn provider(handle: &Handle, index: usize) -> DynProvider {
    let signer: PrivateKeySigner = handle.dev_accounts()[index].signer();
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(handle.http_url().parse().expect("url"))
        .erased()
}

/// Sends one raw JSON-RPC body and returns the decoded answer and the HTTP status.
pub(crate) async fn post(handle: &Handle, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(handle.http_url())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON")
    };
    (status, value)
}

/// Calls `method` with `params` and returns the whole response object.
pub(crate) async fn call(handle: &Handle, method: &str, params: Value) -> Value {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    post(handle, body.to_string()).await.1
}

/// Calls `method` and returns its result, failing the test on an error.
pub(crate) async fn result(handle: &Handle, method: &str, params: Value) -> Value {
    let response = call(handle, method, params).await;
    assert!(
        response.get("error").is_none(),
        "{method} failed: {response}"
    );
    response["result"].clone()
}

/// Calls `method`, expects an error, and returns (code, message).
pub(crate) async fn error(handle: &Handle, method: &str, params: Value) -> (i64, String) {
    let response = call(handle, method, params).await;
    let error = response
        .get("error")
        .unwrap_or_else(|| panic!("{method} should fail: {response}"));
    (
        error["code"].as_i64().expect("code"),
        error["message"].as_str().expect("message").to_string(),
    )
}

pub(crate) fn hex_u64(value: &Value) -> u64 {
    u64::from_str_radix(
        value.as_str().expect("hex string").trim_start_matches("0x"),
        16,
    )
    .expect("hex")
}

/// Polls `check` until it returns `Some`, or fails after `timeout`.
pub(crate) async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Signs an EIP-1559 transaction with dev account `index`.
pub(crate) fn signed_tx(
    handle: &Handle,
    index: usize,
    nonce: u64,
    to: alloy::primitives::TxKind,
    value: alloy::primitives::U256,
    gas: u64,
    input: Vec<u8>,
) -> alloy::primitives::Bytes {
    use alloy::{
        consensus::{SignableTransaction, TxEip1559, TxEnvelope},
        eips::eip2718::Encodable2718,
        network::TxSignerSync,
    };
    let signer = handle.dev_accounts()[index].signer();
    let mut tx = TxEip1559 {
        chain_id: handle.chain_id(),
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 0,
        max_priority_fee_per_gas: 0,
        to,
        value,
        access_list: Default::default(),
        input: input.into(),
    };
    let signature = signer.sign_transaction_sync(&mut tx).expect("signs");
    let envelope: TxEnvelope = tx.into_signed(signature).into();
    envelope.encoded_2718().into()
}

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    Probe,
    "tests/fixtures/Probe.json"
);
