//! `agora task|deal show|watch|claim|download`: following what was matched.

use std::{path::PathBuf, time::Duration};

use agora_primitives::{DealId, TaskId};
use alloy::primitives::{Address, B256, U256};
use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::{
    conn::Conn,
    pool::{ChainArgs, KeyArgs},
    run::{self, Outcome},
};

/// Where a task's workers report (for the live statuses).
#[derive(Debug, clap::Args)]
pub(crate) struct SchedulerArgs {
    /// The workerpool's scheduler.
    #[arg(
        long,
        default_value = "http://127.0.0.1:7700",
        env = "AGORA_SCHEDULER_URL"
    )]
    scheduler: String,
}

/// What to do with the task (or with each task of the deal).
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Args {
    /// Its status on chain (and at its scheduler): deadlines, consensus, result.
    Show {
        /// The task (or deal) id.
        id: B256,
        #[command(flatten)]
        scheduler: SchedulerArgs,
        #[command(flatten)]
        chain: ChainArgs,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Follow it, one status line, until it completes or fails.
    Watch {
        /// The task (or deal) id.
        id: B256,
        #[command(flatten)]
        scheduler: SchedulerArgs,
        #[command(flatten)]
        chain: ChainArgs,
        /// How long to follow, in seconds.
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Claim it past its final deadline: the requester is refunded, the workers' stakes freed.
    Claim {
        /// The task (or deal) id.
        id: B256,
        #[command(flatten)]
        chain: ChainArgs,
        #[command(flatten)]
        key: KeyArgs,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Download its result into a folder.
    Download {
        /// The task (or deal) id.
        id: B256,
        /// Where results are unpacked, a folder per task.
        #[arg(long, default_value = "agora-results")]
        out: PathBuf,
        #[command(flatten)]
        chain: ChainArgs,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// A task as `show` prints it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskInfo {
    task_id: TaskId,
    deal_id: B256,
    index: U256,
    status: &'static str,
    contribution_deadline: U256,
    reveal_deadline: U256,
    final_deadline: U256,
    consensus: B256,
    contributors: Vec<Address>,
    result_digest: B256,
    results: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduler: Option<agora_api::scheduler::TaskView>,
}

/// The tasks `id` names: the task itself, or every task of the deal `id`; each with its
/// deal and index (a deal's tasks may not be initialized on chain yet).
async fn tasks_of(conn: &Conn, id: B256) -> Result<Vec<(TaskId, B256, U256)>> {
    let hub = conn.hub();
    let deal = hub
        .viewDeal(id)
        .call()
        .await
        .context("cannot read the deal")?;
    if deal.requester != Address::ZERO {
        let deal_id = DealId::new(id);
        let first = deal.botFirst;
        let size = crate::conn::count(
            deal.botSize,
            "the deal's number of tasks",
            crate::run::MAX_LISTED_TASKS,
        )?;
        return Ok((0..size)
            .map(|i| {
                let index = first + U256::from(i);
                (deal_id.task(index), id, index)
            })
            .collect());
    }
    let task = hub
        .viewTask(id)
        .call()
        .await
        .context("cannot read the task")?;
    if task.dealid == B256::ZERO {
        bail!(
            "{id} is neither a deal nor an initialized task on this hub (a task nobody initialized is claimed through its deal: agora deal claim)"
        );
    }
    Ok(vec![(TaskId::new(id), task.dealid, task.idx)])
}

/// The final deadline of task `index` of `deal`, initialized or not: the deal's start plus
/// ten times its category's time reference (spec §4.2).
async fn final_deadline(conn: &Conn, deal: B256) -> Result<U256> {
    let hub = conn.hub();
    let deal = hub
        .viewDeal(deal)
        .call()
        .await
        .context("cannot read the deal")?;
    let category = hub
        .viewCategory(deal.category)
        .call()
        .await
        .context("cannot read the deal's category")?;
    let ratio = hub
        .final_deadline_ratio()
        .call()
        .await
        .context("cannot read the final deadline ratio")?;
    Ok(deal.startTime + category.workClockTimeRef * ratio)
}

async fn task_info(conn: &Conn, task: TaskId) -> Result<TaskInfo> {
    let t = conn
        .hub()
        .viewTask(*task.as_b256())
        .call()
        .await
        .context("cannot read the task")?;
    let status = run::CHAIN_STATUSES
        .get(t.status as usize)
        .copied()
        .unwrap_or("?");
    Ok(TaskInfo {
        task_id: task,
        deal_id: t.dealid,
        index: t.idx,
        status,
        contribution_deadline: t.contributionDeadline,
        reveal_deadline: t.revealDeadline,
        final_deadline: t.finalDeadline,
        consensus: t.consensusValue,
        contributors: t.contributors,
        result_digest: t.resultDigest,
        results: (!t.results.is_empty()).then(|| String::from_utf8_lossy(&t.results).into_owned()),
        scheduler: None,
    })
}

#[allow(clippy::print_stdout, reason = "the result is the command's output")]
fn print_json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

#[allow(clippy::print_stdout, reason = "the result is the command's output")]
pub(crate) async fn run(args: Args) -> Result<()> {
    match args {
        Args::Show {
            id,
            scheduler,
            chain,
            json,
        } => {
            let conn = Conn::reader(&chain).await?;
            let mut infos = Vec::new();
            for (task, _, _) in tasks_of(&conn, id).await? {
                let mut info = task_info(&conn, task).await?;
                info.scheduler =
                    run::scheduler_view(&reqwest::Client::new(), &scheduler.scheduler, task).await;
                infos.push(info);
            }
            if json {
                print_json(&infos);
            } else {
                for info in &infos {
                    println!(
                        "task {} (deal {}, index {}): {}; final deadline {}; result digest {}",
                        info.task_id,
                        info.deal_id,
                        info.index,
                        info.status,
                        info.final_deadline,
                        info.result_digest
                    );
                    if let Some(view) = &info.scheduler {
                        for r in &view.replicates {
                            println!("  worker {}: {}", r.worker, r.status);
                        }
                    }
                }
            }
        }
        Args::Watch {
            id,
            scheduler,
            chain,
            timeout,
            json,
        } => {
            let conn = Conn::reader(&chain).await?;
            let mut outcomes = Vec::new();
            for (task, _, _) in tasks_of(&conn, id).await? {
                eprintln!("following task {task}");
                outcomes.push(
                    run::follow(
                        &conn,
                        Some(&scheduler.scheduler),
                        task,
                        Duration::from_secs(timeout),
                    )
                    .await?,
                );
            }
            if json {
                print_json(&outcomes);
            } else {
                for o in &outcomes {
                    println!("{} {}", o.task_id, o.status);
                }
            }
        }
        Args::Claim {
            id,
            chain,
            key,
            json,
        } => {
            let conn = Conn::connect(&chain.rpc_url, chain.hub(), key.signer()?).await?;
            let now = alloy::providers::Provider::get_block_by_number(
                &conn.provider,
                alloy::eips::BlockNumberOrTag::Latest,
            )
            .await
            .context("cannot read the chain's time")?
            .map(|b| b.header.timestamp)
            .unwrap_or_default();
            let mut claimed = Vec::new();
            for (task, deal, index) in tasks_of(&conn, id).await? {
                let info = task_info(&conn, task).await?;
                let deadline = match info.status {
                    "COMPLETED" | "FAILED" => {
                        eprintln!("task {task} is {}: nothing to claim", info.status);
                        continue;
                    }
                    "UNSET" => final_deadline(&conn, deal).await?,
                    _ => info.final_deadline,
                };
                if U256::from(now) < deadline {
                    bail!(
                        "task {task} cannot be claimed yet: its final deadline {deadline} is {} s away",
                        deadline - U256::from(now)
                    );
                }
                let hub = conn.hub();
                let what = format!("claiming task {task}");
                let receipt = if info.status == "UNSET" {
                    // Nobody initialized it: initialized and claimed in one call.
                    let call = hub.initializeAndClaimArray(vec![deal], vec![index]);
                    conn.send(&what, call).await?
                } else {
                    conn.send(&what, hub.claim(*task.as_b256())).await?
                };
                eprintln!(
                    "task {task} claimed (transaction {})",
                    receipt.transaction_hash
                );
                claimed.push(task);
            }
            if json {
                print_json(&claimed);
            } else {
                for task in claimed {
                    println!("{task} FAILED (claimed)");
                }
            }
        }
        Args::Download {
            id,
            out,
            chain,
            json,
        } => {
            let conn = Conn::reader(&chain).await?;
            let mut folders = Vec::new();
            for (task, _, _) in tasks_of(&conn, id).await? {
                let info = task_info(&conn, task).await?;
                let outcome = Outcome {
                    task_id: task,
                    status: info.status,
                    result_digest: info.result_digest,
                    results: info.results,
                };
                folders.push(run::download(&outcome, &out).await?);
            }
            if json {
                print_json(&folders);
            } else {
                for folder in folders {
                    println!("{}", folder.display());
                }
            }
        }
    }
    Ok(())
}
