// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// The hub's state: one ERC-7201 namespaced struct. The hub and every module it delegatecalls
/// read and write their state only through `HubStorage.get()`, so they share this one layout
/// and no module can collide with another's variables or with a proxy's slots.
///
/// Namespace id: `agora.hub.storage.Hub`. Slot (EIP-7201):
///   keccak256(abi.encode(uint256(keccak256("agora.hub.storage.Hub")) - 1)) & ~bytes32(uint256(0xff))
///   = 0xbb7fea4709ed8109cbba89b5d84eea844d4ae9211bf0709697511cde5e9cdb00
///
/// Append new fields at the end of `Layout` only; never reorder, retype or remove one.
/// iExec's `IexecLibCore_v5.Category`.
struct Category {
    string name;
    string description;
    uint256 workClockTimeRef;
}

library HubStorage {
    /// keccak256(abi.encode(uint256(keccak256("agora.hub.storage.Hub")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 internal constant SLOT = 0xbb7fea4709ed8109cbba89b5d84eea844d4ae9211bf0709697511cde5e9cdb00;

    /// @custom:storage-location erc7201:agora.hub.storage.Hub
    struct Layout {
        // --- Accounts: the SRLC ledger (spec §1.3) ---
        /// The token deposited (RLC). Set once by the hub's constructor; the hub itself reads its
        /// immutable copy on hot paths, modules read this one.
        IERC20 token;
        /// Total SRLC: always equals the hub's token balance (minus tokens sent to it directly).
        uint256 totalSupply;
        /// Free SRLC balance per account. As in iExec, locked value sits in the hub's own entry
        /// (`balances[address(hub)]`), so the balances sum to `totalSupply`.
        mapping(address account => uint256) balances;
        /// Locked SRLC per account (deal payments and stakes); a claim on `balances[hub]`.
        mapping(address account => uint256) frozens;
        /// ERC-20 allowances on SRLC.
        mapping(address owner => mapping(address spender => uint256)) allowances;
        // --- Orders (spec §2) ---
        /// Volume consumed per order hash; a closed order has its whole volume consumed.
        mapping(bytes32 orderHash => uint256) consumed;
        /// The owner who presigned an order (through `manage*Order`), per order hash.
        mapping(bytes32 orderHash => address) presigned;
        // --- Categories (spec §6.1) ---
        /// The categories, id = index.
        Category[] categories;
        // --- Configuration ---
        /// Who may create categories and transfer this role (iExec's hub owner).
        address owner;
        // --- To come, appended here: deals, tasks, contributions, worker scores,
        // configuration. ---
    }

    /// The hub's state.
    function get() internal pure returns (Layout storage $) {
        assembly ("memory-safe") {
            $.slot := SLOT
        }
    }
}
