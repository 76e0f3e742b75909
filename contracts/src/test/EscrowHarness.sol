// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {Hub} from "../hub/Hub.sol";

/// For tests only, never deployed by genesis: the hub with its escrow internals (lock, unlock,
/// reward, seize) and its order signature check callable by anyone, so that their accounting and events can be checked before
/// matchOrders and the task lifecycle use them.
contract EscrowHarness is Hub {
    constructor(IERC20 token_, IERC721 appRegistry, IERC721 datasetRegistry, IERC721 workerpoolRegistry)
        Hub(token_, appRegistry, datasetRegistry, workerpoolRegistry)
    {}

    /// The hub's order signature check (presigned, or a valid EOA or ERC-1271 signature), for
    /// the tests of each order kind.
    function checkOrderSignature(address signer, bytes32 hash, bytes calldata sign) external view returns (bool) {
        return _checkOrderSignature(signer, hash, sign);
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
