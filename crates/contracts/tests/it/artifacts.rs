//! The committed artifacts: fresh, and deployable on a standard EVM.

use std::{path::Path, process::Command};

use agora_contracts::{
    App, AppRegistry, Dataset, DatasetRegistry, Hub, HubMarket, HubViews, RLC, Workerpool,
    WorkerpoolRegistry, names,
};
use alloy::providers::Provider;

use crate::common::Net;

/// EIP-170: the largest runtime code a standard EVM accepts.
const MAX_CODE_SIZE: usize = 24_576;

/// The committed artifacts are what `contracts/build.js` makes of the committed sources.
#[test]
fn committed_artifacts_match_the_sources() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = Command::new("node")
        .arg(root.join("contracts/build.js"))
        .arg("--check")
        .output()
        .expect(
            "node runs contracts/build.js: install Node.js, then `npm ci` in the workspace root",
        );
    assert!(
        output.status.success(),
        "contracts/build.js --check failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn genesis_deploys_every_contract_at_its_predicted_address() {
    let net = Net::start().await;
    let deployment = agora_contracts::Deployment::predict(net.account(0));
    assert_eq!(net.deployment, deployment);
    let file = net.handle.deployment();
    let recorded: Vec<&str> = file.contracts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(recorded, names::ALL);
    let json = serde_json::to_vec(file).expect("serializes");
    assert_eq!(
        agora_contracts::Deployment::from_json(&json).expect("reads"),
        deployment
    );
    net.handle.shutdown().await;
}

#[tokio::test]
async fn every_deployed_contract_fits_the_standard_code_size_limit() {
    let net = Net::start().await;
    let provider = net.provider(0);
    let d = net.deployment;
    let registries = (
        AppRegistry::new(d.app_registry, &provider),
        DatasetRegistry::new(d.dataset_registry, &provider),
        WorkerpoolRegistry::new(d.workerpool_registry, &provider),
    );
    let implementations = [
        registries.0.master().call().await.expect("master"),
        registries.1.master().call().await.expect("master"),
        registries.2.master().call().await.expect("master"),
    ];
    let deployed = [
        d.token,
        d.app_registry,
        d.dataset_registry,
        d.workerpool_registry,
        d.hub_market,
        d.hub_views,
        d.hub,
    ]
    .into_iter()
    .chain(implementations);
    for address in deployed {
        let code = provider.get_code_at(address).await.expect("code");
        assert!(!code.is_empty(), "no code at {address}");
        assert!(
            code.len() < MAX_CODE_SIZE,
            "{address} has {} bytes of code",
            code.len()
        );
    }
    // The artifacts' runtime code is what is deployed.
    for (name, code) in [
        ("RLC", &RLC::DEPLOYED_BYTECODE),
        ("AppRegistry", &AppRegistry::DEPLOYED_BYTECODE),
        ("DatasetRegistry", &DatasetRegistry::DEPLOYED_BYTECODE),
        ("WorkerpoolRegistry", &WorkerpoolRegistry::DEPLOYED_BYTECODE),
        ("App", &App::DEPLOYED_BYTECODE),
        ("Dataset", &Dataset::DEPLOYED_BYTECODE),
        ("Workerpool", &Workerpool::DEPLOYED_BYTECODE),
        ("Hub", &Hub::DEPLOYED_BYTECODE),
        ("HubMarket", &HubMarket::DEPLOYED_BYTECODE),
        ("HubViews", &HubViews::DEPLOYED_BYTECODE),
    ] {
        assert!(code.len() < MAX_CODE_SIZE, "{name}: {} bytes", code.len());
    }
    net.handle.shutdown().await;
}
