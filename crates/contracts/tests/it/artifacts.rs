//! The committed artifacts: fresh, and deployable on a standard EVM.

use std::{path::Path, process::Command};

use agora_contracts::{
    App, AppRegistry, Dataset, DatasetRegistry, Hub, HubMarket, HubViews, RLC, Workerpool,
    WorkerpoolRegistry, names,
};
use alloy::{providers::Provider, sol_types::SolError};

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

/// The functions of an artifact's ABI, with their selectors.
fn functions(artifact: &str) -> Vec<(String, [u8; 4])> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contracts/out")
        .join(artifact);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the artifact")).unwrap();
    let abi: alloy::json_abi::JsonAbi = serde_json::from_value(json["abi"].clone()).unwrap();
    abi.functions()
        .map(|f| (f.signature(), f.selector().0))
        .collect()
}

#[tokio::test]
async fn every_function_of_the_hubs_abi_is_served_at_the_hub() {
    let net = Net::start().await;
    let provider = net.provider(1);
    let hub = net.deployment.hub;
    let all = functions("Hub.json");
    // The hub's ABI is the union of its own and its modules'.
    for module in ["HubMarket.json", "HubViews.json"] {
        for function in functions(module) {
            assert!(
                all.contains(&function),
                "{} missing from Hub.json",
                function.0
            );
        }
    }
    let unknown = |data: &[u8], selector: [u8; 4]| {
        data.len() >= 36 && data[..4] == Hub::UnknownFunction::SELECTOR && data[4..8] == selector
    };
    for (signature, selector) in &all {
        // The selector and zeroed arguments: enough to reach the function, which may then
        // refuse them.
        let mut data = selector.to_vec();
        data.extend([0u8; 32 * 12]);
        let request = alloy::rpc::types::TransactionRequest::default()
            .from(net.account(1))
            .to(hub)
            .input(data.into());
        if let Err(error) = provider.call(request).await {
            let revert = error
                .as_error_resp()
                .and_then(|e| e.as_revert_data())
                .unwrap_or_default();
            assert!(!unknown(&revert, *selector), "{signature} is not routed");
        }
    }
    // And a selector nobody serves is named in the refusal.
    let request = alloy::rpc::types::TransactionRequest::default()
        .to(hub)
        .input(vec![0xde, 0xad, 0xbe, 0xef].into());
    let error = provider.call(request).await.unwrap_err();
    let revert = error.as_error_resp().unwrap().as_revert_data().unwrap();
    assert!(unknown(&revert, [0xde, 0xad, 0xbe, 0xef]), "{revert}");
    net.handle.shutdown().await;
}

/// iExec's order tuples as they appear in its hub ABI (`IexecLibOrders_v5`).
const APP_ORDER: &str = "(address,uint256,uint256,bytes32,address,address,address,bytes32,bytes)";
const WORKERPOOL_ORDER: &str =
    "(address,uint256,uint256,bytes32,uint256,uint256,address,address,address,bytes32,bytes)";
const REQUEST_ORDER: &str = "(address,uint256,address,uint256,address,uint256,address,uint256,bytes32,uint256,uint256,address,address,string,bytes32,bytes)";

#[test]
fn the_hubs_abi_has_iexecs_signatures_for_every_entry_point_and_event() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/out/Hub.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let abi: alloy::json_abi::JsonAbi = serde_json::from_value(json["abi"].clone()).unwrap();
    let outputs = |f: &alloy::json_abi::Function| {
        let types: Vec<String> = f
            .outputs
            .iter()
            .map(|p| p.selector_type().into_owned())
            .collect();
        format!("({})", types.join(","))
    };
    let function = |signature: &str| {
        abi.functions()
            .find(|f| f.signature() == signature)
            .unwrap_or_else(|| panic!("no {signature} in the hub's ABI"))
    };
    // iExec's interfaces (IexecPoco1/2, IexecPocoAccessors, IexecEscrowToken, IexecERC20,
    // IexecOrderManagement, IexecCategoryManager, IexecConfiguration, IexecTokenSpender), with
    // the return types clients decode.
    let dataset_order = APP_ORDER;
    let orders = format!("{APP_ORDER},{dataset_order},{WORKERPOOL_ORDER},{REQUEST_ORDER}");
    let expected: Vec<(String, &str)> = vec![
        (format!("matchOrders({orders})"), "(bytes32)"),
        (format!("sponsorMatchOrders({orders})"), "(bytes32)"),
        (format!("computeDealVolume({orders})"), "(uint256)"),
        (format!("manageAppOrder(({APP_ORDER},uint8,bytes))"), "()"),
        (
            format!("manageDatasetOrder(({dataset_order},uint8,bytes))"),
            "()",
        ),
        (
            format!("manageWorkerpoolOrder(({WORKERPOOL_ORDER},uint8,bytes))"),
            "()",
        ),
        (
            format!("manageRequestOrder(({REQUEST_ORDER},uint8,bytes))"),
            "()",
        ),
        ("initialize(bytes32,uint256)".into(), "(bytes32)"),
        ("initializeArray(bytes32[],uint256[])".into(), "(bool)"),
        (
            "contribute(bytes32,bytes32,bytes32,address,bytes,bytes)".into(),
            "()",
        ),
        (
            "contributeAndFinalize(bytes32,bytes32,bytes,bytes,address,bytes,bytes)".into(),
            "()",
        ),
        ("reveal(bytes32,bytes32)".into(), "()"),
        ("reopen(bytes32)".into(), "()"),
        ("finalize(bytes32,bytes,bytes)".into(), "()"),
        ("claim(bytes32)".into(), "()"),
        ("claimArray(bytes32[])".into(), "(bool)"),
        (
            "initializeAndClaimArray(bytes32[],uint256[])".into(),
            "(bool)",
        ),
        (
            "viewDeal(bytes32)".into(),
            "(((address,address,uint256),(address,address,uint256),(address,address,uint256),uint256,uint256,bytes32,address,address,address,string,uint256,uint256,uint256,uint256,uint256,address))",
        ),
        (
            "viewTask(bytes32)".into(),
            "((uint8,bytes32,uint256,uint256,uint256,uint256,uint256,bytes32,uint256,uint256,address[],bytes32,bytes,uint256,bytes))",
        ),
        (
            "viewContribution(bytes32,address)".into(),
            "((uint8,bytes32,bytes32,address,uint256))",
        ),
        ("viewScore(address)".into(), "(uint256)"),
        ("viewConsumed(bytes32)".into(), "(uint256)"),
        ("viewPresigned(bytes32)".into(), "(address)"),
        ("viewCategory(uint256)".into(), "((string,string,uint256))"),
        ("countCategory()".into(), "(uint256)"),
        ("createCategory(string,string,uint256)".into(), "(uint256)"),
        ("resultFor(bytes32)".into(), "(bytes)"),
        ("viewAccount(address)".into(), "((uint256,uint256))"),
        ("domain()".into(), "((string,string,uint256,address))"),
        ("eip712domain_separator()".into(), "(bytes32)"),
        ("verifySignature(address,bytes32,bytes)".into(), "(bool)"),
        ("verifyPresignature(address,bytes32)".into(), "(bool)"),
        (
            "verifyPresignatureOrSignature(address,bytes32,bytes)".into(),
            "(bool)",
        ),
        ("deposit(uint256)".into(), "(bool)"),
        ("depositFor(uint256,address)".into(), "(bool)"),
        ("depositForArray(uint256[],address[])".into(), "(bool)"),
        ("withdraw(uint256)".into(), "(bool)"),
        ("withdrawTo(uint256,address)".into(), "(bool)"),
        (
            "receiveApproval(address,uint256,address,bytes)".into(),
            "(bool)",
        ),
        ("approveAndCall(address,uint256,bytes)".into(), "(bool)"),
        ("transfer(address,uint256)".into(), "(bool)"),
        ("transferFrom(address,address,uint256)".into(), "(bool)"),
        ("approve(address,uint256)".into(), "(bool)"),
        ("frozenOf(address)".into(), "(uint256)"),
        ("setTeeBroker(address)".into(), "()"),
        ("setCallbackGas(uint256)".into(), "()"),
        ("teebroker()".into(), "(address)"),
        ("callbackgas()".into(), "(uint256)"),
        ("token()".into(), "(address)"),
        ("appregistry()".into(), "(address)"),
        ("contribution_deadline_ratio()".into(), "(uint256)"),
        ("reveal_deadline_ratio()".into(), "(uint256)"),
        ("final_deadline_ratio()".into(), "(uint256)"),
        ("workerpool_stake_ratio()".into(), "(uint256)"),
        ("kitty_ratio()".into(), "(uint256)"),
        ("kitty_min()".into(), "(uint256)"),
        ("kitty_address()".into(), "(address)"),
    ];
    for (signature, returns) in &expected {
        assert_eq!(outputs(function(signature)), *returns, "{signature}");
    }
    // Events, with which arguments are indexed (what log filters depend on).
    let events = [
        ("SchedulerNotice(address,bytes32)", vec![true, false]),
        (
            "OrdersMatched(bytes32,bytes32,bytes32,bytes32,bytes32,uint256)",
            vec![false; 6],
        ),
        ("DealSponsored(bytes32,address)", vec![false, false]),
        ("TaskInitialize(bytes32,address)", vec![true, true]),
        (
            "TaskContribute(bytes32,address,bytes32)",
            vec![true, true, false],
        ),
        ("TaskConsensus(bytes32,bytes32)", vec![true, false]),
        (
            "TaskReveal(bytes32,address,bytes32)",
            vec![true, true, false],
        ),
        ("TaskReopen(bytes32)", vec![true]),
        ("TaskFinalize(bytes32,bytes)", vec![true, false]),
        ("TaskClaimed(bytes32)", vec![true]),
        ("AccurateContribution(address,bytes32)", vec![true, true]),
        ("FaultyContribution(address,bytes32)", vec![true, true]),
        ("Transfer(address,address,uint256)", vec![true, true, false]),
        ("Approval(address,address,uint256)", vec![true, true, false]),
        ("Reward(address,uint256,bytes32)", vec![false; 3]),
        ("Seize(address,uint256,bytes32)", vec![false; 3]),
        ("Lock(address,uint256)", vec![false; 2]),
        ("Unlock(address,uint256)", vec![false; 2]),
        ("SignedAppOrder(bytes32)", vec![false]),
        ("ClosedRequestOrder(bytes32)", vec![false]),
        (
            "CreateCategory(uint256,string,string,uint256)",
            vec![false; 4],
        ),
    ];
    for (signature, indexed) in events {
        let event = abi
            .events()
            .find(|e| e.signature() == signature)
            .unwrap_or_else(|| panic!("no event {signature} in the hub's ABI"));
        let flags: Vec<bool> = event.inputs.iter().map(|p| p.indexed).collect();
        assert_eq!(flags, indexed, "{signature}");
    }
}
