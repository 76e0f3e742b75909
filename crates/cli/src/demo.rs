//! `agora demo`: the main job in one command. It starts the whole network (as `agora dev`
//! does, in memory and a temporary directory), runs the demo app as a requester would with
//! `agora run` (orders found in the market, matched, the task followed through every
//! scheduler and worker status, certified on chain), downloads the result and prints it.

use std::{path::PathBuf, time::Duration};

use alloy::primitives::Address;
use anyhow::{Context, Result};
use serde::Serialize;

use crate::{
    conn::{Conn, rlc},
    dev::{self, print_info, requester},
    run::{self, Request},
};

/// Options of `agora demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The arguments given to the app (it answers `Hello, <args>!`).
    #[arg(long, default_value = "Agora")]
    args: String,
    /// The trust the task needs (above 1, several workers compute it and must agree).
    #[arg(long, default_value_t = 1)]
    trust: u64,
    /// Where the result is unpacked (a folder per task).
    #[arg(long, default_value = "agora-results")]
    out: PathBuf,
    /// Print the network and the outcome as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    app: Address,
    workerpool: Address,
    deal: run::Matched,
    outcome: run::Outcome,
    result_folder: PathBuf,
    result_text: Option<String>,
    seconds: f64,
}

#[allow(clippy::print_stdout, reason = "the result is the command's output")]
pub(crate) async fn run(args: Args) -> Result<()> {
    let started = std::time::Instant::now();
    let work = tempfile::tempdir().context("cannot create a temporary directory")?;
    let net = dev::start(agora_network::Config {
        data_dir: None,
        ports: agora_network::Ports::ANY,
        ..agora_network::Config::dev(work.path())
    })
    .await?;
    if !args.json {
        print_info(&net.info, false);
    }
    let outcome = async {
        let index = requester();
        let account = net
            .account(index)
            .context("the dev network has no requester account")?;
        let key = account.signer();
        let requester = &net.info.accounts[index];
        let conn = Conn::connect(&net.info.rpc_url, net.info.hub, key).await?;
        eprintln!(
            "agora demo: requesting app {} with args {:?} at trust {}, as account {} ({})",
            net.info.app, args.args, args.trust, index, requester.address
        );
        let request = Request {
            app: net.info.app,
            dataset: None,
            workerpool: None,
            args: Some(args.args.clone()),
            input_files: Vec::new(),
            trust: args.trust,
            category: 0,
            tag: agora_primitives::Tag::NONE,
            callback: Address::ZERO,
            beneficiary: None,
            volume: 1,
        };
        let deal = run::match_request(&conn, &net.info.market_url, &request).await?;
        eprintln!(
            "agora demo: deal {} matched for {} (transaction {})",
            deal.deal_id,
            rlc(deal.cost),
            deal.transaction
        );
        let task = deal.tasks[0];
        eprintln!("agora demo: following task {task}");
        let outcome = run::follow(
            &conn,
            Some(&net.info.scheduler_url),
            task,
            Duration::from_secs(300),
        )
        .await?;
        let folder = run::download(&outcome, &args.out).await?;
        let result_text = std::fs::read_to_string(folder.join("result.txt")).ok();
        anyhow::Ok(Report {
            app: net.info.app,
            workerpool: net.info.workerpool,
            deal,
            outcome,
            result_folder: folder,
            result_text,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
    .await;
    net.stop().await;
    let report = outcome?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        println!(
            "\nTask {} {} in {:.1} s; result digest {} on chain.",
            report.outcome.task_id,
            report.outcome.status,
            report.seconds,
            report.outcome.result_digest
        );
        println!("Result: {}", report.result_folder.display());
        if let Some(text) = &report.result_text {
            println!("result.txt: {}", text.trim_end());
        }
    }
    Ok(())
}
