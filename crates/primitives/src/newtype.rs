//! The shape shared by every 32-byte value of the protocol (ids, hashes, commitments, tags).

/// Declares a `B256` newtype that prints, parses and serializes as a `0x`-prefixed hex string.
macro_rules! b256_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone,
            Copy,
            Default,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(alloy_primitives::B256);

        impl $name {
            /// Wraps raw bytes.
            pub const fn new(bytes: alloy_primitives::B256) -> Self {
                Self(bytes)
            }

            /// The raw bytes.
            pub const fn as_b256(&self) -> &alloy_primitives::B256 {
                &self.0
            }
        }

        impl From<alloy_primitives::B256> for $name {
            fn from(bytes: alloy_primitives::B256) -> Self {
                Self(bytes)
            }
        }

        impl From<$name> for alloy_primitives::B256 {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                self.0.as_slice()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                // Full hex; `{:#}` abbreviates to `0x1234…abcd` for logs.
                std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl std::str::FromStr for $name {
            type Err = alloy_primitives::hex::FromHexError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    };
}

pub(crate) use b256_newtype;
