//! An app's checksum: the sha256 of its module, as its on-chain `m_appChecksum`.

use std::{fmt, str::FromStr};

use sha2::{Digest, Sha256};

/// The sha256 of a module's bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Checksum(pub [u8; 32]);

impl Checksum {
    /// The checksum of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A checksum that is not `0x` and 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a checksum is 0x and 64 hex digits, got {0:?}")]
pub struct BadChecksum(pub String);

impl FromStr for Checksum {
    type Err = BadChecksum;

    fn from_str(text: &str) -> Result<Self, BadChecksum> {
        let digits = text.strip_prefix("0x").unwrap_or(text);
        let mut bytes = [0; 32];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| BadChecksum(text.to_string()))?;
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_the_sha256_in_hex_and_parses_back() {
        let checksum = Checksum::of(b"abc");
        let text = checksum.to_string();
        assert_eq!(
            text,
            "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(text.parse::<Checksum>(), Ok(checksum));
        assert!("0x12".parse::<Checksum>().is_err());
    }
}
