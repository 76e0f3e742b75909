//! Amounts of RLC, counted in nRLC as on chain.

use std::fmt;

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};

/// An amount in nRLC, the unit of every price, stake and balance of the protocol
/// (1 RLC = 10⁹ nRLC). Serialized in JSON as a `0x` hex string, as `uint256` values are;
/// decimal strings and JSON numbers are accepted on input.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Nrlc(U256);

impl Nrlc {
    /// Nothing.
    pub const ZERO: Self = Self(U256::ZERO);
    /// nRLC in one RLC.
    pub const PER_RLC: u64 = 1_000_000_000;

    /// An amount of `nrlc` nRLC.
    pub const fn new(nrlc: U256) -> Self {
        Self(nrlc)
    }

    /// An amount of whole RLC.
    pub fn from_rlc(rlc: u64) -> Self {
        Self(U256::from(rlc) * U256::from(Self::PER_RLC))
    }

    /// The amount in nRLC.
    pub const fn get(self) -> U256 {
        self.0
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// `self - other`, or `None` if `other` is larger.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }

    /// The amount for `count` items at this unit price (`price × volume`), or `None` on overflow.
    pub fn checked_mul(self, count: U256) -> Option<Self> {
        self.0.checked_mul(count).map(Self)
    }
}

impl From<u64> for Nrlc {
    fn from(nrlc: u64) -> Self {
        Self(U256::from(nrlc))
    }
}

impl From<U256> for Nrlc {
    fn from(nrlc: U256) -> Self {
        Self(nrlc)
    }
}

impl From<Nrlc> for U256 {
    fn from(amount: Nrlc) -> Self {
        amount.0
    }
}

/// The decimal count of nRLC followed by the unit: `1500000000 nRLC`.
impl fmt::Display for Nrlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} nRLC", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rlc_is_a_billion_nrlc() {
        assert_eq!(Nrlc::from_rlc(3), Nrlc::from(3_000_000_000));
        assert_eq!(Nrlc::from_rlc(3).to_string(), "3000000000 nRLC");
    }

    #[test]
    fn arithmetic_reports_overflow_and_underflow() {
        assert_eq!(Nrlc::from(1).checked_sub(Nrlc::from(2)), None);
        assert_eq!(Nrlc::new(U256::MAX).checked_add(Nrlc::from(1)), None);
        assert_eq!(
            Nrlc::from(7).checked_mul(U256::from(3)),
            Some(Nrlc::from(21))
        );
    }

    #[test]
    fn serializes_as_hex_and_reads_decimal_too() {
        assert_eq!(serde_json::to_string(&Nrlc::from(255)).unwrap(), "\"0xff\"");
        assert_eq!(
            serde_json::from_str::<Nrlc>("\"0xff\"").unwrap(),
            Nrlc::from(255)
        );
        assert_eq!(
            serde_json::from_str::<Nrlc>("\"255\"").unwrap(),
            Nrlc::from(255)
        );
        assert_eq!(
            serde_json::from_str::<Nrlc>("255").unwrap(),
            Nrlc::from(255)
        );
    }
}
