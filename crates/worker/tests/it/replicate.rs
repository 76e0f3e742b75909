//! A replicate as a worker runs it: the result digest and archive, the same digest twice,
//! fetching a module by URL and refusing a tampered one.

use std::path::PathBuf;

use agora_worker::{
    Checksum, DealParams, Error, Limits, Sandbox, TaskContext, Verdict, Workspace, execute,
    write_archive,
};
use alloy_primitives::B256;
use sha2::{Digest, Sha256};

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/wat")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    wat::parse_file(fixture_path(name)).unwrap()
}

fn context() -> TaskContext {
    TaskContext {
        task_id: B256::repeat_byte(1),
        deal_id: B256::repeat_byte(2),
        index: 0,
        bot_first: 0,
        bot_size: 1,
        deal_start: 1_700_000_000,
        params: DealParams::default(),
        dataset: None,
    }
}

#[test]
fn a_result_gets_its_digest_and_the_same_run_gives_the_same_digest() {
    let sandbox = Sandbox::new().unwrap();
    let app = sandbox.load(&fixture("result.wat")).unwrap();
    let mut digests = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let workspace = Workspace::create(dir.path()).unwrap();
        let execution = execute(
            &sandbox,
            &app,
            &context(),
            &workspace,
            Limits::for_max_time(std::time::Duration::from_secs(1)),
        )
        .unwrap();
        let Verdict::Result(result) = execution.verdict else {
            panic!("{:?}", execution.verdict);
        };
        assert_eq!(
            result.digest,
            B256::from(<[u8; 32]>::from(Sha256::digest(b"42\n")))
        );
        let archive = dir.path().join("result.zip");
        write_archive(&workspace.output(), &archive).unwrap();
        digests.push((result.digest, std::fs::read(&archive).unwrap()));
    }
    assert_eq!(digests[0], digests[1], "same digest, same archive");
}

#[test]
fn an_app_that_fails_gives_no_result_and_says_why() {
    let sandbox = Sandbox::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace::create(dir.path()).unwrap();
    let limits = Limits::for_max_time(std::time::Duration::from_secs(1));
    let trap = sandbox.load(&fixture("trap.wat")).unwrap();
    let execution = execute(&sandbox, &trap, &context(), &workspace, limits).unwrap();
    let Verdict::Failed(reason) = execution.verdict else {
        panic!("a trap gave a result");
    };
    assert!(reason.contains("stopped: trap"), "{reason}");
    // An app that ends well but writes no computed.json.
    let quiet = sandbox
        .load(
            &wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "_start")))"#)
                .unwrap(),
        )
        .unwrap();
    let execution = execute(&sandbox, &quiet, &context(), &workspace, limits).unwrap();
    assert_eq!(
        execution.verdict,
        Verdict::Failed("bad result: the app wrote no /iexec_out/computed.json (No such file or directory (os error 2))".into())
    );
}

#[test]
fn a_tampered_module_is_refused_before_it_is_compiled() {
    let sandbox = Sandbox::new().unwrap();
    let bytes = fixture("result.wat");
    let checksum = Checksum::of(&bytes);
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let Err(Error::ChecksumMismatch { expected, actual }) =
        sandbox.load_verified(&tampered, checksum)
    else {
        panic!("a tampered module was accepted");
    };
    assert_eq!((expected, actual), (checksum, Checksum::of(&tampered)));
    assert!(
        sandbox.cached(&Checksum::of(&tampered)).is_none(),
        "never compiled"
    );
    let app = sandbox.load_verified(&bytes, checksum).unwrap();
    assert_eq!(app.checksum(), checksum);
}

#[test]
fn the_app_gets_the_task_arguments_and_environment() {
    let sandbox = Sandbox::new().unwrap();
    let app = sandbox.load(&fixture("env.wat")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace::create(dir.path()).unwrap();
    let mut context = context();
    context.params = DealParams::parse(
        r#"{"iexec_args":"one 'two words'","iexec_input_files":["https://example.com/a.csv"]}"#,
    )
    .unwrap();
    context.dataset = Some(agora_worker::DatasetInput::new(
        alloy_primitives::Address::repeat_byte(9),
    ));
    let limits = Limits::for_max_time(std::time::Duration::from_secs(1));
    let execution = execute(&sandbox, &app, &context, &workspace, limits).unwrap();
    let stdout = String::from_utf8(execution.outcome.stdout).unwrap();
    let (args, env) = stdout.split_once("\0\0").unwrap();
    assert_eq!(
        args.split('\0').collect::<Vec<_>>(),
        ["app", "one", "two words"]
    );
    let env: Vec<&str> = env.trim_end_matches('\0').split('\0').collect();
    let expected: Vec<String> = context
        .env()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    assert_eq!(env, expected);
    for variable in [
        "IEXEC_IN=/iexec_in",
        "IEXEC_OUT=/iexec_out",
        "IEXEC_TASK_ID=0x0101010101010101010101010101010101010101010101010101010101010101",
        "IEXEC_INPUT_FILES_NUMBER=1",
        "IEXEC_DATASET_FILENAME=0x0909090909090909090909090909090909090909",
    ] {
        assert!(env.contains(&variable), "{variable} in {env:?}");
    }
    assert!(
        !env.iter()
            .any(|v| v.starts_with("PATH=") || v.starts_with("HOME=")),
        "nothing of the host's"
    );
}

#[test]
fn an_app_has_no_network() {
    let sandbox = Sandbox::new().unwrap();
    let app = sandbox.load(&fixture("network.wat")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace::create(dir.path()).unwrap();
    let limits = Limits::for_max_time(std::time::Duration::from_secs(1));
    let execution = execute(&sandbox, &app, &context(), &workspace, limits).unwrap();
    assert_eq!(
        execution.outcome.exit,
        agora_worker::Exit::Code(1),
        "no socket to accept on"
    );
}

#[test]
fn a_reused_workspace_shows_nothing_of_the_previous_run() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = Workspace::create(dir.path()).unwrap();
    std::fs::write(workspace.input().join("dataset"), b"secret").unwrap();
    std::fs::create_dir_all(workspace.output().join("sub")).unwrap();
    std::fs::write(workspace.output().join("sub/result.txt"), b"old").unwrap();
    std::fs::write(workspace.output().join("computed.json"), b"{}").unwrap();
    let again = Workspace::create(dir.path()).unwrap();
    for folder in [again.input(), again.output()] {
        assert!(folder.is_dir(), "{}", folder.display());
        assert_eq!(
            std::fs::read_dir(&folder).unwrap().count(),
            0,
            "{}",
            folder.display()
        );
    }
    std::fs::write(again.input().join("input"), b"x").unwrap();
    std::fs::write(again.output().join("out"), b"y").unwrap();
    again.clear().unwrap();
    for folder in [again.input(), again.output()] {
        assert_eq!(
            std::fs::read_dir(&folder).unwrap().count(),
            0,
            "{}",
            folder.display()
        );
    }
}
