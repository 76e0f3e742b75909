//! `agora account`: the account on the hub, where RLC is deposited to pay for tasks and to
//! stake: deposit (from the wallet), withdraw (to it), balance.

use alloy::primitives::{Address, Bytes};
use anyhow::{Result, bail};
use serde::Serialize;

use crate::{
    conn::{Conn, parse_amount, rlc},
    pool::{ChainArgs, KeyArgs},
};

/// `agora account` commands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Args {
    /// Move RLC from the wallet to the account (one transaction: approveAndCall).
    Deposit(Move),
    /// Move RLC from the account's free balance back to the wallet.
    Withdraw(Move),
    /// The account's free and locked balances, and the wallet's RLC.
    Balance(Balance),
}

#[derive(Debug, clap::Args)]
pub(crate) struct Move {
    /// The amount: 1.5 (RLC), 1.5RLC or 1500000000nRLC.
    amount: String,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Balance {
    /// Whose account (default: the key's).
    address: Option<Address>,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Balances {
    address: Address,
    /// nRLC, as decimal strings.
    free: String,
    locked: String,
    wallet: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction: Option<alloy::primitives::B256>,
}

#[allow(clippy::print_stdout, reason = "the result is the command's output")]
fn print(b: &Balances, json: bool) {
    if json {
        println!("{}", serde_json::to_string(b).unwrap_or_default());
        return;
    }
    let amount = |text: &str| text.parse().map(rlc).unwrap_or_else(|_| text.to_string());
    println!(
        "{}: {} free, {} locked on the hub; {} in the wallet",
        b.address,
        amount(&b.free),
        amount(&b.locked),
        amount(&b.wallet)
    );
}

async fn balances(conn: &Conn, who: Address) -> Result<Balances> {
    let (free, locked) = conn.account(who).await?;
    let wallet = conn.wallet_rlc(who).await?;
    Ok(Balances {
        address: who,
        free: free.to_string(),
        locked: locked.to_string(),
        wallet: wallet.to_string(),
        transaction: None,
    })
}

pub(crate) async fn run(args: Args) -> Result<()> {
    match args {
        Args::Deposit(args) => {
            let amount = parse_amount(&args.amount)?;
            let conn =
                Conn::connect(&args.chain.rpc_url, args.chain.hub(), args.key.signer()?).await?;
            let wallet = conn.wallet_rlc(conn.address).await?;
            if wallet < amount {
                bail!(
                    "cannot deposit {}: the wallet {} holds {}",
                    rlc(amount),
                    conn.address,
                    rlc(wallet)
                );
            }
            let receipt = conn
                .send(
                    &format!("depositing {}", rlc(amount)),
                    conn.token().approveAndCall(conn.hub, amount, Bytes::new()),
                )
                .await?;
            eprintln!("deposited {}", rlc(amount));
            let mut b = balances(&conn, conn.address).await?;
            b.transaction = Some(receipt.transaction_hash);
            print(&b, args.json);
        }
        Args::Withdraw(args) => {
            let amount = parse_amount(&args.amount)?;
            let conn =
                Conn::connect(&args.chain.rpc_url, args.chain.hub(), args.key.signer()?).await?;
            let (free, locked) = conn.account(conn.address).await?;
            if free < amount {
                bail!(
                    "cannot withdraw {}: the account holds {} free ({} more are locked in deals and stakes)",
                    rlc(amount),
                    rlc(free),
                    rlc(locked)
                );
            }
            let receipt = conn
                .send(
                    &format!("withdrawing {}", rlc(amount)),
                    conn.hub().withdraw(amount),
                )
                .await?;
            eprintln!("withdrew {}", rlc(amount));
            let mut b = balances(&conn, conn.address).await?;
            b.transaction = Some(receipt.transaction_hash);
            print(&b, args.json);
        }
        Args::Balance(args) => {
            // Reading needs no key: without one, a throwaway signer connects.
            let signer = match args.address {
                Some(_) => alloy::signers::local::PrivateKeySigner::random(),
                None => args.key.signer()?,
            };
            let conn = Conn::connect(&args.chain.rpc_url, args.chain.hub(), signer).await?;
            let who = args.address.unwrap_or(conn.address);
            print(&balances(&conn, who).await?, args.json);
        }
    }
    Ok(())
}
