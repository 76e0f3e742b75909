// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {HubMarket} from "./HubMarket.sol";
import {HubStorage} from "./HubStorage.sol";
import {HubViews} from "./HubViews.sol";
import {IexecLibCore} from "./IexecLibCore.sol";
import {Tasks} from "./Tasks.sol";

/// What `approveAndCall` calls on its spender (iExec's `IexecTokenSpender`).
interface ITokenSpender {
    function receiveApproval(address sender, uint256 amount, address token, bytes calldata data)
        external
        returns (bool);
}

/// The hub: the protocol's single address (decision 0003). It holds the accounts (deposits of
/// the token into SRLC, "Staked RLC", 9 decimals, an ERC-20-like ledger; withdrawals; the views
/// and ERC-20 functions of iExec's hub, with iExec's signatures and events, spec §1.3) and, in
/// `Tasks`, the task lifecycle. Everything else it serves through its fallback from two modules
/// it delegatecalls, whose addresses are immutables: `HubMarket` (orders, matchOrders, the
/// EIP-712 domain) and `HubViews` (categories, owner, configuration, deal/task views). Its state
/// is `HubStorage`, shared with the modules. The deployer is the owner.
contract Hub is Tasks, ITokenSpender {
    using SafeERC20 for IERC20;

    /// `receiveApproval` was called by `caller`, not by the token.
    error NotTheToken(address caller);
    /// `receiveApproval` got data for an operation it does not run (iExec's error).
    error UnsupportedOperation(bytes4 selector);
    /// `receiveApproval`'s matchOrders is for the requester's own request order (iExec's error).
    error CallerIsNotTheRequester();
    /// `approveAndCall`'s spender returned false.
    error ApprovalRefused(address spender);

    /// The token, also in `HubStorage` for the modules: kept in code so that a deposit does not
    /// pay a storage read for it.
    IERC20 private immutable TOKEN;
    /// The module with the orders and matchOrders.
    address private immutable MARKET;
    /// The module with the categories, the owner, the configuration and the views.
    address private immutable VIEWS;

    constructor(IERC20 token_, HubMarket market, HubViews views) {
        TOKEN = token_;
        MARKET = address(market);
        VIEWS = address(views);
        HubStorage.Layout storage $ = HubStorage.get();
        $.token = token_;
        $.owner = msg.sender;
        emit HubViews.OwnershipTransferred(address(0), msg.sender);
        $.callbackGas = DEFAULT_CALLBACK_GAS;
        // The default categories (spec §6.1, iExec's config.json).
        _createCategory("XS", "{}", 300);
        _createCategory("S", "{}", 1200);
        _createCategory("M", "{}", 3600);
        _createCategory("L", "{}", 10800);
        _createCategory("XL", "{}", 36000);
    }

    /// Every other function of iExec's hub, served by a module in the hub's context.
    fallback() external {
        bytes4 selector = msg.sig;
        address module = (
            selector == HubMarket.matchOrders.selector || selector == HubMarket.sponsorMatchOrders.selector
                || selector == HubMarket.manageAppOrder.selector || selector == HubMarket.manageDatasetOrder.selector
                || selector == HubMarket.manageWorkerpoolOrder.selector
                || selector == HubMarket.manageRequestOrder.selector || selector == HubMarket.viewConsumed.selector
                || selector == HubMarket.viewPresigned.selector || selector == HubMarket.computeDealVolume.selector
                || selector == HubMarket.domain.selector || selector == HubMarket.eip712domain_separator.selector
                || selector == HubMarket.verifySignature.selector || selector == HubMarket.verifyPresignature.selector
                || selector == HubMarket.verifyPresignatureOrSignature.selector
                || selector == HubMarket.appregistry.selector || selector == HubMarket.datasetregistry.selector
                || selector == HubMarket.workerpoolregistry.selector
        ) ? MARKET : VIEWS;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), module, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
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

    /// Sends `amount` of the caller's free SRLC to `target` as tokens; not to the hub, whose
    /// tokens are the SRLC supply.
    function withdrawTo(uint256 amount, address target) external returns (bool) {
        if (target == address(this)) revert HubNotAnAccount();
        _burn(msg.sender, amount);
        TOKEN.safeTransfer(target, amount);
        return true;
    }

    /// Called by the token's `approveAndCall(hub, amount, data)`: deposits `amount` for `sender`.
    /// Non-empty `data` is a `matchOrders` call to run after the deposit, in the same
    /// transaction; its request order must be `sender`'s, who pays (no sponsoring here).
    function receiveApproval(address sender, uint256 amount, address, bytes calldata data)
        external
        returns (bool)
    {
        // The token names itself as `token`: only the caller needs checking.
        if (msg.sender != address(TOKEN)) revert NotTheToken(msg.sender);
        TOKEN.safeTransferFrom(sender, address(this), amount);
        _mint(sender, amount);
        if (data.length == 0) return true;
        if (data.length < 4 || bytes4(data) != HubMarket.matchOrders.selector) revert UnsupportedOperation(bytes4(data));
        // The request order is the fourth argument; its requester, its seventh field.
        uint256 request = 4 + uint256(bytes32(data[100:132]));
        if (address(uint160(uint256(bytes32(data[request + 192:request + 224])))) != sender) {
            revert CallerIsNotTheRequester();
        }
        (bool ok, bytes memory returned) = MARKET.delegatecall(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(returned, 0x20), mload(returned))
            }
        }
        return true;
    }

    // ---- Views (iExec's IexecPocoAccessorsFacet) ----

    /// The token deposited.
    function token() external view returns (address) {
        return address(TOKEN);
    }

    /// `account`'s free (`stake`) and locked SRLC.
    function viewAccount(address account) external view returns (IexecLibCore.Account memory) {
        HubStorage.Layout storage $ = HubStorage.get();
        return IexecLibCore.Account($.balances[account], $.frozens[account].amount);
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
        return HubStorage.get().frozens[account].amount;
    }

    function allowance(address account, address spender) external view returns (uint256) {
        return HubStorage.get().allowances[account][spender];
    }

    // ---- SRLC as an ERC-20 (iExec's IexecERC20) ----

    function transfer(address recipient, uint256 amount) external returns (bool) {
        _transferToAccount(msg.sender, recipient, amount);
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
        _transferToAccount(sender, recipient, amount);
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
