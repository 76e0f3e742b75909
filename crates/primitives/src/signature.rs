//! Signing and recovery as the contracts check them: EIP-712 typed-data hashes are signed raw,
//! authorization and enclave hashes are signed with the EIP-191 personal-sign prefix.

use alloy_primitives::{Address, B256, Bytes, Signature};
use alloy_signer::SignerSync;

use crate::{Error, Result};

/// Signs `hash` as it is (no prefix): the 65-byte `r‖s‖v` signature the contracts accept for
/// EIP-712 typed-data hashes.
pub(crate) fn sign_raw(signer: &impl SignerSync, hash: B256) -> Result<Bytes> {
    let signature = signer.sign_hash_sync(&hash).map_err(Error::Signing)?;
    Ok(Bytes::copy_from_slice(&signature.as_bytes()))
}

/// Signs `ethSigned(hash)`, the EIP-191 personal-sign of a 32-byte hash.
pub(crate) fn sign_personal(signer: &impl SignerSync, hash: B256) -> Result<Bytes> {
    let signature = signer
        .sign_message_sync(hash.as_slice())
        .map_err(Error::Signing)?;
    Ok(Bytes::copy_from_slice(&signature.as_bytes()))
}

/// The address that signed `hash` as it is.
pub(crate) fn recover_raw(sign: &[u8], hash: B256) -> Result<Address> {
    parse(sign)?
        .recover_address_from_prehash(&hash)
        .map_err(Error::Unrecoverable)
}

/// The address that signed `ethSigned(hash)`.
pub(crate) fn recover_personal(sign: &[u8], hash: B256) -> Result<Address> {
    parse(sign)?
        .recover_address_from_msg(hash)
        .map_err(Error::Unrecoverable)
}

/// A 65-byte `r‖s‖v` or a 64-byte EIP-2098 compact signature, the two formats the contracts take.
fn parse(sign: &[u8]) -> Result<Signature> {
    match sign.len() {
        65 => Signature::from_raw(sign).map_err(Error::Unrecoverable),
        64 => Ok(Signature::from_erc2098(sign)),
        len => Err(Error::SignatureLength { len }),
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, b256, bytes};
    use alloy_signer_local::PrivateKeySigner;

    use super::*;

    #[test]
    fn personal_sign_matches_post_compute_vector() {
        // Spec §7.7 (tee-worker-post-compute-rust signer.rs tests).
        let enclave: PrivateKeySigner =
            "0xdd3b993ec21c71c1f6d63a5240850e0d4d8dd83ff70d29e49247958548c1d479"
                .parse()
                .unwrap();
        let message = b256!("5cd0e9c5180dd35e2b8285d0db4ded193a9b4be6fbfab90cbadccecab130acad");
        let sign = sign_personal(&enclave, message).unwrap();
        assert_eq!(
            sign,
            bytes!(
                "fcc6bce5eb04284c2eb1ed14405b943574343b1abda33628fbf94a374b18dd16541c6ebf63c6943d8643ff03c7aa17f1cb17b0a8d297d0fd95fc914bdd0e85f81b"
            )
        );
        let signer = address!("0x9605a0B32a4b9bbE41043459ef4d1507600C10B1");
        assert_eq!(enclave.address(), signer);
        assert_eq!(recover_personal(&sign, message).unwrap(), signer);
    }

    #[test]
    fn compact_signatures_recover_the_same_signer() {
        let signer = PrivateKeySigner::random();
        let hash = B256::repeat_byte(7);
        let sign = sign_raw(&signer, hash).unwrap();
        let compact = parse(&sign).unwrap().as_erc2098();
        assert_eq!(recover_raw(&compact, hash).unwrap(), signer.address());
    }

    #[test]
    fn rejects_signatures_of_other_lengths() {
        assert!(matches!(
            recover_raw(&[0; 32], B256::ZERO),
            Err(Error::SignatureLength { len: 32 })
        ));
    }

    #[test]
    fn rejects_a_bad_recovery_byte() {
        let mut sign = [1u8; 65];
        sign[64] = 5;
        assert!(matches!(
            recover_raw(&sign, B256::ZERO),
            Err(Error::Unrecoverable(_))
        ));
    }
}
