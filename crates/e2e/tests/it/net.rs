//! A workerpool on a fresh market: the [`World`] of agora-testkit, a result store, a scheduler
//! for the world's workerpool and workers, each startable and killable.

use std::{path::PathBuf, time::Duration};

use agora_api::scheduler::{TaskStatus, TaskView};
use agora_primitives::{DealId, TaskId};
use agora_testkit::market::{Orders, SCHEDULER, WORKERS, World};
use alloy::primitives::{Address, B256, U256};
use sha2::{Digest, Sha256};

/// How long a scenario may wait for a state.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

/// The network under test.
pub(crate) struct Net {
    pub(crate) world: World,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) results: Option<agora_results::Handle>,
    pub(crate) scheduler: Option<agora_scheduler::Handle>,
    pub(crate) workers: Vec<Option<agora_worker::daemon::DaemonHandle>>,
    /// The app every deal runs.
    pub(crate) app: Address,
    pub(crate) http: reqwest::Client,
    /// Changes to the scheduler's configuration.
    pub(crate) tune: fn(&mut agora_scheduler::Config),
    /// Where the scheduler listens (the same port across restarts, as the workers know it).
    pub(crate) scheduler_listen: Option<std::net::SocketAddr>,
}

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
        let world = World::start().await;
        let path = workspace_file(module);
        let bytes = std::fs::read(&path).expect("the app module");
        let checksum = B256::from(<[u8; 32]>::from(Sha256::digest(&bytes)));
        let url = format!("file://{}", path.canonicalize().expect("a path").display());
        let app = world
            .create_app(agora_testkit::market::APP_OWNER, "app", &url, checksum)
            .await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let results = agora_results::serve(agora_results::Config {
            dir: dir.path().join("results"),
            listen: "127.0.0.1:0".parse().expect("an address"),
            rpc_url: world.url().to_string(),
            hub: world.hub,
            public_url: None,
            max_bytes: 16 << 20,
        })
        .await
        .expect("the result store starts");
        let mut net = Self {
            world,
            dir,
            results: Some(results),
            scheduler: None,
            workers: (0..WORKERS.len()).map(|_| None).collect(),
            app,
            http: reqwest::Client::new(),
            tune,
            scheduler_listen: None,
        };
        net.start_scheduler().await;
        net
    }

    pub(crate) fn results_url(&self) -> String {
        self.results
            .as_ref()
            .expect("the result store runs")
            .url()
            .to_string()
    }

    pub(crate) fn scheduler_url(&self) -> String {
        self.scheduler
            .as_ref()
            .expect("the scheduler runs")
            .url()
            .to_string()
    }

    pub(crate) async fn start_scheduler(&mut self) {
        let mut config = agora_scheduler::Config::test(
            self.world.url(),
            self.world.hub,
            self.world.assets.workerpool,
            self.world.signer(SCHEDULER),
            self.dir.path().join("scheduler.db"),
            self.results_url(),
        );
        (self.tune)(&mut config);
        if let Some(listen) = self.scheduler_listen {
            config.listen = listen;
        }
        let scheduler = agora_scheduler::spawn(config)
            .await
            .expect("the scheduler starts");
        self.scheduler_listen = Some(
            scheduler
                .url()
                .trim_start_matches("http://")
                .parse()
                .expect("an address"),
        );
        self.scheduler = Some(scheduler);
    }

    pub(crate) async fn kill_scheduler(&mut self) {
        if let Some(scheduler) = self.scheduler.take() {
            scheduler.kill().await;
        }
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
        let mut config = agora_worker::daemon::DaemonConfig::new(
            self.scheduler_url(),
            self.world.url(),
            self.world.hub,
            self.world.signer(WORKERS[i]),
            self.dir.path().join(format!("worker-{i}")),
        );
        config.ask_wait = Duration::from_secs(2);
        config.asset_fetch = agora_worker::FetchPolicy::local_development();
        config.input_fetch = agora_worker::FetchPolicy::local_development();
        tune(&mut config);
        self.workers[i] = Some(
            agora_worker::daemon::spawn(config)
                .await
                .expect("the worker starts"),
        );
    }

    pub(crate) async fn kill_worker(&mut self, i: usize) {
        if let Some(worker) = self.workers[i].take() {
            worker.kill().await;
        }
    }

    pub(crate) fn worker(&self, i: usize) -> &agora_worker::daemon::DaemonHandle {
        self.workers[i].as_ref().expect("the worker runs")
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

    pub(crate) async fn stop(mut self) {
        for i in 0..self.workers.len() {
            self.kill_worker(i).await;
        }
        self.kill_scheduler().await;
        if let Some(results) = self.results.take() {
            results.shutdown().await;
        }
        self.world.shutdown().await;
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
