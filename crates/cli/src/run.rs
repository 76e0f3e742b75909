//! `agora run`: finds the cheapest compatible orders in the market, matches them (depositing
//! what the account lacks in the same transaction), follows the task with a live status line
//! and downloads its result.

use std::{
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use agora_api::scheduler::TaskView;
use agora_contracts::{Hub, LibOrders};
use agora_primitives::{DatasetOrder, DealId, Nrlc, Order, RequestOrder, Signed, Tag, TaskId};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    sol_types::{SolCall, SolEvent},
};
use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::{
    conn::{Conn, rlc},
    market::{self, Candidates},
};

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) app: Address,
    pub(crate) dataset: Option<Address>,
    pub(crate) workerpool: Option<Address>,
    pub(crate) args: Option<String>,
    pub(crate) input_files: Vec<String>,
    pub(crate) trust: u64,
    pub(crate) category: u64,
    pub(crate) tag: Tag,
    pub(crate) callback: Address,
    pub(crate) beneficiary: Option<Address>,
    pub(crate) volume: u64,
}

/// The task statuses of the hub (`viewTask().status`).
pub(crate) const CHAIN_STATUSES: [&str; 5] =
    ["UNSET", "ACTIVE", "REVEALING", "COMPLETED", "FAILED"];
const COMPLETED: u8 = 3;
/// The most tasks of one deal that `agora run` follows and `agora deal` lists.
pub(crate) const MAX_LISTED_TASKS: u64 = 1_000_000;
const FAILED: u8 = 4;

/// A matched deal.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Matched {
    pub(crate) deal_id: DealId,
    pub(crate) tasks: Vec<TaskId>,
    pub(crate) transaction: B256,
    /// What the deal costs the requester, in nRLC.
    pub(crate) cost: U256,
    /// What was deposited in the same transaction, in nRLC.
    pub(crate) deposited: U256,
    pub(crate) app_order: B256,
    pub(crate) dataset_order: Option<B256>,
    pub(crate) workerpool_order: B256,
    pub(crate) request_order: B256,
}

/// The `params` of the request (spec §7.5).
fn params(request: &Request) -> Result<String> {
    let mut map = serde_json::Map::new();
    if let Some(args) = &request.args {
        map.insert("iexec_args".into(), args.clone().into());
    }
    if !request.input_files.is_empty() {
        let mut urls = Vec::new();
        for file in &request.input_files {
            urls.push(serde_json::Value::String(input_url(file)?));
        }
        map.insert("iexec_input_files".into(), urls.into());
    }
    Ok(serde_json::Value::Object(map).to_string())
}

/// An input file as a URL: URLs as they are, local paths as `file://` URLs (for workers on
/// this machine started with `--allow-file-urls`, as `agora dev`'s are).
fn input_url(file: &str) -> Result<String> {
    if file.contains("://") {
        return Ok(file.to_string());
    }
    let path = Path::new(file)
        .canonicalize()
        .with_context(|| format!("--input-file {file}: no such file"))?;
    Ok(format!("file://{}", path.display()))
}

/// Finds the orders, signs the request, matches.
pub(crate) async fn match_request(
    conn: &Conn,
    market_url: &str,
    request: &Request,
) -> Result<Matched> {
    let found = market::candidates(market_url, conn.address, request).await?;
    let Candidates {
        app,
        dataset,
        workerpool,
    } = found;
    let volume = U256::from(request.volume.max(1));
    let order = RequestOrder {
        app: request.app,
        appmaxprice: app.order.appprice,
        dataset: request.dataset.unwrap_or_default(),
        datasetmaxprice: dataset
            .as_ref()
            .map_or(Nrlc::ZERO, |d| d.order.datasetprice),
        workerpool: workerpool.order.workerpool,
        workerpoolmaxprice: workerpool.order.workerpoolprice,
        requester: conn.address,
        volume,
        tag: request.tag,
        category: U256::from(request.category),
        trust: U256::from(request.trust),
        beneficiary: request.beneficiary.unwrap_or(conn.address),
        callback: request.callback,
        params: params(request)?,
        salt: B256::from(rand08::random::<[u8; 32]>()),
    };
    let request_order = order
        .sign(&conn.domain, &conn.signer)
        .context("signing the request order")?;
    let per_task = app.order.appprice.get()
        + dataset
            .as_ref()
            .map_or(U256::ZERO, |d| d.order.datasetprice.get())
        + workerpool.order.workerpoolprice.get();
    let cost = per_task * volume;
    let (free, _) = conn.account(conn.address).await?;
    let hub = conn.hub();
    let sol_app = LibOrders::AppOrder::from(&app);
    let sol_dataset = dataset
        .as_ref()
        .map_or_else(null_dataset, LibOrders::DatasetOrder::from);
    let sol_workerpool = LibOrders::WorkerpoolOrder::from(&workerpool);
    let sol_request = LibOrders::RequestOrder::from(&request_order);
    let shortfall = cost.saturating_sub(free);
    let receipt = if shortfall.is_zero() {
        eprintln!(
            "agora run: matching the orders ({} from the account)",
            rlc(cost)
        );
        conn.send(
            "matchOrders",
            hub.matchOrders(sol_app, sol_dataset, sol_workerpool, sol_request),
        )
        .await?
    } else {
        let wallet = conn.wallet_rlc(conn.address).await?;
        if wallet < shortfall {
            bail!(
                "the deal costs {} and the account holds {}: the {} missing are not in the wallet either ({} there)",
                rlc(cost),
                rlc(free),
                rlc(shortfall),
                rlc(wallet)
            );
        }
        eprintln!(
            "agora run: depositing {} and matching the orders in one transaction",
            rlc(shortfall)
        );
        let data = Hub::matchOrdersCall {
            appOrder: sol_app,
            datasetOrder: sol_dataset,
            workerpoolOrder: sol_workerpool,
            requestOrder: sol_request,
        }
        .abi_encode();
        conn.send(
            "deposit and matchOrders",
            conn.token()
                .approveAndCall(conn.hub, shortfall, Bytes::from(data)),
        )
        .await?
    };
    let matched = receipt
        .logs()
        .iter()
        .filter(|log| log.address() == conn.hub)
        .find_map(|log| Hub::OrdersMatched::decode_log(&log.inner).ok())
        .context("the transaction matched no deal")?;
    let deal_id = DealId::new(matched.dealid);
    let deal = hub
        .viewDeal(matched.dealid)
        .call()
        .await
        .context("cannot read the deal")?;
    let volume = crate::conn::count(matched.volume, "the deal's volume", MAX_LISTED_TASKS)?;
    let tasks = (0..volume)
        .map(|i| deal_id.task(deal.botFirst + U256::from(i)))
        .collect();
    Ok(Matched {
        deal_id,
        tasks,
        transaction: receipt.transaction_hash,
        cost: per_task * matched.volume,
        deposited: shortfall,
        app_order: *app.hash(&conn.domain).as_b256(),
        dataset_order: dataset.as_ref().map(|d| *d.hash(&conn.domain).as_b256()),
        workerpool_order: *workerpool.hash(&conn.domain).as_b256(),
        request_order: *request_order.hash(&conn.domain).as_b256(),
    })
}

/// The all-zero dataset order matchOrders takes when there is no dataset.
fn null_dataset() -> LibOrders::DatasetOrder {
    LibOrders::DatasetOrder::from(&Signed {
        order: DatasetOrder::default(),
        sign: Bytes::new(),
    })
}

/// How a task ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Outcome {
    pub(crate) task_id: TaskId,
    pub(crate) status: &'static str,
    /// The result's digest on chain.
    pub(crate) result_digest: B256,
    /// The result link `finalize` recorded (JSON), if any.
    pub(crate) results: Option<String>,
}

/// The live status line: one line, rewritten in place on a terminal, printed on each change
/// otherwise.
#[derive(Debug)]
pub(crate) struct StatusLine {
    tty: bool,
    last: String,
    started: Instant,
}

impl StatusLine {
    pub(crate) fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            last: String::new(),
            started: Instant::now(),
        }
    }

    fn show(&mut self, text: String) {
        let text = printable(&text);
        if text == self.last {
            return;
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K[{elapsed:5.1}s] {text}");
        } else {
            let _ = writeln!(err, "[{elapsed:5.1}s] {text}");
        }
        let _ = err.flush();
        self.last = text;
    }

    /// A line of its own, above the status line (a status the task went through).
    fn note(&mut self, text: &str) {
        let text = printable(text);
        let elapsed = self.started.elapsed().as_secs_f64();
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K[{elapsed:5.1}s] {text}\n{}", self.last);
        } else {
            let _ = writeln!(err, "[{elapsed:5.1}s] {text}");
        }
        let _ = err.flush();
    }

    pub(crate) fn done(&mut self) {
        if self.tty && !self.last.is_empty() {
            eprintln!();
        }
    }
}

/// `text` (which may come from a hostile scheduler or worker: a failure reason, a status) as it
/// may reach a terminal: control characters, escape sequences among them, are shown escaped
/// (`\u{1b}`) instead of being interpreted by the requester's terminal.
pub(crate) fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn short(address: Address) -> String {
    let text = address.to_string();
    format!("{}…{}", &text[..6], &text[text.len() - 4..])
}

/// One line for a task: the chain's status, the scheduler's, and each worker's.
fn describe(chain_status: u8, view: Option<&TaskView>) -> String {
    let chain = CHAIN_STATUSES
        .get(chain_status as usize)
        .copied()
        .unwrap_or("?");
    let Some(view) = view else {
        return format!("chain {chain} · scheduler: no news yet");
    };
    let mut text = format!("chain {chain} · scheduler {}", view.status);
    for replicate in &view.replicates {
        text.push_str(&format!(
            " · worker {} {}",
            short(replicate.worker),
            replicate.status
        ));
    }
    text
}

/// Follows `task` until the chain says it completed or failed, showing each status; past its
/// final deadline it says so (the task can then be claimed).
pub(crate) async fn follow(
    conn: &Conn,
    scheduler_url: Option<&str>,
    task: TaskId,
    patience: Duration,
) -> Result<Outcome> {
    let http = reqwest::Client::new();
    let hub = conn.hub();
    let mut line = StatusLine::new();
    let mut seen = 0;
    let deadline = Instant::now() + patience;
    loop {
        let chain = hub
            .viewTask(*task.as_b256())
            .call()
            .await
            .context("cannot read the task")?;
        let view = match scheduler_url {
            Some(url) => scheduler_view(&http, url, task).await,
            None => None,
        };
        let status = chain.status;
        // Every status the scheduler recorded since the last look, in order: a fast task
        // goes through several between two looks.
        if let Some(view) = &view {
            for event in view.history.iter().skip(seen) {
                let who = match event.worker {
                    Some(worker) => format!("worker {}", short(worker)),
                    None => "task".to_string(),
                };
                line.note(&format!("{who} {} ({})", event.status, event.reason));
            }
            seen = seen.max(view.history.len());
        }
        line.show(describe(status, view.as_ref()));
        if status == COMPLETED || status == FAILED {
            line.done();
            let results = (!chain.results.is_empty())
                .then(|| String::from_utf8_lossy(&chain.results).into_owned());
            return Ok(Outcome {
                task_id: task,
                status: CHAIN_STATUSES[status as usize],
                result_digest: chain.resultDigest,
                results,
            });
        }
        if Instant::now() > deadline {
            line.done();
            bail!(
                "task {task} is still {} after {} s; follow it with `agora task watch {task}`",
                CHAIN_STATUSES.get(status as usize).copied().unwrap_or("?"),
                patience.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn scheduler_view(
    http: &reqwest::Client,
    url: &str,
    task: TaskId,
) -> Option<TaskView> {
    let url = format!(
        "{}{}",
        url.trim_end_matches('/'),
        agora_api::scheduler::task_path(task)
    );
    let response = http.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// Downloads a completed task's result archive and, if its digest is the task's on-chain
/// `resultDigest`, unpacks it into `out/<task id>/`; returns the folder.
pub(crate) async fn download(outcome: &Outcome, out: &Path) -> Result<PathBuf> {
    if outcome.status != "COMPLETED" {
        bail!(
            "task {} is {}: there is no result to download (a failed task is claimed to refund the requester: agora task claim {})",
            outcome.task_id,
            outcome.status,
            outcome.task_id
        );
    }
    let Some(results) = &outcome.results else {
        bail!(
            "task {} recorded no result link (a callback task's result is on chain: {})",
            outcome.task_id,
            outcome.result_digest
        );
    };
    let link: agora_api::results::ResultLink =
        serde_json::from_str(results).with_context(|| {
            format!(
                "task {}'s result link is not one this tool reads: {results}",
                outcome.task_id
            )
        })?;
    let response = reqwest::get(&link.location)
        .await
        .with_context(|| format!("cannot reach {}", link.location))?;
    if !response.status().is_success() {
        bail!("{} answered {}", link.location, response.status());
    }
    let bytes = response
        .bytes()
        .await
        .with_context(|| format!("reading {}", link.location))?;
    let folder = out.join(outcome.task_id.to_string());
    unpack_certified(&bytes, outcome.task_id, outcome.result_digest, &folder)
        .with_context(|| format!("the result downloaded from {}", link.location))?;
    Ok(folder)
}

/// The most bytes a result archive may unpack to.
const MAX_UNPACKED: u64 = 1 << 30;

/// Unpacks the result archive `archive` of `task` into `folder`, if its result digest (spec
/// §7.3, computed as the worker computed it) is `certified`, the task's on-chain
/// `resultDigest`. The entries go into a new folder next to `folder`, renamed into place
/// once all are written: a refused archive (another digest, an entry that would leave the
/// folder, a link) leaves nothing, and an earlier download in `folder` is replaced whole.
pub(crate) fn unpack_certified(
    archive: &[u8],
    task: TaskId,
    certified: B256,
    folder: &Path,
) -> Result<()> {
    let tree = agora_primitives::archive::OutputTree::from_archive(archive, MAX_UNPACKED)?;
    let result = agora_primitives::archive::TaskResult::of(&tree)
        .context("the result archive holds no result")?;
    if *result.digest.as_b256() != certified {
        bail!(
            "the result archive's digest {} is not task {task}'s on-chain result digest {certified}: not unpacked",
            result.digest
        );
    }
    let parent = folder.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let name = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{name}.partial-"))
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a folder in {}", parent.display()))?;
    for (relative, entry) in tree.entries() {
        let path = partial.path().join(relative);
        match entry {
            agora_primitives::archive::Entry::Folder => std::fs::create_dir_all(&path)
                .with_context(|| format!("cannot create {}", path.display()))?,
            agora_primitives::archive::Entry::File(bytes) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
                std::fs::write(&path, bytes)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            agora_primitives::archive::Entry::Other => {
                bail!("the result archive's entry {relative:?} is not a file or a folder")
            }
        }
    }
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    let had = folder.exists();
    if had {
        std::fs::rename(folder, &old)
            .with_context(|| format!("cannot move {} aside", folder.display()))?;
    }
    let done = partial.keep();
    if let Err(e) = std::fs::rename(&done, folder) {
        let _ = std::fs::remove_dir_all(&done);
        if had {
            let _ = std::fs::rename(&old, folder);
        }
        return Err(e).with_context(|| format!("cannot create {}", folder.display()));
    }
    if had {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

/// Options of `agora run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The app to run.
    app: Address,
    /// The dataset it reads.
    #[arg(long)]
    dataset: Option<Address>,
    /// Only this workerpool (default: the cheapest that fits).
    #[arg(long)]
    workerpool: Option<Address>,
    /// The app's arguments (`iexec_args`).
    #[arg(long)]
    args: Option<String>,
    /// An input file, a URL or a local path (repeat for several). A local path is sent as a
    /// file:// URL, which only workers started with --allow-file-urls (as `agora dev`'s are)
    /// read; workers elsewhere fetch public http(s) URLs only.
    #[arg(long = "input-file", value_name = "URL|PATH")]
    input_files: Vec<String>,
    /// The trust the result needs (above 1, several workers compute it and must agree).
    #[arg(long, default_value_t = 1)]
    trust: u64,
    /// The category (0 XS, 1 S, 2 M, 3 L, 4 XL: how long a task may run).
    #[arg(long, default_value_t = 0)]
    category: u64,
    /// The tag the deal needs (hex bitmask, bit 0 TEE).
    #[arg(long, default_value = "0x0")]
    tag: String,
    /// A contract that receives the result on chain.
    #[arg(long)]
    callback: Option<Address>,
    /// Who owns the result (default: the requester).
    #[arg(long)]
    beneficiary: Option<Address>,
    /// How many tasks (a deal of that volume; each task's index is given to the app).
    #[arg(long, default_value_t = 1)]
    volume: u64,
    /// The market.
    #[arg(
        long,
        default_value = "http://127.0.0.1:7600",
        env = "AGORA_MARKET_URL"
    )]
    market: String,
    /// The workerpool's scheduler, for the workers' statuses (without it, only the chain's).
    #[arg(
        long,
        default_value = "http://127.0.0.1:7700",
        env = "AGORA_SCHEDULER_URL"
    )]
    scheduler: String,
    /// Where the results are unpacked, a folder per task.
    #[arg(long, default_value = "agora-results")]
    out: PathBuf,
    /// Match and stop: do not follow the tasks.
    #[arg(long)]
    no_wait: bool,
    /// How long to follow a task, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    #[command(flatten)]
    chain: crate::pool::ChainArgs,
    #[command(flatten)]
    key: crate::pool::KeyArgs,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Reads a tag: hex, with or without `0x`, at most 32 bytes.
pub(crate) fn parse_tag(text: &str) -> Result<Tag> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix("0x").unwrap_or(trimmed);
    Tag::from_hex_digits(if digits.is_empty() { "0" } else { digits }).with_context(|| {
        format!("--tag {text:?} is not a hex bitmask of at most 32 bytes (0x1 is TEE)")
    })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RunReport {
    deal: Matched,
    outcomes: Vec<Outcome>,
    result_folders: Vec<Option<PathBuf>>,
}

#[allow(clippy::print_stdout, reason = "the result is the command's output")]
pub(crate) async fn command(args: Args) -> Result<()> {
    let conn = Conn::connect(&args.chain.rpc_url, args.chain.hub(), args.key.signer()?).await?;
    let request = Request {
        app: args.app,
        dataset: args.dataset,
        workerpool: args.workerpool,
        args: args.args.clone(),
        input_files: args.input_files.clone(),
        trust: args.trust,
        category: args.category,
        tag: parse_tag(&args.tag)?,
        callback: args.callback.unwrap_or_default(),
        beneficiary: args.beneficiary,
        volume: args.volume,
    };
    let deal = match_request(&conn, &args.market, &request).await?;
    eprintln!(
        "agora run: deal {} of {} task(s) for {} (transaction {})",
        deal.deal_id,
        deal.tasks.len(),
        rlc(deal.cost),
        deal.transaction
    );
    let mut outcomes = Vec::new();
    let mut folders = Vec::new();
    if !args.no_wait {
        for task in &deal.tasks {
            eprintln!("agora run: following task {task}");
            let outcome = follow(
                &conn,
                Some(&args.scheduler),
                *task,
                Duration::from_secs(args.timeout),
            )
            .await?;
            let folder = if outcome.status == "COMPLETED" && outcome.results.is_some() {
                Some(download(&outcome, &args.out).await?)
            } else {
                None
            };
            folders.push(folder);
            outcomes.push(outcome);
        }
    }
    if args.json {
        let report = RunReport {
            deal,
            outcomes,
            result_folders: folders,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return Ok(());
    }
    if args.no_wait {
        println!("{}", deal.deal_id);
        return Ok(());
    }
    for (outcome, folder) in outcomes.iter().zip(&folders) {
        match folder {
            Some(folder) => println!(
                "{} {} {}",
                outcome.task_id,
                outcome.status,
                folder.display()
            ),
            None => println!("{} {}", outcome.task_id, outcome.status),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "tests: a failed unwrap is a failed test"
    )]

    use std::io::Write as _;

    use sha2::{Digest, Sha256};

    use super::*;

    const COMPUTED: &[u8] = br#"{"deterministic-output-path":"/iexec_out/result.txt"}"#;
    const TASK: TaskId = TaskId::new(B256::repeat_byte(7));

    enum Make<'a> {
        File(&'a str, &'a [u8]),
        Link(&'a str, &'a str),
    }

    fn zip_of(entries: &[Make<'_>], method: zip::CompressionMethod) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        for entry in entries {
            match entry {
                Make::File(name, bytes) => {
                    zip.start_file(*name, options).unwrap();
                    zip.write_all(bytes).unwrap();
                }
                Make::Link(name, target) => zip.add_symlink(*name, *target, options).unwrap(),
            }
        }
        zip.finish().unwrap().into_inner()
    }

    fn digest(result: &[u8]) -> B256 {
        B256::from(<[u8; 32]>::from(Sha256::digest(result)))
    }

    /// The names in `dir`, sorted.
    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_deflated_archive_with_the_certified_digest_is_unpacked_and_replaces_an_older_one() {
        let out = tempfile::tempdir().unwrap();
        let folder = out.path().join("task");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("stale"), b"old").unwrap();
        let archive = zip_of(
            &[
                Make::File("computed.json", COMPUTED),
                Make::File("result.txt", b"42"),
                Make::File("logs/run.txt", b"ran"),
            ],
            zip::CompressionMethod::Deflated,
        );
        unpack_certified(&archive, TASK, digest(b"42"), &folder).unwrap();
        assert_eq!(std::fs::read(folder.join("result.txt")).unwrap(), b"42");
        assert_eq!(std::fs::read(folder.join("logs/run.txt")).unwrap(), b"ran");
        assert!(!folder.join("stale").exists());
        assert_eq!(listing(out.path()), ["task"]);
    }

    #[test]
    fn an_archive_of_another_digest_is_refused_naming_both_and_nothing_is_unpacked() {
        let out = tempfile::tempdir().unwrap();
        let folder = out.path().join("task");
        let archive = zip_of(
            &[
                Make::File("computed.json", COMPUTED),
                Make::File("result.txt", b"forged"),
            ],
            zip::CompressionMethod::Stored,
        );
        let error = unpack_certified(&archive, TASK, digest(b"42"), &folder)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            format!(
                "the result archive's digest {} is not task {TASK}'s on-chain result digest {}: not unpacked",
                digest(b"forged"),
                digest(b"42")
            )
        );
        assert!(listing(out.path()).is_empty());
    }

    #[test]
    fn entries_that_leave_the_folder_or_link_leave_nothing_on_disk() {
        let cases: [(&[Make<'_>], &str); 3] = [
            (
                &[
                    Make::File("computed.json", COMPUTED),
                    Make::File("result.txt", b"42"),
                    Make::File("../escaped", b"x"),
                ],
                "\"../escaped\" leaves the output folder",
            ),
            (
                &[
                    Make::File("computed.json", COMPUTED),
                    Make::File("result.txt", b"42"),
                    Make::File("/tmp/absolute", b"x"),
                ],
                "\"/tmp/absolute\" is an absolute path",
            ),
            (
                &[
                    Make::File("computed.json", COMPUTED),
                    Make::File("result.txt", b"42"),
                    Make::Link("passwd", "/etc/passwd"),
                ],
                "\"passwd\" is a symbolic link",
            ),
        ];
        for (entries, expected) in cases {
            let out = tempfile::tempdir().unwrap();
            let folder = out.path().join("sub").join("task");
            let archive = zip_of(entries, zip::CompressionMethod::Stored);
            let error = unpack_certified(&archive, TASK, digest(b"42"), &folder)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{error}");
            assert!(listing(out.path()).is_empty(), "{:?}", listing(out.path()));
        }
    }

    #[test]
    fn terminal_escapes_from_a_worker_are_shown_not_interpreted() {
        assert_eq!(
            printable("app exited with code 1"),
            "app exited with code 1"
        );
        assert_eq!(
            printable("\x1b[2Jgone\x1b]0;title\x07\r\n"),
            "\\u{1b}[2Jgone\\u{1b}]0;title\\u{7}\\u{d}\\u{a}"
        );
        assert!(!printable("a\u{9b}b\u{85}").chars().any(char::is_control));
    }
}
