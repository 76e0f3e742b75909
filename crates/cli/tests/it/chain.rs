//! `agora chain` as a separate process: the banner, and SIGKILL at any moment losing nothing
//! that was acknowledged.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    primitives::{Address, Bytes, TxKind, U256},
    signers::local::{MnemonicBuilder, coins_bip39::English},
};
use serde_json::{Value, json};

/// A running `agora chain`, killed with SIGKILL when dropped.
struct Node {
    child: Child,
    url: String,
    banner: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agora"))
        .arg("chain")
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("agora starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut banner = String::new();
    let mut url = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        banner.push_str(&line);
        banner.push('\n');
        if let Some(rest) = line.strip_prefix("Listening on ") {
            url = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    let url = url.unwrap_or_else(|| panic!("no URL in the banner:\n{banner}"));
    Node { child, url, banner }
}

async fn rpc(url: &str, method: &str, params: Value) -> Value {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn signer(index: u32) -> alloy::signers::local::PrivateKeySigner {
    MnemonicBuilder::<English>::default()
        .phrase("test test test test test test test test test test test junk")
        .index(index)
        .unwrap()
        .build()
        .unwrap()
}

fn transfer(index: u32, nonce: u64, to: Address) -> Bytes {
    let mut tx = TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 0,
        max_priority_fee_per_gas: 0,
        to: TxKind::Call(to),
        value: U256::from(1 + nonce),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let signature = signer(index).sign_transaction_sync(&mut tx).unwrap();
    let envelope: TxEnvelope = tx.into_signed(signature).into();
    envelope.encoded_2718().into()
}

#[tokio::test]
async fn prints_a_banner_with_url_chain_id_and_keys() {
    let node = start(&["--ephemeral", "--accounts", "3", "--chain-id", "4242"]);
    assert!(node.banner.contains("Chain id: 4242"), "{}", node.banner);
    assert!(
        node.banner
            .contains("(2) 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC (10000 ETH)"),
        "{}",
        node.banner
    );
    assert!(
        node.banner
            .contains("(0) 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"),
        "{}",
        node.banner
    );
    assert!(!node.banner.contains("(3) "), "three accounts only");
    assert_eq!(
        rpc(&node.url, "eth_chainId", json!([])).await["result"],
        json!("0x1092")
    );
}

async fn send_until_killed(
    node: &mut Node,
    senders: u32,
    per_sender: u64,
    kill_after: usize,
) -> Vec<(String, Value)> {
    let to = Address::repeat_byte(0x42);
    let acknowledged = std::sync::Arc::new(shared::Acks::default());
    let mut tasks = Vec::new();
    for index in 0..senders {
        let url = node.url.clone();
        let acks = acknowledged.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for nonce in 0..per_sender {
                let raw = transfer(index, nonce, to);
                let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw] });
                let Ok(response) = client.post(&url).json(&body).send().await else { return };
                let Ok(answer) = response.json::<Value>().await else { return };
                let Some(hash) = answer["result"].as_str() else { return };
                // The receipt as the node reports it right after the acknowledgement.
                let body = json!({ "jsonrpc": "2.0", "id": 2, "method": "eth_getTransactionReceipt", "params": [hash] });
                let Ok(response) = client.post(&url).json(&body).send().await else { return };
                let Ok(receipt) = response.json::<Value>().await else { return };
                acks.push(hash.to_string(), receipt["result"].clone());
            }
        }));
    }
    // Kill in the middle of the load, at a moment the node does not choose.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acknowledged.len() < kill_after {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} transactions acknowledged",
            acknowledged.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    node.child.kill().expect("SIGKILL");
    node.child.wait().unwrap();
    for task in tasks {
        let _ = task.await;
    }
    acknowledged.take()
}

/// Acknowledged transactions, shared between the sending tasks.
mod shared {
    use std::sync::Mutex;

    use serde_json::Value;

    #[derive(Default)]
    pub(super) struct Acks(Mutex<Vec<(String, Value)>>);

    impl Acks {
        pub(super) fn push(&self, hash: String, receipt: Value) {
            self.0.lock().unwrap().push((hash, receipt));
        }
        pub(super) fn len(&self) -> usize {
            self.0.lock().unwrap().len()
        }
        pub(super) fn take(&self) -> Vec<(String, Value)> {
            std::mem::take(&mut self.0.lock().unwrap())
        }
    }
}

async fn check_all_there(dir: &Path, acknowledged: &[(String, Value)]) -> u64 {
    let node = start(&["--data-dir", dir.to_str().unwrap(), "--bare"]);
    assert!(node.banner.contains("restored"), "{}", node.banner);
    for (hash, receipt) in acknowledged {
        let after =
            rpc(&node.url, "eth_getTransactionReceipt", json!([hash])).await["result"].clone();
        assert_eq!(
            &after, receipt,
            "transaction {hash} was acknowledged before the kill"
        );
        // Its block is still on the chain, with the same hash.
        let number = receipt["blockNumber"].clone();
        let block =
            rpc(&node.url, "eth_getBlockByNumber", json!([number, false])).await["result"].clone();
        assert_eq!(block["hash"], receipt["blockHash"]);
    }
    let head = rpc(&node.url, "eth_blockNumber", json!([])).await["result"].clone();
    let head = u64::from_str_radix(head.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    // The state matches the blocks: what each recipient holds is what the blocks sent it.
    let mut received: std::collections::HashMap<String, U256> = std::collections::HashMap::new();
    for number in 1..=head {
        let block = rpc(
            &node.url,
            "eth_getBlockByNumber",
            json!([format!("{number:#x}"), true]),
        )
        .await;
        for tx in block["result"]["transactions"].as_array().unwrap() {
            let value: U256 = serde_json::from_value(tx["value"].clone()).unwrap();
            *received
                .entry(tx["to"].as_str().unwrap().to_string())
                .or_default() += value;
        }
    }
    for (to, value) in received {
        let balance =
            rpc(&node.url, "eth_getBalance", json!([to, "latest"])).await["result"].clone();
        assert_eq!(
            serde_json::from_value::<U256>(balance).unwrap(),
            value,
            "balance of {to}"
        );
    }
    head
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_acknowledged_block() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_string();
    // A bare chain: every block holds one of the test's transfers.
    let mut node = start(&["--data-dir", &data_dir, "--accounts", "8", "--bare"]);
    let first = send_until_killed(&mut node, 8, 60, 150).await;
    assert!(first.len() >= 150);
    let head = check_all_there(dir.path(), &first).await;
    assert!(
        head >= first.len() as u64,
        "one block per acknowledged transaction"
    );

    // The restarted chain keeps going where it stopped: the senders' next nonces follow the
    // transactions that made it, and a second kill loses nothing either.
    let mut node = start(&["--data-dir", &data_dir, "--bare"]);
    let to = Address::repeat_byte(0x43);
    let nonce = rpc(
        &node.url,
        "eth_getTransactionCount",
        json!([signer(0).address(), "latest"]),
    )
    .await["result"]
        .clone();
    let nonce = u64::from_str_radix(nonce.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let answer = rpc(
        &node.url,
        "eth_sendRawTransaction",
        json!([transfer(0, nonce, to)]),
    )
    .await;
    let hash = answer["result"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_string();
    let receipt =
        rpc(&node.url, "eth_getTransactionReceipt", json!([hash])).await["result"].clone();
    node.child.kill().unwrap();
    node.child.wait().unwrap();
    let mut all = first;
    all.push((hash, receipt));
    check_all_there(dir.path(), &all).await;
}

#[tokio::test]
async fn the_protocol_is_deployed_at_genesis_unless_bare() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(&["--data-dir", dir.path().to_str().unwrap()]);
    // The hub is the seventh creation of dev account 0 (token, three registries, two hub
    // modules, the hub).
    let hub = "0x0165878A594ca255338adfa4d48449f69242Eb8F";
    for line in [
        "Contract RLC: 0x5FbDB2315678afecb367f032d93F642f64180aa3",
        &format!("Contract Hub: {hub}"),
    ] {
        assert!(node.banner.contains(line), "{line} in {}", node.banner);
    }
    let deployment = std::fs::read_to_string(dir.path().join("deployment.json")).unwrap();
    assert!(
        deployment.to_lowercase().contains(&hub.to_lowercase()),
        "{deployment}"
    );
    // The hub answers: the five default categories (countCategory()).
    let selector = alloy::primitives::keccak256("countCategory()");
    let data = format!("0x{}", alloy::primitives::hex::encode(&selector[..4]));
    let count = rpc(
        &node.url,
        "eth_call",
        json!([{"to": hub, "data": data}, "latest"]),
    )
    .await;
    assert_eq!(count["result"], json!(format!("0x{:064x}", 5)), "{count}");
    drop(node);

    let bare = start(&["--ephemeral", "--bare"]);
    assert!(!bare.banner.contains("Contract "), "{}", bare.banner);
}

#[tokio::test]
async fn json_describes_the_chain_on_one_line_of_stdout() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["chain", "--port", "0", "--ephemeral", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("agora starts");
    let stdout = child.stdout.take().expect("stdout");
    let line = BufReader::new(stdout)
        .lines()
        .next()
        .expect("a line")
        .expect("text");
    let info: Value = serde_json::from_str(&line).expect("one JSON object");
    let url = info["httpUrl"].as_str().expect("httpUrl");
    let chain_id = rpc(url, "eth_chainId", json!([])).await;
    assert_eq!(chain_id["result"], "0x7a69");
    assert_eq!(info["chainId"], 31337);
    assert_eq!(info["accounts"].as_array().expect("accounts").len(), 10);
    assert!(
        info["contracts"]
            .as_array()
            .expect("contracts")
            .iter()
            .any(|c| c["name"] == "Hub"),
        "{info}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
