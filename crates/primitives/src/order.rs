//! The four orders, their EIP-712 hashes under the PoCo domain and their signatures (spec §2).

mod eip712;

use std::borrow::Cow;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_sol_types::{Eip712Domain, SolStruct, eip712_domain};
use serde::{Deserialize, Serialize};

use crate::{Nrlc, OrderHash, Result, Tag, signature};

/// The EIP-712 domain orders are signed under: `name "iExecODB"`, `version "5.0.0"`, the chain
/// id and the address of the PoCo proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    /// The chain the orders are valid on.
    pub chain_id: u64,
    /// The PoCo proxy that checks them.
    pub verifying_contract: Address,
}

impl Domain {
    /// The domain's `name`.
    pub const NAME: &'static str = "iExecODB";
    /// The domain's `version`.
    pub const VERSION: &'static str = "5.0.0";

    /// The domain of the PoCo proxy `verifying_contract` on chain `chain_id`.
    pub const fn new(chain_id: u64, verifying_contract: Address) -> Self {
        Self {
            chain_id,
            verifying_contract,
        }
    }

    /// The domain as alloy's EIP-712 domain.
    pub fn eip712(&self) -> Eip712Domain {
        eip712_domain! {
            name: Self::NAME,
            version: Self::VERSION,
            chain_id: self.chain_id,
            verifying_contract: self.verifying_contract,
        }
    }

    /// The domain separator, `hashStruct(domain)`.
    pub fn separator(&self) -> B256 {
        self.eip712().separator()
    }

    /// `keccak(0x1901 ‖ separator ‖ struct_hash)`, the typed-data hash that is signed.
    fn typed_data_hash(&self, struct_hash: B256) -> B256 {
        keccak256(
            [
                &[0x19, 0x01][..],
                self.separator().as_slice(),
                struct_hash.as_slice(),
            ]
            .concat(),
        )
    }
}

/// What a `manage<X>Order` call does to an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderOperation {
    /// Presign: the order becomes valid without a signature.
    Sign = 0,
    /// Close: the order is cancelled for good.
    Close = 1,
}

/// One of the four orders: hashed, signed and checked the way the PoCo contracts do.
pub trait Order: eip712::Eip712 + Sized {
    /// The EIP-712 type string, e.g. `AppOrder(address app,…,bytes32 salt)`.
    fn type_string() -> Cow<'static, str> {
        <Self::Order as SolStruct>::eip712_encode_type()
    }

    /// `keccak(type_string)`.
    fn type_hash() -> B256 {
        keccak256(Self::type_string().as_bytes())
    }

    /// The EIP-712 type string of the order's management operation, `<X>OrderOperation(…)`
    /// followed by the order's type string.
    fn operation_type_string() -> Cow<'static, str> {
        <Self::Operation as SolStruct>::eip712_encode_type()
    }

    /// `keccak(operation_type_string)`.
    fn operation_type_hash() -> B256 {
        keccak256(Self::operation_type_string().as_bytes())
    }

    /// `hashStruct(order)`: the fields ABI-encoded after the type hash, `params` as its keccak.
    fn struct_hash(&self) -> B256 {
        self.to_sol().eip712_hash_struct()
    }

    /// The order hash: the typed-data hash that is signed and that keys the order's consumed
    /// volume on chain.
    fn hash(&self, domain: &Domain) -> OrderHash {
        OrderHash::new(domain.typed_data_hash(self.struct_hash()))
    }

    /// The typed-data hash of `operation` on this order, which the owner signs to presign or
    /// close it through someone else's transaction.
    fn operation_hash(&self, operation: OrderOperation, domain: &Domain) -> B256 {
        let operation = self.operation(U256::from(operation as u8));
        domain.typed_data_hash(operation.eip712_hash_struct())
    }

    /// The order with its owner's signature: the 65-byte `r‖s‖v` signature of
    /// [`Order::hash`], with no EIP-191 prefix.
    fn sign(self, domain: &Domain, signer: &impl SignerSync) -> Result<Signed<Self>> {
        let sign = signature::sign_raw(signer, *self.hash(domain).as_b256())?;
        Ok(Signed { order: self, sign })
    }
}

impl Order for AppOrder {}
impl Order for DatasetOrder {}
impl Order for WorkerpoolOrder {}
impl Order for RequestOrder {}

/// An order and its signature, serialized as the order's fields plus `sign`, as iExec's tools
/// write signed orders.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Signed<O> {
    /// The order.
    #[serde(flatten)]
    pub order: O,
    /// The signature: 65 bytes (`r‖s‖v`) or 64 (EIP-2098) from an account, anything an
    /// ERC-1271 contract accepts, or empty for a presigned order.
    pub sign: Bytes,
}

impl<O: Order> Signed<O> {
    /// The order hash.
    pub fn hash(&self, domain: &Domain) -> OrderHash {
        self.order.hash(domain)
    }

    /// The account whose key made `sign` over the order hash. Only meaningful for account
    /// (EOA) signers; a contract owner's signature is checked by calling it (ERC-1271).
    pub fn recover_signer(&self, domain: &Domain) -> Result<Address> {
        signature::recover_raw(&self.sign, *self.hash(domain).as_b256())
    }

    /// Whether `sign` is `signer`'s signature of the order.
    pub fn is_signed_by(&self, domain: &Domain, signer: Address) -> bool {
        self.recover_signer(domain)
            .is_ok_and(|recovered| recovered == signer)
    }
}

/// An app owner's offer to run its app: price per task and how many tasks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppOrder {
    /// The app.
    pub app: Address,
    /// Price per task.
    pub appprice: Nrlc,
    /// Number of tasks the order may be used for.
    pub volume: U256,
    /// Features the app requires.
    pub tag: Tag,
    /// Only this dataset (or members of this ERC-734 group); zero for any.
    pub datasetrestrict: Address,
    /// Only this workerpool (or group); zero for any.
    pub workerpoolrestrict: Address,
    /// Only this requester (or group); zero for any.
    pub requesterrestrict: Address,
    /// Random bytes that make the order unique.
    pub salt: B256,
}

/// A dataset owner's offer to let its dataset be used: price per task and how many tasks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetOrder {
    /// The dataset.
    pub dataset: Address,
    /// Price per task.
    pub datasetprice: Nrlc,
    /// Number of tasks the order may be used for.
    pub volume: U256,
    /// Features the dataset requires.
    pub tag: Tag,
    /// Only this app (or members of this ERC-734 group); zero for any.
    pub apprestrict: Address,
    /// Only this workerpool (or group); zero for any.
    pub workerpoolrestrict: Address,
    /// Only this requester (or group); zero for any.
    pub requesterrestrict: Address,
    /// Random bytes that make the order unique.
    pub salt: B256,
}

/// A workerpool owner's (scheduler's) offer of computing: price per task, how many tasks, in
/// which category and up to which trust.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerpoolOrder {
    /// The workerpool.
    pub workerpool: Address,
    /// Price per task.
    pub workerpoolprice: Nrlc,
    /// Number of tasks the order may be used for.
    pub volume: U256,
    /// Features the pool offers.
    pub tag: Tag,
    /// Category (maximum run time class); must equal the request's.
    pub category: U256,
    /// Highest trust the pool offers.
    pub trust: U256,
    /// Only this app (or members of this ERC-734 group); zero for any.
    pub apprestrict: Address,
    /// Only this dataset (or group); zero for any.
    pub datasetrestrict: Address,
    /// Only this requester (or group); zero for any.
    pub requesterrestrict: Address,
    /// Random bytes that make the order unique.
    pub salt: B256,
}

/// A requester's demand: which app (and dataset) to run, the most it pays for each, how many
/// tasks, and where the result goes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestOrder {
    /// The app to run.
    pub app: Address,
    /// Most the requester pays the app per task.
    pub appmaxprice: Nrlc,
    /// The dataset to use; zero for none.
    pub dataset: Address,
    /// Most the requester pays the dataset per task.
    pub datasetmaxprice: Nrlc,
    /// Only this workerpool (or members of this ERC-734 group); zero for any.
    pub workerpool: Address,
    /// Most the requester pays the workerpool per task.
    pub workerpoolmaxprice: Nrlc,
    /// Who signs the order and pays (unless a sponsor does).
    pub requester: Address,
    /// Number of tasks.
    pub volume: U256,
    /// Features the request requires.
    pub tag: Tag,
    /// Category; must equal the workerpool order's.
    pub category: U256,
    /// Trust required (0 and 1 mean the same: a single contribution).
    pub trust: U256,
    /// Owner of the results.
    pub beneficiary: Address,
    /// Contract that receives the result on chain; zero for none.
    pub callback: Address,
    /// Free parameters stored in the deal, by convention a JSON object.
    pub params: String,
    /// Random bytes that make the order unique.
    pub salt: B256,
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, b256, bytes};
    use alloy_signer_local::PrivateKeySigner;

    use super::*;

    /// The PoCo proxy of Bellecour, also used by the upstream order tests on chain 133.
    const BELLECOUR_PROXY: Address = address!("0x3eca1B216A7DF1C7689aEb259fFB83ADFB894E7f");

    /// Domain of the upstream order vectors (spec §2.8).
    const DOMAIN: Domain = Domain::new(133, BELLECOUR_PROXY);

    /// Private key of commons-poco's test keystore `wallet.json` (password `whatever`), the
    /// signer of the upstream order vectors. A public test key.
    const WALLET_KEY: B256 =
        b256!("650fbe1e220c2e019202bceec7e0005c66c737111e42a33b700dad4579c0d2fc");
    const WALLET: Address = address!("0x000a9c787a972F70F0903890E266F41c795C4DcA");

    fn wallet() -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&WALLET_KEY).unwrap()
    }

    /// Checks the struct hash, the order hash and the signature of `order` against a vector, and
    /// that the signature recovers the test wallet.
    fn assert_vector<O: Order + Clone + std::fmt::Debug>(
        order: O,
        struct_hash: B256,
        hash: B256,
        sign: Bytes,
    ) {
        assert_eq!(order.struct_hash(), struct_hash);
        assert_eq!(order.hash(&DOMAIN).as_b256(), &hash);
        let signed = order.sign(&DOMAIN, &wallet()).unwrap();
        assert_eq!(signed.sign, sign);
        assert_eq!(signed.recover_signer(&DOMAIN).unwrap(), WALLET);
    }

    fn upstream_request_order() -> RequestOrder {
        RequestOrder {
            app: address!("0x6709CAe77CDa2cbA8Cb90A4F5a4eFfb5c8Fe8367"),
            workerpool: address!("0x506fA5EaCa52B5d2F133452a45FFA68aD1CfB3C5"),
            requester: address!("0x1ec09e1782a43a770d54e813379c730e0b29ad4b"),
            volume: U256::from(1),
            tag: Tag::TEE,
            params: concat!(
                r#"{"iexec_tee_post_compute_fingerprint":"76bfdee97e692b729e989694f3a566cf0e1de95fc456ff5ee88c75b1cb865e33|1eb627c1c94bbca03178b099b13fb4d1|13076027fc67accba753a3ed2edf03227dfd013b450d68833a5589ec44132100","#,
                r#""iexec_tee_post_compute_image":"iexechub/tee-worker-post-compute:1.0.0","#,
                r#""iexec_result_storage_provider":"ipfs","#,
                r#""iexec_result_storage_proxy":"https://result.viviani.iex.ec","#,
                r#""iexec_result_encryption":false,"iexec_input_files":[],"iexec_args":"Alice"}"#,
            )
            .to_owned(),
            salt: b256!("ee5c64cd59eaa084f59dbaa8f20b87260c4d6ac35c83214da657681bfe4e7632"),
            ..RequestOrder::default()
        }
    }

    #[test]
    fn test_wallet_key_is_the_upstream_signer() {
        assert_eq!(wallet().address(), WALLET);
    }

    #[test]
    fn type_strings_and_hashes_match_the_contract() {
        // Spec §2.3 (IexecLibOrders_v5.sol).
        assert_eq!(
            AppOrder::type_string(),
            "AppOrder(address app,uint256 appprice,uint256 volume,bytes32 tag,address datasetrestrict,address workerpoolrestrict,address requesterrestrict,bytes32 salt)"
        );
        assert_eq!(
            DatasetOrder::type_string(),
            "DatasetOrder(address dataset,uint256 datasetprice,uint256 volume,bytes32 tag,address apprestrict,address workerpoolrestrict,address requesterrestrict,bytes32 salt)"
        );
        assert_eq!(
            WorkerpoolOrder::type_string(),
            "WorkerpoolOrder(address workerpool,uint256 workerpoolprice,uint256 volume,bytes32 tag,uint256 category,uint256 trust,address apprestrict,address datasetrestrict,address requesterrestrict,bytes32 salt)"
        );
        assert_eq!(
            RequestOrder::type_string(),
            "RequestOrder(address app,uint256 appmaxprice,address dataset,uint256 datasetmaxprice,address workerpool,uint256 workerpoolmaxprice,address requester,uint256 volume,bytes32 tag,uint256 category,uint256 trust,address beneficiary,address callback,string params,bytes32 salt)"
        );
        assert_eq!(
            AppOrder::type_hash(),
            b256!("60815a0eeec47dddf1615fe53b31d016c31444e01b9d796db365443a6445d008")
        );
        assert_eq!(
            DatasetOrder::type_hash(),
            b256!("6cfc932a5a3d22c4359295b9f433edff52b60703fa47690a04a83e40933dd47c")
        );
        assert_eq!(
            WorkerpoolOrder::type_hash(),
            b256!("aa3429fb281b34691803133d3d978a75bb77c617ed6bc9aa162b9b30920022bb")
        );
        assert_eq!(
            RequestOrder::type_hash(),
            b256!("f24e853034a3a450aba845a82914fbb564ad85accca6cf62be112a154520fae0")
        );
    }

    #[test]
    fn operation_type_hashes_match_the_contract() {
        // Spec §2.3.
        assert_eq!(
            AppOrder::operation_type_string(),
            format!(
                "AppOrderOperation(AppOrder order,uint256 operation){}",
                AppOrder::type_string()
            )
        );
        assert_eq!(
            AppOrder::operation_type_hash(),
            b256!("0638bb0702457e2b4b01be8a202579b8bf97e587fb4f2cc4d4aad01f21a06ee0")
        );
        assert_eq!(
            DatasetOrder::operation_type_hash(),
            b256!("075eb6f7578ff4292c241bd2484cd5c1d5e6ecc2ddd3317e1d8176b5a45865ec")
        );
        assert_eq!(
            WorkerpoolOrder::operation_type_hash(),
            b256!("322d980b7d7a6a1f7c39ff0c5445da6ae1d8e0393ff0dd468c8be3e2c8644388")
        );
        assert_eq!(
            RequestOrder::operation_type_hash(),
            b256!("0ded7b52c2d77595a40d242eca751df172b18e686326dbbed3f4748828af77c7")
        );
    }

    #[test]
    fn domain_separators_match_known_deployments() {
        // Spec §2.2 (addresses §1.4).
        assert_eq!(
            keccak256(
                "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
            ),
            b256!("8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f")
        );
        let cases = [
            (
                134,
                BELLECOUR_PROXY,
                b256!("f2cbd98a556869939d25b73c3fa68ba45f19932f8c9a06f744c98290ed9ef860"),
            ),
            (
                133,
                BELLECOUR_PROXY,
                b256!("fe74a571c117ad1e52a111b47ec87ee86756b7100d374152c3d0f6c039575397"),
            ),
            (
                42161,
                address!("0x098bFCb1E50ebcA0BaA92C12eA0c3F045A1aD9f0"),
                b256!("3b211ab198ac0c745a332d34416d88c417c2f06a87bd9f0d2fdd37b242c75402"),
            ),
            (
                421614,
                address!("0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E"),
                b256!("de6e7a8f1c22386ba73ee5376e4ec7089a2d2b07ebbfce54d4cb386daa34cc92"),
            ),
        ];
        for (chain_id, proxy, separator) in cases {
            assert_eq!(
                Domain::new(chain_id, proxy).separator(),
                separator,
                "chain {chain_id}"
            );
        }
    }

    #[test]
    fn app_order_hash_and_signature_match_upstream_vector() {
        // Spec §2.8 (commons-poco EIP712AppOrderTest).
        let order = AppOrder {
            app: address!("0x2EbD509d777B187E8394566bA6ec093B9dd73DF1"),
            volume: U256::from(1),
            salt: b256!("be858b0eee90cf2e85297bd3df81373f6b4de20c67a3e1f5db1a9d5be8abc3c4"),
            ..AppOrder::default()
        };
        assert_vector(
            order,
            b256!("b80a475500e9316e4951c0e4621f3641bac75563c18ba14fa67754b70f96f729"),
            b256!("ba3386e38e2048de59653fed9f717a2b4400efe2d704b2980f814a91ef1f90e1"),
            bytes!(
                "82c2d8a5f59f1088eb0b9a627c367ae7dae1772c8bd98c394699ae24830611e1171026f4e28d2c60302c34a04c60c4fc2f1363e165072dca04a9f203734978671c"
            ),
        );
    }

    #[test]
    fn dataset_order_hash_and_signature_match_upstream_vector() {
        // Spec §2.8 (commons-poco EIP712DatasetOrderTest).
        let order = DatasetOrder {
            dataset: address!("0x2550E5B60f48742aBce2275F34417e7cBf5AcA86"),
            volume: U256::from(1_000_000),
            tag: Tag::TEE,
            salt: b256!("c49d07f99c47096900653b6ade4ccde4c52f773a5ad68f1da0a47c993cad4595"),
            ..DatasetOrder::default()
        };
        assert_vector(
            order,
            b256!("8b729a905f3606a7df58201561743301f4c3c084487d64de9a6036fbf0f18fad"),
            b256!("87c9e55f03233ddcbfd9f37dbef06b2932d7c20a9998ea01f26d1efe055edeb9"),
            bytes!(
                "94661cab25380e7a6e1c20762988f6f854c5123a17ad27c65580d7c3edcfa2025a9d255c679c4cf7d489560917c17d3af3da83737b3722824918d39aecfedf711c"
            ),
        );
    }

    #[test]
    fn workerpool_order_hash_and_signature_match_upstream_vector() {
        // Spec §2.8 (commons-poco EIP712WorkerpoolOrderTest).
        let order = WorkerpoolOrder {
            workerpool: address!("0x53Ef1328a96E40E125bca15b9a4da045C5e63E1A"),
            volume: U256::from(1),
            salt: b256!("40af1a4975ca6ca7285d7738e51c8da91a9daee4a23fb45d105068be56f85e56"),
            ..WorkerpoolOrder::default()
        };
        assert_vector(
            order,
            b256!("5fe3a4e32c3aecba18e7454fdbefa80046f20efdb549361792bcc388dea33482"),
            b256!("66df04fcab380857d682cfc64a4c8906587e918857d481a29f79f7c3abd06620"),
            bytes!(
                "18bb5dbf608ade315c9e81f0b89929a93aa36aee0a1d51e9119c66799af126596c6cfd1e676ea394e346c616710a675388d5b270a195e494e75d107c87a45dce1c"
            ),
        );
    }

    #[test]
    fn request_order_hash_and_signature_match_upstream_vector() {
        // Spec §2.8 (commons-poco EIP712RequestOrderTest; params copied byte for byte).
        assert_vector(
            upstream_request_order(),
            b256!("47a57e4a7847df97b8503bcbacc54e7117f2203441cc90b7a30c19aac4bfb174"),
            b256!("03f960f8c4153017ca091fe3eb5169a51af3b7b2eae9b85a72e1af9ed2493b45"),
            bytes!(
                "611511fa5169dff40f7b4c0013e9f149e79dfddacd80a19852a1e9b42294eaef4329367f01eb48930f990a418befed0c5634e493809f2e9a6a60727137964df51c"
            ),
        );
    }

    #[test]
    fn order_hash_depends_on_the_domain() {
        let order = upstream_request_order();
        assert_ne!(
            order.hash(&DOMAIN),
            order.hash(&Domain::new(134, BELLECOUR_PROXY))
        );
    }

    #[test]
    fn rejects_signature_of_another_order_or_signer() {
        let signed = upstream_request_order().sign(&DOMAIN, &wallet()).unwrap();
        assert!(signed.is_signed_by(&DOMAIN, WALLET));
        let mut altered = signed.clone();
        altered.order.volume = U256::from(2);
        assert!(!altered.is_signed_by(&DOMAIN, WALLET));
        let other = upstream_request_order()
            .sign(&DOMAIN, &PrivateKeySigner::random())
            .unwrap();
        assert!(!other.is_signed_by(&DOMAIN, WALLET));
    }

    #[test]
    fn operation_hash_wraps_the_order_struct_hash() {
        let order = upstream_request_order();
        let close = order.operation_hash(OrderOperation::Close, &DOMAIN);
        let expected = DOMAIN.typed_data_hash(keccak256(
            [
                RequestOrder::operation_type_hash().as_slice(),
                order.struct_hash().as_slice(),
                &U256::from(1).to_be_bytes::<32>(),
            ]
            .concat(),
        ));
        assert_eq!(close, expected);
        assert_ne!(close, order.operation_hash(OrderOperation::Sign, &DOMAIN));
    }

    #[test]
    fn signed_order_json_is_flat_with_sign() {
        let signed = AppOrder {
            app: address!("0x2EbD509d777B187E8394566bA6ec093B9dd73DF1"),
            appprice: Nrlc::from(5),
            volume: U256::from(1),
            ..AppOrder::default()
        }
        .sign(&DOMAIN, &wallet())
        .unwrap();
        let json = serde_json::to_value(&signed).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "app",
                "appprice",
                "datasetrestrict",
                "requesterrestrict",
                "salt",
                "sign",
                "tag",
                "volume",
                "workerpoolrestrict"
            ]
        );
        assert_eq!(json["appprice"], "0x5");
        let back: Signed<AppOrder> = serde_json::from_value(json).unwrap();
        assert_eq!(back, signed);
    }

    #[test]
    fn domain_json_is_camel_case() {
        let json = serde_json::to_value(DOMAIN).unwrap();
        assert_eq!(json["chainId"], 133);
        assert_eq!(serde_json::from_value::<Domain>(json).unwrap(), DOMAIN);
    }
}
