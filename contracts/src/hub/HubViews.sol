// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {HubBase} from "./HubBase.sol";
import {ContributionRecord, DealRecord, HubStorage, TaskRecord} from "./HubStorage.sol";
import {IexecLibCore} from "./IexecLibCore.sol";

/// The hub's views-and-administration module (iExec's IexecPocoAccessorsFacet,
/// IexecCategoryManagerFacet and IexecConfigurationFacet), reached through the hub's fallback by
/// `delegatecall`: categories, the owner, the callback gas and TEE broker, the deal, task,
/// contribution and score views, `resultFor` and the protocol constants. It is the fallback's
/// default: a selector no module serves ends here as `UnknownFunction`.
contract HubViews is HubBase {
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    /// `transferOwnership` to the zero address (use `renounceOwnership`).
    error InvalidOwner(address newOwner);
    /// `resultFor` a task that is not COMPLETED (iExec: `task-pending`).
    error TaskNotCompleted(bytes32 taskid, IexecLibCore.TaskStatusEnum status);
    /// The hub has no function with this selector.
    error UnknownFunction(bytes4 selector);
    /// A callback gas budget must leave room below the block gas limit; this one is `gas`.
    error InvalidCallbackGas(uint256 gas);

    fallback() external {
        revert UnknownFunction(msg.sig);
    }

    // ---- Categories (iExec's IexecCategoryManagerFacet) ----

    /// Creates a category (owner only); returns its id.
    function createCategory(string calldata name, string calldata description, uint256 workClockTimeRef)
        external
        onlyOwner
        returns (uint256)
    {
        return _createCategory(name, description, workClockTimeRef);
    }

    function viewCategory(uint256 catid) external view returns (IexecLibCore.Category memory) {
        IexecLibCore.Category[] storage categories = HubStorage.get().categories;
        if (catid >= categories.length) revert UnknownCategory(catid);
        return categories[catid];
    }

    function countCategory() external view returns (uint256) {
        return HubStorage.get().categories.length;
    }

    // ---- Owner (iExec's hub is Ownable) ----

    function owner() external view returns (address) {
        return HubStorage.get().owner;
    }

    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert InvalidOwner(newOwner);
        _transferOwnership(newOwner);
    }

    function renounceOwnership() external onlyOwner {
        _transferOwnership(address(0));
    }

    function _transferOwnership(address newOwner) private {
        HubStorage.Layout storage $ = HubStorage.get();
        emit OwnershipTransferred($.owner, newOwner);
        $.owner = newOwner;
    }

    // ---- Configuration (iExec's IexecConfigurationFacet) ----

    function callbackgas() external view returns (uint256) {
        return HubStorage.get().callbackGas;
    }

    /// Sets the gas given to result callbacks (owner only).
    function setCallbackGas(uint256 gas) external onlyOwner {
        if (gas == 0 || gas > 10_000_000) revert InvalidCallbackGas(gas);
        HubStorage.get().callbackGas = gas;
    }

    function teebroker() external view returns (address) {
        return HubStorage.get().teeBroker;
    }

    /// Sets who authorizes TEE contributions (owner only; zero: the scheduler does).
    function setTeeBroker(address broker) external onlyOwner {
        HubStorage.get().teeBroker = broker;
    }

    // ---- Deals, tasks, contributions, scores (iExec's IexecPocoAccessorsFacet) ----

    /// Deal `id` (all zero if there is none).
    function viewDeal(bytes32 id) external view returns (IexecLibCore.Deal memory deal) {
        DealRecord storage d = HubStorage.get().deals[id];
        deal.app = IexecLibCore.Resource(d.app, d.appOwner, d.appPrice);
        deal.dataset = IexecLibCore.Resource(d.dataset, d.datasetOwner, d.datasetPrice);
        deal.workerpool = IexecLibCore.Resource(d.workerpool, d.workerpoolOwner, d.workerpoolPrice);
        deal.trust = d.trust;
        deal.category = d.category;
        deal.tag = d.tag;
        deal.requester = d.requester;
        deal.beneficiary = d.beneficiary;
        deal.callback = d.callback;
        deal.params = d.params;
        deal.startTime = d.startTime;
        deal.botFirst = d.botFirst;
        deal.botSize = d.botSize;
        deal.workerStake = d.workerStake;
        deal.schedulerRewardRatio = d.schedulerRewardRatio;
        deal.sponsor = d.sponsor == address(0) ? d.requester : d.sponsor;
    }

    /// Task `id` (all zero if there is none).
    function viewTask(bytes32 id) external view returns (IexecLibCore.Task memory task) {
        TaskRecord storage t = HubStorage.get().tasks[id];
        task.status = t.status;
        task.dealid = t.dealid;
        task.idx = t.idx;
        task.timeref = t.timeref;
        task.contributionDeadline = t.contributionDeadline;
        task.revealDeadline = t.revealDeadline;
        task.finalDeadline = t.finalDeadline;
        task.revealCounter = t.revealCounter;
        task.winnerCounter = t.winnerCounter;
        bytes32 stored = t.consensusOrDigest;
        if (t.revealDeadline == 0) {
            // No consensus: the slot holds the consensus total.
        } else if (t.revealCounter == 0) {
            task.consensusValue = stored;
        } else {
            task.resultDigest = stored;
            task.consensusValue = keccak256(abi.encodePacked(id, stored));
        }
        uint256 count = t.contributorCount;
        task.contributors = new address[](count);
        for (uint256 i; i < count; ++i) {
            task.contributors[i] = t.contributors[i];
        }
        task.results = t.results;
        task.resultsCallback = t.resultsCallback;
    }

    /// `worker`'s contribution to task `taskid`.
    function viewContribution(bytes32 taskid, address worker)
        external
        view
        returns (IexecLibCore.Contribution memory)
    {
        ContributionRecord storage c = HubStorage.get().tasks[taskid].contributions[worker];
        return IexecLibCore.Contribution(c.status, c.resultHash, c.resultSeal, c.enclaveChallenge, c.weight);
    }

    /// `worker`'s score (spec §5.1).
    function viewScore(address worker) external view returns (uint256) {
        return HubStorage.get().frozens[worker].score;
    }

    /// The callback data of a completed task (EIP-1154's pull side).
    function resultFor(bytes32 id) external view returns (bytes memory) {
        TaskRecord storage t = HubStorage.get().tasks[id];
        if (t.status != IexecLibCore.TaskStatusEnum.COMPLETED) revert TaskNotCompleted(id, t.status);
        return t.resultsCallback;
    }

    // ---- Constants (spec §6.2) ----

    function contribution_deadline_ratio() external pure returns (uint256) {
        return CONTRIBUTION_DEADLINE_RATIO;
    }

    function reveal_deadline_ratio() external pure returns (uint256) {
        return REVEAL_DEADLINE_RATIO;
    }

    function final_deadline_ratio() external pure returns (uint256) {
        return FINAL_DEADLINE_RATIO;
    }

    function workerpool_stake_ratio() external pure returns (uint256) {
        return WORKERPOOL_STAKE_RATIO;
    }

    function kitty_ratio() external pure returns (uint256) {
        return KITTY_RATIO;
    }

    function kitty_min() external pure returns (uint256) {
        return KITTY_MIN;
    }

    function kitty_address() external pure returns (address) {
        return KITTY_ADDRESS;
    }

    function groupmember_purpose() external pure returns (uint256) {
        return GROUPMEMBER_PURPOSE;
    }
}
