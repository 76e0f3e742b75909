//! What a worker fetches, and from where. The app's module and the dataset come from URLs their
//! owners registered, the input files from URLs the requester chose: anyone can be either, so
//! a URL never reaches the worker's own disk or network unless its workerpool says so.
//!
//! A [`FetchPolicy`] says what may be fetched: `file://` URLs only with
//! [`FetchPolicy::allow_file_urls`] (local development), http(s) from public addresses only,
//! except the networks in [`FetchPolicy::allowed_networks`]. Addresses are checked after DNS
//! resolution and the connection goes only to the checked addresses (the [`Fetcher`]'s
//! resolver hands the HTTP client nothing else), so a name that resolves to 127.0.0.1, or
//! resolves again to it later, does not get through; every redirect is checked again. A fetch
//! ends at its [`Budget`]: bytes and a deadline, the body included.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::Url;
use tokio::io::AsyncReadExt;

/// The largest file a worker fetches by default (a module, a dataset, the input files of a
/// replicate together).
pub const MAX_FETCH_BYTES: u64 = 64 << 20;

/// A network: an address and a prefix length, written `10.1.0.0/16` or `::1/128` (a bare
/// address is the network of that address alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

/// Text that is not a network.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0:?} is not a network (write it as 10.1.0.0/16 or fd00::/8)")]
pub struct BadNetwork(String);

impl IpNetwork {
    /// The network of `address`'s first `prefix` bits.
    pub fn new(address: IpAddr, prefix: u8) -> Result<Self, BadNetwork> {
        let bits = if address.is_ipv4() { 32 } else { 128 };
        if prefix > bits {
            return Err(BadNetwork(format!("{address}/{prefix}")));
        }
        Ok(Self { address, prefix })
    }

    /// Whether `ip` is in the network (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for IpNetwork {
    type Err = BadNetwork;

    fn from_str(text: &str) -> Result<Self, BadNetwork> {
        let bad = || BadNetwork(text.to_string());
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| bad())?;
        let prefix = match prefix {
            Some(prefix) => prefix.parse().map_err(|_| bad())?,
            None if address.is_ipv4() => 32,
            None => 128,
        };
        Self::new(address, prefix).map_err(|_| bad())
    }
}

impl std::fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// What a worker may fetch and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Read `file://` URLs from the worker's own disk: local development only (`agora dev`,
    /// tests), never on a worker whose disk holds anything a requester must not read.
    pub allow_file_urls: bool,
    /// Networks of addresses that are not public (loopback, private, link-local, ...) that may
    /// still be fetched from: `127.0.0.0/8` in local development, a pool's own mirror.
    /// Public addresses are always allowed.
    pub allowed_networks: Vec<IpNetwork>,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// How long one [`Budget`] lasts: a fetch, body included, or the input files of a
    /// replicate together.
    pub timeout: Duration,
    /// How many bytes one [`Budget`] holds.
    pub max_bytes: u64,
    /// How many redirects a fetch follows, each checked as the first URL was.
    pub max_redirects: usize,
}

impl Default for FetchPolicy {
    /// Public http(s) only: 10 s to connect, 60 s and 64 MiB per budget, 5 redirects.
    fn default() -> Self {
        Self {
            allow_file_urls: false,
            allowed_networks: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            max_bytes: MAX_FETCH_BYTES,
            max_redirects: 5,
        }
    }
}

impl FetchPolicy {
    /// The policy of a network on one machine (`agora dev`, the tests): `file://` URLs and
    /// loopback addresses allowed.
    pub fn local_development() -> Self {
        Self {
            allow_file_urls: true,
            allowed_networks: vec![
                IpNetwork {
                    address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
                    prefix: 8,
                },
                IpNetwork {
                    address: IpAddr::V6(Ipv6Addr::LOCALHOST),
                    prefix: 128,
                },
            ],
            ..Self::default()
        }
    }

    /// Whether `ip` may be connected to; if not, what kind of address it is.
    pub fn check(&self, ip: IpAddr) -> Result<(), &'static str> {
        match non_public(ip) {
            None => Ok(()),
            Some(_) if self.allowed_networks.iter().any(|n| n.contains(ip)) => Ok(()),
            Some(kind) => Err(kind),
        }
    }

    /// Checks what can be checked of `url` before resolving its host: its scheme, and its
    /// address when the host is one.
    fn check_url(&self, url: &Url, first: bool) -> Result<(), FetchError> {
        match url.scheme() {
            "http" | "https" => {}
            "file" if first && !self.allow_file_urls => return Err(FetchError::FileUrlRefused),
            "file" if first => return Ok(()),
            other => return Err(FetchError::Scheme(other.to_string())),
        }
        let Some(host) = url.host_str() else {
            return Err(FetchError::BadUrl("no host".into()));
        };
        // The URL parser writes every IP host in its canonical form (`http://2130706433/` is
        // `127.0.0.1`), IPv6 ones in brackets; a name is checked once resolved.
        let Ok(address) = host.trim_start_matches('[').trim_end_matches(']').parse() else {
            return Ok(());
        };
        self.check(address)
            .map_err(|kind| FetchError::AddressRefused {
                host: address.to_string(),
                address,
                kind,
            })
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What kind of address `ip` is when it is not a public one (that anyone on the Internet
/// reaches the same), or `None`.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified",
        (127, _, _) => "loopback",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (100, 64..=127, _) => "shared (carrier-grade NAT)",
        (169, 254, _) => "link-local",
        (192, 0, 0) => "IETF protocol",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (192, 88, 99) => "6to4 relay",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    let segments = ip.segments();
    let embedded = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match segments {
        [0, 0, 0, 0, 0, 0, 0, 0] => Some("unspecified"),
        [0, 0, 0, 0, 0, 0, 0, 1] => Some("loopback"),
        [0, 0, 0, 0, 0, 0, _, _] => Some("IPv4-compatible (deprecated)"),
        // NAT64 and 6to4 reach the IPv4 address they embed.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => non_public_v4(embedded(high, low)),
        [0x2002, high, low, ..] => non_public_v4(embedded(high, low)),
        [0x64, 0xff9b, 1, ..] => Some("local NAT64"),
        [0x100, 0, 0, 0, ..] => Some("discard"),
        [0x2001, 0xdb8, ..] => Some("documentation"),
        [0x2001, 0..=0x1ff, ..] => Some("IETF protocol"),
        [0x3fff, 0..=0x0fff, ..] => Some("documentation"),
        [first, ..] if first & 0xfe00 == 0xfc00 => Some("private (unique local)"),
        [first, ..] if first & 0xffc0 == 0xfe80 => Some("link-local"),
        [first, ..] if first & 0xffc0 == 0xfec0 => Some("site-local (deprecated)"),
        [first, ..] if first & 0xff00 == 0xff00 => Some("multicast"),
        [first, ..] if first & 0xe000 != 0x2000 => Some("reserved"),
        _ => None,
    }
}

/// What a worker fetches, as its failures name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// The app's module (checked against the app's on-chain checksum).
    App,
    /// The dataset (checked against its on-chain checksum).
    Dataset(alloy_primitives::Address),
    /// Input file `n` (from 1) of the deal's `iexec_input_files`: nothing checks it.
    InputFile(usize),
}

impl std::fmt::Display for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::App => write!(f, "the app"),
            Self::Dataset(address) => write!(f, "dataset {address}"),
            Self::InputFile(n) => write!(f, "input file {n}"),
        }
    }
}

/// Why a URL was not fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Not a URL.
    #[error("not a URL: {0}")]
    BadUrl(String),
    /// A `file://` URL, on a worker not in local development.
    #[error(
        "file:// URLs are read from the worker's own disk, which only a worker in local development allows"
    )]
    FileUrlRefused,
    /// A scheme other than http and https (and file, in local development).
    #[error("{0}: URLs are not fetched, only http:// and https://")]
    Scheme(String),
    /// The host is, or resolves to, an address the policy refuses; nothing was sent to it.
    #[error("{}", refused(host, address, kind))]
    AddressRefused {
        /// The host, as the URL names it.
        host: String,
        /// Its address.
        address: IpAddr,
        /// What kind of address it is.
        kind: &'static str,
    },
    /// The host's name does not resolve.
    #[error("{host} does not resolve: {reason}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
    /// More redirects than the policy follows.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// More bytes than the budget holds.
    #[error("over the {0}-byte limit")]
    TooLarge(u64),
    /// Not done before the budget's deadline.
    #[error("not fetched within the {} s allowed", .0.as_secs_f64())]
    Timeout(Duration),
    /// The server's answer is not a success.
    #[error("the server answered {0}")]
    Status(u16),
    /// The connection or the transfer failed.
    #[error("{0}")]
    Transfer(String),
    /// A `file://` URL that is not a regular file or cannot be read.
    #[error("{0}")]
    File(String),
    /// The HTTP client cannot be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

fn refused(host: &str, address: &IpAddr, kind: &str) -> String {
    let what = if host == address.to_string() {
        format!("{address} is")
    } else {
        format!("{host} resolves to {address},")
    };
    format!("{what} a {kind} address, which this workerpool does not fetch from")
}

/// What a fetch, or a series of fetches, may still use: bytes and time.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    bytes: u64,
    deadline: tokio::time::Instant,
    timeout: Duration,
}

impl Budget {
    /// The bytes left.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// Fetches URLs under a [`FetchPolicy`].
#[derive(Debug, Clone)]
pub struct Fetcher {
    policy: Arc<FetchPolicy>,
    client: reqwest::Client,
}

impl Fetcher {
    /// A fetcher of `policy`, with its own HTTP client (no proxy: a proxy would resolve and
    /// connect where the policy cannot see).
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        let policy = Arc::new(policy);
        let redirects = policy.clone();
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(policy.connect_timeout)
            .dns_resolver(Resolver {
                policy: policy.clone(),
            })
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > redirects.max_redirects {
                    let error = FetchError::TooManyRedirects(redirects.max_redirects);
                    return attempt.error(error);
                }
                match redirects.check_url(attempt.url(), false) {
                    Ok(()) => attempt.follow(),
                    Err(error) => attempt.error(error),
                }
            }))
            .build()
            .map_err(|e| FetchError::Client(chain(&e)))?;
        Ok(Self { policy, client })
    }

    /// The policy.
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// A fresh budget: the policy's bytes and timeout, from now.
    pub fn budget(&self) -> Budget {
        Budget {
            bytes: self.policy.max_bytes,
            deadline: tokio::time::Instant::now() + self.policy.timeout,
            timeout: self.policy.timeout,
        }
    }

    /// Fetches `url`, taking its bytes and time from `budget`.
    pub async fn fetch(&self, url: &str, budget: &mut Budget) -> Result<Vec<u8>, FetchError> {
        let parsed = Url::parse(url).map_err(|e| FetchError::BadUrl(e.to_string()))?;
        self.policy.check_url(&parsed, true)?;
        let limit = budget.bytes;
        let fetching = async {
            if parsed.scheme() == "file" {
                read_file(&parsed, limit).await
            } else {
                self.get(parsed, limit).await
            }
        };
        let bytes = tokio::time::timeout_at(budget.deadline, fetching)
            .await
            .map_err(|_| FetchError::Timeout(budget.timeout))??;
        budget.bytes = budget.bytes.saturating_sub(bytes.len() as u64);
        Ok(bytes)
    }

    async fn get(&self, url: Url, limit: u64) -> Result<Vec<u8>, FetchError> {
        let mut response = self.client.get(url).send().await.map_err(transfer)?;
        if response.status().is_redirection() {
            // Left unfollowed by the client: a redirect to a scheme it does not follow
            // (`file://`, ...), which is named as such.
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|location| location.to_str().ok())
                .and_then(|location| response.url().join(location).ok());
            if let Some(location) = location {
                self.policy.check_url(&location, false)?;
            }
        }
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|length| length > limit)
        {
            return Err(FetchError::TooLarge(limit));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transfer)? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(FetchError::TooLarge(limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

async fn read_file(url: &Url, limit: u64) -> Result<Vec<u8>, FetchError> {
    let path = url
        .to_file_path()
        .map_err(|()| FetchError::BadUrl("not a local file path".into()))?;
    let metadata = tokio::fs::metadata(&path)
        .await
        .map_err(|e| FetchError::File(e.to_string()))?;
    if !metadata.is_file() {
        return Err(FetchError::File("not a regular file".into()));
    }
    if metadata.len() > limit {
        return Err(FetchError::TooLarge(limit));
    }
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| FetchError::File(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| FetchError::File(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(FetchError::TooLarge(limit));
    }
    Ok(bytes)
}

/// A failed request as a [`FetchError`]: the policy's own refusal (from the resolver or the
/// redirect policy) when it is one, else what failed.
fn transfer(error: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<FetchError>() {
            return refusal.clone();
        }
        source = cause.source();
    }
    FetchError::Transfer(chain(&error))
}

/// An error and its causes, without the URL reqwest puts first (the caller names it).
fn chain(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    if parts.is_empty() {
        parts.push(error.to_string());
    }
    parts.join(": ")
}

/// Resolves names with the system's resolver and keeps only the addresses the policy allows:
/// the HTTP client connects to what this returns, nothing else.
struct Resolver {
    policy: Arc<FetchPolicy>,
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| FetchError::Resolve {
                    host: host.clone(),
                    reason: e.to_string(),
                })?;
            let mut allowed: Vec<SocketAddr> = Vec::new();
            let mut refusal = None;
            for address in resolved {
                match policy.check(address.ip()) {
                    Ok(()) => allowed.push(address),
                    Err(kind) => {
                        refusal = Some(FetchError::AddressRefused {
                            host: host.clone(),
                            address: address.ip(),
                            kind,
                        });
                    }
                }
            }
            if allowed.is_empty() {
                let error = refusal.unwrap_or(FetchError::Resolve {
                    host,
                    reason: "no address".into(),
                });
                return Err(Box::new(error) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn classifies_addresses_that_are_not_public() {
        for (address, kind) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.31.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("0.0.0.0", "unspecified"),
            ("203.0.113.7", "documentation"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("2002:7f00:1::", "loopback"),
            ("fc00::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
        ] {
            assert_eq!(non_public(ip(address)), Some(kind), "{address}");
        }
        for address in ["1.1.1.1", "8.8.8.8", "172.32.0.1", "2606:4700::1111"] {
            assert_eq!(non_public(ip(address)), None, "{address}");
        }
    }

    #[test]
    fn allowed_networks_admit_only_their_addresses() {
        let policy = FetchPolicy {
            allowed_networks: vec!["10.1.0.0/16".parse().unwrap(), "fd00::1".parse().unwrap()],
            ..FetchPolicy::default()
        };
        assert_eq!(policy.check(ip("10.1.200.3")), Ok(()));
        assert_eq!(policy.check(ip("::ffff:10.1.0.9")), Ok(()));
        assert_eq!(policy.check(ip("fd00::1")), Ok(()));
        assert_eq!(policy.check(ip("10.2.0.1")), Err("private"));
        assert_eq!(policy.check(ip("fd00::2")), Err("private (unique local)"));
        assert_eq!(policy.check(ip("127.0.0.1")), Err("loopback"));
        assert_eq!(policy.check(ip("8.8.8.8")), Ok(()));
        assert!("10.0.0.0/33".parse::<IpNetwork>().is_err());
        assert!("ten".parse::<IpNetwork>().is_err());
        assert_eq!(
            "0.0.0.0/0".parse::<IpNetwork>().unwrap().to_string(),
            "0.0.0.0/0"
        );
    }
}
