//! Lists: each filter keeps what matchOrders could use with its value; offers come cheapest
//! first, requests best-paying first, then oldest first; pages follow a cursor.

use agora_api::market::{OrderKind, OrderStatus};
use agora_primitives::{
    AppOrder, B256, DatasetOrder, Nrlc, OrderHash, RequestOrder, Tag, U256, WorkerpoolOrder,
};
use agora_testkit::market::{APP_OWNER, DATASET_OWNER, REQUESTER, SCHEDULER, STRANGER};

use crate::{Market, query};

#[tokio::test]
async fn app_orders_filter_by_parties_tag_price_and_volume_cheapest_first() {
    let market = Market::start().await;
    let world = &market.world;
    let app = world.assets.app;
    let other_app = world
        .create_app(
            APP_OWNER,
            "other",
            "file:///apps/other.wasm",
            B256::repeat_byte(5),
        )
        .await;
    let pool = world.assets.workerpool;
    let dataset = world.assets.dataset;
    let order = |salt: u8, price: u64| AppOrder {
        app,
        appprice: Nrlc::from(price),
        volume: U256::from(1000),
        salt: B256::repeat_byte(salt),
        ..AppOrder::default()
    };
    let publish = [
        AppOrder {
            volume: U256::from(5),
            ..order(1, 3)
        },
        AppOrder {
            tag: Tag::TEE,
            workerpoolrestrict: pool,
            ..order(2, 1)
        },
        AppOrder {
            requesterrestrict: world.address(STRANGER),
            ..order(3, 2)
        },
        AppOrder {
            datasetrestrict: dataset,
            ..order(4, 1)
        },
        AppOrder {
            app: other_app,
            ..order(5, 0)
        },
    ];
    let mut hashes: Vec<OrderHash> = Vec::new();
    for order in publish {
        hashes.push(market.publish(market.signed(order, APP_OWNER)).await.hash);
    }
    let [a1, a2, a3, a4, a5] = hashes[..] else {
        unreachable!()
    };
    let q = || query(OrderKind::App);
    // Cheapest first, then oldest first.
    assert_eq!(market.list(&q()).await, [a5, a2, a4, a3, a1]);
    let mut by_app = q();
    by_app.app = Some(app);
    assert_eq!(market.list(&by_app).await, [a2, a4, a3, a1]);
    // Restrictions: none, or the value.
    let mut by_pool = q();
    by_pool.workerpool = Some(pool);
    assert_eq!(market.list(&by_pool).await, [a5, a2, a4, a3, a1]);
    by_pool.workerpool = Some(world.address(STRANGER));
    assert_eq!(market.list(&by_pool).await, [a5, a4, a3, a1]);
    let mut by_requester = q();
    by_requester.requester = Some(world.address(REQUESTER));
    assert_eq!(market.list(&by_requester).await, [a5, a2, a4, a1]);
    by_requester.requester = Some(world.address(STRANGER));
    assert_eq!(market.list(&by_requester).await, [a5, a2, a4, a3, a1]);
    let mut by_dataset = q();
    by_dataset.dataset = Some(dataset);
    assert_eq!(market.list(&by_dataset).await, [a5, a2, a4, a3, a1]);
    by_dataset.dataset = Some(world.address(STRANGER));
    assert_eq!(market.list(&by_dataset).await, [a5, a2, a3, a1]);
    // Tags: a pool offering no bit serves all but the TEE order.
    let mut by_tag = q();
    by_tag.max_tag = Some(Tag::NONE);
    assert_eq!(market.list(&by_tag).await, [a5, a4, a3, a1]);
    by_tag.max_tag = None;
    by_tag.min_tag = Some(Tag::TEE);
    assert_eq!(market.list(&by_tag).await, [a2]);
    // Prices and volume.
    let mut by_price = q();
    by_price.max_price = Some(Nrlc::from(1));
    assert_eq!(market.list(&by_price).await, [a5, a2, a4]);
    by_price.max_price = None;
    by_price.min_price = Some(Nrlc::from(2));
    assert_eq!(market.list(&by_price).await, [a3, a1]);
    let mut by_volume = q();
    by_volume.min_volume = Some(6);
    assert_eq!(market.list(&by_volume).await, [a5, a2, a4, a3]);
    by_volume.min_volume = Some(5);
    assert_eq!(market.list(&by_volume).await, [a5, a2, a4, a3, a1]);
    // Filters combine.
    let mut combined = q();
    combined.app = Some(app);
    combined.requester = Some(world.address(REQUESTER));
    combined.max_tag = Some(Tag::NONE);
    combined.min_volume = Some(6);
    assert_eq!(market.list(&combined).await, [a4]);
    // Other statuses are listed apart.
    let mut filled = q();
    filled.status = OrderStatus::Filled;
    assert!(market.list(&filled).await.is_empty());
    market.shutdown().await;
}

#[tokio::test]
async fn pages_follow_the_cursor_to_the_end() {
    let market = Market::start().await;
    let world = &market.world;
    let mut expected = Vec::new();
    for salt in 0..7u8 {
        let order = AppOrder {
            appprice: Nrlc::from(u64::from(salt % 3)),
            salt: B256::repeat_byte(salt),
            ..world.orders().app
        };
        let entry = market.publish(market.signed(order, APP_OWNER)).await;
        expected.push((salt % 3, salt, entry.hash));
    }
    expected.sort();
    let expected: Vec<OrderHash> = expected.into_iter().map(|(_, _, hash)| hash).collect();
    let mut query = query(OrderKind::App);
    query.limit = 3;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = market.client.list(&query).await.unwrap();
        pages += 1;
        assert!(page.orders.len() <= 3);
        seen.extend(page.orders.iter().map(|o| o.hash));
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);
    query.cursor = Some(agora_api::market::Cursor("0xnot-a-cursor".into()));
    let error = market.client.list(&query).await.unwrap_err().to_string();
    assert_eq!(
        error,
        "cursor \"0xnot-a-cursor\" is not one this market gave: pass the `next` of a previous page"
    );
    market.shutdown().await;
}

#[tokio::test]
async fn workerpool_orders_filter_by_category_trust_tag_and_restriction() {
    let market = Market::start().await;
    let world = &market.world;
    let base = world.orders().workerpool;
    let other_app = world
        .create_app(
            APP_OWNER,
            "other",
            "file:///apps/other.wasm",
            B256::repeat_byte(5),
        )
        .await;
    let orders = [
        WorkerpoolOrder {
            workerpoolprice: Nrlc::from(10),
            category: U256::from(0),
            trust: U256::from(100),
            tag: Tag::TEE | Tag::GPU,
            salt: B256::repeat_byte(1),
            ..base.clone()
        },
        WorkerpoolOrder {
            workerpoolprice: Nrlc::from(5),
            category: U256::from(1),
            trust: U256::from(1),
            tag: Tag::NONE,
            salt: B256::repeat_byte(2),
            ..base.clone()
        },
        WorkerpoolOrder {
            workerpoolprice: Nrlc::from(7),
            category: U256::from(0),
            trust: U256::from(10),
            tag: Tag::TEE,
            apprestrict: other_app,
            salt: B256::repeat_byte(3),
            ..base.clone()
        },
    ];
    let mut hashes = Vec::new();
    for order in orders {
        hashes.push(market.publish(market.signed(order, SCHEDULER)).await.hash);
    }
    let [w1, w2, w3] = hashes[..] else {
        unreachable!()
    };
    let q = || query(OrderKind::Workerpool);
    assert_eq!(market.list(&q()).await, [w2, w3, w1]);
    let mut by_pool = q();
    by_pool.workerpool = Some(world.assets.workerpool);
    assert_eq!(market.list(&by_pool).await, [w2, w3, w1]);
    by_pool.workerpool = Some(world.assets.app);
    assert!(market.list(&by_pool).await.is_empty());
    let mut by_category = q();
    by_category.category = Some(0);
    assert_eq!(market.list(&by_category).await, [w3, w1]);
    by_category.category = Some(1);
    assert_eq!(market.list(&by_category).await, [w2]);
    let mut by_trust = q();
    by_trust.min_trust = Some(10);
    assert_eq!(market.list(&by_trust).await, [w3, w1]);
    by_trust.min_trust = Some(11);
    assert_eq!(market.list(&by_trust).await, [w1]);
    // A deal requiring TEE, or TEE and a GPU.
    let mut by_tag = q();
    by_tag.min_tag = Some(Tag::TEE);
    assert_eq!(market.list(&by_tag).await, [w3, w1]);
    by_tag.min_tag = Some(Tag::TEE | Tag::GPU);
    assert_eq!(market.list(&by_tag).await, [w1]);
    let mut by_app = q();
    by_app.app = Some(world.assets.app);
    assert_eq!(market.list(&by_app).await, [w2, w1]);
    by_app.app = Some(other_app);
    assert_eq!(market.list(&by_app).await, [w2, w3, w1]);
    let mut combined = q();
    combined.workerpool = Some(world.assets.workerpool);
    combined.category = Some(0);
    combined.min_volume = Some(1000);
    assert_eq!(market.list(&combined).await, [w3, w1]);
    combined.min_volume = Some(1001);
    assert!(market.list(&combined).await.is_empty());
    market.shutdown().await;
}

#[tokio::test]
async fn request_orders_list_best_paying_first_and_filter_by_requester_and_trust() {
    let market = Market::start().await;
    let world = &market.world;
    let base = world.orders().request;
    let requester = world.address(REQUESTER);
    let stranger = world.address(STRANGER);
    let orders = [
        (
            RequestOrder {
                workerpoolmaxprice: Nrlc::from(10),
                trust: U256::ZERO,
                salt: B256::repeat_byte(1),
                ..base.clone()
            },
            REQUESTER,
        ),
        (
            RequestOrder {
                workerpoolmaxprice: Nrlc::from(20),
                trust: U256::from(5),
                tag: Tag::TEE,
                requester: stranger,
                beneficiary: stranger,
                salt: B256::repeat_byte(2),
                ..base.clone()
            },
            STRANGER,
        ),
        (
            RequestOrder {
                workerpoolmaxprice: Nrlc::from(15),
                category: U256::from(1),
                workerpool: world.assets.workerpool,
                salt: B256::repeat_byte(3),
                ..base.clone()
            },
            REQUESTER,
        ),
    ];
    let mut hashes = Vec::new();
    for (order, signer) in orders {
        let entry = market.publish(market.signed(order, signer)).await;
        assert_eq!(entry.signer, world.address(signer));
        hashes.push(entry.hash);
    }
    let [r1, r2, r3] = hashes[..] else {
        unreachable!()
    };
    let q = || query(OrderKind::Request);
    assert_eq!(market.list(&q()).await, [r2, r3, r1]);
    let mut by_requester = q();
    by_requester.requester = Some(requester);
    assert_eq!(market.list(&by_requester).await, [r3, r1]);
    by_requester.requester = Some(stranger);
    assert_eq!(market.list(&by_requester).await, [r2]);
    let mut by_trust = q();
    by_trust.max_trust = Some(4);
    assert_eq!(market.list(&by_trust).await, [r3, r1]);
    let mut by_category = q();
    by_category.category = Some(1);
    assert_eq!(market.list(&by_category).await, [r3]);
    // A pool offering no tag bit.
    let mut by_tag = q();
    by_tag.max_tag = Some(Tag::NONE);
    assert_eq!(market.list(&by_tag).await, [r3, r1]);
    let mut by_price = q();
    by_price.min_price = Some(Nrlc::from(15));
    assert_eq!(market.list(&by_price).await, [r2, r3]);
    by_price.max_price = Some(Nrlc::from(15));
    assert_eq!(market.list(&by_price).await, [r3]);
    // The request's workerpool is a restriction: none, or that pool.
    let mut by_pool = q();
    by_pool.workerpool = Some(world.assets.workerpool);
    assert_eq!(market.list(&by_pool).await, [r2, r3, r1]);
    by_pool.workerpool = Some(stranger);
    assert_eq!(market.list(&by_pool).await, [r2, r1]);
    let mut by_app = q();
    by_app.app = Some(world.assets.app);
    assert_eq!(market.list(&by_app).await, [r2, r3, r1]);
    by_app.app = Some(world.assets.workerpool);
    assert!(market.list(&by_app).await.is_empty());
    let mut by_dataset = q();
    by_dataset.dataset = Some(agora_primitives::Address::ZERO);
    assert_eq!(market.list(&by_dataset).await, [r2, r3, r1]);
    by_dataset.dataset = Some(world.assets.dataset);
    assert!(market.list(&by_dataset).await.is_empty());
    market.shutdown().await;
}

#[tokio::test]
async fn dataset_orders_ignore_the_tee_framework_bits_as_matchorders_does() {
    let market = Market::start().await;
    let world = &market.world;
    let base = world.orders_with_dataset().dataset.unwrap();
    let scone = DatasetOrder {
        tag: Tag::TEE | Tag::SCONE,
        salt: B256::repeat_byte(1),
        ..base.clone()
    };
    let plain = DatasetOrder {
        salt: B256::repeat_byte(2),
        ..base.clone()
    };
    let scone = market
        .publish(market.signed(scone, DATASET_OWNER))
        .await
        .hash;
    let plain = market
        .publish(market.signed(plain, DATASET_OWNER))
        .await
        .hash;
    let mut by_tag = query(OrderKind::Dataset);
    // A TDX pool (TEE and bit 3) serves the Scone-tagged dataset order.
    by_tag.max_tag = Some(Tag::TEE | Tag::TDX);
    assert_eq!(market.list(&by_tag).await, [scone, plain]);
    by_tag.max_tag = Some(Tag::NONE);
    assert_eq!(market.list(&by_tag).await, [plain]);
    by_tag.max_tag = None;
    by_tag.min_tag = Some(Tag::SCONE);
    assert_eq!(market.list(&by_tag).await, [scone]);
    let mut by_dataset = query(OrderKind::Dataset);
    by_dataset.dataset = Some(world.assets.dataset);
    by_dataset.app = Some(world.assets.app);
    assert_eq!(market.list(&by_dataset).await, [scone, plain]);
    market.shutdown().await;
}

#[tokio::test]
async fn bad_queries_are_refused_with_the_parameter_named() {
    let market = Market::start().await;
    let cases = [
        (
            "",
            "query parameter kind: missing: one of app, dataset, workerpool, request is required",
        ),
        (
            "kind=apps",
            "query parameter kind: \"apps\" is not a kind: one of app, dataset, workerpool, request",
        ),
        (
            "kind=app&category=0",
            "query parameter category: filters workerpool orders and request orders only, not app orders",
        ),
        (
            "kind=app&minTrust=1",
            "query parameter minTrust: filters workerpool orders only, not app orders",
        ),
        (
            "kind=workerpool&maxTrust=1",
            "query parameter maxTrust: filters request orders only, not workerpool orders",
        ),
        (
            "kind=app&limit=1000",
            "query parameter limit: \"1000\" is not a number of orders from 1 to 100",
        ),
        (
            "kind=app&app=0x12",
            "query parameter app: \"0x12\" is not an address (0x and 40 hex digits)",
        ),
        (
            "kind=app&minVolume=lots",
            "query parameter minVolume: \"lots\" is not a whole number from 0 to 9223372036854775807",
        ),
        (
            "kind=app&maxTag=tee",
            "query parameter maxTag: \"tee\" is not a tag (0x and up to 64 hex digits)",
        ),
        ("kind=app&kind=request", "query parameter kind: given twice"),
        (
            "kind=app&status=open",
            "query parameter status: \"open\" is not a status: one of OPEN, FILLED, CANCELLED, STALE",
        ),
    ];
    for (query, message) in cases {
        let (status, answer) = market.get(&format!("/v1/orders?{query}")).await;
        assert_eq!(status, 400, "{query}: {answer}");
        assert_eq!(answer["error"], message, "{query}");
    }
    market.shutdown().await;
}
