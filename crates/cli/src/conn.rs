//! A connection to the protocol on some chain, as one account: the provider that signs, the
//! hub, the token and the registries (read from the hub, so that any deployment works), the
//! EIP-712 domain of orders.

use agora_contracts::{AppRegistry, DatasetRegistry, Hub, RLC, WorkerpoolRegistry};
use agora_primitives::Domain;
use alloy::{
    contract::{CallBuilder, CallDecoder},
    network::{Ethereum, EthereumWallet},
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionReceipt,
    signers::local::PrivateKeySigner,
};
use anyhow::{Context, Result, bail};

/// The protocol as one account sees it.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub(crate) provider: DynProvider,
    pub(crate) address: Address,
    pub(crate) signer: PrivateKeySigner,
    pub(crate) hub: Address,
    pub(crate) token: Address,
    pub(crate) app_registry: Address,
    pub(crate) dataset_registry: Address,
    pub(crate) workerpool_registry: Address,
    pub(crate) domain: Domain,
    /// Whether the chain charges nothing for gas (the embedded chain's default): then
    /// transactions are sent at price 0, so that an account without native coin can act.
    pub(crate) free_gas: bool,
}

impl Conn {
    /// Connects to the chain at `rpc_url` and reads the deployment of `hub`.
    pub(crate) async fn connect(
        rpc_url: &str,
        hub: Address,
        signer: PrivateKeySigner,
    ) -> Result<Self> {
        let url = rpc_url
            .parse()
            .with_context(|| format!("the RPC URL {rpc_url:?} is not a URL"))?;
        let address = signer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer.clone()))
            .connect_http(url)
            .erased();
        let chain_id = provider
            .get_chain_id()
            .await
            .with_context(|| format!("no chain answers at {rpc_url}"))?;
        if provider.get_code_at(hub).await?.is_empty() {
            bail!("there is no hub at {hub} on chain {chain_id} ({rpc_url}): give --hub");
        }
        let contracts = Hub::new(hub, &provider);
        let unreadable = |what: &str| format!("the hub at {hub} does not answer {what}()");
        let token = contracts
            .token()
            .call()
            .await
            .with_context(|| unreadable("token"))?;
        let app_registry = contracts
            .appregistry()
            .call()
            .await
            .with_context(|| unreadable("appregistry"))?;
        let dataset_registry = contracts
            .datasetregistry()
            .call()
            .await
            .with_context(|| unreadable("datasetregistry"))?;
        let workerpool_registry = contracts
            .workerpoolregistry()
            .call()
            .await
            .with_context(|| unreadable("workerpoolregistry"))?;
        let free_gas = provider
            .get_gas_price()
            .await
            .with_context(|| format!("{rpc_url} does not tell its gas price"))?
            == 0;
        Ok(Self {
            free_gas,
            provider,
            address,
            signer,
            hub,
            token,
            app_registry,
            dataset_registry,
            workerpool_registry,
            domain: Domain::new(chain_id, hub),
        })
    }

    pub(crate) fn hub(&self) -> Hub::HubInstance<DynProvider> {
        Hub::new(self.hub, self.provider.clone())
    }

    pub(crate) fn token(&self) -> RLC::RLCInstance<DynProvider> {
        RLC::new(self.token, self.provider.clone())
    }

    pub(crate) fn apps(&self) -> AppRegistry::AppRegistryInstance<DynProvider> {
        AppRegistry::new(self.app_registry, self.provider.clone())
    }

    pub(crate) fn datasets(&self) -> DatasetRegistry::DatasetRegistryInstance<DynProvider> {
        DatasetRegistry::new(self.dataset_registry, self.provider.clone())
    }

    pub(crate) fn workerpools(
        &self,
    ) -> WorkerpoolRegistry::WorkerpoolRegistryInstance<DynProvider> {
        WorkerpoolRegistry::new(self.workerpool_registry, self.provider.clone())
    }

    /// A connection that only reads: any key does.
    pub(crate) async fn reader(chain: &crate::pool::ChainArgs) -> Result<Self> {
        Self::connect(&chain.rpc_url, chain.hub(), PrivateKeySigner::random()).await
    }

    /// The RLC `who` holds in its wallet (the token's balance), in nRLC.
    pub(crate) async fn wallet_rlc(&self, who: Address) -> Result<U256> {
        self.token()
            .balanceOf(who)
            .call()
            .await
            .context("cannot read the wallet's RLC")
    }

    /// The account's free and locked balances on the hub, in nRLC.
    pub(crate) async fn account(&self, who: Address) -> Result<(U256, U256)> {
        let account = self
            .hub()
            .viewAccount(who)
            .call()
            .await
            .context("cannot read the account")?;
        Ok((account.stake, account.locked))
    }

    /// Sends `call` (`what` names it in errors) and waits for it to be mined. Its gas is
    /// estimated first, so that a refusal comes back with the contract's reason and costs
    /// nothing, and the limit sent is the estimate with a margin ([`with_margin`]).
    pub(crate) async fn send<D: CallDecoder>(
        &self,
        what: &str,
        call: CallBuilder<&DynProvider, D, Ethereum>,
    ) -> Result<TransactionReceipt> {
        let call = if self.free_gas {
            call.max_fee_per_gas(0).max_priority_fee_per_gas(0)
        } else {
            call
        };
        let estimate = match call.estimate_gas().await {
            Ok(gas) => gas,
            Err(e) => bail!("{what} would be refused: {}", reason(&e)),
        };
        let call = call.gas(with_margin(estimate));
        let receipt = call
            .send()
            .await
            .with_context(|| format!("{what}: the chain did not take the transaction"))?
            .get_receipt()
            .await
            .with_context(|| format!("{what}: no receipt"))?;
        if !receipt.status() {
            bail!(
                "{what} was mined but reverted (transaction {})",
                receipt.transaction_hash
            );
        }
        Ok(receipt)
    }
}

/// The gas limit sent for a call estimated at `estimate`: a quarter more, and at least 30,000
/// more. An estimate is exact only for the state it ran on; by the time the transaction is
/// mined, the state may differ (a storage slot another transaction cleared or set, a later
/// timestamp), and a call that forwards gas to another contract (the hub's modules, a
/// callback) loses 1/64 of it at each level.
pub(crate) fn with_margin(estimate: u64) -> u64 {
    estimate.saturating_add((estimate / 4).max(30_000))
}

/// What the contract said, without alloy's wrapping.
pub(crate) fn reason(error: &alloy::contract::Error) -> String {
    let text = error.to_string();
    match text.split_once("execution reverted") {
        Some((_, rest)) => {
            let rest = rest.trim_start_matches([':', ' ']);
            let rest = rest.split(", data:").next().unwrap_or(rest);
            if rest.is_empty() {
                "reverted without a reason".into()
            } else {
                rest.to_string()
            }
        }
        None => text,
    }
}

/// A count read from the chain (`what` names it), as a number this command can loop over: a
/// value of 2^64 or more, or above `limit`, is an error that names it, never a panic or an
/// allocation the size of the value.
pub(crate) fn count(value: U256, what: &str, limit: u64) -> Result<u64> {
    match u64::try_from(value) {
        Ok(n) if n <= limit => Ok(n),
        _ => bail!("{what} is {value}, more than the {limit} this command handles"),
    }
}

/// `amount` nRLC as RLC, without trailing zeros: `1.5 RLC`.
pub(crate) fn rlc(amount: U256) -> String {
    let unit = U256::from(1_000_000_000u64);
    let whole = amount / unit;
    // Below 10^9, so it fits.
    let fraction = u64::try_from(amount % unit).unwrap_or_default();
    if fraction == 0 {
        format!("{whole} RLC")
    } else {
        let digits = format!("{fraction:09}");
        format!("{whole}.{} RLC", digits.trim_end_matches('0'))
    }
}

/// An amount given on the command line: `1.5` (RLC), `1.5RLC`, or `1500000000nRLC`.
pub(crate) fn parse_amount(text: &str) -> Result<U256> {
    let t = text.trim();
    let bad = || format!("{text:?} is not an amount: write 1.5 (RLC), 1.5RLC or 1500000000nRLC");
    if let Some(n) = t.strip_suffix("nRLC") {
        return n.trim().parse::<U256>().with_context(bad);
    }
    let t = t.strip_suffix("RLC").unwrap_or(t).trim();
    let (whole, fraction) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty() && fraction.is_empty()
        || fraction.len() > 9
        || !whole
            .chars()
            .chain(fraction.chars())
            .all(|c| c.is_ascii_digit())
    {
        bail!(bad());
    }
    let whole: U256 = if whole.is_empty() {
        U256::ZERO
    } else {
        whole.parse().with_context(bad)?
    };
    let fraction: U256 = format!("{fraction:0<9}").parse().with_context(bad)?;
    Ok(whole * U256::from(1_000_000_000u64) + fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_rlc_or_nrlc_and_print_back() {
        assert_eq!(parse_amount("1.5").unwrap(), U256::from(1_500_000_000u64));
        assert_eq!(parse_amount("2RLC").unwrap(), U256::from(2_000_000_000u64));
        assert_eq!(parse_amount(".000000001").unwrap(), U256::from(1));
        assert_eq!(parse_amount("7nRLC").unwrap(), U256::from(7));
        for bad in ["", "1.0000000001", "-1", "1e9", "abc", "."] {
            assert!(parse_amount(bad).is_err(), "{bad:?}");
        }
        assert_eq!(rlc(U256::from(1_500_000_000u64)), "1.5 RLC");
        assert_eq!(rlc(U256::from(3_000_000_000u64)), "3 RLC");
        assert_eq!(rlc(U256::from(1)), "0.000000001 RLC");
    }
}
