//! The HTTP API (types in `agora_api::market`): publishing, with the checks `matchOrders` would
//! make, and the reads.

use std::sync::Arc;

use agora_api::{
    ApiError,
    market::{
        INFO, MAX_PRICE, MarketInfo, MarketOrder, ORDERS, OrderKind, OrderQuery, OrderStatus,
        SignedOrder,
    },
};
use agora_primitives::{
    Address, AppOrder, Bytes, DatasetOrder, OrderHash, RequestOrder, Signed, U256, WorkerpoolOrder,
};
use axum::{
    Json, Router,
    body::Bytes as Body,
    extract::{DefaultBodyLimit, Path, Query, State, rejection::BytesRejection},
    http::{Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::{CHECK_TIMEOUT, Error, Shared, chain::Unreadable, db, now_ms, store::NewOrder};

/// The largest body a publish takes (a request order's `params` is the only long field).
pub(crate) const MAX_BODY: usize = 64 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(ORDERS, get(list))
        .route("/v1/orders/{id}", get(one).post(publish))
        .route(INFO, get(info))
        .route(agora_api::openapi::PATH, get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// A refused request: its status and what is wrong.
#[derive(Debug)]
pub(crate) struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(ApiError { error: self.1 })).into_response()
    }
}

fn refuse(status: StatusCode, error: impl Into<String>) -> Refusal {
    Refusal(status, error.into())
}

fn malformed(error: impl Into<String>) -> Refusal {
    refuse(StatusCode::BAD_REQUEST, error)
}

/// The order is well formed but `matchOrders` would refuse it.
fn unusable(error: impl Into<String>) -> Refusal {
    refuse(StatusCode::UNPROCESSABLE_ENTITY, error)
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        match e {
            Error::Cursor(_) => malformed(e.to_string()),
            e => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

impl From<Unreadable> for Refusal {
    fn from(e: Unreadable) -> Self {
        refuse(StatusCode::BAD_GATEWAY, e.0)
    }
}

async fn not_found(method: Method, uri: Uri) -> Refusal {
    refuse(
        StatusCode::NOT_FOUND,
        format!(
            "no such endpoint: {method} {}; see GET {}",
            uri.path(),
            agora_api::openapi::PATH
        ),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Refusal {
    refuse(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{method} is not allowed on {}; see GET {}",
            uri.path(),
            agora_api::openapi::PATH
        ),
    )
}

async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        agora_api::openapi::market(),
    )
}

async fn info(State(shared): State<Arc<Shared>>) -> Result<Json<MarketInfo>, Refusal> {
    let block = db(&shared, |store| store.last_block()).await?;
    Ok(Json(MarketInfo {
        chain_id: shared.chain.domain.chain_id,
        hub: shared.chain.domain.verifying_contract,
        block: block.unwrap_or_default(),
    }))
}

async fn list(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Refusal> {
    let Query(pairs) = query.map_err(|e| malformed(e.body_text()))?;
    let query = OrderQuery::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .map_err(|e| malformed(e.to_string()))?;
    let page = db(&shared, move |store| store.list(&query)).await?;
    Ok(Json(page).into_response())
}

async fn one(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<MarketOrder>, Refusal> {
    let hash: OrderHash = parse_hash(&id).ok_or_else(|| {
        let hint = match OrderKind::parse(&id) {
            Some(kind) => format!("; to list {kind} orders, GET {ORDERS}?kind={kind}"),
            None => String::new(),
        };
        malformed(format!(
            "{id:?} is not an order hash (0x and 64 hex digits){hint}"
        ))
    })?;
    match db(&shared, move |store| store.get(hash)).await? {
        Some(order) => Ok(Json(order)),
        None => Err(refuse(
            StatusCode::NOT_FOUND,
            format!("order {hash} is not published here"),
        )),
    }
}

fn parse_hash(text: &str) -> Option<OrderHash> {
    let hex = text.strip_prefix("0x")?;
    if hex.len() != 64 {
        return None;
    }
    hex.parse().ok()
}

async fn publish(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Result<Body, BytesRejection>,
) -> Result<Response, Refusal> {
    let kind = OrderKind::parse(&id).ok_or_else(|| {
        refuse(
            StatusCode::NOT_FOUND,
            format!(
                "{id:?} is not an order kind: publish to {ORDERS}/app, /dataset, /workerpool or \
                 /request"
            ),
        )
    })?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is over {} KiB", MAX_BODY / 1024),
            )
        } else {
            refuse(e.status(), e.body_text())
        }
    })?;
    let order = parse_order(kind, &body)?;
    let hash = order.hash(&shared.chain.domain);
    if let Some(existing) = db(&shared, move |store| store.get(hash)).await? {
        // Published already: it is the same order, given again. Where the book knows it can
        // no longer be matched, that is said as a refusal, as for a new order.
        let volume = existing.order.volume();
        match existing.status {
            OrderStatus::Open => return Ok((StatusCode::OK, Json(existing)).into_response()),
            OrderStatus::Filled => {
                return Err(unusable(format!(
                    "no volume left: {} of {volume} consumed",
                    volume.saturating_sub(existing.remaining)
                )));
            }
            OrderStatus::Cancelled => {
                return Err(unusable(format!(
                    "no volume left: order {hash} was cancelled on chain"
                )));
            }
            OrderStatus::Stale => {
                return Err(unusable(format!(
                    "order {hash} was signed by {}, who no longer owns {}: matchOrders would refuse it",
                    existing.signer,
                    existing.order.asset()
                )));
            }
        }
    }
    check_fields(&order)?;
    // The follower does not apply the chain's events while an order is checked and stored: an
    // event the checks did not see is applied after the order is stored.
    let _book = shared.book.read().await;
    let (signer, consumed) =
        tokio::time::timeout(CHECK_TIMEOUT, check_on_chain(&shared, &order, hash))
            .await
            .map_err(|_| {
                refuse(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!(
                        "the chain did not answer the order's checks within {} s",
                        CHECK_TIMEOUT.as_secs()
                    ),
                )
            })??;
    let new = NewOrder {
        order,
        hash,
        signer,
        consumed,
        published_at_ms: now_ms(),
    };
    let (entry, created) = db(&shared, move |store| store.insert(&new)).await?;
    if created {
        tracing::info!(target: "agora::market", %hash, %kind, %signer, "order published");
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(entry)).into_response())
}

/// "an app order", "a dataset order", ...
fn an(kind: OrderKind) -> String {
    match kind {
        OrderKind::App => "an app order".into(),
        kind => format!("a {kind} order"),
    }
}

/// Reads a signed order of `kind` from the body, refusing what is not exactly one: not JSON,
/// unknown or missing fields, values of the wrong type.
fn parse_order(kind: OrderKind, body: &[u8]) -> Result<SignedOrder, Refusal> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("the body is not JSON: {e}")))?;
    let Value::Object(fields) = value else {
        return Err(malformed(format!(
            "the body must be a JSON object: {}'s fields and its sign",
            an(kind)
        )));
    };
    Ok(match kind {
        OrderKind::App => SignedOrder::App(signed::<AppOrder>(kind, fields)?),
        OrderKind::Dataset => SignedOrder::Dataset(signed::<DatasetOrder>(kind, fields)?),
        OrderKind::Workerpool => SignedOrder::Workerpool(signed::<WorkerpoolOrder>(kind, fields)?),
        OrderKind::Request => SignedOrder::Request(signed::<RequestOrder>(kind, fields)?),
    })
}

fn signed<O: Default + Serialize + DeserializeOwned>(
    kind: OrderKind,
    mut fields: Map<String, Value>,
) -> Result<Signed<O>, Refusal> {
    // The order's own field names, from its serialization: they cannot drift from the type.
    let known: Vec<String> = match serde_json::to_value(O::default()) {
        Ok(Value::Object(known)) => known.keys().cloned().collect(),
        _ => Vec::new(),
    };
    if let Some(unknown) = fields
        .keys()
        .find(|name| name.as_str() != "sign" && !known.contains(name))
    {
        return Err(malformed(format!(
            "unknown field {unknown:?} in {}: its fields are {} and sign",
            an(kind),
            known.join(", ")
        )));
    }
    let sign = match fields.remove("sign") {
        None => {
            return Err(malformed(format!(
                "missing field sign: the signature of the {kind} order, or \"0x\" for an \
                 order presigned on chain"
            )));
        }
        Some(sign) => serde_json::from_value::<Bytes>(sign)
            .map_err(|e| malformed(format!("field sign: {e} (expected 0x and hex digits)")))?,
    };
    let order = serde_path_to_error::deserialize::<_, O>(Value::Object(fields)).map_err(|e| {
        let path = e.path().to_string();
        let error = e.into_inner();
        if path == "." {
            malformed(format!("the {kind} order: {error}"))
        } else {
            malformed(format!("field {path}: {error}"))
        }
    })?;
    Ok(Signed { order, sign })
}

/// The checks that need no chain: values `matchOrders` would refuse whatever the chain says.
fn check_fields(order: &SignedOrder) -> Result<(), Refusal> {
    let kind = order.kind();
    if order.volume().is_zero() {
        return Err(unusable(format!(
            "volume is 0: the {kind} order could never be used"
        )));
    }
    let price = match order {
        SignedOrder::App(o) => Some(("appprice", o.order.appprice)),
        SignedOrder::Dataset(o) => Some(("datasetprice", o.order.datasetprice)),
        SignedOrder::Workerpool(o) => Some(("workerpoolprice", o.order.workerpoolprice)),
        // A request's prices are maximums: any is fine.
        SignedOrder::Request(_) => None,
    };
    if let Some((field, price)) = price
        && price.get() > MAX_PRICE
    {
        return Err(unusable(format!(
            "{field} {} nRLC is above the hub's limit of {MAX_PRICE} nRLC (2^96 - 1): \
             matchOrders would refuse the order",
            price.get()
        )));
    }
    if let SignedOrder::Request(o) = order {
        let o = &o.order;
        if o.app == Address::ZERO {
            return Err(unusable(
                "app is the zero address: a request order names the app to run",
            ));
        }
        if o.requester == Address::ZERO {
            return Err(unusable(
                "requester is the zero address: nobody can sign for it",
            ));
        }
        if o.trust > U256::from(u64::MAX) {
            return Err(unusable(format!(
                "trust {} is above 2^64 - 1: matchOrders would refuse the order",
                o.trust
            )));
        }
    }
    Ok(())
}

/// The checks `matchOrders` makes against the chain, in its order: the assets are registered,
/// the category exists, the order is signed or presigned by its asset's current owner (or its
/// requester), and it has volume left. Returns the signer and the consumed volume.
async fn check_on_chain(
    shared: &Shared,
    order: &SignedOrder,
    hash: OrderHash,
) -> Result<(Address, U256), Refusal> {
    let chain = &shared.chain;
    let kind = order.kind();
    let asset = order.asset();
    // The asset a request's app is (`kind`'s registry answers for it).
    let asset_name = match kind {
        OrderKind::Request => "app",
        kind => kind.as_str(),
    };
    if !chain.is_registered(kind, asset).await? {
        return Err(unusable(format!("{asset_name} {asset} is not registered")));
    }
    let category = match order {
        SignedOrder::Workerpool(o) => Some(o.order.category),
        SignedOrder::Request(o) => {
            let dataset = o.order.dataset;
            if dataset != Address::ZERO && !chain.is_registered(OrderKind::Dataset, dataset).await?
            {
                return Err(unusable(format!("dataset {dataset} is not registered")));
            }
            Some(o.order.category)
        }
        _ => None,
    };
    if let Some(category) = category {
        let count = chain.categories().await?;
        if category >= count {
            return Err(unusable(format!(
                "category {category} does not exist: the hub has categories 0 to {}",
                count.saturating_sub(U256::from(1))
            )));
        }
    }
    let (signer, whose) = match order {
        SignedOrder::Request(o) => (
            o.order.requester,
            format!("its requester {}", o.order.requester),
        ),
        _ => {
            let owner = chain.owner(asset).await?;
            (owner, format!("the {asset_name}'s owner {owner}"))
        }
    };
    if !chain.accepts(signer, hash, order.sign()).await? {
        let why = if order.sign().is_empty() {
            format!(
                "the {kind} order has no signature (sign is empty) and {whose} has not \
                 presigned it on chain"
            )
        } else if chain.is_contract(signer).await? {
            format!("{whose} is a contract and does not accept the signature (ERC-1271)")
        } else {
            match order.recover_signer(&chain.domain) {
                Ok(recovered) if recovered == signer => {
                    match signature_form_problem(order.sign()) {
                        Some(problem) => format!(
                            "the {kind} order is signed by {whose}, but its signature has {problem}"
                        ),
                        None => format!("the hub refuses the {kind} order's signature by {whose}"),
                    }
                }
                Ok(recovered) => {
                    format!("the {kind} order is signed by {recovered}, not by {whose}")
                }
                Err(e) => format!("the {kind} order's signature is invalid: {e}"),
            }
        };
        return Err(unusable(why));
    }
    let consumed = chain.consumed(hash).await?;
    let volume = order.volume();
    if consumed >= volume {
        return Err(unusable(format!(
            "no volume left: {consumed} of {volume} consumed"
        )));
    }
    Ok((signer, consumed))
}

/// Why the hub (OpenZeppelin's `ECDSA.tryRecover`, which ecrecover's rules and EIP-2 bind)
/// refuses a signature that still recovers to the right account: a `v` of 0 or 1 instead of 27
/// or 28, or an `s` in the upper half of the curve order (the malleable twin of a valid one).
fn signature_form_problem(sign: &[u8]) -> Option<String> {
    /// Half the order of secp256k1, the largest `s` EIP-2 allows.
    const HALF_ORDER: alloy::primitives::U256 = alloy::primitives::uint!(
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0_U256
    );
    let s = match sign.len() {
        65 => {
            let v = sign[64];
            if v != 27 && v != 28 {
                return Some(format!(
                    "v = {v}: the hub takes only v = 27 or 28 (add 27 to a 0 or 1 recovery id)"
                ));
            }
            alloy::primitives::U256::from_be_slice(&sign[32..64])
        }
        // EIP-2098: the top bit of `vs` is the parity, the rest is `s`.
        64 => {
            alloy::primitives::U256::from_be_slice(&sign[32..64])
                & (alloy::primitives::U256::MAX >> 1)
        }
        _ => return None,
    };
    (s > HALF_ORDER).then(|| {
        "a high s (above half the curve order): the hub takes only low-s signatures (EIP-2); \
         use n - s and flip v"
            .to_string()
    })
}
