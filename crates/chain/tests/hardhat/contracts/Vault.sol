// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// A token with a time-locked vault of ether: enough for the Hardhat test to use every
/// matcher and helper it checks (balances, custom errors, time, mining).
contract Vault {
    error InsufficientBalance(address account, uint256 balance, uint256 wanted);
    error Locked(uint256 now_, uint256 unlocksAt);

    event Transfer(address indexed from, address indexed to, uint256 value);

    string public constant name = "Vault token";
    string public constant symbol = "VLT";
    uint8 public constant decimals = 18;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => uint256) public deposited;
    uint256 public immutable unlocksAt;

    constructor(uint256 supply, uint256 lockSeconds) {
        totalSupply = supply;
        balanceOf[msg.sender] = supply;
        unlocksAt = block.timestamp + lockSeconds;
        emit Transfer(address(0), msg.sender, supply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        uint256 balance = balanceOf[msg.sender];
        if (balance < value) revert InsufficientBalance(msg.sender, balance, value);
        balanceOf[msg.sender] = balance - value;
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }

    function deposit() external payable {
        deposited[msg.sender] += msg.value;
    }

    function withdraw() external {
        if (block.timestamp < unlocksAt) revert Locked(block.timestamp, unlocksAt);
        uint256 amount = deposited[msg.sender];
        deposited[msg.sender] = 0;
        (bool sent,) = msg.sender.call{value: amount}("");
        require(sent, "refused");
    }
}
