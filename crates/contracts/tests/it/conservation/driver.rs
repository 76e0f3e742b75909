//! The chain side of the conservation test: transactions signed here with the actors' keys and
//! sent raw, each after an `evm_setNextBlockTimestamp` (so the model knows the time of every
//! call), followed by their receipts and every view the model is compared with, all in one
//! JSON-RPC batch per step (the embedded chain mines each transaction before answering the next
//! call of the batch). Every transaction carries its own gas limit: a call that reverts is mined
//! with status 0, and a send that fails is a test failure, not a revert.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::Encodable2718,
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256},
    providers::Provider,
    rpc::{
        client::{RpcClient, Waiter},
        types::TransactionReceipt,
    },
    signers::local::PrivateKeySigner,
};
use serde_json::{Value, json};

/// Gas limit of every transaction: above any protocol call's need (finalize with a callback
/// budget of 200,000 included).
const GAS_LIMIT: u64 = 3_000_000;

/// One transaction to send: who signs it, where it goes, its calldata.
pub(super) struct Tx {
    pub(super) sender: usize,
    pub(super) to: Address,
    pub(super) input: Vec<u8>,
}

/// One view: a contract and its calldata.
pub(super) struct View {
    pub(super) to: Address,
    pub(super) input: Vec<u8>,
}

/// Signs and sends transactions and reads views over one HTTP connection.
pub(super) struct Driver {
    client: RpcClient,
    signers: Vec<PrivateKeySigner>,
    nonces: Vec<u64>,
    chain_id: u64,
    max_fee: u128,
}

impl Driver {
    /// A driver for `signers` (the dev accounts in order) on the node behind `provider`.
    pub(super) async fn new(
        url: &str,
        provider: &impl Provider,
        signers: Vec<PrivateKeySigner>,
    ) -> Self {
        let chain_id = provider.get_chain_id().await.expect("chain id");
        let max_fee = provider.get_gas_price().await.expect("gas price");
        let mut nonces = Vec::new();
        for signer in &signers {
            let nonce = provider
                .get_transaction_count(signer.address())
                .await
                .expect("a nonce");
            nonces.push(nonce);
        }
        Self {
            client: RpcClient::new_http(url.parse().expect("a URL")),
            signers,
            nonces,
            chain_id,
            max_fee,
        }
    }

    /// Sends `txs` in order, each in its own block at `timestamp`, then reads `views`: the
    /// status of each transaction (true if it succeeded) and the raw output of each view.
    pub(super) async fn step(
        &mut self,
        timestamp: u64,
        txs: &[Tx],
        views: &[View],
    ) -> (Vec<bool>, Vec<Bytes>) {
        let signed: Vec<(Bytes, B256)> = txs.iter().map(|tx| self.sign(tx)).collect();
        let mut batch = self.client.new_batch();
        let mut sent: Vec<(Waiter<Value>, Waiter<B256>, B256)> = Vec::new();
        for (raw, hash) in signed {
            let time = batch
                .add_call::<_, Value>("evm_setNextBlockTimestamp", &(timestamp,))
                .expect("serializes");
            let send = batch
                .add_call::<_, B256>("eth_sendRawTransaction", &(raw,))
                .expect("serializes");
            sent.push((time, send, hash));
        }
        let mut receipts = Vec::new();
        for (_, _, hash) in &sent {
            receipts.push(
                batch
                    .add_call::<_, Option<TransactionReceipt>>(
                        "eth_getTransactionReceipt",
                        &(hash,),
                    )
                    .expect("serializes"),
            );
        }
        let mut outputs = Vec::new();
        for view in views {
            let call = json!({ "to": view.to, "data": Bytes::from(view.input.clone()) });
            outputs.push(
                batch
                    .add_call::<_, Bytes>("eth_call", &(call, "latest"))
                    .expect("serializes"),
            );
        }
        batch.send().await.expect("the batch is answered");
        for (time, send, hash) in sent {
            time.await.expect("the next timestamp is set");
            let got = send.await.unwrap_or_else(|e| panic!("send error: {e}"));
            assert_eq!(got, hash, "the node names the transaction by its hash");
        }
        let mut statuses = Vec::new();
        for receipt in receipts {
            let receipt = receipt.await.expect("a receipt").expect("mined");
            statuses.push(receipt.status());
        }
        let mut results = Vec::new();
        for output in outputs {
            results.push(output.await.expect("a view answers"));
        }
        (statuses, results)
    }

    /// `tx` signed by its sender with the next nonce: its raw bytes and its hash.
    fn sign(&mut self, tx: &Tx) -> (Bytes, B256) {
        let nonce = &mut self.nonces[tx.sender];
        let mut unsigned = TxEip1559 {
            chain_id: self.chain_id,
            nonce: *nonce,
            gas_limit: GAS_LIMIT,
            max_fee_per_gas: self.max_fee,
            max_priority_fee_per_gas: 0,
            to: TxKind::Call(tx.to),
            value: U256::ZERO,
            access_list: Default::default(),
            input: Bytes::from(tx.input.clone()),
        };
        *nonce += 1;
        let signature = self.signers[tx.sender]
            .sign_transaction_sync(&mut unsigned)
            .expect("signs");
        let envelope: TxEnvelope = unsigned.into_signed(signature).into();
        let hash = *envelope.tx_hash();
        (Bytes::from(envelope.encoded_2718()), hash)
    }
}
