//! A workerpool on a fresh market: the network `agora dev` starts (agora-network, in memory,
//! free ports, no market, no worker yet) with the accounts of agora-testkit's [`World`], which
//! the scenarios use to match orders and read the chain; its scheduler and workers each
//! startable and killable.

use std::{path::PathBuf, time::Duration};

use agora_api::scheduler::{TaskStatus, TaskView};
use agora_network::{AppModule, Config, Funding, Network, Roles};
use agora_primitives::{DealId, TaskId};
use agora_testkit::market::{APP_OWNER, DEPLOYER, Orders, REQUESTER, SCHEDULER, WORKERS, World};
use alloy::primitives::{Address, B256, U256};

/// How long a scenario may wait for a state.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

/// The network under test.
pub(crate) struct Net {
    pub(crate) world: World,
    pub(crate) network: Network,
    /// The services' files (the scheduler's database, the workers' journals).
    pub(crate) dir: tempfile::TempDir,
    /// The app every deal runs.
    pub(crate) app: Address,
    pub(crate) http: reqwest::Client,
    /// Changes to the scheduler's configuration, applied at each start.
    pub(crate) tune: fn(&mut agora_scheduler::Config),
}

/// How many dev accounts the world's actors use.
const ACCOUNTS: u32 = 12;

/// The workspace's file `path`.
pub(crate) fn workspace_file(path: &str) -> PathBuf {
    agora_testkit::workspace_root().join(path)
}

impl Net {
    /// Logs worker `WORKERS[i]` in to the scheduler as any worker does (a challenge signed
    /// with its key) and returns the session.
    pub(crate) async fn session(&self, i: usize) -> agora_api::scheduler::Session {
        use agora_api::scheduler::{self as api, Challenge, Login};
        let base = self.scheduler_url();
        let worker = self.world.address(WORKERS[i]);
        let challenge: Challenge = self
            .http
            .get(format!("{base}{}?worker={worker}", api::CHALLENGE))
            .send()
            .await
            .expect("the scheduler answers")
            .json()
            .await
            .expect("a challenge");
        let signature = agora_primitives::LoginChallenge {
            chain_id: challenge.chain_id,
            challenge: challenge.challenge.clone(),
        }
        .sign(&self.world.signer(WORKERS[i]))
        .expect("signs");
        self.http
            .post(format!("{base}{}", api::LOGIN))
            .json(&Login {
                worker,
                challenge: challenge.challenge,
                signature,
            })
            .send()
            .await
            .expect("the scheduler answers")
            .json()
            .await
            .expect("a session")
    }

    /// A market whose app is the module at `module` (a workspace path), with a result store
    /// and a scheduler; no worker yet.
    pub(crate) async fn start(module: &str) -> Self {
        Self::start_tuned(module, |_| {}).await
    }

    pub(crate) async fn start_tuned(module: &str, tune: fn(&mut agora_scheduler::Config)) -> Self {
        Self::start_with(module, tune, false).await
    }

    /// As [`Net::start`], with the scheduler's and workers' default settings (1 s tick,
    /// the default ask wait) instead of the test timings: what users run.
    #[allow(dead_code, reason = "the workerpool example's; no test uses it")]
    pub(crate) async fn start_with_defaults(module: &str) -> Self {
        Self::start_with(module, |_| {}, true).await
    }

    async fn start_with(
        module: &str,
        tune: fn(&mut agora_scheduler::Config),
        defaults: bool,
    ) -> Self {
        let wasm = std::fs::read(workspace_file(module)).expect("the app module");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = Config {
            accounts: ACCOUNTS,
            roles: Roles {
                admin: DEPLOYER,
                app_developer: APP_OWNER,
                scheduler: SCHEDULER,
                workers: WORKERS.to_vec(),
                requester: REQUESTER,
            },
            // As World::start: every actor 1,000 RLC, 500 of it deposited.
            funding: Funding {
                given_rlc: 1_000,
                deposited_rlc: 500,
                depositors: Some((0..ACCOUNTS as usize).collect()),
            },
            app: AppModule {
                name: "app".into(),
                wasm,
            },
            market: false,
            workers_started: 0,
            // Started below, once, with the test's own settings.
            scheduler_started: false,
            results_max_bytes: 16 << 20,
            ..Config::test(dir.path())
        };
        let config = if defaults {
            Config {
                tune_scheduler: |config| config.quiet = true,
                tune_worker: |_| {},
                ..config
            }
        } else {
            config
        };
        let mut network = agora_network::spawn(config)
            .await
            .expect("the network starts");
        network
            .start_scheduler_with(tune)
            .await
            .expect("the scheduler starts");
        let world = World::attach(
            &network.info.rpc_url,
            network.info.app,
            network.info.workerpool,
        )
        .await;
        Self {
            world,
            app: network.info.app,
            network,
            dir,
            http: reqwest::Client::new(),
            tune,
        }
    }

    pub(crate) fn results_url(&self) -> String {
        self.network.info.results_url.clone()
    }

    pub(crate) fn scheduler_url(&self) -> String {
        self.network.info.scheduler_url.clone()
    }

    /// Starts the scheduler again (on its port), with [`Net::tune`].
    pub(crate) async fn start_scheduler(&mut self) {
        self.network
            .start_scheduler_with(self.tune)
            .await
            .expect("the scheduler starts");
    }

    pub(crate) async fn kill_scheduler(&mut self) {
        self.network.kill_scheduler().await;
    }

    /// Starts worker `i` (dev account `WORKERS[i]`); a `faulty` one contributes wrong results.
    pub(crate) async fn start_worker(&mut self, i: usize, faulty: bool) {
        self.start_worker_with(i, |config| config.faulty = faulty)
            .await;
    }

    /// Starts worker `i` with its configuration changed by `tune`.
    pub(crate) async fn start_worker_with(
        &mut self,
        i: usize,
        tune: impl FnOnce(&mut agora_worker::daemon::DaemonConfig),
    ) {
        self.network
            .start_worker_with(i, tune)
            .await
            .expect("the worker starts");
    }

    pub(crate) async fn kill_worker(&mut self, i: usize) {
        self.network.kill_worker(i).await;
    }

    pub(crate) fn worker(&self, i: usize) -> &agora_worker::daemon::DaemonHandle {
        self.network.worker(i).expect("the worker runs")
    }

    /// Where worker `i` keeps its files.
    pub(crate) fn worker_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("worker-{}", WORKERS[i]))
    }

    /// The world's default orders for this app, at `trust`, for `volume` tasks.
    pub(crate) fn orders(&self, trust: u64, volume: u64, salt: u8) -> Orders {
        let mut orders = self.world.orders_at_trust(trust, salt);
        orders.app.app = self.app;
        orders.request.app = self.app;
        orders.request.volume = U256::from(volume);
        orders
    }

    /// Orders for the app at trust 1, volume 1, with `dataset` at the default dataset price.
    pub(crate) fn orders_with_dataset(&self, dataset: Address, salt: u8) -> Orders {
        let mut orders = self.orders(1, 1, salt);
        let mut defaults = self.world.orders_with_dataset();
        let mut order = defaults.dataset.take().expect("a dataset order");
        order.dataset = dataset;
        order.salt = B256::repeat_byte(salt);
        orders.dataset = Some(order);
        orders.request.dataset = dataset;
        orders.request.datasetmaxprice = defaults.request.datasetmaxprice;
        orders
    }

    /// Matches `orders` (as the requester).
    pub(crate) async fn deal(&self, orders: &Orders) -> DealId {
        self.world.deal(orders).await.0
    }

    /// The scheduler's view of a task.
    pub(crate) async fn view(&self, task: TaskId) -> Option<TaskView> {
        let url = format!(
            "{}{}",
            self.scheduler_url(),
            agora_api::scheduler::task_path(task)
        );
        let response = self.http.get(url).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    /// Waits until the chain says `task` has `status` (3 completed, 4 failed).
    pub(crate) async fn until_chain_status(&self, task: TaskId, status: u8) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let view = self.world.view_task(task).await;
            if view.status == status {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "task {task} is still at chain status {} after {PATIENCE:?}; the scheduler says {:#?}",
                view.status,
                self.view(task).await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the scheduler's view of `task` satisfies `done`.
    pub(crate) async fn until(
        &self,
        task: TaskId,
        what: &str,
        done: impl Fn(&TaskView) -> bool,
    ) -> TaskView {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(view) = self.view(task).await
                && done(&view)
            {
                return view;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "task {task}: not {what} after {PATIENCE:?}; the scheduler says {:#?}",
                self.view(task).await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until a replicate of `task` is `status`; returns the reason recorded with it.
    pub(crate) async fn until_replicate(
        &self,
        task: TaskId,
        status: agora_api::scheduler::ReplicateStatus,
    ) -> String {
        let view = self
            .until(task, status.as_str(), |v| {
                v.replicates.iter().any(|r| r.status == status)
            })
            .await;
        view.history
            .iter()
            .find(|e| e.status == status.as_str())
            .map(|e| e.reason.clone())
            .unwrap_or_else(|| panic!("{status} is not in the history: {view:#?}"))
    }

    /// Waits until the scheduler says `task` is `status`.
    pub(crate) async fn until_status(&self, task: TaskId, status: TaskStatus) -> TaskView {
        self.until(task, status.as_str(), |v| v.status == status)
            .await
    }

    /// Downloads `task`'s result archive from the result store.
    pub(crate) async fn download(&self, task: TaskId) -> Vec<u8> {
        let url = format!(
            "{}{}",
            self.results_url(),
            agora_api::results::path(*task.as_b256())
        );
        let response = self.http.get(url).send().await.expect("the store answers");
        assert!(response.status().is_success(), "{}", response.status());
        response.bytes().await.expect("the archive").to_vec()
    }

    pub(crate) async fn stop(self) {
        self.network.stop().await;
    }
}

/// The files of a zip archive, by name.
pub(crate) fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip archive");
    let mut files = std::collections::BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).expect("an entry");
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut content).expect("readable");
        files.insert(file.name().to_string(), content);
    }
    files
}
