//! `agora order hash` and `agora order sign` on the upstream order vectors (spec §2.8, §11.1),
//! and their one-line errors.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use serde_json::Value;

/// The domain of the vectors: chain 133 and the Bellecour PoCo proxy (spec §2.8).
const CHAIN_ID: &str = "133";
const HUB: &str = "0x3eca1B216A7DF1C7689aEb259fFB83ADFB894E7f";
/// `hashStruct(domain)` of that domain (spec §2.2).
const DOMAIN_SEPARATOR: &str = "0xfe74a571c117ad1e52a111b47ec87ee86756b7100d374152c3d0f6c039575397";

/// The key of commons-poco's test wallet, which signed the vectors. A public test key.
const KEY: &str = "0x650fbe1e220c2e019202bceec7e0005c66c737111e42a33b700dad4579c0d2fc";

/// One upstream vector: the order file, its kind, struct hash, order hash and signature (the
/// values of the primitives' vector tests).
struct Vector {
    file: &'static str,
    kind: &'static str,
    struct_hash: &'static str,
    hash: &'static str,
    sign: &'static str,
}

const VECTORS: [Vector; 4] = [
    Vector {
        file: "apporder.json",
        kind: "app",
        struct_hash: "0xb80a475500e9316e4951c0e4621f3641bac75563c18ba14fa67754b70f96f729",
        hash: "0xba3386e38e2048de59653fed9f717a2b4400efe2d704b2980f814a91ef1f90e1",
        sign: "0x82c2d8a5f59f1088eb0b9a627c367ae7dae1772c8bd98c394699ae24830611e1171026f4e28d2c60302c34a04c60c4fc2f1363e165072dca04a9f203734978671c",
    },
    Vector {
        file: "datasetorder.json",
        kind: "dataset",
        struct_hash: "0x8b729a905f3606a7df58201561743301f4c3c084487d64de9a6036fbf0f18fad",
        hash: "0x87c9e55f03233ddcbfd9f37dbef06b2932d7c20a9998ea01f26d1efe055edeb9",
        sign: "0x94661cab25380e7a6e1c20762988f6f854c5123a17ad27c65580d7c3edcfa2025a9d255c679c4cf7d489560917c17d3af3da83737b3722824918d39aecfedf711c",
    },
    Vector {
        file: "workerpoolorder.json",
        kind: "workerpool",
        struct_hash: "0x5fe3a4e32c3aecba18e7454fdbefa80046f20efdb549361792bcc388dea33482",
        hash: "0x66df04fcab380857d682cfc64a4c8906587e918857d481a29f79f7c3abd06620",
        sign: "0x18bb5dbf608ade315c9e81f0b89929a93aa36aee0a1d51e9119c66799af126596c6cfd1e676ea394e346c616710a675388d5b270a195e494e75d107c87a45dce1c",
    },
    Vector {
        file: "requestorder.json",
        kind: "request",
        struct_hash: "0x47a57e4a7847df97b8503bcbacc54e7117f2203441cc90b7a30c19aac4bfb174",
        hash: "0x03f960f8c4153017ca091fe3eb5169a51af3b7b2eae9b85a72e1af9ed2493b45",
        sign: "0x611511fa5169dff40f7b4c0013e9f149e79dfddacd80a19852a1e9b42294eaef4329367f01eb48930f990a418befed0c5634e493809f2e9a6a60727137964df51c",
    },
];

fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/orders")
        .join(file)
}

fn read_fixture(file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(file)).unwrap()).unwrap()
}

/// `agora order <args> --chain-id 133 --hub HUB` with `stdin` on standard input and no
/// `AGORA_PRIVATE_KEY` unless `env` sets it.
fn agora(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agora"))
        .arg("order")
        .args(args)
        .env_remove("AGORA_PRIVATE_KEY")
        .env_remove("AGORA_WALLET")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agora starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn domain_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut args = args.to_vec();
    args.extend(["--chain-id", CHAIN_ID, "--hub", HUB]);
    args
}

/// Runs a command that must succeed with nothing on stderr; returns its stdout.
fn success(args: &[&str], env: &[(&str, &str)], stdin: &str) -> String {
    let output = agora(&domain_args(args), env, stdin);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?} failed: {stderr}");
    assert_eq!(stderr, "", "{args:?} wrote to stderr");
    String::from_utf8(output.stdout).unwrap()
}

/// Runs a command that must fail with exit code 1, nothing on stdout and the one line
/// `error: <message>` on stderr; returns the message.
fn failure(args: &[&str], env: &[(&str, &str)], stdin: &str) -> String {
    let output = agora(args, env, stdin);
    assert_eq!(output.status.code(), Some(1), "{args:?}");
    assert!(output.stdout.is_empty(), "{args:?} wrote to stdout");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: not one line: {stderr}"
    );
    stderr
        .trim_end()
        .strip_prefix("error: ")
        .unwrap_or_else(|| panic!("{args:?}: no `error: `: {stderr}"))
        .to_owned()
}

#[test]
fn hash_prints_the_upstream_order_hashes() {
    for vector in &VECTORS {
        let path = fixture(vector.file);
        let stdout = success(&["hash", path.to_str().unwrap()], &[], "");
        assert_eq!(stdout, format!("{}\n", vector.hash), "{}", vector.file);
    }
}

#[test]
fn hash_json_reports_kind_hashes_and_domain_separator() {
    for vector in &VECTORS {
        let path = fixture(vector.file);
        let stdout = success(&["hash", path.to_str().unwrap(), "--json"], &[], "");
        let json: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "kind": vector.kind,
                "hash": vector.hash,
                "structHash": vector.struct_hash,
                "domainSeparator": DOMAIN_SEPARATOR,
            }),
            "{}",
            vector.file
        );
    }
}

#[test]
fn sign_reproduces_the_upstream_signatures() {
    for vector in &VECTORS {
        let path = fixture(vector.file);
        let stdout = success(&["sign", path.to_str().unwrap(), "--key", KEY], &[], "");
        assert!(!stdout.contains(&KEY[2..]), "the key was printed");
        let signed: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(signed["sign"], vector.sign, "{}", vector.file);
        // The signed order hashes as the order did.
        let hash = success(&["hash", "-"], &[], &stdout);
        assert_eq!(hash.trim_end(), vector.hash, "{}", vector.file);
    }
}

#[test]
fn sign_keeps_the_order_fields() {
    let stdout = success(
        &["sign", fixture("requestorder.json").to_str().unwrap()],
        &[("AGORA_PRIVATE_KEY", KEY)],
        "",
    );
    let signed: Value = serde_json::from_str(&stdout).unwrap();
    let order = read_fixture("requestorder.json");
    assert_eq!(signed["params"], order["params"]);
    assert_eq!(signed["salt"], order["salt"]);
    assert_eq!(
        signed["requester"].as_str().unwrap().to_lowercase(),
        order["requester"].as_str().unwrap().to_lowercase()
    );
    assert_eq!(signed["volume"], "0x1");
    let last = stdout.trim_end().lines().rev().nth(1).unwrap();
    assert!(
        last.trim_start().starts_with("\"sign\""),
        "sign comes after the order's fields: {stdout}"
    );
}

#[test]
fn reads_the_order_from_standard_input() {
    let order = std::fs::read_to_string(fixture("datasetorder.json")).unwrap();
    let stdout = success(&["hash", "-"], &[], &order);
    assert_eq!(stdout.trim_end(), VECTORS[1].hash);
    let stdout = success(&["sign", "-"], &[("AGORA_PRIVATE_KEY", KEY)], &order);
    let signed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(signed["sign"], VECTORS[1].sign);
}

#[test]
fn kind_option_names_the_kind() {
    let path = fixture("workerpoolorder.json");
    let stdout = success(
        &["hash", path.to_str().unwrap(), "--kind", "workerpool"],
        &[],
        "",
    );
    assert_eq!(stdout.trim_end(), VECTORS[2].hash);
}

#[test]
fn hash_depends_on_the_domain() {
    let path = fixture("apporder.json");
    let output = agora(
        &[
            "hash",
            path.to_str().unwrap(),
            "--chain-id",
            "134",
            "--hub",
            HUB,
        ],
        &[],
        "",
    );
    assert!(output.status.success());
    let hash = String::from_utf8(output.stdout).unwrap();
    assert!(hash.starts_with("0x") && hash.trim_end().len() == 66);
    assert_ne!(hash.trim_end(), VECTORS[0].hash);
}

/// The app order vector as JSON, changed by `edit`.
fn app_order(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut order = read_fixture("apporder.json");
    edit(order.as_object_mut().unwrap());
    order.to_string()
}

#[test]
fn rejects_bad_input_with_one_line_errors() {
    let hash = |stdin: &str| failure(&domain_args(&["hash", "-"]), &[], stdin);
    assert!(
        hash("{\"app\": 1").starts_with("standard input is not JSON: EOF while parsing"),
        "{}",
        hash("{\"app\": 1")
    );
    assert_eq!(
        hash("[1, 2]"),
        "standard input: expected a JSON object with the order's fields"
    );
    // The app order vector with one field set.
    let cases = [
        (
            "volume",
            Value::Bool(true),
            "AppOrder field volume: invalid type: boolean `true`, expected a 32 byte hex string",
        ),
        (
            "app",
            "0x12".into(),
            "AppOrder field app: invalid string length",
        ),
        ("colour", "blue".into(), "unknown order fields: colour"),
        (
            "datasetprice",
            "0".into(),
            "the fields mix order kinds: AppOrder has no datasetprice",
        ),
    ];
    for (field, value, message) in cases {
        let order = app_order(|o| {
            o.insert(field.into(), value);
        });
        assert_eq!(hash(&order), format!("standard input: {message}"));
    }
    let order = app_order(|o| {
        o.remove("salt");
        o.remove("tag");
    });
    assert_eq!(
        hash(&order),
        "standard input: missing AppOrder fields: tag, salt"
    );
    assert_eq!(
        hash(r#"{"app": "0x2EbD509d777B187E8394566bA6ec093B9dd73DF1", "volume": "1"}"#),
        "standard input: cannot tell the order kind: the fields app, volume fit AppOrder and \
         RequestOrder; pass --kind"
    );
}

#[test]
fn rejects_an_unreadable_file_a_bad_hub_and_a_wrong_kind() {
    let missing = failure(&domain_args(&["hash", "/nonexistent/order.json"]), &[], "");
    assert!(
        missing.starts_with("cannot read /nonexistent/order.json: "),
        "{missing}"
    );
    let path = fixture("apporder.json");
    assert_eq!(
        failure(
            &[
                "hash",
                path.to_str().unwrap(),
                "--chain-id",
                "133",
                "--hub",
                "0x12"
            ],
            &[],
            ""
        ),
        "--hub \"0x12\" is not an address: invalid string length"
    );
    let wrong_kind = failure(
        &domain_args(&["hash", path.to_str().unwrap(), "--kind", "dataset"]),
        &[],
        "",
    );
    assert!(
        wrong_kind
            .ends_with("apporder.json: not DatasetOrder fields: app, appprice, datasetrestrict"),
        "{wrong_kind}"
    );
}

#[test]
fn sign_needs_a_well_formed_key_and_never_prints_it() {
    let path = fixture("apporder.json");
    let sign = domain_args(&["sign", path.to_str().unwrap()]);
    assert_eq!(
        failure(&sign, &[], ""),
        "no signing key: pass --key 0xKEY, set AGORA_PRIVATE_KEY, or give --wallet"
    );
    assert_eq!(
        failure(&sign, &[("AGORA_PRIVATE_KEY", "")], ""),
        "no signing key: pass --key 0xKEY, set AGORA_PRIVATE_KEY, or give --wallet"
    );
    let malformed = "0xc0ffee5ecret";
    let zero = format!("0x{}", "0".repeat(64));
    for key in [malformed, &KEY[..40], &zero] {
        let message = failure(&sign, &[("AGORA_PRIVATE_KEY", key)], "");
        assert_eq!(
            message,
            "the signing key is not a private key: expected 0x and 64 hex digits of a valid \
             secp256k1 key"
        );
        let mut with_flag = sign.clone();
        with_flag.extend(["--key", key]);
        assert_eq!(failure(&with_flag, &[], ""), message);
    }
    // The help shows where the key comes from, not its value.
    let help = agora(&["sign", "--help"], &[("AGORA_PRIVATE_KEY", KEY)], "");
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("AGORA_PRIVATE_KEY"), "{help}");
    assert!(!help.contains(&KEY[2..]), "the help printed the key");
}
