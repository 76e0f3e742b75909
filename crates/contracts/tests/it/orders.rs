//! The orders the hub's tests and the gas report (`examples/gas_report.rs`, which includes this
//! file) send: agora-primitives' orders, their Solidity counterparts and the owner's signed
//! operation.

use agora_primitives::{
    AppOrder, DatasetOrder, Domain, Nrlc, Order, OrderOperation, RequestOrder, Tag, WorkerpoolOrder,
};
use alloy::{
    primitives::{Address, B256, Bytes, U256, b256},
    signers::{SignerSync, local::PrivateKeySigner},
};

pub(crate) const SALT: B256 =
    b256!("0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");

pub(crate) fn app_order(app: Address) -> AppOrder {
    AppOrder {
        app,
        appprice: Nrlc::from(5u64),
        volume: U256::from(10u64),
        tag: Tag::new(b256!(
            "0x0000000000000000000000000000000000000000000000000000000000000001"
        )),
        datasetrestrict: Address::repeat_byte(1),
        workerpoolrestrict: Address::repeat_byte(2),
        requesterrestrict: Address::repeat_byte(3),
        salt: SALT,
    }
}

pub(crate) fn dataset_order(dataset: Address) -> DatasetOrder {
    DatasetOrder {
        dataset,
        datasetprice: Nrlc::from(7u64),
        volume: U256::from(3u64),
        apprestrict: Address::repeat_byte(4),
        salt: SALT,
        ..Default::default()
    }
}

pub(crate) fn workerpool_order(workerpool: Address) -> WorkerpoolOrder {
    WorkerpoolOrder {
        workerpool,
        workerpoolprice: Nrlc::from(11u64),
        volume: U256::from(4u64),
        category: U256::from(2u64),
        trust: U256::from(3u64),
        salt: SALT,
        ..Default::default()
    }
}

pub(crate) fn request_order(requester: Address) -> RequestOrder {
    RequestOrder {
        app: Address::repeat_byte(5),
        appmaxprice: Nrlc::from(5u64),
        workerpool: Address::repeat_byte(6),
        workerpoolmaxprice: Nrlc::from(11u64),
        requester,
        volume: U256::from(2u64),
        category: U256::from(2u64),
        beneficiary: requester,
        params: r#"{"iexec_args":"Alice"}"#.into(),
        salt: SALT,
        ..Default::default()
    }
}

/// `operation`'s code in iExec's `OrderOperationEnum`.
pub(crate) fn op_code(operation: OrderOperation) -> u8 {
    operation as u8
}

/// The owner's 65-byte signature of the operation hash, as `manage*Order` takes it.
pub(crate) fn sign_operation<O: Order>(
    order: &O,
    operation: OrderOperation,
    domain: &Domain,
    key: &PrivateKeySigner,
) -> Bytes {
    let hash = order.operation_hash(operation, domain);
    Bytes::from(
        key.sign_hash_sync(&hash)
            .expect("signs")
            .as_bytes()
            .to_vec(),
    )
}
