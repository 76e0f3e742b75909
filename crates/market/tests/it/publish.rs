//! Publishing: each kind read back; the refusals of what matchOrders would refuse, each naming
//! what is wrong; malformed bodies refused with nothing stored changed.

use agora_api::market::{MarketOrder, OrderKind, OrderStatus, SignedOrder};
use agora_contracts::LibOrders;
use agora_primitives::{
    Address, AppOrder, Bytes, Nrlc, OrderOperation, Signed, U256, WorkerpoolOrder,
};
use agora_testkit::{
    market::{APP_OWNER, DATASET_OWNER, REQUESTER, SCHEDULER, STRANGER},
    mined,
};

use crate::{Market, query};

#[tokio::test]
async fn publishes_each_kind_and_reads_it_back() {
    let market = Market::start().await;
    let world = &market.world;
    let orders = world.orders_with_dataset();
    let signed: Vec<(SignedOrder, usize)> = vec![
        (
            market.signed(orders.app.clone(), APP_OWNER).into(),
            APP_OWNER,
        ),
        (
            market
                .signed(orders.dataset.clone().unwrap(), DATASET_OWNER)
                .into(),
            DATASET_OWNER,
        ),
        (
            market.signed(orders.workerpool.clone(), SCHEDULER).into(),
            SCHEDULER,
        ),
        (
            market.signed(orders.request.clone(), REQUESTER).into(),
            REQUESTER,
        ),
    ];
    for (order, signer) in signed {
        let kind = order.kind();
        let before = now_ms();
        let body = order_json(&order);
        let (status, answer) = market.post(kind.as_str(), body.clone()).await;
        assert_eq!(status, 201, "{answer}");
        let entry: MarketOrder = serde_json::from_value(answer).unwrap();
        assert_eq!(entry.hash, market.hash(&order));
        assert_eq!(entry.order, order);
        assert_eq!(entry.signer, world.address(signer));
        assert_eq!(entry.remaining, order.volume());
        assert_eq!(entry.status, OrderStatus::Open);
        assert!((before..=now_ms()).contains(&entry.published_at_ms));
        assert_eq!(
            market.client.get(entry.hash).await.unwrap(),
            Some(entry.clone())
        );
        assert_eq!(market.list(&query(kind)).await, [entry.hash]);
        // Published again: the stored entry, unchanged.
        let (status, again) = market.post(kind.as_str(), body).await;
        assert_eq!(status, 200);
        assert_eq!(serde_json::from_value::<MarketOrder>(again).unwrap(), entry);
        assert_eq!(market.client.publish(&order).await.unwrap(), entry);
    }
    let info = market.client.info().await.unwrap();
    assert_eq!(info.chain_id, world.domain.chain_id);
    assert_eq!(info.hub, world.hub);
    let (status, document) = market.get("/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(document["info"]["title"], "Agora market");
    market.shutdown().await;
}

#[tokio::test]
async fn a_presigned_order_is_published_with_an_empty_signature() {
    let market = Market::start().await;
    let world = &market.world;
    let order = world.orders().app;
    let unsigned = Signed {
        order: order.clone(),
        sign: Bytes::new(),
    };
    let (status, error) = market.refusal(unsigned.clone()).await;
    assert_eq!(status, 422);
    assert_eq!(
        error,
        format!(
            "the app order has no signature (sign is empty) and the app's owner {} has not \
             presigned it on chain",
            world.address(APP_OWNER)
        )
    );
    mined!(
        world
            .hub(APP_OWNER)
            .manageAppOrder(LibOrders::AppOrderOperation {
                order: LibOrders::AppOrder::from(&order),
                operation: OrderOperation::Sign as u8,
                sign: Bytes::new(),
            })
    );
    let entry = market.publish(unsigned).await;
    assert_eq!(entry.signer, world.address(APP_OWNER));
    assert_eq!(entry.status, OrderStatus::Open);
    assert!(entry.order.sign().is_empty());
    market.shutdown().await;
}

#[tokio::test]
async fn an_owners_signature_in_a_form_the_hub_refuses_is_named() {
    let market = Market::start().await;
    let world = &market.world;
    let order = world.orders().app;
    let owner = world.address(APP_OWNER);
    let good = market.signed(order.clone(), APP_OWNER).sign.to_vec();
    assert_eq!(good.len(), 65);

    // v as a recovery id (0 or 1) instead of 27 or 28: the same signer, which the hub refuses.
    let mut low_v = good.clone();
    low_v[64] -= 27;
    let (status, error) = market
        .refusal(Signed {
            order: order.clone(),
            sign: Bytes::from(low_v.clone()),
        })
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        error,
        format!(
            "the app order is signed by the app's owner {owner}, but its signature has v = {}: \
             the hub takes only v = 27 or 28 (add 27 to a 0 or 1 recovery id)",
            low_v[64]
        )
    );

    // The malleable twin: s' = n - s, with the other parity.
    let n = U256::from_be_slice(&alloy::primitives::hex!(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"
    ));
    let s = U256::from_be_slice(&good[32..64]);
    let mut high_s = good.clone();
    high_s[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    high_s[64] = if good[64] == 27 { 28 } else { 27 };
    let twin = Signed {
        order: order.clone(),
        sign: Bytes::from(high_s),
    };
    assert_eq!(
        twin.recover_signer(&world.domain).unwrap(),
        owner,
        "the twin recovers"
    );
    let (status, error) = market.refusal(twin).await;
    assert_eq!(status, 422);
    assert_eq!(
        error,
        format!(
            "the app order is signed by the app's owner {owner}, but its signature has a high s \
             (above half the curve order): the hub takes only low-s signatures (EIP-2); use n - s \
             and flip v"
        )
    );
    // Nothing was stored, and the good signature is still taken.
    assert!(market.list(&query(OrderKind::App)).await.is_empty());
    market
        .publish(Signed {
            order,
            sign: Bytes::from(good),
        })
        .await;
    market.shutdown().await;
}

#[tokio::test]
async fn rejects_order_with_bad_signature() {
    let market = Market::start().await;
    let world = &market.world;
    let orders = world.orders();
    let owner = world.address(APP_OWNER);

    let by_stranger = market.signed(orders.app.clone(), STRANGER);
    let (status, error) = market.refusal(by_stranger).await;
    assert_eq!(status, 422);
    assert_eq!(
        error,
        format!(
            "the app order is signed by {}, not by the app's owner {owner}",
            world.address(STRANGER)
        )
    );
    // The owner's signature of another order.
    let mut other = orders.app.clone();
    other.appprice = Nrlc::from(7);
    let moved = Signed {
        order: orders.app.clone(),
        sign: market.signed(other, APP_OWNER).sign,
    };
    let (_, error) = market.refusal(moved).await;
    assert!(
        error.starts_with("the app order is signed by 0x"),
        "{error}"
    );
    assert!(
        error.ends_with(&format!("not by the app's owner {owner}")),
        "{error}"
    );
    let short = Signed {
        order: orders.app.clone(),
        sign: Bytes::from(vec![1, 2, 3]),
    };
    let (status, error) = market.refusal(short).await;
    assert_eq!(status, 422);
    assert_eq!(
        error,
        "the app order's signature is invalid: signature is 3 bytes long; expected 65 (r, s, v) \
         or 64 (EIP-2098)"
    );
    let request = market.signed(orders.request.clone(), STRANGER);
    let (_, error) = market.refusal(request).await;
    assert_eq!(
        error,
        format!(
            "the request order is signed by {}, not by its requester {}",
            world.address(STRANGER),
            world.address(REQUESTER)
        )
    );
    // Nothing is stored.
    for kind in OrderKind::ALL {
        assert!(market.list(&query(kind)).await.is_empty());
    }
    let hash = market.hash(&market.signed(orders.app, APP_OWNER).into());
    assert_eq!(market.client.get(hash).await.unwrap(), None);
    market.shutdown().await;
}

#[tokio::test]
async fn rejects_orders_for_assets_not_registered_or_owned_by_another() {
    let market = Market::start().await;
    let world = &market.world;
    let orders = world.orders();
    let nowhere = Address::repeat_byte(0x77);
    let app = AppOrder {
        app: nowhere,
        ..orders.app.clone()
    };
    let (status, error) = market.refusal(market.signed(app, APP_OWNER)).await;
    assert_eq!(status, 422);
    assert_eq!(error, format!("app {nowhere} is not registered"));
    // The app's owner signs the workerpool's order.
    let (status, error) = market
        .refusal(market.signed(orders.workerpool.clone(), APP_OWNER))
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        error,
        format!(
            "the workerpool order is signed by {}, not by the workerpool's owner {}",
            world.address(APP_OWNER),
            world.address(SCHEDULER)
        )
    );
    // The dataset is the dataset owner's, not the app owner's.
    let dataset = world.orders_with_dataset().dataset.unwrap();
    let (_, error) = market.refusal(market.signed(dataset, APP_OWNER)).await;
    assert!(
        error.ends_with(&format!(
            "not by the dataset's owner {}",
            world.address(DATASET_OWNER)
        )),
        "{error}"
    );
    let mut request = orders.request.clone();
    request.dataset = nowhere;
    let (_, error) = market.refusal(market.signed(request, REQUESTER)).await;
    assert_eq!(error, format!("dataset {nowhere} is not registered"));
    let pool = WorkerpoolOrder {
        category: U256::from(9),
        ..orders.workerpool.clone()
    };
    let (status, error) = market.refusal(market.signed(pool, SCHEDULER)).await;
    assert_eq!(status, 422);
    assert_eq!(
        error,
        "category 9 does not exist: the hub has categories 0 to 4"
    );
    for kind in OrderKind::ALL {
        assert!(market.list(&query(kind)).await.is_empty());
    }
    market.shutdown().await;
}

#[tokio::test]
async fn rejects_order_with_no_volume_left() {
    let market = Market::start().await;
    let world = &market.world;
    let orders = world.orders();
    // A deal consumes the request's whole volume (1).
    world.deal(&orders).await;
    let (status, error) = market
        .refusal(market.signed(orders.request.clone(), REQUESTER))
        .await;
    assert_eq!(status, 422);
    assert_eq!(error, "no volume left: 1 of 1 consumed");
    // The app order, closed by its owner.
    mined!(
        world
            .hub(APP_OWNER)
            .manageAppOrder(LibOrders::AppOrderOperation {
                order: LibOrders::AppOrder::from(&orders.app),
                operation: OrderOperation::Close as u8,
                sign: Bytes::new(),
            })
    );
    let (_, error) = market
        .refusal(market.signed(orders.app.clone(), APP_OWNER))
        .await;
    assert_eq!(error, "no volume left: 1000 of 1000 consumed");
    // The workerpool order, partly consumed, is fine.
    let entry = market
        .publish(market.signed(orders.workerpool.clone(), SCHEDULER))
        .await;
    assert_eq!(entry.remaining, U256::from(999));
    // Values matchOrders refuses whatever the chain says.
    let empty = AppOrder {
        volume: U256::ZERO,
        ..orders.app.clone()
    };
    let (status, error) = market.refusal(market.signed(empty, APP_OWNER)).await;
    assert_eq!(status, 422);
    assert_eq!(error, "volume is 0: the app order could never be used");
    let dear = AppOrder {
        appprice: Nrlc::new(U256::from(1) << 96),
        salt: agora_primitives::B256::repeat_byte(9),
        ..orders.app.clone()
    };
    let (_, error) = market.refusal(market.signed(dear, APP_OWNER)).await;
    assert_eq!(
        error,
        "appprice 79228162514264337593543950336 nRLC is above the hub's limit of \
         79228162514264337593543950335 nRLC (2^96 - 1): matchOrders would refuse the order"
    );
    assert!(market.list(&query(OrderKind::App)).await.is_empty());
    assert!(market.list(&query(OrderKind::Request)).await.is_empty());
    market.shutdown().await;
}

#[tokio::test]
async fn malformed_bodies_get_400_with_a_message_and_change_nothing() {
    let market = Market::start().await;
    let world = &market.world;
    let signed = market.signed(world.orders().app, APP_OWNER);
    let stored = market.publish(signed.clone()).await;
    let good: serde_json::Value = serde_json::to_value(&signed).unwrap();
    let with = |edit: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut value = good.clone();
        edit(value.as_object_mut().unwrap());
        value.to_string()
    };
    let cases: Vec<(&str, String, u16, String)> = vec![
        ("app", "{\"app\":".into(), 400, "the body is not JSON: EOF while parsing".into()),
        ("app", "[1, 2]".into(), 400, "the body must be a JSON object: an app order's fields and its sign".into()),
        (
            "app",
            with(&|o| {
                let price = o.remove("appprice").unwrap();
                o.insert("apprice".into(), price);
            }),
            400,
            "unknown field \"apprice\" in an app order: its fields are app, appprice, \
             datasetrestrict, requesterrestrict, salt, tag, volume, workerpoolrestrict and sign"
                .into(),
        ),
        ("app", with(&|o| { o.remove("volume"); }), 400, "the app order: missing field `volume`".into()),
        (
            "app",
            with(&|o| { o.remove("sign"); }),
            400,
            "missing field sign: the signature of the app order, or \"0x\" for an order \
             presigned on chain"
                .into(),
        ),
        ("app", with(&|o| { o.insert("appprice".into(), true.into()); }), 400, "field appprice: ".into()),
        ("app", with(&|o| { o.insert("app".into(), "0x12".into()); }), 400, "field app: ".into()),
        ("app", with(&|o| { o.insert("sign".into(), "0xzz".into()); }), 400, "field sign: ".into()),
        // A workerpool order's fields are not an app order's.
        (
            "workerpool",
            good.to_string(),
            400,
            "unknown field \"app\" in a workerpool order".into(),
        ),
        ("apps", good.to_string(), 404, "\"apps\" is not an order kind: publish to /v1/orders/app, /dataset, /workerpool or /request".into()),
        ("app", "x".repeat(65 * 1024), 413, "the body is over 64 KiB".into()),
    ];
    for (kind, body, status, message) in cases {
        let (got, answer) = market.post(kind, body.clone()).await;
        let error = answer["error"].as_str().unwrap_or_default().to_string();
        assert_eq!(got, status, "{kind} {body:.80}: {answer}");
        assert!(error.starts_with(&message), "{kind} {body:.80}: {error}");
    }
    // The stored order, posted again with another signature, stays as it is.
    let (status, answer) = market
        .post(
            "app",
            with(&|o| {
                o.insert("sign".into(), "0x".into());
            }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_value::<MarketOrder>(answer).unwrap(),
        stored
    );
    // Bad reads.
    let (status, answer) = market.get("/v1/orders/app").await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["error"],
        "\"app\" is not an order hash (0x and 64 hex digits); to list app orders, GET \
         /v1/orders?kind=app"
    );
    let missing = format!("0x{}", "ab".repeat(32));
    let (status, answer) = market.get(&format!("/v1/orders/{missing}")).await;
    assert_eq!(status, 404);
    assert_eq!(
        answer["error"],
        format!("order {missing} is not published here")
    );
    let (status, answer) = market.get("/v1/orders?kind=app&colour=red").await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("query parameter colour: unknown"),
        "{answer}"
    );
    let (status, answer) = market.get("/v2/orders").await;
    assert_eq!(status, 404);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("no such endpoint: GET /v2/orders")
    );
    // Nothing changed.
    assert_eq!(
        market.client.get(stored.hash).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(market.list(&query(OrderKind::App)).await, [stored.hash]);
    for kind in [
        OrderKind::Dataset,
        OrderKind::Workerpool,
        OrderKind::Request,
    ] {
        assert!(market.list(&query(kind)).await.is_empty());
    }
    market.shutdown().await;
}

/// The body a client posts: the signed order's own JSON.
fn order_json(order: &SignedOrder) -> String {
    match order {
        SignedOrder::App(o) => serde_json::to_string(o),
        SignedOrder::Dataset(o) => serde_json::to_string(o),
        SignedOrder::Workerpool(o) => serde_json::to_string(o),
        SignedOrder::Request(o) => serde_json::to_string(o),
    }
    .unwrap()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
