//! The market (`agora market`): the off-chain order book of spec §1.1. Owners publish their
//! signed orders, anyone lists them, and the market follows the chain so that each order's
//! remaining volume and status are those `matchOrders` would see.
//!
//! - `POST /v1/orders/{kind}` with a signed order of that kind as the body publishes it
//!   ([`publish_path`]); the answer is its [`MarketOrder`], 201 when new, 200 when it was
//!   published already (the stored entry, unchanged).
//! - `GET /v1/orders?kind=…&…` lists the orders of one kind ([`OrderQuery`], [`OrderPage`]):
//!   offers cheapest first, requests best-paying first, then oldest first.
//! - `GET /v1/orders/{hash}` reads one ([`order_path`]).
//! - `GET /v1/market` says which chain and hub the market serves ([`MarketInfo`]).
//!
//! There is no unpublish: an order is cancelled on chain (`manage<X>Order` with the `CLOSE`
//! operation, sent by its owner or carrying the owner's signature of the operation), and the
//! market sees it.

use std::{fmt, str::FromStr};

use agora_primitives::{
    AppOrder, Bytes, DatasetOrder, Domain, Nrlc, Order, OrderHash, RequestOrder, Signed, Tag,
    WorkerpoolOrder,
};
use alloy_primitives::{Address, U256};
use serde::{Deserialize, Serialize};

/// `GET` a list of orders ([`OrderQuery`] as the query string; answered with an [`OrderPage`]).
pub const ORDERS: &str = "/v1/orders";
/// `GET` the [`MarketInfo`].
pub const INFO: &str = "/v1/market";

/// `POST` a signed order of `kind` here to publish it.
pub fn publish_path(kind: OrderKind) -> String {
    format!("{ORDERS}/{kind}")
}

/// `GET` the order `hash` here.
pub fn order_path(hash: OrderHash) -> String {
    format!("{ORDERS}/{hash}")
}

/// Orders in a page when the query does not say.
pub const DEFAULT_LIMIT: u32 = 20;
/// The most orders in a page.
pub const MAX_LIMIT: u32 = 100;
/// The largest price the hub takes: it stores prices in 96 bits and `matchOrders` refuses an
/// order priced above (`AmountTooLarge`).
pub const MAX_PRICE: U256 = U256::from_limbs([u64::MAX, (1 << 32) - 1, 0, 0]);
/// The largest count a query compares with (volumes, trust, category): the database's integers
/// are signed 64-bit.
pub const MAX_COUNT: u64 = i64::MAX as u64;

/// The four kinds of order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OrderKind {
    /// An app owner's [`AppOrder`].
    App,
    /// A dataset owner's [`DatasetOrder`].
    Dataset,
    /// A workerpool owner's [`WorkerpoolOrder`].
    Workerpool,
    /// A requester's [`RequestOrder`].
    Request,
}

impl OrderKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [Self::App, Self::Dataset, Self::Workerpool, Self::Request];

    /// The name, as in paths and JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Dataset => "dataset",
            Self::Workerpool => "workerpool",
            Self::Request => "request",
        }
    }

    /// The kind named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// `app, dataset, workerpool, request`, for messages.
    pub fn names() -> String {
        Self::ALL.map(|kind| kind.as_str()).join(", ")
    }
}

impl fmt::Display for OrderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a published order is. The market derives it from the chain: the order's consumed
/// volume, its `Closed<X>Order` event and the current owner of its asset.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// It has volume left and `matchOrders` would accept its signature.
    Open,
    /// Its whole volume is consumed by deals.
    Filled,
    /// Its owner closed it on chain.
    Cancelled,
    /// Its asset changed hands: `matchOrders` checks the signature against the current owner and
    /// would refuse it. It is open again if the asset comes back to its signer.
    Stale,
}

impl OrderStatus {
    /// Every status.
    pub const ALL: [Self; 4] = [Self::Open, Self::Filled, Self::Cancelled, Self::Stale];

    /// The name, as in JSON and queries.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Filled => "FILLED",
            Self::Cancelled => "CANCELLED",
            Self::Stale => "STALE",
        }
    }

    /// The status named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signed order of any kind: in JSON, `{"kind": "app", "order": {…fields…, "sign": "0x…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "order", rename_all = "lowercase")]
pub enum SignedOrder {
    /// An app order.
    App(Signed<AppOrder>),
    /// A dataset order.
    Dataset(Signed<DatasetOrder>),
    /// A workerpool order.
    Workerpool(Signed<WorkerpoolOrder>),
    /// A request order.
    Request(Signed<RequestOrder>),
}

/// The schema is the one of [`schema::SignedOrder`], the same shape in OpenAPI's terms.
impl utoipa::PartialSchema for SignedOrder {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <schema::SignedOrder as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for SignedOrder {
    fn name() -> std::borrow::Cow<'static, str> {
        <schema::SignedOrder as utoipa::ToSchema>::name()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <schema::SignedOrder as utoipa::ToSchema>::schemas(schemas)
    }
}

impl SignedOrder {
    /// Its kind.
    pub fn kind(&self) -> OrderKind {
        match self {
            Self::App(_) => OrderKind::App,
            Self::Dataset(_) => OrderKind::Dataset,
            Self::Workerpool(_) => OrderKind::Workerpool,
            Self::Request(_) => OrderKind::Request,
        }
    }

    /// The order hash under `domain` (what is signed, and the key of its consumed volume).
    pub fn hash(&self, domain: &Domain) -> OrderHash {
        match self {
            Self::App(o) => o.order.hash(domain),
            Self::Dataset(o) => o.order.hash(domain),
            Self::Workerpool(o) => o.order.hash(domain),
            Self::Request(o) => o.order.hash(domain),
        }
    }

    /// The account whose key made `sign` over the order hash (meaningful for an account's
    /// signature only: a contract's is checked by calling it, ERC-1271).
    pub fn recover_signer(&self, domain: &Domain) -> agora_primitives::Result<Address> {
        match self {
            Self::App(o) => o.recover_signer(domain),
            Self::Dataset(o) => o.recover_signer(domain),
            Self::Workerpool(o) => o.recover_signer(domain),
            Self::Request(o) => o.recover_signer(domain),
        }
    }

    /// The signature (empty for a presigned order).
    pub fn sign(&self) -> &Bytes {
        match self {
            Self::App(o) => &o.sign,
            Self::Dataset(o) => &o.sign,
            Self::Workerpool(o) => &o.sign,
            Self::Request(o) => &o.sign,
        }
    }

    /// The number of tasks it may be used for.
    pub fn volume(&self) -> U256 {
        match self {
            Self::App(o) => o.order.volume,
            Self::Dataset(o) => o.order.volume,
            Self::Workerpool(o) => o.order.volume,
            Self::Request(o) => o.order.volume,
        }
    }

    /// The price lists sort by: the asset's price per task for the three offers, the most the
    /// requester pays a workerpool per task for a request.
    pub fn price(&self) -> Nrlc {
        match self {
            Self::App(o) => o.order.appprice,
            Self::Dataset(o) => o.order.datasetprice,
            Self::Workerpool(o) => o.order.workerpoolprice,
            Self::Request(o) => o.order.workerpoolmaxprice,
        }
    }

    /// Its tag.
    pub fn tag(&self) -> Tag {
        match self {
            Self::App(o) => o.order.tag,
            Self::Dataset(o) => o.order.tag,
            Self::Workerpool(o) => o.order.tag,
            Self::Request(o) => o.order.tag,
        }
    }

    /// The asset it is about: the app, dataset or workerpool it sells, or the app it requests.
    pub fn asset(&self) -> Address {
        match self {
            Self::App(o) => o.order.app,
            Self::Dataset(o) => o.order.dataset,
            Self::Workerpool(o) => o.order.workerpool,
            Self::Request(o) => o.order.app,
        }
    }
}

impl From<Signed<AppOrder>> for SignedOrder {
    fn from(order: Signed<AppOrder>) -> Self {
        Self::App(order)
    }
}

impl From<Signed<DatasetOrder>> for SignedOrder {
    fn from(order: Signed<DatasetOrder>) -> Self {
        Self::Dataset(order)
    }
}

impl From<Signed<WorkerpoolOrder>> for SignedOrder {
    fn from(order: Signed<WorkerpoolOrder>) -> Self {
        Self::Workerpool(order)
    }
}

impl From<Signed<RequestOrder>> for SignedOrder {
    fn from(order: Signed<RequestOrder>) -> Self {
        Self::Request(order)
    }
}

/// A published order, as the market answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarketOrder {
    /// The order hash.
    #[schema(value_type = String)]
    pub hash: OrderHash,
    /// The kind and the signed order.
    #[serde(flatten)]
    pub order: SignedOrder,
    /// Who signed it (or presigned it): the asset's owner when it was published, or the
    /// requester.
    #[schema(value_type = String)]
    pub signer: Address,
    /// The volume left: its volume minus what deals consumed (0 once closed).
    #[schema(value_type = String)]
    pub remaining: U256,
    /// Its status.
    pub status: OrderStatus,
    /// When it was published (milliseconds since the Unix epoch).
    pub published_at_ms: u64,
}

/// A position in a list, from a previous page's `next`. Opaque.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Cursor(pub String);

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPage {
    /// The orders, best first.
    pub orders: Vec<MarketOrder>,
    /// Pass it as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Cursor>,
}

/// What the market serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarketInfo {
    /// The chain id of the orders' EIP-712 domain.
    pub chain_id: u64,
    /// The hub: the domain's verifying contract.
    #[schema(value_type = String)]
    pub hub: Address,
    /// The last block whose events the market has applied.
    pub block: u64,
}

/// Which orders to list, and which page. Each filter keeps the orders that could be used in a
/// deal with the value given, as `matchOrders` would judge it:
///
/// - `app`, `dataset`, `workerpool`, `requester`: for the order's own field (the app of an app or
///   request order, the dataset of a dataset or request order, the workerpool of a workerpool
///   order, the requester of a request order) the value must be equal; for a restriction (an
///   offer's `*restrict`, a request's `workerpool`) the restriction must be none or that value
///   (an ERC-734 group restriction matches only its own address: groups are not resolved).
/// - `category` (workerpool and request orders): equal.
/// - `minTrust` (workerpool orders): the pool offers at least this trust; `maxTrust` (request
///   orders): the request asks for at most this trust.
/// - `minTag`: the order's tag has every bit of this one (for workerpool orders: the pool
///   offers at least what a deal requires); `maxTag`: the order's tag has no bit outside this
///   one (for app, dataset and request orders: a pool offering this tag can serve it; a dataset
///   order's TEE framework bits 1–3 are ignored, as `matchOrders` ignores them).
/// - `minVolume`: at least this much volume left.
/// - `minPrice`, `maxPrice`: bounds on the price (see [`SignedOrder::price`]).
/// - `status`: `OPEN` unless given.
#[derive(Debug, Clone, PartialEq, Eq, utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct OrderQuery {
    /// The kind of order (required).
    #[param(value_type = OrderKind)]
    pub kind: OrderKind,
    /// Only orders with this status (default `OPEN`).
    #[param(value_type = Option<OrderStatus>)]
    pub status: OrderStatus,
    /// Usable with this app.
    #[param(value_type = Option<String>)]
    pub app: Option<Address>,
    /// Usable with this dataset.
    #[param(value_type = Option<String>)]
    pub dataset: Option<Address>,
    /// Usable with this workerpool.
    #[param(value_type = Option<String>)]
    pub workerpool: Option<Address>,
    /// Usable by this requester.
    #[param(value_type = Option<String>)]
    pub requester: Option<Address>,
    /// In this category (workerpool and request orders).
    pub category: Option<u64>,
    /// Offering at least this trust (workerpool orders).
    pub min_trust: Option<u64>,
    /// Asking for at most this trust (request orders).
    pub max_trust: Option<u64>,
    /// Tag with every bit of this one (hex, up to 32 bytes).
    #[param(value_type = Option<String>)]
    pub min_tag: Option<Tag>,
    /// Tag with no bit outside this one (hex, up to 32 bytes).
    #[param(value_type = Option<String>)]
    pub max_tag: Option<Tag>,
    /// At least this much volume left.
    pub min_volume: Option<u64>,
    /// Price at least this (nRLC, decimal or 0x-hex).
    #[param(value_type = Option<String>)]
    pub min_price: Option<Nrlc>,
    /// Price at most this (nRLC, decimal or 0x-hex).
    #[param(value_type = Option<String>)]
    pub max_price: Option<Nrlc>,
    /// Orders per page, 1 to 100 (default 20).
    pub limit: u32,
    /// Where the page starts: the `next` of the previous page.
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor>,
}

/// A query parameter that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadQuery {
    /// The parameter.
    pub parameter: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for BadQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "query parameter {}: {}", self.parameter, self.reason)
    }
}

impl std::error::Error for BadQuery {}

fn bad(parameter: &str, reason: impl Into<String>) -> BadQuery {
    BadQuery {
        parameter: parameter.into(),
        reason: reason.into(),
    }
}

/// The names of the query parameters, in the order [`OrderQuery::to_pairs`] writes them.
pub const QUERY_PARAMETERS: [&str; 16] = [
    "kind",
    "status",
    "app",
    "dataset",
    "workerpool",
    "requester",
    "category",
    "minTrust",
    "maxTrust",
    "minTag",
    "maxTag",
    "minVolume",
    "minPrice",
    "maxPrice",
    "limit",
    "cursor",
];

impl OrderQuery {
    /// The first page of the open orders of `kind`, unfiltered.
    pub fn new(kind: OrderKind) -> Self {
        Self {
            kind,
            status: OrderStatus::Open,
            app: None,
            dataset: None,
            workerpool: None,
            requester: None,
            category: None,
            min_trust: None,
            max_trust: None,
            min_tag: None,
            max_tag: None,
            min_volume: None,
            min_price: None,
            max_price: None,
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }

    /// Reads a query from its parameters, refusing unknown, repeated or malformed ones and
    /// filters that do not apply to the kind.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, BadQuery> {
        let mut seen: Vec<&str> = Vec::new();
        let mut values: Vec<(&str, &str)> = Vec::new();
        for (name, value) in pairs {
            let Some(known) = QUERY_PARAMETERS.iter().find(|known| **known == name) else {
                return Err(bad(
                    name,
                    format!(
                        "unknown; the parameters are {}",
                        QUERY_PARAMETERS.join(", ")
                    ),
                ));
            };
            if seen.contains(known) {
                return Err(bad(name, "given twice"));
            }
            seen.push(known);
            values.push((known, value));
        }
        let value = |name: &str| values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let kind = match value("kind") {
            None => {
                return Err(bad(
                    "kind",
                    format!("missing: one of {} is required", OrderKind::names()),
                ));
            }
            Some(text) => OrderKind::parse(text).ok_or_else(|| {
                bad(
                    "kind",
                    format!("{text:?} is not a kind: one of {}", OrderKind::names()),
                )
            })?,
        };
        let mut query = Self::new(kind);
        if let Some(text) = value("status") {
            query.status = OrderStatus::parse(text).ok_or_else(|| {
                let names: Vec<_> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
                bad(
                    "status",
                    format!("{text:?} is not a status: one of {}", names.join(", ")),
                )
            })?;
        }
        let address = |name: &str| -> Result<Option<Address>, BadQuery> {
            value(name)
                .map(|text| {
                    parse_address(text).ok_or_else(|| {
                        bad(
                            name,
                            format!("{text:?} is not an address (0x and 40 hex digits)"),
                        )
                    })
                })
                .transpose()
        };
        query.app = address("app")?;
        query.dataset = address("dataset")?;
        query.workerpool = address("workerpool")?;
        query.requester = address("requester")?;
        let count = |name: &str| -> Result<Option<u64>, BadQuery> {
            value(name)
                .map(|text| {
                    parse_u256(text)
                        .and_then(|n| u64::try_from(n).ok())
                        .filter(|n| *n <= MAX_COUNT)
                        .ok_or_else(|| {
                            bad(
                                name,
                                format!("{text:?} is not a whole number from 0 to {MAX_COUNT}"),
                            )
                        })
                })
                .transpose()
        };
        query.category = count("category")?;
        query.min_trust = count("minTrust")?;
        query.max_trust = count("maxTrust")?;
        query.min_volume = count("minVolume")?;
        let tag = |name: &str| -> Result<Option<Tag>, BadQuery> {
            value(name)
                .map(|text| {
                    parse_tag(text).ok_or_else(|| {
                        bad(
                            name,
                            format!("{text:?} is not a tag (0x and up to 64 hex digits)"),
                        )
                    })
                })
                .transpose()
        };
        query.min_tag = tag("minTag")?;
        query.max_tag = tag("maxTag")?;
        let price = |name: &str| -> Result<Option<Nrlc>, BadQuery> {
            value(name)
                .map(|text| {
                    parse_u256(text)
                        .filter(|n| *n <= MAX_PRICE)
                        .map(Nrlc::new)
                        .ok_or_else(|| {
                            bad(
                                name,
                                format!(
                                    "{text:?} is not a price in nRLC from 0 to {MAX_PRICE} \
                                     (decimal, or 0x and hex digits)"
                                ),
                            )
                        })
                })
                .transpose()
        };
        query.min_price = price("minPrice")?;
        query.max_price = price("maxPrice")?;
        if let Some(text) = value("limit") {
            query.limit = text
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    bad(
                        "limit",
                        format!("{text:?} is not a number of orders from 1 to {MAX_LIMIT}"),
                    )
                })?;
        }
        if let Some(text) = value("cursor") {
            if text.is_empty() {
                return Err(bad("cursor", "empty: pass the `next` of the previous page"));
            }
            query.cursor = Some(Cursor(text.to_string()));
        }
        query.check()?;
        Ok(query)
    }

    /// Refuses the filters that do not apply to the query's kind.
    pub fn check(&self) -> Result<(), BadQuery> {
        let only = |name: &str, kinds: &[OrderKind]| {
            let names: Vec<_> = kinds.iter().map(|k| format!("{k} orders")).collect();
            bad(
                name,
                format!(
                    "filters {} only, not {} orders",
                    names.join(" and "),
                    self.kind
                ),
            )
        };
        use OrderKind::{Request, Workerpool};
        if self.category.is_some() && !matches!(self.kind, Workerpool | Request) {
            return Err(only("category", &[Workerpool, Request]));
        }
        if self.min_trust.is_some() && self.kind != Workerpool {
            return Err(only("minTrust", &[Workerpool]));
        }
        if self.max_trust.is_some() && self.kind != Request {
            return Err(only("maxTrust", &[Request]));
        }
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(bad(
                "limit",
                format!(
                    "{} is not a number of orders from 1 to {MAX_LIMIT}",
                    self.limit
                ),
            ));
        }
        Ok(())
    }

    /// The query's parameters, those that differ from the defaults.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![("kind", self.kind.to_string())];
        if self.status != OrderStatus::Open {
            pairs.push(("status", self.status.to_string()));
        }
        let addresses = [
            ("app", self.app),
            ("dataset", self.dataset),
            ("workerpool", self.workerpool),
            ("requester", self.requester),
        ];
        for (name, address) in addresses {
            if let Some(address) = address {
                pairs.push((name, address.to_string()));
            }
        }
        let counts = [
            ("category", self.category),
            ("minTrust", self.min_trust),
            ("maxTrust", self.max_trust),
        ];
        for (name, count) in counts {
            if let Some(count) = count {
                pairs.push((name, count.to_string()));
            }
        }
        for (name, tag) in [("minTag", self.min_tag), ("maxTag", self.max_tag)] {
            if let Some(tag) = tag {
                pairs.push((name, tag.to_string()));
            }
        }
        if let Some(volume) = self.min_volume {
            pairs.push(("minVolume", volume.to_string()));
        }
        for (name, price) in [("minPrice", self.min_price), ("maxPrice", self.max_price)] {
            if let Some(price) = price {
                pairs.push((name, price.get().to_string()));
            }
        }
        if self.limit != DEFAULT_LIMIT {
            pairs.push(("limit", self.limit.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            pairs.push(("cursor", cursor.0.clone()));
        }
        pairs
    }
}

fn parse_address(text: &str) -> Option<Address> {
    let hex = text.strip_prefix("0x")?;
    if hex.len() != 40 {
        return None;
    }
    Address::from_str(hex).ok()
}

/// A decimal number, or `0x` and hex digits.
fn parse_u256(text: &str) -> Option<U256> {
    if text.is_empty() || text.starts_with('+') || text.starts_with('-') {
        return None;
    }
    match text.strip_prefix("0x") {
        Some(hex) => U256::from_str_radix(hex, 16)
            .ok()
            .filter(|_| !hex.is_empty()),
        None => U256::from_str_radix(text, 10).ok(),
    }
}

/// `0x` and up to 64 hex digits, read as a number (so `0x1` is the TEE bit).
fn parse_tag(text: &str) -> Option<Tag> {
    text.strip_prefix("0x").and_then(Tag::from_hex_digits)
}

/// The schemas of the signed orders, for the OpenAPI document only (the orders' own types are
/// agora-primitives', which knows nothing of OpenAPI).
#[allow(dead_code, reason = "schema descriptions for the OpenAPI derive")]
pub(crate) mod schema {
    use serde::Serialize;

    /// A signed order of any kind, with its kind.
    #[derive(Serialize, utoipa::ToSchema)]
    #[serde(tag = "kind", content = "order", rename_all = "lowercase")]
    pub(crate) enum SignedOrder {
        /// An app order.
        App(SignedAppOrder),
        /// A dataset order.
        Dataset(SignedDatasetOrder),
        /// A workerpool order.
        Workerpool(SignedWorkerpoolOrder),
        /// A request order.
        Request(SignedRequestOrder),
    }

    /// An app order and its owner's signature (iExec's JSON form).
    #[derive(Serialize, utoipa::ToSchema)]
    pub(crate) struct SignedAppOrder {
        /// The app (address).
        app: String,
        /// Price per task in nRLC (0x-hex or decimal string, or a JSON number).
        appprice: String,
        /// Number of tasks the order may be used for (uint256, as prices).
        volume: String,
        /// Features the app requires (bytes32 hex).
        tag: String,
        /// Only this dataset (or members of this ERC-734 group); the zero address for any.
        datasetrestrict: String,
        /// Only this workerpool (or group); zero for any.
        workerpoolrestrict: String,
        /// Only this requester (or group); zero for any.
        requesterrestrict: String,
        /// Random bytes32 that make the order unique.
        salt: String,
        /// The owner's EIP-712 signature of the order hash (65 bytes r‖s‖v or 64 EIP-2098;
        /// whatever an ERC-1271 owner accepts), or empty (`0x`) for an order presigned on chain.
        sign: String,
    }

    /// A dataset order and its owner's signature.
    #[derive(Serialize, utoipa::ToSchema)]
    pub(crate) struct SignedDatasetOrder {
        /// The dataset (address).
        dataset: String,
        /// Price per task in nRLC.
        datasetprice: String,
        /// Number of tasks the order may be used for.
        volume: String,
        /// Features the dataset requires (bytes32 hex).
        tag: String,
        /// Only this app (or group); zero for any.
        apprestrict: String,
        /// Only this workerpool (or group); zero for any.
        workerpoolrestrict: String,
        /// Only this requester (or group); zero for any.
        requesterrestrict: String,
        /// Random bytes32.
        salt: String,
        /// The owner's signature, or empty for a presigned order.
        sign: String,
    }

    /// A workerpool order and its owner's signature.
    #[derive(Serialize, utoipa::ToSchema)]
    pub(crate) struct SignedWorkerpoolOrder {
        /// The workerpool (address).
        workerpool: String,
        /// Price per task in nRLC.
        workerpoolprice: String,
        /// Number of tasks the order may be used for.
        volume: String,
        /// Features the pool offers (bytes32 hex).
        tag: String,
        /// Category (maximum run time class); must equal the request's.
        category: String,
        /// Highest trust the pool offers.
        trust: String,
        /// Only this app (or group); zero for any.
        apprestrict: String,
        /// Only this dataset (or group); zero for any.
        datasetrestrict: String,
        /// Only this requester (or group); zero for any.
        requesterrestrict: String,
        /// Random bytes32.
        salt: String,
        /// The owner's signature, or empty for a presigned order.
        sign: String,
    }

    /// A request order and its requester's signature.
    #[derive(Serialize, utoipa::ToSchema)]
    pub(crate) struct SignedRequestOrder {
        /// The app to run.
        app: String,
        /// Most the requester pays the app per task (nRLC).
        appmaxprice: String,
        /// The dataset to use; zero for none.
        dataset: String,
        /// Most the requester pays the dataset per task.
        datasetmaxprice: String,
        /// Only this workerpool (or group); zero for any.
        workerpool: String,
        /// Most the requester pays the workerpool per task.
        workerpoolmaxprice: String,
        /// Who signs and pays.
        requester: String,
        /// Number of tasks.
        volume: String,
        /// Features the request requires (bytes32 hex).
        tag: String,
        /// Category; must equal the workerpool order's.
        category: String,
        /// Trust required.
        trust: String,
        /// Owner of the results.
        beneficiary: String,
        /// Contract that receives the result on chain; zero for none.
        callback: String,
        /// Free parameters stored in the deal, by convention a JSON object.
        params: String,
        /// Random bytes32.
        salt: String,
        /// The requester's signature, or empty for a presigned order.
        sign: String,
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;

    use super::*;

    fn signed_app_order() -> SignedOrder {
        SignedOrder::App(Signed {
            order: AppOrder {
                app: Address::repeat_byte(0x11),
                appprice: Nrlc::from(5),
                volume: U256::from(3),
                ..AppOrder::default()
            },
            sign: Bytes::from(vec![1u8; 65]),
        })
    }

    #[test]
    fn a_market_order_is_flat_with_its_kind_and_order() {
        let entry = MarketOrder {
            hash: OrderHash::new(B256::repeat_byte(7)),
            order: signed_app_order(),
            signer: Address::repeat_byte(0x22),
            remaining: U256::from(3),
            status: OrderStatus::Open,
            published_at_ms: 1_700_000_000_000,
        };
        let json = serde_json::to_value(&entry).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "hash",
                "kind",
                "order",
                "publishedAtMs",
                "remaining",
                "signer",
                "status"
            ]
        );
        assert_eq!(json["kind"], "app");
        assert_eq!(json["status"], "OPEN");
        assert_eq!(json["order"]["appprice"], "0x5");
        assert_eq!(json["order"]["sign"].as_str().unwrap().len(), 2 + 130);
        let back: MarketOrder = serde_json::from_value(json).unwrap();
        assert_eq!(back, entry);
    }

    #[test]
    fn names_round_trip() {
        for kind in OrderKind::ALL {
            assert_eq!(OrderKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{status}\"")
            );
        }
        assert_eq!(OrderKind::parse("App"), None);
    }

    #[test]
    fn the_price_limit_is_two_to_the_96_minus_one() {
        assert_eq!(MAX_PRICE, (U256::from(1) << 96) - U256::from(1));
    }

    #[test]
    fn a_query_goes_through_its_parameters_and_back() {
        let query = OrderQuery {
            status: OrderStatus::Stale,
            app: Some(Address::repeat_byte(1)),
            dataset: Some(Address::repeat_byte(2)),
            workerpool: Some(Address::repeat_byte(3)),
            requester: Some(Address::repeat_byte(4)),
            category: Some(2),
            min_trust: Some(5),
            min_tag: Some(Tag::TEE | Tag::GPU),
            max_tag: Some(Tag::TEE),
            min_volume: Some(10),
            min_price: Some(Nrlc::from(1)),
            max_price: Some(Nrlc::from(1_000_000_000)),
            limit: 50,
            cursor: Some(Cursor("abc".into())),
            ..OrderQuery::new(OrderKind::Workerpool)
        };
        let pairs = query.to_pairs();
        let back = OrderQuery::from_pairs(pairs.iter().map(|(n, v)| (*n, v.as_str()))).unwrap();
        assert_eq!(back, query);
        let plain = OrderQuery::new(OrderKind::App);
        assert_eq!(plain.to_pairs(), [("kind", "app".to_string())]);
    }

    fn refusal(pairs: &[(&str, &str)]) -> String {
        OrderQuery::from_pairs(pairs.iter().copied())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn bad_queries_name_the_parameter_and_the_problem() {
        assert_eq!(
            refusal(&[]),
            "query parameter kind: missing: one of app, dataset, workerpool, request is required"
        );
        assert_eq!(
            refusal(&[("kind", "apps")]),
            "query parameter kind: \"apps\" is not a kind: one of app, dataset, workerpool, request"
        );
        assert!(
            refusal(&[("kind", "app"), ("ap", "0x")]).starts_with("query parameter ap: unknown")
        );
        assert_eq!(
            refusal(&[("kind", "app"), ("kind", "app")]),
            "query parameter kind: given twice"
        );
        assert_eq!(
            refusal(&[("kind", "app"), ("app", "0x1234")]),
            "query parameter app: \"0x1234\" is not an address (0x and 40 hex digits)"
        );
        assert_eq!(
            refusal(&[("kind", "app"), ("category", "1")]),
            "query parameter category: filters workerpool orders and request orders only, not app orders"
        );
        assert_eq!(
            refusal(&[("kind", "request"), ("minTrust", "1")]),
            "query parameter minTrust: filters workerpool orders only, not request orders"
        );
        assert_eq!(
            refusal(&[("kind", "workerpool"), ("maxTrust", "1")]),
            "query parameter maxTrust: filters request orders only, not workerpool orders"
        );
        assert_eq!(
            refusal(&[("kind", "app"), ("limit", "101")]),
            "query parameter limit: \"101\" is not a number of orders from 1 to 100"
        );
        assert_eq!(
            refusal(&[("kind", "app"), ("limit", "0")]),
            "query parameter limit: \"0\" is not a number of orders from 1 to 100"
        );
        assert!(refusal(&[("kind", "app"), ("minVolume", "-1")]).contains("is not a whole number"));
        assert!(
            refusal(&[("kind", "app"), ("minVolume", "9223372036854775808")])
                .contains("is not a whole number from 0 to 9223372036854775807")
        );
        assert!(
            refusal(&[
                ("kind", "app"),
                ("maxPrice", "79228162514264337593543950336")
            ])
            .contains("is not a price in nRLC")
        );
        assert!(refusal(&[("kind", "app"), ("minTag", "tee")]).contains("is not a tag"));
        assert!(refusal(&[("kind", "app"), ("status", "open")]).contains("is not a status"));
        assert!(refusal(&[("kind", "app"), ("cursor", "")]).contains("empty"));
    }

    #[test]
    fn numbers_are_decimal_or_hex_and_tags_are_short_hex_too() {
        let query = OrderQuery::from_pairs([
            ("kind", "workerpool"),
            ("maxPrice", "0x10"),
            ("minPrice", "16"),
            ("minTag", "0x101"),
            ("maxTag", &format!("0x{}", "0".repeat(63) + "1")),
        ])
        .unwrap();
        assert_eq!(query.max_price, Some(Nrlc::from(16)));
        assert_eq!(query.min_price, Some(Nrlc::from(16)));
        assert_eq!(query.min_tag, Some(Tag::TEE | Tag::GPU));
        assert_eq!(query.max_tag, Some(Tag::TEE));
    }
}
