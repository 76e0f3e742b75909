//! Node configuration.

use std::{path::PathBuf, time::Duration};

use alloy_primitives::{Bytes, U256};
use revm::primitives::hardfork::SpecId;
use serde::{Deserialize, Serialize};

/// The mnemonic that anvil, hardhat and foundry use for their dev accounts.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// Default chain id: the one local Ethereum tools treat as a dev chain.
pub const DEFAULT_CHAIN_ID: u64 = 31337;

/// Default block gas limit (30 M, as anvil and mainnet before 2025).
pub const DEFAULT_BLOCK_GAS_LIMIT: u64 = 30_000_000;

/// How blocks are produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mining {
    /// One block per transaction, mined as soon as the transaction arrives.
    Auto,
    /// One block every interval, holding every transaction that arrived meanwhile.
    Interval(Duration),
}

/// Where the chain keeps its blocks and state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Storage {
    /// Everything lives in memory and is gone when the process ends.
    Ephemeral,
    /// Blocks are appended to a log in this directory and fsync'd before they are reported.
    DataDir(PathBuf),
}

/// How many past states the node keeps, to answer reads and calls at an earlier block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum History {
    /// The states of the last N blocks before the head (0: the head only).
    Blocks(u64),
    /// Every state since genesis.
    Archive,
}

impl History {
    /// The default window: 256 blocks, enough for a wallet's block tracker and the balance
    /// matchers of test frameworks on an automining chain (one block per transaction).
    pub const DEFAULT: Self = Self::Blocks(256);

    /// How many blocks' undos to keep (`None`: all).
    pub(crate) fn limit(self) -> Option<usize> {
        match self {
            Self::Blocks(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            Self::Archive => None,
        }
    }
}

/// Which web pages may call the JSON-RPC endpoint over HTTP (CORS): a browser sends a
/// preflight `OPTIONS` and reads the answer only if `Access-Control-Allow-Origin` allows its
/// page's origin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cors {
    /// Any page (`Access-Control-Allow-Origin: *`), as anvil and Hardhat's node answer: the
    /// default of a dev node.
    Any,
    /// Only pages of these origins (`http://localhost:5173`, ...).
    Origins(Vec<String>),
    /// No CORS headers: browsers refuse every cross-origin call.
    Off,
}

impl Cors {
    /// Reads `--cors` as typed: `*`, or a comma-separated list of origins
    /// (`scheme://host[:port]`, no path).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(Self::Any);
        }
        let mut origins = Vec::new();
        for origin in text.split(',').map(str::trim) {
            let valid = origin.split_once("://").is_some_and(|(scheme, rest)| {
                matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains('/')
            });
            if !valid {
                return Err(format!(
                    "CORS origin {origin:?} is not scheme://host[:port] (http or https, no path); use * for any"
                ));
            }
            origins.push(origin.to_string());
        }
        Ok(Self::Origins(origins))
    }
}

/// A contract that genesis deploys, in order, from the first dev account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisContract {
    /// Name under which the address is recorded in `deployment.json`.
    pub name: String,
    /// Creation bytecode.
    pub bytecode: Bytes,
    /// ABI-encoded constructor arguments, appended to the bytecode.
    #[serde(default)]
    pub constructor_args: Bytes,
}

/// Configuration of the embedded chain.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on (`127.0.0.1` by default).
    pub host: String,
    /// TCP port of the JSON-RPC server (HTTP and WebSocket); 0 picks a free one.
    pub port: u16,
    /// Persistence.
    pub storage: Storage,
    /// Block production.
    pub mining: Mining,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Number of funded dev accounts derived from the mnemonic.
    pub accounts: u32,
    /// Mnemonic for the dev accounts.
    pub mnemonic: String,
    /// Balance of each dev account at genesis, in wei.
    pub balance: U256,
    /// Base fee per gas, in wei. Zero by default: the protocol's zero-gas sidechain.
    pub base_fee: u64,
    /// Block gas limit.
    pub block_gas_limit: u64,
    /// EVM hardfork.
    pub hardfork: SpecId,
    /// Contracts deployed by genesis.
    pub genesis: Vec<GenesisContract>,
    /// Largest JSON-RPC request body accepted, in bytes.
    pub max_request_size: usize,
    /// Largest number of calls in one batch.
    pub max_batch_size: usize,
    /// Which web pages may call the HTTP endpoint.
    pub cors: Cors,
    /// Past states kept for reads at an earlier block.
    pub history: History,
    /// Print nothing but warnings.
    pub quiet: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8545,
            storage: Storage::Ephemeral,
            mining: Mining::Auto,
            chain_id: DEFAULT_CHAIN_ID,
            accounts: 10,
            mnemonic: DEV_MNEMONIC.into(),
            balance: U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64)),
            base_fee: 0,
            block_gas_limit: DEFAULT_BLOCK_GAS_LIMIT,
            hardfork: SpecId::PRAGUE,
            genesis: Vec::new(),
            max_request_size: 16 * 1024 * 1024,
            max_batch_size: 1000,
            cors: Cors::Any,
            history: History::DEFAULT,
            quiet: false,
        }
    }
}

impl Config {
    /// A configuration for tests: port 0, in memory, quiet.
    pub fn test() -> Self {
        Self {
            port: 0,
            quiet: true,
            ..Self::default()
        }
    }

    /// Keeps the chain in `dir`.
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.storage = Storage::DataDir(dir.into());
        self
    }

    /// Mines a block every `interval` instead of one per transaction.
    pub fn with_block_time(mut self, interval: Duration) -> Self {
        self.mining = Mining::Interval(interval);
        self
    }

    /// The data directory, if the chain is durable.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        match &self.storage {
            Storage::DataDir(dir) => Some(dir),
            Storage::Ephemeral => None,
        }
    }
}

/// Parses a hardfork name as given on the command line (`prague`, `cancun`, ...).
pub fn parse_hardfork(name: &str) -> Option<SpecId> {
    let spec = match name.to_ascii_lowercase().as_str() {
        "shanghai" => SpecId::SHANGHAI,
        "cancun" => SpecId::CANCUN,
        "prague" => SpecId::PRAGUE,
        "osaka" => SpecId::OSAKA,
        "london" => SpecId::LONDON,
        "berlin" => SpecId::BERLIN,
        "paris" | "merge" => SpecId::MERGE,
        _ => return None,
    };
    Some(spec)
}
