//! The market follows the chain: deals lower remaining volumes until orders are FILLED, closed
//! orders are CANCELLED, and an asset that changes hands makes its orders STALE until it comes
//! back.

use agora_api::market::{OrderKind, OrderStatus};
use agora_contracts::{AppRegistry, Hub, LibOrders};
use agora_primitives::{AppOrder, B256, Bytes, Order, OrderOperation, RequestOrder, U256};
use agora_testkit::{
    market::{APP_OWNER, REQUESTER, SCHEDULER, STRANGER, reverted},
    mined,
};
use alloy::signers::SignerSync;

use crate::{Market, query, token_id};

#[tokio::test]
async fn remaining_volume_follows_matches_until_filled() {
    let market = Market::start().await;
    let world = &market.world;
    let mut orders = world.orders();
    orders.app.volume = U256::from(3);
    orders.request.volume = U256::from(2);
    let app = market
        .publish(market.signed(orders.app.clone(), APP_OWNER))
        .await
        .hash;
    let pool = market
        .publish(market.signed(orders.workerpool.clone(), SCHEDULER))
        .await
        .hash;
    let request = market
        .publish(market.signed(orders.request.clone(), REQUESTER))
        .await
        .hash;
    // A deal of 2 tasks.
    world.deal(&orders).await;
    let entry = market
        .until(app, "at 1 left", |o| o.remaining == U256::from(1))
        .await;
    assert_eq!(entry.status, OrderStatus::Open);
    market
        .until(request, "FILLED", |o| o.status == OrderStatus::Filled)
        .await;
    market
        .until(pool, "at 998 left", |o| o.remaining == U256::from(998))
        .await;
    // A request of 5 gets the app order's last task.
    orders.request = RequestOrder {
        volume: U256::from(5),
        salt: B256::repeat_byte(0x44),
        ..orders.request
    };
    let second = market
        .publish(market.signed(orders.request.clone(), REQUESTER))
        .await
        .hash;
    world.deal(&orders).await;
    let entry = market
        .until(app, "FILLED", |o| o.status == OrderStatus::Filled)
        .await;
    assert_eq!(entry.remaining, U256::ZERO);
    market
        .until(second, "at 4 left", |o| o.remaining == U256::from(4))
        .await;
    market
        .until(pool, "at 997 left", |o| o.remaining == U256::from(997))
        .await;
    // Filled orders leave the open lists.
    assert!(market.list(&query(OrderKind::App)).await.is_empty());
    assert_eq!(market.list(&query(OrderKind::Request)).await, [second]);
    let mut filled = query(OrderKind::App);
    filled.status = OrderStatus::Filled;
    assert_eq!(market.list(&filled).await, [app]);
    market.shutdown().await;
}

#[tokio::test]
async fn an_onchain_cancel_is_observed() {
    let market = Market::start().await;
    let world = &market.world;
    let orders = world.orders();
    let app = market
        .publish(market.signed(orders.app.clone(), APP_OWNER))
        .await
        .hash;
    let pool = market
        .publish(market.signed(orders.workerpool.clone(), SCHEDULER))
        .await
        .hash;
    // The owner closes its app order.
    mined!(
        world
            .hub(APP_OWNER)
            .manageAppOrder(LibOrders::AppOrderOperation {
                order: LibOrders::AppOrder::from(&orders.app),
                operation: OrderOperation::Close as u8,
                sign: Bytes::new(),
            })
    );
    let entry = market
        .until(app, "CANCELLED", |o| o.status == OrderStatus::Cancelled)
        .await;
    assert_eq!(entry.remaining, U256::ZERO);
    // The scheduler signs the close of its workerpool order; a stranger sends it.
    let close = orders
        .workerpool
        .operation_hash(OrderOperation::Close, &world.domain);
    let sign = world.signer(SCHEDULER).sign_hash_sync(&close).unwrap();
    mined!(
        world
            .hub(STRANGER)
            .manageWorkerpoolOrder(LibOrders::WorkerpoolOrderOperation {
                order: LibOrders::WorkerpoolOrder::from(&orders.workerpool),
                operation: OrderOperation::Close as u8,
                sign: Bytes::from(sign.as_bytes().to_vec()),
            })
    );
    market
        .until(pool, "CANCELLED", |o| o.status == OrderStatus::Cancelled)
        .await;
    assert!(market.list(&query(OrderKind::App)).await.is_empty());
    assert!(market.list(&query(OrderKind::Workerpool)).await.is_empty());
    let mut cancelled = query(OrderKind::Workerpool);
    cancelled.status = OrderStatus::Cancelled;
    assert_eq!(market.list(&cancelled).await, [pool]);
    market.shutdown().await;
}

#[tokio::test]
async fn an_asset_transfer_makes_its_orders_stale_until_it_comes_back() {
    let market = Market::start().await;
    let world = &market.world;
    let orders = world.orders();
    let app = market
        .publish(market.signed(orders.app.clone(), APP_OWNER))
        .await
        .hash;
    let other = AppOrder {
        salt: B256::repeat_byte(0x21),
        ..orders.app.clone()
    };
    let other = market.publish(market.signed(other, APP_OWNER)).await.hash;
    let request = market
        .publish(market.signed(orders.request.clone(), REQUESTER))
        .await
        .hash;
    let owner = world.address(APP_OWNER);
    let stranger = world.address(STRANGER);
    let id = token_id(world.assets.app);
    mined!(
        AppRegistry::new(world.deployment.app_registry, world.provider(APP_OWNER))
            .transferFrom(owner, stranger, id)
    );
    market
        .until(app, "STALE", |o| o.status == OrderStatus::Stale)
        .await;
    market
        .until(other, "STALE", |o| o.status == OrderStatus::Stale)
        .await;
    // As matchOrders sees it: the signature is no longer the owner's.
    let error: Hub::InvalidAppOrderSignature =
        reverted(world.try_match(REQUESTER, &world.sign(&orders)).await);
    assert_eq!(error.owner, stranger);
    // The request order does not depend on who owns the app.
    assert_eq!(
        market.client.get(request).await.unwrap().unwrap().status,
        OrderStatus::Open
    );
    assert!(market.list(&query(OrderKind::App)).await.is_empty());
    let mut stale = query(OrderKind::App);
    stale.status = OrderStatus::Stale;
    assert_eq!(market.list(&stale).await.len(), 2);
    // Back to its owner: open again, and it matches.
    mined!(
        AppRegistry::new(world.deployment.app_registry, world.provider(STRANGER))
            .transferFrom(stranger, owner, id)
    );
    market
        .until(app, "OPEN", |o| o.status == OrderStatus::Open)
        .await;
    market
        .until(other, "OPEN", |o| o.status == OrderStatus::Open)
        .await;
    world.deal(&orders).await;
    market
        .until(app, "at 999 left", |o| o.remaining == U256::from(999))
        .await;
    market.shutdown().await;
}
