//! Agora's embedded chain: a single-node EVM chain on revm with a standard Ethereum JSON-RPC
//! server over HTTP and WebSocket on one port.
//!
//! It is the default ledger of an Agora network: it runs out of the box on one machine, and
//! every Ethereum tool can talk to it. Services never depend on this crate; they take an RPC URL
//! and work against any EVM node.
//!
//! ```no_run
//! # async fn demo() -> Result<(), agora_chain::Error> {
//! let handle = agora_chain::spawn(agora_chain::Config::test()).await?;
//! println!("JSON-RPC at {}", handle.http_url());
//! handle.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Durability: with a data directory, every block is appended to a checksummed log and
//! fsync'd before any client hears of it (several blocks share one fsync under load). A
//! restart replays the log; a torn record at its end, left by a crash, is cut off.

mod accounts;
mod chain;
mod config;
mod error;
mod genesis;
mod node;
mod rpc;
mod server;
mod state;
mod store;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use alloy_primitives::{Address, U256};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use accounts::{DevAccount, derive as derive_dev_accounts};
pub use config::{
    Config, Cors, DEFAULT_BLOCK_GAS_LIMIT, DEFAULT_CHAIN_ID, DEV_MNEMONIC, GenesisContract,
    History, Mining, Storage, parse_hardfork,
};
pub use error::{Error, Result, TxError};
pub use genesis::{DEPLOYMENT_FILE, Deployment, DeploymentFile};
pub use revm::primitives::hardfork::SpecId;

use crate::{
    chain::{Chain, Params},
    node::Node,
    rpc::Rpc,
    server::ServerState,
    store::BlockLog,
};

/// A running chain. Dropping it stops the node.
#[derive(Debug)]
pub struct Handle {
    addr: SocketAddr,
    node: Arc<Node>,
    server: Option<JoinHandle<()>>,
    stop_server: Option<oneshot::Sender<()>>,
    miner: Option<std::thread::JoinHandle<()>>,
    deployment: DeploymentFile,
    restored: bool,
}

impl Handle {
    /// The address the JSON-RPC server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://host:port`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.node.chain.read().params.chain_id
    }

    /// The funded dev accounts, whose keys the node holds.
    pub fn dev_accounts(&self) -> &[DevAccount] {
        &self.node.dev_accounts
    }

    /// Where genesis deployed the configured contracts.
    pub fn deployment(&self) -> &DeploymentFile {
        &self.deployment
    }

    /// The number of the latest block.
    pub fn block_number(&self) -> u64 {
        self.node.chain.read().head_number()
    }

    /// The balance of an account at the head.
    pub fn balance(&self, address: Address) -> U256 {
        self.node.chain.read().state.balance(&address)
    }

    /// Whether the chain was read back from an existing data directory.
    pub fn restored(&self) -> bool {
        self.restored
    }

    /// Stops the server and the miner, and waits for both.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    async fn stop(&mut self) {
        if let Some(stop) = self.stop_server.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        }
        self.node.stop();
        if let Some(miner) = self.miner.take() {
            let _ = tokio::task::spawn_blocking(move || miner.join()).await;
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop_server.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        self.node.stop();
    }
}

/// Opens the chain described by `config`: replays its data directory, or creates genesis.
/// A chain as opened: its log (with a data directory), its genesis record, and whether it was
/// read back.
type Opened = (Chain, Option<BlockLog>, DeploymentFile, bool);

fn open_chain(config: &Config, accounts: &[DevAccount]) -> Result<Opened> {
    let params = Params {
        chain_id: config.chain_id,
        spec: config.hardfork,
        base_fee: config.base_fee,
        block_gas_limit: config.block_gas_limit,
    };
    let alloc: Vec<(Address, U256)> = accounts
        .iter()
        .map(|a| (a.address, config.balance))
        .collect();
    let deploy = |chain: &mut Chain, log: Option<&mut BlockLog>| -> Result<DeploymentFile> {
        if config.genesis.is_empty() {
            return Ok(DeploymentFile {
                chain_id: config.chain_id,
                deployer: accounts.first().map(|a| a.address).unwrap_or_default(),
                contracts: Vec::new(),
            });
        }
        let deployer = accounts.first().ok_or(Error::NoDeployer)?;
        genesis::deploy(chain, log, deployer, &config.genesis)
    };
    match config.data_dir() {
        None => {
            let mut chain = Chain::create(params, &alloc, None)?;
            chain.keep_history(config.history.limit());
            let deployment = deploy(&mut chain, None)?;
            Ok((chain, None, deployment, false))
        }
        Some(dir) => {
            let (log, records) = BlockLog::open(dir)?;
            if records.is_empty() {
                let mut log = log;
                let mut chain = Chain::create(params, &alloc, Some(&mut log))?;
                chain.keep_history(config.history.limit());
                let deployment = deploy(&mut chain, Some(&mut log))?;
                genesis::write(dir, &deployment)?;
                return Ok((chain, Some(log), deployment, false));
            }
            let chain = Chain::replay(records, &dir.join(store::LOG_FILE), config.history.limit())?;
            if chain.params.chain_id != config.chain_id {
                return Err(Error::ChainIdMismatch {
                    dir: dir.to_path_buf(),
                    found: chain.params.chain_id,
                    wanted: config.chain_id,
                });
            }
            let deployment = match genesis::read(dir)? {
                Some(file) => file,
                None => {
                    // Genesis was cut short after its blocks were durable: rebuild the record.
                    let file = genesis::reconstruct(&chain, &config.genesis, accounts);
                    genesis::write(dir, &file)?;
                    file
                }
            };
            Ok((chain, Some(log), deployment, true))
        }
    }
}

/// Opens the chain and serves JSON-RPC on `config.host:config.port` (port 0 picks one).
pub async fn spawn(config: Config) -> Result<Handle> {
    let accounts = {
        let (mnemonic, count) = (config.mnemonic.clone(), config.accounts);
        tokio::task::spawn_blocking(move || accounts::derive(&mnemonic, count))
            .await
            .map_err(|_| Error::ShutDown)??
    };
    let (chain, log, deployment, restored) = {
        let config = config.clone();
        let accounts = accounts.clone();
        tokio::task::spawn_blocking(move || open_chain(&config, &accounts))
            .await
            .map_err(|_| Error::ShutDown)??
    };
    let node = Arc::new(Node::new(chain, log, config.mining, accounts));
    let miner = {
        let node = node.clone();
        std::thread::Builder::new()
            .name("agora-chain-miner".into())
            .spawn(move || node.run_miner())
            .map_err(|source| Error::Io {
                path: "miner thread".into(),
                source,
            })?
    };
    let addr = format!("{}:{}", config.host, config.port);
    let listener = match TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(source) => {
            node.stop();
            return Err(Error::Bind { addr, source });
        }
    };
    let local = listener.local_addr().map_err(|source| Error::Bind {
        addr: addr.clone(),
        source,
    })?;
    let rpc = Arc::new(Rpc::new(node.clone(), config.max_batch_size));
    let app = server::router(
        ServerState {
            rpc,
            max_request_size: config.max_request_size,
        },
        &config.cors,
    );
    let (stop_server, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        if let Err(error) = serve.await {
            tracing::error!(target: "agora::chain", %error, "JSON-RPC server stopped");
        }
    });
    if !config.quiet {
        tracing::info!(target: "agora::chain", addr = %local, "JSON-RPC listening");
    }
    Ok(Handle {
        addr: local,
        node,
        server: Some(server),
        stop_server: Some(stop_server),
        miner: Some(miner),
        deployment,
        restored,
    })
}
