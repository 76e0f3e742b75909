//! `agora app|dataset|workerpool deploy|show|list|transfer`: the three kinds of asset, each an
//! NFT of its registry (ERC-721; token id = the asset contract's address) whose holder owns
//! the asset.

use std::path::PathBuf;

use agora_contracts::{App, Dataset, Workerpool};
use alloy::primitives::{Address, B256, Bytes, U256};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{
    conn::Conn,
    pool::{ChainArgs, KeyArgs},
};

/// Which registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    App,
    Dataset,
    Workerpool,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Dataset => "dataset",
            Self::Workerpool => "workerpool",
        }
    }
}

/// `deploy`, `show`, `list`, `transfer`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Args {
    /// Create one, owned by the key's account (or --owner).
    Deploy(DeployArgs),
    /// Show one: its fields and its owner.
    Show(ShowArgs),
    /// List them (every one, or one owner's).
    List(ListArgs),
    /// Give one to another account (its NFT).
    Transfer(TransferArgs),
}

pub(crate) async fn run(kind: Kind, args: Args) -> Result<()> {
    match args {
        Args::Deploy(args) => deploy(kind, args).await,
        Args::Show(args) => show(kind, args).await,
        Args::List(args) => list(kind, args).await,
        Args::Transfer(args) => transfer(kind, args).await,
    }
}

/// Options of `deploy`.
#[derive(Debug, clap::Args)]
pub(crate) struct DeployArgs {
    /// Its name (a workerpool's: its description).
    #[arg(long)]
    name: String,
    /// Where workers fetch it (app, dataset): file://, http:// or https://. Default with
    /// --file: that file's file:// URL (for workers on this machine started with
    /// --allow-file-urls, as `agora dev`'s are).
    #[arg(long)]
    url: Option<String>,
    /// The file itself (app, dataset), to compute its sha256 checksum.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Its sha256 checksum (app, dataset), when the file is not at hand.
    #[arg(long)]
    checksum: Option<B256>,
    /// The app's type.
    #[arg(long, default_value = "WASM")]
    app_type: String,
    /// Who will own it (default: the key's account).
    #[arg(long)]
    owner: Option<Address>,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Options of `show`.
#[derive(Debug, clap::Args)]
pub(crate) struct ShowArgs {
    /// The asset's address.
    address: Address,
    #[command(flatten)]
    chain: ChainArgs,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Options of `list`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// Only this owner's (default: every one).
    #[arg(long)]
    owner: Option<Address>,
    #[command(flatten)]
    chain: ChainArgs,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Options of `transfer`.
#[derive(Debug, clap::Args)]
pub(crate) struct TransferArgs {
    /// The asset's address.
    address: Address,
    /// The new owner.
    to: Address,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// An asset as shown.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Asset {
    kind: &'static str,
    address: Address,
    owner: Address,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum: Option<B256>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    worker_stake_ratio: Option<U256>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduler_reward_ratio: Option<U256>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction: Option<B256>,
}

fn registry_of(conn: &Conn, kind: Kind) -> Address {
    match kind {
        Kind::App => conn.app_registry,
        Kind::Dataset => conn.dataset_registry,
        Kind::Workerpool => conn.workerpool_registry,
    }
}

/// The asset at `address`, read from its contract; an error if it is not registered as a
/// `kind`.
pub(crate) async fn read(conn: &Conn, kind: Kind, address: Address) -> Result<Asset> {
    let registered = match kind {
        Kind::App => conn.apps().isRegistered(address).call().await,
        Kind::Dataset => conn.datasets().isRegistered(address).call().await,
        Kind::Workerpool => conn.workerpools().isRegistered(address).call().await,
    }
    .with_context(|| format!("cannot ask the {} registry", kind.name()))?;
    if !registered {
        bail!("{address} is not a registered {}", kind.name());
    }
    let p = conn.provider.clone();
    let text = |b: Bytes| String::from_utf8_lossy(&b).into_owned();
    let mut asset = Asset {
        kind: kind.name(),
        address,
        owner: Address::ZERO,
        name: String::new(),
        url: None,
        checksum: None,
        app_type: None,
        worker_stake_ratio: None,
        scheduler_reward_ratio: None,
        transaction: None,
    };
    let fail = || format!("cannot read {} {address}", kind.name());
    match kind {
        Kind::App => {
            let app = App::new(address, p);
            asset.owner = app.owner().call().await.with_context(fail)?;
            asset.name = app.m_appName().call().await.with_context(fail)?;
            asset.app_type = Some(app.m_appType().call().await.with_context(fail)?);
            asset.url = Some(text(app.m_appMultiaddr().call().await.with_context(fail)?));
            asset.checksum = Some(app.m_appChecksum().call().await.with_context(fail)?);
        }
        Kind::Dataset => {
            let dataset = Dataset::new(address, p);
            asset.owner = dataset.owner().call().await.with_context(fail)?;
            asset.name = dataset.m_datasetName().call().await.with_context(fail)?;
            asset.url = Some(text(
                dataset
                    .m_datasetMultiaddr()
                    .call()
                    .await
                    .with_context(fail)?,
            ));
            asset.checksum = Some(
                dataset
                    .m_datasetChecksum()
                    .call()
                    .await
                    .with_context(fail)?,
            );
        }
        Kind::Workerpool => {
            let pool = Workerpool::new(address, p);
            asset.owner = pool.owner().call().await.with_context(fail)?;
            asset.name = pool
                .m_workerpoolDescription()
                .call()
                .await
                .with_context(fail)?;
            asset.worker_stake_ratio = Some(
                pool.m_workerStakeRatioPolicy()
                    .call()
                    .await
                    .with_context(fail)?,
            );
            asset.scheduler_reward_ratio = Some(
                pool.m_schedulerRewardRatioPolicy()
                    .call()
                    .await
                    .with_context(fail)?,
            );
        }
    }
    Ok(asset)
}

#[allow(clippy::print_stdout, reason = "the result is the command's output")]
fn print(assets: &[Asset], json: bool, single: bool) {
    if json {
        let text = if single {
            serde_json::to_string(&assets[0])
        } else {
            serde_json::to_string(assets)
        };
        println!("{}", text.unwrap_or_default());
        return;
    }
    for a in assets {
        let mut line = format!("{} {} {:?} owner {}", a.kind, a.address, a.name, a.owner);
        if let Some(url) = &a.url {
            line.push_str(&format!(" url {url}"));
        }
        if let Some(checksum) = &a.checksum {
            line.push_str(&format!(" sha256 {checksum}"));
        }
        if let (Some(stake), Some(reward)) = (&a.worker_stake_ratio, &a.scheduler_reward_ratio) {
            line.push_str(&format!(
                " worker stake {stake}% scheduler reward {reward}%"
            ));
        }
        println!("{line}");
    }
}

pub(crate) async fn deploy(kind: Kind, args: DeployArgs) -> Result<()> {
    let conn = Conn::connect(&args.chain.rpc_url, args.chain.hub(), args.key.signer()?).await?;
    let owner = args.owner.unwrap_or(conn.address);
    let (url, checksum) = if kind == Kind::Workerpool {
        if args.url.is_some() || args.file.is_some() || args.checksum.is_some() {
            bail!(
                "a workerpool has a name (its description) and nothing else: no --url, --file or --checksum"
            );
        }
        (String::new(), B256::ZERO)
    } else {
        let (file_url, file_sum) = match &args.file {
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let absolute = path
                    .canonicalize()
                    .with_context(|| format!("{}", path.display()))?;
                (
                    Some(format!("file://{}", absolute.display())),
                    Some(B256::from(<[u8; 32]>::from(Sha256::digest(&bytes)))),
                )
            }
            None => (None, None),
        };
        if let (Some(given), Some(computed)) = (args.checksum, file_sum)
            && given != computed
        {
            bail!("--checksum {given} is not the sha256 of --file ({computed})");
        }
        let url = args.url.clone().or(file_url).with_context(|| {
            format!(
                "give the {}'s --url (or --file, for a file:// URL)",
                kind.name()
            )
        })?;
        if !(url.starts_with("file://")
            || url.starts_with("http://")
            || url.starts_with("https://"))
        {
            bail!("--url {url:?}: workers fetch file://, http:// and https:// URLs only");
        }
        let checksum = args.checksum.or(file_sum).with_context(|| {
            format!("give the {}'s --file or its sha256 --checksum", kind.name())
        })?;
        (url, checksum)
    };
    let multiaddr = Bytes::from(url.clone().into_bytes());
    let (address, receipt) = match kind {
        Kind::App => {
            let registry = conn.apps();
            let call = registry.createApp(
                owner,
                args.name.clone(),
                args.app_type.clone(),
                multiaddr,
                checksum,
                Bytes::new(),
            );
            let address = predicted(&conn, kind, call.call().await).await?;
            (address, conn.send("createApp", call).await?)
        }
        Kind::Dataset => {
            let registry = conn.datasets();
            let call = registry.createDataset(owner, args.name.clone(), multiaddr, checksum);
            let address = predicted(&conn, kind, call.call().await).await?;
            (address, conn.send("createDataset", call).await?)
        }
        Kind::Workerpool => {
            let registry = conn.workerpools();
            let call = registry.createWorkerpool(owner, args.name.clone());
            let address = predicted(&conn, kind, call.call().await).await?;
            (address, conn.send("createWorkerpool", call).await?)
        }
    };
    eprintln!("{} {address} deployed for {owner}", kind.name());
    let mut asset = read(&conn, kind, address).await?;
    asset.transaction = Some(receipt.transaction_hash);
    print(&[asset], args.json, true);
    Ok(())
}

/// The address a creation will have, or why it cannot be created.
async fn predicted(
    conn: &Conn,
    kind: Kind,
    call: std::result::Result<Address, alloy::contract::Error>,
) -> Result<Address> {
    match call {
        Ok(address) => Ok(address),
        Err(e) => {
            let reason = crate::conn::reason(&e);
            let _ = conn;
            bail!(
                "the {} cannot be created: {reason} (the same {} for the same owner exists already?)",
                kind.name(),
                kind.name()
            )
        }
    }
}

pub(crate) async fn show(kind: Kind, args: ShowArgs) -> Result<()> {
    let conn = Conn::reader(&args.chain).await?;
    print(&[read(&conn, kind, args.address).await?], args.json, true);
    Ok(())
}

pub(crate) async fn list(kind: Kind, args: ListArgs) -> Result<()> {
    let conn = Conn::reader(&args.chain).await?;
    let registry =
        agora_contracts::AppRegistry::new(registry_of(&conn, kind), conn.provider.clone());
    // The three registries share the ERC-721 Enumerable interface.
    let count = match args.owner {
        Some(owner) => registry.balanceOf(owner).call().await,
        None => registry.totalSupply().call().await,
    }
    .with_context(|| format!("cannot read the {} registry", kind.name()))?;
    let mut assets = Vec::new();
    let count = crate::conn::count(count, "the number of assets", 1_000_000)?;
    for i in 0..count {
        let index = U256::from(i);
        let token = match args.owner {
            Some(owner) => registry.tokenOfOwnerByIndex(owner, index).call().await,
            None => registry.tokenByIndex(index).call().await,
        }
        .with_context(|| format!("cannot read the {} registry", kind.name()))?;
        let address = Address::from_word(B256::from(token));
        assets.push(read(&conn, kind, address).await?);
    }
    if assets.is_empty() && !args.json {
        eprintln!("no {}", kind.name());
    }
    print(&assets, args.json, false);
    Ok(())
}

pub(crate) async fn transfer(kind: Kind, args: TransferArgs) -> Result<()> {
    let conn = Conn::connect(&args.chain.rpc_url, args.chain.hub(), args.key.signer()?).await?;
    let asset = read(&conn, kind, args.address).await?;
    if asset.owner != conn.address {
        bail!(
            "{} {} belongs to {}, not to {}: only its owner transfers it",
            kind.name(),
            args.address,
            asset.owner,
            conn.address
        );
    }
    if args.to == Address::ZERO {
        bail!(
            "transferring to the zero address would destroy the {}",
            kind.name()
        );
    }
    let registry =
        agora_contracts::AppRegistry::new(registry_of(&conn, kind), conn.provider.clone());
    let token = U256::from_be_slice(args.address.as_slice());
    let receipt = conn
        .send(
            &format!("transferring {} {}", kind.name(), args.address),
            registry.transferFrom(conn.address, args.to, token),
        )
        .await?;
    eprintln!(
        "{} {} now belongs to {}",
        kind.name(),
        args.address,
        args.to
    );
    let mut asset = read(&conn, kind, args.address).await?;
    asset.transaction = Some(receipt.transaction_hash);
    print(&[asset], args.json, true);
    Ok(())
}
