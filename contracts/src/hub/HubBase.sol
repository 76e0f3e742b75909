// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Escrow} from "./Escrow.sol";
import {HubStorage} from "./HubStorage.sol";
import {IexecLibCore} from "./IexecLibCore.sol";
import {LibOrders} from "./LibOrders.sol";

/// What the hub and its modules share besides the storage and the ledger: the protocol's
/// constants (spec §6.2), the EIP-712 domain, the signature checks, categories and the owner
/// check. Everything here runs in the hub's context: in a module reached by `delegatecall`,
/// `address(this)` is the hub.
abstract contract HubBase is Escrow {
    uint256 internal constant CONTRIBUTION_DEADLINE_RATIO = 7;
    uint256 internal constant REVEAL_DEADLINE_RATIO = 2;
    uint256 internal constant FINAL_DEADLINE_RATIO = 10;
    uint256 internal constant WORKERPOOL_STAKE_RATIO = 30;
    uint256 internal constant KITTY_RATIO = 10;
    uint256 internal constant KITTY_MIN = 1e9;
    address internal constant KITTY_ADDRESS = 0x99c2268479b93fDe36232351229815DF80837e23;
    uint256 internal constant GROUPMEMBER_PURPOSE = 4;
    uint256 internal constant DEFAULT_CALLBACK_GAS = 200_000;
    /// The longest category time reference, so that every deadline fits in 40 bits.
    uint256 internal constant MAX_WORK_CLOCK_TIME_REF = type(uint32).max;

    string internal constant DOMAIN_NAME = "iExecODB";
    string internal constant DOMAIN_VERSION = "5.0.0";
    bytes32 private constant DOMAIN_NAME_HASH = keccak256(bytes(DOMAIN_NAME));
    bytes32 private constant DOMAIN_VERSION_HASH = keccak256(bytes(DOMAIN_VERSION));

    event CreateCategory(uint256 catid, string name, string description, uint256 workClockTimeRef);

    /// `caller` is not the hub's owner.
    error NotTheOwner(address caller);
    /// IexecLibCore.Category `catid` does not exist (iExec: `iExecV5-matchOrders-0x01`, or a panic in
    /// `viewCategory`).
    error UnknownCategory(uint256 catid);
    /// A category's time reference must be between 1 and 2^32 − 1 seconds.
    error InvalidWorkClockTimeRef(uint256 workClockTimeRef);

    modifier onlyOwner() {
        if (msg.sender != HubStorage.get().owner) revert NotTheOwner(msg.sender);
        _;
    }

    // ---- EIP-712 (spec §2.2) ----

    /// The separator of iExec's domain ("iExecODB", "5.0.0", this chain, the hub). Computed on
    /// every use (about a hundred gas): a module has no immutable of the hub's address, and the
    /// chain id can change under a fork.
    function _domainSeparator() internal view returns (bytes32 separator) {
        bytes32 typeHash = LibOrders.EIP712DOMAIN_TYPEHASH;
        bytes32 nameHash = DOMAIN_NAME_HASH;
        bytes32 versionHash = DOMAIN_VERSION_HASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            mstore(add(ptr, 0x20), nameHash)
            mstore(add(ptr, 0x40), versionHash)
            mstore(add(ptr, 0x60), chainid())
            mstore(add(ptr, 0x80), address())
            separator := keccak256(ptr, 0xa0)
        }
    }

    /// `keccak(0x1901 ‖ separator ‖ structHash)`.
    function _toTypedDataHash(bytes32 structHash) internal view returns (bytes32 digest) {
        bytes32 separator = _domainSeparator();
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), separator)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    // ---- Ids (spec §3.3) ----

    /// `keccak(requestHash ‖ consumed)`: the deal that starts at the request order's `consumed`
    /// tasks.
    function _dealId(bytes32 requestHash, uint256 consumed) internal pure returns (bytes32 id) {
        assembly ("memory-safe") {
            mstore(0x00, requestHash)
            mstore(0x20, consumed)
            id := keccak256(0x00, 0x40)
        }
    }

    // ---- Signatures ----

    /// Whether `signer` (the order's owner) approved the order `hash`: presigned it, or `sign`
    /// is its signature (EOA, 65 or 64 bytes, or ERC-1271 for a contract).
    function _checkOrderSignature(address signer, bytes32 hash, bytes calldata sign) internal view returns (bool) {
        // A zero signer would match every order nobody presigned.
        if (signer == address(0)) return false;
        return HubStorage.get().presigned[hash] == signer || _checkSignature(signer, hash, sign);
    }

    /// Whether `sign` is `signer`'s signature of `hash` (EOA 65 or 64 bytes, or ERC-1271).
    /// OpenZeppelin 5 no longer reads the 64-byte compact form (ERC-2098) that iExec accepts, so
    /// an EOA's 64-byte signature is recovered here.
    function _checkSignature(address signer, bytes32 hash, bytes calldata sign) internal view returns (bool) {
        if (signer == address(0)) return false;
        if (sign.length == 64 && signer.code.length == 0) {
            bytes32 r;
            bytes32 vs;
            assembly ("memory-safe") {
                r := calldataload(sign.offset)
                vs := calldataload(add(sign.offset, 0x20))
            }
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, r, vs);
            return err == ECDSA.RecoverError.NoError && recovered == signer;
        }
        return SignatureChecker.isValidSignatureNowCalldata(signer, hash, sign);
    }

    /// Whether `sign` is `signer`'s signature of the Ethereum signed message (EIP-191) of
    /// `keccak(message)`: how schedulers authorize workers and enclaves sign results.
    function _checkEthSignedMessage(address signer, bytes32 messageHash, bytes calldata sign)
        internal
        view
        returns (bool)
    {
        bytes32 digest;
        assembly ("memory-safe") {
            mstore(0x00, "\x19Ethereum Signed Message:\n32")
            mstore(0x1c, messageHash)
            digest := keccak256(0x00, 0x3c)
        }
        return _checkSignature(signer, digest, sign);
    }

    // ---- Categories (spec §6.1) ----

    function _createCategory(string memory name, string memory description, uint256 workClockTimeRef)
        internal
        returns (uint256 catid)
    {
        if (workClockTimeRef == 0 || workClockTimeRef > MAX_WORK_CLOCK_TIME_REF) {
            revert InvalidWorkClockTimeRef(workClockTimeRef);
        }
        IexecLibCore.Category[] storage categories = HubStorage.get().categories;
        catid = categories.length;
        categories.push(IexecLibCore.Category(name, description, workClockTimeRef));
        emit CreateCategory(catid, name, description, workClockTimeRef);
    }
}
