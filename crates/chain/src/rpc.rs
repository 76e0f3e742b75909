//! JSON-RPC 2.0: request parsing, batches, errors, and the Ethereum methods.

mod control;
mod convert;
pub(crate) mod filters;

use std::sync::Arc;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718};
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256, keccak256};
use alloy_rpc_types_eth::{FeeHistory, Filter, TransactionRequest};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{
    chain::{CallError, CallRequest, Chain, SignedTx, StateAtError},
    error::TxError,
    node::Node,
};
use filters::{Changes, Filters};

/// Standard JSON-RPC and Ethereum error codes.
pub(crate) mod code {
    pub(crate) const PARSE_ERROR: i64 = -32700;
    pub(crate) const INVALID_REQUEST: i64 = -32600;
    pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
    pub(crate) const INVALID_PARAMS: i64 = -32602;
    pub(crate) const INTERNAL_ERROR: i64 = -32603;
    /// Transaction rejected, state not available, and other server errors (go-ethereum).
    pub(crate) const SERVER_ERROR: i64 = -32000;
    /// A requested resource (block, filter) does not exist (EIP-1474).
    pub(crate) const RESOURCE_NOT_FOUND: i64 = -32001;
    /// A request exceeds a limit (EIP-1474).
    pub(crate) const LIMIT_EXCEEDED: i64 = -32005;
    /// Execution reverted; `data` holds the revert bytes.
    pub(crate) const EXECUTION_REVERTED: i64 = 3;
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcError {
    pub(crate) code: i64,
    pub(crate) message: String,
    pub(crate) data: Option<Value>,
}

/// What `web3_clientVersion` answers. It starts with `anvil` because that is what Hardhat's
/// network helpers (`loadFixture`, `time`, `mine`) and other tools test before they use the
/// test-control methods, which this node answers with anvil's names.
pub(crate) fn client_version() -> String {
    format!(
        "anvil-compatible/agora-chain/v{}",
        env!("CARGO_PKG_VERSION")
    )
}

impl RpcError {
    pub(crate) fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(code::INVALID_REQUEST, message)
    }

    pub(crate) fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(code::INVALID_PARAMS, message)
    }

    pub(crate) fn server(message: impl Into<String>) -> Self {
        Self::new(code::SERVER_ERROR, message)
    }

    pub(crate) fn resource_not_found(message: impl Into<String>) -> Self {
        Self::new(code::RESOURCE_NOT_FOUND, message)
    }

    pub(crate) fn limit(message: impl Into<String>) -> Self {
        Self::new(code::LIMIT_EXCEEDED, message)
    }

    pub(crate) fn filter_not_found(id: U256) -> Self {
        Self::server(format!(
            "filter not found: {id:#x} (filters expire after 5 minutes without a poll)"
        ))
    }

    pub(crate) fn revert(output: Bytes) -> Self {
        use alloy_sol_types::{Panic, Revert, SolError};
        let message = if let Ok(revert) = Revert::abi_decode(&output) {
            format!("execution reverted: {}", revert.reason)
        } else if let Ok(panic) = Panic::abi_decode(&output) {
            match panic.kind() {
                Some(kind) => format!("execution reverted: panic: {kind} ({:#x})", panic.code),
                None => format!("execution reverted: panic code {:#x}", panic.code),
            }
        } else {
            "execution reverted".to_string()
        };
        Self {
            code: code::EXECUTION_REVERTED,
            message,
            data: Some(Value::String(output.to_string())),
        }
    }

    fn from_call(error: CallError) -> Self {
        match error {
            CallError::Revert(output) => Self::revert(output),
            CallError::Halt(reason) => Self::server(format!("execution halted: {reason}")),
            CallError::Invalid(reason) => Self::server(reason),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        error
    }
}

impl From<TxError> for RpcError {
    fn from(error: TxError) -> Self {
        let code = match error {
            TxError::Decode(_) | TxError::UnsupportedType(_) => code::INVALID_PARAMS,
            TxError::Oversized { .. } => code::LIMIT_EXCEEDED,
            _ => code::SERVER_ERROR,
        };
        Self::new(code, error.to_string())
    }
}

/// Builds a response object.
pub(crate) fn response(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(error) => json!({ "jsonrpc": "2.0", "id": id, "error": error.to_json() }),
    }
}

/// Positional parameters.
#[derive(Debug)]
pub(crate) struct Params(Vec<Value>);

impl Params {
    fn parse(params: Option<Value>) -> Result<Self, RpcError> {
        match params {
            None | Some(Value::Null) => Ok(Self(Vec::new())),
            Some(Value::Array(values)) => Ok(Self(values)),
            Some(_) => Err(RpcError::invalid_params(
                "invalid params: expected an array of positional parameters",
            )),
        }
    }

    fn at_most(&self, n: usize) -> Result<(), RpcError> {
        if self.0.len() > n {
            return Err(RpcError::invalid_params(format!(
                "too many arguments: got {}, want at most {n}",
                self.0.len()
            )));
        }
        Ok(())
    }

    fn optional<T: DeserializeOwned>(
        &self,
        index: usize,
        name: &str,
    ) -> Result<Option<T>, RpcError> {
        match self.0.get(index) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => serde_json::from_value(value.clone())
                .map(Some)
                .map_err(|e| {
                    RpcError::invalid_params(format!("invalid argument {index} ({name}): {e}"))
                }),
        }
    }

    fn required<T: DeserializeOwned>(&self, index: usize, name: &str) -> Result<T, RpcError> {
        self.optional(index, name)?.ok_or_else(|| {
            RpcError::invalid_params(format!(
                "missing value for required argument {index} ({name})"
            ))
        })
    }
}

fn quantity(n: u64) -> Value {
    Value::String(format!("{n:#x}"))
}

fn to_value<T: serde::Serialize>(value: T) -> Result<Value, RpcError> {
    serde_json::to_value(value).map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))
}

/// Accepts a count as a JSON number or a hex quantity.
fn parse_count(value: &Value, what: &str) -> Result<u64, RpcError> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s
            .strip_prefix("0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok()),
        _ => None,
    }
    .ok_or_else(|| {
        RpcError::invalid_params(format!(
            "invalid {what}: expected a number or hex quantity, got {value}"
        ))
    })
}

/// Methods that take no parameters.
const NO_PARAMS: &[&str] = &[
    "web3_clientVersion",
    "net_version",
    "net_listening",
    "net_peerCount",
    "eth_chainId",
    "eth_syncing",
    "eth_mining",
    "eth_hashrate",
    "eth_coinbase",
    "eth_blockNumber",
    "eth_accounts",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    "eth_blobBaseFee",
    "eth_newBlockFilter",
    "eth_newPendingTransactionFilter",
    "txpool_status",
];

/// The JSON-RPC front of a node, shared by every connection.
#[derive(Debug)]
pub(crate) struct Rpc {
    pub(crate) node: Arc<Node>,
    filters: Mutex<Filters>,
    pub(crate) max_batch_size: usize,
    client_version: String,
}

/// Keeps the calls of one connection in order: the connection reads its next message once the
/// current call has finished or, for a transaction, once the transaction is queued, so that a
/// sender's transactions sent back to back are queued in the order they were sent.
#[derive(Debug)]
pub(crate) struct Sequencer(Mutex<Option<tokio::sync::oneshot::Sender<()>>>);

impl Sequencer {
    pub(crate) fn new() -> (Self, tokio::sync::oneshot::Receiver<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (Self(Mutex::new(Some(tx))), rx)
    }

    /// Lets the connection go on to its next message.
    pub(crate) fn release(&self) {
        if let Some(tx) = self.0.lock().take() {
            let _ = tx.send(());
        }
    }
}

/// What a connection can do beyond plain calls (subscriptions, over WebSocket).
pub(crate) trait Subscriber: Send + Sync {
    fn subscribe(&self, kind: String, filter: Option<Filter>) -> Result<String, RpcError>;
    fn unsubscribe(&self, id: &str) -> bool;
}

impl Rpc {
    pub(crate) fn new(node: Arc<Node>, max_batch_size: usize) -> Self {
        Self {
            node,
            filters: Mutex::new(Filters::default()),
            max_batch_size,
            client_version: client_version(),
        }
    }

    /// Handles one message (a call or a batch); `None` when nothing is to be answered.
    pub(crate) async fn handle_message(
        &self,
        body: &[u8],
        subscriber: Option<&dyn Subscriber>,
        sequencer: Option<&Sequencer>,
    ) -> Option<Value> {
        let value: Value = match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(e) => {
                return Some(response(
                    Value::Null,
                    Err(RpcError::new(
                        code::PARSE_ERROR,
                        format!("parse error: {e}"),
                    )),
                ));
            }
        };
        match value {
            Value::Array(calls) => {
                if calls.is_empty() {
                    return Some(response(
                        Value::Null,
                        Err(RpcError::invalid_request("invalid request: empty batch")),
                    ));
                }
                if calls.len() > self.max_batch_size {
                    return Some(response(
                        Value::Null,
                        Err(RpcError::limit(format!(
                            "batch of {} calls exceeds the limit of {}",
                            calls.len(),
                            self.max_batch_size
                        ))),
                    ));
                }
                let mut responses = Vec::with_capacity(calls.len());
                // A batch keeps its place in line until all its calls are done.
                for call in calls {
                    if let Some(r) = self.handle_call(call, subscriber, None).await {
                        responses.push(r);
                    }
                }
                (!responses.is_empty()).then_some(Value::Array(responses))
            }
            call => self.handle_call(call, subscriber, sequencer).await,
        }
    }

    async fn handle_call(
        &self,
        call: Value,
        subscriber: Option<&dyn Subscriber>,
        sequencer: Option<&Sequencer>,
    ) -> Option<Value> {
        let Value::Object(mut call) = call else {
            return Some(response(
                Value::Null,
                Err(RpcError::invalid_request(
                    "invalid request: expected a JSON object",
                )),
            ));
        };
        let id = call.remove("id");
        let reply_id = id.clone().unwrap_or(Value::Null);
        if !matches!(reply_id, Value::Null | Value::Number(_) | Value::String(_)) {
            return Some(response(
                Value::Null,
                Err(RpcError::invalid_request(
                    "invalid request: id must be a number, a string or null",
                )),
            ));
        }
        if call.get("jsonrpc") != Some(&Value::String("2.0".into())) {
            return Some(response(
                reply_id,
                Err(RpcError::invalid_request(
                    "invalid request: \"jsonrpc\" must be \"2.0\"",
                )),
            ));
        }
        let method = match call.remove("method") {
            Some(Value::String(method)) => method,
            Some(_) => {
                return Some(response(
                    reply_id,
                    Err(RpcError::invalid_request(
                        "invalid request: \"method\" must be a string",
                    )),
                ));
            }
            None => {
                return Some(response(
                    reply_id,
                    Err(RpcError::invalid_request(
                        "invalid request: \"method\" is missing",
                    )),
                ));
            }
        };
        let result = match Params::parse(call.remove("params")) {
            Ok(params) => self.dispatch(&method, params, subscriber, sequencer).await,
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            tracing::debug!(target: "agora::chain::rpc", %method, code = e.code, message = %e.message, "call failed");
        }
        // A call without an id is a notification: it gets no answer.
        id.map(|_| response(reply_id, result))
    }

    /// The block whose state a read names: the head's number for `latest`, `pending` and
    /// the other tags, else the block named, if its state is kept.
    fn check_state_block(&self, chain: &Chain, block: Option<BlockId>) -> Result<u64, RpcError> {
        Self::state_block(chain, block)
    }

    fn state_block(chain: &Chain, block: Option<BlockId>) -> Result<u64, RpcError> {
        let head = chain.head_number();
        let number = match block {
            None => return Ok(head),
            Some(BlockId::Number(BlockNumberOrTag::Number(n))) => n,
            Some(BlockId::Number(BlockNumberOrTag::Earliest)) => 0,
            Some(BlockId::Number(_)) => return Ok(head),
            Some(BlockId::Hash(h)) => chain
                .block_by_hash(&h.block_hash)
                .ok_or_else(|| {
                    RpcError::resource_not_found(format!("block {} not found", h.block_hash))
                })?
                .number(),
        };
        if number > head {
            return Err(RpcError::resource_not_found(format!(
                "block {number} not found: the head is block {head}"
            )));
        }
        match chain.state_at(number) {
            Ok(_) => Ok(number),
            Err(StateAtError::Pruned { kept, .. }) => Err(RpcError::server(format!(
                "historical state is not kept: block {number} is {} blocks behind the head, block {head}, and this node keeps the states of the last {kept}; start it with --history N or --archive",
                head - number
            ))),
            Err(StateAtError::NotFound { .. }) => Err(RpcError::resource_not_found(format!(
                "block {number} not found: the head is block {head}"
            ))),
        }
    }

    /// The block being built (`pending`): the next number and timestamp on the head, holding
    /// the transactions waiting to be mined; no hash yet, as go-ethereum answers.
    fn pending_block(&self, chain: &Chain, full: bool) -> Value {
        let head = chain.head();
        let mut block = serde_json::to_value(convert::block(head, false)).unwrap_or(Value::Null);
        let (pending, _) = self.node.pool_content();
        block["number"] = quantity(head.number() + 1);
        block["parentHash"] = Value::String(head.hash.to_string());
        block["timestamp"] = quantity(chain.next_timestamp());
        block["hash"] = Value::Null;
        block["nonce"] = Value::Null;
        block["gasUsed"] = quantity(0);
        block["transactions"] = if full {
            serde_json::to_value(
                pending
                    .iter()
                    .map(convert::pending_transaction)
                    .collect::<Vec<_>>(),
            )
            .unwrap_or(Value::Null)
        } else {
            serde_json::to_value(pending.iter().map(|t| t.hash).collect::<Vec<_>>())
                .unwrap_or(Value::Null)
        };
        block
    }

    fn block_number(chain: &Chain, tag: BlockNumberOrTag) -> u64 {
        match tag {
            BlockNumberOrTag::Number(n) => n,
            BlockNumberOrTag::Earliest => 0,
            _ => chain.head_number(),
        }
    }

    async fn dispatch(
        &self,
        method: &str,
        p: Params,
        subscriber: Option<&dyn Subscriber>,
        sequencer: Option<&Sequencer>,
    ) -> Result<Value, RpcError> {
        let node = &self.node;
        if let Some(failure) = node.failure() {
            return Err(RpcError::new(
                code::INTERNAL_ERROR,
                format!(
                    "the chain has stopped: {failure}; restart it to reopen its data directory"
                ),
            ));
        }
        let queued = || {
            if let Some(sequencer) = sequencer {
                sequencer.release();
            }
        };
        if NO_PARAMS.contains(&method) {
            p.at_most(0)?;
        }
        match method {
            "web3_clientVersion" => Ok(Value::String(self.client_version.clone())),
            "web3_sha3" => {
                p.at_most(1)?;
                let data: Bytes = p.required(0, "data")?;
                Ok(Value::String(keccak256(&data).to_string()))
            }
            "net_version" => Ok(Value::String(node.chain.read().params.chain_id.to_string())),
            "net_listening" => Ok(Value::Bool(true)),
            "net_peerCount" => Ok(quantity(0)),
            "eth_chainId" => Ok(quantity(node.chain.read().params.chain_id)),
            "eth_syncing" => Ok(Value::Bool(false)),
            "eth_mining" => Ok(Value::Bool(true)),
            "eth_hashrate" => Ok(quantity(0)),
            "eth_coinbase" => Ok(Value::String(Address::ZERO.to_string())),
            "eth_blockNumber" => Ok(quantity(node.chain.read().head_number())),
            "eth_accounts" => to_value(
                node.dev_accounts
                    .iter()
                    .map(|a| a.address)
                    .collect::<Vec<_>>(),
            ),
            "eth_gasPrice" => Ok(quantity(node.chain.read().params.base_fee)),
            "eth_maxPriorityFeePerGas" => Ok(quantity(0)),
            "eth_blobBaseFee" => Ok(quantity(1)),
            "eth_getBalance" | "eth_getTransactionCount" | "eth_getCode" => {
                p.at_most(2)?;
                let address: Address = p.required(0, "address")?;
                let block: Option<BlockId> = p.optional(1, "block")?;
                if method == "eth_getTransactionCount"
                    && matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending)))
                {
                    return Ok(quantity(node.pending_nonce(&address)));
                }
                let chain = node.chain.read();
                let number = self.check_state_block(&chain, block)?;
                let state = chain.state_at(number).map_err(state_gone)?;
                Ok(match method {
                    "eth_getBalance" => Value::String(format!("{:#x}", state.balance(&address))),
                    "eth_getTransactionCount" => quantity(state.nonce(&address)),
                    _ => Value::String(state.code_of(&address).to_string()),
                })
            }
            "eth_getStorageAt" => {
                p.at_most(3)?;
                let address: Address = p.required(0, "address")?;
                let slot: U256 = p.required(1, "slot")?;
                let block: Option<BlockId> = p.optional(2, "block")?;
                let chain = node.chain.read();
                let number = self.check_state_block(&chain, block)?;
                let state = chain.state_at(number).map_err(state_gone)?;
                Ok(Value::String(
                    B256::from(state.slot(&address, slot)).to_string(),
                ))
            }
            "eth_call" => {
                p.at_most(3)?;
                let (mut request, block) = call_params(&p, false)?;
                let chain = node.chain.read();
                request.at = Some(self.check_state_block(&chain, block)?);
                let (output, _) = chain.call(&request, None).map_err(RpcError::from_call)?;
                Ok(Value::String(output.to_string()))
            }
            "debug_traceTransaction" => {
                p.at_most(2)?;
                let hash: B256 = p.required(0, "transaction hash")?;
                let options: alloy_rpc_types_trace::geth::GethDebugTracingOptions =
                    p.optional(1, "tracing options")?.unwrap_or_default();
                let node = node.clone();
                let trace = tokio::task::spawn_blocking(move || {
                    node.chain.read().trace_transaction(&hash, &options)
                })
                .await
                .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?;
                trace.map_err(trace_error)
            }
            "debug_traceCall" => {
                p.at_most(3)?;
                let request: TransactionRequest = p.required(0, "transaction")?;
                let block: Option<BlockId> = p.optional(1, "block")?;
                let options: alloy_rpc_types_trace::geth::GethDebugTracingCallOptions =
                    p.optional(2, "tracing options")?.unwrap_or_default();
                if options.state_overrides.is_some() || options.block_overrides.is_some() {
                    return Err(RpcError::invalid_params(
                        "invalid argument 2 (tracing options): stateOverrides and blockOverrides are not supported",
                    ));
                }
                let mut request = call_request(request)?;
                request.pending = matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending)));
                let node = node.clone();
                tokio::task::spawn_blocking(move || {
                    let chain = node.chain.read();
                    request.at = Some(Rpc::state_block(&chain, block)?);
                    chain
                        .trace_call(&request, &options.tracing_options)
                        .map_err(trace_error)
                })
                .await
                .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?
            }
            "eth_createAccessList" => {
                p.at_most(2)?;
                let (mut request, block) = call_params(&p, true)?;
                let chain = node.chain.read();
                request.at = Some(self.check_state_block(&chain, block)?);
                let (list, gas, error) = chain
                    .create_access_list(&request)
                    .map_err(RpcError::from_call)?;
                let mut answer = json!({ "accessList": list, "gasUsed": quantity(gas) });
                if let Some(error) = error {
                    answer["error"] = Value::String(error);
                }
                Ok(answer)
            }
            "eth_estimateGas" => {
                p.at_most(3)?;
                // No block named: the pending block's context (the next number and
                // timestamp), as anvil does, since the estimate is for a transaction sent now.
                let (mut request, block) = call_params(&p, true)?;
                let chain = node.chain.read();
                request.at = Some(self.check_state_block(&chain, block)?);
                Ok(quantity(
                    chain.estimate_gas(&request).map_err(RpcError::from_call)?,
                ))
            }
            "eth_sendRawTransaction" => {
                p.at_most(1)?;
                let raw: Bytes = p.required(0, "signed transaction")?;
                let tx = SignedTx::decode(&raw)?;
                let hash = node.submit(tx, queued).await?;
                Ok(Value::String(hash.to_string()))
            }
            "eth_sendTransaction" => {
                p.at_most(1)?;
                let request: TransactionRequest = p.required(0, "transaction")?;
                let tx = self.sign_for_dev_account(request)?;
                let hash = node.submit(tx, queued).await?;
                Ok(Value::String(hash.to_string()))
            }
            "personal_sign" | "eth_sign" => {
                p.at_most(2)?;
                // personal_sign(message, address); eth_sign(address, message). Both sign the
                // EIP-191 personal message, as go-ethereum, anvil and Hardhat do.
                let (message, address) = if method == "personal_sign" {
                    (0, 1)
                } else {
                    (1, 0)
                };
                let address: Address = p.required(address, "address")?;
                let message = message_bytes(p.required::<Value>(message, "message")?);
                let signer = self.dev_signer(&address, method)?;
                let signature = alloy_signer::SignerSync::sign_message_sync(&signer, &message)
                    .map_err(|e| RpcError::server(format!("cannot sign: {e}")))?;
                Ok(Value::String(Bytes::from(signature.as_bytes()).to_string()))
            }
            "eth_signTypedData_v4" | "eth_signTypedData" => {
                p.at_most(2)?;
                let address: Address = p.required(0, "address")?;
                // Wallets send the typed data as a JSON string (MetaMask) or as an object.
                let data = match p.required::<Value>(1, "typed data")? {
                    Value::String(text) => serde_json::from_str::<Value>(&text).map_err(|e| {
                        RpcError::invalid_params(format!(
                            "invalid argument 1 (typed data): not JSON: {e}"
                        ))
                    })?,
                    other => other,
                };
                let typed: alloy_dyn_abi::eip712::TypedData = serde_json::from_value(data)
                    .map_err(|e| {
                        RpcError::invalid_params(format!(
                            "invalid argument 1 (typed data): not EIP-712 typed data: {e}"
                        ))
                    })?;
                let hash = typed.eip712_signing_hash().map_err(|e| {
                    RpcError::invalid_params(format!(
                        "invalid argument 1 (typed data): cannot be encoded: {e}"
                    ))
                })?;
                let signer = self.dev_signer(&address, method)?;
                let signature = alloy_signer::SignerSync::sign_hash_sync(&signer, &hash)
                    .map_err(|e| RpcError::server(format!("cannot sign: {e}")))?;
                Ok(Value::String(Bytes::from(signature.as_bytes()).to_string()))
            }
            "eth_getTransactionByHash" => {
                p.at_most(1)?;
                let hash: B256 = p.required(0, "transaction hash")?;
                let chain = node.chain.read();
                match chain.transaction(&hash) {
                    Some((block, index)) => to_value(convert::transaction(block, index)),
                    None => Ok(Value::Null),
                }
            }
            "eth_getTransactionReceipt" => {
                p.at_most(1)?;
                let hash: B256 = p.required(0, "transaction hash")?;
                let chain = node.chain.read();
                match chain.transaction(&hash) {
                    Some((block, index)) => to_value(convert::receipt(block, index)),
                    None => Ok(Value::Null),
                }
            }
            "eth_getBlockByNumber" | "eth_getBlockByHash" => {
                p.at_most(2)?;
                let full: bool = p.optional(1, "full transactions")?.unwrap_or(false);
                let chain = node.chain.read();
                let block = if method == "eth_getBlockByNumber" {
                    let tag: BlockNumberOrTag = p.required(0, "block number")?;
                    if tag == BlockNumberOrTag::Pending {
                        return Ok(self.pending_block(&chain, full));
                    }
                    chain.block(Self::block_number(&chain, tag))
                } else {
                    let hash: B256 = p.required(0, "block hash")?;
                    chain.block_by_hash(&hash)
                };
                match block {
                    Some(block) => to_value(convert::block(block, full)),
                    None => Ok(Value::Null),
                }
            }
            "eth_getBlockTransactionCountByNumber" | "eth_getBlockTransactionCountByHash" => {
                p.at_most(1)?;
                let chain = node.chain.read();
                let block = if method.ends_with("Number") {
                    chain.block(Self::block_number(&chain, p.required(0, "block number")?))
                } else {
                    chain.block_by_hash(&p.required(0, "block hash")?)
                };
                Ok(block.map_or(Value::Null, |b| quantity(b.txs.len() as u64)))
            }
            "eth_getTransactionByBlockNumberAndIndex" | "eth_getTransactionByBlockHashAndIndex" => {
                p.at_most(2)?;
                let index: U64 = p.required(1, "index")?;
                let chain = node.chain.read();
                let block = if method.contains("Number") {
                    chain.block(Self::block_number(&chain, p.required(0, "block number")?))
                } else {
                    chain.block_by_hash(&p.required(0, "block hash")?)
                };
                let index = usize::try_from(index.to::<u64>()).unwrap_or(usize::MAX);
                match block {
                    Some(block) if index < block.txs.len() => {
                        to_value(convert::transaction(block, index))
                    }
                    _ => Ok(Value::Null),
                }
            }
            "eth_getBlockReceipts" => {
                p.at_most(1)?;
                let id: BlockId = p.required(0, "block")?;
                let chain = node.chain.read();
                let block = match id {
                    BlockId::Number(tag) => chain.block(Self::block_number(&chain, tag)),
                    BlockId::Hash(h) => chain.block_by_hash(&h.block_hash),
                };
                match block {
                    Some(block) => to_value(
                        (0..block.txs.len())
                            .map(|i| convert::receipt(block, i))
                            .collect::<Vec<_>>(),
                    ),
                    None => Ok(Value::Null),
                }
            }
            "eth_feeHistory" => {
                p.at_most(3)?;
                let count = parse_count(p.0.first().unwrap_or(&Value::Null), "block count")?;
                let newest: BlockNumberOrTag = p.required(1, "newest block")?;
                let percentiles: Option<Vec<f64>> = p.optional(2, "reward percentiles")?;
                let chain = node.chain.read();
                to_value(fee_history(&chain, count, newest, percentiles)?)
            }
            "eth_getLogs" => {
                p.at_most(1)?;
                let filter: Filter = p.required(0, "filter")?;
                let chain = node.chain.read();
                to_value(filters::query(&chain, &filter)?)
            }
            "eth_newFilter" => {
                p.at_most(1)?;
                let filter: Filter = p.required(0, "filter")?;
                let head = node.chain.read().head_number();
                Ok(Value::String(format!(
                    "{:#x}",
                    self.filters.lock().new_log_filter(filter, head)
                )))
            }
            "eth_newBlockFilter" => {
                let head = node.chain.read().head_number();
                Ok(Value::String(format!(
                    "{:#x}",
                    self.filters.lock().new_block_filter(head)
                )))
            }
            "eth_newPendingTransactionFilter" => {
                let head = node.chain.read().head_number();
                Ok(Value::String(format!(
                    "{:#x}",
                    self.filters.lock().new_pending_transaction_filter(head)
                )))
            }
            "eth_getFilterChanges" => {
                p.at_most(1)?;
                let id: U256 = p.required(0, "filter id")?;
                let chain = node.chain.read();
                match self.filters.lock().changes(id, &chain)? {
                    Changes::Hashes(hashes) => to_value(hashes),
                    Changes::Logs(logs) => to_value(logs),
                }
            }
            "eth_getFilterLogs" => {
                p.at_most(1)?;
                let id: U256 = p.required(0, "filter id")?;
                let chain = node.chain.read();
                to_value(self.filters.lock().logs(id, &chain)?)
            }
            "eth_uninstallFilter" => {
                p.at_most(1)?;
                let id: U256 = p.required(0, "filter id")?;
                Ok(Value::Bool(self.filters.lock().uninstall(id)))
            }
            "eth_subscribe" => {
                p.at_most(2)?;
                let Some(subscriber) = subscriber else {
                    return Err(RpcError::new(
                        code::METHOD_NOT_FOUND,
                        "eth_subscribe needs a WebSocket connection: connect with ws:// to the same address",
                    ));
                };
                let kind: String = p.required(0, "subscription kind")?;
                let filter: Option<Filter> = p.optional(1, "filter")?;
                Ok(Value::String(subscriber.subscribe(kind, filter)?))
            }
            "eth_unsubscribe" => {
                p.at_most(1)?;
                let id: String = p.required(0, "subscription id")?;
                Ok(Value::Bool(subscriber.is_some_and(|s| s.unsubscribe(&id))))
            }
            "evm_increaseTime" | "anvil_increaseTime" => {
                p.at_most(1)?;
                let seconds = parse_count(p.0.first().unwrap_or(&Value::Null), "seconds")?;
                let node = node.clone();
                let offset = blocking(move || node.increase_time(seconds)).await?;
                Ok(quantity(offset.max(0) as u64))
            }
            "evm_setNextBlockTimestamp" | "anvil_setNextBlockTimestamp" => {
                p.at_most(1)?;
                let timestamp = parse_count(p.0.first().unwrap_or(&Value::Null), "timestamp")?;
                check_not_before_head(&node.chain.read(), timestamp)?;
                let node = node.clone();
                blocking(move || node.set_next_timestamp(timestamp)).await?;
                Ok(Value::Null)
            }
            "evm_mine" => {
                p.at_most(1)?;
                let timestamp = match p.0.first() {
                    None | Some(Value::Null) => None,
                    Some(Value::Object(o)) => o
                        .get("timestamp")
                        .map(|v| parse_count(v, "timestamp"))
                        .transpose()?,
                    Some(v) => Some(parse_count(v, "timestamp")?),
                };
                if let Some(ts) = timestamp {
                    check_not_before_head(&node.chain.read(), ts)?;
                }
                let node = node.clone();
                blocking(move || {
                    node.mine_now(timestamp);
                    Ok(())
                })
                .await?;
                Ok(Value::String("0x0".into()))
            }
            m if control::handles(m) => self.control(m, &p).await,
            "txpool_status" => Ok(json!({
                "pending": quantity(node.pending_count() as u64),
                "queued": quantity(node.queued_count() as u64),
            })),
            "txpool_content" => {
                p.at_most(0)?;
                let (pending, queued) = node.pool_content();
                let by_sender = |txs: Vec<SignedTx>| {
                    let mut senders = serde_json::Map::new();
                    for tx in txs {
                        let nonce = alloy_consensus::Transaction::nonce(&tx.envelope);
                        let entry = senders
                            .entry(tx.sender.to_checksum(None))
                            .or_insert_with(|| Value::Object(serde_json::Map::new()));
                        if let Value::Object(nonces) = entry {
                            nonces.insert(
                                nonce.to_string(),
                                serde_json::to_value(convert::pending_transaction(&tx))
                                    .unwrap_or(Value::Null),
                            );
                        }
                    }
                    Value::Object(senders)
                };
                Ok(json!({ "pending": by_sender(pending), "queued": by_sender(queued) }))
            }
            _ => Err(RpcError::new(
                code::METHOD_NOT_FOUND,
                format!("the method {method} does not exist/is not available"),
            )),
        }
    }

    /// The signer of a dev account, for the signing methods; another address is refused.
    fn dev_signer(
        &self,
        address: &Address,
        method: &str,
    ) -> Result<alloy_signer_local::PrivateKeySigner, RpcError> {
        self.node
            .dev_accounts
            .iter()
            .find(|a| a.address == *address)
            .map(|a| a.signer())
            .ok_or_else(|| {
                RpcError::server(format!(
                    "unknown account {address}: {method} signs only for the dev accounts (eth_accounts)"
                ))
            })
    }

    fn sign_for_dev_account(&self, request: TransactionRequest) -> Result<SignedTx, RpcError> {
        let from = request.from.ok_or_else(|| {
            RpcError::invalid_params("invalid argument 0 (transaction): \"from\" is required")
        })?;
        let account = self.node.dev_accounts.iter().find(|a| a.address == from);
        // An impersonated address (anvil_impersonateAccount) sends without its key: the
        // transaction is signed with a throwaway key and its sender set to the address.
        let impersonated = account.is_none() && self.node.impersonated.lock().contains(&from);
        let signer = match account {
            Some(account) => account.signer(),
            None if impersonated => impersonation_key(),
            None => return Err(TxError::UnknownAccount(from).into()),
        };
        let (chain_id, base_fee) = {
            let chain = self.node.chain.read();
            (chain.params.chain_id, chain.params.base_fee)
        };
        if let Some(id) = request.chain_id
            && id != chain_id
        {
            return Err(TxError::WrongChainId {
                got: id,
                expected: chain_id,
            }
            .into());
        }
        let mut call = call_request(request.clone())?;
        call.pending = true;
        let gas = match request.gas {
            Some(gas) => gas,
            None => self
                .node
                .chain
                .read()
                .estimate_gas(&call)
                .map_err(RpcError::from_call)?,
        };
        let nonce = request
            .nonce
            .unwrap_or_else(|| self.node.pending_nonce(&from));
        let to = request.to.unwrap_or(TxKind::Create);
        let value = request.value.unwrap_or_default();
        let input = call.input.clone();
        let sign_err = |e: alloy_signer::Error| RpcError::server(format!("signing failed: {e}"));
        let envelope: TxEnvelope = if let Some(gas_price) = request.gas_price {
            if let Some(access_list) = request.access_list {
                let mut tx = TxEip2930 {
                    chain_id,
                    nonce,
                    gas_price,
                    gas_limit: gas,
                    to,
                    value,
                    input,
                    access_list,
                };
                let signature = signer.sign_transaction_sync(&mut tx).map_err(sign_err)?;
                tx.into_signed(signature).into()
            } else {
                let mut tx = TxLegacy {
                    chain_id: Some(chain_id),
                    nonce,
                    gas_price,
                    gas_limit: gas,
                    to,
                    value,
                    input,
                };
                let signature = signer.sign_transaction_sync(&mut tx).map_err(sign_err)?;
                tx.into_signed(signature).into()
            }
        } else {
            let tip = request.max_priority_fee_per_gas.unwrap_or(0);
            let max_fee = request
                .max_fee_per_gas
                .unwrap_or(u128::from(base_fee) * 2 + tip);
            let mut tx = TxEip1559 {
                chain_id,
                nonce,
                gas_limit: gas,
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: tip,
                to,
                value,
                access_list: request.access_list.unwrap_or_default(),
                input,
            };
            let signature = signer.sign_transaction_sync(&mut tx).map_err(sign_err)?;
            tx.into_signed(signature).into()
        };
        let mut tx = SignedTx::decode(&envelope.encoded_2718())?;
        if impersonated {
            tx.sender = from;
        }
        Ok(tx)
    }
}

/// The key that signs an impersonated address's transactions (its signature is not checked:
/// the sender is set).
fn impersonation_key() -> alloy_signer_local::PrivateKeySigner {
    let secret = keccak256(b"agora-chain impersonation");
    match alloy_signer_local::PrivateKeySigner::from_bytes(&secret) {
        Ok(signer) => signer,
        Err(e) => unreachable!("a keccak hash is a valid secp256k1 key here: {e}"),
    }
}

/// Runs `work` (locks, fsync) off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> Result<T, RpcError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?
        .map_err(|e| RpcError::server(e.to_string()))
}

fn check_not_before_head(chain: &Chain, timestamp: u64) -> Result<(), RpcError> {
    let parent = chain.head().header.timestamp;
    if timestamp < parent {
        return Err(RpcError::invalid_params(format!(
            "timestamp {timestamp} is before the head block's timestamp {parent}"
        )));
    }
    Ok(())
}

fn call_request(request: TransactionRequest) -> Result<CallRequest, RpcError> {
    let input = match (&request.input.input, &request.input.data) {
        (Some(a), Some(b)) if a != b => {
            return Err(RpcError::invalid_params(
                "invalid argument 0 (transaction): both \"data\" and \"input\" are set and differ",
            ));
        }
        (Some(a), _) => a.clone(),
        (None, Some(b)) => b.clone(),
        (None, None) => Bytes::new(),
    };
    Ok(CallRequest {
        at: None,
        overrides: None,
        from: request.from,
        to: match request.to {
            Some(TxKind::Call(to)) => Some(to),
            _ => None,
        },
        gas: request.gas,
        gas_price: request.gas_price,
        max_fee_per_gas: request.max_fee_per_gas,
        max_priority_fee_per_gas: request.max_priority_fee_per_gas,
        value: request.value,
        input,
        nonce: request.nonce,
        access_list: request.access_list,
        pending: false,
    })
}

/// The most reward percentiles `eth_feeHistory` answers (geth's limit): each one is a number per
/// block in the answer, so the list would otherwise multiply the answer's size.
const MAX_REWARD_PERCENTILES: usize = 100;

fn fee_history(
    chain: &Chain,
    count: u64,
    newest: BlockNumberOrTag,
    percentiles: Option<Vec<f64>>,
) -> Result<FeeHistory, RpcError> {
    if let Some(p) = &percentiles
        && p.len() > MAX_REWARD_PERCENTILES
    {
        return Err(RpcError::invalid_params(format!(
            "{} reward percentiles: at most {MAX_REWARD_PERCENTILES} are answered",
            p.len()
        )));
    }
    if let Some(p) = &percentiles
        && (p.iter().any(|x| !(0.0..=100.0).contains(x)) || p.windows(2).any(|w| w[0] > w[1]))
    {
        return Err(RpcError::invalid_params(
            "invalid reward percentiles: they must be between 0 and 100 and increasing",
        ));
    }
    let head = chain.head_number();
    let newest = match newest {
        BlockNumberOrTag::Number(n) => n,
        BlockNumberOrTag::Earliest => 0,
        _ => head,
    };
    if newest > head {
        return Err(RpcError::resource_not_found(format!(
            "block {newest} not found: the head is block {head}"
        )));
    }
    let count = count.clamp(0, 1024).min(newest + 1);
    let oldest = newest + 1 - count;
    let base_fee = u128::from(chain.params.base_fee);
    let mut history = FeeHistory {
        base_fee_per_gas: Vec::new(),
        gas_used_ratio: Vec::new(),
        base_fee_per_blob_gas: Vec::new(),
        blob_gas_used_ratio: Vec::new(),
        oldest_block: oldest,
        reward: percentiles.as_ref().map(|_| Vec::new()),
    };
    if count == 0 {
        return Ok(history);
    }
    for number in oldest..=newest {
        let Some(block) = chain.block(number) else {
            break;
        };
        history.base_fee_per_gas.push(u128::from(
            block.header.base_fee_per_gas.unwrap_or_default(),
        ));
        history
            .gas_used_ratio
            .push(block.header.gas_used as f64 / block.header.gas_limit.max(1) as f64);
        history.base_fee_per_blob_gas.push(1);
        history.blob_gas_used_ratio.push(0.0);
        if let (Some(p), Some(rewards)) = (&percentiles, history.reward.as_mut()) {
            let mut tips: Vec<(u128, u64)> = block
                .receipts
                .iter()
                .map(|r| (r.effective_gas_price.saturating_sub(base_fee), r.gas_used))
                .collect();
            tips.sort_unstable();
            let total: u64 = tips.iter().map(|t| t.1).sum();
            rewards.push(
                p.iter()
                    .map(|pct| {
                        let threshold = (total as f64 * pct / 100.0) as u64;
                        let mut acc = 0;
                        tips.iter()
                            .find(|(_, gas)| {
                                acc += gas;
                                acc >= threshold
                            })
                            .or(tips.last())
                            .map_or(0, |t| t.0)
                    })
                    .collect(),
            );
        }
    }
    history.base_fee_per_gas.push(base_fee);
    history.base_fee_per_blob_gas.push(1);
    Ok(history)
}

/// The bytes a signing method signs: hex data as its bytes, any other text as its UTF-8 (as
/// wallets accept a plain message for `personal_sign`).
fn message_bytes(value: Value) -> Vec<u8> {
    match value {
        Value::String(text) => match text.parse::<Bytes>() {
            Ok(bytes) if text.starts_with("0x") => bytes.to_vec(),
            _ => text.into_bytes(),
        },
        other => other.to_string().into_bytes(),
    }
}

/// A state that [`Rpc::check_state_block`] found and that is gone by the next line cannot
/// happen under the chain's read lock; answered as an internal error if it ever did.
fn state_gone(error: StateAtError) -> RpcError {
    RpcError::new(
        code::INTERNAL_ERROR,
        format!("state not available: {error:?}"),
    )
}

fn trace_error(error: crate::chain::TraceError) -> RpcError {
    use crate::chain::TraceError;
    match error {
        TraceError::UnknownTransaction(hash) => {
            RpcError::resource_not_found(format!("transaction {hash} not found"))
        }
        TraceError::Pruned(StateAtError::Pruned { number, head, kept }) => {
            RpcError::server(format!(
                "historical state is not kept: tracing needs the state of block {number}, {} blocks behind the head, block {head}, and this node keeps the states of the last {kept}; start it with --history N or --archive",
                head - number
            ))
        }
        TraceError::Pruned(other) => RpcError::server(format!("state not available: {other:?}")),
        TraceError::Options(message) => {
            RpcError::invalid_params(format!("invalid tracing options: {message}"))
        }
        TraceError::Call(e) => RpcError::from_call(e),
    }
}

/// A call's parameters: the transaction and the block. `pending` runs in the next block's
/// context, as does no block at all when `unnamed_is_pending`.
fn call_params(
    p: &Params,
    unnamed_is_pending: bool,
) -> Result<(CallRequest, Option<BlockId>), RpcError> {
    let request: TransactionRequest = p.required(0, "transaction")?;
    let block: Option<BlockId> = p.optional(1, "block")?;
    let mut request = call_request(request)?;
    request.overrides = p.optional(2, "state overrides")?;
    request.pending = match block {
        None => unnamed_is_pending,
        Some(BlockId::Number(BlockNumberOrTag::Pending)) => true,
        Some(_) => false,
    };
    Ok((request, block))
}
