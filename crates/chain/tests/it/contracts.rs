//! Contract deployment, calls, revert decoding and logs, through alloy's generated bindings.

use alloy::{
    primitives::{B256, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use serde_json::json;

use crate::common::{Probe, chain, error, mined, provider, result};

#[tokio::test]
async fn deploys_calls_and_reads_a_contract() {
    let handle = chain().await;
    let provider = provider(&handle, 0);
    let probe = Probe::deploy(&provider).await.unwrap();
    let owner = handle.dev_accounts()[0].address;
    assert_eq!(probe.owner().call().await.unwrap(), owner);
    let code = provider.get_code_at(*probe.address()).await.unwrap();
    assert!(code.len() > 100, "runtime code is stored");

    let receipt = mined!(probe.store(U256::from(7), U256::from(42)));
    assert!(receipt.status());
    assert_eq!(
        probe.values(U256::from(7)).call().await.unwrap(),
        U256::from(42)
    );
    // Slot of values[7]: keccak(key . slot 0 of the mapping); read it raw too.
    let slot = alloy::primitives::keccak256(
        [
            U256::from(7).to_be_bytes::<32>(),
            U256::ZERO.to_be_bytes::<32>(),
        ]
        .concat(),
    );
    let raw = result(
        &handle,
        "eth_getStorageAt",
        json!([probe.address(), slot, "latest"]),
    )
    .await;
    let mapping_slot_0 = raw == json!(B256::from(U256::from(42)));
    let owner_first = {
        let slot = alloy::primitives::keccak256(
            [
                U256::from(7).to_be_bytes::<32>(),
                U256::from(1).to_be_bytes::<32>(),
            ]
            .concat(),
        );
        result(
            &handle,
            "eth_getStorageAt",
            json!([probe.address(), slot, "latest"]),
        )
        .await
            == json!(B256::from(U256::from(42)))
    };
    assert!(
        mapping_slot_0 || owner_first,
        "the stored value is in the mapping's slot"
    );

    // The receipt carries the decoded event.
    let log = receipt.inner.logs()[0]
        .log_decode::<Probe::Stored>()
        .unwrap();
    assert_eq!(log.inner.data.by, owner);
    assert_eq!(log.inner.data.key, U256::from(7));
    assert_eq!(log.inner.data.value, U256::from(42));
    handle.shutdown().await;
}

#[tokio::test]
async fn reverts_come_back_decodable() {
    let handle = chain().await;
    let provider = provider(&handle, 0);
    let probe = Probe::deploy(&provider).await.unwrap();

    // Error(string): code 3, the reason in the message, the bytes in data.
    let call = probe.failWithReason("not today".into()).calldata().clone();
    let (code, message) = error(
        &handle,
        "eth_call",
        json!([{ "to": probe.address(), "data": call }]),
    )
    .await;
    assert_eq!(code, 3);
    assert_eq!(message, "execution reverted: not today");
    let err = probe
        .failWithReason("not today".into())
        .call()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_revert_data()
            .and_then(|d| alloy::sol_types::decode_revert_reason(&d)),
        Some("revert: not today".into())
    );

    // A custom error decodes through the contract's error enum.
    let err = probe
        .failWithCustom(U256::from(9))
        .call()
        .await
        .unwrap_err();
    let decoded = err
        .as_decoded_interface_error::<Probe::ProbeErrors>()
        .expect("a Probe error");
    match decoded {
        Probe::ProbeErrors::Unauthorized(e) => {
            assert_eq!(
                e.caller,
                handle.dev_accounts()[0].address,
                "the provider calls from its wallet"
            );
            assert_eq!(e.code, U256::from(9));
        }
    }
    // A panic (division by zero, code 0x12).
    let err = probe
        .divide(U256::from(1), U256::ZERO)
        .call()
        .await
        .unwrap_err();
    let data = err.as_revert_data().expect("revert data");
    assert_eq!(&data[..4], &[0x4e, 0x48, 0x7b, 0x71]);
    assert_eq!(data[35], 0x12);
    // eth_estimateGas reports the revert the same way.
    let (code, message) = error(
        &handle,
        "eth_estimateGas",
        json!([{ "to": probe.address(), "data": call }]),
    )
    .await;
    assert_eq!(
        (code, message.as_str()),
        (3, "execution reverted: not today")
    );

    // A reverted transaction is mined with status 0 and its gas charged.
    let receipt = mined!(probe.failWithReason("mined".into()).gas(100_000));
    assert!(!receipt.status());
    assert!(receipt.gas_used > 21_000 && receipt.gas_used < 100_000);
    handle.shutdown().await;
}

#[tokio::test]
async fn estimates_enough_gas() {
    let handle = chain().await;
    let provider = provider(&handle, 0);
    let probe = Probe::deploy(&provider).await.unwrap();
    let estimate = probe.burn(U256::from(20)).estimate_gas().await.unwrap();
    let receipt = mined!(probe.burn(U256::from(20)).gas(estimate));
    assert!(receipt.status(), "the estimate is enough");
    assert!(
        estimate - receipt.gas_used < 25_000,
        "and not wildly more: {estimate} vs {}",
        receipt.gas_used
    );
    // Too little gas: out of gas, mined as failed.
    let receipt = mined!(probe.burn(U256::from(20)).gas(60_000));
    assert!(!receipt.status());
    assert_eq!(receipt.gas_used, 60_000);
    handle.shutdown().await;
}

#[tokio::test]
async fn logs_are_queried_and_filtered() {
    let handle = chain().await;
    let provider = provider(&handle, 0);
    let probe = Probe::deploy(&provider).await.unwrap();
    let block_filter = result(&handle, "eth_newBlockFilter", json!([])).await;
    let log_filter = result(
        &handle,
        "eth_newFilter",
        json!([{ "address": probe.address(), "topics": [Probe::Ping::SIGNATURE_HASH] }]),
    )
    .await;
    mined!(probe.ping(U256::from(3)));
    mined!(probe.store(U256::from(1), U256::from(2)));
    mined!(probe.ping(U256::from(2)));

    let all = provider
        .get_logs(&Filter::new().address(*probe.address()).from_block(0))
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
    let pings = provider
        .get_logs(
            &Filter::new()
                .address(*probe.address())
                .event_signature(Probe::Ping::SIGNATURE_HASH)
                .from_block(0),
        )
        .await
        .unwrap();
    assert_eq!(pings.len(), 5);
    let ns: Vec<U256> = pings
        .iter()
        .map(|l| l.log_decode::<Probe::Ping>().unwrap().inner.data.n)
        .collect();
    assert_eq!(ns, [0, 1, 2, 0, 1].map(U256::from));
    // Log indexes count within the block.
    assert_eq!(pings[2].log_index, Some(2));
    // Indexed topic filter: Stored with key 1.
    let stored = provider
        .get_logs(
            &Filter::new()
                .event_signature(Probe::Stored::SIGNATURE_HASH)
                .topic2(B256::from(U256::from(1)))
                .from_block(0),
        )
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);

    let changes = result(&handle, "eth_getFilterChanges", json!([log_filter])).await;
    assert_eq!(changes.as_array().unwrap().len(), 5);
    let again = result(&handle, "eth_getFilterChanges", json!([log_filter])).await;
    assert_eq!(again, json!([]), "changes are reported once");
    let blocks = result(&handle, "eth_getFilterChanges", json!([block_filter])).await;
    assert_eq!(blocks.as_array().unwrap().len(), 3);
    assert_eq!(
        result(&handle, "eth_uninstallFilter", json!([log_filter])).await,
        json!(true)
    );
    let (code, _) = error(&handle, "eth_getFilterChanges", json!([log_filter])).await;
    assert_eq!(code, -32000);
    let (code, message) = error(
        &handle,
        "eth_getLogs",
        json!([{ "fromBlock": "0x5", "toBlock": "0x2" }]),
    )
    .await;
    assert_eq!(code, -32602);
    assert!(
        message.contains("fromBlock 5 is after toBlock 2"),
        "{message}"
    );
    handle.shutdown().await;
}
