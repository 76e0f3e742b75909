//! The first start: the accounts funded, the stakes deposited, the app and the workerpool
//! created, their orders signed. Kept in `dev.json` so that a restart finds them.

use std::path::Path;

use agora_chain::DevAccount;
use agora_contracts::{AppRegistry, Deployment, RLC, WorkerpoolRegistry};
use agora_primitives::{AppOrder, Domain, Nrlc, Order, Signed, Tag, WorkerpoolOrder};
use alloy::{
    contract::{CallBuilder, CallDecoder},
    network::{Ethereum, EthereumWallet},
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Config, Error, setup_error};

/// What the network set up once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Setup {
    pub app: Address,
    pub workerpool: Address,
    pub app_order: Signed<AppOrder>,
    pub workerpool_order: Signed<WorkerpoolOrder>,
}

pub(crate) fn read(path: &Path) -> Result<Option<Setup>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::BadSetup {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            what: "cannot read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

pub(crate) fn write(path: &Path, setup: &Setup) -> Result<(), Error> {
    let json = serde_json::to_vec_pretty(setup).map_err(|e| setup_error("the setup", e))?;
    std::fs::write(path, json).map_err(|source| Error::Io {
        what: "cannot write",
        path: path.to_path_buf(),
        source,
    })
}

/// A provider sending as `signer`.
fn provider(rpc_url: &str, signer: PrivateKeySigner) -> Result<DynProvider, Error> {
    let url = rpc_url
        .parse()
        .map_err(|e| setup_error(&format!("the chain's URL {rpc_url}"), e))?;
    Ok(ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url)
        .erased())
}

/// Sends `call` with its gas estimate and a margin (an estimate is exact only for the state it
/// ran on) and waits for it to be mined without reverting.
async fn send<D: CallDecoder>(
    what: &str,
    call: CallBuilder<&DynProvider, D, Ethereum>,
) -> Result<(), Error> {
    let estimate = call
        .estimate_gas()
        .await
        .map_err(|e| setup_error(&format!("{what} would be refused"), e))?;
    let receipt = call
        .gas(estimate.saturating_add((estimate / 4).max(30_000)))
        .send()
        .await
        .map_err(|e| setup_error(what, e))?
        .get_receipt()
        .await
        .map_err(|e| setup_error(&format!("{what}: no receipt"), e))?;
    if !receipt.status() {
        return Err(setup_error(
            what,
            format!("reverted (transaction {})", receipt.transaction_hash),
        ));
    }
    Ok(())
}

/// Funds the accounts, deposits, creates the app and the workerpool, and signs their orders.
pub(crate) async fn run(
    config: &Config,
    rpc_url: &str,
    deployment: &Deployment,
    accounts: &[DevAccount],
) -> Result<Setup, Error> {
    let roles = &config.roles;
    let account = |index: usize| {
        accounts.get(index).ok_or_else(|| {
            setup_error(
                "the roles",
                format!(
                    "account {index} is not among the chain's {}",
                    accounts.len()
                ),
            )
        })
    };
    let unit = U256::from(1_000_000_000u64);
    let admin = provider(rpc_url, account(roles.admin)?.signer())?;
    let chain_id = admin
        .get_chain_id()
        .await
        .map_err(|e| setup_error("reading the chain id", e))?;
    let domain = Domain::new(chain_id, deployment.hub);
    let token = RLC::new(deployment.token, admin.clone());
    let given = U256::from(config.funding.given_rlc) * unit;
    for (index, to) in accounts.iter().enumerate() {
        if index == roles.admin {
            continue;
        }
        send(
            &format!("giving {} RLC to account {index}", config.funding.given_rlc),
            token.transfer(to.address, given),
        )
        .await?;
    }
    let depositors = match &config.funding.depositors {
        Some(list) => list.clone(),
        None => std::iter::once(roles.scheduler)
            .chain(roles.workers.iter().copied())
            .collect(),
    };
    let deposit = U256::from(config.funding.deposited_rlc) * unit;
    for index in depositors {
        // One provider per sender: each keeps its own count of nonces.
        let depositor = if index == roles.admin {
            admin.clone()
        } else {
            provider(rpc_url, account(index)?.signer())?
        };
        let token = RLC::new(deployment.token, depositor);
        send(
            &format!(
                "depositing {} RLC for account {index}",
                config.funding.deposited_rlc
            ),
            token.approveAndCall(deployment.hub, deposit, Bytes::new()),
        )
        .await?;
    }

    let apps_dir = config.work_dir.join("apps");
    std::fs::create_dir_all(&apps_dir).map_err(|source| Error::Io {
        what: "cannot create",
        path: apps_dir.clone(),
        source,
    })?;
    let module = apps_dir.join(format!("{}.wasm", config.app.name));
    std::fs::write(&module, &config.app.wasm).map_err(|source| Error::Io {
        what: "cannot write",
        path: module.clone(),
        source,
    })?;
    let module = module.canonicalize().map_err(|source| Error::Io {
        what: "cannot find",
        path: module.clone(),
        source,
    })?;
    let checksum = B256::from(<[u8; 32]>::from(Sha256::digest(&config.app.wasm)));
    let developer = account(roles.app_developer)?;
    let apps = AppRegistry::new(deployment.app_registry, admin.clone());
    let create = apps.createApp(
        developer.address,
        config.app.name.clone(),
        "WASM".into(),
        Bytes::from(format!("file://{}", module.display()).into_bytes()),
        checksum,
        Bytes::new(),
    );
    let app = create
        .call()
        .await
        .map_err(|e| setup_error("predicting the app's address", e))?;
    send(&format!("creating the app {}", config.app.name), create).await?;
    let owner = account(roles.scheduler)?;
    let pools = WorkerpoolRegistry::new(deployment.workerpool_registry, admin.clone());
    let create = pools.createWorkerpool(owner.address, "Agora dev workerpool".into());
    let workerpool = create
        .call()
        .await
        .map_err(|e| setup_error("predicting the workerpool's address", e))?;
    send("creating the workerpool", create).await?;
    // Salts from the app's address and the work directory: another network, other orders.
    let salt = |what: &str| {
        keccak256(
            [
                app.as_slice(),
                config.work_dir.as_os_str().as_encoded_bytes(),
                what.as_bytes(),
            ]
            .concat(),
        )
    };
    const ORDER_VOLUME: u64 = 1_000_000;
    let app_order = AppOrder {
        app,
        appprice: Nrlc::new(U256::from(config.app_price_nrlc)),
        volume: U256::from(ORDER_VOLUME),
        tag: Tag::default(),
        salt: salt("app order"),
        ..AppOrder::default()
    }
    .sign(&domain, &developer.signer())
    .map_err(|e| setup_error("signing the app order", e))?;
    let workerpool_order = WorkerpoolOrder {
        workerpool,
        workerpoolprice: Nrlc::new(U256::from(config.workerpool_price_nrlc)),
        volume: U256::from(ORDER_VOLUME),
        tag: Tag::default(),
        category: U256::ZERO,
        trust: U256::from(config.workerpool_trust),
        salt: salt("workerpool order"),
        ..WorkerpoolOrder::default()
    }
    .sign(&domain, &owner.signer())
    .map_err(|e| setup_error("signing the workerpool order", e))?;
    Ok(Setup {
        app,
        workerpool,
        app_order,
        workerpool_order,
    })
}
