//! The workerpool's figures (docs/PERFORMANCE.md): on the embedded chain, with the result
//! store, one scheduler and its workers in this process,
//!
//! - latency: the time from sending matchOrders to the task being finalized on chain, for the
//!   hello-world app with one worker, over `--deals` deals of one task each, one after the
//!   other (median and p99);
//! - throughput: finalized tasks per second for one deal of `--tasks` tasks with four workers,
//!   `--runs` times back to back, each on a fresh network.
//!
//! `--settings default` runs the scheduler and the workers with their default settings (1 s
//! tick, the workers' default ask wait and slots), what users get; `--settings tuned` (the
//! default) with the test timings (100 ms tick, 2 s ask wait) and `--slots` slots.
//!
//! `cargo run --release -p agora-e2e --example workerpool [-- --deals 200 --tasks 1000 --runs 5 --settings default]`

#[allow(
    dead_code,
    unreachable_pub,
    reason = "the test harness, shared with the tests"
)]
#[path = "../tests/it/net.rs"]
mod net;

use std::time::{Duration, Instant};

use agora_primitives::Nrlc;
use agora_testkit::market::rlc;
use alloy::{primitives::U256, providers::Provider, sol_types::SolEvent};

const COMPLETED: u8 = 3;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn text_arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

async fn start(defaults: bool) -> net::Net {
    if defaults {
        net::Net::start_with_defaults("examples/hello/hello.wasm").await
    } else {
        net::Net::start("examples/hello/hello.wasm").await
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let deals = arg("--deals", 200);
    let tasks = arg("--tasks", 1000);
    let slots = arg("--slots", 4) as usize;
    let runs = arg("--runs", 1);
    let defaults = match text_arg("--settings", "tuned").as_str() {
        "default" => true,
        "tuned" => false,
        other => {
            eprintln!("--settings {other:?}: use default or tuned");
            std::process::exit(2);
        }
    };
    let settings = if defaults {
        "default settings".to_string()
    } else {
        format!("tuned: 100 ms tick, 2 s ask wait, {slots} slots")
    };
    println!("settings: {settings}");
    if deals > 0 {
        latency(deals, defaults).await;
    }
    let mut figures = Vec::new();
    for run in 1..=runs {
        let figure = throughput(tasks, slots, defaults).await;
        println!(
            "run {run}: throughput, 1 scheduler and 4 workers, 1 deal of {tasks} tasks: {figure:.1} finalized tasks/s"
        );
        figures.push(figure);
    }
    figures.sort_by(f64::total_cmp);
    println!(
        "throughput over {runs} run(s), back to back ({settings}): median {:.1}, min {:.1}, max {:.1} finalized tasks/s",
        figures[figures.len() / 2],
        figures[0],
        figures[figures.len() - 1]
    );
}

/// Latency: one worker, one task per deal.
async fn latency(deals: u64, defaults: bool) {
    let mut net = start(defaults).await;
    net.start_worker(0, false).await;
    let mut latencies = Vec::new();
    for i in 0..deals {
        let mut orders = net.orders(1, 1, 0);
        orders.app.appprice = Nrlc::ZERO;
        orders.workerpool.workerpoolprice = Nrlc::new(U256::from(1_000_000u64));
        orders.request.salt = alloy::primitives::B256::from(U256::from(i + 1));
        let started = Instant::now();
        let deal = net.deal(&orders).await;
        let task = deal.task(U256::ZERO);
        while net.world.view_task(task).await.status != COMPLETED {
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let mean = latencies.iter().sum::<Duration>() / latencies.len() as u32;
    println!(
        "latency, matchOrders to finalized, 1 worker, {deals} deals: p50 {:.1} ms, p99 {:.1} ms, mean {:.1} ms, min {:.1} ms, max {:.1} ms",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(mean),
        ms(latencies[0]),
        ms(latencies[latencies.len() - 1]),
    );
    net.stop().await;
}

/// Throughput: four workers, one deal of `tasks` tasks; finalized tasks per second.
async fn throughput(tasks: u64, slots: usize, defaults: bool) -> f64 {
    let mut net = start(defaults).await;
    for i in 0..4 {
        net.start_worker_with(i, |config| {
            if !defaults {
                config.slots = slots;
            }
        })
        .await;
    }
    let mut orders = net.orders(1, tasks, 0x77);
    orders.app.appprice = Nrlc::ZERO;
    orders.workerpool.workerpoolprice = Nrlc::new(rlc(1) / U256::from(10));
    let provider = net.world.provider(0);
    let mut from = provider.get_block_number().await.expect("a head");
    eprintln!("throughput: the network is up");
    let started = Instant::now();
    let deal = net.deal(&orders).await;
    eprintln!("throughput: the deal is matched");
    // Count the finalizations from the hub's events, polled lightly.
    let mut finalized = 0u64;
    while finalized < tasks {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if started.elapsed() > Duration::from_secs(300) {
            eprintln!("only {finalized} of {tasks} tasks finalized after 300 s");
            for idx in 0..tasks {
                let task = deal.task(U256::from(idx));
                if net.world.view_task(task).await.status != COMPLETED {
                    eprintln!("task {idx}: {:#?}", net.view(task).await);
                    break;
                }
            }
            std::process::exit(1);
        }
        let head = provider.get_block_number().await.expect("a head");
        if head <= from {
            continue;
        }
        let filter = alloy::rpc::types::Filter::new()
            .address(net.world.hub)
            .from_block(from + 1)
            .to_block(head)
            .event_signature(agora_contracts::Hub::TaskFinalize::SIGNATURE_HASH);
        finalized += provider.get_logs(&filter).await.expect("logs").len() as u64;
        if std::env::var_os("AGORA_BENCH_TRACE").is_some() {
            eprintln!(
                "{:?}: {finalized} finalized, head {head}",
                started.elapsed()
            );
        }
        from = head;
    }
    let elapsed = started.elapsed();
    for idx in 0..tasks {
        assert_eq!(
            net.world.view_task(deal.task(U256::from(idx))).await.status,
            COMPLETED
        );
    }
    net.stop().await;
    tasks as f64 / elapsed.as_secs_f64()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
