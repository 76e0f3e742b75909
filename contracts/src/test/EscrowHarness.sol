// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Hub} from "../hub/Hub.sol";
import {HubMarket} from "../hub/HubMarket.sol";
import {HubStorage} from "../hub/HubStorage.sol";
import {HubViews} from "../hub/HubViews.sol";

/// For tests only, never deployed by genesis: the hub with its escrow internals (lock, unlock,
/// reward, seize), its order and message signature checks and its id and commitment formulas
/// callable by anyone, so that they can be checked on their own and against the spec's vectors,
/// and with worker scores settable, so that the spec's worked examples (which start from given
/// scores) run on the hub's own code.
contract EscrowHarness is Hub {
    constructor(IERC20 token_, HubMarket market, HubViews views) Hub(token_, market, views) {}

    /// The hub's order signature check (presigned, or a valid EOA or ERC-1271 signature), for
    /// the tests of each order kind.
    function checkOrderSignature(address signer, bytes32 hash, bytes calldata sign) external view returns (bool) {
        return _checkOrderSignature(signer, hash, sign);
    }

    /// The hub's check of an EIP-191 signed message (authorizations, enclave signatures).
    function checkEthSignedMessage(address signer, bytes32 messageHash, bytes calldata sign)
        external
        view
        returns (bool)
    {
        return _checkEthSignedMessage(signer, messageHash, sign);
    }

    function dealId(bytes32 requestHash, uint256 consumed) external pure returns (bytes32) {
        return _dealId(requestHash, consumed);
    }

    function taskId(bytes32 dealid, uint256 idx) external pure returns (bytes32) {
        return _taskId(dealid, idx);
    }

    function resultHash(bytes32 taskid, bytes32 digest) external pure returns (bytes32) {
        return _resultHash(taskid, digest);
    }

    function resultSeal(address worker, bytes32 taskid, bytes32 digest) external pure returns (bytes32) {
        return _resultSeal(worker, taskid, digest);
    }

    function authorizationHash(address worker, bytes32 taskid, address enclave) external pure returns (bytes32) {
        return _authorizationHash(worker, taskid, enclave);
    }

    function setScore(address worker, uint256 score) external {
        HubStorage.get().frozens[worker].score = uint64(score);
    }

    function lock(address account, uint256 amount) external {
        _lock(account, amount);
    }

    function unlock(address account, uint256 amount) external {
        _unlock(account, amount);
    }

    function reward(address account, uint256 amount, bytes32 ref) external {
        _reward(account, amount, ref);
    }

    function seize(address account, uint256 amount, bytes32 ref) external {
        _seize(account, amount, ref);
    }
}
