//! `agora order`: the EIP-712 hash and the signature of an order read from JSON, to check an
//! order against other tools.

use std::{collections::BTreeSet, fmt, io::Read, path::PathBuf};

use agora_primitives::{
    Address, AppOrder, B256, DatasetOrder, Domain, Order, OrderHash, RequestOrder, WorkerpoolOrder,
};
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, bail};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

/// Subcommands of `agora order`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Args {
    /// Print the order hash: the EIP-712 typed-data hash that is signed and that keys the
    /// order on chain.
    Hash(HashArgs),
    /// Sign the order with a private key and print it with its signature (`sign`).
    Sign(SignArgs),
    #[command(flatten)]
    Book(crate::book::Args),
}

/// The order and the domain it is hashed under, common to every subcommand.
#[derive(Debug, clap::Args)]
struct Input {
    /// The order as JSON (its fields, optionally with `sign`); `-` reads standard input.
    #[arg(value_name = "FILE|-")]
    file: PathBuf,
    /// The chain id of the domain.
    #[arg(long)]
    chain_id: u64,
    /// The PoCo proxy (hub) the order is meant for: the domain's verifying contract.
    #[arg(long, value_name = "0xADDRESS")]
    hub: String,
    /// The order kind; by default it is told from the fields.
    #[arg(long, value_enum)]
    kind: Option<Kind>,
}

/// Options of `agora order hash`.
#[derive(Debug, clap::Args)]
pub(crate) struct HashArgs {
    #[command(flatten)]
    input: Input,
    /// Print `{"kind","hash","structHash","domainSeparator"}` as JSON.
    #[arg(long)]
    json: bool,
}

/// Options of `agora order sign`.
#[derive(Debug, clap::Args)]
pub(crate) struct SignArgs {
    #[command(flatten)]
    input: Input,
    /// The signer's private key (0x and 64 hex digits). Prefer the environment variable: a
    /// command line is visible to other users of the machine.
    #[arg(
        long,
        env = "AGORA_PRIVATE_KEY",
        hide_env_values = true,
        value_name = "0xKEY"
    )]
    key: Option<PrivateKey>,
    /// Or a wallet file (keystore v3; the password from AGORA_WALLET_PASSWORD or asked for).
    #[arg(long, env = "AGORA_WALLET", conflicts_with = "key")]
    wallet: Option<PathBuf>,
}

/// A private key as typed by the user; never printed.
#[derive(Clone)]
struct PrivateKey(String);

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for PrivateKey {
    type Err = std::convert::Infallible;

    fn from_str(key: &str) -> Result<Self, Self::Err> {
        Ok(Self(key.to_owned()))
    }
}

/// The four order kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    App,
    Dataset,
    Workerpool,
    Request,
}

impl Kind {
    const ALL: [Self; 4] = [Self::App, Self::Dataset, Self::Workerpool, Self::Request];

    /// The `--kind` value, also the `kind` of the JSON output.
    fn id(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Dataset => "dataset",
            Self::Workerpool => "workerpool",
            Self::Request => "request",
        }
    }

    /// The EIP-712 type string, `AppOrder(address app,…)`.
    fn type_string(self) -> std::borrow::Cow<'static, str> {
        match self {
            Self::App => AppOrder::type_string(),
            Self::Dataset => DatasetOrder::type_string(),
            Self::Workerpool => WorkerpoolOrder::type_string(),
            Self::Request => RequestOrder::type_string(),
        }
    }

    /// The protocol's name of the kind, `AppOrder`.
    fn name(self) -> &'static str {
        match self {
            Self::App => "AppOrder",
            Self::Dataset => "DatasetOrder",
            Self::Workerpool => "WorkerpoolOrder",
            Self::Request => "RequestOrder",
        }
    }

    /// The fields in declaration order. The JSON keys are the EIP-712 field names, so they are
    /// read from the type string.
    fn fields(self) -> Vec<String> {
        let type_string = self.type_string();
        let members = type_string
            .split_once('(')
            .map_or("", |(_, rest)| rest.trim_end_matches(')'));
        members
            .split(',')
            .filter_map(|member| member.split_whitespace().last())
            .map(str::to_owned)
            .collect()
    }

    /// The kind whose fields `keys` are: the only kind that has them all.
    fn detect(keys: &BTreeSet<&str>) -> anyhow::Result<Self> {
        if keys.is_empty() {
            bail!("the order has no fields");
        }
        let foreign = |kind: Self| -> Vec<&str> {
            let fields = kind.fields();
            keys.iter()
                .filter(|key| !fields.iter().any(|field| field == *key))
                .copied()
                .collect()
        };
        let fitting: Vec<Self> = Self::ALL
            .into_iter()
            .filter(|&kind| foreign(kind).is_empty())
            .collect();
        match fitting[..] {
            [kind] => Ok(kind),
            [] => {
                let unknown: Vec<&str> = keys
                    .iter()
                    .filter(|key| Self::ALL.iter().all(|&kind| foreign(kind).contains(key)))
                    .copied()
                    .collect();
                if !unknown.is_empty() {
                    bail!("unknown order fields: {}", unknown.join(", "));
                }
                let closest = Self::ALL
                    .into_iter()
                    .min_by_key(|&kind| foreign(kind).len())
                    .unwrap_or(Self::App);
                bail!(
                    "the fields mix order kinds: {} has no {}",
                    closest.name(),
                    foreign(closest).join(", ")
                )
            }
            _ => bail!(
                "cannot tell the order kind: the fields {} fit {}; pass --kind",
                keys.iter().copied().collect::<Vec<_>>().join(", "),
                fitting
                    .iter()
                    .map(|kind| kind.name())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        }
    }

    /// Checks that `keys` are exactly this kind's fields.
    fn check(self, keys: &BTreeSet<&str>) -> anyhow::Result<()> {
        let fields = self.fields();
        let foreign: Vec<&str> = keys
            .iter()
            .filter(|key| !fields.iter().any(|field| field == *key))
            .copied()
            .collect();
        if !foreign.is_empty() {
            bail!("not {} fields: {}", self.name(), foreign.join(", "));
        }
        let missing: Vec<&str> = fields
            .iter()
            .map(String::as_str)
            .filter(|field| !keys.contains(field))
            .collect();
        if !missing.is_empty() {
            bail!("missing {} fields: {}", self.name(), missing.join(", "));
        }
        Ok(())
    }
}

/// An order read from JSON: its kind and its fields, `sign` removed.
struct Parsed {
    /// Where it was read from, for errors.
    source: String,
    kind: Kind,
    fields: Map<String, Value>,
    domain: Domain,
}

impl Input {
    /// Reads the order and the domain, and tells the order's kind.
    fn read(&self) -> anyhow::Result<Parsed> {
        let hub: Address = self
            .hub
            .parse()
            .with_context(|| format!("--hub {:?} is not an address", self.hub))?;
        let domain = Domain::new(self.chain_id, hub);
        let stdin = self.file.as_os_str() == "-";
        let source = if stdin {
            String::from("standard input")
        } else {
            self.file.display().to_string()
        };
        let text = if stdin {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map(|_| text)
                .context("cannot read standard input")?
        } else {
            std::fs::read_to_string(&self.file).with_context(|| format!("cannot read {source}"))?
        };
        let value: Value =
            serde_json::from_str(&text).with_context(|| format!("{source} is not JSON"))?;
        let Value::Object(mut fields) = value else {
            bail!("{source}: expected a JSON object with the order's fields");
        };
        // A signed order is hashed as its order; `sign` replaces any old signature.
        fields.remove("sign");
        let keys: BTreeSet<&str> = fields.keys().map(String::as_str).collect();
        let kind = match self.kind {
            Some(kind) => kind,
            None => Kind::detect(&keys).with_context(|| source.clone())?,
        };
        kind.check(&keys).with_context(|| source.clone())?;
        Ok(Parsed {
            source,
            kind,
            fields,
            domain,
        })
    }
}

impl Parsed {
    /// The fields as an order of kind `O`; a field of the wrong type is named.
    fn order<O: DeserializeOwned>(&self) -> anyhow::Result<O> {
        serde_path_to_error::deserialize(Value::Object(self.fields.clone())).map_err(|error| {
            anyhow::anyhow!(
                "{}: {} field {}: {}",
                self.source,
                self.kind.name(),
                error.path(),
                error.inner()
            )
        })
    }

    /// The hashes of the order.
    fn hashes(&self) -> anyhow::Result<Hashes> {
        fn of<O: Order>(order: &O, kind: Kind, domain: &Domain) -> Hashes {
            Hashes {
                kind: kind.id(),
                hash: order.hash(domain),
                struct_hash: order.struct_hash(),
                domain_separator: domain.separator(),
            }
        }
        Ok(match self.kind {
            Kind::App => of(&self.order::<AppOrder>()?, self.kind, &self.domain),
            Kind::Dataset => of(&self.order::<DatasetOrder>()?, self.kind, &self.domain),
            Kind::Workerpool => of(&self.order::<WorkerpoolOrder>()?, self.kind, &self.domain),
            Kind::Request => of(&self.order::<RequestOrder>()?, self.kind, &self.domain),
        })
    }

    /// The order signed by `signer`, as pretty JSON: its fields in declaration order, then
    /// `sign`.
    fn signed(&self, signer: &PrivateKeySigner) -> anyhow::Result<String> {
        fn sign<O: Order + Serialize>(
            order: O,
            domain: &Domain,
            signer: &PrivateKeySigner,
        ) -> anyhow::Result<String> {
            Ok(serde_json::to_string_pretty(&order.sign(domain, signer)?)?)
        }
        match self.kind {
            Kind::App => sign(self.order::<AppOrder>()?, &self.domain, signer),
            Kind::Dataset => sign(self.order::<DatasetOrder>()?, &self.domain, signer),
            Kind::Workerpool => sign(self.order::<WorkerpoolOrder>()?, &self.domain, signer),
            Kind::Request => sign(self.order::<RequestOrder>()?, &self.domain, signer),
        }
    }
}

/// What `agora order hash --json` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Hashes {
    /// `app`, `dataset`, `workerpool` or `request`.
    kind: &'static str,
    /// The order hash, `keccak(0x1901 ‖ domainSeparator ‖ structHash)`.
    hash: OrderHash,
    /// `hashStruct(order)`.
    struct_hash: B256,
    /// `hashStruct(domain)`.
    domain_separator: B256,
}

/// A signed order read from JSON text: its fields and `sign` (as `agora order sign` prints
/// it), or the market's `{"kind": …, "order": {…}}`. The kind is told from the fields.
pub(crate) fn parse_signed(
    text: &str,
    source: &str,
) -> anyhow::Result<agora_api::market::SignedOrder> {
    use agora_api::market::SignedOrder;
    let value: Value =
        serde_json::from_str(text).with_context(|| format!("{source} is not JSON"))?;
    if value.get("kind").is_some() && value.get("order").is_some() {
        return serde_path_to_error::deserialize(value)
            .map_err(|e| anyhow::anyhow!("{source}: field {}: {}", e.path(), e.inner()));
    }
    let Value::Object(mut fields) = value else {
        bail!("{source}: expected a JSON object with the order's fields and its sign");
    };
    let sign = match fields.remove("sign") {
        Some(Value::String(sign)) => sign
            .parse::<alloy_primitives::Bytes>()
            .with_context(|| format!("{source}: sign is not hex"))?,
        Some(_) => bail!("{source}: sign is not a hex string"),
        None => bail!("{source}: the order has no sign: sign it first (agora order sign)"),
    };
    let keys: BTreeSet<&str> = fields.keys().map(String::as_str).collect();
    let kind = Kind::detect(&keys).with_context(|| source.to_string())?;
    kind.check(&keys).with_context(|| source.to_string())?;
    let parsed = Parsed {
        source: source.to_string(),
        kind,
        fields,
        domain: Domain::new(0, Address::ZERO),
    };
    Ok(match kind {
        Kind::App => SignedOrder::App(agora_primitives::Signed {
            order: parsed.order()?,
            sign: sign.clone(),
        }),
        Kind::Dataset => SignedOrder::Dataset(agora_primitives::Signed {
            order: parsed.order()?,
            sign: sign.clone(),
        }),
        Kind::Workerpool => SignedOrder::Workerpool(agora_primitives::Signed {
            order: parsed.order()?,
            sign: sign.clone(),
        }),
        Kind::Request => SignedOrder::Request(agora_primitives::Signed {
            order: parsed.order()?,
            sign: sign.clone(),
        }),
    })
}

/// The signer of `agora order sign`, from `--key` or `AGORA_PRIVATE_KEY`.
fn signer(key: Option<&PrivateKey>) -> anyhow::Result<PrivateKeySigner> {
    let key = key
        .map(|key| key.0.trim())
        .filter(|key| !key.is_empty())
        .context("no signing key: pass --key 0xKEY, set AGORA_PRIVATE_KEY, or give --wallet")?;
    // The parse error is not chained: it could quote the key.
    key.parse().map_err(|_| {
        anyhow::anyhow!(
            "the signing key is not a private key: expected 0x and 64 hex digits of a valid \
             secp256k1 key"
        )
    })
}

/// Writes the command's result to stdout.
fn print(out: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{out}")
        .and_then(|()| stdout.flush())
        .context("cannot write to standard output")
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    match args {
        Args::Hash(args) => {
            let hashes = args.input.read()?.hashes()?;
            if args.json {
                print(&serde_json::to_string(&hashes)?)
            } else {
                print(&hashes.hash.to_string())
            }
        }
        Args::Sign(args) => {
            // The key first: a missing key fails before standard input is read.
            let signer = match (&args.key, &args.wallet) {
                (None, Some(wallet)) => crate::wallet::open(wallet)?,
                _ => signer(args.key.as_ref())?,
            };
            let signed = args.input.read()?.signed(&signer)?;
            print(&signed)
        }
        Args::Book(args) => crate::runtime().and_then(|r| r.block_on(crate::book::run(args))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    fn keys<'a>(keys: &[&'a str]) -> BTreeSet<&'a str> {
        keys.iter().copied().collect()
    }

    #[test]
    fn fields_are_the_json_keys() {
        fn json_keys<O: Default + Serialize>() -> BTreeSet<String> {
            let value = serde_json::to_value(O::default()).unwrap();
            value.as_object().unwrap().keys().cloned().collect()
        }
        let fields = |kind: Kind| kind.fields().into_iter().collect::<BTreeSet<_>>();
        assert_eq!(fields(Kind::App), json_keys::<AppOrder>());
        assert_eq!(fields(Kind::Dataset), json_keys::<DatasetOrder>());
        assert_eq!(fields(Kind::Workerpool), json_keys::<WorkerpoolOrder>());
        assert_eq!(fields(Kind::Request), json_keys::<RequestOrder>());
        assert_eq!(Kind::Request.fields()[0], "app");
        assert_eq!(Kind::Request.fields().len(), 15);
    }

    #[test]
    fn detects_each_kind_from_its_full_field_set() {
        for kind in Kind::ALL {
            let fields = kind.fields();
            let found = Kind::detect(&fields.iter().map(String::as_str).collect()).unwrap();
            assert_eq!(found, kind);
        }
    }

    #[test]
    fn detects_a_kind_from_one_distinctive_field() {
        assert_eq!(
            Kind::detect(&keys(&["app", "appprice"])).unwrap(),
            Kind::App
        );
        assert_eq!(Kind::detect(&keys(&["requester"])).unwrap(), Kind::Request);
    }

    #[test]
    fn refuses_ambiguous_mixed_and_unknown_fields() {
        let error = |k: &[&str]| Kind::detect(&keys(k)).unwrap_err().to_string();
        assert_eq!(
            error(&["app", "volume"]),
            "cannot tell the order kind: the fields app, volume fit AppOrder and RequestOrder; \
             pass --kind"
        );
        assert_eq!(
            error(&["app", "appprice", "datasetprice"]),
            "the fields mix order kinds: AppOrder has no datasetprice"
        );
        assert_eq!(
            error(&["app", "colour", "size"]),
            "unknown order fields: colour, size"
        );
        assert_eq!(error(&[]), "the order has no fields");
    }

    #[test]
    fn checks_foreign_and_missing_fields_of_a_given_kind() {
        let error = Kind::App
            .check(&keys(&["app", "datasetprice"]))
            .unwrap_err();
        assert_eq!(error.to_string(), "not AppOrder fields: datasetprice");
        let error = Kind::App.check(&keys(&["app", "appprice"])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "missing AppOrder fields: volume, tag, datasetrestrict, workerpoolrestrict, \
             requesterrestrict, salt"
        );
    }

    #[test]
    fn the_key_is_redacted_in_debug_output() {
        let key: PrivateKey = "0x1234".parse().unwrap();
        assert_eq!(format!("{key:?}"), "<redacted>");
    }
}
