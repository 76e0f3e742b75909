// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {RegistryEntry} from "./RegistryEntry.sol";

/// A workerpool: its description and the two policies its owner (the scheduler) sets.
contract Workerpool is RegistryEntry {
    /// The scheduler reward ratio must be a percentage.
    error SchedulerRewardRatioTooHigh(uint256 ratio);

    /// Worker stake ratio of a new workerpool, in %.
    uint256 public constant DEFAULT_WORKER_STAKE_RATIO = 30;
    /// Scheduler reward ratio of a new workerpool, in %.
    uint256 public constant DEFAULT_SCHEDULER_REWARD_RATIO = 1;

    string public m_workerpoolDescription;
    /// % of the workerpool price a worker stakes per contribution.
    uint256 public m_workerStakeRatioPolicy;
    /// % of a task's worker-side reward the scheduler keeps.
    uint256 public m_schedulerRewardRatioPolicy;

    event PolicyUpdate(
        uint256 oldWorkerStakeRatioPolicy,
        uint256 newWorkerStakeRatioPolicy,
        uint256 oldSchedulerRewardRatioPolicy,
        uint256 newSchedulerRewardRatioPolicy
    );

    function initialize(string calldata workerpoolDescription) external onlyRegistry initializer {
        m_workerpoolDescription = workerpoolDescription;
        m_workerStakeRatioPolicy = DEFAULT_WORKER_STAKE_RATIO;
        m_schedulerRewardRatioPolicy = DEFAULT_SCHEDULER_REWARD_RATIO;
    }

    /// Sets both policies (owner only); the scheduler reward ratio is at most 100.
    function changePolicy(uint256 newWorkerStakeRatio, uint256 newSchedulerRewardRatio) external onlyOwner {
        if (newSchedulerRewardRatio > 100) revert SchedulerRewardRatioTooHigh(newSchedulerRewardRatio);
        emit PolicyUpdate(
            m_workerStakeRatioPolicy, newWorkerStakeRatio, m_schedulerRewardRatioPolicy, newSchedulerRewardRatio
        );
        m_workerStakeRatioPolicy = newWorkerStakeRatio;
        m_schedulerRewardRatioPolicy = newSchedulerRewardRatio;
    }
}
