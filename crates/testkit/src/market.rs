//! A small market on a chain (the embedded one, or anvil), for the protocol's tests, the gas
//! report (`crates/contracts/examples/gas_report.rs`) and the services' end-to-end tests: the
//! protocol deployed, funded actors, an app, a dataset and a workerpool, signed orders, and the
//! lifecycle calls, each sent as its actor and returning its receipt.

use agora_chain::{Config, Handle};
use agora_contracts::{
    AppRegistry, DatasetRegistry, Deployment, Hub, LibOrders, RLC, WorkerpoolRegistry,
};
use agora_primitives::{
    AppOrder, Contribution, DatasetOrder, DealId, Domain, Nrlc, Order, OrderHash, RequestOrder,
    ResultDigest, TaskId, WorkerpoolAuthorization, WorkerpoolOrder,
};
use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256, address, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionReceipt,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};

/// Dev account indices of the actors.
pub const DEPLOYER: usize = 0;
pub const APP_OWNER: usize = 1;
pub const DATASET_OWNER: usize = 2;
pub const SCHEDULER: usize = 3;
pub const REQUESTER: usize = 4;
pub const SPONSOR: usize = 5;
pub const WORKERS: [usize; 5] = [6, 7, 8, 9, 10];
pub const STRANGER: usize = 11;
const ACCOUNTS: u32 = 12;

/// iExec's kitty account (spec §5.4).
pub const KITTY: Address = address!("0x99c2268479b93fDe36232351229815DF80837e23");

/// The category of the default orders (XS) and its time reference.
pub const CATEGORY: u64 = 0;
pub const TIMEREF: u64 = 300;

/// `n` RLC in nRLC.
pub fn rlc(n: u64) -> U256 {
    U256::from(n) * U256::from(Nrlc::PER_RLC)
}

/// Sends `call`, waits for its receipt and checks that it succeeded (the caller needs the
/// `alloy` crate).
#[macro_export]
macro_rules! mined {
    ($call:expr) => {{
        let receipt: alloy::rpc::types::TransactionReceipt = $call
            .send()
            .await
            .expect("sent")
            .get_receipt()
            .await
            .expect("mined");
        assert!(receipt.status(), "reverted: {receipt:?}");
        receipt
    }};
}

/// The asset contracts.
#[derive(Debug, Clone, Copy)]
pub struct Assets {
    pub app: Address,
    pub dataset: Address,
    pub workerpool: Address,
}

/// The four orders of a deal, unsigned; `dataset: None` for a deal without a dataset.
#[derive(Debug, Clone)]
pub struct Orders {
    pub app: AppOrder,
    pub dataset: Option<DatasetOrder>,
    pub workerpool: WorkerpoolOrder,
    pub request: RequestOrder,
}

/// The four orders as matchOrders takes them, signed.
#[derive(Debug, Clone)]
pub struct SolOrders {
    pub app: LibOrders::AppOrder,
    pub dataset: LibOrders::DatasetOrder,
    pub workerpool: LibOrders::WorkerpoolOrder,
    pub request: LibOrders::RequestOrder,
}

/// The node a [`World`] runs on.
#[derive(Debug)]
pub enum Node {
    /// The embedded chain, in memory, with the protocol at genesis.
    Embedded(Handle),
    /// The reference node, to which the protocol was sent as ordinary transactions.
    Anvil(crate::Anvil),
    /// A chain someone else runs (an `agora-network`), at this URL.
    External,
}

/// The chain, the hub under test and the assets.
#[derive(Debug)]
pub struct World {
    pub node: Node,
    url: String,
    accounts: Vec<agora_chain::DevAccount>,
    pub deployment: Deployment,
    /// The hub under test: genesis's, or a test harness sharing its token and modules.
    pub hub: Address,
    pub domain: Domain,
    pub assets: Assets,
}

impl World {
    /// The protocol at genesis, every actor with 1,000 RLC of which 500 deposited, the assets
    /// created.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// As [`World::start`], with the hub under test deployed by the caller's `deploy`, given the
    /// chain and the genesis deployment (a test harness).
    pub async fn start_with_hub<F, Fut>(deploy: F) -> Self
    where
        F: FnOnce(DynProvider, Deployment) -> Fut,
        Fut: std::future::Future<Output = Address>,
    {
        let (handle, deployment) = Self::chain().await;
        let hub = deploy(
            provider(&handle.http_url(), &dev_accounts()[DEPLOYER]),
            deployment,
        )
        .await;
        Self::setup(Node::Embedded(handle), deployment, hub).await
    }

    /// As [`World::start`], on anvil: the protocol deployed by [`agora_contracts::deploy`] from
    /// dev account 0, ordinary transactions.
    pub async fn start_on_anvil() -> Self {
        let anvil = crate::Anvil::spawn(&["--accounts", &ACCOUNTS.to_string()])
            .await
            .expect("anvil starts");
        let deployer = &dev_accounts()[DEPLOYER];
        let provider = provider(anvil.url(), deployer);
        let deployment = agora_contracts::deploy(&provider, deployer.address, None)
            .await
            .expect("the protocol deploys on anvil");
        // The same creations in the same order as the embedded chain's genesis.
        assert_eq!(deployment, Deployment::predict(deployer.address));
        let hub = deployment.hub;
        Self::setup(Node::Anvil(anvil), deployment, hub).await
    }

    /// A world on a chain already running at `url` with the protocol at genesis, whose
    /// accounts were funded by whoever started it: its app and workerpool are `app` and
    /// `workerpool`; a dataset is created for [`DATASET_OWNER`].
    pub async fn attach(url: &str, app: Address, workerpool: Address) -> Self {
        let accounts = dev_accounts();
        let deployment = Deployment::predict(accounts[DEPLOYER].address);
        let hub = deployment.hub;
        let chain_id = provider(url, &accounts[DEPLOYER])
            .get_chain_id()
            .await
            .expect("chain id");
        let mut world = Self {
            node: Node::External,
            url: url.to_string(),
            accounts,
            deployment,
            hub,
            domain: Domain::new(chain_id, hub),
            assets: Assets {
                app,
                dataset: Address::ZERO,
                workerpool,
            },
        };
        world.assets.dataset = world
            .create_dataset(
                DATASET_OWNER,
                "data",
                "file:///data/d.bin",
                keccak256(b"data"),
            )
            .await;
        world
    }

    async fn start_with(hub: Option<Address>) -> Self {
        let (handle, deployment) = Self::chain().await;
        let hub = hub.unwrap_or(deployment.hub);
        Self::setup(Node::Embedded(handle), deployment, hub).await
    }

    async fn chain() -> (Handle, Deployment) {
        start_chain(ACCOUNTS).await
    }

    async fn setup(node: Node, deployment: Deployment, hub: Address) -> Self {
        let url = match &node {
            Node::Embedded(handle) => handle.http_url().to_string(),
            Node::Anvil(anvil) => anvil.url().to_string(),
            Node::External => panic!("a world on an external chain is attached, not set up"),
        };
        let accounts = dev_accounts();
        let chain_id = provider(&url, &accounts[DEPLOYER])
            .get_chain_id()
            .await
            .expect("chain id");
        let mut world = Self {
            node,
            url,
            accounts,
            deployment,
            hub,
            domain: Domain::new(chain_id, hub),
            assets: Assets {
                app: Address::ZERO,
                dataset: Address::ZERO,
                workerpool: Address::ZERO,
            },
        };
        let token = world.token(DEPLOYER);
        for user in 1..ACCOUNTS as usize {
            mined!(token.transfer(world.address(user), rlc(1_000)));
        }
        for user in 0..ACCOUNTS as usize {
            world.deposit(user, rlc(500)).await;
        }
        world.assets = world
            .create_assets(APP_OWNER, DATASET_OWNER, SCHEDULER)
            .await;
        world
    }

    /// Creates an app, a dataset and a workerpool for these owners.
    pub async fn create_assets(&self, app: usize, dataset: usize, pool: usize) -> Assets {
        let app = self
            .create_app(app, "hello", "file:///apps/hello.wasm", keccak256(b"hello"))
            .await;
        let dataset = self
            .create_dataset(dataset, "data", "file:///data/d.bin", keccak256(b"data"))
            .await;
        let registry =
            WorkerpoolRegistry::new(self.deployment.workerpool_registry, self.provider(DEPLOYER));
        let call = registry.createWorkerpool(self.address(pool), "pool".into());
        let workerpool = call.call().await.expect("predicts");
        mined!(call);
        Assets {
            app,
            dataset,
            workerpool,
        }
    }

    /// Creates an app owned by `owner` whose module is at `multiaddr` with sha256 `checksum`.
    pub async fn create_app(
        &self,
        owner: usize,
        name: &str,
        multiaddr: &str,
        checksum: B256,
    ) -> Address {
        let registry = AppRegistry::new(self.deployment.app_registry, self.provider(DEPLOYER));
        let call = registry.createApp(
            self.address(owner),
            name.into(),
            "WASM".into(),
            Bytes::copy_from_slice(multiaddr.as_bytes()),
            checksum,
            Bytes::new(),
        );
        let app = call.call().await.expect("predicts");
        mined!(call);
        app
    }

    /// Creates a dataset owned by `owner` at `multiaddr` with sha256 `checksum`.
    pub async fn create_dataset(
        &self,
        owner: usize,
        name: &str,
        multiaddr: &str,
        checksum: B256,
    ) -> Address {
        let registry =
            DatasetRegistry::new(self.deployment.dataset_registry, self.provider(DEPLOYER));
        let call = registry.createDataset(
            self.address(owner),
            name.into(),
            Bytes::copy_from_slice(multiaddr.as_bytes()),
            checksum,
        );
        let dataset = call.call().await.expect("predicts");
        mined!(call);
        dataset
    }

    /// The node's JSON-RPC endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn address(&self, user: usize) -> Address {
        self.accounts[user].address
    }

    pub fn signer(&self, user: usize) -> PrivateKeySigner {
        self.accounts[user].signer()
    }

    pub fn provider(&self, user: usize) -> DynProvider {
        provider(&self.url, &self.accounts[user])
    }

    /// The hub under test, as `user`.
    pub fn hub(&self, user: usize) -> Hub::HubInstance<DynProvider> {
        Hub::new(self.hub, self.provider(user))
    }

    pub fn token(&self, user: usize) -> RLC::RLCInstance<DynProvider> {
        RLC::new(self.deployment.token, self.provider(user))
    }

    /// `user` deposits `amount` of its tokens.
    pub async fn deposit(&self, user: usize, amount: U256) -> TransactionReceipt {
        mined!(self.token(user).approve(self.hub, amount));
        mined!(self.hub(user).deposit(amount))
    }

    /// `account`'s free and locked SRLC.
    pub async fn account(&self, account: Address) -> (U256, U256) {
        let agora_contracts::IexecLibCore::Account { stake, locked } = self
            .hub(DEPLOYER)
            .viewAccount(account)
            .call()
            .await
            .expect("a view");
        (stake, locked)
    }

    /// The free and locked SRLC of every actor, the hub and the kitty.
    pub async fn accounts(&self) -> Vec<(U256, U256)> {
        let mut all = Vec::new();
        for user in 0..ACCOUNTS as usize {
            all.push(self.account(self.address(user)).await);
        }
        all.push(self.account(self.hub).await);
        all.push(self.account(KITTY).await);
        all
    }

    /// No token created or lost: the hub holds as many tokens as there is SRLC, the free
    /// balances (the hub's own included) add up to it, and the hub's own balance is exactly
    /// what is locked, the kitty included.
    pub async fn assert_conserved(&self) {
        let hub = self.hub(DEPLOYER);
        let held = self
            .token(DEPLOYER)
            .balanceOf(self.hub)
            .call()
            .await
            .expect("a view");
        let supply = hub.totalSupply().call().await.expect("a view");
        assert_eq!(held, supply, "the hub's tokens are the SRLC supply");
        let accounts = self.accounts().await;
        let free: U256 = accounts.iter().map(|(stake, _)| *stake).sum();
        let locked: U256 = accounts.iter().map(|(_, locked)| *locked).sum();
        assert_eq!(free, supply, "the free balances are the supply");
        let own = accounts[ACCOUNTS as usize].0;
        assert_eq!(own, locked, "the hub's own balance is what is locked");
    }

    // ---- Orders ----

    /// Orders that match: the app at 1 RLC, the workerpool at 10 RLC in category XS with
    /// trust up to 100, volume 1, no dataset, requested by [`REQUESTER`].
    pub fn orders(&self) -> Orders {
        let requester = self.address(REQUESTER);
        Orders {
            app: AppOrder {
                app: self.assets.app,
                appprice: Nrlc::new(rlc(1)),
                volume: U256::from(1000),
                salt: B256::repeat_byte(1),
                ..Default::default()
            },
            dataset: None,
            workerpool: WorkerpoolOrder {
                workerpool: self.assets.workerpool,
                workerpoolprice: Nrlc::new(rlc(10)),
                volume: U256::from(1000),
                category: U256::from(CATEGORY),
                trust: U256::from(100),
                salt: B256::repeat_byte(2),
                ..Default::default()
            },
            request: RequestOrder {
                app: self.assets.app,
                appmaxprice: Nrlc::new(rlc(1)),
                workerpoolmaxprice: Nrlc::new(rlc(10)),
                requester,
                volume: U256::from(1),
                category: U256::from(CATEGORY),
                beneficiary: requester,
                params: r#"{"iexec_args":"hello"}"#.into(),
                salt: B256::repeat_byte(4),
                ..Default::default()
            },
        }
    }

    /// [`World::orders`] with the dataset at 2 RLC.
    pub fn orders_with_dataset(&self) -> Orders {
        let mut orders = self.orders();
        orders.dataset = Some(DatasetOrder {
            dataset: self.assets.dataset,
            datasetprice: Nrlc::new(rlc(2)),
            volume: U256::from(1000),
            salt: B256::repeat_byte(3),
            ..Default::default()
        });
        orders.request.dataset = self.assets.dataset;
        orders.request.datasetmaxprice = Nrlc::new(rlc(2));
        orders
    }

    /// The orders signed by their owners (the asset owners of [`World::start`] and the
    /// requester).
    pub fn sign(&self, orders: &Orders) -> SolOrders {
        self.sign_as(orders, APP_OWNER, DATASET_OWNER, SCHEDULER, REQUESTER)
    }

    /// The orders signed by these accounts.
    pub fn sign_as(
        &self,
        orders: &Orders,
        app: usize,
        dataset: usize,
        pool: usize,
        requester: usize,
    ) -> SolOrders {
        let sign = |hash: OrderHash, user: usize| {
            Bytes::from(
                alloy::signers::SignerSync::sign_hash_sync(&self.signer(user), hash.as_b256())
                    .expect("signs")
                    .as_bytes()
                    .to_vec(),
            )
        };
        let mut app_order = LibOrders::AppOrder::from(&orders.app);
        app_order.sign = sign(orders.app.hash(&self.domain), app);
        let dataset_order = match &orders.dataset {
            Some(order) => {
                let mut sol = LibOrders::DatasetOrder::from(order);
                sol.sign = sign(order.hash(&self.domain), dataset);
                sol
            }
            None => null_dataset(),
        };
        let mut workerpool_order = LibOrders::WorkerpoolOrder::from(&orders.workerpool);
        workerpool_order.sign = sign(orders.workerpool.hash(&self.domain), pool);
        let mut request_order = LibOrders::RequestOrder::from(&orders.request);
        request_order.sign = sign(orders.request.hash(&self.domain), requester);
        SolOrders {
            app: app_order,
            dataset: dataset_order,
            workerpool: workerpool_order,
            request: request_order,
        }
    }

    /// matchOrders sent by `sender`; the revert, if any, as alloy reports it.
    pub async fn try_match(
        &self,
        sender: usize,
        orders: &SolOrders,
    ) -> Result<TransactionReceipt, alloy::contract::Error> {
        let hub = self.hub(sender);
        let call = hub.matchOrders(
            orders.app.clone(),
            orders.dataset.clone(),
            orders.workerpool.clone(),
            orders.request.clone(),
        );
        let receipt = call.send().await?.get_receipt().await?;
        assert!(receipt.status(), "reverted: {receipt:?}");
        Ok(receipt)
    }

    /// Signs and matches `orders` (sent by the requester); returns the deal id.
    pub async fn deal(&self, orders: &Orders) -> (DealId, TransactionReceipt) {
        let receipt = self
            .try_match(REQUESTER, &self.sign(orders))
            .await
            .expect("the orders match");
        (deal_of(&receipt, self.hub), receipt)
    }

    // ---- The task lifecycle ----

    /// Matches `orders` and initializes the deal's first task.
    pub async fn task(&self, orders: &Orders) -> TaskId {
        let (deal, _) = self.deal(orders).await;
        self.initialize(deal, 0).await.0
    }

    /// The default orders with the request's trust and salt set.
    pub fn orders_at_trust(&self, trust: u64, salt: u8) -> Orders {
        let mut orders = self.orders();
        orders.request.trust = U256::from(trust);
        orders.request.salt = B256::repeat_byte(salt);
        orders
    }

    pub async fn view_deal(&self, deal: DealId) -> agora_contracts::IexecLibCore::Deal {
        let hub = self.hub(STRANGER);
        hub.viewDeal(*deal.as_b256()).call().await.expect("a view")
    }

    pub async fn view_task(&self, task: TaskId) -> agora_contracts::IexecLibCore::Task {
        let hub = self.hub(STRANGER);
        hub.viewTask(*task.as_b256()).call().await.expect("a view")
    }

    pub async fn view_contribution(
        &self,
        task: TaskId,
        worker: usize,
    ) -> agora_contracts::IexecLibCore::Contribution {
        let hub = self.hub(STRANGER);
        let call = hub.viewContribution(*task.as_b256(), self.address(worker));
        call.call().await.expect("a view")
    }

    pub async fn score(&self, worker: usize) -> U256 {
        let hub = self.hub(STRANGER);
        let call = hub.viewScore(self.address(worker));
        call.call().await.expect("a view")
    }

    /// Initializes task `idx` of `deal` (sent by the scheduler).
    pub async fn initialize(&self, deal: DealId, idx: u64) -> (TaskId, TransactionReceipt) {
        let receipt = mined!(
            self.hub(SCHEDULER)
                .initialize(*deal.as_b256(), U256::from(idx))
        );
        (deal.task(U256::from(idx)), receipt)
    }

    /// The scheduler's authorization of `worker` for `task` (no enclave).
    pub fn authorization(&self, worker: usize, task: TaskId) -> Bytes {
        WorkerpoolAuthorization {
            worker: self.address(worker),
            task_id: task,
            enclave_challenge: Address::ZERO,
        }
        .sign(&self.signer(SCHEDULER))
        .expect("signs")
    }

    /// `worker` contributes `digest` to `task`, authorized by the scheduler.
    pub async fn contribute(
        &self,
        worker: usize,
        task: TaskId,
        digest: ResultDigest,
    ) -> TransactionReceipt {
        self.try_contribute(worker, task, digest)
            .await
            .expect("the contribution is accepted")
    }

    pub async fn try_contribute(
        &self,
        worker: usize,
        task: TaskId,
        digest: ResultDigest,
    ) -> Result<TransactionReceipt, alloy::contract::Error> {
        let commitment = Contribution::new(self.address(worker), task, digest);
        let hub = self.hub(worker);
        let call = hub.contribute(
            *task.as_b256(),
            *commitment.result_hash.as_b256(),
            *commitment.result_seal.as_b256(),
            Address::ZERO,
            Bytes::new(),
            self.authorization(worker, task),
        );
        Ok(call.send().await?.get_receipt().await?)
    }

    /// `worker` reveals `digest`.
    pub async fn reveal(
        &self,
        worker: usize,
        task: TaskId,
        digest: ResultDigest,
    ) -> TransactionReceipt {
        mined!(self.hub(worker).reveal(*task.as_b256(), *digest.as_b256()))
    }

    /// The scheduler finalizes `task` with this result link and callback data.
    pub async fn finalize(
        &self,
        task: TaskId,
        results: &[u8],
        callback: &[u8],
    ) -> TransactionReceipt {
        mined!(self.hub(SCHEDULER).finalize(
            *task.as_b256(),
            Bytes::copy_from_slice(results),
            Bytes::copy_from_slice(callback)
        ))
    }

    /// `worker` contributes and finalizes `task` alone.
    pub async fn contribute_and_finalize(
        &self,
        worker: usize,
        task: TaskId,
        digest: ResultDigest,
        results: &[u8],
        callback: &[u8],
    ) -> TransactionReceipt {
        mined!(self.hub(worker).contributeAndFinalize(
            *task.as_b256(),
            *digest.as_b256(),
            Bytes::copy_from_slice(results),
            Bytes::copy_from_slice(callback),
            Address::ZERO,
            Bytes::new(),
            self.authorization(worker, task),
        ))
    }

    /// Anyone claims `task`.
    pub async fn claim(&self, task: TaskId) -> TransactionReceipt {
        mined!(self.hub(STRANGER).claim(*task.as_b256()))
    }

    /// Moves the chain's clock `seconds` ahead and mines a block, so that calls and gas
    /// estimates see the new time.
    pub async fn increase_time(&self, seconds: u64) {
        let provider = self.provider(DEPLOYER);
        let _: serde_json::Value = provider
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .expect("evm_increaseTime");
        let _: serde_json::Value = provider
            .raw_request("evm_mine".into(), ())
            .await
            .expect("evm_mine");
    }

    pub async fn shutdown(self) {
        if let Node::Embedded(handle) = self.node {
            handle.shutdown().await;
        }
    }
}

/// A chain in memory with `accounts` dev accounts and the protocol deployed at genesis.
pub async fn start_chain(accounts: u32) -> (Handle, Deployment) {
    let config = Config {
        accounts,
        ..Config::test()
    };
    let deployer = agora_chain::derive_dev_accounts(&config.mnemonic, 1)
        .expect("the dev mnemonic derives")[0]
        .address;
    let handle = agora_chain::spawn(Config {
        genesis: agora_contracts::genesis(deployer),
        ..config
    })
    .await
    .expect("the chain starts with the contracts");
    let deployment =
        Deployment::from_file(handle.deployment()).expect("every contract is deployed");
    (handle, deployment)
}

/// The actors' accounts: the usual test mnemonic's, as both nodes fund them.
fn dev_accounts() -> Vec<agora_chain::DevAccount> {
    agora_chain::derive_dev_accounts(agora_chain::DEV_MNEMONIC, ACCOUNTS)
        .expect("the dev mnemonic derives")
}

/// A provider signing as `account`. They all share one HTTP client: building one reads the
/// system's certificates, milliseconds that a test calling `World::hub` in a loop would
/// otherwise pay each time.
fn provider(url: &str, account: &agora_chain::DevAccount) -> DynProvider {
    static HTTP: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let signer: PrivateKeySigner = account.signer();
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_reqwest(
            HTTP.get_or_init(reqwest::Client::new).clone(),
            url.parse().expect("url"),
        )
        .erased()
}

/// The error `E` that `attempt` reverted with.
pub fn reverted<E: alloy::sol_types::SolError>(
    attempt: Result<impl std::fmt::Debug, alloy::contract::Error>,
) -> E {
    let error = attempt.expect_err("the call reverts");
    error
        .as_decoded_error::<E>()
        .unwrap_or_else(|| panic!("expected {}, got {error:?}", E::SIGNATURE))
}

/// The deal id of the `OrdersMatched` event of `receipt`.
pub fn deal_of(receipt: &TransactionReceipt, hub: Address) -> DealId {
    let matched: Hub::OrdersMatched = event(receipt, hub).expect("a deal was matched");
    DealId::new(matched.dealid)
}

/// The first event `E` from `emitter` in `receipt`.
pub fn event<E: SolEvent>(receipt: &TransactionReceipt, emitter: Address) -> Option<E> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|log| log.address() == emitter)
        .find_map(|log| log.log_decode::<E>().ok())
        .map(|log| log.inner.data)
}

/// Every event `E` from `emitter` in `receipt`.
pub fn events<E: SolEvent>(receipt: &TransactionReceipt, emitter: Address) -> Vec<E> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|log| log.address() == emitter)
        .filter_map(|log| log.log_decode::<E>().ok())
        .map(|log| log.inner.data)
        .collect()
}

/// The dataset order of a deal without a dataset: all zero, unsigned.
pub fn null_dataset() -> LibOrders::DatasetOrder {
    LibOrders::DatasetOrder {
        dataset: Address::ZERO,
        datasetprice: U256::ZERO,
        volume: U256::ZERO,
        tag: B256::ZERO,
        apprestrict: Address::ZERO,
        workerpoolrestrict: Address::ZERO,
        requesterrestrict: Address::ZERO,
        salt: B256::ZERO,
        sign: Bytes::new(),
    }
}

/// Gas of the lifecycle calls, measured by [`lifecycle_gas`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleGas {
    /// matchOrders of the world's first deal (fresh consumed counters, first locks).
    pub match_first: u64,
    /// matchOrders of a later deal on new orders, the payer and scheduler already holding
    /// locked funds.
    pub match_later: u64,
    pub initialize: u64,
    /// contribute at trust 1 (the vote reaches consensus).
    pub contribute: u64,
    pub reveal: u64,
    /// finalize of the one-worker task, with a result link.
    pub finalize: u64,
    pub contribute_and_finalize: u64,
    /// The three contributions of a trust-5 task (the third reaches consensus).
    pub contribute_3: [u64; 3],
    /// The three reveals of that task.
    pub reveal_3: [u64; 3],
    /// finalize of that task (three workers paid, scores raised).
    pub finalize_3: u64,
    /// initialize of that task.
    pub initialize_3: u64,
    /// claim of a task with one contribution, after its final deadline.
    pub claim: u64,
}

impl LifecycleGas {
    /// initialize + contribute + reveal + finalize, one worker.
    pub fn whole_single(&self) -> u64 {
        self.initialize + self.contribute + self.reveal + self.finalize
    }

    /// initialize + contributeAndFinalize, one worker.
    pub fn whole_single_fast(&self) -> u64 {
        self.initialize + self.contribute_and_finalize
    }

    /// initialize + 3 × (contribute + reveal) + finalize.
    pub fn whole_triple(&self) -> u64 {
        self.initialize_3
            + self.contribute_3.iter().sum::<u64>()
            + self.reveal_3.iter().sum::<u64>()
            + self.finalize_3
    }
}

/// The result link a scheduler records at finalize (spec §7.4), 64 bytes.
pub const RESULT_LINK: &[u8] = br#"{"storage":"agora","location":"/results/0x01","digest":"0x01"}"#;

/// The lifecycle scenario of docs/GAS.md (and of the test that checks its ceilings): in one
/// fresh world, a one-worker task by contribute/reveal/finalize, one by
/// contributeAndFinalize, a three-worker task at trust 5, and a claimed task.
pub async fn lifecycle_gas() -> LifecycleGas {
    lifecycle_gas_on(World::start().await).await
}

/// [`lifecycle_gas`] on `world`.
pub async fn lifecycle_gas_on(world: World) -> LifecycleGas {
    let mut gas = LifecycleGas::default();
    let result = ResultDigest::new(keccak256(b"hello"));

    // One worker, the classic way.
    let (deal, receipt) = world.deal(&world.orders()).await;
    gas.match_first = receipt.gas_used;
    let (task, receipt) = world.initialize(deal, 0).await;
    gas.initialize = receipt.gas_used;
    gas.contribute = world.contribute(WORKERS[0], task, result).await.gas_used;
    gas.reveal = world.reveal(WORKERS[0], task, result).await.gas_used;
    gas.finalize = world.finalize(task, RESULT_LINK, &[]).await.gas_used;

    // One worker, in one call, on new orders.
    let mut orders = world.orders();
    orders.app.salt = B256::repeat_byte(0x11);
    orders.workerpool.salt = B256::repeat_byte(0x12);
    orders.request.salt = B256::repeat_byte(0x14);
    let (deal, receipt) = world.deal(&orders).await;
    gas.match_later = receipt.gas_used;
    let (task, _) = world.initialize(deal, 0).await;
    gas.contribute_and_finalize = world
        .contribute_and_finalize(WORKERS[1], task, result, RESULT_LINK, &[])
        .await
        .gas_used;

    // Three workers: fresh workers weigh 2, so trust 5 takes three agreeing votes.
    let mut orders = world.orders();
    orders.request.trust = U256::from(5);
    orders.request.salt = B256::repeat_byte(0x24);
    let (deal, _) = world.deal(&orders).await;
    let (task, receipt) = world.initialize(deal, 0).await;
    gas.initialize_3 = receipt.gas_used;
    for (i, worker) in WORKERS[2..5].iter().enumerate() {
        gas.contribute_3[i] = world.contribute(*worker, task, result).await.gas_used;
    }
    for (i, worker) in WORKERS[2..5].iter().enumerate() {
        gas.reveal_3[i] = world.reveal(*worker, task, result).await.gas_used;
    }
    gas.finalize_3 = world.finalize(task, RESULT_LINK, &[]).await.gas_used;

    // A task that never completes, claimed.
    let mut orders = world.orders();
    orders.request.trust = U256::from(5);
    orders.request.salt = B256::repeat_byte(0x34);
    let (deal, _) = world.deal(&orders).await;
    let (task, _) = world.initialize(deal, 0).await;
    world.contribute(WORKERS[0], task, result).await;
    world.increase_time(10 * TIMEREF).await;
    gas.claim = world.claim(task).await.gas_used;
    world.assert_conserved().await;
    world.shutdown().await;
    gas
}
