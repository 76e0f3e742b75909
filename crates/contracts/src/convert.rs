//! agora-primitives' orders as the contracts take them (`LibOrders`).

use agora_primitives::{AppOrder, DatasetOrder, RequestOrder, Signed, WorkerpoolOrder};
use alloy::primitives::Bytes;

use crate::LibOrders;

impl From<&AppOrder> for LibOrders::AppOrder {
    /// The order with an empty `sign` (a presigned order, or one to sign).
    fn from(o: &AppOrder) -> Self {
        Self {
            app: o.app,
            appprice: o.appprice.get(),
            volume: o.volume,
            tag: *o.tag.as_b256(),
            datasetrestrict: o.datasetrestrict,
            workerpoolrestrict: o.workerpoolrestrict,
            requesterrestrict: o.requesterrestrict,
            salt: o.salt,
            sign: Bytes::new(),
        }
    }
}

impl From<&DatasetOrder> for LibOrders::DatasetOrder {
    /// The order with an empty `sign`.
    fn from(o: &DatasetOrder) -> Self {
        Self {
            dataset: o.dataset,
            datasetprice: o.datasetprice.get(),
            volume: o.volume,
            tag: *o.tag.as_b256(),
            apprestrict: o.apprestrict,
            workerpoolrestrict: o.workerpoolrestrict,
            requesterrestrict: o.requesterrestrict,
            salt: o.salt,
            sign: Bytes::new(),
        }
    }
}

impl From<&WorkerpoolOrder> for LibOrders::WorkerpoolOrder {
    /// The order with an empty `sign`.
    fn from(o: &WorkerpoolOrder) -> Self {
        Self {
            workerpool: o.workerpool,
            workerpoolprice: o.workerpoolprice.get(),
            volume: o.volume,
            tag: *o.tag.as_b256(),
            category: o.category,
            trust: o.trust,
            apprestrict: o.apprestrict,
            datasetrestrict: o.datasetrestrict,
            requesterrestrict: o.requesterrestrict,
            salt: o.salt,
            sign: Bytes::new(),
        }
    }
}

impl From<&RequestOrder> for LibOrders::RequestOrder {
    /// The order with an empty `sign`.
    fn from(o: &RequestOrder) -> Self {
        Self {
            app: o.app,
            appmaxprice: o.appmaxprice.get(),
            dataset: o.dataset,
            datasetmaxprice: o.datasetmaxprice.get(),
            workerpool: o.workerpool,
            workerpoolmaxprice: o.workerpoolmaxprice.get(),
            requester: o.requester,
            volume: o.volume,
            tag: *o.tag.as_b256(),
            category: o.category,
            trust: o.trust,
            beneficiary: o.beneficiary,
            callback: o.callback,
            params: o.params.clone(),
            salt: o.salt,
            sign: Bytes::new(),
        }
    }
}

macro_rules! signed {
    ($order:ty, $sol:ty) => {
        impl From<&Signed<$order>> for $sol {
            /// The order with its signature.
            fn from(signed: &Signed<$order>) -> Self {
                Self {
                    sign: signed.sign.clone(),
                    ..Self::from(&signed.order)
                }
            }
        }
    };
}

signed!(AppOrder, LibOrders::AppOrder);
signed!(DatasetOrder, LibOrders::DatasetOrder);
signed!(WorkerpoolOrder, LibOrders::WorkerpoolOrder);
signed!(RequestOrder, LibOrders::RequestOrder);
