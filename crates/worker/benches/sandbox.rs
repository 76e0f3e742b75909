//! The cost of a replicate from the compiled-module cache: the hello-world example app
//! instantiated and run in the sandbox (a fresh WASI context, its two directories, the
//! limits), and the whole replicate with the result digest read back.
//!
//! ```sh
//! cargo bench -p agora-worker --bench sandbox
//! ```
//!
//! Replicates per second on one core = 1 s / the median of `replicate`.

use std::{path::PathBuf, time::Duration};

use agora_worker::{DealParams, Limits, RunSpec, Sandbox, TaskContext, Workspace, execute};
use alloy_primitives::B256;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn hello() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello/hello.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bench(c: &mut Criterion) {
    let sandbox = Sandbox::new().expect("the sandbox starts");
    let app = sandbox.load(&hello()).expect("hello loads");
    let limits = Limits::for_max_time(Duration::from_secs(300));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let context = TaskContext {
        task_id: B256::repeat_byte(1),
        deal_id: B256::repeat_byte(2),
        index: 0,
        bot_first: 0,
        bot_size: 1,
        deal_start: 1_700_000_000,
        params: DealParams {
            args: "Alice".into(),
            ..DealParams::default()
        },
        dataset: None,
    };
    let mut group = c.benchmark_group("hello");
    group.measurement_time(Duration::from_secs(10));
    // Instantiate and run only: the output directory is made empty outside the timing.
    group.bench_function("run", |b| {
        b.iter_batched(
            || Workspace::create(dir.path()).expect("a workspace"),
            |workspace| {
                let spec = RunSpec {
                    args: vec!["Alice".into()],
                    env: context.env(),
                    input_dir: workspace.input(),
                    output_dir: workspace.output(),
                    clock_start: context.deal_start,
                    seed: context.seed(),
                    limits,
                };
                sandbox.run(&app, &spec).expect("runs")
            },
            BatchSize::PerIteration,
        )
    });
    // A whole replicate: a fresh workspace, the run, computed.json and the digest.
    group.bench_function("replicate", |b| {
        b.iter(|| {
            let workspace = Workspace::create(dir.path()).expect("a workspace");
            execute(&sandbox, &app, &context, &workspace, limits).expect("executes")
        })
    });
    // The first run of an app: compiling it (what the cache saves).
    group.sample_size(10);
    group.bench_function("compile", |b| {
        let bytes = hello();
        b.iter(|| {
            Sandbox::new()
                .expect("a sandbox")
                .load(&bytes)
                .expect("compiles")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
