// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Escrow} from "./Escrow.sol";
import {HubStorage} from "./HubStorage.sol";
import {Orders} from "./Orders.sol";

/// iExec's `IexecLibCore_v5.Account`: an account's free and locked SRLC.
struct Account {
    uint256 stake;
    uint256 locked;
}

/// What `approveAndCall` calls on its spender (iExec's `IexecTokenSpender`).
interface ITokenSpender {
    function receiveApproval(address sender, uint256 amount, address token, bytes calldata data)
        external
        returns (bool);
}

/// The hub: the protocol's single address (decision 0003). It holds the accounts:
/// deposits of the token into SRLC ("Staked RLC", 9 decimals, an ERC-20-like ledger), withdrawals,
/// and the views and ERC-20 functions of iExec's hub, with iExec's signatures and events
/// (spec §1.3); and, in `Orders`, the EIP-712 domain, `manage*Order`, the categories and the
/// owner. Its state is `HubStorage`, shared with the modules it will delegatecall. The deployer
/// is the owner.
contract Hub is Escrow, Orders, ITokenSpender {
    using SafeERC20 for IERC20;

    /// `receiveApproval` was called by `caller`, not by the token.
    error NotTheToken(address caller);
    /// `depositForArray` got `amounts` amounts for `targets` targets.
    error ArrayLengthMismatch(uint256 amounts, uint256 targets);
    /// `receiveApproval` got data for an operation it does not run (iExec's error).
    error UnsupportedOperation(bytes4 selector);
    /// `approveAndCall`'s spender returned false.
    error ApprovalRefused(address spender);

    /// The token, also in `HubStorage` for the modules: kept in code so that a deposit does not
    /// pay a storage read for it.
    IERC20 private immutable TOKEN;

    constructor(IERC20 token_, IERC721 appRegistry, IERC721 datasetRegistry, IERC721 workerpoolRegistry)
        Orders(appRegistry, datasetRegistry, workerpoolRegistry)
    {
        TOKEN = token_;
        HubStorage.get().token = token_;
    }

    // ---- Deposits and withdrawals (iExec's IexecEscrowTokenFacet) ----

    /// Pulls `amount` tokens from the caller (who approved the hub) into the caller's account.
    function deposit(uint256 amount) external returns (bool) {
        TOKEN.safeTransferFrom(msg.sender, address(this), amount);
        _mint(msg.sender, amount);
        return true;
    }

    /// Pulls `amount` tokens from the caller into `target`'s account.
    function depositFor(uint256 amount, address target) external returns (bool) {
        TOKEN.safeTransferFrom(msg.sender, address(this), amount);
        _mint(target, amount);
        return true;
    }

    /// Pulls `amounts[i]` tokens from the caller into `targets[i]`'s account, for every `i`.
    function depositForArray(uint256[] calldata amounts, address[] calldata targets) external returns (bool) {
        if (amounts.length != targets.length) revert ArrayLengthMismatch(amounts.length, targets.length);
        uint256 total;
        for (uint256 i; i < amounts.length; ++i) {
            total += amounts[i];
            _mint(targets[i], amounts[i]);
        }
        // One pull for the lot; the whole call reverts if it fails.
        TOKEN.safeTransferFrom(msg.sender, address(this), total);
        return true;
    }

    /// Sends `amount` of the caller's free SRLC back to the caller as tokens.
    function withdraw(uint256 amount) external returns (bool) {
        _burn(msg.sender, amount);
        TOKEN.safeTransfer(msg.sender, amount);
        return true;
    }

    /// Sends `amount` of the caller's free SRLC to `target` as tokens.
    function withdrawTo(uint256 amount, address target) external returns (bool) {
        _burn(msg.sender, amount);
        TOKEN.safeTransfer(target, amount);
        return true;
    }

    /// Called by the token's `approveAndCall(hub, amount, data)`: deposits `amount` for `sender`.
    /// Non-empty `data` names an operation to run after the deposit; iExec supports
    /// `matchOrders` (by the requester), which the next piece of the hub adds. Until then every
    /// operation reverts with `UnsupportedOperation(selector)`.
    function receiveApproval(address sender, uint256 amount, address, bytes calldata data)
        external
        returns (bool)
    {
        // The token names itself as `token`: only the caller needs checking.
        if (msg.sender != address(TOKEN)) revert NotTheToken(msg.sender);
        TOKEN.safeTransferFrom(sender, address(this), amount);
        _mint(sender, amount);
        if (data.length != 0) revert UnsupportedOperation(bytes4(data));
        return true;
    }

    // ---- Views (iExec's IexecPocoAccessorsFacet) ----

    /// The token deposited.
    function token() external view returns (address) {
        return address(TOKEN);
    }

    /// `account`'s free (`stake`) and locked SRLC.
    function viewAccount(address account) external view returns (Account memory) {
        HubStorage.Layout storage $ = HubStorage.get();
        return Account($.balances[account], $.frozens[account]);
    }

    function name() external pure returns (string memory) {
        return "Staked RLC";
    }

    function symbol() external pure returns (string memory) {
        return "SRLC";
    }

    function decimals() external pure returns (uint8) {
        return 9;
    }

    function totalSupply() external view returns (uint256) {
        return HubStorage.get().totalSupply;
    }

    /// `account`'s free SRLC.
    function balanceOf(address account) external view returns (uint256) {
        return HubStorage.get().balances[account];
    }

    /// `account`'s locked SRLC.
    function frozenOf(address account) external view returns (uint256) {
        return HubStorage.get().frozens[account];
    }

    function allowance(address account, address spender) external view returns (uint256) {
        return HubStorage.get().allowances[account][spender];
    }

    // ---- SRLC as an ERC-20 (iExec's IexecERC20) ----

    function transfer(address recipient, uint256 amount) external returns (bool) {
        _transfer(msg.sender, recipient, amount);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        _approve(msg.sender, spender, amount);
        return true;
    }

    /// Approves `spender`, then calls its `receiveApproval(caller, amount, hub, extraData)`,
    /// which must return true.
    function approveAndCall(address spender, uint256 amount, bytes calldata extraData) external returns (bool) {
        _approve(msg.sender, spender, amount);
        if (!ITokenSpender(spender).receiveApproval(msg.sender, amount, address(this), extraData)) {
            revert ApprovalRefused(spender);
        }
        return true;
    }

    function transferFrom(address sender, address recipient, uint256 amount) external returns (bool) {
        uint256 current = HubStorage.get().allowances[sender][msg.sender];
        if (current < amount) revert InsufficientAllowance(sender, msg.sender, current, amount);
        _transfer(sender, recipient, amount);
        unchecked {
            _approve(sender, msg.sender, current - amount);
        }
        return true;
    }

    function increaseAllowance(address spender, uint256 addedValue) external returns (bool) {
        _approve(msg.sender, spender, HubStorage.get().allowances[msg.sender][spender] + addedValue);
        return true;
    }

    function decreaseAllowance(address spender, uint256 subtractedValue) external returns (bool) {
        uint256 current = HubStorage.get().allowances[msg.sender][spender];
        if (current < subtractedValue) revert InsufficientAllowance(msg.sender, spender, current, subtractedValue);
        unchecked {
            _approve(msg.sender, spender, current - subtractedValue);
        }
        return true;
    }
}
