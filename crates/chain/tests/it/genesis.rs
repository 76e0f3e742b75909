//! Genesis deploys the configured contracts at deterministic addresses and records them.

use agora_chain::{Config, GenesisContract};
use alloy::{primitives::Bytes, providers::ProviderBuilder, sol_types::SolValue};

use crate::common::Probe;

fn contracts() -> Vec<GenesisContract> {
    let artifact: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/Probe.json")).unwrap();
    let bytecode: Bytes = serde_json::from_value(artifact["bytecode"].clone()).unwrap();
    vec![
        GenesisContract {
            name: "First".into(),
            bytecode: bytecode.clone(),
            constructor_args: Bytes::new(),
        },
        GenesisContract {
            name: "Second".into(),
            bytecode,
            constructor_args: Bytes::new(),
        },
    ]
}

#[tokio::test]
async fn deploys_contracts_at_deterministic_addresses_and_writes_deployment_json() {
    let dir = tempfile::tempdir().unwrap();
    let config = || Config {
        genesis: contracts(),
        ..Config::test().with_data_dir(dir.path())
    };
    let handle = agora_chain::spawn(config()).await.unwrap();
    let deployer = handle.dev_accounts()[0].address;
    let deployment = handle.deployment().clone();
    assert_eq!(deployment.deployer, deployer);
    assert_eq!(deployment.contracts.len(), 2);
    assert_eq!(deployment.address("First"), Some(deployer.create(0)));
    assert_eq!(deployment.address("Second"), Some(deployer.create(1)));
    assert_eq!(deployment.contracts[1].block_number, 2);

    // The file on disk says the same.
    let file: agora_chain::DeploymentFile = serde_json::from_slice(
        &std::fs::read(dir.path().join(agora_chain::DEPLOYMENT_FILE)).unwrap(),
    )
    .unwrap();
    assert_eq!(file, deployment);

    // The contracts are live, constructed by the deployer.
    let provider = ProviderBuilder::new().connect_http(handle.http_url().parse().unwrap());
    let second = Probe::new(deployer.create(1), &provider);
    assert_eq!(second.owner().call().await.unwrap(), deployer);
    handle.shutdown().await;

    // A restart reads the chain back and does not deploy again; a fresh chain gets the same
    // addresses.
    let handle = agora_chain::spawn(config()).await.unwrap();
    assert_eq!(handle.block_number(), 2);
    assert_eq!(handle.deployment(), &deployment);
    handle.shutdown().await;
    let fresh = agora_chain::spawn(Config {
        genesis: contracts(),
        ..Config::test()
    })
    .await
    .unwrap();
    assert_eq!(
        fresh
            .deployment()
            .contracts
            .iter()
            .map(|c| c.address)
            .collect::<Vec<_>>(),
        deployment
            .contracts
            .iter()
            .map(|c| c.address)
            .collect::<Vec<_>>()
    );
    fresh.shutdown().await;
}

#[tokio::test]
async fn a_reverting_constructor_stops_genesis_with_its_reason() {
    // Creation code that reverts with Error("no"): store the ABI-encoded reason in memory and
    // revert with it.
    let reason = ("no".to_string(),).abi_encode_params();
    let mut data = vec![0x08, 0xc3, 0x79, 0xa0];
    data.extend_from_slice(&reason);
    let mut code = Vec::new();
    for (i, chunk) in data.chunks(32).enumerate() {
        let mut word = [0u8; 32];
        word[..chunk.len()].copy_from_slice(chunk);
        code.push(0x7f); // PUSH32 word
        code.extend_from_slice(&word);
        code.extend_from_slice(&[0x60, (i * 32) as u8, 0x52]); // PUSH1 offset, MSTORE
    }
    code.extend_from_slice(&[0x60, data.len() as u8, 0x60, 0x00, 0xfd]); // PUSH1 len, PUSH1 0, REVERT
    let genesis = vec![GenesisContract {
        name: "Broken".into(),
        bytecode: code.into(),
        constructor_args: Bytes::new(),
    }];
    let error = agora_chain::spawn(Config {
        genesis,
        ..Config::test()
    })
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "genesis contract Broken was not deployed: the constructor reverted: no"
    );
}
