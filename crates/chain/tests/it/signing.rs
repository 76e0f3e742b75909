//! The dev accounts sign through the node: `personal_sign`, `eth_sign` and
//! `eth_signTypedData_v4`, as Hardhat's remote accounts, ethers' `getSigner()` and viem's
//! JSON-RPC accounts use them.

use alloy::{
    primitives::{Address, Signature, b256},
    signers::SignerSync,
};
use alloy_dyn_abi::eip712::TypedData;
use serde_json::json;

use crate::common::{chain, error, result};

fn signature(value: &serde_json::Value) -> Signature {
    let text = value.as_str().expect("a hex signature");
    let bytes = alloy::hex::decode(text).expect("hex");
    assert_eq!(bytes.len(), 65, "r, s and v");
    assert!(
        matches!(bytes[64], 27 | 28),
        "v is 27 or 28, as wallets give it"
    );
    Signature::try_from(bytes.as_slice()).expect("a signature")
}

/// EIP-712's own example (the Mail type), whose signing hash the EIP gives.
fn mail() -> serde_json::Value {
    json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}
            ],
            "Person": [
                {"name": "name", "type": "string"},
                {"name": "wallet", "type": "address"}
            ],
            "Mail": [
                {"name": "from", "type": "Person"},
                {"name": "to", "type": "Person"},
                {"name": "contents", "type": "string"}
            ]
        },
        "primaryType": "Mail",
        "domain": {
            "name": "Ether Mail",
            "version": "1",
            "chainId": 1,
            "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
        },
        "message": {
            "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
            "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
            "contents": "Hello, Bob!"
        }
    })
}

#[tokio::test]
async fn personal_sign_and_eth_sign_sign_the_personal_message_of_a_dev_account() {
    let handle = chain().await;
    let account = handle.dev_accounts()[1].address;
    let key = handle.dev_accounts()[1].signer();
    // Hex data, as ethers and viem send it.
    let hex = result(&handle, "personal_sign", json!(["0x68656c6c6f", account])).await;
    let signed = signature(&hex);
    assert_eq!(signed.recover_address_from_msg(b"hello").unwrap(), account);
    assert_eq!(signed, key.sign_message_sync(b"hello").unwrap());
    // Plain text is its UTF-8, and eth_sign takes the address first.
    let text = result(&handle, "personal_sign", json!(["hello", account])).await;
    assert_eq!(text, hex);
    let eth_sign = result(&handle, "eth_sign", json!([account, "0x68656c6c6f"])).await;
    assert_eq!(eth_sign, hex);
    handle.shutdown().await;
}

#[tokio::test]
async fn sign_typed_data_v4_signs_the_eip712_hash_from_an_object_or_a_string() {
    let handle = chain().await;
    let account = handle.dev_accounts()[0].address;
    let typed: TypedData = serde_json::from_value(mail()).unwrap();
    let hash = typed.eip712_signing_hash().unwrap();
    assert_eq!(
        hash,
        b256!("0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"),
        "EIP-712's example hash"
    );
    let from_object = result(&handle, "eth_signTypedData_v4", json!([account, mail()])).await;
    let signed = signature(&from_object);
    assert_eq!(signed.recover_address_from_prehash(&hash).unwrap(), account);
    // MetaMask sends the typed data as a JSON string.
    let from_string = result(
        &handle,
        "eth_signTypedData_v4",
        json!([account, mail().to_string()]),
    )
    .await;
    assert_eq!(from_string, from_object);
    handle.shutdown().await;
}

#[tokio::test]
async fn signing_for_another_address_or_bad_typed_data_is_refused_by_name() {
    let handle = chain().await;
    let stranger = Address::repeat_byte(0x42);
    let (code, message) = error(&handle, "personal_sign", json!(["0x01", stranger])).await;
    assert_eq!(code, -32000);
    assert!(
        message.contains(&format!("unknown account {stranger}"))
            && message.contains("eth_accounts"),
        "{message}"
    );
    let account = handle.dev_accounts()[0].address;
    let mut wrong = mail();
    wrong["primaryType"] = json!("Letter");
    let (code, message) = error(&handle, "eth_signTypedData_v4", json!([account, wrong])).await;
    assert_eq!(code, -32602);
    assert!(
        message.contains("invalid argument 1 (typed data)"),
        "{message}"
    );
    let (code, message) = error(
        &handle,
        "eth_signTypedData_v4",
        json!([account, "{not json"]),
    )
    .await;
    assert_eq!(code, -32602);
    assert!(message.contains("not JSON"), "{message}");
    handle.shutdown().await;
}
