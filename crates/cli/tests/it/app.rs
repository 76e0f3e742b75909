//! `agora app test`: the example apps run as a worker runs them.

use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

fn agora(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["app", "test"])
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .unwrap()
}

#[test]
fn hello_world_runs_and_prints_its_digest_and_computed_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let output = agora(&[
        "examples/hello/hello.wasm",
        "--args",
        "Alice 'and Bob'",
        "--out",
        out,
    ]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stdout}{stderr}");
    let expected = format!(
        "0x{}",
        hex::encode(Sha256::digest(b"Hello, Alice and Bob!\n"))
    );
    assert!(
        stdout.contains(&format!("digest:   {expected}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"computed: {"deterministic-output-path":"/iexec_out/result.txt"}"#),
        "{stdout}"
    );
    assert!(
        stderr.contains("Hello, Alice and Bob!"),
        "the app's stdout: {stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/result.txt")).unwrap(),
        "Hello, Alice and Bob!\n"
    );
    assert!(dir.path().join("result.zip").exists());
}

#[test]
fn the_dataset_reader_reads_its_dataset_and_input_files() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = dir.path().join("data.txt");
    std::fs::write(&dataset, "one two\nthree\n").unwrap();
    let input = dir.path().join("extra.bin");
    std::fs::write(&input, [1, 2, 3]).unwrap();
    let out = dir.path().join("run");
    let output = agora(&[
        "examples/dataset-reader/dataset-reader.wasm",
        "--dataset",
        dataset.to_str().unwrap(),
        "--input-file",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["outcome"], "completed");
    let result = std::fs::read_to_string(out.join("out/result.txt")).unwrap();
    assert!(result.contains("bytes: 14"), "{result}");
    assert!(result.contains("lines: 2"), "{result}");
    assert!(result.contains("words: 3"), "{result}");
    assert!(
        result.contains(&format!(
            "sha256: {}",
            hex::encode(Sha256::digest(b"one two\nthree\n"))
        )),
        "{result}"
    );
    assert!(result.contains("input files: 1"), "{result}");
    let digest = format!("0x{}", hex::encode(Sha256::digest(result.as_bytes())));
    assert_eq!(report["digest"], digest);

    // Without a dataset it fails, says why, and there is no result.
    let output = agora(&["examples/dataset-reader/dataset-reader.wasm", "--json"]);
    assert!(!output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["outcome"], "exited with code 1");
    assert!(
        report["stderr"]
            .as_str()
            .unwrap()
            .contains("IEXEC_DATASET_FILENAME"),
        "{report}"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("error: no result: the app exited with code 1"),
        "{stderr}"
    );
}

#[test]
fn a_runaway_app_is_stopped_with_a_named_reason() {
    let output = agora(&["examples/wat/loop.wat", "--max-time", "1"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    // Fuel is sized from the time limit; on a loaded machine the clock may stop it first.
    assert!(
        stderr.contains("error: no result: the app stopped: out of fuel")
            || stderr.contains("error: no result: the app stopped: deadline"),
        "{stderr}"
    );
    let output = agora(&["examples/wat/memory_bomb.wat", "--memory", "8"]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("memory limit"), "{stderr}");
    let output = agora(&["no/such/app.wasm"]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("error: cannot read the app no/such/app.wasm"),
        "{stderr}"
    );
}

#[test]
fn a_sleeping_app_is_not_held_and_says_how_long_it_slept() {
    for (args, slept) in [
        (&[][..], "slept 20.000 s of task time"),
        (
            &["--args", "forever"][..],
            "slept 18446744073.710 s of task time",
        ),
    ] {
        let started = std::time::Instant::now();
        let output = agora(&[&["examples/wat/sleep.wat", "--max-time", "1"][..], args].concat());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "held {:?}",
            started.elapsed()
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(stdout.contains("outcome:  completed"), "{stdout}");
        assert!(stdout.contains(slept), "{stdout}");
    }
}
