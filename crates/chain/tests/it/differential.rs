//! Differential test against anvil, the reference node: the same raw signed transactions go to
//! both chains, and receipts, blocks, final state, `eth_call`, `eth_estimateGas` and revert
//! errors must agree.
//!
//! Anvil comes from the workspace's pinned npm package (`npm ci` at the workspace root). Both
//! chains mine on demand (`evm_mine` with an explicit timestamp), so blocks hold several
//! transactions and their numbers and timestamps line up. The base fee is zero on both; some
//! transactions still pay a gas price or a priority fee, which goes to the coinbase (the zero
//! address on both), so balances check the fee accounting too.
//!
//! Every difference is collected and the test fails listing all of them at the end.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use agora_testkit::Anvil;
use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy},
    eips::{
        eip2718::Encodable2718,
        eip2930::{AccessList, AccessListItem},
    },
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256, address, keccak256},
    providers::ProviderBuilder,
    signers::local::PrivateKeySigner,
    sol,
    sol_types::{Panic, Revert, SolCall, SolError, SolValue},
};
use anyhow::{Context as _, Result, anyhow, bail, ensure};
use serde_json::{Value, json};

sol!(
    #[sol(rpc)]
    Probe,
    "tests/fixtures/Probe.json"
);

sol!(
    #[sol(rpc)]
    TestToken,
    "tests/fixtures/TestToken.json"
);

const CHAIN_ID: u64 = 31337;
const GWEI: u128 = 1_000_000_000;
/// Timestamp of the first mined block; each later block is 12 s after the previous one.
const FIRST_TIMESTAMP: u64 = 4_000_000_000;
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Receives 1 wei and a large calldata in the first block; never sends anything.
const STRANGER: Address = address!("0x00000000000000000000000000000000c0ffee01");

#[tokio::test]
async fn same_transactions_give_same_receipts_and_state_as_anvil() -> Result<()> {
    let started = Instant::now();
    // Mine only on `evm_mine`, transactions in arrival order, as our chain does then.
    let anvil = Anvil::spawn(&["--no-mining", "--order", "fifo"]).await?;
    let config = agora_chain::Config {
        // Mine on demand like `anvil --no-mining`: `evm_mine` takes what is queued.
        mining: agora_chain::Mining::Interval(Duration::from_secs(24 * 3600)),
        ..agora_chain::Config::test()
    };
    assert_eq!(config.chain_id, CHAIN_ID);
    assert_eq!(config.base_fee, 0);
    assert_eq!(config.hardfork, agora_chain::SpecId::PRAGUE);
    let handle = agora_chain::spawn(config).await?;
    let mut run = Run::new(&handle, &anvil);

    let result = run.scenario().await;
    handle.shutdown().await;
    drop(anvil);
    result.with_context(|| {
        format!(
            "differences seen before the failure:\n{}",
            run.mismatches.join("\n")
        )
    })?;
    ensure!(
        run.mismatches.is_empty(),
        "{} differences from anvil or the specification:\n{}",
        run.mismatches.len(),
        run.mismatches.join("\n")
    );
    eprintln!("differential run took {:?}", started.elapsed());
    Ok(())
}

/// The committed artifacts are what `build.js` makes of the committed sources.
#[test]
fn fixtures_are_built_from_their_sources() {
    let script = fixtures_dir().join("build.js");
    let output = Command::new("node")
        .arg(&script)
        .arg("--check")
        .output()
        .expect("node runs build.js: install Node.js, then `npm ci` in the workspace root");
    assert!(
        output.status.success(),
        "{} --check failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A JSON-RPC endpoint spoken to with raw requests, so errors keep their code and data.
struct Node {
    name: &'static str,
    url: String,
    http: reqwest::Client,
}

impl Node {
    fn new(name: &'static str, url: &str) -> Self {
        Self {
            name,
            url: url.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// The result, or the JSON-RPC error object.
    async fn request(&self, method: &str, params: Value) -> Result<Result<Value, Value>> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let response: Value = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("{}: {method}", self.name))?
            .json()
            .await
            .with_context(|| format!("{}: {method} response", self.name))?;
        match response.get("error") {
            Some(error) => Ok(Err(error.clone())),
            None => Ok(Ok(response["result"].clone())),
        }
    }

    async fn rpc(&self, method: &str, params: Value) -> Result<Value> {
        let shown: String = params.to_string().chars().take(200).collect();
        self.request(method, params)
            .await?
            .map_err(|e| anyhow!("{}: {method} {shown} failed: {e}", self.name))
    }

    async fn receipt(&self, hash: B256) -> Result<Value> {
        let deadline = Instant::now() + RECEIPT_TIMEOUT;
        loop {
            let receipt = self.rpc("eth_getTransactionReceipt", json!([hash])).await?;
            if !receipt.is_null() {
                return Ok(receipt);
            }
            ensure!(
                Instant::now() < deadline,
                "{}: no receipt for {hash} after {RECEIPT_TIMEOUT:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// How a transaction pays for gas, which also picks its type.
#[derive(Clone)]
enum Fee {
    Legacy { gas_price: u128 },
    Eip2930 { gas_price: u128, list: AccessList },
    Eip1559 { max_fee: u128, tip: u128 },
}

/// Legacy (EIP-155) with a zero gas price.
fn free() -> Fee {
    Fee::Legacy { gas_price: 0 }
}

fn legacy(gas_price: u128) -> Fee {
    Fee::Legacy { gas_price }
}

/// EIP-1559 paying a 1 gwei tip under a 5 gwei cap.
fn tipped() -> Fee {
    Fee::Eip1559 {
        max_fee: 5 * GWEI,
        tip: GWEI,
    }
}

fn access_list(gas_price: u128, list: Vec<AccessListItem>) -> Fee {
    Fee::Eip2930 {
        gas_price,
        list: AccessList(list),
    }
}

/// What a transaction does.
struct Action {
    to: TxKind,
    value: U256,
    input: Bytes,
}

fn call(to: Address, call: impl SolCall) -> Action {
    Action {
        to: TxKind::Call(to),
        value: U256::ZERO,
        input: call.abi_encode().into(),
    }
}

fn create(code: &[u8]) -> Action {
    Action {
        to: TxKind::Create,
        value: U256::ZERO,
        input: Bytes::copy_from_slice(code),
    }
}

fn transfer(to: Address, value: U256) -> Action {
    Action {
        to: TxKind::Call(to),
        value,
        input: Bytes::new(),
    }
}

impl Action {
    fn value(mut self, value: U256) -> Self {
        self.value = value;
        self
    }

    fn input(mut self, input: impl Into<Bytes>) -> Self {
        self.input = input.into();
        self
    }
}

/// A signed transaction and what it is for.
struct Signed {
    label: String,
    raw: Bytes,
    hash: B256,
}

/// A dev account and the next nonce to sign with.
struct Wallet {
    signer: PrivateKeySigner,
    nonce: u64,
}

impl Wallet {
    fn sign(&mut self, label: &str, fee: Fee, action: Action, gas_limit: u64) -> Result<Signed> {
        let Action { to, value, input } = action;
        let nonce = self.nonce;
        let envelope: TxEnvelope = match fee {
            Fee::Legacy { gas_price } => {
                let mut tx = TxLegacy {
                    chain_id: Some(CHAIN_ID),
                    nonce,
                    gas_price,
                    gas_limit,
                    to,
                    value,
                    input,
                };
                let signature = self.signer.sign_transaction_sync(&mut tx)?;
                tx.into_signed(signature).into()
            }
            Fee::Eip2930 { gas_price, list } => {
                let mut tx = TxEip2930 {
                    chain_id: CHAIN_ID,
                    nonce,
                    gas_price,
                    gas_limit,
                    to,
                    value,
                    access_list: list,
                    input,
                };
                let signature = self.signer.sign_transaction_sync(&mut tx)?;
                tx.into_signed(signature).into()
            }
            Fee::Eip1559 { max_fee, tip } => {
                let mut tx = TxEip1559 {
                    chain_id: CHAIN_ID,
                    nonce,
                    gas_limit,
                    max_fee_per_gas: max_fee,
                    max_priority_fee_per_gas: tip,
                    to,
                    value,
                    access_list: AccessList::default(),
                    input,
                };
                let signature = self.signer.sign_transaction_sync(&mut tx)?;
                tx.into_signed(signature).into()
            }
        };
        self.nonce += 1;
        Ok(Signed {
            label: label.to_string(),
            raw: envelope.encoded_2718().into(),
            hash: *envelope.tx_hash(),
        })
    }
}

fn n(value: u64) -> U256 {
    U256::from(value)
}

fn ether(value: u64) -> U256 {
    n(value) * n(10).pow(n(18))
}

/// Whole tokens of 18 decimals.
fn tokens(value: u64) -> U256 {
    ether(value)
}

/// Storage slot of `mapping[key]` for a mapping declared at `slot`.
fn mapping_slot(key: impl SolValue, slot: U256) -> U256 {
    U256::from_be_bytes(keccak256((key, slot).abi_encode()).0)
}

fn quantity(value: u64) -> Value {
    json!(format!("{value:#x}"))
}

fn parse_quantity(value: &Value) -> Result<u64> {
    let text = value.as_str().context("a quantity is a string")?;
    let digits = text
        .strip_prefix("0x")
        .context("a quantity starts with 0x")?;
    Ok(u64::from_str_radix(digits, 16)?)
}

/// Fields that are null or absent for some transactions (a creation has no `to`, a call no
/// `contractAddress`, a legacy transaction no `yParity`, ...).
const OPTIONAL_FIELDS: &[&str] = &[
    "contractAddress",
    "to",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "accessList",
    "chainId",
    "yParity",
    "gasPrice",
];

const RECEIPT_FIELDS: &[&str] = &[
    "status",
    "type",
    "gasUsed",
    "cumulativeGasUsed",
    "effectiveGasPrice",
    "contractAddress",
    "from",
    "to",
    "transactionHash",
    "transactionIndex",
    "blockNumber",
    "logsBloom",
];

const LOG_FIELDS: &[&str] = &[
    "address",
    "topics",
    "data",
    "logIndex",
    "transactionIndex",
    "transactionHash",
    "blockNumber",
    "removed",
];

const TRANSACTION_FIELDS: &[&str] = &[
    "type",
    "hash",
    "from",
    "to",
    "nonce",
    "gas",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "value",
    "input",
    "chainId",
    "accessList",
    "v",
    "r",
    "s",
    "yParity",
    "blockNumber",
    "transactionIndex",
];

/// Block fields that do not depend on how a node hashes its state (our state root is not a
/// Merkle-Patricia root) or on the genesis block (whose timestamp is the start time).
const BLOCK_FIELDS: &[&str] = &[
    "number",
    "timestamp",
    "gasUsed",
    "gasLimit",
    "baseFeePerGas",
    "logsBloom",
    "transactions",
    "transactionsRoot",
    "receiptsRoot",
    "miner",
    "withdrawalsRoot",
    "blobGasUsed",
    "excessBlobGas",
    "requestsHash",
];

/// Both chains, the dev wallets, what has been deployed, and the differences seen so far.
struct Run {
    ours: Node,
    anvil: Node,
    wallets: Vec<Wallet>,
    next_timestamp: u64,
    blocks: u64,
    probe: Address,
    token: Address,
    /// Every transaction mined, with its label.
    mined: Vec<(String, B256)>,
    mismatches: Vec<String>,
}

impl Run {
    fn new(handle: &agora_chain::Handle, anvil: &Anvil) -> Self {
        let wallets = handle
            .dev_accounts()
            .iter()
            .take(4)
            .map(|a| Wallet {
                signer: a.signer(),
                nonce: 0,
            })
            .collect();
        Self {
            ours: Node::new("ours", &handle.http_url()),
            anvil: Node::new("anvil", anvil.url()),
            wallets,
            next_timestamp: FIRST_TIMESTAMP,
            blocks: 0,
            probe: Address::ZERO,
            token: Address::ZERO,
            mined: Vec::new(),
            mismatches: Vec::new(),
        }
    }

    fn addr(&self, i: usize) -> Address {
        self.wallets[i].signer.address()
    }

    fn sign(
        &mut self,
        from: usize,
        label: &str,
        fee: Fee,
        action: Action,
        gas: u64,
    ) -> Result<Signed> {
        self.wallets[from].sign(label, fee, action, gas)
    }

    fn differ(&mut self, what: impl std::fmt::Display, ours: &Value, anvil: &Value) {
        if ours != anvil {
            self.mismatches
                .push(format!("{what}: ours {ours}, anvil {anvil}"));
        }
    }

    /// Records every field of `fields` that differs; a field absent from both counts as a
    /// difference unless it is in `OPTIONAL_FIELDS`, so a comparison is never vacuous.
    fn compare_fields(&mut self, what: &str, ours: &Value, anvil: &Value, fields: &[&str]) {
        for field in fields {
            if ours[field].is_null() && anvil[field].is_null() && !OPTIONAL_FIELDS.contains(field) {
                self.mismatches
                    .push(format!("{what}: {field} is missing on both"));
            }
            self.differ(format_args!("{what}: {field}"), &ours[field], &anvil[field]);
        }
    }

    /// The same request on both chains: both results, or both error objects.
    async fn both(
        &self,
        method: &str,
        params: Value,
    ) -> Result<(Result<Value, Value>, Result<Value, Value>)> {
        let ours = self.ours.request(method, params.clone()).await?;
        let anvil = self.anvil.request(method, params).await?;
        Ok((ours, anvil))
    }

    /// A request that must succeed on both chains; a different answer is recorded. Returns
    /// ours.
    async fn same(&mut self, what: &str, method: &str, params: Value) -> Result<Value> {
        let ours = self.ours.rpc(method, params.clone()).await?;
        let anvil = self.anvil.rpc(method, params).await?;
        self.differ(what, &ours, &anvil);
        Ok(ours)
    }

    /// Sends `txs` to both chains, mines them into one block, and compares the receipts and
    /// the block. Returns our receipts.
    async fn block(&mut self, txs: Vec<Signed>) -> Result<Vec<Value>> {
        for tx in &txs {
            for node in [&self.ours, &self.anvil] {
                let hash = node
                    .rpc("eth_sendRawTransaction", json!([tx.raw]))
                    .await
                    .with_context(|| format!("sending {}", tx.label))?;
                ensure!(
                    hash == json!(tx.hash),
                    "{}: {} has hash {hash}, expected {}",
                    node.name,
                    tx.label,
                    tx.hash
                );
            }
        }
        let timestamp = self.next_timestamp;
        self.next_timestamp += 12;
        for node in [&self.ours, &self.anvil] {
            node.rpc("evm_mine", json!([timestamp])).await?;
        }
        self.blocks += 1;
        let number = quantity(self.blocks);
        let mut receipts = Vec::with_capacity(txs.len());
        for (index, tx) in txs.iter().enumerate() {
            let ours = self.ours.receipt(tx.hash).await?;
            let anvil = self.anvil.receipt(tx.hash).await?;
            ensure!(
                ours["blockNumber"] == number && ours["transactionIndex"] == quantity(index as u64),
                "{}: mined at {} index {}, expected block {number} index {index}",
                tx.label,
                ours["blockNumber"],
                ours["transactionIndex"]
            );
            self.compare_receipts(&tx.label, &ours, &anvil);
            self.mined.push((tx.label.clone(), tx.hash));
            receipts.push(ours);
            let params = json!([tx.hash]);
            let ours = self
                .ours
                .rpc("eth_getTransactionByHash", params.clone())
                .await?;
            let anvil = self.anvil.rpc("eth_getTransactionByHash", params).await?;
            self.compare_fields(&tx.label, &ours, &anvil, TRANSACTION_FIELDS);
        }
        let params = json!([number, false]);
        let ours = self
            .ours
            .rpc("eth_getBlockByNumber", params.clone())
            .await?;
        let anvil = self.anvil.rpc("eth_getBlockByNumber", params).await?;
        self.compare_fields(&format!("block {number}"), &ours, &anvil, BLOCK_FIELDS);
        self.check_encoding(&number).await?;
        Ok(receipts)
    }

    /// Our block's hash is the hash of its header, and its `size` the length of its RLP
    /// encoding (header, transactions, ommers, withdrawals), rebuilt here from the JSON. Not
    /// compared with anvil's `size`, which leaves out the withdrawals (one byte short).
    async fn check_encoding(&mut self, number: &Value) -> Result<()> {
        let json = self
            .ours
            .rpc("eth_getBlockByNumber", json!([number, true]))
            .await?;
        let size = json["size"].clone();
        let block: alloy::rpc::types::Block = serde_json::from_value(json)?;
        let hash = block.header.hash;
        let block = block.into_consensus();
        let header_hash = block.header.hash_slow();
        let transactions: Vec<TxEnvelope> = block
            .body
            .transactions
            .into_iter()
            .map(|tx| tx.into_inner())
            .collect();
        let block = alloy::consensus::Block::new(
            block.header,
            alloy::consensus::BlockBody {
                transactions,
                ommers: block.body.ommers,
                withdrawals: block.body.withdrawals,
            },
        );
        let length = alloy::rlp::Encodable::length(&block);
        if header_hash != hash {
            self.mismatches.push(format!(
                "block {number}: hash is {hash}, its header hashes to {header_hash}"
            ));
        }
        if size != quantity(length as u64) {
            self.mismatches.push(format!(
                "block {number}: size is {size}, its RLP encoding is {length:#x} bytes"
            ));
        }
        Ok(())
    }

    fn compare_receipts(&mut self, label: &str, ours: &Value, anvil: &Value) {
        self.compare_fields(label, ours, anvil, RECEIPT_FIELDS);
        let empty = Vec::new();
        let ours_logs = ours["logs"].as_array().unwrap_or(&empty);
        let anvil_logs = anvil["logs"].as_array().unwrap_or(&empty);
        if ours_logs.len() != anvil_logs.len() {
            self.differ(
                format_args!("{label}: number of logs"),
                &json!(ours_logs.len()),
                &json!(anvil_logs.len()),
            );
            return;
        }
        for (i, (ours, anvil)) in ours_logs.iter().zip(anvil_logs).enumerate() {
            self.compare_fields(&format!("{label}: log {i}"), ours, anvil, LOG_FIELDS);
        }
    }

    async fn scenario(&mut self) -> Result<()> {
        self.same("chain id", "eth_chainId", json!([])).await?;
        self.check_encoding(&quantity(0)).await?;
        for i in 0..self.wallets.len() {
            let params = json!([self.addr(i), "latest"]);
            self.same("dev account balance", "eth_getBalance", params)
                .await?;
        }
        self.transactions().await?;
        self.final_state().await?;
        self.calls().await?;
        self.reverted_calls().await?;
        self.estimates().await?;
        self.logs().await?;
        self.traces().await?;
        self.past_reads().await?;
        self.access_lists().await?;
        Ok(())
    }

    /// Every transaction traced on both, with the call tracer (the call tree: types, senders,
    /// targets, values, inputs, outputs, errors, logs) and the struct logger (whether it
    /// failed, what it returned). anvil 1.7.1 gives, as the top frame's `gasUsed` and the
    /// struct logger's `gas`, the block's cumulative gas up to the transaction, and an empty
    /// `structLogs` when mining on demand: those are checked against our own receipt instead
    /// (the gas) and against the opcodes run (a contract call has steps, ending where it
    /// ended).
    async fn traces(&mut self) -> Result<()> {
        let mined = self.mined.clone();
        for (label, hash) in mined {
            let receipt = self.ours.receipt(hash).await?;
            let gas_used = parse_quantity(&receipt["gasUsed"])?;
            let call =
                json!([hash, { "tracer": "callTracer", "tracerConfig": { "withLog": true } }]);
            let (ours, anvil) = self.both("debug_traceTransaction", call).await?;
            let (mut ours, mut anvil) = (ours.unwrap_or_else(|e| e), anvil.unwrap_or_else(|e| e));
            if ours.get("gasUsed").map(parse_quantity).transpose()? != Some(gas_used) {
                self.mismatches.push(format!(
                    "{label}: callTracer gasUsed {} is not the receipt's {gas_used}",
                    ours["gasUsed"]
                ));
            }
            for frame in [&mut ours, &mut anvil] {
                if let Some(o) = frame.as_object_mut() {
                    o.remove("gasUsed");
                }
            }
            self.differ(format!("{label}: callTracer"), &ours, &anvil);
            let steps = json!([hash, { "disableStack": true, "disableStorage": true }]);
            let (ours, anvil) = self.both("debug_traceTransaction", steps).await?;
            let (ours, anvil) = (ours.unwrap_or_else(|e| e), anvil.unwrap_or_else(|e| e));
            for field in ["failed", "returnValue"] {
                self.differ(
                    format!("{label}: struct logger {field}"),
                    &ours[field],
                    &anvil[field],
                );
            }
            if ours["gas"].as_u64() != Some(gas_used) {
                self.mismatches.push(format!(
                    "{label}: struct logger gas {} is not the receipt's {gas_used}",
                    ours["gas"]
                ));
            }
            let called_code = if receipt["to"].is_null() {
                true
            } else {
                let code = self
                    .ours
                    .rpc("eth_getCode", json!([receipt["to"], quantity(self.blocks)]))
                    .await?;
                code.as_str().is_some_and(|c| c != "0x")
            };
            let logs = ours["structLogs"].as_array().map_or(0, Vec::len);
            if called_code && logs == 0 && receipt["status"] == json!("0x1") {
                self.mismatches.push(format!(
                    "{label}: the struct logger recorded no step of a contract call"
                ));
            }
        }
        Ok(())
    }

    /// Balances, nonces and code of the accounts at every block mined, as each block left them.
    async fn past_reads(&mut self) -> Result<()> {
        let mut accounts: Vec<Address> = (0..self.wallets.len()).map(|i| self.addr(i)).collect();
        accounts.extend([self.probe, self.token, STRANGER]);
        for block in 0..=self.blocks {
            for account in &accounts {
                for method in ["eth_getBalance", "eth_getTransactionCount", "eth_getCode"] {
                    let what = format!("{method} of {account} at block {block}");
                    self.same(&what, method, json!([account, quantity(block)]))
                        .await?;
                }
            }
            let call = json!([
                { "to": self.probe, "data": Bytes::from(Probe::ownerCall {}.abi_encode()) },
                quantity(block)
            ]);
            let (ours, anvil) = self.both("eth_call", call).await?;
            let (ours, anvil) = (ours.unwrap_or_else(|e| e), anvil.unwrap_or_else(|e| e));
            self.differ(format!("probe.owner() at block {block}"), &ours, &anvil);
        }
        Ok(())
    }

    /// `eth_createAccessList` of calls that read and write storage.
    async fn access_lists(&mut self) -> Result<()> {
        let from = self.addr(0);
        let store = Probe::storeCall {
            key: n(5),
            value: n(6),
        };
        let request = json!([{ "from": from, "to": self.probe, "data": Bytes::from(store.abi_encode()) }, "latest"]);
        self.same(
            "access list of probe.store",
            "eth_createAccessList",
            request,
        )
        .await?;
        let transfer = TestToken::transferCall {
            to: STRANGER,
            value: n(1),
        };
        let request = json!([{ "from": from, "to": self.token, "data": Bytes::from(transfer.abi_encode()) }, "latest"]);
        self.same(
            "access list of token.transfer",
            "eth_createAccessList",
            request,
        )
        .await?;
        Ok(())
    }

    async fn transactions(&mut self) -> Result<()> {
        let (a0, a1, a2) = (self.addr(0), self.addr(1), self.addr(2));
        let a3 = self.addr(3);

        // Block 1: plain transfers of each type, and calldata to an EOA, which pays the
        // EIP-7623 floor price (Prague) rather than the standard one.
        let txs = vec![
            self.sign(0, "legacy transfer", free(), transfer(a1, ether(1)), 21_000)?,
            self.sign(
                1,
                "1559 transfer",
                tipped(),
                transfer(a2, ether(1) / n(2)),
                21_000,
            )?,
            self.sign(
                2,
                "2930 transfer",
                access_list(2 * GWEI, vec![]),
                transfer(STRANGER, n(1)),
                30_000,
            )?,
            self.sign(
                3,
                "calldata to an EOA",
                tipped(),
                transfer(STRANGER, n(0)).input(vec![1; 1000]),
                100_000,
            )?,
        ];
        self.block(txs).await?;

        // Block 2: Probe, deployed with an EIP-1559 transaction.
        self.probe = a0.create(self.wallets[0].nonce);
        let deploy = self.sign(
            0,
            "deploy Probe",
            tipped(),
            create(&Probe::BYTECODE),
            1_000_000,
        )?;
        let receipts = self.block(vec![deploy]).await?;
        ensure!(
            receipts[0]["status"] == json!("0x1"),
            "deploying Probe failed"
        );

        // Block 3: TestToken, with an EIP-2930 transaction; a creation that runs out of gas.
        self.token = a0.create(self.wallets[0].nonce);
        let token_code = create(&TestToken::BYTECODE);
        let starved = create(&TestToken::BYTECODE);
        let txs = vec![
            self.sign(
                0,
                "deploy TestToken",
                access_list(GWEI, vec![]),
                token_code,
                2_000_000,
            )?,
            self.sign(1, "deploy out of gas", legacy(GWEI), starved, 200_000)?,
        ];
        let receipts = self.block(txs).await?;
        ensure!(
            receipts[0]["status"] == json!("0x1"),
            "deploying TestToken failed"
        );
        ensure!(
            receipts[1]["status"] == json!("0x0"),
            "the starved creation succeeded"
        );

        // Block 4: Probe calls of every kind in one block, for cumulative gas and log indexes.
        let probe = self.probe;
        let store = |key, value| {
            call(
                probe,
                Probe::storeCall {
                    key: n(key),
                    value: n(value),
                },
            )
        };
        let ping = |count| call(probe, Probe::pingCall { n: n(count) });
        let burn = |rounds| call(probe, Probe::burnCall { rounds: n(rounds) });
        let slot2 = B256::from(mapping_slot(n(2), n(1)));
        let listed = access_list(
            0,
            vec![AccessListItem {
                address: probe,
                storage_keys: vec![slot2],
            }],
        );
        let reason = call(
            probe,
            Probe::failWithReasonCall {
                reason: "no way".into(),
            },
        );
        let custom = call(probe, Probe::failWithCustomCall { code: n(7) });
        let divide = call(probe, Probe::divideCall { a: n(1), b: n(0) });
        let txs = vec![
            self.sign(1, "store(1, 42)", tipped(), store(1, 42), 100_000)?,
            self.sign(
                2,
                "store(2, 7) with access list",
                listed,
                store(2, 7),
                100_000,
            )?,
            self.sign(0, "ping(3)", free(), ping(3), 100_000)?,
            self.sign(3, "failWithReason", tipped(), reason, 100_000)?,
            self.sign(3, "failWithCustom", free(), custom, 100_000)?,
            self.sign(2, "divide by zero", tipped(), divide, 100_000)?,
            self.sign(0, "ping(2)", tipped(), ping(2), 100_000)?,
            self.sign(1, "burn(50) out of gas", legacy(GWEI), burn(50), 200_000)?,
            self.sign(1, "burn(3)", free(), burn(3), 200_000)?,
        ];
        let receipts = self.block(txs).await?;
        let statuses: Vec<&Value> = receipts.iter().map(|r| &r["status"]).collect();
        ensure!(
            statuses
                == [
                    "0x1", "0x1", "0x1", "0x0", "0x0", "0x0", "0x1", "0x0", "0x1"
                ],
            "block 4 statuses {statuses:?}"
        );
        ensure!(
            receipts[7]["gasUsed"] == quantity(200_000),
            "the out-of-gas burn did not use all its gas"
        );

        // Block 5: ERC-20 transfer, approve, transferFrom, and a transferFrom over the allowance.
        let token = self.token;
        let transfer_tokens = call(
            token,
            TestToken::transferCall {
                to: a1,
                value: tokens(1000),
            },
        );
        let approve = call(
            token,
            TestToken::approveCall {
                spender: a2,
                value: tokens(300),
            },
        );
        let transfer_from = |value| {
            call(
                token,
                TestToken::transferFromCall {
                    from: a1,
                    to: a3,
                    value: tokens(value),
                },
            )
        };
        let txs = vec![
            self.sign(0, "token transfer", tipped(), transfer_tokens, 100_000)?,
            self.sign(1, "token approve", free(), approve, 100_000)?,
            self.sign(
                2,
                "token transferFrom",
                tipped(),
                transfer_from(100),
                100_000,
            )?,
            self.sign(
                2,
                "transferFrom over allowance",
                tipped(),
                transfer_from(1000),
                100_000,
            )?,
        ];
        let receipts = self.block(txs).await?;
        ensure!(
            receipts[3]["status"] == json!("0x0"),
            "transferFrom over the allowance succeeded"
        );

        // Block 6: deposits with value, an overwrite, and a store that clears a slot (refund).
        let deposit = || call(probe, Probe::depositCall {});
        let txs = vec![
            self.sign(3, "deposit", tipped(), deposit().value(ether(2)), 100_000)?,
            self.sign(0, "store(1, 43)", free(), store(1, 43), 100_000)?,
            self.sign(
                0,
                "store(2, 0) clears a slot",
                legacy(3 * GWEI),
                store(2, 0),
                100_000,
            )?,
            self.sign(
                2,
                "deposit out of gas",
                free(),
                deposit().value(ether(1)),
                21_500,
            )?,
        ];
        self.block(txs).await?;

        // Block 7: destroy (since Cancun only the balance moves), then the code still runs.
        let destroy = call(probe, Probe::destroyCall {});
        let txs = vec![
            self.sign(1, "destroy", tipped(), destroy, 100_000)?,
            self.sign(3, "store(5, 5) after destroy", free(), store(5, 5), 100_000)?,
        ];
        let receipts = self.block(txs).await?;
        ensure!(
            receipts[1]["status"] == json!("0x1"),
            "Probe stopped working after destroy"
        );
        Ok(())
    }

    async fn final_state(&mut self) -> Result<()> {
        for i in 0..self.wallets.len() {
            let params = json!([self.addr(i), "latest"]);
            let nonce = self.ours.rpc("eth_getTransactionCount", params).await?;
            ensure!(
                nonce == quantity(self.wallets[i].nonce),
                "account {i} has nonce {nonce}, expected {}",
                self.wallets[i].nonce
            );
        }
        let mut involved: Vec<Address> = (0..self.wallets.len()).map(|i| self.addr(i)).collect();
        // The coinbase (fees), the EOA, both contracts, and where the starved creation aimed.
        involved.extend([
            Address::ZERO,
            STRANGER,
            self.probe,
            self.token,
            self.addr(1).create(1),
        ]);
        for a in involved {
            let params = json!([a, "latest"]);
            self.same(&format!("balance of {a}"), "eth_getBalance", params.clone())
                .await?;
            self.same(
                &format!("nonce of {a}"),
                "eth_getTransactionCount",
                params.clone(),
            )
            .await?;
            self.same(&format!("code of {a}"), "eth_getCode", params)
                .await?;
        }
        let latest = |a: Address| json!([a, "latest"]);
        let coinbase = self
            .ours
            .rpc("eth_getBalance", latest(Address::ZERO))
            .await?;
        ensure!(coinbase != json!("0x0"), "no fee reached the coinbase");
        let code = self.ours.rpc("eth_getCode", latest(self.probe)).await?;
        ensure!(
            code == json!(Probe::DEPLOYED_BYTECODE),
            "Probe's code is not the artifact's"
        );
        let code = self.ours.rpc("eth_getCode", latest(self.token)).await?;
        ensure!(
            code == json!(TestToken::DEPLOYED_BYTECODE),
            "TestToken's code is not the artifact's"
        );
        let balance = self.ours.rpc("eth_getBalance", latest(self.probe)).await?;
        ensure!(balance == json!("0x0"), "destroy left {balance} in Probe");

        let (a0, a1, a2, a3) = (self.addr(0), self.addr(1), self.addr(2), self.addr(3));
        let (probe, token) = (self.probe, self.token);
        // Probe: `owner` at 0, `values` at 1. OpenZeppelin's ERC20: balances at 0, allowances
        // at 1, total supply at 2; allowances[a1][a2] is at keccak(a2 . keccak(a1 . 1)).
        let value = |key| mapping_slot(n(key), n(1));
        let balance = |owner| mapping_slot(owner, n(0));
        let slots = [
            (probe, n(0), U256::from_be_slice(a0.as_slice())),
            (probe, value(1), n(43)),
            (probe, value(2), n(0)),
            (probe, value(5), n(5)),
            (probe, value(1000), n(1)),
            (probe, value(1002), n(3)),
            (probe, value(1003), n(0)),
            (token, n(2), tokens(1_000_000_000)),
            (token, balance(a0), tokens(1_000_000_000 - 1000)),
            (token, balance(a1), tokens(900)),
            (token, balance(a3), tokens(100)),
            (token, mapping_slot(a2, mapping_slot(a1, n(1))), tokens(200)),
        ];
        for (contract, slot, expected) in slots {
            let params = json!([contract, format!("{slot:#x}"), "latest"]);
            let what = format!("storage {contract} {slot:#x}");
            let value = self.same(&what, "eth_getStorageAt", params).await?;
            ensure!(
                value == json!(B256::from(expected)),
                "{what} is {value}, expected {expected:#x}"
            );
        }
        Ok(())
    }

    /// `eth_call` through the `sol!` bindings, on both chains.
    async fn calls(&mut self) -> Result<()> {
        let (a1, a2, a3) = (self.addr(1), self.addr(2), self.addr(3));
        let mut results = Vec::new();
        for node in [&self.ours, &self.anvil] {
            let provider = ProviderBuilder::new().connect_http(node.url.parse()?);
            let probe = Probe::new(self.probe, &provider);
            let token = TestToken::new(self.token, &provider);
            let values = [
                probe.owner().call().await?.abi_encode(),
                probe.values(n(1)).call().await?.abi_encode(),
                probe.values(n(1001)).call().await?.abi_encode(),
                probe.divide(n(10), n(3)).call().await?.abi_encode(),
                token.name().call().await?.abi_encode(),
                token.symbol().call().await?.abi_encode(),
                U256::from(token.decimals().call().await?).abi_encode(),
                token.totalSupply().call().await?.abi_encode(),
                token.balanceOf(a1).call().await?.abi_encode(),
                token.balanceOf(a3).call().await?.abi_encode(),
                token.allowance(a1, a2).call().await?.abi_encode(),
            ];
            results.push(values.map(|v| json!(Bytes::from(v))));
        }
        for (i, (ours, anvil)) in results[0].iter().zip(&results[1]).enumerate() {
            self.differ(format_args!("eth_call {i}"), ours, anvil);
        }
        let provider = ProviderBuilder::new().connect_http(self.ours.url.parse()?);
        let token = TestToken::new(self.token, &provider);
        ensure!(token.name().call().await? == "Test Token");
        ensure!(token.symbol().call().await? == "TST");
        ensure!(token.decimals().call().await? == 18);

        // `block.timestamp` in a call after the clock moved on: on "latest", both run the call
        // in the head block's context, as go-ethereum does; on "pending", ours runs it in the
        // next block's, whose timestamp follows the moved clock.
        let latest = json!(["latest", false]);
        let ours = self
            .ours
            .rpc("eth_getBlockByNumber", latest.clone())
            .await?;
        let anvil = self.anvil.rpc("eth_getBlockByNumber", latest).await?;
        self.differ(
            "latest block's timestamp",
            &ours["timestamp"],
            &anvil["timestamp"],
        );
        let head = parse_quantity(&ours["timestamp"])?;
        for node in [&self.ours, &self.anvil] {
            node.rpc("evm_increaseTime", json!([3600])).await?;
        }
        let input = Bytes::from(Probe::timestampCall {}.abi_encode());
        let params = json!([{ "to": self.probe, "input": input }, "latest"]);
        let (ours, anvil) = self.both("eth_call", params).await?;
        let timestamp = |answer: Result<Value, Value>| -> Result<u64> {
            let answer = answer.map_err(|e| anyhow!("timestamp() failed: {e}"))?;
            let word = serde_json::from_value::<B256>(answer)?;
            Ok(U256::from_be_bytes(word.0).to::<u64>())
        };
        let (ours, anvil) = (timestamp(ours)?, timestamp(anvil)?);
        ensure!(
            anvil == head && ours == head,
            "a call on latest saw {ours} (ours) and {anvil} (anvil); the head is at {head}"
        );
        let params = json!([{ "to": self.probe, "input": input }, "pending"]);
        let pending = timestamp(Ok(self.ours.rpc("eth_call", params).await?))?;
        ensure!(
            (head + 3600..head + 3600 + 60).contains(&pending),
            "our call on pending saw {pending}, the next block is due at {}",
            head + 3600
        );
        Ok(())
    }

    /// Calls that revert give code 3 and the same revert data on both chains, from `eth_call`
    /// and `eth_estimateGas` alike.
    async fn reverted_calls(&mut self) -> Result<()> {
        let a3 = self.addr(3);
        let reason = Probe::failWithReasonCall {
            reason: "no way".into(),
        };
        let custom = Probe::failWithCustomCall { code: n(7) };
        let unauthorized = Probe::Unauthorized {
            caller: a3,
            code: n(7),
        };
        let too_much = TestToken::transferCall {
            to: a3,
            value: tokens(1_000_000),
        };
        let insufficient = TestToken::ERC20InsufficientBalance {
            sender: a3,
            balance: tokens(100),
            needed: tokens(1_000_000),
        };
        let cases = [
            (
                "reason",
                self.probe,
                reason.abi_encode(),
                Revert::from("no way").abi_encode(),
            ),
            (
                "custom error",
                self.probe,
                custom.abi_encode(),
                unauthorized.abi_encode(),
            ),
            (
                "panic",
                self.probe,
                Probe::divideCall { a: n(1), b: n(0) }.abi_encode(),
                Panic::from(0x12).abi_encode(),
            ),
            (
                "ERC-20 custom error",
                self.token,
                too_much.abi_encode(),
                insufficient.abi_encode(),
            ),
        ];
        for (what, to, input, data) in cases {
            let request = json!({ "from": a3, "to": to, "input": Bytes::from(input) });
            let data = json!(Bytes::from(data));
            for method in ["eth_call", "eth_estimateGas"] {
                let (ours, anvil) = self.both(method, json!([request, "latest"])).await?;
                for (name, answer) in [("ours", &ours), ("anvil", &anvil)] {
                    match answer {
                        Err(error) if error["code"] == json!(3) && error["data"] == data => {}
                        _ => self
                            .mismatches
                            .push(format!("{method} {what}: {name} answered {answer:?}")),
                    }
                }
            }
        }
        Ok(())
    }

    /// `eth_getLogs` over every mined block gives the same logs in the same order.
    async fn logs(&mut self) -> Result<()> {
        let params = json!([{ "fromBlock": "0x1", "toBlock": "latest" }]);
        let ours = self.ours.rpc("eth_getLogs", params.clone()).await?;
        let anvil = self.anvil.rpc("eth_getLogs", params).await?;
        let (Some(ours), Some(anvil)) = (ours.as_array(), anvil.as_array()) else {
            bail!("eth_getLogs did not answer a list: ours {ours}, anvil {anvil}");
        };
        ensure!(ours.len() > 10, "only {} logs", ours.len());
        if ours.len() != anvil.len() {
            self.differ(
                "eth_getLogs: number of logs",
                &json!(ours.len()),
                &json!(anvil.len()),
            );
            return Ok(());
        }
        for (i, (ours, anvil)) in ours.iter().zip(anvil).enumerate() {
            self.compare_fields(&format!("eth_getLogs: log {i}"), ours, anvil, LOG_FIELDS);
        }
        Ok(())
    }

    /// Estimates may differ between nodes (each searches for a limit that works), but ours must
    /// be enough: the transaction succeeds with it on both chains and uses no more than it.
    async fn estimates(&mut self) -> Result<()> {
        let (probe, token) = (self.probe, self.token);
        let (a1, a2) = (self.addr(1), self.addr(2));
        let store = Probe::storeCall {
            key: n(10),
            value: n(1),
        };
        let transfer = TestToken::transferCall {
            to: a2,
            value: tokens(1),
        };
        let transfer_from = TestToken::transferFromCall {
            from: a1,
            to: a2,
            value: tokens(200),
        };
        let cases = [
            ("store", 0, call(probe, store)),
            ("ping(4)", 1, call(probe, Probe::pingCall { n: n(4) })),
            ("burn(5)", 2, call(probe, Probe::burnCall { rounds: n(5) })),
            ("deposit", 3, call(probe, Probe::depositCall {}).value(n(1))),
            ("token transfer", 1, call(token, transfer)),
            ("token transferFrom", 2, call(token, transfer_from)),
        ];
        let mut txs = Vec::new();
        let mut estimates = Vec::new();
        for (what, from, action) in cases {
            let request = json!([{
                "from": self.addr(from),
                "to": action.to.to(),
                "value": action.value,
                "input": action.input,
            }, "latest"]);
            let ours = self.ours.rpc("eth_estimateGas", request.clone()).await?;
            let anvil = self.anvil.rpc("eth_estimateGas", request).await?;
            let estimate = parse_quantity(&ours)?;
            if ours != anvil {
                eprintln!(
                    "eth_estimateGas {what}: ours {estimate}, anvil {}",
                    parse_quantity(&anvil)?
                );
            }
            let fee = Fee::Eip1559 {
                max_fee: GWEI,
                tip: 0,
            };
            txs.push(self.sign(from, what, fee, action, estimate)?);
            estimates.push(estimate);
        }
        let receipts = self.block(txs).await?;
        for (receipt, estimate) in receipts.iter().zip(estimates) {
            ensure!(
                receipt["status"] == json!("0x1"),
                "failed with our estimate {estimate}: {receipt}"
            );
            let used = parse_quantity(&receipt["gasUsed"])?;
            ensure!(
                used <= estimate,
                "used {used} gas, more than our estimate {estimate}"
            );
        }
        Ok(())
    }
}
