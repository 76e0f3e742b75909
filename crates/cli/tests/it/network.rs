//! The whole network from the command line, as a person runs it: `agora demo`, `agora dev`
//! (and its restart), `agora run` against it, and the refusals of `agora run`.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Output, Stdio},
};

use serde_json::Value;

pub(crate) fn agora() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agora"));
    command.env_remove("AGORA_KEY").env("AGORA_LOG", "warn");
    command
}

pub(crate) fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn demo_runs_a_task_end_to_end_and_prints_its_certified_result() {
    let out = tempfile::tempdir().unwrap();
    let output = agora()
        .args(["demo", "--args", "from the test", "--out"])
        .arg(out.path())
        .output()
        .expect("agora demo runs");
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("result.txt: Hello, from the test!"),
        "{stdout}"
    );
    assert!(stdout.contains("COMPLETED"), "{stdout}");
    // Every status the task went through was shown.
    for status in ["COMPUTING", "CONTRIBUTED", "REVEALED", "COMPLETED"] {
        assert!(stderr.contains(status), "{status} not shown:\n{stderr}");
    }
    let folders: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
    assert_eq!(folders.len(), 1, "one folder per task");
    let folder = folders[0].as_ref().unwrap().path();
    assert_eq!(
        std::fs::read_to_string(folder.join("result.txt")).unwrap(),
        "Hello, from the test!\n"
    );
    assert!(folder.join("computed.json").is_file());
}

/// A running `agora dev`, interrupted (as Ctrl-C does) when dropped.
pub(crate) struct Dev {
    child: Child,
    pub(crate) info: Value,
    /// The folder `agora dev` was started from, where `agora run` runs too: its default
    /// `./agora-results` lands there, not in the checkout.
    cwd: std::path::PathBuf,
}

impl Dev {
    pub(crate) fn start(dir: &Path) -> Self {
        // A relative --dir, as people type it.
        let mut child = agora()
            .current_dir(dir.parent().expect("a parent"))
            .args(["dev", "--json", "--dir"])
            .arg(dir.file_name().expect("a name"))
            .args([
                "--chain-port",
                "0",
                "--market-port",
                "0",
                "--results-port",
                "0",
                "--scheduler-port",
                "0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("agora dev starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut json = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("a line");
            json.push_str(&line);
            json.push('\n');
            if line == "}" {
                break;
            }
        }
        let info: Value = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("agora dev printed no JSON ({e}):\n{json}"));
        Self {
            child,
            info,
            cwd: dir.parent().expect("a parent").to_path_buf(),
        }
    }

    pub(crate) fn url(&self, key: &str) -> String {
        self.info[key].as_str().expect(key).to_string()
    }

    /// `agora run` against this network, as dev account 6 (the requester).
    pub(crate) fn run(&self, extra: &[&str]) -> Output {
        agora()
            .current_dir(&self.cwd)
            .arg("run")
            .args(extra)
            .args(["--dev-account", "6", "--timeout", "120"])
            .args(["--rpc-url", &self.url("rpcUrl")])
            .args(["--hub", &self.url("hub")])
            .args(["--market", &self.url("marketUrl")])
            .args(["--scheduler", &self.url("schedulerUrl")])
            .output()
            .expect("agora run runs")
    }

    pub(crate) fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let status = self.child.wait().expect("agora dev ends");
        assert!(status.success(), "agora dev ended with {status}");
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn dev_keeps_its_state_across_a_restart_and_agora_run_gets_results_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("dev");
    let out = dir.path().join("results");
    let dev = Dev::start(&state);
    assert_eq!(dev.info["restored"], false);
    let app = dev.url("app");
    let output = dev.run(&[
        &app,
        "--args",
        "first",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("a JSON report");
    let folder = report["resultFolders"][0]
        .as_str()
        .expect("a result folder");
    assert_eq!(
        std::fs::read_to_string(Path::new(folder).join("result.txt")).unwrap(),
        "Hello, first!\n"
    );
    let workerpool = dev.url("workerpool");
    dev.stop();

    let dev = Dev::start(&state);
    assert_eq!(dev.info["restored"], true);
    assert_eq!(dev.url("app"), app, "the same app after the restart");
    assert_eq!(dev.url("workerpool"), workerpool);
    let output = dev.run(&[&app, "--args", "second", "--out", out.to_str().unwrap()]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let line = stdout.lines().next().expect("a line per task");
    let folder = line.split_whitespace().nth(2).expect("task status folder");
    assert_eq!(
        std::fs::read_to_string(Path::new(folder).join("result.txt")).unwrap(),
        "Hello, second!\n"
    );

    // Nothing in the market fits: the error names the order and the reason.
    let output = dev.run(&[&app, "--trust", "1000"]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(stderr.contains("no usable workerpool order"), "{stderr}");
    assert!(
        stderr.contains("offers trust up to 100, not 1000"),
        "{stderr}"
    );
    let output = dev.run(&["0x00000000000000000000000000000000000000aa"]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr
            .to_lowercase()
            .contains("no app order for app 0x00000000000000000000000000000000000000aa"),
        "{stderr}"
    );
    dev.stop();
}

/// `agora` with the network's endpoints and the given wallet, for a new user.
fn user(dev: &Dev, wallet: &Path, args: &[&str]) -> Output {
    agora()
        .args(args)
        .env("AGORA_RPC_URL", dev.url("rpcUrl"))
        .env("AGORA_HUB", dev.url("hub"))
        .env("AGORA_MARKET_URL", dev.url("marketUrl"))
        .env("AGORA_SCHEDULER_URL", dev.url("schedulerUrl"))
        .env("AGORA_WALLET", wallet)
        .env("AGORA_WALLET_PASSWORD", "correct horse battery staple")
        .output()
        .expect("agora runs")
}

/// stdout of a command that must succeed.
pub(crate) fn ok(output: Output) -> String {
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    stdout
}

/// stderr of a command that must fail.
fn refused(output: Output) -> String {
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success(), "succeeded: {stdout}");
    stderr
}

pub(crate) fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn a_new_user_goes_from_a_wallet_to_a_published_app_and_its_result() {
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(&dir.path().join("dev"));
    let wallet = dir.path().join("me.json");

    // A wallet, and a wrong password refused.
    let me = json(&ok(user(&dev, &wallet, &["wallet", "create", "--json"])));
    let address = me["address"].as_str().unwrap().to_string();
    let again = refused(user(&dev, &wallet, &["wallet", "create"]));
    assert!(again.contains("exists"), "{again}");
    let wrong = refused(
        agora()
            .args(["wallet", "show", "--wallet"])
            .arg(&wallet)
            .env("AGORA_WALLET_PASSWORD", "wrong")
            .output()
            .unwrap(),
    );
    assert!(wrong.contains("wrong password"), "{wrong}");

    // RLC from the admin (dev account 0), then a deposit.
    ok(user(
        &dev,
        &wallet,
        &[
            "wallet",
            "send",
            "20",
            "--to",
            &address,
            "--dev-account",
            "0",
        ],
    ));
    let balance = json(&ok(user(
        &dev,
        &wallet,
        &["account", "deposit", "5", "--json"],
    )));
    assert_eq!(balance["free"], "5000000000");
    assert_eq!(balance["wallet"], "15000000000");
    let short = refused(user(&dev, &wallet, &["account", "withdraw", "6"]));
    assert!(short.contains("holds 5 RLC free"), "{short}");

    // An app of one's own, and its order on the market.
    let hello = agora_root().join("examples/hello/hello.wasm");
    let app = json(&ok(user(
        &dev,
        &wallet,
        &[
            "app",
            "deploy",
            "--name",
            "mine",
            "--file",
            hello.to_str().unwrap(),
            "--json",
        ],
    )));
    let app_address = app["address"].as_str().unwrap().to_string();
    assert_eq!(app["owner"].as_str().unwrap(), address);
    let listed = json(&ok(user(
        &dev,
        &wallet,
        &["app", "list", "--owner", &address, "--json"],
    )));
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let chain_id = dev.info["chainId"].to_string();
    let sign = |order: &str| sign_with_wallet(&dev, &wallet, order, &dir.path().join("order.json"));
    let publish = |signed: &str| {
        let file = dir.path().join("signed.json");
        std::fs::write(&file, signed).unwrap();
        user(
            &dev,
            &wallet,
            &["order", "publish", file.to_str().unwrap(), "--json"],
        )
    };
    let order = ok(user(
        &dev,
        &wallet,
        &[
            "order",
            "create",
            "app",
            &app_address,
            "--price",
            "0.2",
            "--volume",
            "1",
        ],
    ));
    let signed = sign(&order);
    let entry = json(&ok(publish(&signed)));
    let hash = entry["hash"].as_str().unwrap().to_string();
    assert_eq!(entry["status"], "OPEN");

    // Refused: a signature that is not the owner's, an asset one does not own, no volume.
    let another = ok(user(
        &dev,
        &wallet,
        &["order", "create", "app", &app_address, "--price", "0.2"],
    ));
    let forged = ok(agora()
        .args([
            "order",
            "sign",
            "-",
            "--chain-id",
            &chain_id,
            "--hub",
            &dev.url("hub"),
        ])
        .env(
            "AGORA_PRIVATE_KEY",
            "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        )
        .stdin_order(&another));
    let message = refused(publish(&forged));
    assert!(message.to_lowercase().contains("sign"), "{message}");
    let demo_order = ok(user(
        &dev,
        &wallet,
        &["order", "create", "app", &dev.url("app"), "--price", "0"],
    ));
    let message = refused(publish(&sign(&demo_order)));
    assert!(message.to_lowercase().contains("owner"), "{message}");
    let empty = ok(user(
        &dev,
        &wallet,
        &["order", "create", "app", &app_address, "--volume", "0"],
    ));
    let message = refused(publish(&sign(&empty)));
    assert!(message.contains("volume is 0"), "{message}");

    // Run the app as oneself: the result, and the order filled.
    let out = dir.path().join("results");
    let report = json(&ok(user(
        &dev,
        &wallet,
        &[
            "run",
            &app_address,
            "--args",
            "my own app",
            "--json",
            "--out",
            out.to_str().unwrap(),
        ],
    )));
    let folder = report["resultFolders"][0]
        .as_str()
        .expect("a result folder");
    assert_eq!(
        std::fs::read_to_string(Path::new(folder).join("result.txt")).unwrap(),
        "Hello, my own app!\n"
    );
    let shown = json(&ok(user(
        &dev,
        &wallet,
        &["order", "show", &hash, "--json"],
    )));
    assert_eq!(shown["status"], "FILLED", "{shown}");
    // Its volume is used up: publishing it again is refused.
    let message = refused(publish(&signed));
    assert!(
        message.contains("no volume left: 1 of 1 consumed"),
        "{message}"
    );
    let task = report["outcomes"][0]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = json(&ok(user(&dev, &wallet, &["task", "show", &task, "--json"])));
    assert_eq!(shown[0]["status"], "COMPLETED");
    dev.stop();
}

/// `order` (JSON) signed with the wallet, through the file `file`.
fn sign_with_wallet(dev: &Dev, wallet: &Path, order: &str, file: &Path) -> String {
    std::fs::write(file, order).unwrap();
    let chain_id = dev.info["chainId"].to_string();
    ok(user(
        dev,
        wallet,
        &[
            "order",
            "sign",
            file.to_str().unwrap(),
            "--chain-id",
            &chain_id,
            "--hub",
            &dev.url("hub"),
        ],
    ))
}

pub(crate) fn agora_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs a command with `input` on its standard input.
trait StdinOrder {
    fn stdin_order(&mut self, input: &str) -> Output;
}

impl StdinOrder for Command {
    fn stdin_order(&mut self, input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("agora runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("written");
        child.wait_with_output().expect("agora ends")
    }
}

/// One JSON-RPC call to the dev chain.
fn rpc(dev: &Dev, method: &str, params: Value) -> Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        reqwest::Client::new()
            .post(dev.url("rpcUrl"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    })
}

#[test]
fn a_pool_nobody_runs_leaves_its_deal_to_be_claimed_and_owners_transfer_and_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::start(&dir.path().join("dev"));
    let wallet = dir.path().join("me.json");
    // A key of one's own, imported (AGORA_KEY) into a wallet.
    let imported = agora()
        .args(["wallet", "import", "--json", "--wallet"])
        .arg(&wallet)
        .env("AGORA_KEY", format!("0x{}", "11".repeat(32)))
        .env("AGORA_WALLET_PASSWORD", "correct horse battery staple")
        .output()
        .unwrap();
    let me = json(&ok(imported));
    let address = me["address"].as_str().unwrap().to_string();
    let shown = json(&ok(user(&dev, &wallet, &["wallet", "show", "--json"])));
    assert_eq!(
        shown["address"], me["address"],
        "the wallet holds the imported key"
    );
    ok(user(
        &dev,
        &wallet,
        &[
            "wallet",
            "send",
            "50",
            "--to",
            &address,
            "--dev-account",
            "0",
        ],
    ));
    ok(user(&dev, &wallet, &["account", "deposit", "40"]));

    // A workerpool of one's own, with no scheduler and no workers, and its order.
    let pool = json(&ok(user(
        &dev,
        &wallet,
        &["workerpool", "deploy", "--name", "an idle pool", "--json"],
    )));
    let pool = pool["address"].as_str().unwrap().to_string();
    let order = ok(user(
        &dev,
        &wallet,
        &[
            "order",
            "create",
            "workerpool",
            &pool,
            "--price",
            "1",
            "--trust",
            "1",
        ],
    ));
    let file = dir.path().join("pool-order.json");
    let signed = sign_with_wallet(&dev, &wallet, &order, &file);
    std::fs::write(&file, &signed).unwrap();
    let entry = json(&ok(user(
        &dev,
        &wallet,
        &["order", "publish", file.to_str().unwrap(), "--json"],
    )));
    let hash = entry["hash"].as_str().unwrap().to_string();

    // A deal on it: matched, and then nothing happens.
    let deal = ok(user(
        &dev,
        &wallet,
        &["run", &dev.url("app"), "--workerpool", &pool, "--no-wait"],
    ));
    let deal = deal.trim().to_string();
    let early = refused(user(&dev, &wallet, &["deal", "claim", &deal]));
    assert!(early.contains("cannot be claimed yet"), "{early}");

    // Past the final deadline (10 × the category's 300 s), the deal is claimed and refunded.
    let before = json(&ok(user(&dev, &wallet, &["account", "balance", "--json"])));
    rpc(&dev, "evm_increaseTime", serde_json::json!([3001]));
    rpc(&dev, "evm_mine", serde_json::json!([]));
    let claimed = ok(user(&dev, &wallet, &["deal", "claim", &deal]));
    assert!(claimed.contains("FAILED (claimed)"), "{claimed}");
    let after = json(&ok(user(&dev, &wallet, &["account", "balance", "--json"])));
    let nrlc = |v: &Value, k: &str| v[k].as_str().unwrap().parse::<u128>().unwrap();
    assert_eq!(nrlc(&after, "locked"), 0, "nothing stays locked: {after}");
    assert!(
        nrlc(&after, "free") > nrlc(&before, "free"),
        "refunded: {before} → {after}"
    );

    // The order is cancelled on chain by its signer, and the market sees it.
    let cancelled = json(&ok(user(
        &dev,
        &wallet,
        &["order", "cancel", &hash, "--json"],
    )));
    assert_eq!(cancelled["status"], "CANCELLED");
    let again = refused(user(
        &dev,
        &wallet,
        &["order", "publish", file.to_str().unwrap()],
    ));
    assert!(again.contains("cancelled on chain"), "{again}");

    // The pool changes hands; only its owner could do that.
    let stranger = "0x00000000000000000000000000000000000000bb";
    let shown = json(&ok(user(
        &dev,
        &wallet,
        &["workerpool", "transfer", &pool, stranger, "--json"],
    )));
    assert_eq!(shown["owner"].as_str().unwrap().to_lowercase(), stranger);
    let not_mine = refused(user(
        &dev,
        &wallet,
        &["workerpool", "transfer", &pool, &address],
    ));
    assert!(
        not_mine.contains("only its owner transfers it"),
        "{not_mine}"
    );
    dev.stop();
}

#[test]
fn a_first_start_on_a_busy_port_leaves_nothing_that_blocks_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("dev");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    for (flag, service) in [
        ("--chain-port", "the chain"),
        ("--market-port", "the market"),
    ] {
        let mut ports = vec![
            ("--chain-port", "0"),
            ("--market-port", "0"),
            ("--results-port", "0"),
            ("--scheduler-port", "0"),
        ];
        for entry in &mut ports {
            if entry.0 == flag {
                entry.1 = &port;
            }
        }
        let output = agora()
            .args(["dev", "--dir"])
            .arg(&state)
            .args(ports.iter().flat_map(|(flag, port)| [*flag, *port]))
            .output()
            .unwrap();
        let stderr = refused(output);
        assert!(
            stderr.contains(&format!("port {port} for {service} is not free")),
            "{stderr}"
        );
        assert!(stderr.contains(flag), "{stderr}");
    }
    drop(busy);
    // The next start on the same directory is a first start, not a refusal.
    let dev = Dev::start(&state);
    assert_eq!(dev.info["restored"], false);
    dev.stop();
}
