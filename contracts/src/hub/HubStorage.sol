// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IexecLibCore} from "./IexecLibCore.sol";

/// The hub's state: one ERC-7201 namespaced struct. The hub and every module it delegatecalls
/// read and write their state only through `HubStorage.get()`, so they share this one layout
/// and no module can collide with another's variables or with a proxy's slots.
///
/// Namespace id: `agora.hub.storage.Hub`. Slot (EIP-7201):
///   keccak256(abi.encode(uint256(keccak256("agora.hub.storage.Hub")) - 1)) & ~bytes32(uint256(0xff))
///   = 0xbb7fea4709ed8109cbba89b5d84eea844d4ae9211bf0709697511cde5e9cdb00
///
/// Append new fields at the end of `Layout` only; never reorder, retype or remove one.
/// An account's locked SRLC and its score as a worker (spec §5.1), in one slot.
struct Frozen {
    uint192 amount;
    uint64 score;
}

/// A deal as stored: iExec's `Deal` (spec §3.4) packed into six slots for every deal plus
/// optional slots that stay zero (and cost nothing to "write") for deals without a dataset, a
/// callback, a sponsor, a tag or params. `viewDeal` unpacks it into iExec's struct.
/// Prices and stakes are `uint96` (matchOrders refuses larger ones: 2^96 nRLC is 900 times the
/// whole RLC supply), trust `uint64`, task indices `uint56`, times `uint40`.
struct DealRecord {
    // slot 0: read by finalize
    address app;
    uint96 appPrice;
    // slot 1: read by finalize and claim
    address appOwner;
    uint96 workerpoolPrice;
    // slot 2: read by initialize (the event), contribute, finalize, claim
    address workerpool;
    uint96 workerStake;
    // slot 3: read by contribute and the scheduler-only calls
    address workerpoolOwner;
    uint64 trust;
    /// The tag's TEE bit, so that contribute does not read the whole tag.
    bool tee;
    // slot 4: read by initialize
    address requester;
    uint56 botFirst;
    uint40 startTime;
    // slot 5: read by initialize and finalize
    address beneficiary;
    uint56 botSize;
    uint8 schedulerRewardRatio;
    uint32 category;
    // slot 6, 7: zero without a dataset
    address dataset;
    uint96 datasetPrice;
    address datasetOwner;
    // slot 8: zero without a callback
    address callback;
    // slot 9: zero when the requester pays (matchOrders); the sponsor otherwise
    address sponsor;
    // slot 10, 11
    bytes32 tag;
    string params;
}

/// A contribution as stored: iExec's `Contribution` in three slots.
struct ContributionRecord {
    IexecLibCore.ContributionStatusEnum status;
    /// floor(log2(the worker's weight)) when it contributed (spec §5.1).
    uint8 weight;
    address enclaveChallenge;
    bytes32 resultHash;
    bytes32 resultSeal;
}

/// A task as stored: iExec's `Task` and `Consensus` with the status, deadlines and counters
/// in one slot.
struct TaskRecord {
    // slot 0
    IexecLibCore.TaskStatusEnum status;
    uint40 timeref;
    uint40 contributionDeadline;
    uint40 revealDeadline;
    uint40 finalDeadline;
    uint24 contributorCount;
    uint24 revealCounter;
    uint24 winnerCounter;
    // slot 1, 2
    bytes32 dealid;
    uint256 idx;
    /// Three values in turn, so that each step updates this slot instead of filling a fresh
    /// one: before consensus (`revealDeadline == 0`), iExec's `consensus.total` (1 plus the sum
    /// of the groups; initialize writes the 1); from consensus to the first reveal, the
    /// consensus value; from the first reveal on, the result digest (the consensus value is then
    /// `keccak(taskid ‖ digest)`). reopen recomputes the total from the contributions.
    bytes32 consensusOrDigest;
    bytes results;
    bytes resultsCallback;
    mapping(uint256 index => address) contributors;
    mapping(address worker => ContributionRecord) contributions;
    /// iExec's `consensus.group`, except that the vote that reaches consensus is not added to
    /// its group (nothing reads it afterwards: reopen zeroes that group).
    mapping(bytes32 resultHash => uint256) groups;
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
        /// Locked SRLC per account (deal payments and stakes; a claim on `balances[hub]`) and,
        /// in the same slot, the account's score as a worker: finalize updates both for each
        /// worker, in one write.
        mapping(address account => Frozen) frozens;
        /// ERC-20 allowances on SRLC.
        mapping(address owner => mapping(address spender => uint256)) allowances;
        // --- Orders (spec §2) ---
        /// Volume consumed per order hash; a closed order has its whole volume consumed.
        mapping(bytes32 orderHash => uint256) consumed;
        /// The owner who presigned an order (through `manage*Order`), per order hash.
        mapping(bytes32 orderHash => address) presigned;
        // --- Categories (spec §6.1) ---
        /// The categories, id = index.
        IexecLibCore.Category[] categories;
        // --- Configuration ---
        /// Who may create categories and transfer this role (iExec's hub owner).
        address owner;
        // --- Deals, tasks, scores (spec §3–§5) ---
        mapping(bytes32 dealid => DealRecord) deals;
        mapping(bytes32 taskid => TaskRecord) tasks;
        // --- Configuration ---
        /// Gas given to a result callback (spec §4.10).
        uint256 callbackGas;
        /// Who authorizes TEE contributions instead of the scheduler (zero: the scheduler).
        address teeBroker;
    }

    /// The hub's state.
    function get() internal pure returns (Layout storage $) {
        assembly ("memory-safe") {
            $.slot := SLOT
        }
    }
}
