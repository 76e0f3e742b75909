//! The registries: assets as clones at predicted addresses, owned through their NFT.

use agora_contracts::{App, AppRegistry, Dataset, DatasetRegistry, Workerpool, WorkerpoolRegistry};
use alloy::{
    primitives::{Address, Bytes, U256, b256, bytes},
    providers::Provider,
};

use crate::common::{Net, mined, reverted_with, token_id};

/// Asserts the ERC-721 name and symbol of a registry.
macro_rules! assert_collection {
    ($registry:expr, $name:expr, $symbol:expr) => {
        assert_eq!($registry.name().call().await.unwrap(), $name);
        assert_eq!($registry.symbol().call().await.unwrap(), $symbol);
    };
}

/// Creates the workerpool "pool" for `owner` and returns its address, checking it is the
/// predicted one.
async fn create_workerpool<P: Provider>(
    registry: &WorkerpoolRegistry::WorkerpoolRegistryInstance<P>,
    owner: Address,
) -> Address {
    let predicted = registry
        .predictWorkerpool(owner, "pool".into())
        .call()
        .await
        .expect("predicts");
    let receipt = mined!(registry.createWorkerpool(owner, "pool".into()));
    let minted = receipt
        .decoded_log::<WorkerpoolRegistry::Transfer>()
        .expect("a Transfer");
    assert_eq!((minted.to, minted.tokenId), (owner, token_id(predicted)));
    predicted
}

/// The worker stake ratio and scheduler reward ratio of a workerpool.
async fn policies<P: Provider>(workerpool: &Workerpool::WorkerpoolInstance<P>) -> (u64, u64) {
    let stake = workerpool.m_workerStakeRatioPolicy().call().await;
    let reward = workerpool.m_schedulerRewardRatioPolicy().call().await;
    let percent = |ratio: U256| u64::try_from(ratio).expect("a percentage");
    (
        percent(stake.expect("stake ratio")),
        percent(reward.expect("reward ratio")),
    )
}

/// The multiaddr of the spec's example (`/ipfs/QmRwwTz9…`) in binary form.
const MULTIADDR: Bytes =
    bytes!("a503221220359d55f58a43126d4ba446a35940265eb2dab57ecbc439e7f105c558f8774819");

/// The code of an EIP-1167 clone of `implementation`.
fn clone_code(implementation: Address) -> Bytes {
    let mut code = bytes!("363d3d373d3d3d363d73").to_vec();
    code.extend_from_slice(implementation.as_slice());
    code.extend_from_slice(&bytes!("5af43d82803e903d91602b57fd5bf3"));
    code.into()
}

#[tokio::test]
async fn creates_an_app_at_its_predicted_address_owned_through_its_token() {
    let net = Net::start().await;
    // Anyone may create an asset for an owner.
    let provider = net.provider(1);
    let owner = net.account(2);
    let registry = AppRegistry::new(net.deployment.app_registry, &provider);
    assert_collection!(registry, "iExec Application Registry (V5)", "iExecAppsV5");
    let checksum = b256!("0x1111111111111111111111111111111111111111111111111111111111111111");
    let mrenclave = Bytes::from_static(br#"{"framework":"SCONE"}"#);
    let create = registry.createApp(
        owner,
        "hello".into(),
        "WASM".into(),
        MULTIADDR,
        checksum,
        mrenclave.clone(),
    );
    let predicted = registry
        .predictApp(
            owner,
            "hello".into(),
            "WASM".into(),
            MULTIADDR,
            checksum,
            mrenclave.clone(),
        )
        .call()
        .await
        .unwrap();
    assert_eq!(create.call().await.unwrap(), predicted);
    assert!(!registry.isRegistered(predicted).call().await.unwrap());
    mined!(create);

    let app = App::new(predicted, &provider);
    assert_eq!(app.m_appName().call().await.unwrap(), "hello");
    assert_eq!(app.m_appType().call().await.unwrap(), "WASM");
    assert_eq!(app.m_appMultiaddr().call().await.unwrap(), MULTIADDR);
    assert_eq!(app.m_appChecksum().call().await.unwrap(), checksum);
    assert_eq!(app.m_appMREnclave().call().await.unwrap(), mrenclave);
    assert_eq!(app.owner().call().await.unwrap(), owner);
    assert_eq!(app.registry().call().await.unwrap(), *registry.address());

    assert!(registry.isRegistered(predicted).call().await.unwrap());
    assert!(!registry.isRegistered(owner).call().await.unwrap());
    assert_eq!(
        registry.ownerOf(token_id(predicted)).call().await.unwrap(),
        owner
    );
    assert_eq!(
        registry.balanceOf(owner).call().await.unwrap(),
        U256::from(1u64)
    );
    assert_eq!(
        registry
            .tokenOfOwnerByIndex(owner, U256::ZERO)
            .call()
            .await
            .unwrap(),
        token_id(predicted)
    );
    assert_eq!(
        registry.totalSupply().call().await.unwrap(),
        U256::from(1u64)
    );

    // The asset is a minimal proxy of the registry's implementation.
    let master = registry.master().call().await.unwrap();
    assert_eq!(
        provider.get_code_at(predicted).await.unwrap(),
        clone_code(master)
    );
    net.handle.shutdown().await;
}

#[tokio::test]
async fn creates_a_dataset_at_its_predicted_address() {
    let net = Net::start().await;
    let provider = net.provider(1);
    let owner = net.account(1);
    let registry = DatasetRegistry::new(net.deployment.dataset_registry, &provider);
    assert_collection!(registry, "iExec Dataset Registry (V5)", "iExecDatasetsV5");
    let checksum = b256!("0x2222222222222222222222222222222222222222222222222222222222222222");
    let url = Bytes::from_static(b"https://example.invalid/data.zip");
    let predicted = registry
        .predictDataset(owner, "data".into(), url.clone(), checksum)
        .call()
        .await
        .unwrap();
    mined!(registry.createDataset(owner, "data".into(), url.clone(), checksum));

    let dataset = Dataset::new(predicted, &provider);
    assert_eq!(dataset.m_datasetName().call().await.unwrap(), "data");
    assert_eq!(dataset.m_datasetMultiaddr().call().await.unwrap(), url);
    assert_eq!(dataset.m_datasetChecksum().call().await.unwrap(), checksum);
    assert_eq!(dataset.owner().call().await.unwrap(), owner);
    assert_eq!(
        registry.ownerOf(token_id(predicted)).call().await.unwrap(),
        owner
    );
    assert!(registry.isRegistered(predicted).call().await.unwrap());
    net.handle.shutdown().await;
}

#[tokio::test]
async fn creates_a_workerpool_with_the_default_policies() {
    let net = Net::start().await;
    let provider = net.provider(1);
    let owner = net.account(1);
    let registry = WorkerpoolRegistry::new(net.deployment.workerpool_registry, &provider);
    assert_collection!(
        registry,
        "iExec Workerpool Registry (V5)",
        "iExecWorkerpoolV5"
    );
    let predicted = create_workerpool(&registry, owner).await;

    let workerpool = Workerpool::new(predicted, &provider);
    assert_eq!(
        workerpool.m_workerpoolDescription().call().await.unwrap(),
        "pool"
    );
    assert_eq!(policies(&workerpool).await, (30, 1));
    assert_eq!(workerpool.owner().call().await.unwrap(), owner);
    assert_eq!(
        registry.ownerOf(token_id(predicted)).call().await.unwrap(),
        owner
    );
    net.handle.shutdown().await;
}

#[tokio::test]
async fn creating_the_same_asset_twice_for_one_owner_reverts() {
    let net = Net::start().await;
    let provider = net.provider(1);
    let (owner, other) = (net.account(1), net.account(2));
    let registry = WorkerpoolRegistry::new(net.deployment.workerpool_registry, &provider);
    let first = create_workerpool(&registry, owner).await;

    let error = registry
        .createWorkerpool(owner, "pool".into())
        .call()
        .await
        .unwrap_err();
    assert_eq!(
        reverted_with::<WorkerpoolRegistry::AssetAlreadyExists>(error).entry,
        first
    );

    // The same asset for another owner is another asset.
    let second = registry
        .predictWorkerpool(other, "pool".into())
        .call()
        .await
        .unwrap();
    assert_ne!(second, first);
    mined!(registry.createWorkerpool(other, "pool".into()));
    assert_eq!(
        registry.totalSupply().call().await.unwrap(),
        U256::from(2u64)
    );
    net.handle.shutdown().await;
}

#[tokio::test]
async fn transferring_the_token_transfers_the_asset() {
    let net = Net::start().await;
    let (old, new) = (net.account(1), net.account(2));
    let registry = WorkerpoolRegistry::new(net.deployment.workerpool_registry, net.provider(1));
    let address = create_workerpool(&registry, old).await;

    mined!(registry.transferFrom(old, new, token_id(address)));
    let as_old = Workerpool::new(address, net.provider(1));
    let as_new = Workerpool::new(address, net.provider(2));
    assert_eq!(as_old.owner().call().await.unwrap(), new);
    assert_eq!(registry.balanceOf(old).call().await.unwrap(), U256::ZERO);

    // From then on only the new owner manages the asset.
    let error = as_old
        .changePolicy(U256::from(10u64), U256::from(10u64))
        .call()
        .await
        .unwrap_err();
    assert_eq!(
        reverted_with::<Workerpool::NotAssetOwner>(error).caller,
        old
    );
    mined!(as_new.changePolicy(U256::from(10u64), U256::from(10u64)));
    net.handle.shutdown().await;
}

#[tokio::test]
async fn the_owner_changes_the_workerpool_policies_within_bounds() {
    let net = Net::start().await;
    let owner = net.account(1);
    let registry = WorkerpoolRegistry::new(net.deployment.workerpool_registry, net.provider(1));
    let address = create_workerpool(&registry, owner).await;
    let workerpool = Workerpool::new(address, net.provider(1));

    let receipt = mined!(workerpool.changePolicy(U256::from(40u64), U256::from(5u64)));
    let event = receipt
        .decoded_log::<Workerpool::PolicyUpdate>()
        .expect("PolicyUpdate");
    assert_eq!(event.address, address);
    assert_eq!(
        (
            event.oldWorkerStakeRatioPolicy,
            event.newWorkerStakeRatioPolicy,
            event.oldSchedulerRewardRatioPolicy,
            event.newSchedulerRewardRatioPolicy
        ),
        (
            U256::from(30u64),
            U256::from(40u64),
            U256::from(1u64),
            U256::from(5u64)
        )
    );
    assert_eq!(policies(&workerpool).await, (40, 5));

    // A scheduler reward ratio is a percentage.
    mined!(workerpool.changePolicy(U256::from(40u64), U256::from(100u64)));
    let error = workerpool
        .changePolicy(U256::from(40u64), U256::from(101u64))
        .call()
        .await
        .unwrap_err();
    assert_eq!(
        reverted_with::<Workerpool::SchedulerRewardRatioTooHigh>(error).ratio,
        U256::from(101u64)
    );

    // A stranger cannot.
    let stranger = Workerpool::new(address, net.provider(3));
    let error = stranger
        .changePolicy(U256::from(1u64), U256::from(1u64))
        .call()
        .await
        .unwrap_err();
    assert_eq!(
        reverted_with::<Workerpool::NotAssetOwner>(error).caller,
        net.account(3)
    );
    assert_eq!(policies(&workerpool).await, (40, 100));
    net.handle.shutdown().await;
}

#[tokio::test]
async fn only_the_registry_initializes_an_asset() {
    let net = Net::start().await;
    let owner = net.account(1);
    let registry = AppRegistry::new(net.deployment.app_registry, net.provider(1));
    let address = registry
        .predictApp(
            owner,
            "a".into(),
            "WASM".into(),
            Bytes::new(),
            Default::default(),
            Bytes::new(),
        )
        .call()
        .await
        .unwrap();
    mined!(registry.createApp(
        owner,
        "a".into(),
        "WASM".into(),
        Bytes::new(),
        Default::default(),
        Bytes::new()
    ));
    let master = registry.master().call().await.unwrap();
    for target in [address, master] {
        let app = App::new(target, net.provider(1));
        let error = app
            .initialize(
                "b".into(),
                "WASM".into(),
                Bytes::new(),
                Default::default(),
                Bytes::new(),
            )
            .call()
            .await
            .unwrap_err();
        assert_eq!(reverted_with::<App::NotRegistry>(error).caller, owner);
    }
    net.handle.shutdown().await;
}
