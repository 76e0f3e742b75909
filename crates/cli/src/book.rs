//! `agora order create|publish|show|cancel`: orders on the market. `create` writes an unsigned
//! order (sign it with `agora order sign`), `publish` gives a signed one to the market, `show`
//! reads one back, `cancel` closes one on chain (for good) and waits for the market to see it.

use std::{io::Read, path::PathBuf, time::Duration};

use agora_api::market::{MarketOrder, OrderStatus, SignedOrder};
use agora_contracts::LibOrders;
use agora_primitives::{AppOrder, DatasetOrder, Nrlc, OrderHash, RequestOrder, WorkerpoolOrder};
use alloy::primitives::{Address, B256, Bytes, U256};
use anyhow::{Context, Result, bail};

use crate::{
    conn::{Conn, parse_amount},
    pool::{ChainArgs, KeyArgs},
};

/// The market option of these commands.
#[derive(Debug, clap::Args)]
pub(crate) struct MarketArgs {
    /// The market.
    #[arg(
        long,
        default_value = "http://127.0.0.1:7600",
        env = "AGORA_MARKET_URL"
    )]
    market: String,
}

/// `agora order` commands that use the market.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Args {
    /// Write a new unsigned order as JSON (random salt), to sign with `agora order sign`.
    #[command(subcommand)]
    Create(Create),
    /// Publish a signed order (from `agora order sign`) to the market.
    Publish(PublishArgs),
    /// Show an order of the market: its status and remaining volume.
    Show(ShowArgs),
    /// Cancel an order for good: `manage<Kind>Order(CLOSE)` on chain, sent by its signer.
    Cancel(CancelArgs),
}

/// The order kinds `create` writes.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Create {
    /// An app order: sells runs of an app.
    App {
        /// The app.
        app: Address,
        /// Price per task: 1.5 (RLC), 1.5RLC or 1500000000nRLC.
        #[arg(long, default_value = "0")]
        price: String,
        /// How many tasks it may be used for.
        #[arg(long, default_value_t = 1_000_000)]
        volume: u64,
        /// The tag the app needs (hex; 0x1: TEE).
        #[arg(long, default_value = "0x0")]
        tag: String,
        /// Only with this dataset.
        #[arg(long)]
        dataset_restrict: Option<Address>,
        /// Only on this workerpool.
        #[arg(long)]
        workerpool_restrict: Option<Address>,
        /// Only for this requester.
        #[arg(long)]
        requester_restrict: Option<Address>,
    },
    /// A dataset order: sells uses of a dataset.
    Dataset {
        /// The dataset.
        dataset: Address,
        /// Price per task.
        #[arg(long, default_value = "0")]
        price: String,
        /// How many tasks it may be used for.
        #[arg(long, default_value_t = 1_000_000)]
        volume: u64,
        /// The tag the dataset needs (hex).
        #[arg(long, default_value = "0x0")]
        tag: String,
        /// Only with this app.
        #[arg(long)]
        app_restrict: Option<Address>,
        /// Only on this workerpool.
        #[arg(long)]
        workerpool_restrict: Option<Address>,
        /// Only for this requester.
        #[arg(long)]
        requester_restrict: Option<Address>,
    },
    /// A workerpool order: sells computing.
    Workerpool {
        /// The workerpool.
        workerpool: Address,
        /// Price per task.
        #[arg(long, default_value = "0")]
        price: String,
        /// How many tasks.
        #[arg(long, default_value_t = 1_000_000)]
        volume: u64,
        /// The category (0 XS … 4 XL).
        #[arg(long, default_value_t = 0)]
        category: u64,
        /// The highest trust offered.
        #[arg(long, default_value_t = 100)]
        trust: u64,
        /// The features offered (hex; 0x1: TEE).
        #[arg(long, default_value = "0x0")]
        tag: String,
        /// Only for this app.
        #[arg(long)]
        app_restrict: Option<Address>,
        /// Only with this dataset.
        #[arg(long)]
        dataset_restrict: Option<Address>,
        /// Only for this requester.
        #[arg(long)]
        requester_restrict: Option<Address>,
    },
    /// A request order: asks for tasks (`agora run` writes, signs and matches one for you).
    Request {
        /// The app.
        #[arg(long)]
        app: Address,
        /// The most paid the app per task.
        #[arg(long, default_value = "0")]
        app_max_price: String,
        /// The dataset, if any.
        #[arg(long)]
        dataset: Option<Address>,
        /// The most paid the dataset per task.
        #[arg(long, default_value = "0")]
        dataset_max_price: String,
        /// Only this workerpool.
        #[arg(long)]
        workerpool: Option<Address>,
        /// The most paid the workerpool per task.
        #[arg(long, default_value = "0")]
        workerpool_max_price: String,
        /// The requester (who signs and pays).
        #[arg(long)]
        requester: Address,
        /// How many tasks.
        #[arg(long, default_value_t = 1)]
        volume: u64,
        /// The category.
        #[arg(long, default_value_t = 0)]
        category: u64,
        /// The trust needed.
        #[arg(long, default_value_t = 1)]
        trust: u64,
        /// The tag needed (hex).
        #[arg(long, default_value = "0x0")]
        tag: String,
        /// Who owns the result (default: the requester).
        #[arg(long)]
        beneficiary: Option<Address>,
        /// A contract that receives the result.
        #[arg(long)]
        callback: Option<Address>,
        /// The deal's params (JSON, spec §7.5), e.g. '{"iexec_args":"World"}'.
        #[arg(long, default_value = "{}")]
        params: String,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct PublishArgs {
    /// The signed order as JSON; `-` reads standard input.
    #[arg(value_name = "FILE|-")]
    file: PathBuf,
    #[command(flatten)]
    market: MarketArgs,
    /// Print the market's entry as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ShowArgs {
    /// The order hash.
    hash: B256,
    #[command(flatten)]
    market: MarketArgs,
    /// Print the market's entry as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CancelArgs {
    /// The order hash (the order is read from the market).
    hash: B256,
    #[command(flatten)]
    market: MarketArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Print the market's entry as JSON.
    #[arg(long)]
    json: bool,
}

/// The order `hash` as the market at `url` has it.
async fn published(client: &agora_market::Client, url: &str, hash: B256) -> Result<MarketOrder> {
    client
        .get(OrderHash::new(hash))
        .await
        .context("cannot ask the market")?
        .with_context(|| format!("the market at {url} has no order {hash}"))
}

fn nrlc(text: &str) -> Result<Nrlc> {
    parse_amount(text).map(Nrlc::new)
}

fn salt() -> B256 {
    B256::from(rand08::random::<[u8; 32]>())
}

fn create(order: Create) -> Result<String> {
    let tag = crate::run::parse_tag;
    let json = match order {
        Create::App {
            app,
            price,
            volume,
            tag: t,
            dataset_restrict,
            workerpool_restrict,
            requester_restrict,
        } => serde_json::to_string_pretty(&AppOrder {
            app,
            appprice: nrlc(&price)?,
            volume: U256::from(volume),
            tag: tag(&t)?,
            datasetrestrict: dataset_restrict.unwrap_or_default(),
            workerpoolrestrict: workerpool_restrict.unwrap_or_default(),
            requesterrestrict: requester_restrict.unwrap_or_default(),
            salt: salt(),
        }),
        Create::Dataset {
            dataset,
            price,
            volume,
            tag: t,
            app_restrict,
            workerpool_restrict,
            requester_restrict,
        } => serde_json::to_string_pretty(&DatasetOrder {
            dataset,
            datasetprice: nrlc(&price)?,
            volume: U256::from(volume),
            tag: tag(&t)?,
            apprestrict: app_restrict.unwrap_or_default(),
            workerpoolrestrict: workerpool_restrict.unwrap_or_default(),
            requesterrestrict: requester_restrict.unwrap_or_default(),
            salt: salt(),
        }),
        Create::Workerpool {
            workerpool,
            price,
            volume,
            category,
            trust,
            tag: t,
            app_restrict,
            dataset_restrict,
            requester_restrict,
        } => serde_json::to_string_pretty(&WorkerpoolOrder {
            workerpool,
            workerpoolprice: nrlc(&price)?,
            volume: U256::from(volume),
            tag: tag(&t)?,
            category: U256::from(category),
            trust: U256::from(trust),
            apprestrict: app_restrict.unwrap_or_default(),
            datasetrestrict: dataset_restrict.unwrap_or_default(),
            requesterrestrict: requester_restrict.unwrap_or_default(),
            salt: salt(),
        }),
        Create::Request {
            app,
            app_max_price,
            dataset,
            dataset_max_price,
            workerpool,
            workerpool_max_price,
            requester,
            volume,
            category,
            trust,
            tag: t,
            beneficiary,
            callback,
            params,
        } => serde_json::to_string_pretty(&RequestOrder {
            app,
            appmaxprice: nrlc(&app_max_price)?,
            dataset: dataset.unwrap_or_default(),
            datasetmaxprice: nrlc(&dataset_max_price)?,
            workerpool: workerpool.unwrap_or_default(),
            workerpoolmaxprice: nrlc(&workerpool_max_price)?,
            requester,
            volume: U256::from(volume),
            tag: tag(&t)?,
            category: U256::from(category),
            trust: U256::from(trust),
            beneficiary: beneficiary.unwrap_or(requester),
            callback: callback.unwrap_or_default(),
            params,
            salt: salt(),
        }),
    };
    Ok(json?)
}

#[allow(clippy::print_stdout, reason = "the result is the command's output")]
fn print(entry: &MarketOrder, json: bool) {
    if json {
        println!("{}", serde_json::to_string(entry).unwrap_or_default());
        return;
    }
    println!(
        "{} {} order {} for {}: {} of {} left, {} nRLC, signed by {}",
        entry.hash,
        entry.order.kind().as_str(),
        entry.status.as_str(),
        entry.order.asset(),
        entry.remaining,
        entry.order.volume(),
        entry.order.price().get(),
        entry.signer
    );
}

#[allow(clippy::print_stdout, reason = "the result is the command's output")]
pub(crate) async fn run(args: Args) -> Result<()> {
    match args {
        Args::Create(order) => {
            println!("{}", create(order)?);
        }
        Args::Publish(args) => {
            let stdin = args.file.as_os_str() == "-";
            let source = if stdin {
                "standard input".to_string()
            } else {
                args.file.display().to_string()
            };
            let text = if stdin {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("cannot read standard input")?;
                text
            } else {
                std::fs::read_to_string(&args.file)
                    .with_context(|| format!("cannot read {source}"))?
            };
            let order = crate::order::parse_signed(&text, &source)?;
            let client = agora_market::Client::new(&args.market.market);
            let entry = client
                .publish(&order)
                .await
                .context("the market did not take the order")?;
            eprintln!(
                "published {} order {}",
                entry.order.kind().as_str(),
                entry.hash
            );
            print(&entry, args.json);
        }
        Args::Show(args) => {
            let client = agora_market::Client::new(&args.market.market);
            let entry = published(&client, &args.market.market, args.hash).await?;
            print(&entry, args.json);
        }
        Args::Cancel(args) => {
            let client = agora_market::Client::new(&args.market.market);
            let entry = published(&client, &args.market.market, args.hash).await?;
            if entry.status == OrderStatus::Cancelled {
                eprintln!("order {} is cancelled already", args.hash);
                print(&entry, args.json);
                return Ok(());
            }
            let conn =
                Conn::connect(&args.chain.rpc_url, args.chain.hub(), args.key.signer()?).await?;
            if conn.address != entry.signer {
                bail!(
                    "order {} was signed by {}: only its signer cancels it (this key is {})",
                    args.hash,
                    entry.signer,
                    conn.address
                );
            }
            let hub = conn.hub();
            // `OrderOperationEnum.CLOSE`.
            let close = agora_primitives::OrderOperation::Close as u8;
            let what = format!("cancelling the {} order", entry.order.kind().as_str());
            let empty = Bytes::new;
            let receipt = match &entry.order {
                SignedOrder::App(o) => {
                    let order = LibOrders::AppOrder::from(o);
                    let operation = LibOrders::AppOrderOperation {
                        order,
                        operation: close,
                        sign: empty(),
                    };
                    conn.send(&what, hub.manageAppOrder(operation)).await?
                }
                SignedOrder::Dataset(o) => {
                    let order = LibOrders::DatasetOrder::from(o);
                    let operation = LibOrders::DatasetOrderOperation {
                        order,
                        operation: close,
                        sign: empty(),
                    };
                    conn.send(&what, hub.manageDatasetOrder(operation)).await?
                }
                SignedOrder::Workerpool(o) => {
                    let order = LibOrders::WorkerpoolOrder::from(o);
                    let operation = LibOrders::WorkerpoolOrderOperation {
                        order,
                        operation: close,
                        sign: empty(),
                    };
                    conn.send(&what, hub.manageWorkerpoolOrder(operation))
                        .await?
                }
                SignedOrder::Request(o) => {
                    let order = LibOrders::RequestOrder::from(o);
                    let operation = LibOrders::RequestOrderOperation {
                        order,
                        operation: close,
                        sign: empty(),
                    };
                    conn.send(&what, hub.manageRequestOrder(operation)).await?
                }
            };
            eprintln!(
                "order {} closed on chain (transaction {}); waiting for the market to see it",
                args.hash, receipt.transaction_hash
            );
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                let entry = published(&client, &args.market.market, args.hash).await?;
                if entry.status == OrderStatus::Cancelled {
                    print(&entry, args.json);
                    return Ok(());
                }
                if std::time::Instant::now() > deadline {
                    bail!(
                        "the order is closed on chain but the market still says {} after 30 s: is it following the chain?",
                        entry.status.as_str()
                    );
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_orders_have_the_given_fields_and_a_fresh_salt() {
        let a: serde_json::Value = serde_json::from_str(
            &create(Create::App {
                app: Address::repeat_byte(1),
                price: "1.5".into(),
                volume: 3,
                tag: "0x1".into(),
                dataset_restrict: None,
                workerpool_restrict: None,
                requester_restrict: None,
            })
            .unwrap(),
        )
        .unwrap();
        let order: AppOrder = serde_json::from_value(a.clone()).unwrap();
        assert_eq!(order.appprice.get(), U256::from(1_500_000_000u64));
        assert_eq!(order.volume, U256::from(3));
        assert_eq!(order.tag, agora_primitives::Tag::TEE);
        let b: serde_json::Value = serde_json::from_str(
            &create(Create::App {
                app: Address::repeat_byte(1),
                price: "1.5".into(),
                volume: 3,
                tag: "0x1".into(),
                dataset_restrict: None,
                workerpool_restrict: None,
                requester_restrict: None,
            })
            .unwrap(),
        )
        .unwrap();
        assert_ne!(a["salt"], b["salt"]);
    }
}
