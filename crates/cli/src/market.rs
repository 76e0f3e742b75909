//! Choosing orders from the market for a request: the cheapest app, dataset and workerpool
//! orders that matchOrders would accept together, or, when there are none, which order is
//! missing and why.

use agora_api::market::{OrderKind, OrderQuery, SignedOrder};
use agora_primitives::{AppOrder, DatasetOrder, Signed, Tag, WorkerpoolOrder};
use alloy::primitives::{Address, U256};
use anyhow::{Context, Result, bail};

use crate::run::Request;

/// How many orders of each kind are considered (the cheapest).
const CONSIDERED: usize = 50;

/// The orders chosen for a request.
#[derive(Debug, Clone)]
pub(crate) struct Candidates {
    pub(crate) app: Signed<AppOrder>,
    pub(crate) dataset: Option<Signed<DatasetOrder>>,
    pub(crate) workerpool: Signed<WorkerpoolOrder>,
}

/// Whether `restriction` lets `who` in: no restriction, or that very address. (A group
/// contract, ERC-734, is not asked here: such orders are passed over.)
fn admits(restriction: Address, who: Address) -> bool {
    restriction == Address::ZERO || restriction == who
}

fn restricted(what: &str, restriction: Address) -> String {
    format!("restricted to {what} {restriction}")
}

fn bits(tag: Tag) -> U256 {
    U256::from_be_bytes(tag.as_b256().0)
}

/// The deal's tag, as matchOrders computes it (a dataset's TEE framework bits do not count).
fn deal_tag(app: Tag, dataset: Option<Tag>, request: Tag) -> Tag {
    app | dataset.map_or(Tag::NONE, Tag::without_tee_framework) | request
}

/// Why `order` cannot serve `request` (for `requester`), whatever the other orders.
fn app_misfit(order: &AppOrder, request: &Request, requester: Address) -> Option<String> {
    if order.app != request.app {
        return Some(format!("it is for app {}", order.app));
    }
    if let Some(dataset) = request.dataset
        && !admits(order.datasetrestrict, dataset)
    {
        return Some(restricted("dataset", order.datasetrestrict));
    }
    if request.dataset.is_none() && order.datasetrestrict != Address::ZERO {
        return Some(restricted("dataset", order.datasetrestrict));
    }
    if !admits(order.requesterrestrict, requester) {
        return Some(restricted("requester", order.requesterrestrict));
    }
    if let Some(pool) = request.workerpool
        && !admits(order.workerpoolrestrict, pool)
    {
        return Some(restricted("workerpool", order.workerpoolrestrict));
    }
    None
}

fn dataset_misfit(order: &DatasetOrder, request: &Request, requester: Address) -> Option<String> {
    if Some(order.dataset) != request.dataset {
        return Some(format!("it is for dataset {}", order.dataset));
    }
    if !admits(order.apprestrict, request.app) {
        return Some(restricted("app", order.apprestrict));
    }
    if !admits(order.requesterrestrict, requester) {
        return Some(restricted("requester", order.requesterrestrict));
    }
    if let Some(pool) = request.workerpool
        && !admits(order.workerpoolrestrict, pool)
    {
        return Some(restricted("workerpool", order.workerpoolrestrict));
    }
    None
}

fn workerpool_misfit(
    order: &WorkerpoolOrder,
    request: &Request,
    requester: Address,
) -> Option<String> {
    if let Some(pool) = request.workerpool
        && order.workerpool != pool
    {
        return Some(format!("it is for workerpool {}", order.workerpool));
    }
    if order.category != U256::from(request.category) {
        return Some(format!(
            "it is in category {}, not {}",
            order.category, request.category
        ));
    }
    if order.trust < U256::from(request.trust) {
        return Some(format!(
            "it offers trust up to {}, not {}",
            order.trust, request.trust
        ));
    }
    if !admits(order.apprestrict, request.app) {
        return Some(restricted("app", order.apprestrict));
    }
    if !admits(order.datasetrestrict, request.dataset.unwrap_or_default()) {
        return Some(restricted("dataset", order.datasetrestrict));
    }
    if !admits(order.requesterrestrict, requester) {
        return Some(restricted("requester", order.requesterrestrict));
    }
    None
}

/// Why these three cannot go together (the checks that involve two orders).
fn pair_misfit(
    app: &AppOrder,
    dataset: Option<&DatasetOrder>,
    pool: &WorkerpoolOrder,
    request: &Request,
) -> Option<String> {
    if !admits(app.workerpoolrestrict, pool.workerpool) {
        return Some(format!(
            "the app order is {}",
            restricted("workerpool", app.workerpoolrestrict)
        ));
    }
    if let Some(dataset) = dataset
        && !admits(dataset.workerpoolrestrict, pool.workerpool)
    {
        return Some(format!(
            "the dataset order is {}",
            restricted("workerpool", dataset.workerpoolrestrict)
        ));
    }
    let tag = deal_tag(app.tag, dataset.map(|d| d.tag), request.tag);
    if !pool.tag.contains(tag) {
        return Some(format!(
            "the deal needs tag {:#x} and workerpool {} offers {:#x}",
            bits(tag),
            pool.workerpool,
            bits(pool.tag)
        ));
    }
    if tag.is_tee() != app.tag.is_tee() {
        return Some("the deal needs TEE and the app order does not say TEE".into());
    }
    None
}

fn price(candidates: &Candidates) -> U256 {
    candidates.app.order.appprice.get()
        + candidates
            .dataset
            .as_ref()
            .map_or(U256::ZERO, |d| d.order.datasetprice.get())
        + candidates.workerpool.order.workerpoolprice.get()
}

/// The cheapest compatible triple among these orders (each list cheapest first), or an error
/// that says which order is missing and why.
pub(crate) fn choose(
    request: &Request,
    requester: Address,
    apps: &[Signed<AppOrder>],
    datasets: &[Signed<DatasetOrder>],
    pools: &[Signed<WorkerpoolOrder>],
) -> Result<Candidates> {
    let explain = |kind: &str, total: usize, why: Vec<String>| -> String {
        let mut text = format!("{total} {kind} order(s) in the market, none compatible:");
        for (i, reason) in why.iter().take(5).enumerate() {
            text.push_str(&format!("\n  {}. {reason}", i + 1));
        }
        if why.len() > 5 {
            text.push_str(&format!("\n  … and {} more", why.len() - 5));
        }
        text
    };
    let fit_apps: Vec<_> = apps
        .iter()
        .filter(|o| app_misfit(&o.order, request, requester).is_none())
        .collect();
    if fit_apps.is_empty() {
        if apps.is_empty() {
            bail!(
                "no app order for app {} in the market: its owner publishes one (agora order create app …, then agora order publish)",
                request.app
            );
        }
        let why = apps
            .iter()
            .filter_map(|o| app_misfit(&o.order, request, requester))
            .collect();
        bail!(
            "no usable app order for app {}: {}",
            request.app,
            explain("app", apps.len(), why)
        );
    }
    let fit_datasets: Vec<Option<&Signed<DatasetOrder>>> = match request.dataset {
        None => vec![None],
        Some(dataset) => {
            let fit: Vec<_> = datasets
                .iter()
                .filter(|o| dataset_misfit(&o.order, request, requester).is_none())
                .map(Some)
                .collect();
            if fit.is_empty() {
                if datasets.is_empty() {
                    bail!(
                        "no dataset order for dataset {dataset} in the market: its owner publishes one"
                    );
                }
                let why = datasets
                    .iter()
                    .filter_map(|o| dataset_misfit(&o.order, request, requester))
                    .collect();
                bail!(
                    "no usable dataset order for dataset {dataset}: {}",
                    explain("dataset", datasets.len(), why)
                );
            }
            fit
        }
    };
    let fit_pools: Vec<_> = pools
        .iter()
        .filter(|o| workerpool_misfit(&o.order, request, requester).is_none())
        .collect();
    if fit_pools.is_empty() {
        let wanted = match request.workerpool {
            Some(pool) => format!("workerpool {pool}"),
            None => "any workerpool".into(),
        };
        if pools.is_empty() {
            bail!(
                "no workerpool order for {wanted} in category {} in the market: no workerpool sells computing there now",
                request.category
            );
        }
        let why = pools
            .iter()
            .filter_map(|o| {
                workerpool_misfit(&o.order, request, requester)
                    .map(|why| format!("workerpool {}: {why}", o.order.workerpool))
            })
            .collect();
        bail!(
            "no usable workerpool order for {wanted} at trust {} in category {}: {}",
            request.trust,
            request.category,
            explain("workerpool", pools.len(), why)
        );
    }
    let mut best: Option<Candidates> = None;
    let mut why = Vec::new();
    for app in fit_apps.iter().take(CONSIDERED) {
        for dataset in fit_datasets.iter().take(CONSIDERED) {
            for pool in fit_pools.iter().take(CONSIDERED) {
                match pair_misfit(&app.order, dataset.map(|d| &d.order), &pool.order, request) {
                    Some(reason) => why.push(reason),
                    None => {
                        let candidates = Candidates {
                            app: (*app).clone(),
                            dataset: dataset.cloned(),
                            workerpool: (*pool).clone(),
                        };
                        if best.as_ref().is_none_or(|b| price(&candidates) < price(b)) {
                            best = Some(candidates);
                        }
                    }
                }
            }
        }
    }
    match best {
        Some(best) => Ok(best),
        None => {
            why.dedup();
            bail!(
                "the app, dataset and workerpool orders found do not go together: {}",
                explain("combination of", why.len(), why)
            )
        }
    }
}

/// Reads the open orders that can serve `request` from the market at `url` and chooses.
pub(crate) async fn candidates(
    url: &str,
    requester: Address,
    request: &Request,
) -> Result<Candidates> {
    let client = agora_market::Client::new(url);
    let page = |kind| {
        let mut query = OrderQuery::new(kind);
        query.limit = CONSIDERED as u32;
        query
    };
    let mut query = page(OrderKind::App);
    query.app = Some(request.app);
    let apps = orders(&client, &query, |o| match o {
        SignedOrder::App(o) => Some(o),
        _ => None,
    })
    .await?;
    let datasets = match request.dataset {
        None => Vec::new(),
        Some(dataset) => {
            let mut query = page(OrderKind::Dataset);
            query.dataset = Some(dataset);
            orders(&client, &query, |o| match o {
                SignedOrder::Dataset(o) => Some(o),
                _ => None,
            })
            .await?
        }
    };
    let mut query = page(OrderKind::Workerpool);
    query.workerpool = request.workerpool;
    query.category = Some(request.category);
    let pools = orders(&client, &query, |o| match o {
        SignedOrder::Workerpool(o) => Some(o),
        _ => None,
    })
    .await?;
    choose(request, requester, &apps, &datasets, &pools)
}

async fn orders<O>(
    client: &agora_market::Client,
    query: &OrderQuery,
    pick: impl Fn(SignedOrder) -> Option<Signed<O>>,
) -> Result<Vec<Signed<O>>> {
    let page = client.list(query).await.with_context(|| {
        format!(
            "cannot list the {} orders of the market",
            query.kind.as_str()
        )
    })?;
    Ok(page
        .orders
        .into_iter()
        .filter_map(|o| pick(o.order))
        .collect())
}

#[cfg(test)]
mod tests {
    use alloy::primitives::B256;

    use super::*;

    fn request() -> Request {
        Request {
            app: Address::repeat_byte(0xa),
            dataset: None,
            workerpool: None,
            args: None,
            input_files: Vec::new(),
            trust: 1,
            category: 0,
            tag: Tag::default(),
            callback: Address::ZERO,
            beneficiary: None,
            volume: 1,
        }
    }

    fn signed<O>(order: O) -> Signed<O> {
        Signed {
            order,
            sign: Default::default(),
        }
    }

    fn app(price: u64) -> Signed<AppOrder> {
        signed(AppOrder {
            app: Address::repeat_byte(0xa),
            appprice: agora_primitives::Nrlc::new(U256::from(price)),
            volume: U256::from(10),
            salt: B256::from(rand08::random::<[u8; 32]>()),
            ..AppOrder::default()
        })
    }

    fn pool(byte: u8, price: u64, trust: u64) -> Signed<WorkerpoolOrder> {
        signed(WorkerpoolOrder {
            workerpool: Address::repeat_byte(byte),
            workerpoolprice: agora_primitives::Nrlc::new(U256::from(price)),
            volume: U256::from(10),
            trust: U256::from(trust),
            salt: B256::from(rand08::random::<[u8; 32]>()),
            ..WorkerpoolOrder::default()
        })
    }

    const REQUESTER: Address = Address::repeat_byte(0x77);

    #[test]
    fn the_cheapest_compatible_triple_is_chosen() {
        let apps = [app(5), app(3)];
        let pools = [pool(1, 10, 1), pool(2, 4, 0), pool(3, 6, 5)];
        let chosen = choose(&request(), REQUESTER, &apps, &[], &pools).unwrap();
        assert_eq!(chosen.app.order.appprice.get(), U256::from(3));
        // Pool 2 is cheaper but offers trust 0.
        assert_eq!(chosen.workerpool.order.workerpool, Address::repeat_byte(3));
    }

    #[test]
    fn a_missing_order_is_named_with_the_reason() {
        let error = choose(&request(), REQUESTER, &[], &[], &[pool(1, 1, 1)]).unwrap_err();
        assert!(
            error.to_string().contains("no app order for app"),
            "{error}"
        );
        let error = choose(&request(), REQUESTER, &[app(1)], &[], &[pool(1, 1, 0)]).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("no usable workerpool order"), "{text}");
        assert!(text.contains("offers trust up to 0, not 1"), "{text}");
        let mut restricted = app(1);
        restricted.order.workerpoolrestrict = Address::repeat_byte(9);
        let error =
            choose(&request(), REQUESTER, &[restricted], &[], &[pool(1, 1, 1)]).unwrap_err();
        assert!(
            error.to_string().contains("restricted to workerpool"),
            "{error}"
        );
    }

    #[test]
    fn a_tee_request_needs_a_tee_app_order_and_pool() {
        let mut tee = request();
        tee.tag = Tag::TEE;
        let error = choose(&tee, REQUESTER, &[app(1)], &[], &[pool(1, 1, 1)]).unwrap_err();
        assert!(error.to_string().contains("offers"), "{error}");
        let mut tee_pool = pool(1, 1, 1);
        tee_pool.order.tag = Tag::TEE;
        let error = choose(&tee, REQUESTER, &[app(1)], &[], &[tee_pool.clone()]).unwrap_err();
        assert!(error.to_string().contains("needs TEE"), "{error}");
        let mut tee_app = app(1);
        tee_app.order.tag = Tag::TEE;
        assert!(choose(&tee, REQUESTER, &[tee_app], &[], &[tee_pool]).is_ok());
    }
}
