//! `agora app`: run an app locally exactly as a worker would.

use std::{
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use agora_worker::{
    DatasetInput, DealParams, Execution, Limits, Sandbox, TaskContext, Verdict, Workspace,
};
use alloy_primitives::{Address, B256};
use anyhow::{Context, bail};

/// `agora app` commands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Args {
    /// Run an app as a worker would (same sandbox, limits, conventions and digest) and print
    /// the outcome, the result digest and computed.json.
    Test(TestArgs),
    #[command(flatten)]
    Asset(crate::assets::Args),
}

/// Options of `agora app test`.
#[derive(Debug, clap::Args)]
pub(crate) struct TestArgs {
    /// The app: a WebAssembly module (.wasm, or its text form .wat) for WASI preview 1.
    module: PathBuf,
    /// The app's arguments, as the deal's `iexec_args` (split as a shell would).
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    args: String,
    /// A file given to the app as an input file (repeat for several): copied into the input
    /// directory under the name a worker gives it.
    #[arg(long = "input-file", value_name = "FILE")]
    input_files: Vec<PathBuf>,
    /// A file given to the app as its dataset (IEXEC_DATASET_FILENAME).
    #[arg(long, value_name = "FILE")]
    dataset: Option<PathBuf>,
    /// Keep the run here: DIR/in, DIR/out (the app's output) and DIR/result.zip. Default: a
    /// temporary directory, removed at the end.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The category's maximum run time in seconds: the fuel and the wall clock derive from it.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    max_time: u64,
    /// Memory cap of the app, in MiB.
    #[arg(long, default_value_t = 512, value_name = "MIB")]
    memory: usize,
    /// The task id the app is told (its randomness derives from it).
    #[arg(long, value_name = "0xID")]
    task_id: Option<B256>,
    /// What the app's clock starts at, in seconds since the Unix epoch (a worker uses the
    /// deal's start). Default: now.
    #[arg(long, value_name = "SECONDS")]
    start: Option<u64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    match args {
        Args::Test(args) => test(args),
        Args::Asset(args) => crate::runtime()
            .and_then(|r| r.block_on(crate::assets::run(crate::assets::Kind::App, args))),
    }
}

fn test(args: TestArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.module)
        .with_context(|| format!("cannot read the app {}", args.module.display()))?;
    let temporary;
    let root = match &args.out {
        Some(dir) => dir.clone(),
        None => {
            temporary = tempfile::tempdir().context("cannot create a temporary directory")?;
            temporary.path().to_path_buf()
        }
    };
    let workspace = Workspace::create(&root)?;
    let mut params = DealParams {
        args: args.args.clone(),
        ..DealParams::default()
    };
    for file in &args.input_files {
        let absolute = std::fs::canonicalize(file)
            .with_context(|| format!("--input-file {}: no such file", file.display()))?;
        let url = format!("file://{}", absolute.display());
        let target = workspace.input().join(TaskContext::input_file_name(&url));
        std::fs::copy(&absolute, &target)
            .with_context(|| format!("--input-file {}: cannot copy it", file.display()))?;
        params.input_files.push(url);
    }
    let dataset = match &args.dataset {
        Some(file) => {
            let content = std::fs::read(file)
                .with_context(|| format!("--dataset {}: cannot read it", file.display()))?;
            // A stand-in address, the same for the same content.
            let digest = alloy_primitives::keccak256(&content);
            let input = DatasetInput::new(Address::from_slice(&digest[12..]));
            let target = workspace.input().join(&input.filename);
            std::fs::write(&target, &content)
                .with_context(|| format!("cannot write {}", target.display()))?;
            Some(input)
        }
        None => None,
    };
    let start = match args.start {
        Some(start) => start,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
    };
    let context = TaskContext {
        task_id: args.task_id.unwrap_or_default(),
        deal_id: B256::ZERO,
        index: 0,
        bot_first: 0,
        bot_size: 1,
        deal_start: start,
        params,
        dataset,
    };
    let limits = Limits {
        memory: args.memory << 20,
        ..Limits::for_max_time(Duration::from_secs(args.max_time))
    };
    let sandbox = Sandbox::new()?;
    let app = sandbox
        .load(&bytes)
        .with_context(|| format!("cannot load {}", args.module.display()))?;
    let execution = agora_worker::execute(&sandbox, &app, &context, &workspace, limits)?;
    let archive = root.join("result.zip");
    let kept = args.out.is_some();
    if kept {
        agora_worker::write_archive(&workspace.output(), &archive)?;
    }
    if args.json {
        print_json(
            &args,
            &app.checksum().to_string(),
            &execution,
            kept.then_some((&workspace, &archive)),
        )?;
    } else {
        print_text(
            &args,
            limits.log,
            &bytes,
            &app.checksum().to_string(),
            &execution,
            kept.then_some((&workspace, &archive)),
        );
    }
    match &execution.verdict {
        Verdict::Result(_) => Ok(()),
        Verdict::Failed(reason) => bail!("no result: {reason}"),
    }
}

#[allow(clippy::print_stdout, reason = "the report is the command's output")]
fn print_text(
    args: &TestArgs,
    log_cap: usize,
    bytes: &[u8],
    checksum: &str,
    execution: &Execution,
    kept: Option<(&Workspace, &Path)>,
) {
    let outcome = &execution.outcome;
    for (name, log) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
        if !log.is_empty() {
            if log.len() >= log_cap {
                eprintln!("--- app {name} (cut at the log cap of {log_cap} bytes) ---");
            } else {
                eprintln!("--- app {name} ---");
            }
            eprint!("{}", String::from_utf8_lossy(log));
            if !log.ends_with(b"\n") {
                eprintln!();
            }
        }
    }
    let mut out = String::new();
    out.push_str(&format!(
        "app:      {} ({} bytes, checksum {checksum})\n",
        args.module.display(),
        bytes.len()
    ));
    out.push_str(&format!(
        "outcome:  {} (after {:.3} ms and {} instructions)\n",
        outcome.exit,
        outcome.elapsed.as_secs_f64() * 1000.0,
        outcome.fuel_used
    ));
    if !outcome.slept.is_zero() {
        out.push_str(&format!(
            "clocks:   the app slept {:.3} s of task time without waiting (a sleep moves its clocks)\n",
            outcome.slept.as_secs_f64()
        ));
    }
    match &execution.verdict {
        Verdict::Result(result) => {
            out.push_str(&format!("digest:   {}\n", result.digest));
            out.push_str(&format!("computed: {}\n", computed_json(&result.computed)));
        }
        Verdict::Failed(reason) => out.push_str(&format!("result:   none: {reason}\n")),
    }
    if let Some((workspace, archive)) = kept {
        out.push_str(&format!("output:   {}\n", workspace.output().display()));
        out.push_str(&format!("archive:  {}\n", archive.display()));
    }
    print!("{out}");
}

#[allow(clippy::print_stdout, reason = "the report is the command's output")]
fn print_json(
    args: &TestArgs,
    checksum: &str,
    execution: &Execution,
    kept: Option<(&Workspace, &Path)>,
) -> anyhow::Result<()> {
    let outcome = &execution.outcome;
    let (digest, computed, failure) = match &execution.verdict {
        Verdict::Result(result) => (
            Some(result.digest.to_string()),
            Some(computed_json(&result.computed)),
            None,
        ),
        Verdict::Failed(reason) => (None, None, Some(reason.clone())),
    };
    let report = serde_json::json!({
        "app": args.module.display().to_string(),
        "checksum": checksum,
        "outcome": outcome.exit.to_string(),
        "fuelUsed": outcome.fuel_used,
        "elapsedMs": outcome.elapsed.as_secs_f64() * 1000.0,
        "sleptMs": outcome.slept.as_secs_f64() * 1000.0,
        "stdout": String::from_utf8_lossy(&outcome.stdout),
        "stderr": String::from_utf8_lossy(&outcome.stderr),
        "digest": digest,
        "computed": computed,
        "failure": failure,
        "output": kept.map(|(w, _)| w.output().display().to_string()),
        "archive": kept.map(|(_, a)| a.display().to_string()),
    });
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// computed.json's fields that the app set.
fn computed_json(computed: &agora_worker::ComputedFile) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    if let Some(path) = &computed.deterministic_output_path {
        map.insert("deterministic-output-path".into(), path.clone().into());
    }
    if let Some(data) = &computed.callback_data {
        map.insert("callback-data".into(), data.clone().into());
    }
    map.into()
}
