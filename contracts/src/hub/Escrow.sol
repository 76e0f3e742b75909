// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {HubStorage} from "./HubStorage.sol";

/// The SRLC ledger the hub and its modules share: ERC-20 moves plus iExec's four escrow
/// operations (spec §1.3), with iExec's events.
///
/// Accounting is iExec's: `lock` moves value from the account's balance into the hub's own
/// balance and records it in the account's `frozen`; `unlock` moves it back; `seize` forgets the
/// frozen claim (the value stays in the hub's balance); `reward` pays out of the hub's balance.
/// So the balances of all accounts, the hub's included, always sum to `totalSupply`, every
/// balance change has a `Transfer` event, and the hub's balance is exactly the sum of the frozen
/// amounts. Only `lock` credits the hub's balance: a deposit for the hub or a transfer to it
/// (which iExec accepts, leaving the value in the hub's balance for nobody) reverts.
abstract contract Escrow {
    /// ERC-20.
    event Transfer(address indexed from, address indexed to, uint256 value);
    /// ERC-20.
    event Approval(address indexed owner, address indexed spender, uint256 value);
    /// `amount` of `owner`'s balance was locked.
    event Lock(address owner, uint256 amount);
    /// `amount` locked for `owner` was returned to its balance.
    event Unlock(address owner, uint256 amount);
    /// `owner` was paid `amount` for `ref` (a task id).
    event Reward(address owner, uint256 amount, bytes32 ref);
    /// `amount` locked for `owner` was taken for `ref` (a task id).
    event Seize(address owner, uint256 amount, bytes32 ref);

    /// `account` has `balance` SRLC free, less than the `needed`.
    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    /// `account` has `frozen` SRLC locked, less than the `needed`.
    error InsufficientFrozen(address account, uint256 frozen, uint256 needed);
    /// `spender` may move `allowance` of `owner`'s SRLC, less than the `needed`.
    error InsufficientAllowance(address owner, address spender, uint256 allowance, uint256 needed);
    /// The zero address cannot hold, send or approve SRLC.
    error ZeroAddress();
    /// The hub's own balance backs the locked SRLC: only a lock credits it, never a deposit, a
    /// transfer or a withdrawal to the hub.
    error HubNotAnAccount();

    /// Creates `amount` SRLC on `account`, for as many tokens the hub receives in the same call.
    function _mint(address account, uint256 amount) internal {
        if (account == address(0)) revert ZeroAddress();
        if (account == address(this)) revert HubNotAnAccount();
        HubStorage.Layout storage $ = HubStorage.get();
        // Cannot overflow: every SRLC is backed by a token the hub holds, and the token's own
        // supply fits in 256 bits; a balance is at most the total supply.
        unchecked {
            $.totalSupply += amount;
            $.balances[account] += amount;
        }
        emit Transfer(address(0), account, amount);
    }

    /// Destroys `amount` SRLC of `account` (before the hub sends as many tokens).
    function _burn(address account, uint256 amount) internal {
        HubStorage.Layout storage $ = HubStorage.get();
        uint256 balance = $.balances[account];
        if (balance < amount) revert InsufficientBalance(account, balance, amount);
        unchecked {
            $.balances[account] = balance - amount;
            $.totalSupply -= amount;
        }
        emit Transfer(account, address(0), amount);
    }

    /// Moves `amount` SRLC from `from` to `to` for an account holder (`transfer`,
    /// `transferFrom`): never to the hub's own balance.
    function _transferToAccount(address from, address to, uint256 amount) internal {
        if (to == address(this)) revert HubNotAnAccount();
        _transfer(from, to, amount);
    }

    /// Moves `amount` SRLC from `from` to `to`.
    function _transfer(address from, address to, uint256 amount) internal {
        if (to == address(0)) revert ZeroAddress();
        HubStorage.Layout storage $ = HubStorage.get();
        uint256 balance = $.balances[from];
        if (balance < amount) revert InsufficientBalance(from, balance, amount);
        // Read-after-write, so `from == to` leaves the balance unchanged.
        unchecked {
            $.balances[from] = balance - amount;
            $.balances[to] += amount;
        }
        emit Transfer(from, to, amount);
    }

    /// Sets `spender`'s allowance on `owner`'s SRLC.
    function _approve(address owner, address spender, uint256 amount) internal {
        if (spender == address(0)) revert ZeroAddress();
        HubStorage.get().allowances[owner][spender] = amount;
        emit Approval(owner, spender, amount);
    }

    /// Locks `amount` of `account`'s balance (a deal payment or a stake).
    function _lock(address account, uint256 amount) internal {
        _transfer(account, address(this), amount);
        unchecked {
            // Cannot overflow: frozen amounts are covered by the hub's balance.
            HubStorage.get().frozens[account].amount += uint192(amount);
        }
        emit Lock(account, amount);
    }

    /// Returns `amount` locked for `account` to its balance.
    function _unlock(address account, uint256 amount) internal {
        _unfreeze(account, amount);
        _transfer(address(this), account, amount);
        emit Unlock(account, amount);
    }

    /// Pays `amount` to `account` out of the hub's balance, for `ref`.
    function _reward(address account, uint256 amount, bytes32 ref) internal {
        _transfer(address(this), account, amount);
        emit Reward(account, amount, ref);
    }

    /// Takes `amount` locked for `account`, for `ref`: the value stays in the hub's balance, to
    /// be rewarded to others.
    function _seize(address account, uint256 amount, bytes32 ref) internal {
        _unfreeze(account, amount);
        emit Seize(account, amount, ref);
    }

    function _unfreeze(address account, uint256 amount) private {
        HubStorage.Layout storage $ = HubStorage.get();
        uint256 frozen = $.frozens[account].amount;
        if (frozen < amount) revert InsufficientFrozen(account, frozen, amount);
        unchecked {
            $.frozens[account].amount = uint192(frozen - amount);
        }
    }
}
