//! Test support shared by the workspace's tests.
//!
//! [`market::World`] is a small market on a chain: the protocol, funded actors, assets, signed
//! orders and the task lifecycle, one call each.
//!
//! [`Anvil`] runs the reference node the tests compare the embedded chain with (and run the
//! protocol on, to show it needs nothing of ours): the pinned `@foundry-rs/anvil` from the
//! workspace's `node_modules` (`npm ci` installs it; `.ci/run` does).

use std::{
    net::{Ipv4Addr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow, bail, ensure};

pub mod market;
use serde_json::{Value, json};

/// How long anvil may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An anvil process in its own process group, killed with its group when dropped. It runs
/// Prague with chain id 31337, no base fee, no gas price, the usual test mnemonic's accounts
/// and no CREATE2 deployer at genesis (as the embedded chain), plus the caller's options.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    url: String,
}

impl Anvil {
    /// Starts anvil with these extra options (for example `["--no-mining"]`,
    /// `["--accounts", "12"]`) and waits until it answers.
    pub async fn spawn(options: &[&str]) -> Result<Self> {
        let bin = workspace_root().join("node_modules/.bin/anvil");
        ensure!(
            bin.exists(),
            "{} is missing: run `npm ci` in the workspace root",
            bin.display()
        );
        // The port is found free and released before anvil binds it, so another process may
        // take it in between: start again on a new one if anvil exits early.
        let mut last_error = None;
        for _ in 0..3 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
                .local_addr()?
                .port();
            let mut command = Command::new(&bin);
            command
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--hardfork", "prague", "--chain-id", "31337"])
                .args(["--base-fee", "0", "--gas-price", "0"])
                // Our genesis has no CREATE2 deployer; keep the states comparable.
                .arg("--disable-default-create2-deployer")
                .args(options)
                .arg("--silent")
                .stdin(Stdio::null())
                .stdout(Stdio::null());
            #[cfg(unix)]
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
            let child = command
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?;
            let mut anvil = Self {
                child,
                url: format!("http://127.0.0.1:{port}"),
            };
            match anvil.wait_ready().await {
                Ok(()) => return Ok(anvil),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow!("anvil did not start")))
    }

    /// Its JSON-RPC endpoint, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let http = reqwest::Client::new();
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": [] });
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("anvil exited before it was ready: {status}");
            }
            let answer = http.post(&self.url).json(&body).send().await;
            if let Ok(response) = answer
                && let Ok(value) = response.json::<Value>().await
            {
                let id = &value["result"];
                ensure!(*id == json!("0x7a69"), "anvil has chain id {id}");
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "anvil did not answer eth_chainId within {READY_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        // `.bin/anvil` is a node script that runs the real binary as its child: kill the whole
        // group so the binary does not outlive the script.
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
