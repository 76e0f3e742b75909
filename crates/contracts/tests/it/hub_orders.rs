//! The hub's orders and categories: the EIP-712 domain, `manage*Order` (presign and close, by
//! the owner's transaction or the owner's signed operation), the order signature check (EOA 65
//! and 64 bytes, ERC-1271), an NFT transfer changing who manages an app's orders, the default
//! categories and `createCategory`.

use agora_contracts::{AppRegistry, DatasetRegistry, Hub, LibOrders, WorkerpoolRegistry};
use agora_primitives::{AppOrder, Domain, Order, OrderOperation};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    signers::{SignerSync, local::PrivateKeySigner},
};

use crate::{
    common::{EscrowHarness, Net, emitted, mined, reverted_with, token_id},
    orders::{app_order, dataset_order, op_code, request_order, sign_operation, workerpool_order},
};

alloy::sol!(
    /// A contract signer (ERC-1271) accepting its `signer`'s signatures (tests only).
    #[sol(rpc)]
    #[derive(Debug)]
    ERC1271Signer,
    "../../contracts/out/ERC1271Signer.json"
);

/// The contract code size limit (EIP-170).
const MAX_CODE_SIZE: usize = 24_576;

fn signer(net: &Net, index: usize) -> PrivateKeySigner {
    net.handle.dev_accounts()[index].signer()
}

async fn domain(net: &Net, hub: Address) -> Domain {
    let chain_id = net.provider(0).get_chain_id().await.expect("chain id");
    Domain::new(chain_id, hub)
}

/// Creates an app owned by `owner` and returns its address.
async fn create_app(net: &Net, owner: Address) -> Address {
    let registry = AppRegistry::new(net.deployment.app_registry, net.provider(0));
    let call = registry.createApp(
        owner,
        "app".into(),
        "DOCKER".into(),
        Bytes::from_static(b"docker.io/app:1"),
        B256::ZERO,
        Bytes::new(),
    );
    let app = call.call().await.expect("predicts");
    mined!(call);
    app
}

async fn create_dataset(net: &Net, owner: Address) -> Address {
    let registry = DatasetRegistry::new(net.deployment.dataset_registry, net.provider(0));
    let call = registry.createDataset(
        owner,
        "data".into(),
        Bytes::from_static(b"https://example.invalid/d"),
        B256::ZERO,
    );
    let dataset = call.call().await.expect("predicts");
    mined!(call);
    dataset
}

async fn create_workerpool(net: &Net, owner: Address) -> Address {
    let registry = WorkerpoolRegistry::new(net.deployment.workerpool_registry, net.provider(0));
    let call = registry.createWorkerpool(owner, "pool".into());
    let pool = call.call().await.expect("predicts");
    mined!(call);
    pool
}

fn app_operation(
    order: &AppOrder,
    operation: OrderOperation,
    sign: Bytes,
) -> LibOrders::AppOrderOperation {
    LibOrders::AppOrderOperation {
        order: LibOrders::AppOrder::from(order),
        operation: op_code(operation),
        sign,
    }
}

fn hub(net: &Net, user: usize) -> Hub::HubInstance<DynProvider> {
    Hub::new(net.deployment.hub, net.provider(user))
}

#[tokio::test]
async fn the_domain_and_its_separator_match_agora_primitives() {
    let net = Net::start().await;
    let as_deployer = hub(&net, 0);
    let domain = domain(&net, net.deployment.hub).await;
    let sol = as_deployer.domain().call().await.unwrap();
    assert_eq!(sol.name, Domain::NAME);
    assert_eq!(sol.version, Domain::VERSION);
    assert_eq!(sol.chainId, U256::from(domain.chain_id));
    assert_eq!(sol.verifyingContract, net.deployment.hub);
    let expected = alloy::sol_types::SolStruct::eip712_hash_struct(&sol);
    assert_eq!(expected, domain.separator());

    // The order hash the hub computes (through a presign) is agora-primitives'.
    let owner = net.account(1);
    let app = create_app(&net, owner).await;
    let order = app_order(app);
    let receipt = mined!(hub(&net, 1).manageAppOrder(app_operation(
        &order,
        OrderOperation::Sign,
        Bytes::new()
    )));
    let signed: Hub::SignedAppOrder = emitted(&receipt, net.deployment.hub);
    assert_eq!(signed.appHash, *order.hash(&domain).as_b256());

    // The runtime stays under the code size limit.
    let code = net
        .provider(0)
        .get_code_at(net.deployment.hub)
        .await
        .unwrap();
    assert!(
        code.len() < MAX_CODE_SIZE,
        "the hub's runtime is {} bytes",
        code.len()
    );
    println!("hub runtime: {} bytes", code.len());
    net.handle.shutdown().await;
}

#[tokio::test]
async fn every_order_kind_is_presigned_and_closed_by_its_owner_or_its_signed_operation() {
    let net = Net::start().await;
    let hub_address = net.deployment.hub;
    let domain = domain(&net, hub_address).await;
    let (owner, relayer, stranger) = (1, 2, 3);
    let owner_key = signer(&net, owner);
    let stranger_key = signer(&net, stranger);
    let app = create_app(&net, net.account(owner)).await;
    let dataset = create_dataset(&net, net.account(owner)).await;
    let pool = create_workerpool(&net, net.account(owner)).await;
    let mut gas = Vec::new();

    // App: presigned by the owner's transaction, closed through the owner's signed operation.
    let order = app_order(app);
    let hash = *order.hash(&domain).as_b256();
    let receipt = mined!(hub(&net, owner).manageAppOrder(app_operation(
        &order,
        OrderOperation::Sign,
        Bytes::new()
    )));
    gas.push(("manageAppOrder SIGN, by the owner", receipt.gas_used));
    assert_eq!(
        emitted::<Hub::SignedAppOrder>(&receipt, hub_address).appHash,
        hash
    );
    assert_eq!(
        hub(&net, 0).viewPresigned(hash).call().await.unwrap(),
        net.account(owner)
    );
    assert_eq!(
        hub(&net, 0).viewConsumed(hash).call().await.unwrap(),
        U256::ZERO
    );

    let sign = sign_operation(&order, OrderOperation::Close, &domain, &owner_key);
    let receipt = mined!(hub(&net, relayer).manageAppOrder(app_operation(
        &order,
        OrderOperation::Close,
        sign
    )));
    gas.push(("manageAppOrder CLOSE, signed operation", receipt.gas_used));
    assert_eq!(
        emitted::<Hub::ClosedAppOrder>(&receipt, hub_address).appHash,
        hash
    );
    assert_eq!(
        hub(&net, 0).viewConsumed(hash).call().await.unwrap(),
        order.volume
    );

    // A stranger's operation, sent or signed, reverts.
    let other = AppOrder {
        salt: B256::repeat_byte(9),
        ..order.clone()
    };
    let error = hub(&net, stranger)
        .manageAppOrder(app_operation(&other, OrderOperation::Sign, Bytes::new()))
        .call()
        .await
        .unwrap_err();
    let error = reverted_with::<Hub::InvalidSenderOrSignature>(error);
    assert_eq!(
        (error.signer, error.sender),
        (net.account(owner), net.account(stranger))
    );
    let sign = sign_operation(&other, OrderOperation::Sign, &domain, &stranger_key);
    let error = hub(&net, relayer)
        .manageAppOrder(app_operation(&other, OrderOperation::Sign, sign))
        .call()
        .await
        .unwrap_err();
    reverted_with::<Hub::InvalidSenderOrSignature>(error);
    // The owner's signature of another operation (SIGN for CLOSE) does not do.
    let sign = sign_operation(&other, OrderOperation::Sign, &domain, &owner_key);
    let error = hub(&net, relayer)
        .manageAppOrder(app_operation(&other, OrderOperation::Close, sign))
        .call()
        .await
        .unwrap_err();
    reverted_with::<Hub::InvalidSenderOrSignature>(error);

    // Dataset: presign through the owner's signed operation.
    let order = dataset_order(dataset);
    let hash = *order.hash(&domain).as_b256();
    let sign = sign_operation(&order, OrderOperation::Sign, &domain, &owner_key);
    let receipt = mined!(
        hub(&net, relayer).manageDatasetOrder(LibOrders::DatasetOrderOperation {
            order: LibOrders::DatasetOrder::from(&order),
            operation: op_code(OrderOperation::Sign),
            sign,
        })
    );
    gas.push((
        "manageDatasetOrder SIGN, signed operation",
        receipt.gas_used,
    ));
    assert_eq!(
        emitted::<Hub::SignedDatasetOrder>(&receipt, hub_address).datasetHash,
        hash
    );
    assert_eq!(
        hub(&net, 0).viewPresigned(hash).call().await.unwrap(),
        net.account(owner)
    );
    let receipt = mined!(
        hub(&net, owner).manageDatasetOrder(LibOrders::DatasetOrderOperation {
            order: LibOrders::DatasetOrder::from(&order),
            operation: op_code(OrderOperation::Close),
            sign: Bytes::new(),
        })
    );
    gas.push(("manageDatasetOrder CLOSE, by the owner", receipt.gas_used));
    assert_eq!(
        emitted::<Hub::ClosedDatasetOrder>(&receipt, hub_address).datasetHash,
        hash
    );
    assert_eq!(
        hub(&net, 0).viewConsumed(hash).call().await.unwrap(),
        order.volume
    );
    let error = hub(&net, stranger)
        .manageDatasetOrder(LibOrders::DatasetOrderOperation {
            order: LibOrders::DatasetOrder::from(&order),
            operation: op_code(OrderOperation::Close),
            sign: Bytes::new(),
        })
        .call()
        .await
        .unwrap_err();
    reverted_with::<Hub::InvalidSenderOrSignature>(error);

    // Workerpool.
    let order = workerpool_order(pool);
    let hash = *order.hash(&domain).as_b256();
    let receipt = mined!(hub(&net, owner).manageWorkerpoolOrder(
        LibOrders::WorkerpoolOrderOperation {
            order: LibOrders::WorkerpoolOrder::from(&order),
            operation: op_code(OrderOperation::Sign),
            sign: Bytes::new(),
        }
    ));
    gas.push(("manageWorkerpoolOrder SIGN, by the owner", receipt.gas_used));
    assert_eq!(
        emitted::<Hub::SignedWorkerpoolOrder>(&receipt, hub_address).workerpoolHash,
        hash
    );
    let sign = sign_operation(&order, OrderOperation::Close, &domain, &owner_key);
    let receipt = mined!(hub(&net, relayer).manageWorkerpoolOrder(
        LibOrders::WorkerpoolOrderOperation {
            order: LibOrders::WorkerpoolOrder::from(&order),
            operation: op_code(OrderOperation::Close),
            sign,
        }
    ));
    gas.push((
        "manageWorkerpoolOrder CLOSE, signed operation",
        receipt.gas_used,
    ));
    assert_eq!(
        emitted::<Hub::ClosedWorkerpoolOrder>(&receipt, hub_address).workerpoolHash,
        hash
    );
    assert_eq!(
        hub(&net, 0).viewConsumed(hash).call().await.unwrap(),
        order.volume
    );

    // Request: the owner is the requester.
    let order = request_order(net.account(owner));
    let hash = *order.hash(&domain).as_b256();
    let sign = sign_operation(&order, OrderOperation::Sign, &domain, &owner_key);
    let receipt = mined!(
        hub(&net, relayer).manageRequestOrder(LibOrders::RequestOrderOperation {
            order: LibOrders::RequestOrder::from(&order),
            operation: op_code(OrderOperation::Sign),
            sign,
        })
    );
    gas.push((
        "manageRequestOrder SIGN, signed operation",
        receipt.gas_used,
    ));
    assert_eq!(
        emitted::<Hub::SignedRequestOrder>(&receipt, hub_address).requestHash,
        hash
    );
    assert_eq!(
        hub(&net, 0).viewPresigned(hash).call().await.unwrap(),
        net.account(owner)
    );
    let receipt = mined!(
        hub(&net, owner).manageRequestOrder(LibOrders::RequestOrderOperation {
            order: LibOrders::RequestOrder::from(&order),
            operation: op_code(OrderOperation::Close),
            sign: Bytes::new(),
        })
    );
    gas.push(("manageRequestOrder CLOSE, by the owner", receipt.gas_used));
    assert_eq!(
        emitted::<Hub::ClosedRequestOrder>(&receipt, hub_address).requestHash,
        hash
    );
    assert_eq!(
        hub(&net, 0).viewConsumed(hash).call().await.unwrap(),
        order.volume
    );
    let error = hub(&net, stranger)
        .manageRequestOrder(LibOrders::RequestOrderOperation {
            order: LibOrders::RequestOrder::from(&order),
            operation: op_code(OrderOperation::Sign),
            sign: Bytes::new(),
        })
        .call()
        .await
        .unwrap_err();
    reverted_with::<Hub::InvalidSenderOrSignature>(error);

    for (call, used) in gas {
        println!("{call}: {used} gas");
    }
    net.handle.shutdown().await;
}

#[tokio::test]
async fn transferring_an_app_changes_who_manages_its_orders() {
    let net = Net::start().await;
    let domain = domain(&net, net.deployment.hub).await;
    let (old, new) = (1, 2);
    let app = create_app(&net, net.account(old)).await;
    let registry = AppRegistry::new(net.deployment.app_registry, net.provider(old));
    mined!(registry.transferFrom(net.account(old), net.account(new), token_id(app)));

    let order = app_order(app);
    let sign = sign_operation(&order, OrderOperation::Sign, &domain, &signer(&net, old));
    let error = hub(&net, 3)
        .manageAppOrder(app_operation(&order, OrderOperation::Sign, sign))
        .call()
        .await
        .unwrap_err();
    assert_eq!(
        reverted_with::<Hub::InvalidSenderOrSignature>(error).signer,
        net.account(new)
    );
    let error = hub(&net, old)
        .manageAppOrder(app_operation(&order, OrderOperation::Close, Bytes::new()))
        .call()
        .await
        .unwrap_err();
    reverted_with::<Hub::InvalidSenderOrSignature>(error);

    let sign = sign_operation(&order, OrderOperation::Sign, &domain, &signer(&net, new));
    mined!(hub(&net, 3).manageAppOrder(app_operation(&order, OrderOperation::Sign, sign)));
    let hash = *order.hash(&domain).as_b256();
    assert_eq!(
        hub(&net, 0).viewPresigned(hash).call().await.unwrap(),
        net.account(new)
    );
    net.handle.shutdown().await;
}

/// Checks a signature of `hash` against `signer` through the harness.
async fn check(
    harness: &EscrowHarness::EscrowHarnessInstance<DynProvider>,
    signer: Address,
    hash: B256,
    sign: Vec<u8>,
) -> bool {
    harness
        .checkOrderSignature(signer, hash, sign.into())
        .call()
        .await
        .expect("the check does not revert")
}

#[tokio::test]
async fn the_order_signature_check_takes_65_and_64_byte_signatures_and_erc1271() {
    let net = Net::start().await;
    let harness = net.deploy_harness(0).await;
    let domain = domain(&net, *harness.address()).await;
    let key = signer(&net, 1);
    let (account, other) = (net.account(1), net.account(2));
    let contract = ERC1271Signer::deploy(net.provider(0), account)
        .await
        .expect("deploys");
    let contract = *contract.address();

    let hashes = [
        *app_order(Address::repeat_byte(7)).hash(&domain).as_b256(),
        *dataset_order(Address::repeat_byte(7))
            .hash(&domain)
            .as_b256(),
        *workerpool_order(Address::repeat_byte(7))
            .hash(&domain)
            .as_b256(),
        *request_order(account).hash(&domain).as_b256(),
    ];
    for hash in hashes {
        let signature = key.sign_hash_sync(&hash).unwrap();
        let full = signature.as_bytes().to_vec();
        let compact = signature.as_erc2098().to_vec();
        assert!(
            check(&harness, account, hash, full.clone()).await,
            "65 bytes"
        );
        assert!(
            check(&harness, account, hash, compact.clone()).await,
            "64 bytes"
        );
        assert!(
            !check(&harness, other, hash, full.clone()).await,
            "wrong signer"
        );
        assert!(
            !check(&harness, other, hash, compact).await,
            "wrong signer, 64 bytes"
        );
        assert!(
            !check(&harness, account, B256::repeat_byte(1), full.clone()).await,
            "other hash"
        );
        assert!(
            !check(&harness, account, hash, Vec::new()).await,
            "no signature"
        );
        assert!(
            check(&harness, contract, hash, full.clone()).await,
            "ERC-1271"
        );
        let wrong = signer(&net, 2)
            .sign_hash_sync(&hash)
            .unwrap()
            .as_bytes()
            .to_vec();
        assert!(
            !check(&harness, contract, hash, wrong).await,
            "ERC-1271 refuses"
        );
        assert!(
            !check(&harness, Address::ZERO, hash, full).await,
            "zero signer"
        );
    }
    net.handle.shutdown().await;
}

#[tokio::test]
async fn a_presigned_order_passes_the_signature_check_without_a_signature() {
    let net = Net::start().await;
    let harness = net.deploy_harness(0).await;
    let domain = domain(&net, *harness.address()).await;
    let owner = net.account(1);
    let app = create_app(&net, owner).await;
    let order = app_order(app);
    let hash = *order.hash(&domain).as_b256();
    assert!(!check(&harness, owner, hash, Vec::new()).await);
    let as_owner = Hub::new(*harness.address(), net.provider(1));
    mined!(as_owner.manageAppOrder(app_operation(&order, OrderOperation::Sign, Bytes::new())));
    assert!(check(&harness, owner, hash, Vec::new()).await);
    assert!(!check(&harness, net.account(2), hash, Vec::new()).await);
    net.handle.shutdown().await;
}

#[tokio::test]
async fn the_default_categories_exist_and_only_the_owner_creates_more() {
    let net = Net::start().await;
    let hub_address = net.deployment.hub;
    let owner = hub(&net, 0);
    assert_eq!(owner.owner().call().await.unwrap(), net.account(0));
    assert_eq!(
        owner.countCategory().call().await.unwrap(),
        U256::from(5u64)
    );
    let defaults = [
        ("XS", 300u64),
        ("S", 1_200),
        ("M", 3_600),
        ("L", 10_800),
        ("XL", 36_000),
    ];
    for (id, (name, time)) in defaults.into_iter().enumerate() {
        let category = owner.viewCategory(U256::from(id)).call().await.unwrap();
        assert_eq!(category.name, name);
        assert_eq!(category.description, "{}");
        assert_eq!(category.workClockTimeRef, U256::from(time));
    }
    let error = owner
        .viewCategory(U256::from(5u64))
        .call()
        .await
        .unwrap_err();
    assert_eq!(
        reverted_with::<Hub::UnknownCategory>(error).catid,
        U256::from(5u64)
    );

    let receipt = mined!(owner.createCategory("XXL".into(), "huge".into(), U256::from(100_000u64)));
    let event: Hub::CreateCategory = emitted(&receipt, hub_address);
    assert_eq!(event.catid, U256::from(5u64));
    assert_eq!(
        (event.name.as_str(), event.description.as_str()),
        ("XXL", "huge")
    );
    assert_eq!(event.workClockTimeRef, U256::from(100_000u64));
    assert_eq!(
        owner.countCategory().call().await.unwrap(),
        U256::from(6u64)
    );
    assert_eq!(
        owner
            .viewCategory(U256::from(5u64))
            .call()
            .await
            .unwrap()
            .name,
        "XXL"
    );

    let stranger = hub(&net, 1);
    let error = stranger
        .createCategory("no".into(), "{}".into(), U256::from(1u64))
        .call()
        .await
        .unwrap_err();
    assert_eq!(
        reverted_with::<Hub::NotTheOwner>(error).caller,
        net.account(1)
    );

    // Ownership moves: the new owner creates, the old one no longer can.
    let error = owner
        .transferOwnership(Address::ZERO)
        .call()
        .await
        .unwrap_err();
    reverted_with::<Hub::InvalidOwner>(error);
    mined!(owner.transferOwnership(net.account(1)));
    assert_eq!(owner.owner().call().await.unwrap(), net.account(1));
    mined!(stranger.createCategory("new".into(), "{}".into(), U256::from(1u64)));
    let error = owner
        .createCategory("old".into(), "{}".into(), U256::from(1u64))
        .call()
        .await
        .unwrap_err();
    reverted_with::<Hub::NotTheOwner>(error);
    net.handle.shutdown().await;
}
