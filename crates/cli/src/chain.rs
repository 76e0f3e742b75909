//! `agora chain`: the embedded chain as a standalone node.

use std::{path::PathBuf, time::Duration};

use agora_chain::{Config, GenesisContract, Storage, parse_hardfork};
use alloy_primitives::{Bytes, utils::format_ether};
use anyhow::{Context, bail};

/// Options of `agora chain`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Port of the JSON-RPC server (HTTP and WebSocket).
    #[arg(long, short, default_value_t = 8545, env = "AGORA_CHAIN_PORT")]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "AGORA_CHAIN_HOST")]
    host: String,
    /// Directory that holds the chain; created if missing. Default: ~/.agora/chain.
    #[arg(long, env = "AGORA_CHAIN_DATA_DIR", conflicts_with = "ephemeral")]
    data_dir: Option<PathBuf>,
    /// Keep everything in memory; nothing survives the process.
    #[arg(long)]
    ephemeral: bool,
    /// Mine a block every N seconds instead of one block per transaction.
    #[arg(long, short = 'b', value_name = "SECONDS")]
    block_time: Option<f64>,
    /// Chain id.
    #[arg(long, default_value_t = agora_chain::DEFAULT_CHAIN_ID, env = "AGORA_CHAIN_ID")]
    chain_id: u64,
    /// Number of funded dev accounts.
    #[arg(long, short, default_value_t = 10)]
    accounts: u32,
    /// Base fee per gas, in wei (0: the zero-gas sidechain).
    #[arg(long, default_value_t = 0)]
    base_fee: u64,
    /// EVM hardfork: shanghai, cancun, prague or osaka.
    #[arg(long, default_value = "prague")]
    hardfork: String,
    /// Block gas limit.
    #[arg(long, default_value_t = agora_chain::DEFAULT_BLOCK_GAS_LIMIT)]
    gas_limit: u64,
    /// Deploy a contract at genesis: NAME=ARTIFACT.json, optionally followed by
    /// `:0x<constructor args>`. The artifact holds `bytecode` (a hex string, or an object with
    /// `object`, as solc, forge and hardhat write it). Repeat for several; they are deployed in
    /// order by the first dev account when the data directory is new, after the protocol.
    #[arg(long = "deploy", value_name = "NAME=ARTIFACT[:ARGS]")]
    deploy: Vec<String>,
    /// Print the chain's description (URLs, chain id, accounts, contracts) as one JSON object
    /// on stdout instead of the banner.
    #[arg(long)]
    json: bool,
    /// Web pages allowed to call the HTTP endpoint (CORS): `*` for any (the default, as anvil),
    /// or a comma-separated list of origins such as `http://localhost:5173`.
    #[arg(
        long,
        default_value = "*",
        value_name = "ORIGINS",
        env = "AGORA_CHAIN_CORS"
    )]
    cors: String,
    /// How many past blocks' states are kept for reads at an earlier block (eth_getBalance,
    /// eth_call, ... with a block number or hash).
    #[arg(
        long,
        default_value_t = 256,
        value_name = "BLOCKS",
        conflicts_with = "archive"
    )]
    history: u64,
    /// Keep the state of every block since genesis.
    #[arg(long)]
    archive: bool,
    /// No CORS headers: browsers refuse every call from a web page.
    #[arg(long, conflicts_with = "cors")]
    no_cors: bool,
    /// Start without the protocol's contracts (token, registries, hub): a plain dev chain,
    /// with only the `--deploy` contracts.
    #[arg(long)]
    bare: bool,
}

/// Reads one `--deploy` argument.
fn genesis_contract(spec: &str) -> anyhow::Result<GenesisContract> {
    let (name, rest) = spec
        .split_once('=')
        .with_context(|| format!("--deploy {spec:?}: expected NAME=ARTIFACT.json[:0xARGS]"))?;
    let (path, args) = match rest.rsplit_once(":0x") {
        Some((path, args)) => (path, format!("0x{args}")),
        None => (rest, String::from("0x")),
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--deploy {name}: cannot read {path}"))?;
    let artifact: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("--deploy {name}: {path} is not JSON"))?;
    let code = match &artifact["bytecode"] {
        serde_json::Value::String(code) => code.clone(),
        serde_json::Value::Object(o) => o
            .get("object")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    };
    let bytecode: Bytes = code
        .parse()
        .ok()
        .filter(|b: &Bytes| !b.is_empty())
        .with_context(|| format!("--deploy {name}: {path} has no hex \"bytecode\""))?;
    let constructor_args: Bytes = args
        .parse()
        .with_context(|| format!("--deploy {name}: constructor arguments {args:?} are not hex"))?;
    Ok(GenesisContract {
        name: name.to_string(),
        bytecode,
        constructor_args,
    })
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".agora")
        .join("chain")
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let hardfork = parse_hardfork(&args.hardfork).with_context(|| {
        format!(
            "unknown hardfork {:?}: use shanghai, cancun, prague or osaka",
            args.hardfork
        )
    })?;
    let cors = if args.no_cors {
        agora_chain::Cors::Off
    } else {
        agora_chain::Cors::parse(&args.cors).map_err(|e| anyhow::anyhow!("--cors: {e}"))?
    };
    let history = if args.archive {
        agora_chain::History::Archive
    } else {
        agora_chain::History::Blocks(args.history)
    };
    let mut config = Config {
        cors,
        history,
        host: args.host,
        port: args.port,
        chain_id: args.chain_id,
        accounts: args.accounts,
        base_fee: args.base_fee,
        hardfork,
        block_gas_limit: args.gas_limit,
        ..Config::default()
    };
    if !args.bare {
        // The protocol, deployed by the first dev account (nonces 0, 1, ...).
        let deployer = agora_chain::derive_dev_accounts(&config.mnemonic, 1)
            .context("deriving the first dev account")?[0]
            .address;
        config.genesis = agora_contracts::genesis(deployer);
    }
    for spec in &args.deploy {
        config.genesis.push(genesis_contract(spec)?);
    }
    config.storage = if args.ephemeral {
        Storage::Ephemeral
    } else {
        Storage::DataDir(args.data_dir.unwrap_or_else(default_data_dir))
    };
    if let Some(seconds) = args.block_time {
        if !(seconds > 0.0 && seconds.is_finite()) {
            bail!("--block-time must be a positive number of seconds, got {seconds}");
        }
        config = config.with_block_time(Duration::from_secs_f64(seconds));
    }
    let storage = config.storage.clone();
    eprintln!("agora chain: opening...");
    let handle = agora_chain::spawn(config)
        .await
        .context("the chain did not start")?;
    if args.json {
        print_json(&handle, &storage);
    } else {
        print_banner(&handle, &storage);
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    eprintln!("agora chain: shutting down");
    handle.shutdown().await;
    Ok(())
}

/// An amount in ether without trailing zeros: `10000`, `0.5`.
fn ether(wei: alloy_primitives::U256) -> String {
    let text = format_ether(wei);
    match text.split_once('.') {
        Some((whole, fraction)) if !fraction.trim_end_matches('0').is_empty() => {
            format!("{whole}.{}", fraction.trim_end_matches('0'))
        }
        Some((whole, _)) => whole.to_string(),
        None => text,
    }
}

#[allow(
    clippy::print_stdout,
    reason = "the description is the command's output"
)]
fn print_json(handle: &agora_chain::Handle, storage: &Storage) {
    let accounts: Vec<_> = handle
        .dev_accounts()
        .iter()
        .map(|a| {
            serde_json::json!({
                "address": a.address,
                "privateKey": a.private_key(),
                "balanceWei": handle.balance(a.address).to_string(),
            })
        })
        .collect();
    let data_dir = match storage {
        Storage::Ephemeral => None,
        Storage::DataDir(dir) => Some(dir.clone()),
    };
    let value = serde_json::json!({
        "httpUrl": handle.http_url(),
        "wsUrl": handle.ws_url(),
        "chainId": handle.chain_id(),
        "dataDir": data_dir,
        "restored": handle.restored(),
        "headBlock": handle.block_number(),
        "mnemonic": agora_chain::DEV_MNEMONIC,
        "accounts": accounts,
        "contracts": handle.deployment().contracts,
    });
    println!("{value}");
    let _ = std::io::Write::flush(&mut std::io::stdout());
}

#[allow(clippy::print_stdout, reason = "the banner is the command's output")]
fn print_banner(handle: &agora_chain::Handle, storage: &Storage) {
    let mut out = String::new();
    out.push_str("\nAgora chain\n===========\n\n");
    out.push_str("Available accounts\n------------------\n");
    for (i, account) in handle.dev_accounts().iter().enumerate() {
        out.push_str(&format!(
            "({i}) {} ({} ETH)\n",
            account.address,
            ether(handle.balance(account.address))
        ));
    }
    out.push_str(
        "\nPrivate keys (public knowledge: never use them on a real chain)\n------------\n",
    );
    for (i, account) in handle.dev_accounts().iter().enumerate() {
        out.push_str(&format!("({i}) {}\n", account.private_key()));
    }
    out.push_str(&format!("\nMnemonic: {}\n", agora_chain::DEV_MNEMONIC));
    out.push_str("Derivation path: m/44'/60'/0'/0/\n\n");
    out.push_str(&format!("Chain id: {}\n", handle.chain_id()));
    match storage {
        Storage::Ephemeral => out.push_str("Storage: in memory (--ephemeral)\n"),
        Storage::DataDir(dir) => out.push_str(&format!(
            "Storage: {} ({}, head block {})\n",
            dir.display(),
            if handle.restored() { "restored" } else { "new" },
            handle.block_number()
        )),
    }
    for c in &handle.deployment().contracts {
        out.push_str(&format!("Contract {}: {}\n", c.name, c.address));
    }
    out.push_str(&format!(
        "\nListening on {} (HTTP) and {} (WebSocket)\n",
        handle.http_url(),
        handle.ws_url()
    ));
    print!("{out}");
    let _ = std::io::Write::flush(&mut std::io::stdout());
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;

    #[test]
    fn ether_amounts_drop_trailing_zeros_only() {
        let e18 = U256::from(10u64).pow(U256::from(18));
        assert_eq!(super::ether(U256::from(10_000u64) * e18), "10000");
        assert_eq!(super::ether(U256::ZERO), "0");
        assert_eq!(super::ether(e18 / U256::from(2)), "0.5");
        assert_eq!(
            super::ether(U256::from(100u64) * e18 + U256::from(1)),
            "100.000000000000000001"
        );
    }
}
