// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Category, HubStorage} from "./HubStorage.sol";
import {LibOrders} from "./LibOrders.sol";

/// The hub's orders and categories (iExec's IexecOrderManagementFacet, IexecCategoryManagerFacet
/// and their accessors): the EIP-712 domain, presigning and closing orders through
/// `manage*Order`, the signature check that matchOrders reuses, the categories and the owner who
/// creates them.
abstract contract Orders {
    using LibOrders for LibOrders.AppOrder;
    using LibOrders for LibOrders.DatasetOrder;
    using LibOrders for LibOrders.WorkerpoolOrder;
    using LibOrders for LibOrders.RequestOrder;
    using LibOrders for LibOrders.AppOrderOperation;
    using LibOrders for LibOrders.DatasetOrderOperation;
    using LibOrders for LibOrders.WorkerpoolOrderOperation;
    using LibOrders for LibOrders.RequestOrderOperation;

    event SignedAppOrder(bytes32 appHash);
    event SignedDatasetOrder(bytes32 datasetHash);
    event SignedWorkerpoolOrder(bytes32 workerpoolHash);
    event SignedRequestOrder(bytes32 requestHash);
    event ClosedAppOrder(bytes32 appHash);
    event ClosedDatasetOrder(bytes32 datasetHash);
    event ClosedWorkerpoolOrder(bytes32 workerpoolHash);
    event ClosedRequestOrder(bytes32 requestHash);
    event CreateCategory(uint256 catid, string name, string description, uint256 workClockTimeRef);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    /// `manage*Order` was neither sent by the order's owner `signer` nor carried its valid signature
    /// (iExec: `invalid-sender-or-signature`).
    error InvalidSenderOrSignature(address signer, address sender);
    /// `caller` is not the hub's owner.
    error NotTheOwner(address caller);
    /// `transferOwnership` to the zero address (use `renounceOwnership`).
    error InvalidOwner(address newOwner);
    /// `viewCategory` of an id that does not exist (iExec reverts on the array access).
    error UnknownCategory(uint256 catid);

    string private constant NAME = "iExecODB";
    string private constant VERSION = "5.0.0";

    IERC721 private immutable APP_REGISTRY;
    IERC721 private immutable DATASET_REGISTRY;
    IERC721 private immutable WORKERPOOL_REGISTRY;
    /// The domain separator for the chain of construction; recomputed if the chain id changes.
    bytes32 private immutable CACHED_SEPARATOR;
    uint256 private immutable CACHED_CHAIN_ID;

    constructor(IERC721 appRegistry, IERC721 datasetRegistry, IERC721 workerpoolRegistry) {
        APP_REGISTRY = appRegistry;
        DATASET_REGISTRY = datasetRegistry;
        WORKERPOOL_REGISTRY = workerpoolRegistry;
        CACHED_CHAIN_ID = block.chainid;
        CACHED_SEPARATOR = _buildSeparator();
        _transferOwnership(msg.sender);
        // The default categories (spec §6.1, iExec's config.json).
        _createCategory("XS", "{}", 300);
        _createCategory("S", "{}", 1200);
        _createCategory("M", "{}", 3600);
        _createCategory("L", "{}", 10800);
        _createCategory("XL", "{}", 36000);
    }

    // ---- EIP-712 ----

    /// The EIP-712 domain orders are signed under.
    function domain() external view returns (LibOrders.EIP712Domain memory) {
        return LibOrders.EIP712Domain(NAME, VERSION, block.chainid, address(this));
    }

    function _buildSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(
                LibOrders.EIP712DOMAIN_TYPEHASH,
                keccak256(bytes(NAME)),
                keccak256(bytes(VERSION)),
                block.chainid,
                address(this)
            )
        );
    }

    /// The domain separator of the current chain: the cached one unless the chain id changed.
    function _domainSeparator() internal view returns (bytes32) {
        return block.chainid == CACHED_CHAIN_ID ? CACHED_SEPARATOR : _buildSeparator();
    }

    /// `keccak(0x1901 ‖ separator ‖ structHash)`.
    function _toTypedDataHash(bytes32 structHash) internal view returns (bytes32 digest) {
        bytes32 separator = _domainSeparator();
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), separator)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    /// Whether `signer` (the order's owner) approved the order `hash`: presigned it, or `sign` is its signature (EOA,
    /// 65 or 64 bytes, or ERC-1271 for a contract).
    function _checkOrderSignature(address signer, bytes32 hash, bytes calldata sign) internal view returns (bool) {
        // A zero signer would match every order nobody presigned.
        if (signer == address(0)) return false;
        return HubStorage.get().presigned[hash] == signer || _checkSignature(signer, hash, sign);
    }

    /// Whether `sign` is `signer`'s signature of `hash` (EOA 65 or 64 bytes, or ERC-1271).
    /// OpenZeppelin 5 no longer reads the 64-byte compact form (ERC-2098) that iExec accepts, so
    /// an EOA's 64-byte signature is recovered here.
    function _checkSignature(address signer, bytes32 hash, bytes calldata sign) internal view returns (bool) {
        if (signer == address(0)) return false;
        if (sign.length == 64 && signer.code.length == 0) {
            bytes32 r;
            bytes32 vs;
            assembly ("memory-safe") {
                r := calldataload(sign.offset)
                vs := calldataload(add(sign.offset, 0x20))
            }
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, r, vs);
            return err == ECDSA.RecoverError.NoError && recovered == signer;
        }
        return SignatureChecker.isValidSignatureNowCalldata(signer, hash, sign);
    }

    function _checkOperation(address signer, bytes32 operationHash, bytes calldata sign) private view {
        if (signer != msg.sender && !_checkSignature(signer, _toTypedDataHash(operationHash), sign)) {
            revert InvalidSenderOrSignature(signer, msg.sender);
        }
    }

    // ---- Order management (iExec's IexecOrderManagementFacet) ----

    function manageAppOrder(LibOrders.AppOrderOperation calldata operation) external {
        address signer = APP_REGISTRY.ownerOf(uint160(operation.order.app));
        _checkOperation(signer, operation.hash(), operation.sign);
        bytes32 hash = _toTypedDataHash(operation.order.hash());
        if (_apply(operation.operation, hash, signer, operation.order.volume)) emit SignedAppOrder(hash);
        else emit ClosedAppOrder(hash);
    }

    function manageDatasetOrder(LibOrders.DatasetOrderOperation calldata operation) external {
        address signer = DATASET_REGISTRY.ownerOf(uint160(operation.order.dataset));
        _checkOperation(signer, operation.hash(), operation.sign);
        bytes32 hash = _toTypedDataHash(operation.order.hash());
        if (_apply(operation.operation, hash, signer, operation.order.volume)) emit SignedDatasetOrder(hash);
        else emit ClosedDatasetOrder(hash);
    }

    function manageWorkerpoolOrder(LibOrders.WorkerpoolOrderOperation calldata operation) external {
        address signer = WORKERPOOL_REGISTRY.ownerOf(uint160(operation.order.workerpool));
        _checkOperation(signer, operation.hash(), operation.sign);
        bytes32 hash = _toTypedDataHash(operation.order.hash());
        if (_apply(operation.operation, hash, signer, operation.order.volume)) emit SignedWorkerpoolOrder(hash);
        else emit ClosedWorkerpoolOrder(hash);
    }

    function manageRequestOrder(LibOrders.RequestOrderOperation calldata operation) external {
        address signer = operation.order.requester;
        _checkOperation(signer, operation.hash(), operation.sign);
        bytes32 hash = _toTypedDataHash(operation.order.hash());
        if (_apply(operation.operation, hash, signer, operation.order.volume)) emit SignedRequestOrder(hash);
        else emit ClosedRequestOrder(hash);
    }

    /// Presigns (SIGN, returns true) or closes (CLOSE, returns false) the order `hash`.
    function _apply(LibOrders.OrderOperationEnum operation, bytes32 hash, address signer, uint256 volume)
        private
        returns (bool signed)
    {
        HubStorage.Layout storage $ = HubStorage.get();
        if (operation == LibOrders.OrderOperationEnum.SIGN) {
            $.presigned[hash] = signer;
            return true;
        }
        $.consumed[hash] = volume;
        return false;
    }

    /// The volume of order `id` consumed (its whole volume once closed).
    function viewConsumed(bytes32 id) external view returns (uint256 consumed) {
        return HubStorage.get().consumed[id];
    }

    /// Who presigned order `id` (zero if nobody did).
    function viewPresigned(bytes32 id) external view returns (address signer) {
        return HubStorage.get().presigned[id];
    }

    // ---- Categories (iExec's IexecCategoryManagerFacet) ----

    /// Creates a category (owner only); returns its id.
    function createCategory(string calldata name, string calldata description, uint256 workClockTimeRef)
        external
        onlyOwner
        returns (uint256)
    {
        return _createCategory(name, description, workClockTimeRef);
    }

    function _createCategory(string memory name, string memory description, uint256 workClockTimeRef)
        private
        returns (uint256 catid)
    {
        Category[] storage categories = HubStorage.get().categories;
        catid = categories.length;
        categories.push(Category(name, description, workClockTimeRef));
        emit CreateCategory(catid, name, description, workClockTimeRef);
    }

    function viewCategory(uint256 catid) external view returns (Category memory) {
        Category[] storage categories = HubStorage.get().categories;
        if (catid >= categories.length) revert UnknownCategory(catid);
        return categories[catid];
    }

    function countCategory() external view returns (uint256) {
        return HubStorage.get().categories.length;
    }

    // ---- Owner (iExec's hub is Ownable) ----

    modifier onlyOwner() {
        if (msg.sender != HubStorage.get().owner) revert NotTheOwner(msg.sender);
        _;
    }

    function owner() external view returns (address) {
        return HubStorage.get().owner;
    }

    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert InvalidOwner(newOwner);
        _transferOwnership(newOwner);
    }

    function renounceOwnership() external onlyOwner {
        _transferOwnership(address(0));
    }

    function _transferOwnership(address newOwner) private {
        HubStorage.Layout storage $ = HubStorage.get();
        emit OwnershipTransferred($.owner, newOwner);
        $.owner = newOwner;
    }
}
