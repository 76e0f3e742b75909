//! Tests of the market against the protocol's contracts on the embedded chain, over loopback
//! HTTP, with the order book in a temporary SQLite file.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod follow;
mod list;
mod publish;
mod restart;

use std::time::{Duration, Instant};

use agora_api::market::{MarketOrder, OrderKind, OrderPage, OrderQuery, SignedOrder};
use agora_market::{Client, Config, Handle};
use agora_primitives::{Address, Order, OrderHash, Signed, U256};
use agora_testkit::market::World;

/// How long the market may take to see what the chain did.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(20);

/// A chain with the protocol and its actors, and a market on loopback with its book in a
/// temporary directory.
pub(crate) struct Market {
    pub(crate) world: World,
    handle: Option<Handle>,
    pub(crate) client: Client,
    pub(crate) http: reqwest::Client,
    dir: tempfile::TempDir,
}

impl Market {
    pub(crate) async fn start() -> Self {
        let world = World::start().await;
        let dir = tempfile::tempdir().unwrap();
        let handle = agora_market::serve(config(&world, &dir)).await.unwrap();
        Self {
            client: Client::new(handle.url()),
            handle: Some(handle),
            world,
            http: reqwest::Client::new(),
            dir,
        }
    }

    pub(crate) fn url(&self) -> &str {
        self.handle.as_ref().unwrap().url()
    }

    /// Kills the market, as a crash would.
    pub(crate) async fn kill(&mut self) {
        self.handle.take().unwrap().kill().await;
    }

    /// Starts the market again on the same book.
    pub(crate) async fn restart(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown().await;
        }
        let handle = agora_market::serve(config(&self.world, &self.dir))
            .await
            .unwrap();
        self.client = Client::new(handle.url());
        self.handle = Some(handle);
    }

    pub(crate) async fn shutdown(mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown().await;
        }
        self.world.shutdown().await;
    }

    /// `order` signed by dev account `user`.
    pub(crate) fn signed<O: Order>(&self, order: O, user: usize) -> Signed<O> {
        order
            .sign(&self.world.domain, &self.world.signer(user))
            .unwrap()
    }

    pub(crate) fn hash(&self, order: &SignedOrder) -> OrderHash {
        order.hash(&self.world.domain)
    }

    /// Publishes `order`, which must be accepted.
    pub(crate) async fn publish(&self, order: impl Into<SignedOrder>) -> MarketOrder {
        let order = order.into();
        self.client
            .publish(&order)
            .await
            .unwrap_or_else(|e| panic!("{order:?} is refused: {e}"))
    }

    /// POSTs `body` to `/v1/orders/{kind}`; returns the status and the JSON answer.
    pub(crate) async fn post(
        &self,
        kind: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(format!("{}/v1/orders/{kind}", self.url()))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// GETs `path`; returns the status and the JSON answer.
    pub(crate) async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.url()))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// The market's refusal of `order`: its status and message.
    pub(crate) async fn refusal(&self, order: impl Into<SignedOrder>) -> (u16, String) {
        let order = order.into();
        match self.client.publish(&order).await {
            Ok(entry) => panic!("{entry:?} is accepted"),
            Err(agora_market::ClientError::Refused { status, message }) => (status, message),
            Err(e) => panic!("not a refusal: {e}"),
        }
    }

    /// The hashes of a list's orders.
    pub(crate) async fn list(&self, query: &OrderQuery) -> Vec<OrderHash> {
        let page: OrderPage = self.client.list(query).await.unwrap();
        page.orders.iter().map(|o| o.hash).collect()
    }

    /// Waits until the market's entry of `hash` satisfies `done`.
    pub(crate) async fn until(
        &self,
        hash: OrderHash,
        what: &str,
        done: impl Fn(&MarketOrder) -> bool,
    ) -> MarketOrder {
        let deadline = Instant::now() + FOLLOW_TIMEOUT;
        loop {
            let entry = self.client.get(hash).await.unwrap().unwrap();
            if done(&entry) {
                return entry;
            }
            assert!(
                Instant::now() < deadline,
                "order {hash} is not {what} after {FOLLOW_TIMEOUT:?}: {entry:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the market has applied the chain's events up to its current head.
    pub(crate) async fn caught_up(&self) {
        let head = agora_testkit::market::World::provider(&self.world, 0);
        let head = alloy::providers::Provider::get_block_number(&head)
            .await
            .unwrap();
        let deadline = Instant::now() + FOLLOW_TIMEOUT;
        while self.client.info().await.unwrap().block < head {
            assert!(
                Instant::now() < deadline,
                "the market is not at block {head}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn config(world: &World, dir: &tempfile::TempDir) -> Config {
    Config::test(world.url(), world.hub, dir.path().join("market.db"))
}

/// The list query of `kind`'s open orders.
pub(crate) fn query(kind: OrderKind) -> OrderQuery {
    OrderQuery::new(kind)
}

/// The token id of an asset in its registry: its address.
pub(crate) fn token_id(asset: Address) -> U256 {
    U256::from_be_slice(asset.as_slice())
}
