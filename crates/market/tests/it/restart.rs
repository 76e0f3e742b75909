//! A market restarted on its book keeps every order and catches up on the events of the blocks
//! mined while it was down.

use agora_api::market::{OrderKind, OrderStatus, SignedOrder};
use agora_contracts::{DatasetRegistry, LibOrders};
use agora_primitives::{AppOrder, B256, Bytes, OrderOperation, U256};
use agora_testkit::{
    market::{APP_OWNER, DATASET_OWNER, REQUESTER, SCHEDULER, STRANGER},
    mined,
};

use crate::{Market, query, token_id};

#[tokio::test]
async fn a_restarted_market_keeps_its_orders_and_catches_up_on_what_it_missed() {
    let mut market = Market::start().await;
    let orders = market.world.orders_with_dataset();
    let mut published = Vec::new();
    let signed: [SignedOrder; 4] = [
        market.signed(orders.app.clone(), APP_OWNER).into(),
        market
            .signed(orders.dataset.clone().unwrap(), DATASET_OWNER)
            .into(),
        market.signed(orders.workerpool.clone(), SCHEDULER).into(),
        market.signed(orders.request.clone(), REQUESTER).into(),
    ];
    for order in signed {
        published.push(market.publish(order).await);
    }
    let closing = AppOrder {
        salt: B256::repeat_byte(0x31),
        ..orders.app.clone()
    };
    let closing_hash = market
        .publish(market.signed(closing.clone(), APP_OWNER))
        .await
        .hash;
    market.caught_up().await;
    market.kill().await;

    // While the market is down: a deal, a close, a transfer, and blocks mined.
    let world = &market.world;
    world.deal(&orders).await;
    mined!(
        world
            .hub(APP_OWNER)
            .manageAppOrder(LibOrders::AppOrderOperation {
                order: LibOrders::AppOrder::from(&closing),
                operation: OrderOperation::Close as u8,
                sign: Bytes::new(),
            })
    );
    mined!(
        DatasetRegistry::new(
            world.deployment.dataset_registry,
            world.provider(DATASET_OWNER)
        )
        .transferFrom(
            world.address(DATASET_OWNER),
            world.address(STRANGER),
            token_id(world.assets.dataset)
        )
    );
    for _ in 0..3 {
        world.deposit(STRANGER, U256::from(1)).await;
    }

    market.restart().await;
    let [app, dataset, pool, request] = [0, 1, 2, 3].map(|i| published[i].hash);
    // Everything is still there, as it was published.
    for entry in &published {
        let kept = market.client.get(entry.hash).await.unwrap().unwrap();
        assert_eq!(kept.order, entry.order);
        assert_eq!(kept.signer, entry.signer);
        assert_eq!(kept.published_at_ms, entry.published_at_ms);
    }
    // And what happened while it was down is applied.
    market
        .until(request, "FILLED", |o| o.status == OrderStatus::Filled)
        .await;
    market
        .until(app, "at 999 left", |o| o.remaining == U256::from(999))
        .await;
    market
        .until(pool, "at 999 left", |o| o.remaining == U256::from(999))
        .await;
    let entry = market
        .until(dataset, "STALE", |o| o.status == OrderStatus::Stale)
        .await;
    assert_eq!(entry.remaining, U256::from(999));
    market
        .until(closing_hash, "CANCELLED", |o| {
            o.status == OrderStatus::Cancelled
        })
        .await;
    market.caught_up().await;
    assert_eq!(market.list(&query(OrderKind::App)).await, [app]);
    // A second restart changes nothing (nothing is applied twice).
    let before: Vec<_> = {
        let mut all = Vec::new();
        for entry in &published {
            all.push(market.client.get(entry.hash).await.unwrap().unwrap());
        }
        all
    };
    market.restart().await;
    market.caught_up().await;
    for entry in before {
        assert_eq!(market.client.get(entry.hash).await.unwrap().unwrap(), entry);
    }
    market.shutdown().await;
}

#[tokio::test]
async fn a_market_for_an_address_that_is_not_a_hub_does_not_start() {
    let world = agora_testkit::market::World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config =
        agora_market::Config::test(world.url(), world.assets.app, dir.path().join("market.db"));
    let error = agora_market::serve(config).await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "chain: cannot read the registries of hub {}",
            world.assets.app
        )),
        "{error}"
    );
    // Nothing was created for it.
    assert!(!dir.path().join("market.db").exists());
    world.shutdown().await;
}
