//! The orders as Solidity structs (spec §2.1), from which the EIP-712 type strings and struct
//! encodings are generated. Field names, types and order are those of `IexecLibOrders_v5.sol`;
//! the trailing `bytes sign` of the contract structs is not part of the signed type.

#![allow(
    unreachable_pub,
    reason = "sol! declares pub items; this module stays private"
)]

use alloy_primitives::U256;

alloy_sol_types::sol! {
    #[derive(Debug)]
    struct AppOrder {
        address app;
        uint256 appprice;
        uint256 volume;
        bytes32 tag;
        address datasetrestrict;
        address workerpoolrestrict;
        address requesterrestrict;
        bytes32 salt;
    }

    #[derive(Debug)]
    struct DatasetOrder {
        address dataset;
        uint256 datasetprice;
        uint256 volume;
        bytes32 tag;
        address apprestrict;
        address workerpoolrestrict;
        address requesterrestrict;
        bytes32 salt;
    }

    #[derive(Debug)]
    struct WorkerpoolOrder {
        address workerpool;
        uint256 workerpoolprice;
        uint256 volume;
        bytes32 tag;
        uint256 category;
        uint256 trust;
        address apprestrict;
        address datasetrestrict;
        address requesterrestrict;
        bytes32 salt;
    }

    #[derive(Debug)]
    struct RequestOrder {
        address app;
        uint256 appmaxprice;
        address dataset;
        uint256 datasetmaxprice;
        address workerpool;
        uint256 workerpoolmaxprice;
        address requester;
        uint256 volume;
        bytes32 tag;
        uint256 category;
        uint256 trust;
        address beneficiary;
        address callback;
        string params;
        bytes32 salt;
    }

    #[derive(Debug)]
    struct AppOrderOperation {
        AppOrder order;
        uint256 operation;
    }

    #[derive(Debug)]
    struct DatasetOrderOperation {
        DatasetOrder order;
        uint256 operation;
    }

    #[derive(Debug)]
    struct WorkerpoolOrderOperation {
        WorkerpoolOrder order;
        uint256 operation;
    }

    #[derive(Debug)]
    struct RequestOrderOperation {
        RequestOrder order;
        uint256 operation;
    }
}

impl From<&super::AppOrder> for AppOrder {
    fn from(o: &super::AppOrder) -> Self {
        Self {
            app: o.app,
            appprice: o.appprice.get(),
            volume: o.volume,
            tag: o.tag.into(),
            datasetrestrict: o.datasetrestrict,
            workerpoolrestrict: o.workerpoolrestrict,
            requesterrestrict: o.requesterrestrict,
            salt: o.salt,
        }
    }
}

impl From<&super::DatasetOrder> for DatasetOrder {
    fn from(o: &super::DatasetOrder) -> Self {
        Self {
            dataset: o.dataset,
            datasetprice: o.datasetprice.get(),
            volume: o.volume,
            tag: o.tag.into(),
            apprestrict: o.apprestrict,
            workerpoolrestrict: o.workerpoolrestrict,
            requesterrestrict: o.requesterrestrict,
            salt: o.salt,
        }
    }
}

impl From<&super::WorkerpoolOrder> for WorkerpoolOrder {
    fn from(o: &super::WorkerpoolOrder) -> Self {
        Self {
            workerpool: o.workerpool,
            workerpoolprice: o.workerpoolprice.get(),
            volume: o.volume,
            tag: o.tag.into(),
            category: o.category,
            trust: o.trust,
            apprestrict: o.apprestrict,
            datasetrestrict: o.datasetrestrict,
            requesterrestrict: o.requesterrestrict,
            salt: o.salt,
        }
    }
}

impl From<&super::RequestOrder> for RequestOrder {
    fn from(o: &super::RequestOrder) -> Self {
        Self {
            app: o.app,
            appmaxprice: o.appmaxprice.get(),
            dataset: o.dataset,
            datasetmaxprice: o.datasetmaxprice.get(),
            workerpool: o.workerpool,
            workerpoolmaxprice: o.workerpoolmaxprice.get(),
            requester: o.requester,
            volume: o.volume,
            tag: o.tag.into(),
            category: o.category,
            trust: o.trust,
            beneficiary: o.beneficiary,
            callback: o.callback,
            params: o.params.clone(),
            salt: o.salt,
        }
    }
}

/// The Solidity struct of an order and of its management operation. Public in a private module:
/// it seals [`super::Order`] to the four orders.
pub trait Eip712 {
    /// The order struct.
    type Order: alloy_sol_types::SolStruct;
    /// The `<Order>Operation { order, operation }` struct.
    type Operation: alloy_sol_types::SolStruct;

    /// The order as its Solidity struct.
    fn to_sol(&self) -> Self::Order;

    /// The operation `operation` on this order as its Solidity struct.
    fn operation(&self, operation: U256) -> Self::Operation;
}

macro_rules! eip712 {
    ($order:ident, $operation:ident) => {
        impl Eip712 for super::$order {
            type Order = $order;
            type Operation = $operation;

            fn to_sol(&self) -> $order {
                self.into()
            }

            fn operation(&self, operation: U256) -> $operation {
                $operation {
                    order: self.into(),
                    operation,
                }
            }
        }
    };
}

eip712!(AppOrder, AppOrderOperation);
eip712!(DatasetOrder, DatasetOrderOperation);
eip712!(WorkerpoolOrder, WorkerpoolOrderOperation);
eip712!(RequestOrder, RequestOrderOperation);
