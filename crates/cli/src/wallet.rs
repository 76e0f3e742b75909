//! `agora wallet`: keys in Ethereum keystore v3 files (scrypt and AES-128-CTR, as geth, the
//! iExec SDK and every wallet read them), their password from `AGORA_WALLET_PASSWORD` or a
//! prompt.

use std::path::{Path, PathBuf};

use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result, bail};
use serde::Serialize;

/// The environment variable that holds the wallet's password (else it is asked for).
pub(crate) const PASSWORD_ENV: &str = "AGORA_WALLET_PASSWORD";

/// `agora wallet` commands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Args {
    /// Create a wallet with a new random key.
    Create(FileArgs),
    /// Import a private key into a wallet (the key from AGORA_KEY, or asked for).
    Import(FileArgs),
    /// Show the wallet's address (and its balances with --rpc-url).
    Show(ShowArgs),
    /// Send RLC from the wallet to another address (an ERC-20 transfer).
    Send(SendArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct SendArgs {
    /// The amount: 1.5 (RLC), 1.5RLC or 1500000000nRLC.
    amount: String,
    /// Who receives it.
    #[arg(long)]
    to: alloy::primitives::Address,
    #[command(flatten)]
    chain: crate::pool::ChainArgs,
    #[command(flatten)]
    key: crate::pool::KeyArgs,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct FileArgs {
    /// The wallet file. Default: ~/.agora/wallet.json (AGORA_WALLET).
    #[arg(long, env = "AGORA_WALLET")]
    wallet: Option<PathBuf>,
    /// Replace an existing wallet file (its key is lost unless saved elsewhere).
    #[arg(long)]
    force: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ShowArgs {
    /// The wallet file. Default: ~/.agora/wallet.json (AGORA_WALLET).
    #[arg(long, env = "AGORA_WALLET")]
    wallet: Option<PathBuf>,
    /// Also read the balances on this chain.
    #[arg(long)]
    rpc_url: Option<String>,
    /// The hub (default: the embedded dev chain's).
    #[arg(long, env = "AGORA_HUB")]
    hub: Option<alloy::primitives::Address>,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// The default wallet file.
pub(crate) fn default_file() -> Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set: give --wallet")?;
    Ok(PathBuf::from(home).join(".agora").join("wallet.json"))
}

/// The password: from the environment, or asked for on the terminal (twice when `confirm`).
fn password(confirm: bool) -> Result<String> {
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        return Ok(password);
    }
    let password = rpassword::prompt_password("wallet password: ").with_context(|| {
        format!("cannot ask for the wallet's password (no terminal?): set {PASSWORD_ENV}")
    })?;
    if confirm {
        let again = rpassword::prompt_password("again: ").context("cannot read the password")?;
        if again != password {
            bail!("the two passwords differ");
        }
    }
    if confirm && password.is_empty() {
        bail!("an empty password protects nothing: choose one");
    }
    Ok(password)
}

/// Opens the wallet at `path`.
pub(crate) fn open(path: &Path) -> Result<PrivateKeySigner> {
    if !path.exists() {
        bail!(
            "no wallet at {}: create one with `agora wallet create`, or give --key or --dev-account",
            path.display()
        );
    }
    let password = password(false)?;
    PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| {
        let text = e.to_string();
        if text.to_lowercase().contains("mac mismatch") {
            anyhow::anyhow!("wrong password for the wallet {}", path.display())
        } else {
            anyhow::anyhow!(
                "{} is not a keystore v3 wallet this tool reads: {text}",
                path.display()
            )
        }
    })
}

/// Writes `key` to `path` as a keystore v3 file.
fn save(path: &Path, key: &[u8], force: bool) -> Result<PrivateKeySigner> {
    if path.exists() && !force {
        bail!(
            "{} exists: give another --wallet, or --force to replace it (its key is then lost)",
            path.display()
        );
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("the wallet path has no file name")?;
    let password = password(true)?;
    let (signer, _) = PrivateKeySigner::encrypt_keystore(
        dir,
        &mut rand08::thread_rng(),
        key,
        password,
        Some(name),
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(signer)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Shown {
    address: alloy::primitives::Address,
    wallet: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    balances: Option<Balances>,
}

impl Shown {
    fn new(signer: &PrivateKeySigner, wallet: PathBuf) -> Self {
        Self {
            address: signer.address(),
            wallet,
            balances: None,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Balances {
    /// RLC in the wallet, nRLC.
    wallet_nrlc: String,
    /// On the hub: free and locked, nRLC.
    account_nrlc: String,
    locked_nrlc: String,
    /// Native coin, wei.
    native_wei: String,
}

#[allow(clippy::print_stdout, reason = "the result is the command's output")]
fn print(shown: &Shown, json: bool) {
    if json {
        println!("{}", serde_json::to_string(shown).unwrap_or_default());
        return;
    }
    println!("{}", shown.address);
    if let Some(b) = &shown.balances {
        let amount = |text: &str| {
            text.parse()
                .map(crate::conn::rlc)
                .unwrap_or_else(|_| text.to_string())
        };
        println!(
            "wallet {} · account {} free, {} locked · {} wei",
            amount(&b.wallet_nrlc),
            amount(&b.account_nrlc),
            amount(&b.locked_nrlc),
            b.native_wei
        );
    }
}

pub(crate) async fn run(args: Args) -> Result<()> {
    match args {
        Args::Create(args) => {
            let path = args.wallet.map_or_else(default_file, Ok)?;
            let key = PrivateKeySigner::random();
            let signer = save(&path, key.to_bytes().as_slice(), args.force)?;
            eprintln!("wallet {} created for {}", path.display(), signer.address());
            print(&Shown::new(&signer, path), args.json);
        }
        Args::Import(args) => {
            let path = args.wallet.map_or_else(default_file, Ok)?;
            let text = match std::env::var("AGORA_KEY") {
                Ok(key) => key,
                Err(_) => rpassword::prompt_password("private key (hex): ")
                    .context("cannot ask for the key (no terminal?): set AGORA_KEY")?,
            };
            let key: PrivateKeySigner = text
                .trim()
                .parse()
                .context("the key is not a 32-byte hex private key")?;
            let signer = save(&path, key.to_bytes().as_slice(), args.force)?;
            eprintln!("wallet {} holds {}", path.display(), signer.address());
            print(&Shown::new(&signer, path), args.json);
        }
        Args::Send(args) => {
            let amount = crate::conn::parse_amount(&args.amount)?;
            let conn = crate::conn::Conn::connect(
                &args.chain.rpc_url,
                args.chain.hub(),
                args.key.signer()?,
            )
            .await?;
            let held = conn.wallet_rlc(conn.address).await?;
            if held < amount {
                bail!(
                    "cannot send {}: the wallet {} holds {}",
                    crate::conn::rlc(amount),
                    conn.address,
                    crate::conn::rlc(held)
                );
            }
            let receipt = conn
                .send(
                    &format!("sending {} to {}", crate::conn::rlc(amount), args.to),
                    conn.token().transfer(args.to, amount),
                )
                .await?;
            eprintln!("sent {} to {}", crate::conn::rlc(amount), args.to);
            #[allow(clippy::print_stdout, reason = "the result is the command's output")]
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"transaction": receipt.transaction_hash, "to": args.to, "nrlc": amount.to_string()})
                );
            } else {
                println!("{}", receipt.transaction_hash);
            }
        }
        Args::Show(args) => {
            let path = args.wallet.map_or_else(default_file, Ok)?;
            let signer = open(&path)?;
            let balances = match &args.rpc_url {
                None => None,
                Some(url) => {
                    let hub = args.hub.unwrap_or_else(crate::pool::dev_hub);
                    let conn = crate::conn::Conn::connect(url, hub, signer.clone()).await?;
                    let wallet = conn.wallet_rlc(conn.address).await?;
                    let (free, locked) = conn.account(conn.address).await?;
                    let native =
                        alloy::providers::Provider::get_balance(&conn.provider, conn.address)
                            .await
                            .context("cannot read the native balance")?;
                    Some(Balances {
                        wallet_nrlc: wallet.to_string(),
                        account_nrlc: free.to_string(),
                        locked_nrlc: locked.to_string(),
                        native_wei: native.to_string(),
                    })
                }
            };
            print(
                &Shown {
                    address: signer.address(),
                    wallet: path,
                    balances,
                },
                args.json,
            );
        }
    }
    Ok(())
}
