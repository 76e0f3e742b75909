//! The tag: a `bytes32` bitmask of features an order requires or offers (spec §2.7).

use std::ops::BitOr;

use alloy_primitives::B256;

use crate::newtype::b256_newtype;

b256_newtype!(
    /// A `bytes32` bitmask of features; bit *i* of the big-endian value is feature *i*. In app,
    /// dataset and request orders it is a requirement, in a workerpool order what the pool
    /// offers.
    Tag
);

/// A TEE framework, named by the low nibble of a tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TeeFramework {
    /// Intel SGX with Scone (`0x…03`); being retired.
    Scone,
    /// Intel SGX with Gramine (`0x…05`); being retired.
    Gramine,
    /// Intel TDX (`0x…09`).
    Tdx,
}

/// A tag with only bit `bit` set (`bit` < 256).
const fn bit(bit: usize) -> Tag {
    let mut bytes = [0u8; 32];
    bytes[31 - bit / 8] = 1 << (bit % 8);
    Tag(B256::new(bytes))
}

impl Tag {
    /// No feature.
    pub const NONE: Self = Self(B256::ZERO);
    /// Bit 0: the task runs in a trusted execution environment.
    pub const TEE: Self = bit(0);
    /// Bit 1: Scone framework (with [`Tag::TEE`]).
    pub const SCONE: Self = bit(1);
    /// Bit 2: Gramine framework (with [`Tag::TEE`]).
    pub const GRAMINE: Self = bit(2);
    /// Bit 3: Intel TDX (with [`Tag::TEE`]).
    pub const TDX: Self = bit(3);
    /// Bit 8: a GPU.
    pub const GPU: Self = bit(8);

    /// Bits 1 to 3, the TEE framework bits.
    const FRAMEWORKS: B256 = bit(1).0.bit_or(bit(2).0).bit_or(bit(3).0);

    /// The tag whose bits are the number written in `digits`: 1 to 64 hex digits, no `0x`
    /// (so `1` is the TEE bit, `101` TEE and GPU); `None` otherwise.
    pub fn from_hex_digits(digits: &str) -> Option<Self> {
        if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        let value = alloy_primitives::U256::from_str_radix(digits, 16).ok()?;
        Some(Self(B256::from(value)))
    }

    /// Whether every bit of `other` is set in `self` (a pool offering `self` serves a
    /// requirement `other`).
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the TEE bit is set.
    pub fn is_tee(self) -> bool {
        self.contains(Self::TEE)
    }

    /// The TEE framework, if the low nibble names exactly one: TEE plus one framework bit.
    pub fn tee_framework(self) -> Option<TeeFramework> {
        match self.0[31] & 0x0f {
            0b0011 => Some(TeeFramework::Scone),
            0b0101 => Some(TeeFramework::Gramine),
            0b1001 => Some(TeeFramework::Tdx),
            _ => None,
        }
    }

    /// The tag with its TEE framework bits (1 to 3) cleared and the TEE bit kept: how the
    /// contract reads a dataset order's tag when matching (`ignoreTeeFramework`).
    pub fn without_tee_framework(self) -> Self {
        Self(self.0 & !Self::FRAMEWORKS)
    }
}

impl BitOr for Tag {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_reads_from_its_bits_in_hex() {
        assert_eq!(Tag::from_hex_digits("1"), Some(Tag::TEE));
        assert_eq!(Tag::from_hex_digits("101"), Some(Tag::TEE | Tag::GPU));
        assert_eq!(Tag::from_hex_digits(&"0".repeat(64)), Some(Tag::NONE));
        for bad in ["", "0x1", "g", &"1".repeat(65), "-1"] {
            assert_eq!(Tag::from_hex_digits(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn known_bits_have_the_spec_values() {
        assert_eq!(Tag::TEE.as_b256(), &B256::with_last_byte(0x01));
        assert_eq!(
            (Tag::TEE | Tag::SCONE).as_b256(),
            &B256::with_last_byte(0x03)
        );
        assert_eq!(
            (Tag::TEE | Tag::GRAMINE).as_b256(),
            &B256::with_last_byte(0x05)
        );
        assert_eq!((Tag::TEE | Tag::TDX).as_b256(), &B256::with_last_byte(0x09));
        assert_eq!(Tag::GPU.as_b256()[30], 0x01);
    }

    #[test]
    fn framework_needs_the_tee_bit_and_exactly_one_framework() {
        assert_eq!(
            (Tag::TEE | Tag::TDX).tee_framework(),
            Some(TeeFramework::Tdx)
        );
        assert_eq!(
            (Tag::TEE | Tag::SCONE | Tag::GPU).tee_framework(),
            Some(TeeFramework::Scone)
        );
        assert_eq!(Tag::TDX.tee_framework(), None);
        assert_eq!((Tag::TEE | Tag::SCONE | Tag::TDX).tee_framework(), None);
        assert_eq!(Tag::TEE.tee_framework(), None);
    }

    #[test]
    fn ignoring_the_framework_keeps_tee_and_other_bits() {
        let tag = Tag::TEE | Tag::SCONE | Tag::GPU;
        assert_eq!(tag.without_tee_framework(), Tag::TEE | Tag::GPU);
    }

    #[test]
    fn containment_is_bitwise() {
        let offer = Tag::TEE | Tag::TDX | Tag::GPU;
        assert!(offer.contains(Tag::TEE | Tag::TDX));
        assert!(!Tag::TEE.contains(Tag::GPU));
        assert!(Tag::TEE.is_tee() && !Tag::GPU.is_tee());
    }

    #[test]
    fn serializes_as_a_full_hex_word() {
        let json = serde_json::to_string(&Tag::TEE).unwrap();
        assert_eq!(json, format!("\"0x{}01\"", "0".repeat(62)));
        assert_eq!(serde_json::from_str::<Tag>(&json).unwrap(), Tag::TEE);
    }
}
