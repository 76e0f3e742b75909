// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {HubBase} from "./HubBase.sol";
import {ContributionRecord, DealRecord, HubStorage, TaskRecord} from "./HubStorage.sol";
import {IexecLibCore} from "./IexecLibCore.sol";

/// What a result callback implements (EIP-1154's consumer, iExec's `IOracleConsumer`).
interface IOracleConsumer {
    function receiveResult(bytes32 taskid, bytes calldata results) external;
}

/// The task lifecycle of Proof-of-Contribution (spec §4, iExec's IexecPoco2Facet): initialize,
/// contribute, reveal, reopen, finalize, claim, contributeAndFinalize and their array forms;
/// consensus, scores and rewards (spec §5); result callbacks (spec §4.10). The hub's hot paths:
/// they run in the hub itself, with no module hop.
abstract contract Tasks is HubBase {
    event TaskInitialize(bytes32 indexed taskid, address indexed workerpool);
    event TaskContribute(bytes32 indexed taskid, address indexed worker, bytes32 hash);
    event TaskConsensus(bytes32 indexed taskid, bytes32 consensus);
    event TaskReveal(bytes32 indexed taskid, address indexed worker, bytes32 digest);
    event TaskReopen(bytes32 indexed taskid);
    event TaskFinalize(bytes32 indexed taskid, bytes results);
    event TaskClaimed(bytes32 indexed taskid);
    event AccurateContribution(address indexed worker, bytes32 indexed taskid);
    event FaultyContribution(address indexed worker, bytes32 indexed taskid);

    /// Task `idx` is not in deal `dealid`'s range `[botFirst, botFirst + botSize)` (an unknown
    /// deal has an empty range).
    error TaskIndexOutOfRange(bytes32 dealid, uint256 idx, uint256 botFirst, uint256 botSize);
    /// The task was initialized already.
    error TaskAlreadyInitialized(bytes32 taskid);
    /// The call needs the task ACTIVE (contributions open); it is `status`.
    error TaskNotActive(bytes32 taskid, IexecLibCore.TaskStatusEnum status);
    /// The call needs the task REVEALING (consensus reached); it is `status`.
    error TaskNotRevealing(bytes32 taskid, IexecLibCore.TaskStatusEnum status);
    /// Only an ACTIVE or REVEALING task can be claimed; it is `status`.
    error TaskNotClaimable(bytes32 taskid, IexecLibCore.TaskStatusEnum status);
    /// The contribution deadline `deadline` has passed.
    error ContributionDeadlinePassed(bytes32 taskid, uint256 deadline);
    /// The reveal deadline `deadline` has passed.
    error RevealDeadlinePassed(bytes32 taskid, uint256 deadline);
    /// The reveal deadline `deadline` has not come yet.
    error RevealDeadlineNotReached(bytes32 taskid, uint256 deadline);
    /// The final deadline `deadline` has passed: the task can only be claimed.
    error FinalDeadlinePassed(bytes32 taskid, uint256 deadline);
    /// The final deadline `deadline` has not come yet.
    error FinalDeadlineNotReached(bytes32 taskid, uint256 deadline);
    /// `worker` has contributed to this task already.
    error AlreadyContributed(bytes32 taskid, address worker);
    /// The deal requires a TEE (tag bit 0): the contribution needs an enclave challenge.
    error EnclaveChallengeRequired(bytes32 taskid);
    /// The authorization is not a signature of (worker, taskid, enclave) by `signer`, the
    /// workerpool's owner (or the TEE broker for an enclave).
    error InvalidAuthorization(bytes32 taskid, address worker, address signer);
    /// The enclave signature is not a signature of (resultHash, resultSeal) by `enclave`.
    error InvalidEnclaveSignature(bytes32 taskid, address enclave);
    /// `worker` did not contribute the consensus value, or revealed already.
    error NotAWinner(bytes32 taskid, address worker);
    /// The digest does not open `worker`'s result hash and seal.
    error RevealMismatch(bytes32 taskid, address worker);
    /// `caller` is not the owner of the task's workerpool (the scheduler).
    error NotTheScheduler(bytes32 taskid, address caller);
    /// Someone revealed (`revealed` reveals): the task can be finalized, not reopened.
    error AlreadyRevealed(bytes32 taskid, uint256 revealed);
    /// `revealed` of the `winners` revealed and the reveal deadline has not come.
    error RevealsPending(bytes32 taskid, uint256 revealed, uint256 winners);
    /// `resultsCallback` must hash to the result digest (and be empty when the deal has no
    /// callback).
    error CallbackDataMismatch(bytes32 taskid);
    /// contributeAndFinalize is for deals of trust 0 or 1; this deal has `trust`.
    error ReplicationRequired(bytes32 taskid, uint256 trust);
    /// contributeAndFinalize on a task that has contributions already.
    error TaskHasContributions(bytes32 taskid);
    /// The transaction left too little gas for the callback to get its whole budget.
    error CallbackStarved(bytes32 taskid, uint256 callbackGas);
    /// Two arrays of a batch call differ in length.
    error ArrayLengthMismatch(uint256 first, uint256 second);

    // ---- initialize (spec §4.3) ----

    /// Creates task `idx` of deal `dealid` and returns its id; anyone may call.
    function initialize(bytes32 dealid, uint256 idx) public returns (bytes32 taskid) {
        HubStorage.Layout storage $ = HubStorage.get();
        DealRecord storage deal = $.deals[dealid];
        uint256 botFirst = deal.botFirst;
        uint256 botSize = deal.botSize;
        if (idx < botFirst || idx >= botFirst + botSize) {
            revert TaskIndexOutOfRange(dealid, idx, botFirst, botSize);
        }
        taskid = _taskId(dealid, idx);
        TaskRecord storage task = $.tasks[taskid];
        if (task.status != IexecLibCore.TaskStatusEnum.UNSET) revert TaskAlreadyInitialized(taskid);
        uint256 timeref = $.categories[deal.category].workClockTimeRef;
        uint256 start = deal.startTime;
        task.status = IexecLibCore.TaskStatusEnum.ACTIVE;
        task.timeref = uint40(timeref);
        task.contributionDeadline = SafeCast.toUint40(start + timeref * CONTRIBUTION_DEADLINE_RATIO);
        task.finalDeadline = SafeCast.toUint40(start + timeref * FINAL_DEADLINE_RATIO);
        task.dealid = dealid;
        if (idx != 0) task.idx = idx;
        // consensus.total starts at 1 (the "+1" of the credibility's denominator).
        task.consensusOrDigest = bytes32(uint256(1));
        emit TaskInitialize(taskid, deal.workerpool);
    }

    /// `initialize(dealids[i], idxs[i])` for every `i`.
    function initializeArray(bytes32[] calldata dealids, uint256[] calldata idxs) external returns (bool) {
        if (dealids.length != idxs.length) revert ArrayLengthMismatch(dealids.length, idxs.length);
        for (uint256 i; i < dealids.length; ++i) {
            initialize(dealids[i], idxs[i]);
        }
        return true;
    }

    // ---- contribute (spec §4.4, §5.1, §5.2) ----

    /// A worker's commitment to a result: `resultHash = keccak(taskid ‖ digest)`,
    /// `resultSeal = keccak(worker ‖ taskid ‖ digest)`, authorized by the scheduler (or, for an
    /// enclave, the TEE broker if one is set) and, for an enclave, signed by it. Locks the
    /// worker's stake and may reach consensus.
    function contribute(
        bytes32 taskid,
        bytes32 resultHash,
        bytes32 resultSeal,
        address enclaveChallenge,
        bytes calldata enclaveSign,
        bytes calldata authorizationSign
    ) external {
        HubStorage.Layout storage $ = HubStorage.get();
        TaskRecord storage task = $.tasks[taskid];
        _requireOpen(task, taskid);
        if (task.contributions[msg.sender].status != IexecLibCore.ContributionStatusEnum.UNSET) {
            revert AlreadyContributed(taskid, msg.sender);
        }
        DealRecord storage deal = $.deals[task.dealid];
        _checkAuthorization(
            deal, taskid, _pairHash(resultHash, resultSeal), enclaveChallenge, enclaveSign, authorizationSign
        );
        _commit(task, deal, taskid, resultHash, resultSeal, enclaveChallenge);
    }

    /// Records the caller's contribution, locks its stake and counts its vote.
    function _commit(
        TaskRecord storage task,
        DealRecord storage deal,
        bytes32 taskid,
        bytes32 resultHash,
        bytes32 resultSeal,
        address enclaveChallenge
    ) private {
        // SCORE POLICY 1/3: the worker's weight.
        uint256 weight = Math.max(HubStorage.get().frozens[msg.sender].score / 3, 3) - 1;
        ContributionRecord storage contribution = task.contributions[msg.sender];
        contribution.status = IexecLibCore.ContributionStatusEnum.CONTRIBUTED;
        contribution.weight = uint8(Math.log2(weight));
        if (enclaveChallenge != address(0)) contribution.enclaveChallenge = enclaveChallenge;
        contribution.resultHash = resultHash;
        contribution.resultSeal = resultSeal;
        uint256 count = task.contributorCount;
        task.contributors[count] = msg.sender;
        task.contributorCount = uint24(count + 1);

        _lock(msg.sender, deal.workerStake);
        emit TaskContribute(taskid, msg.sender, resultHash);
        _vote(task, deal.trust, taskid, resultHash, weight);
    }

    /// Adds a vote of `weight` for `resultHash`: its group becomes the product of its voters'
    /// weights; consensus when `group × trust > total × (trust − 1)` (spec §5.2).
    function _vote(TaskRecord storage task, uint256 trust, bytes32 taskid, bytes32 resultHash, uint256 weight)
        private
    {
        uint256 group = task.groups[resultHash];
        uint256 newGroup = Math.max(group, 1) * weight;
        // Before consensus, the slot holds the total.
        uint256 total = uint256(task.consensusOrDigest) + newGroup - group;
        if (newGroup * trust > total * (trust - 1)) {
            _reachConsensus(task, taskid, resultHash);
        } else {
            task.groups[resultHash] = newGroup;
            task.consensusOrDigest = bytes32(total);
        }
    }

    /// The task goes to REVEALING on `consensus`: every contributor of that value is a winner.
    function _reachConsensus(TaskRecord storage task, bytes32 taskid, bytes32 consensus) private {
        uint256 count = task.contributorCount;
        uint256 winners;
        for (uint256 i; i < count; ++i) {
            ContributionRecord storage c = task.contributions[task.contributors[i]];
            if (c.resultHash == consensus && c.status == IexecLibCore.ContributionStatusEnum.CONTRIBUTED) ++winners;
        }
        task.status = IexecLibCore.TaskStatusEnum.REVEALING;
        task.consensusOrDigest = consensus;
        task.revealDeadline = SafeCast.toUint40(block.timestamp + task.timeref * REVEAL_DEADLINE_RATIO);
        task.winnerCounter = uint24(winners);
        emit TaskConsensus(taskid, consensus);
    }

    // ---- reveal (spec §4.5) ----

    /// A winner opens its commitment with the result digest.
    function reveal(bytes32 taskid, bytes32 resultDigest) external {
        TaskRecord storage task = HubStorage.get().tasks[taskid];
        if (task.status != IexecLibCore.TaskStatusEnum.REVEALING) revert TaskNotRevealing(taskid, task.status);
        uint256 deadline = task.revealDeadline;
        if (block.timestamp >= deadline) revert RevealDeadlinePassed(taskid, deadline);
        uint256 revealed = task.revealCounter;
        bytes32 stored = task.consensusOrDigest;
        bytes32 consensus = revealed == 0 ? stored : _resultHash(taskid, stored);
        ContributionRecord storage contribution = task.contributions[msg.sender];
        if (contribution.status != IexecLibCore.ContributionStatusEnum.CONTRIBUTED || contribution.resultHash != consensus) {
            revert NotAWinner(taskid, msg.sender);
        }
        if (
            consensus != _resultHash(taskid, resultDigest)
                || contribution.resultSeal != _resultSeal(msg.sender, taskid, resultDigest)
        ) revert RevealMismatch(taskid, msg.sender);
        contribution.status = IexecLibCore.ContributionStatusEnum.PROVED;
        task.revealCounter = uint24(revealed + 1);
        // Every winner reveals the same digest (its hash is the consensus value).
        if (revealed == 0) task.consensusOrDigest = resultDigest;
        emit TaskReveal(taskid, msg.sender, resultDigest);
    }

    // ---- reopen (spec §4.6) ----

    /// Nobody revealed before the reveal deadline: the scheduler reopens the task; the
    /// winners' contributions are rejected (and punished at finalize).
    function reopen(bytes32 taskid) external {
        HubStorage.Layout storage $ = HubStorage.get();
        TaskRecord storage task = $.tasks[taskid];
        _requireScheduler($.deals[task.dealid], taskid);
        if (task.status != IexecLibCore.TaskStatusEnum.REVEALING) revert TaskNotRevealing(taskid, task.status);
        _requireBeforeFinalDeadline(task, taskid);
        uint256 deadline = task.revealDeadline;
        if (block.timestamp < deadline) revert RevealDeadlineNotReached(taskid, deadline);
        if (task.revealCounter != 0) revert AlreadyRevealed(taskid, task.revealCounter);
        bytes32 consensus = task.consensusOrDigest;
        uint256 count = task.contributorCount;
        // The winners are rejected; the total is 1 plus the other groups (iExec:
        // `total -= group[consensus]`), each group counted once.
        uint256 total = 1;
        for (uint256 i; i < count; ++i) {
            ContributionRecord storage c = task.contributions[task.contributors[i]];
            if (c.status != IexecLibCore.ContributionStatusEnum.CONTRIBUTED) continue;
            bytes32 hash = c.resultHash;
            if (hash == consensus) {
                c.status = IexecLibCore.ContributionStatusEnum.REJECTED;
            } else if (_firstVoteFor(task, i, hash)) {
                total += task.groups[hash];
            }
        }
        delete task.groups[consensus];
        task.status = IexecLibCore.TaskStatusEnum.ACTIVE;
        task.consensusOrDigest = bytes32(total);
        task.revealDeadline = 0;
        task.winnerCounter = 0;
        emit TaskReopen(taskid);
    }

    /// Whether no contribution before the `index`-th one is a live vote for `hash`.
    function _firstVoteFor(TaskRecord storage task, uint256 index, bytes32 hash) private view returns (bool) {
        for (uint256 j; j < index; ++j) {
            ContributionRecord storage c = task.contributions[task.contributors[j]];
            if (c.resultHash == hash && c.status == IexecLibCore.ContributionStatusEnum.CONTRIBUTED) return false;
        }
        return true;
    }

    // ---- finalize (spec §4.7, §5.3) ----

    /// The scheduler records the result (`results`, in practice the result link) and the
    /// callback data; everyone is paid; the callback, if any, receives the data.
    function finalize(bytes32 taskid, bytes calldata results, bytes calldata resultsCallback) external {
        HubStorage.Layout storage $ = HubStorage.get();
        TaskRecord storage task = $.tasks[taskid];
        DealRecord storage deal = $.deals[task.dealid];
        _requireScheduler(deal, taskid);
        if (task.status != IexecLibCore.TaskStatusEnum.REVEALING) revert TaskNotRevealing(taskid, task.status);
        _requireBeforeFinalDeadline(task, taskid);
        uint256 revealed = task.revealCounter;
        uint256 winners = task.winnerCounter;
        if (revealed != winners && (revealed == 0 || block.timestamp < task.revealDeadline)) {
            revert RevealsPending(taskid, revealed, winners);
        }
        address callback = deal.callback;
        _checkCallbackData(taskid, callback, resultsCallback, task.consensusOrDigest);
        task.status = IexecLibCore.TaskStatusEnum.COMPLETED;
        if (results.length != 0) task.results = results;
        if (resultsCallback.length != 0) task.resultsCallback = resultsCallback;
        _successWork(deal, taskid);
        _distributeRewards(task, deal, taskid);
        emit TaskFinalize(taskid, results);
        _executeCallback(callback, taskid, resultsCallback);
    }

    /// The single-worker path (trust 0 or 1): contribution, consensus, reveal and finalize in
    /// one call by the worker. No stake is locked and no score changes.
    function contributeAndFinalize(
        bytes32 taskid,
        bytes32 resultDigest,
        bytes calldata results,
        bytes calldata resultsCallback,
        address enclaveChallenge,
        bytes calldata enclaveSign,
        bytes calldata authorizationSign
    ) external {
        bytes32 resultHash = _contributeAlone(
            taskid, resultDigest, resultsCallback, enclaveChallenge, enclaveSign, authorizationSign
        );
        _finalizeAlone(taskid, resultDigest, resultHash, results, resultsCallback);
    }

    /// contributeAndFinalize's checks and contribution; returns the result hash.
    function _contributeAlone(
        bytes32 taskid,
        bytes32 resultDigest,
        bytes calldata resultsCallback,
        address enclaveChallenge,
        bytes calldata enclaveSign,
        bytes calldata authorizationSign
    ) private returns (bytes32 resultHash) {
        DealRecord storage deal = _requireSingleWorker(taskid);
        _checkCallbackData(taskid, deal.callback, resultsCallback, resultDigest);
        _checkAuthorization(
            deal, taskid, _enclaveMessage(taskid, resultDigest), enclaveChallenge, enclaveSign, authorizationSign
        );
        resultHash = _resultHash(taskid, resultDigest);
        _proveAlone(taskid, resultDigest, resultHash, enclaveChallenge);
    }

    /// contributeAndFinalize's results, payments, events and callback.
    function _finalizeAlone(
        bytes32 taskid,
        bytes32 resultDigest,
        bytes32 resultHash,
        bytes calldata results,
        bytes calldata resultsCallback
    ) private {
        TaskRecord storage task = HubStorage.get().tasks[taskid];
        DealRecord storage deal = HubStorage.get().deals[task.dealid];
        if (results.length != 0) task.results = results;
        if (resultsCallback.length != 0) task.resultsCallback = resultsCallback;

        _successWork(deal, taskid);
        // The fast split: the worker gets its share of the workerpool price, the scheduler the rest.
        uint256 price = deal.workerpoolPrice;
        uint256 workerReward = price * (100 - deal.schedulerRewardRatio) / 100;
        _reward(msg.sender, workerReward, taskid);
        _reward(deal.workerpoolOwner, price - workerReward, taskid);

        emit TaskContribute(taskid, msg.sender, resultHash);
        emit TaskConsensus(taskid, resultHash);
        emit TaskReveal(taskid, msg.sender, resultDigest);
        emit TaskFinalize(taskid, results);
        _executeCallback(deal.callback, taskid, resultsCallback);
    }

    /// The task is open, has no contribution, and its deal asks for no replication.
    function _requireSingleWorker(bytes32 taskid) private view returns (DealRecord storage deal) {
        TaskRecord storage task = HubStorage.get().tasks[taskid];
        _requireOpen(task, taskid);
        if (task.contributorCount != 0) revert TaskHasContributions(taskid);
        deal = HubStorage.get().deals[task.dealid];
        if (deal.trust != 1) revert ReplicationRequired(taskid, deal.trust);
    }

    /// The caller's contribution, proved, and the task completed with it.
    function _proveAlone(bytes32 taskid, bytes32 resultDigest, bytes32 resultHash, address enclaveChallenge)
        private
    {
        TaskRecord storage task = HubStorage.get().tasks[taskid];
        ContributionRecord storage contribution = task.contributions[msg.sender];
        contribution.status = IexecLibCore.ContributionStatusEnum.PROVED;
        if (enclaveChallenge != address(0)) contribution.enclaveChallenge = enclaveChallenge;
        contribution.resultHash = resultHash;
        contribution.resultSeal = _resultSeal(msg.sender, taskid, resultDigest);
        task.contributors[0] = msg.sender;
        task.contributorCount = 1;
        task.status = IexecLibCore.TaskStatusEnum.COMPLETED;
        task.revealDeadline = SafeCast.toUint40(block.timestamp + task.timeref * REVEAL_DEADLINE_RATIO);
        task.revealCounter = 1;
        task.winnerCounter = 1;
        task.consensusOrDigest = resultDigest;
    }

    // ---- claim (spec §4.8) ----

    /// After the final deadline, a task that did not complete fails: the payer is refunded,
    /// the scheduler's stake goes to the kitty, the workers get their stakes back.
    function claim(bytes32 taskid) public {
        HubStorage.Layout storage $ = HubStorage.get();
        TaskRecord storage task = $.tasks[taskid];
        IexecLibCore.TaskStatusEnum status = task.status;
        if (status != IexecLibCore.TaskStatusEnum.ACTIVE && status != IexecLibCore.TaskStatusEnum.REVEALING) revert TaskNotClaimable(taskid, status);
        uint256 deadline = task.finalDeadline;
        if (block.timestamp < deadline) revert FinalDeadlineNotReached(taskid, deadline);
        task.status = IexecLibCore.TaskStatusEnum.FAILED;

        DealRecord storage deal = $.deals[task.dealid];
        uint256 workerpoolPrice = deal.workerpoolPrice;
        _unlock(_payer(deal), deal.appPrice + deal.datasetPrice + workerpoolPrice);
        uint256 poolStake = workerpoolPrice * WORKERPOOL_STAKE_RATIO / 100;
        if (poolStake != 0) {
            _seize(deal.workerpoolOwner, poolStake, taskid);
            // Into the kitty: a locked claim nobody can withdraw, paid out to schedulers later.
            $.frozens[KITTY_ADDRESS].amount += uint192(poolStake);
            emit Reward(KITTY_ADDRESS, poolStake, taskid);
            emit Lock(KITTY_ADDRESS, poolStake);
        }
        uint256 stake = deal.workerStake;
        uint256 count = task.contributorCount;
        for (uint256 i; i < count; ++i) {
            _unlock(task.contributors[i], stake);
        }
        emit TaskClaimed(taskid);
    }

    /// `claim(taskids[i])` for every `i`.
    function claimArray(bytes32[] calldata taskids) external returns (bool) {
        for (uint256 i; i < taskids.length; ++i) {
            claim(taskids[i]);
        }
        return true;
    }

    /// `claim(initialize(dealids[i], idxs[i]))` for every `i`: for tasks nobody initialized.
    function initializeAndClaimArray(bytes32[] calldata dealids, uint256[] calldata idxs) external returns (bool) {
        if (dealids.length != idxs.length) revert ArrayLengthMismatch(dealids.length, idxs.length);
        for (uint256 i; i < dealids.length; ++i) {
            claim(initialize(dealids[i], idxs[i]));
        }
        return true;
    }

    // ---- Money (spec §5.3, §5.4) ----

    /// Whoever pays for the deal's tasks: the sponsor, or else the requester.
    function _payer(DealRecord storage deal) internal view returns (address sponsor) {
        sponsor = deal.sponsor;
        if (sponsor == address(0)) sponsor = deal.requester;
    }

    /// The task succeeded: the payer's locked price pays the app and dataset owners, the
    /// scheduler gets its stake back and a share of the kitty.
    function _successWork(DealRecord storage deal, bytes32 taskid) private {
        uint256 appPrice = deal.appPrice;
        uint256 datasetPrice = deal.datasetPrice;
        uint256 workerpoolPrice = deal.workerpoolPrice;
        _seize(_payer(deal), appPrice + datasetPrice + workerpoolPrice, taskid);
        if (appPrice != 0) _reward(deal.appOwner, appPrice, taskid);
        if (datasetPrice != 0) _reward(deal.datasetOwner, datasetPrice, taskid);
        address scheduler = deal.workerpoolOwner;
        _unlock(scheduler, workerpoolPrice * WORKERPOOL_STAKE_RATIO / 100);
        uint256 kitty = HubStorage.get().frozens[KITTY_ADDRESS].amount;
        if (kitty != 0) {
            uint256 share = Math.min(Math.max(kitty * KITTY_RATIO / 100, KITTY_MIN), kitty);
            _seize(KITTY_ADDRESS, share, taskid);
            _reward(scheduler, share, taskid);
        }
    }

    /// The workers' reward: the workerpool price plus the stakes of those who did not prove
    /// the result, less the scheduler's ratio, split by log-weight among those who did; the
    /// scheduler gets what remains.
    function _distributeRewards(TaskRecord storage task, DealRecord storage deal, bytes32 taskid) private {
        HubStorage.Layout storage $ = HubStorage.get();
        uint256 count = task.contributorCount;
        uint256 stake = deal.workerStake;
        uint256 totalReward = deal.workerpoolPrice;
        uint256 totalWeight;
        for (uint256 i; i < count; ++i) {
            ContributionRecord storage c = task.contributions[task.contributors[i]];
            if (c.status == IexecLibCore.ContributionStatusEnum.PROVED) totalWeight += c.weight;
            else totalReward += stake;
        }
        uint256 workersReward = totalReward * (100 - deal.schedulerRewardRatio) / 100;
        for (uint256 i; i < count; ++i) {
            address worker = task.contributors[i];
            ContributionRecord storage c = task.contributions[worker];
            if (c.status == IexecLibCore.ContributionStatusEnum.PROVED) {
                uint256 reward = Math.mulDiv(workersReward, c.weight, totalWeight);
                totalReward -= reward;
                _unlock(worker, stake);
                _reward(worker, reward, taskid);
                // SCORE POLICY 2/3: only replicated work builds reputation.
                if (count > 1) {
                    $.frozens[worker].score += 1;
                    emit AccurateContribution(worker, taskid);
                }
            } else {
                _seize(worker, stake, taskid);
                // SCORE POLICY 3/3: a wrong, rejected or silent worker loses a third.
                $.frozens[worker].score = $.frozens[worker].score * 2 / 3;
                emit FaultyContribution(worker, taskid);
            }
        }
        _reward(deal.workerpoolOwner, totalReward, taskid);
    }

    // ---- Checks and helpers ----

    function _requireOpen(TaskRecord storage task, bytes32 taskid) private view {
        if (task.status != IexecLibCore.TaskStatusEnum.ACTIVE) revert TaskNotActive(taskid, task.status);
        uint256 deadline = task.contributionDeadline;
        if (block.timestamp >= deadline) revert ContributionDeadlinePassed(taskid, deadline);
    }

    function _requireBeforeFinalDeadline(TaskRecord storage task, bytes32 taskid) private view {
        uint256 deadline = task.finalDeadline;
        if (block.timestamp >= deadline) revert FinalDeadlinePassed(taskid, deadline);
    }

    function _requireScheduler(DealRecord storage deal, bytes32 taskid) private view {
        if (msg.sender != deal.workerpoolOwner) revert NotTheScheduler(taskid, msg.sender);
    }

    /// The caller's authorization to contribute, and the enclave's signature of the result
    /// (`enclaveMessage = keccak(resultHash ‖ resultSeal)`).
    function _checkAuthorization(
        DealRecord storage deal,
        bytes32 taskid,
        bytes32 enclaveMessage,
        address enclave,
        bytes calldata enclaveSign,
        bytes calldata authorizationSign
    ) private view {
        address signer;
        if (enclave == address(0)) {
            if (deal.tee) revert EnclaveChallengeRequired(taskid);
            signer = deal.workerpoolOwner;
        } else {
            signer = HubStorage.get().teeBroker;
            if (signer == address(0)) signer = deal.workerpoolOwner;
        }
        if (!_checkEthSignedMessage(signer, _authorizationHash(msg.sender, taskid, enclave), authorizationSign)) {
            revert InvalidAuthorization(taskid, msg.sender, signer);
        }
        if (enclave != address(0) && !_checkEthSignedMessage(enclave, enclaveMessage, enclaveSign)) {
            revert InvalidEnclaveSignature(taskid, enclave);
        }
    }

    function _checkCallbackData(bytes32 taskid, address callback, bytes calldata data, bytes32 digest) private pure {
        if (!((callback == address(0) && data.length == 0) || keccak256(data) == digest)) {
            revert CallbackDataMismatch(taskid);
        }
    }

    /// Calls `target.receiveResult(taskid, data)` with the configured gas; whatever it does
    /// (return, revert, burn its gas, return a huge buffer: nothing is copied back) the task
    /// stays finalized.
    function _executeCallback(address target, bytes32 taskid, bytes calldata data) private {
        if (target == address(0)) return;
        uint256 budget = HubStorage.get().callbackGas;
        bytes memory payload = abi.encodeCall(IOracleConsumer.receiveResult, (taskid, data));
        assembly ("memory-safe") {
            pop(call(budget, target, 0, add(payload, 0x20), mload(payload), 0, 0))
        }
        // With less left than this, the call may have had less than its budget (EIP-150).
        if (gasleft() <= budget / 63) revert CallbackStarved(taskid, budget);
    }

    function _taskId(bytes32 dealid, uint256 idx) internal pure returns (bytes32 id) {
        assembly ("memory-safe") {
            mstore(0x00, dealid)
            mstore(0x20, idx)
            id := keccak256(0x00, 0x40)
        }
    }

    /// `keccak(taskid ‖ digest)`.
    function _resultHash(bytes32 taskid, bytes32 digest) internal pure returns (bytes32) {
        return _pairHash(taskid, digest);
    }

    function _pairHash(bytes32 a, bytes32 b) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, a)
            mstore(0x20, b)
            h := keccak256(0x00, 0x40)
        }
    }

    /// `keccak(worker ‖ taskid ‖ digest)`.
    function _resultSeal(address worker, bytes32 taskid, bytes32 digest) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(worker, taskid, digest));
    }

    /// What an enclave signs for the caller's result `digest`: `keccak(resultHash ‖ resultSeal)`.
    function _enclaveMessage(bytes32 taskid, bytes32 digest) private view returns (bytes32) {
        return _pairHash(_resultHash(taskid, digest), _resultSeal(msg.sender, taskid, digest));
    }

    /// `keccak(worker ‖ taskid ‖ enclave)`, what the scheduler signs.
    function _authorizationHash(address worker, bytes32 taskid, address enclave) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(worker, taskid, enclave));
    }
}
