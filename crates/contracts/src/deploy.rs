//! Deploying the protocol on any Ethereum chain.

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, Bytes},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::SolValue,
};

use crate::{
    AppRegistry, DatasetRegistry, Deployment, Error, Hub, HubMarket, HubViews, RLC, Result,
    WorkerpoolRegistry, names,
};

/// Deploys the protocol through `provider`, sent by `deployer` (an account the provider signs
/// for; it becomes the hub's owner), one contract per transaction, each waited for: the token
/// unless `token` names an existing ERC-20 to use instead, the three registries, the hub's two
/// modules and the hub. Returns where they are.
///
/// This is what the embedded chain does at genesis ([`genesis`](crate::genesis)), for a chain
/// that is not ours: the same bytecode, nothing chain-specific.
pub async fn deploy<P: Provider>(
    provider: &P,
    deployer: Address,
    token: Option<Address>,
) -> Result<Deployment> {
    let create = async |name: &'static str, bytecode: &Bytes, args: Vec<u8>| {
        let mut code = bytecode.to_vec();
        code.extend(args);
        let request = TransactionRequest::default()
            .from(deployer)
            .with_deploy_code(code);
        let receipt = provider
            .send_transaction(request)
            .await
            .map_err(|source| Error::Deploy { name, source })?
            .get_receipt()
            .await
            .map_err(|source| Error::DeployReceipt { name, source })?;
        match receipt.contract_address {
            Some(address) if receipt.status() => Ok(address),
            _ => Err(Error::DeployReverted {
                name,
                transaction: receipt.transaction_hash,
            }),
        }
    };
    let no_previous = Address::ZERO.abi_encode();
    let token = match token {
        Some(token) => token,
        None => create(names::TOKEN, &RLC::BYTECODE, Vec::new()).await?,
    };
    let app_registry = create(
        names::APP_REGISTRY,
        &AppRegistry::BYTECODE,
        no_previous.clone(),
    )
    .await?;
    let dataset_registry = create(
        names::DATASET_REGISTRY,
        &DatasetRegistry::BYTECODE,
        no_previous.clone(),
    )
    .await?;
    let workerpool_registry = create(
        names::WORKERPOOL_REGISTRY,
        &WorkerpoolRegistry::BYTECODE,
        no_previous,
    )
    .await?;
    let hub_market = create(
        names::HUB_MARKET,
        &HubMarket::BYTECODE,
        (app_registry, dataset_registry, workerpool_registry).abi_encode_params(),
    )
    .await?;
    let hub_views = create(names::HUB_VIEWS, &HubViews::BYTECODE, Vec::new()).await?;
    let hub = create(
        names::HUB,
        &Hub::BYTECODE,
        (token, hub_market, hub_views).abi_encode_params(),
    )
    .await?;
    Ok(Deployment {
        token,
        app_registry,
        dataset_registry,
        workerpool_registry,
        hub_market,
        hub_views,
        hub,
    })
}
