//! Agora's protocol primitives: the values every other crate of the network exchanges, and the
//! hashes and signatures of the PoCo protocol (iExec PoCo v5) that the contracts check.
//!
//! - ids: [`DealId`], [`TaskId`], [`OrderHash`], derived exactly as the contracts derive them;
//! - amounts in nRLC ([`Nrlc`]) and the feature bitmask [`Tag`];
//! - the four orders ([`AppOrder`], [`DatasetOrder`], [`WorkerpoolOrder`], [`RequestOrder`]),
//!   their EIP-712 hashes under the `iExecODB` [`Domain`], and their signatures ([`Signed`]);
//! - the worker's commitments [`ResultHash`] and [`ResultSeal`], the scheduler's
//!   [`WorkerpoolAuthorization`] and the enclave's signature over a [`Contribution`];
//! - a worker's [`LoginChallenge`] signature and its [`ResultUpload`] signature;
//! - a task's result as files ([`archive`]): `computed.json`, the result digest it designates
//!   and the result archive read back (zip: no I/O, the bytes are in memory);
//! - the PoCo arithmetic of [`consensus`]: worker weights, the consensus condition, the reward
//!   split and the kitty share.
//!
//! Pure functions only: no I/O, no async, no clock.
//!
//! ```
//! use agora_primitives::{AppOrder, Domain, Order};
//! let domain = Domain::new(134, "0x3eca1B216A7DF1C7689aEb259fFB83ADFB894E7f".parse().unwrap());
//! let order = AppOrder::default();
//! println!("order hash {}", order.hash(&domain));
//! ```

mod newtype;

mod amount;
pub mod archive;
mod authorization;
pub mod consensus;
mod error;
mod ids;
mod login;
mod order;
mod result;
mod signature;
mod tag;
mod upload;

pub use amount::Nrlc;
pub use authorization::WorkerpoolAuthorization;
pub use error::{Error, Result};
pub use ids::{DealId, OrderHash, TaskId};
pub use login::LoginChallenge;
pub use order::{
    AppOrder, DatasetOrder, Domain, Order, OrderOperation, RequestOrder, Signed, WorkerpoolOrder,
};
pub use result::{Contribution, ResultDigest, ResultHash, ResultSeal};
pub use tag::{Tag, TeeFramework};
pub use upload::ResultUpload;

/// The primitive types the API is built on, re-exported so callers need not name the crate.
pub use alloy_primitives::{Address, B256, Bytes, U256};
