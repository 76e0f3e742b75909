//! Ids of the protocol: order hashes, deal ids and task ids (spec §2.4, §3.3).

use alloy_primitives::{U256, keccak256};

use crate::newtype::b256_newtype;

b256_newtype!(
    /// The EIP-712 typed-data hash of an order under the PoCo domain: what is signed, and the key
    /// of the order's consumed volume on chain.
    OrderHash
);

b256_newtype!(
    /// The id of a deal, the result of one `matchOrders`.
    DealId
);

b256_newtype!(
    /// The id of a task, one index of a deal's bag of tasks.
    TaskId
);

impl DealId {
    /// The id the contract gives the deal it creates from `request`:
    /// `keccak(requestHash ‖ consumed)`, where `consumed` is the request order's consumed volume
    /// *before* the match (so a request order can yield several deals).
    pub fn derive(request: OrderHash, consumed: U256) -> Self {
        Self(keccak256(
            [request.as_b256().0, consumed.to_be_bytes()].concat(),
        ))
    }

    /// The id of the task of index `index` of this deal (see [`TaskId::derive`]).
    pub fn task(&self, index: U256) -> TaskId {
        TaskId::derive(*self, index)
    }
}

impl TaskId {
    /// The id of task `index` of `deal`: `keccak(dealid ‖ index)`. Indices of a deal run from its
    /// `botFirst` to `botFirst + botSize - 1`.
    pub fn derive(deal: DealId, index: U256) -> Self {
        Self(keccak256([deal.as_b256().0, index.to_be_bytes()].concat()))
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::b256;

    use super::*;

    #[test]
    fn task_id_matches_upstream_chain_utils_vector() {
        // Spec §3.3 (commons-poco ChainUtilsTests).
        let deal = DealId::new(b256!(
            "a0b0fd396b0f79f14e4d6b34af7180bd9e80e2d86afda91c6127c5c17a268e66"
        ));
        assert_eq!(
            deal.task(U256::ZERO).as_b256(),
            &b256!("e06c86d6bb750dbd9be9e002482854b3b3f21550dbe37236767b9cac29e3ce28")
        );
    }

    #[test]
    fn deal_and_task_ids_match_derived_vectors() {
        // Spec §11.2: the RequestOrder of §2.8, first match.
        let request = OrderHash::new(b256!(
            "03f960f8c4153017ca091fe3eb5169a51af3b7b2eae9b85a72e1af9ed2493b45"
        ));
        let deal = DealId::derive(request, U256::ZERO);
        assert_eq!(
            deal.as_b256(),
            &b256!("5b65bf881bf775a4c8ae44291e0f404f7ce2dc1a5021533a1635e3a5fe94a84b")
        );
        assert_eq!(
            TaskId::derive(deal, U256::ZERO).as_b256(),
            &b256!("cd8e08dcfdc7c7ef80b668002098f200b0dd727da6d09a962447b59cce77747d")
        );
    }

    #[test]
    fn later_matches_of_one_request_get_other_deal_ids() {
        let request = OrderHash::new(b256!(
            "03f960f8c4153017ca091fe3eb5169a51af3b7b2eae9b85a72e1af9ed2493b45"
        ));
        assert_ne!(
            DealId::derive(request, U256::ZERO),
            DealId::derive(request, U256::from(1))
        );
    }

    #[test]
    fn ids_print_parse_and_serialize_as_hex() {
        let text = "0xa0b0fd396b0f79f14e4d6b34af7180bd9e80e2d86afda91c6127c5c17a268e66";
        let deal: DealId = text.parse().unwrap();
        assert_eq!(deal.to_string(), text);
        assert_eq!(format!("{deal:?}"), format!("DealId({text})"));
        let json = serde_json::to_string(&deal).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<DealId>(&json).unwrap(), deal);
    }
}
