// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";

/// The implementation side of an asset. The registry that deploys an implementation is
/// recorded in its code (an immutable), so every clone of it answers to that registry; each
/// clone is initialized once, by the registry, right after it is created.
abstract contract RegistryEntry is Initializable {
    /// `caller` is not the registry of this asset.
    error NotRegistry(address caller);
    /// `caller` does not own this asset.
    error NotAssetOwner(address caller);

    /// The registry that created this asset; its token for this asset names the owner.
    address public immutable registry;

    constructor() {
        registry = msg.sender;
        _disableInitializers();
    }

    modifier onlyRegistry() {
        if (msg.sender != registry) revert NotRegistry(msg.sender);
        _;
    }

    modifier onlyOwner() {
        if (msg.sender != owner()) revert NotAssetOwner(msg.sender);
        _;
    }

    /// The owner of this asset: the owner of its token in the registry.
    function owner() public view returns (address) {
        return IERC721(registry).ownerOf(uint256(uint160(address(this))));
    }
}
