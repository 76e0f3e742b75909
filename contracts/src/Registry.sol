// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Enumerable} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Enumerable.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";

/// What the hub asks of a registry.
interface IRegistry {
    /// Whether `entry` is an asset of this registry or of a previous one.
    function isRegistered(address entry) external view returns (bool);
}

/// An ERC-721 collection of assets of one kind. Every asset is its own contract, an EIP-1167
/// clone of `master` deployed with CREATE2, and its token id is its address:
/// `tokenId = uint256(uint160(asset))`. Whoever owns the token owns the asset.
///
/// The CREATE2 salt is `keccak256(abi.encodePacked(initializer, owner))`, where `initializer`
/// is the calldata of the asset's `initialize` call, so an asset's address is known before it is
/// created (the `predict*` functions) and the same asset cannot be created twice for one owner.
abstract contract Registry is IRegistry, ERC721Enumerable {
    /// The asset at `entry` exists already.
    error AssetAlreadyExists(address entry);

    /// The implementation every asset of this registry is a clone of.
    address public immutable master;
    /// A registry whose assets this one also recognizes (zero if none).
    IRegistry public immutable previous;

    constructor(address master_, IRegistry previous_, string memory name_, string memory symbol_)
        ERC721(name_, symbol_)
    {
        master = master_;
        previous = previous_;
    }

    /// @inheritdoc IRegistry
    function isRegistered(address entry) external view returns (bool) {
        return _ownerOf(uint256(uint160(entry))) != address(0)
            || (address(previous) != address(0) && previous.isRegistered(entry));
    }

    /// Clones `master` at the predicted address, initializes the clone with `initializer` and
    /// mints its token to `owner`.
    function _mintCreate(address owner, bytes memory initializer) internal returns (address entry) {
        bytes32 salt = _salt(owner, initializer);
        entry = Clones.predictDeterministicAddress(master, salt);
        if (entry.code.length != 0) revert AssetAlreadyExists(entry);
        Clones.cloneDeterministic(master, salt);
        Address.functionCall(entry, initializer);
        _mint(owner, uint256(uint160(entry)));
    }

    /// The address `_mintCreate(owner, initializer)` gives.
    function _mintPredict(address owner, bytes memory initializer) internal view returns (address) {
        return Clones.predictDeterministicAddress(master, _salt(owner, initializer));
    }

    function _salt(address owner, bytes memory initializer) private pure returns (bytes32) {
        return keccak256(abi.encodePacked(initializer, owner));
    }
}
