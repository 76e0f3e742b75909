//! matchOrders (spec §3): the deal record, consumption, locks, events and ids; every check of
//! §3.2 with its own error and nothing changed; sponsoring; deposit-and-match through the
//! token's `approveAndCall`.

use agora_contracts::{Hub, LibOrders};
use agora_primitives::{DealId, Nrlc, Order, Tag};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    sol_types::{SolCall, SolError},
};

use agora_testkit::market::{
    APP_OWNER, CATEGORY, DATASET_OWNER, KITTY, Orders, REQUESTER, SCHEDULER, SPONSOR, STRANGER,
    SolOrders, World, deal_of, event, null_dataset, reverted, rlc,
};

#[tokio::test]
async fn a_match_records_the_deal_consumes_the_orders_and_locks_the_funds() {
    let world = World::start().await;
    let mut orders = world.orders_with_dataset();
    orders.request.volume = U256::from(5);
    orders.workerpool.volume = U256::from(3);
    let before = world.accounts().await;
    let (deal, receipt) = world.deal(&orders).await;

    // The ids of spec §3.3.
    let request_hash = orders.request.hash(&world.domain);
    assert_eq!(deal, DealId::derive(request_hash, U256::ZERO));
    let notice: Hub::SchedulerNotice = event(&receipt, world.hub).expect("SchedulerNotice");
    assert_eq!(notice.workerpool, world.assets.workerpool);
    assert_eq!(notice.dealid, *deal.as_b256());
    let matched: Hub::OrdersMatched = event(&receipt, world.hub).expect("OrdersMatched");
    assert_eq!(matched.appHash, *orders.app.hash(&world.domain).as_b256());
    let dataset_hash = orders.dataset.as_ref().unwrap().hash(&world.domain);
    assert_eq!(matched.datasetHash, *dataset_hash.as_b256());
    let pool_hash = orders.workerpool.hash(&world.domain);
    assert_eq!(matched.workerpoolHash, *pool_hash.as_b256());
    assert_eq!(matched.requestHash, *request_hash.as_b256());
    assert_eq!(
        matched.volume,
        U256::from(3),
        "the workerpool order's volume"
    );

    // The deal record (spec §3.4).
    let hub = world.hub(STRANGER);
    let d = hub.viewDeal(*deal.as_b256()).call().await.unwrap();
    assert_eq!(
        (d.app.pointer, d.app.owner, d.app.price),
        (world.assets.app, world.address(APP_OWNER), rlc(1))
    );
    assert_eq!(
        (d.dataset.pointer, d.dataset.owner, d.dataset.price),
        (world.assets.dataset, world.address(DATASET_OWNER), rlc(2))
    );
    assert_eq!(
        (d.workerpool.pointer, d.workerpool.owner, d.workerpool.price),
        (world.assets.workerpool, world.address(SCHEDULER), rlc(10))
    );
    assert_eq!(d.trust, U256::from(1), "trust 0 is recorded as 1");
    assert_eq!(d.category, U256::from(CATEGORY));
    assert_eq!(d.tag, B256::ZERO);
    assert_eq!(d.requester, world.address(REQUESTER));
    assert_eq!(d.beneficiary, world.address(REQUESTER));
    assert_eq!(d.callback, Address::ZERO);
    assert_eq!(d.params, orders.request.params);
    let block = world
        .provider(STRANGER)
        .get_block_by_number(receipt.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.startTime, U256::from(block.header.timestamp));
    assert_eq!((d.botFirst, d.botSize), (U256::ZERO, U256::from(3)));
    assert_eq!(d.workerStake, rlc(3), "30 % of the workerpool price");
    assert_eq!(d.schedulerRewardRatio, U256::from(1));
    assert_eq!(d.sponsor, world.address(REQUESTER));

    // Consumption and locks (spec §3.5).
    for (hash, consumed) in [
        (*orders.app.hash(&world.domain).as_b256(), 3),
        (*dataset_hash.as_b256(), 3),
        (*pool_hash.as_b256(), 3),
        (*request_hash.as_b256(), 3),
    ] {
        let value = hub.viewConsumed(hash).call().await.unwrap();
        assert_eq!(value, U256::from(consumed));
    }
    let after = world.accounts().await;
    let requester = world.account(world.address(REQUESTER)).await;
    assert_eq!(
        requester.1,
        rlc(13) * U256::from(3),
        "(1 + 2 + 10) RLC × 3 tasks"
    );
    assert_eq!(requester.0, before[REQUESTER].0 - rlc(39));
    let scheduler = world.account(world.address(SCHEDULER)).await;
    assert_eq!(scheduler.1, rlc(9), "30 % of 10 RLC × 3 tasks");
    assert_eq!(after[SCHEDULER].0, before[SCHEDULER].0 - rlc(9));
    world.assert_conserved().await;

    // The rest of the request, with another workerpool order: the next slice of task indices.
    let mut next = orders.clone();
    next.workerpool.salt = B256::repeat_byte(9);
    let (second, receipt) = world.deal(&next).await;
    assert_eq!(second, DealId::derive(request_hash, U256::from(3)));
    let matched: Hub::OrdersMatched = event(&receipt, world.hub).unwrap();
    assert_eq!(matched.volume, U256::from(2));
    let d = hub.viewDeal(*second.as_b256()).call().await.unwrap();
    assert_eq!((d.botFirst, d.botSize), (U256::from(3), U256::from(2)));
    let consumed = hub
        .viewConsumed(*request_hash.as_b256())
        .call()
        .await
        .unwrap();
    assert_eq!(consumed, U256::from(5));

    // Used up: the request order has nothing left.
    let mut third = orders.clone();
    third.workerpool.salt = B256::repeat_byte(10);
    let error: Hub::OrderConsumed = reverted(world.try_match(REQUESTER, &world.sign(&third)).await);
    assert_eq!(error.orderHash, *request_hash.as_b256());
    // computeDealVolume agrees.
    let signed = world.sign(&third);
    let volume = hub
        .computeDealVolume(
            signed.app,
            signed.dataset,
            signed.workerpool,
            signed.request,
        )
        .call()
        .await
        .unwrap();
    assert_eq!(volume, U256::ZERO);
    world.assert_conserved().await;
    world.shutdown().await;
}

/// Applies `change` to the default orders, signs them, and returns the error matchOrders
/// reverts with; checks that nothing changed.
async fn rejection<E: SolError>(
    world: &World,
    with_dataset: bool,
    change: impl FnOnce(&World, &mut Orders),
) -> E {
    let mut orders = if with_dataset {
        world.orders_with_dataset()
    } else {
        world.orders()
    };
    change(world, &mut orders);
    rejection_signed(world, world.sign(&orders)).await
}

async fn rejection_signed<E: SolError>(world: &World, orders: SolOrders) -> E {
    let before = world.accounts().await;
    let error = reverted(world.try_match(REQUESTER, &orders).await);
    assert_eq!(world.accounts().await, before, "nothing changed");
    error
}

#[tokio::test]
async fn each_compatibility_check_rejects_with_its_own_error() {
    let world = World::start().await;
    let other = world.address(STRANGER);

    // 0x00
    let e: Hub::CategoryMismatch = rejection(&world, false, |_, o| {
        o.request.category = U256::from(1);
    })
    .await;
    assert_eq!((e.requested, e.offered), (U256::from(1), U256::ZERO));
    // 0x01
    let e: Hub::UnknownCategory = rejection(&world, false, |_, o| {
        o.request.category = U256::from(9);
        o.workerpool.category = U256::from(9);
    })
    .await;
    assert_eq!(e.catid, U256::from(9));
    // 0x02
    let e: Hub::TrustNotOffered = rejection(&world, false, |_, o| {
        o.request.trust = U256::from(101);
    })
    .await;
    assert_eq!((e.requested, e.offered), (U256::from(101), U256::from(100)));
    // 0x03
    let e: Hub::AppPriceTooHigh = rejection(&world, false, |_, o| {
        o.app.appprice = Nrlc::new(rlc(1) + U256::from(1));
    })
    .await;
    assert_eq!(e.maxPrice, rlc(1));
    // 0x04
    let e: Hub::DatasetPriceTooHigh = rejection(&world, true, |_, o| {
        o.request.datasetmaxprice = Nrlc::new(rlc(1));
    })
    .await;
    assert_eq!((e.price, e.maxPrice), (rlc(2), rlc(1)));
    // 0x05
    let e: Hub::WorkerpoolPriceTooHigh = rejection(&world, false, |_, o| {
        o.request.workerpoolmaxprice = Nrlc::new(rlc(9));
    })
    .await;
    assert_eq!((e.price, e.maxPrice), (rlc(10), rlc(9)));
    // 0x06: the request needs a GPU, the workerpool offers none.
    let e: Hub::TagNotOffered = rejection(&world, false, |_, o| {
        o.request.tag = Tag::GPU;
    })
    .await;
    assert_eq!(e.missing, *Tag::GPU.as_b256());
    // 0x07: the request needs a TEE the app order does not declare.
    let e: Hub::AppNotTee = rejection(&world, false, |_, o| {
        o.request.tag = Tag::TEE;
        o.workerpool.tag = Tag::TEE;
    })
    .await;
    assert_eq!(e.tag, *Tag::TEE.as_b256());
    // The dataset's TEE framework bits are ignored (iExec v6.2): a Scone-tagged dataset order
    // on a TDX pool, with a TEE app.
    let mut tee = world.orders_with_dataset();
    let tdx = Tag::new(*Tag::TEE.as_b256() | Tag::TDX.as_b256());
    tee.app.tag = Tag::TEE;
    tee.dataset.as_mut().unwrap().tag = Tag::new(*Tag::TEE.as_b256() | Tag::SCONE.as_b256());
    tee.workerpool.tag = tdx;
    let (deal, _) = world.deal(&tee).await;
    let d = world.view_deal(deal).await;
    assert_eq!(
        d.tag,
        *Tag::TEE.as_b256(),
        "the deal records the requirements only"
    );

    // Matching and restrictions.
    let e: Hub::AppMismatch = rejection(&world, false, |_, o| o.request.app = other).await;
    assert_eq!((e.requested, e.offered), (other, world.assets.app));
    let e: Hub::DatasetMismatch = rejection(&world, false, |_, o| o.request.dataset = other).await;
    assert_eq!((e.requested, e.offered), (other, Address::ZERO));
    let e: Hub::WorkerpoolNotAllowedByRequest =
        rejection(&world, false, |_, o| o.request.workerpool = other).await;
    assert_eq!(
        (e.restriction, e.workerpool),
        (other, world.assets.workerpool)
    );
    let _: Hub::DatasetNotAllowedByApp =
        rejection(&world, true, |_, o| o.app.datasetrestrict = other).await;
    let _: Hub::WorkerpoolNotAllowedByApp =
        rejection(&world, false, |_, o| o.app.workerpoolrestrict = other).await;
    let e: Hub::RequesterNotAllowedByApp =
        rejection(&world, false, |_, o| o.app.requesterrestrict = other).await;
    assert_eq!(e.requester, world.address(REQUESTER));
    let _: Hub::AppNotAllowedByDataset = rejection(&world, true, |_, o| {
        o.dataset.as_mut().unwrap().apprestrict = other;
    })
    .await;
    let _: Hub::WorkerpoolNotAllowedByDataset = rejection(&world, true, |_, o| {
        o.dataset.as_mut().unwrap().workerpoolrestrict = other;
    })
    .await;
    let _: Hub::RequesterNotAllowedByDataset = rejection(&world, true, |_, o| {
        o.dataset.as_mut().unwrap().requesterrestrict = other;
    })
    .await;
    let _: Hub::AppNotAllowedByWorkerpool =
        rejection(&world, false, |_, o| o.workerpool.apprestrict = other).await;
    let _: Hub::DatasetNotAllowedByWorkerpool =
        rejection(&world, true, |_, o| o.workerpool.datasetrestrict = other).await;
    let _: Hub::RequesterNotAllowedByWorkerpool =
        rejection(&world, false, |_, o| o.workerpool.requesterrestrict = other).await;
    // A restriction naming the account itself lets it in.
    let mut restricted = world.orders_with_dataset();
    restricted.app.requesterrestrict = world.address(REQUESTER);
    restricted.app.workerpoolrestrict = world.assets.workerpool;
    restricted.workerpool.apprestrict = world.assets.app;
    restricted.request.workerpool = world.assets.workerpool;
    restricted.request.salt = B256::repeat_byte(0x42);
    world.deal(&restricted).await;
    world.assert_conserved().await;
    world.shutdown().await;
}

#[tokio::test]
async fn each_authenticity_and_availability_check_rejects_with_its_own_error() {
    let world = World::start().await;
    let unregistered = world.address(STRANGER);

    // 0x20, 0x30, 0x40: assets that are in no registry.
    let e: Hub::AppNotRegistered = rejection(&world, false, |_, o| {
        o.app.app = unregistered;
        o.request.app = unregistered;
    })
    .await;
    assert_eq!(e.app, unregistered);
    let e: Hub::DatasetNotRegistered = rejection(&world, true, |_, o| {
        o.dataset.as_mut().unwrap().dataset = unregistered;
        o.request.dataset = unregistered;
    })
    .await;
    assert_eq!(e.dataset, unregistered);
    let e: Hub::WorkerpoolNotRegistered = rejection(&world, false, |_, o| {
        o.workerpool.workerpool = unregistered;
    })
    .await;
    assert_eq!(e.workerpool, unregistered);

    // 0x21, 0x31, 0x41, 0x50: an order signed by someone else than its owner.
    let orders = world.orders_with_dataset();
    let e: Hub::InvalidAppOrderSignature = rejection_signed(
        &world,
        world.sign_as(&orders, STRANGER, DATASET_OWNER, SCHEDULER, REQUESTER),
    )
    .await;
    assert_eq!(e.owner, world.address(APP_OWNER));
    assert_eq!(e.orderHash, *orders.app.hash(&world.domain).as_b256());
    let e: Hub::InvalidDatasetOrderSignature = rejection_signed(
        &world,
        world.sign_as(&orders, APP_OWNER, STRANGER, SCHEDULER, REQUESTER),
    )
    .await;
    assert_eq!(e.owner, world.address(DATASET_OWNER));
    let e: Hub::InvalidWorkerpoolOrderSignature = rejection_signed(
        &world,
        world.sign_as(&orders, APP_OWNER, DATASET_OWNER, STRANGER, REQUESTER),
    )
    .await;
    assert_eq!(e.owner, world.address(SCHEDULER));
    let e: Hub::InvalidRequestOrderSignature = rejection_signed(
        &world,
        world.sign_as(&orders, APP_OWNER, DATASET_OWNER, SCHEDULER, STRANGER),
    )
    .await;
    assert_eq!(e.requester, world.address(REQUESTER));
    // A signature of a changed order does not carry over.
    let mut tampered = world.sign(&orders);
    tampered.request.volume = U256::from(7);
    let _: Hub::InvalidRequestOrderSignature = rejection_signed(&world, tampered).await;
    // A presigned order needs no signature.
    let mut presigned = world.sign(&orders);
    presigned.request.sign = Bytes::new();
    let _: Hub::InvalidRequestOrderSignature = rejection_signed(&world, presigned.clone()).await;
    let operation = LibOrders::RequestOrderOperation {
        order: presigned.request.clone(),
        operation: 0,
        sign: Bytes::new(),
    };
    world
        .hub(REQUESTER)
        .manageRequestOrder(operation)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    world
        .try_match(STRANGER, &presigned)
        .await
        .expect("matches");

    // 0x60: an app order of volume 1 serves one task only; a closed order none.
    let mut single = world.orders();
    single.app.volume = U256::from(1);
    single.app.salt = B256::repeat_byte(0x61);
    single.request.salt = B256::repeat_byte(0x62);
    world.deal(&single).await;
    single.request.salt = B256::repeat_byte(0x63);
    let e: Hub::OrderConsumed = rejection(&world, false, |_, o| *o = single.clone()).await;
    assert_eq!(e.orderHash, *single.app.hash(&world.domain).as_b256());

    // Funds: a requester with too little SRLC.
    let mut poor = world.orders();
    poor.request.requester = world.address(STRANGER);
    poor.request.volume = U256::from(100);
    poor.request.salt = B256::repeat_byte(0x64);
    let e: Hub::InsufficientBalance = rejection_signed(
        &world,
        world.sign_as(&poor, APP_OWNER, DATASET_OWNER, SCHEDULER, STRANGER),
    )
    .await;
    assert_eq!(
        (e.account, e.needed),
        (world.address(STRANGER), rlc(11) * U256::from(100))
    );
    world.assert_conserved().await;
    world.shutdown().await;
}

#[tokio::test]
async fn a_sponsor_pays_for_someone_elses_request() {
    let world = World::start().await;
    let orders = world.orders();
    let signed = world.sign(&orders);
    let before = world.accounts().await;
    let receipt = world
        .hub(SPONSOR)
        .sponsorMatchOrders(
            signed.app.clone(),
            signed.dataset.clone(),
            signed.workerpool.clone(),
            signed.request.clone(),
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let deal = deal_of(&receipt, world.hub);
    let sponsored: Hub::DealSponsored = event(&receipt, world.hub).expect("DealSponsored");
    assert_eq!(
        (sponsored.dealId, sponsored.sponsor),
        (*deal.as_b256(), world.address(SPONSOR))
    );
    let d = world.view_deal(deal).await;
    assert_eq!(d.sponsor, world.address(SPONSOR));
    assert_eq!(d.requester, world.address(REQUESTER));
    let after = world.accounts().await;
    assert_eq!(after[SPONSOR].1, rlc(11), "the sponsor's funds are locked");
    assert_eq!(
        after[REQUESTER], before[REQUESTER],
        "the requester pays nothing"
    );
    world.assert_conserved().await;
    world.shutdown().await;
}

#[tokio::test]
async fn a_requester_deposits_and_matches_in_one_transaction() {
    let world = World::start().await;
    let orders = world.orders();
    let signed = world.sign(&orders);
    let call = Hub::matchOrdersCall {
        appOrder: signed.app.clone(),
        datasetOrder: null_dataset(),
        workerpoolOrder: signed.workerpool.clone(),
        requestOrder: signed.request.clone(),
    };
    let data = Bytes::from(call.abi_encode());
    let before = world.accounts().await;
    let token = world.token(REQUESTER);
    let receipt = token
        .approveAndCall(world.hub, rlc(11), data.clone())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "{receipt:?}");
    let deal = deal_of(&receipt, world.hub);
    let after = world.accounts().await;
    assert_eq!(
        after[REQUESTER].1,
        rlc(11),
        "the deposit is locked for the deal"
    );
    assert_eq!(
        after[REQUESTER].0, before[REQUESTER].0,
        "nothing else was touched"
    );
    assert_eq!(
        world.view_deal(deal).await.requester,
        world.address(REQUESTER)
    );

    // Someone else's request cannot be paid this way.
    let mut other = orders.clone();
    other.request.salt = B256::repeat_byte(0x77);
    let signed = world.sign(&other);
    let call = Hub::matchOrdersCall {
        appOrder: signed.app,
        datasetOrder: null_dataset(),
        workerpoolOrder: signed.workerpool,
        requestOrder: signed.request,
    };
    let before = world.accounts().await;
    let attempt = world
        .token(SPONSOR)
        .approveAndCall(world.hub, rlc(11), Bytes::from(call.abi_encode()))
        .send()
        .await;
    let _: Hub::CallerIsNotTheRequester = reverted(attempt);
    // A failing match undoes the deposit.
    let mut failing = orders.clone();
    failing.request.salt = B256::repeat_byte(0x78);
    failing.request.workerpoolmaxprice = Nrlc::new(rlc(1));
    let signed = world.sign(&failing);
    let call = Hub::matchOrdersCall {
        appOrder: signed.app,
        datasetOrder: null_dataset(),
        workerpoolOrder: signed.workerpool,
        requestOrder: signed.request,
    };
    let attempt = world
        .token(REQUESTER)
        .approveAndCall(world.hub, rlc(11), Bytes::from(call.abi_encode()))
        .send()
        .await;
    let _: Hub::WorkerpoolPriceTooHigh = reverted(attempt);
    assert_eq!(world.accounts().await, before);
    assert_eq!(world.account(KITTY).await, (U256::ZERO, U256::ZERO));
    world.assert_conserved().await;
    world.shutdown().await;
}
