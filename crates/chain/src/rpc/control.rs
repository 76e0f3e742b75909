//! The test-control methods, under anvil's names and Hardhat's aliases: state edits,
//! snapshots, mining many blocks, impersonation, and the node's description.

use alloy_primitives::{Address, B256, Bytes, U256};
use serde_json::{Value, json};

use super::{Params, Rpc, RpcError, blocking, parse_count, quantity};
use crate::node::{Edit, MAX_MINED_AT_ONCE};

/// Whether `method` is one of these.
pub(crate) fn handles(method: &str) -> bool {
    matches!(
        method,
        "anvil_setBalance"
            | "hardhat_setBalance"
            | "anvil_setNonce"
            | "hardhat_setNonce"
            | "anvil_setCode"
            | "hardhat_setCode"
            | "anvil_setStorageAt"
            | "hardhat_setStorageAt"
            | "evm_snapshot"
            | "anvil_snapshot"
            | "evm_revert"
            | "anvil_revert"
            | "anvil_mine"
            | "hardhat_mine"
            | "anvil_impersonateAccount"
            | "hardhat_impersonateAccount"
            | "anvil_stopImpersonatingAccount"
            | "hardhat_stopImpersonatingAccount"
            | "evm_setAutomine"
            | "anvil_setAutomine"
            | "hardhat_getAutomine"
            | "anvil_getAutomine"
            | "hardhat_metadata"
            | "anvil_metadata"
            | "anvil_nodeInfo"
    )
}

impl Rpc {
    pub(crate) async fn control(&self, method: &str, p: &Params) -> Result<Value, RpcError> {
        let node = self.node.clone();
        match method {
            "anvil_setBalance" | "hardhat_setBalance" => {
                p.at_most(2)?;
                let address: Address = p.required(0, "address")?;
                let balance: U256 = p.required(1, "balance")?;
                blocking(move || node.edit(address, Edit::Balance(balance))).await?;
                Ok(Value::Null)
            }
            "anvil_setNonce" | "hardhat_setNonce" => {
                p.at_most(2)?;
                let address: Address = p.required(0, "address")?;
                let nonce = parse_count(p.0.get(1).unwrap_or(&Value::Null), "nonce")?;
                blocking(move || node.edit(address, Edit::Nonce(nonce))).await?;
                Ok(Value::Null)
            }
            "anvil_setCode" | "hardhat_setCode" => {
                p.at_most(2)?;
                let address: Address = p.required(0, "address")?;
                let code: Bytes = p.required(1, "code")?;
                if code.len() > revm::primitives::eip170::MAX_CODE_SIZE * 2 {
                    return Err(RpcError::invalid_params(format!(
                        "invalid argument 1 (code): {} bytes, more than twice EIP-170's limit of {}",
                        code.len(),
                        revm::primitives::eip170::MAX_CODE_SIZE
                    )));
                }
                blocking(move || node.edit(address, Edit::Code(code))).await?;
                Ok(Value::Null)
            }
            "anvil_setStorageAt" | "hardhat_setStorageAt" => {
                p.at_most(3)?;
                let address: Address = p.required(0, "address")?;
                let slot: U256 = p.required(1, "slot")?;
                let value: B256 = p.required(2, "value (32 bytes)")?;
                blocking(move || node.edit(address, Edit::Storage(slot, value))).await?;
                Ok(Value::Bool(true))
            }
            "evm_snapshot" | "anvil_snapshot" => {
                p.at_most(0)?;
                let id = blocking(move || Ok(node.snapshot())).await?;
                Ok(quantity(id))
            }
            "evm_revert" | "anvil_revert" => {
                p.at_most(1)?;
                let id = parse_count(p.0.first().unwrap_or(&Value::Null), "snapshot id")?;
                let reverted = blocking(move || node.revert(id)).await?;
                Ok(Value::Bool(reverted))
            }
            "anvil_mine" | "hardhat_mine" => {
                p.at_most(2)?;
                let count = match p.0.first() {
                    None | Some(Value::Null) => 1,
                    Some(v) => parse_count(v, "number of blocks")?,
                };
                if count > MAX_MINED_AT_ONCE {
                    return Err(RpcError::invalid_params(format!(
                        "invalid argument 0 (number of blocks): {count} is more than the {MAX_MINED_AT_ONCE} blocks one call mines"
                    )));
                }
                let interval = match p.0.get(1) {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(parse_count(v, "interval (seconds)")?),
                };
                blocking(move || {
                    node.mine_many(count, interval);
                    Ok(())
                })
                .await?;
                Ok(Value::Null)
            }
            "anvil_impersonateAccount"
            | "hardhat_impersonateAccount"
            | "anvil_stopImpersonatingAccount"
            | "hardhat_stopImpersonatingAccount" => {
                p.at_most(1)?;
                let address: Address = p.required(0, "address")?;
                let mut impersonated = node.impersonated.lock();
                let changed = if method.ends_with("_impersonateAccount") {
                    impersonated.insert(address);
                    true
                } else {
                    impersonated.remove(&address)
                };
                // Hardhat answers whether it was done; anvil answers nothing.
                Ok(if method.starts_with("hardhat") {
                    Value::Bool(changed)
                } else {
                    Value::Null
                })
            }
            "evm_setAutomine" | "anvil_setAutomine" => {
                p.at_most(1)?;
                let on: bool = p.required(0, "enabled")?;
                node.set_automine(on).map_err(RpcError::invalid_params)?;
                Ok(Value::Null)
            }
            "hardhat_getAutomine" | "anvil_getAutomine" => {
                p.at_most(0)?;
                Ok(Value::Bool(node.automining()))
            }
            // What Hardhat's network helpers and anvil's clients read to recognise a dev node.
            _ => {
                p.at_most(0)?;
                let chain = node.chain.read();
                let head = chain.head();
                let version = super::client_version();
                Ok(json!({
                    "clientVersion": version,
                    "chainId": chain.params.chain_id,
                    "instanceId": B256::from(alloy_primitives::keccak256(chain.blocks[0].hash)),
                    "latestBlockNumber": head.number(),
                    "latestBlockHash": head.hash,
                    "currentBlockNumber": quantity(head.number()),
                    "currentBlockTimestamp": head.header.timestamp,
                    "currentBlockHash": head.hash,
                    "hardFork": format!("{:?}", chain.params.spec).to_ascii_lowercase(),
                    "network": "agora",
                    "environment": { "baseFee": chain.params.base_fee.to_string(), "gasLimit": chain.params.block_gas_limit.to_string() },
                    "forkConfig": {},
                    "snapshots": [],
                }))
            }
        }
    }
}
