//! Genesis: funding the dev accounts and deploying the configured contracts.

use std::path::Path;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use serde::{Deserialize, Serialize};

use crate::{
    accounts::DevAccount,
    chain::{Chain, SignedTx},
    config::GenesisContract,
    error::{Error, Result},
    store::BlockLog,
};

/// File, in the data directory, that records where genesis put each contract.
pub const DEPLOYMENT_FILE: &str = "deployment.json";

/// Where genesis deployed one contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Name given in the configuration.
    pub name: String,
    /// Address of the contract.
    pub address: Address,
    /// The deploying transaction.
    pub transaction_hash: B256,
    /// The block that holds it.
    pub block_number: u64,
}

/// The content of `deployment.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentFile {
    /// Chain id.
    pub chain_id: u64,
    /// The deployer (the first dev account).
    pub deployer: Address,
    /// The contracts, in deployment order.
    pub contracts: Vec<Deployment>,
}

impl DeploymentFile {
    /// The address of the contract called `name`.
    pub fn address(&self, name: &str) -> Option<Address> {
        self.contracts
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.address)
    }
}

/// Deploys `contracts` in order, one block each, signed by `deployer`.
pub(crate) fn deploy(
    chain: &mut Chain,
    mut log: Option<&mut BlockLog>,
    deployer: &DevAccount,
    contracts: &[GenesisContract],
) -> Result<DeploymentFile> {
    let mut file = DeploymentFile {
        chain_id: chain.params.chain_id,
        deployer: deployer.address,
        contracts: Vec::new(),
    };
    let signer = deployer.signer();
    for contract in contracts {
        let fail = |reason: String| Error::Genesis {
            name: contract.name.clone(),
            reason,
        };
        let mut input = contract.bytecode.to_vec();
        input.extend_from_slice(&contract.constructor_args);
        let nonce = chain.state.nonce(&deployer.address);
        let mut tx = TxEip1559 {
            chain_id: chain.params.chain_id,
            nonce,
            gas_limit: chain.params.block_gas_limit,
            max_fee_per_gas: u128::from(chain.params.base_fee),
            max_priority_fee_per_gas: 0,
            to: TxKind::Create,
            value: U256::ZERO,
            access_list: Default::default(),
            input: Bytes::from(input),
        };
        let signature = signer
            .sign_transaction_sync(&mut tx)
            .map_err(|e| fail(e.to_string()))?;
        let envelope: TxEnvelope = tx.into_signed(signature).into();
        let signed = SignedTx::decode(&envelope.encoded_2718()).map_err(|e| fail(e.to_string()))?;
        let hash = signed.hash;
        let sealed = {
            let mut batch = chain.batch();
            let mined = batch.mine_block(vec![signed], false);
            if let Some((_, error)) = mined.rejected.first() {
                return Err(fail(error.to_string()));
            }
            batch.finish()
        };
        if let Some(log) = log.as_deref_mut() {
            for record in &sealed.records {
                log.append(record);
            }
            log.commit()?;
        }
        chain.publish(sealed);
        let block = chain.head().clone();
        let receipt = &block.receipts[0];
        if !receipt.success {
            let reason = match <alloy_sol_types::Revert as alloy_sol_types::SolError>::abi_decode(
                &receipt.output,
            ) {
                Ok(revert) => format!("the constructor reverted: {}", revert.reason),
                Err(_) => format!("the constructor reverted with {}", receipt.output),
            };
            return Err(fail(reason));
        }
        let address = receipt
            .contract_address
            .ok_or_else(|| fail("no contract address".into()))?;
        file.contracts.push(Deployment {
            name: contract.name.clone(),
            address,
            transaction_hash: hash,
            block_number: block.number(),
        });
    }
    Ok(file)
}

pub(crate) fn write(dir: &Path, file: &DeploymentFile) -> Result<()> {
    let path = dir.join(DEPLOYMENT_FILE);
    let tmp = dir.join(format!("{DEPLOYMENT_FILE}.tmp"));
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let json = serde_json::to_vec_pretty(file).map_err(|e| io(std::io::Error::other(e)))?;
    std::fs::write(&tmp, json).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(())
}

pub(crate) fn read(dir: &Path) -> Result<Option<DeploymentFile>> {
    let path = dir.join(DEPLOYMENT_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Corrupt {
                path,
                offset: 0,
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { path, source }),
    }
}

/// Rebuilds the deployment record from the genesis blocks, when the file was lost.
pub(crate) fn reconstruct(
    chain: &Chain,
    contracts: &[GenesisContract],
    accounts: &[DevAccount],
) -> DeploymentFile {
    let mut file = DeploymentFile {
        chain_id: chain.params.chain_id,
        deployer: accounts.first().map(|a| a.address).unwrap_or_default(),
        contracts: Vec::new(),
    };
    for (i, contract) in contracts.iter().enumerate() {
        let Some(block) = chain.block(i as u64 + 1) else {
            break;
        };
        let (Some(tx), Some(receipt)) = (block.txs.first(), block.receipts.first()) else {
            break;
        };
        let Some(address) = receipt.contract_address else {
            break;
        };
        file.contracts.push(Deployment {
            name: contract.name.clone(),
            address,
            transaction_hash: tx.hash,
            block_number: block.number(),
        });
    }
    file
}
