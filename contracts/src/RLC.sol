// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// A contract that takes an approval and acts on it in the same transaction.
interface IApprovalReceiver {
    /// Called by the token after `from` approved `amount` to the receiver.
    function receiveApproval(address from, uint256 amount, address token, bytes calldata data) external;
}

/// The protocol's token: an ERC-20 with 9 decimals (1 RLC = 10^9 nRLC). The deployer receives the
/// whole supply of 87,000,000 RLC. On a real chain any ERC-20 may be configured instead.
contract RLC is ERC20 {
    /// The whole supply, in nRLC, minted to the deployer.
    uint256 public constant INITIAL_SUPPLY = 87_000_000 * 1e9;

    constructor() ERC20("Agora RLC", "RLC") {
        _mint(msg.sender, INITIAL_SUPPLY);
    }

    function decimals() public pure override returns (uint8) {
        return 9;
    }

    /// Approves `spender` for `amount`, then calls `spender.receiveApproval(msg.sender, amount,
    /// this, data)`, so a contract can pull the tokens and act in one transaction (the hub uses it
    /// to deposit and match orders at once). Reverts if the receiver reverts.
    function approveAndCall(address spender, uint256 amount, bytes calldata data) external returns (bool) {
        _approve(msg.sender, spender, amount);
        IApprovalReceiver(spender).receiveApproval(msg.sender, amount, address(this), data);
        return true;
    }
}
