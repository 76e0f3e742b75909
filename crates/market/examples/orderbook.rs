//! Order book latency with a million orders: fills a book through the store layer (as publish
//! stores orders once their chain checks pass), then times one more insert and the filtered
//! lists a market answers, and prints p50, p99 and the maximum of each.
//!
//! ```sh
//! cargo run --release -p agora-market --example orderbook -- --orders 1000000 --samples 2000
//! ```
//!
//! `--db PATH` keeps the book in PATH (filled on the first run, reused after) instead of a
//! temporary directory.
//!
//! The book's spread: 20 % app orders over 1,000 apps, 10 % dataset orders over 300 datasets,
//! 20 % workerpool orders over 50 pools, 50 % request orders from 20,000 requesters; the
//! popular assets and requesters have most of the orders (a cube law: the first app has about
//! a tenth of the app orders). Categories 0 to 4 weighted 50/25/15/7/3; tags: none for 80 %,
//! TEE+TDX 12 %, TEE+Scone 5 %, GPU 3 % (pools offer TEE+TDX for 30 %, GPU for 10 %); one
//! order in ten restricted to one party; prices log-uniform from 1 nRLC to 10 RLC; volumes
//! log-uniform from 1 to 1,000; a quarter of the orders filled.

#![allow(clippy::print_stdout, reason = "an example prints its figures")]

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use agora_api::market::{OrderKind, OrderQuery, OrderStatus, SignedOrder};
use agora_market::{NewOrder, Store};
use agora_primitives::{
    Address, AppOrder, B256, Bytes, DatasetOrder, Domain, Nrlc, Order, RequestOrder, Signed, Tag,
    U256, WorkerpoolOrder,
};

const APPS: u64 = 1_000;
const DATASETS: u64 = 300;
const POOLS: u64 = 50;
const REQUESTERS: u64 = 20_000;
const BATCH: usize = 10_000;

/// splitmix64: a small deterministic generator (the same book on every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `n`, the first ones far more often (a cube law).
    fn popular(&mut self, n: u64) -> u64 {
        ((n as f64) * self.unit().powi(3)) as u64
    }

    /// Log-uniform in [1, 10^decades].
    fn log(&mut self, decades: f64) -> u64 {
        10f64.powf(self.unit() * decades) as u64
    }

    fn bytes32(&mut self) -> B256 {
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_be_bytes());
        }
        B256::from(bytes)
    }
}

fn party(kind: u8, index: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = kind;
    bytes[12..].copy_from_slice(&index.to_be_bytes());
    Address::from(bytes)
}

fn app(i: u64) -> Address {
    party(0xa0, i)
}
fn dataset(i: u64) -> Address {
    party(0xd0, i)
}
fn pool(i: u64) -> Address {
    party(0xb0, i)
}
fn requester(i: u64) -> Address {
    party(0xe0, i)
}

fn category(rng: &mut Rng) -> u64 {
    match rng.below(100) {
        0..50 => 0,
        50..75 => 1,
        75..90 => 2,
        90..97 => 3,
        _ => 4,
    }
}

fn requirement(rng: &mut Rng) -> Tag {
    match rng.below(100) {
        0..80 => Tag::NONE,
        80..92 => Tag::TEE | Tag::TDX,
        92..97 => Tag::TEE | Tag::SCONE,
        _ => Tag::GPU,
    }
}

fn offer(rng: &mut Rng) -> Tag {
    match rng.below(100) {
        0..60 => Tag::NONE,
        60..90 => Tag::TEE | Tag::TDX,
        _ => Tag::GPU,
    }
}

/// One restricted order in ten.
fn restrict(rng: &mut Rng, party: impl FnOnce(&mut Rng) -> Address) -> Address {
    if rng.below(10) == 0 {
        party(rng)
    } else {
        Address::ZERO
    }
}

fn sign(rng: &mut Rng) -> Bytes {
    let mut sign = Vec::with_capacity(65);
    sign.extend_from_slice(rng.bytes32().as_slice());
    sign.extend_from_slice(rng.bytes32().as_slice());
    sign.push(27);
    Bytes::from(sign)
}

fn order(rng: &mut Rng, domain: &Domain, published_at_ms: u64) -> NewOrder {
    let price = Nrlc::from(rng.log(10.0));
    let volume = U256::from(rng.log(3.0));
    let salt = rng.bytes32();
    let (order, signer): (SignedOrder, Address) = match rng.below(10) {
        0 | 1 => {
            let o = AppOrder {
                app: app(rng.popular(APPS)),
                appprice: price,
                volume,
                tag: requirement(rng),
                datasetrestrict: restrict(rng, |r| dataset(r.popular(DATASETS))),
                workerpoolrestrict: restrict(rng, |r| pool(r.popular(POOLS))),
                requesterrestrict: restrict(rng, |r| requester(r.popular(REQUESTERS))),
                salt,
            };
            (
                Signed {
                    order: o,
                    sign: sign(rng),
                }
                .into(),
                party(0x01, 0),
            )
        }
        2 => {
            let o = DatasetOrder {
                dataset: dataset(rng.popular(DATASETS)),
                datasetprice: price,
                volume,
                tag: requirement(rng),
                apprestrict: restrict(rng, |r| app(r.popular(APPS))),
                workerpoolrestrict: restrict(rng, |r| pool(r.popular(POOLS))),
                requesterrestrict: restrict(rng, |r| requester(r.popular(REQUESTERS))),
                salt,
            };
            (
                Signed {
                    order: o,
                    sign: sign(rng),
                }
                .into(),
                party(0x02, 0),
            )
        }
        3 | 4 => {
            let o = WorkerpoolOrder {
                workerpool: pool(rng.popular(POOLS)),
                workerpoolprice: price,
                volume,
                tag: offer(rng),
                category: U256::from(category(rng)),
                trust: U256::from([1u64, 5, 10, 100][rng.below(4) as usize]),
                apprestrict: restrict(rng, |r| app(r.popular(APPS))),
                datasetrestrict: restrict(rng, |r| dataset(r.popular(DATASETS))),
                requesterrestrict: restrict(rng, |r| requester(r.popular(REQUESTERS))),
                salt,
            };
            (
                Signed {
                    order: o,
                    sign: sign(rng),
                }
                .into(),
                party(0x03, 0),
            )
        }
        _ => {
            let who = requester(rng.popular(REQUESTERS));
            let with_dataset = rng.below(5) == 0;
            let o = RequestOrder {
                app: app(rng.popular(APPS)),
                appmaxprice: Nrlc::from(rng.log(9.0)),
                dataset: if with_dataset {
                    dataset(rng.popular(DATASETS))
                } else {
                    Address::ZERO
                },
                datasetmaxprice: Nrlc::from(if with_dataset { rng.log(9.0) } else { 0 }),
                workerpool: restrict(rng, |r| pool(r.popular(POOLS))),
                workerpoolmaxprice: price,
                requester: who,
                volume,
                tag: requirement(rng),
                category: U256::from(category(rng)),
                trust: U256::from([0u64, 1, 5][rng.below(3) as usize]),
                beneficiary: who,
                callback: Address::ZERO,
                params: format!(
                    "{{\"iexec_args\":\"--input {} --seed {}\"}}",
                    rng.below(1_000_000),
                    rng.below(1_000)
                ),
                salt,
            };
            (
                Signed {
                    order: o,
                    sign: sign(rng),
                }
                .into(),
                who,
            )
        }
    };
    let hash = order.hash(domain);
    // A quarter of the orders are filled.
    let consumed = if rng.below(4) == 0 {
        volume
    } else {
        U256::ZERO
    };
    NewOrder {
        order,
        hash,
        signer,
        consumed,
        published_at_ms,
    }
}

struct Args {
    orders: u64,
    samples: usize,
    db: Option<PathBuf>,
    /// Through the market's HTTP API, on a chain, instead of the store layer.
    http: bool,
}

fn args() -> Args {
    let mut args = Args {
        orders: 1_000_000,
        samples: 2_000,
        db: None,
        http: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--http" {
            args.http = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--orders" => args.orders = value.parse().expect("--orders is a number"),
            "--samples" => args.samples = value.parse().expect("--samples is a number"),
            "--db" => args.db = Some(PathBuf::from(value)),
            other => panic!("unknown option {other}: --orders N, --samples N, --db PATH, --http"),
        }
    }
    args
}

/// p50, p99 and the maximum of `samples`.
fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99), samples[samples.len() - 1])
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let args = args();
    // Through HTTP the market checks each published order on a chain: a world with the
    // protocol, funded actors and an app; the book's identity is that chain's.
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let world = args
        .http
        .then(|| runtime.block_on(agora_testkit::market::World::start()));
    let (domain, identity) = match &world {
        Some(world) => (
            world.domain,
            format!("chain {} hub {}", world.domain.chain_id, world.hub),
        ),
        None => (
            Domain::new(31337, Address::repeat_byte(0x42)),
            "orderbook benchmark".to_string(),
        ),
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = args
        .db
        .clone()
        .unwrap_or_else(|| dir.path().join("market.db"));
    let store = Store::open(&path, &identity).expect("the book opens");
    let mut rng = Rng(7);
    let have = store.count().expect("a count");
    if have < args.orders {
        let start = Instant::now();
        let mut batch = Vec::with_capacity(BATCH);
        let mut n = have;
        // Skip what an earlier run stored: the generator is deterministic.
        for _ in 0..have {
            order(&mut rng, &domain, 0);
        }
        while n < args.orders {
            batch.push(order(&mut rng, &domain, 1_700_000_000_000 + n));
            n += 1;
            if batch.len() == BATCH || n == args.orders {
                store.insert_batch(&batch).expect("the batch is stored");
                batch.clear();
            }
        }
        let took = start.elapsed();
        println!(
            "filled {} orders in {:.1} s ({:.0} orders/s)",
            args.orders - have,
            took.as_secs_f64(),
            (args.orders - have) as f64 / took.as_secs_f64()
        );
    } else {
        for _ in 0..have {
            order(&mut rng, &domain, 0);
        }
    }
    let total = store.count().expect("a count");
    let size: u64 = ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "book: {total} orders, {:.0} MB ({})",
        size as f64 / 1e6,
        path.display()
    );

    if let Some(world) = world {
        drop(store);
        let results = runtime.block_on(over_http(&args, &world, &path, &mut rng));
        print_results(&results);
        return;
    }

    // One more order, as publish stores it: one transaction each.
    let mut inserts = Vec::with_capacity(args.samples);
    let mut hashes = Vec::with_capacity(args.samples);
    for _ in 0..args.samples {
        let new = order(&mut rng, &domain, 1_800_000_000_000);
        hashes.push(new.hash);
        let start = Instant::now();
        let (_, created) = store.insert(&new).expect("the order is stored");
        inserts.push(start.elapsed());
        assert!(created);
    }
    let mut results = vec![(
        "insert one order (one transaction)",
        percentiles(inserts),
        0,
    )];

    let mut gets = Vec::with_capacity(args.samples);
    for hash in &hashes {
        let start = Instant::now();
        let found = store.get(*hash).expect("a read");
        gets.push(start.elapsed());
        assert!(found.is_some());
    }
    results.push(("get one order by hash", percentiles(gets), 1));

    let queries = queries();
    let mut plans = Vec::new();
    for (name, make) in &queries {
        let mut samples = Vec::with_capacity(args.samples);
        let mut found = 0;
        for _ in 0..args.samples {
            let query = make(&mut rng);
            let start = Instant::now();
            let page = store.list(&query).expect("a list");
            samples.push(start.elapsed());
            found += page.orders.len();
        }
        plans.push((*name, store.explain(&make(&mut rng)).expect("a plan")));
        results.push((name, percentiles(samples), found / args.samples));
    }
    // Ten pages of 100 of the open request orders, following the cursor.
    let mut pages = Vec::with_capacity(args.samples);
    for _ in 0..(args.samples / 10).max(1) {
        let mut query = OrderQuery {
            limit: 100,
            ..OrderQuery::new(OrderKind::Request)
        };
        for _ in 0..10 {
            let start = Instant::now();
            let page = store.list(&query).expect("a list");
            pages.push(start.elapsed());
            query.cursor = page.next;
        }
    }
    results.push((
        "request orders, pages 1 to 10 of 100 (cursor)",
        percentiles(pages),
        100,
    ));

    print_results(&results);
    println!();
    for (name, plan) in plans {
        println!("{name}: {}", plan.replace('\n', "; "));
    }
}

type MakeQuery = Box<dyn Fn(&mut Rng) -> OrderQuery>;

/// The lists timed, each with its query maker.
fn queries() -> Vec<(&'static str, MakeQuery)> {
    vec![
        (
            "app orders of one app, cheapest first",
            Box::new(|rng| OrderQuery {
                app: Some(app(rng.popular(APPS))),
                ..OrderQuery::new(OrderKind::App)
            }),
        ),
        (
            "workerpool orders of one pool, category, minVolume",
            Box::new(|rng| OrderQuery {
                workerpool: Some(pool(rng.popular(POOLS))),
                category: Some(category(rng)),
                min_volume: Some(rng.log(2.0)),
                ..OrderQuery::new(OrderKind::Workerpool)
            }),
        ),
        (
            "worst case: the busiest pool, the rarest category, minVolume 500",
            Box::new(|_| OrderQuery {
                workerpool: Some(pool(0)),
                category: Some(4),
                min_volume: Some(500),
                ..OrderQuery::new(OrderKind::Workerpool)
            }),
        ),
        (
            "worst case: the busiest app, no TEE (maxTag), minVolume 900",
            Box::new(|_| OrderQuery {
                app: Some(app(0)),
                max_tag: Some(Tag::NONE),
                min_volume: Some(900),
                ..OrderQuery::new(OrderKind::App)
            }),
        ),
        (
            "worst case: nothing matches (the busiest app, minVolume 1001)",
            Box::new(|_| OrderQuery {
                app: Some(app(0)),
                min_volume: Some(1001),
                ..OrderQuery::new(OrderKind::App)
            }),
        ),
        (
            "workerpool orders of a category, minTrust, minVolume",
            Box::new(|rng| OrderQuery {
                category: Some(category(rng)),
                min_trust: Some([1u64, 5, 10, 100][rng.below(4) as usize]),
                min_volume: Some(rng.log(2.0)),
                ..OrderQuery::new(OrderKind::Workerpool)
            }),
        ),
        (
            "request orders of one requester",
            Box::new(|rng| OrderQuery {
                requester: Some(requester(rng.popular(REQUESTERS))),
                ..OrderQuery::new(OrderKind::Request)
            }),
        ),
        (
            "request orders using one dataset",
            Box::new(|rng| OrderQuery {
                dataset: Some(dataset(rng.popular(DATASETS))),
                ..OrderQuery::new(OrderKind::Request)
            }),
        ),
        (
            "workerpool orders offering TEE+TDX (minTag)",
            Box::new(|_| OrderQuery {
                min_tag: Some(Tag::TEE | Tag::TDX),
                ..OrderQuery::new(OrderKind::Workerpool)
            }),
        ),
        (
            "request orders a GPU pool serves (maxTag), category, best-paying",
            Box::new(|rng| OrderQuery {
                max_tag: Some(Tag::GPU),
                category: Some(category(rng)),
                ..OrderQuery::new(OrderKind::Request)
            }),
        ),
        (
            "app orders for one app, pool and requester, no TEE (maxTag), maxPrice",
            Box::new(|rng| OrderQuery {
                app: Some(app(rng.popular(APPS))),
                workerpool: Some(pool(rng.popular(POOLS))),
                requester: Some(requester(rng.popular(REQUESTERS))),
                max_tag: Some(Tag::NONE),
                max_price: Some(Nrlc::from(rng.log(10.0))),
                ..OrderQuery::new(OrderKind::App)
            }),
        ),
        (
            "filled request orders, first page",
            Box::new(|_| OrderQuery {
                status: OrderStatus::Filled,
                ..OrderQuery::new(OrderKind::Request)
            }),
        ),
    ]
}

type Figures = (Duration, Duration, Duration);

fn print_results(results: &[(&str, Figures, usize)]) {
    println!();
    println!("| operation | p50 | p99 | max | orders per answer |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, (p50, p99, max), found) in results {
        println!(
            "| {name} | {} | {} | {} | {found} |",
            ms(*p50),
            ms(*p99),
            ms(*max)
        );
    }
}

/// The same operations through the market's HTTP API (a client on loopback, JSON both ways):
/// publish with its chain checks (the app's owner read on chain, the signature checked), get
/// by hash, the lists and the pages.
async fn over_http(
    args: &Args,
    world: &agora_testkit::market::World,
    path: &std::path::Path,
    rng: &mut Rng,
) -> Vec<(&'static str, Figures, usize)> {
    let market = agora_market::serve(agora_market::Config {
        db: path.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("an address"),
        rpc_url: world.url().to_string(),
        hub: world.hub,
        tick: Duration::from_secs(1),
    })
    .await
    .expect("the market starts");
    let client = agora_market::Client::new(market.url());
    println!("market at {}", market.url());
    let owner = world.signer(agora_testkit::market::APP_OWNER);
    // Signed before the clock starts: the signing is the publisher's, not the market's.
    let orders: Vec<Signed<AppOrder>> = (0..args.samples)
        .map(|_| {
            AppOrder {
                app: world.assets.app,
                appprice: Nrlc::from(rng.log(10.0)),
                volume: U256::from(rng.log(3.0)),
                salt: rng.bytes32(),
                ..AppOrder::default()
            }
            .sign(&world.domain, &owner)
            .expect("signs")
        })
        .collect();
    let mut publishes = Vec::with_capacity(args.samples);
    let mut hashes = Vec::with_capacity(args.samples);
    for order in &orders {
        let start = Instant::now();
        let stored = client.publish_app(order).await.expect("published");
        publishes.push(start.elapsed());
        hashes.push(stored.hash);
    }
    let mut results = vec![(
        "publish one app order (HTTP, chain checks, one transaction)",
        percentiles(publishes),
        0,
    )];
    let mut gets = Vec::with_capacity(args.samples);
    for hash in &hashes {
        let start = Instant::now();
        let found = client.get(*hash).await.expect("a read");
        gets.push(start.elapsed());
        assert!(found.is_some());
    }
    results.push(("get one order by hash (HTTP)", percentiles(gets), 1));
    for (name, make) in queries() {
        let mut samples = Vec::with_capacity(args.samples);
        let mut found = 0;
        for _ in 0..args.samples {
            let query = make(rng);
            let start = Instant::now();
            let page = client.list(&query).await.expect("a list");
            samples.push(start.elapsed());
            found += page.orders.len();
        }
        results.push((name, percentiles(samples), found / args.samples));
    }
    let mut pages = Vec::with_capacity(args.samples);
    for _ in 0..(args.samples / 10).max(1) {
        let mut query = OrderQuery {
            limit: 100,
            ..OrderQuery::new(OrderKind::Request)
        };
        for _ in 0..10 {
            let start = Instant::now();
            let page = client.list(&query).await.expect("a list");
            pages.push(start.elapsed());
            query.cursor = page.next;
        }
    }
    results.push((
        "request orders, pages 1 to 10 of 100 (cursor, HTTP)",
        percentiles(pages),
        100,
    ));
    market.shutdown().await;
    results
}
