// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IRegistry} from "../Registry.sol";
import {HubBase} from "./HubBase.sol";
import {DealRecord, HubStorage} from "./HubStorage.sol";
import {LibOrders} from "./LibOrders.sol";

/// What matchOrders reads from a workerpool (spec §1.2).
interface IWorkerpoolPolicy {
    function m_workerStakeRatioPolicy() external view returns (uint256);
    function m_schedulerRewardRatioPolicy() external view returns (uint256);
}

/// An asset's owner, for assets of a previous registry (`RegistryEntry.owner()`).
interface IAssetOwner {
    function owner() external view returns (address);
}

/// ERC-734 identity contracts used as restrictions (groups of accounts).
interface IERC734 {
    function keyHasPurpose(bytes32 key, uint256 purpose) external view returns (bool);
}

/// The hub's market module (iExec's IexecPoco1Facet, IexecOrderManagementFacet and their
/// accessors), reached through the hub's fallback by `delegatecall`: the EIP-712 domain,
/// presigning and closing orders, and matchOrders, which turns four compatible orders into a
/// deal (spec §3). Called directly, it works on its own empty storage and nothing of value.
contract HubMarket is HubBase {
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
    event SchedulerNotice(address indexed workerpool, bytes32 dealid);
    event OrdersMatched(
        bytes32 dealid, bytes32 appHash, bytes32 datasetHash, bytes32 workerpoolHash, bytes32 requestHash, uint256 volume
    );
    event DealSponsored(bytes32 dealId, address sponsor);

    /// `manage*Order` was neither sent by the order's owner `signer` nor carried its valid signature
    /// (iExec: `invalid-sender-or-signature`).
    error InvalidSenderOrSignature(address signer, address sender);

    // matchOrders, one error per check of spec §3.2 (iExec's code in brackets).
    /// [0x00] The request asks for category `requested`, the workerpool offers `offered`.
    error CategoryMismatch(uint256 requested, uint256 offered);
    // [0x01] UnknownCategory(catid), from HubBase.
    /// [0x02] The request asks for trust `requested`, more than the workerpool's `offered`.
    error TrustNotOffered(uint256 requested, uint256 offered);
    /// [0x03] The app costs `price`, more than the request's `maxPrice`.
    error AppPriceTooHigh(uint256 price, uint256 maxPrice);
    /// [0x04] The dataset costs `price`, more than the request's `maxPrice`.
    error DatasetPriceTooHigh(uint256 price, uint256 maxPrice);
    /// [0x05] The workerpool costs `price`, more than the request's `maxPrice`.
    error WorkerpoolPriceTooHigh(uint256 price, uint256 maxPrice);
    /// [0x06] The orders require tag bits `missing` that the workerpool order does not offer.
    error TagNotOffered(bytes32 missing);
    /// [0x07] The dataset or the request requires a TEE (tag bit 0) but the app order does not
    /// carry it.
    error AppNotTee(bytes32 tag, bytes32 appTag);
    /// [0x10] The request is for app `requested`, the app order sells `offered`.
    error AppMismatch(address requested, address offered);
    /// [0x11] The request is for dataset `requested`, the dataset order sells `offered`.
    error DatasetMismatch(address requested, address offered);
    /// [0x12] The request's workerpool restriction excludes the workerpool.
    error WorkerpoolNotAllowedByRequest(address restriction, address workerpool);
    /// [0x13] The app order's dataset restriction excludes the dataset.
    error DatasetNotAllowedByApp(address restriction, address dataset);
    /// [0x14] The app order's workerpool restriction excludes the workerpool.
    error WorkerpoolNotAllowedByApp(address restriction, address workerpool);
    /// [0x15] The app order's requester restriction excludes the requester.
    error RequesterNotAllowedByApp(address restriction, address requester);
    /// [0x16] The dataset order's app restriction excludes the app.
    error AppNotAllowedByDataset(address restriction, address app);
    /// [0x17] The dataset order's workerpool restriction excludes the workerpool.
    error WorkerpoolNotAllowedByDataset(address restriction, address workerpool);
    /// [0x18] The dataset order's requester restriction excludes the requester.
    error RequesterNotAllowedByDataset(address restriction, address requester);
    /// [0x19] The workerpool order's app restriction excludes the app.
    error AppNotAllowedByWorkerpool(address restriction, address app);
    /// [0x1a] The workerpool order's dataset restriction excludes the dataset.
    error DatasetNotAllowedByWorkerpool(address restriction, address dataset);
    /// [0x1b] The workerpool order's requester restriction excludes the requester.
    error RequesterNotAllowedByWorkerpool(address restriction, address requester);
    /// [0x20] `app` is not in the app registry.
    error AppNotRegistered(address app);
    /// [0x21] The app order `orderHash` is neither presigned nor signed by the app's owner.
    error InvalidAppOrderSignature(address owner, bytes32 orderHash);
    /// [0x30] `dataset` is not in the dataset registry.
    error DatasetNotRegistered(address dataset);
    /// [0x31] The dataset order is neither presigned nor signed by the dataset's owner.
    error InvalidDatasetOrderSignature(address owner, bytes32 orderHash);
    /// [0x40] `workerpool` is not in the workerpool registry.
    error WorkerpoolNotRegistered(address workerpool);
    /// [0x41] The workerpool order is neither presigned nor signed by the workerpool's owner.
    error InvalidWorkerpoolOrderSignature(address owner, bytes32 orderHash);
    /// [0x50] The request order is neither presigned nor signed by its requester.
    error InvalidRequestOrderSignature(address requester, bytes32 orderHash);
    /// [0x60] Order `orderHash` has no volume left (fully consumed, or closed).
    error OrderConsumed(bytes32 orderHash);
    /// A price or stake above 2^96 − 1 nRLC (agora stores them in 96 bits; see decision 0003).
    error AmountTooLarge(uint256 amount);
    /// A request trust above 2^64 − 1 (agora stores it in 64 bits).
    error TrustTooLarge(uint256 trust);

    /// The TEE bit of a tag.
    bytes32 private constant TEE_BIT = bytes32(uint256(1));
    /// The TEE framework bits (Scone, Gramine, TDX) ignored in the dataset order's tag.
    bytes32 private constant TEE_FRAMEWORK_BITS = bytes32(uint256(0x0e));
    /// Task indices are stored in 56 bits: a request order yields at most this many tasks.
    uint256 private constant MAX_TASKS = type(uint56).max;

    IERC721 private immutable APP_REGISTRY;
    IERC721 private immutable DATASET_REGISTRY;
    IERC721 private immutable WORKERPOOL_REGISTRY;

    constructor(IERC721 appRegistry, IERC721 datasetRegistry, IERC721 workerpoolRegistry) {
        APP_REGISTRY = appRegistry;
        DATASET_REGISTRY = datasetRegistry;
        WORKERPOOL_REGISTRY = workerpoolRegistry;
    }

    // ---- Domain and registries ----

    /// The EIP-712 domain orders are signed under.
    function domain() external view returns (LibOrders.EIP712Domain memory) {
        return LibOrders.EIP712Domain(DOMAIN_NAME, DOMAIN_VERSION, block.chainid, address(this));
    }

    function eip712domain_separator() external view returns (bytes32) {
        return _domainSeparator();
    }

    function appregistry() external view returns (address) {
        return address(APP_REGISTRY);
    }

    function datasetregistry() external view returns (address) {
        return address(DATASET_REGISTRY);
    }

    function workerpoolregistry() external view returns (address) {
        return address(WORKERPOOL_REGISTRY);
    }

    // ---- Signatures (iExec's IexecPoco1 helpers) ----

    /// Whether `sign` is `identity`'s signature of `hash` (EOA 65 or 64 bytes, or ERC-1271).
    function verifySignature(address identity, bytes32 hash, bytes calldata sign) external view returns (bool) {
        return _checkSignature(identity, hash, sign);
    }

    /// Whether `identity` presigned the order `hash`.
    function verifyPresignature(address identity, bytes32 hash) external view returns (bool) {
        return identity != address(0) && HubStorage.get().presigned[hash] == identity;
    }

    function verifyPresignatureOrSignature(address identity, bytes32 hash, bytes calldata sign)
        external
        view
        returns (bool)
    {
        return _checkOrderSignature(identity, hash, sign);
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

    function _checkOperation(address signer, bytes32 operationHash, bytes calldata sign) private view {
        if (signer != msg.sender && !_checkSignature(signer, _toTypedDataHash(operationHash), sign)) {
            revert InvalidSenderOrSignature(signer, msg.sender);
        }
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

    // ---- matchOrders (spec §3) ----

    /// What matchOrders learns on its way, kept in memory (too many for the stack).
    struct Match {
        bytes32 appHash;
        bytes32 datasetHash;
        bytes32 workerpoolHash;
        bytes32 requestHash;
        address appOwner;
        address datasetOwner;
        address workerpoolOwner;
        bytes32 tag;
        uint256 volume;
        uint256 botFirst;
        address sponsor;
    }

    /// Matches the four orders into a deal paid by the request's requester; returns the deal id.
    function matchOrders(
        LibOrders.AppOrder calldata appOrder,
        LibOrders.DatasetOrder calldata datasetOrder,
        LibOrders.WorkerpoolOrder calldata workerpoolOrder,
        LibOrders.RequestOrder calldata requestOrder
    ) external returns (bytes32) {
        return _matchOrders(appOrder, datasetOrder, workerpoolOrder, requestOrder, requestOrder.requester);
    }

    /// matchOrders paid by the caller instead of the requester.
    function sponsorMatchOrders(
        LibOrders.AppOrder calldata appOrder,
        LibOrders.DatasetOrder calldata datasetOrder,
        LibOrders.WorkerpoolOrder calldata workerpoolOrder,
        LibOrders.RequestOrder calldata requestOrder
    ) external returns (bytes32 dealid) {
        dealid = _matchOrders(appOrder, datasetOrder, workerpoolOrder, requestOrder, msg.sender);
        emit DealSponsored(dealid, msg.sender);
    }

    /// The volume matchOrders would give these orders now (0 if one is used up), without
    /// checking them.
    function computeDealVolume(
        LibOrders.AppOrder calldata appOrder,
        LibOrders.DatasetOrder calldata datasetOrder,
        LibOrders.WorkerpoolOrder calldata workerpoolOrder,
        LibOrders.RequestOrder calldata requestOrder
    ) external view returns (uint256 volume) {
        Match memory m;
        m.appHash = _toTypedDataHash(appOrder.hash());
        if (datasetOrder.dataset != address(0)) m.datasetHash = _toTypedDataHash(datasetOrder.hash());
        m.workerpoolHash = _toTypedDataHash(workerpoolOrder.hash());
        m.requestHash = _toTypedDataHash(requestOrder.hash());
        (volume,) = _volume(m, appOrder, datasetOrder, workerpoolOrder, requestOrder);
    }

    function _matchOrders(
        LibOrders.AppOrder calldata appOrder,
        LibOrders.DatasetOrder calldata datasetOrder,
        LibOrders.WorkerpoolOrder calldata workerpoolOrder,
        LibOrders.RequestOrder calldata requestOrder,
        address sponsor
    ) private returns (bytes32 dealid) {
        Match memory m;
        m.sponsor = sponsor;
        m.tag = _checkCompatibility(appOrder, datasetOrder, workerpoolOrder, requestOrder);
        _checkRestrictions(appOrder, datasetOrder, workerpoolOrder, requestOrder);
        _checkAuthenticity(m, appOrder, datasetOrder, workerpoolOrder, requestOrder);
        bytes32 exhausted;
        (m.volume, exhausted) = _volume(m, appOrder, datasetOrder, workerpoolOrder, requestOrder);
        if (m.volume == 0) revert OrderConsumed(exhausted);

        HubStorage.Layout storage $ = HubStorage.get();
        m.botFirst = $.consumed[m.requestHash];
        dealid = _dealId(m.requestHash, m.botFirst);
        _record($.deals[dealid], m, appOrder, datasetOrder, workerpoolOrder, requestOrder);
        _consumeAndLock(m, appOrder.appprice, datasetOrder.dataset != address(0), datasetOrder.datasetprice, workerpoolOrder.workerpoolprice);

        emit SchedulerNotice(workerpoolOrder.workerpool, dealid);
        emit OrdersMatched(dealid, m.appHash, m.datasetHash, m.workerpoolHash, m.requestHash, m.volume);
    }

    /// Adds the volume to each order's consumption, then locks the payer's price and the
    /// scheduler's stake for every task (spec §3.5).
    function _consumeAndLock(
        Match memory m,
        uint256 appPrice,
        bool hasDataset,
        uint256 datasetPrice,
        uint256 workerpoolPrice
    ) private {
        HubStorage.Layout storage $ = HubStorage.get();
        uint256 volume = m.volume;
        $.consumed[m.appHash] += volume;
        if (hasDataset) $.consumed[m.datasetHash] += volume;
        else datasetPrice = 0;
        $.consumed[m.workerpoolHash] += volume;
        $.consumed[m.requestHash] = m.botFirst + volume;
        // Prices are below 2^96 (checked by _record) and the volume below 2^56: no overflow.
        _lock(m.sponsor, (appPrice + datasetPrice + workerpoolPrice) * volume);
        // Rounded per task, then times the volume, as iExec.
        _lock(m.workerpoolOwner, (workerpoolPrice * WORKERPOOL_STAKE_RATIO / 100) * volume);
    }

    /// Checks 0x00–0x07; returns the deal's tag.
    function _checkCompatibility(
        LibOrders.AppOrder calldata appOrder,
        LibOrders.DatasetOrder calldata datasetOrder,
        LibOrders.WorkerpoolOrder calldata workerpoolOrder,
        LibOrders.RequestOrder calldata requestOrder
    ) private view returns (bytes32 tag) {
        uint256 category = requestOrder.category;
        if (category != workerpoolOrder.category) revert CategoryMismatch(category, workerpoolOrder.category);
        if (category >= HubStorage.get().categories.length) revert UnknownCategory(category);
        if (requestOrder.trust > workerpoolOrder.trust) {
            revert TrustNotOffered(requestOrder.trust, workerpoolOrder.trust);
        }
        if (requestOrder.appmaxprice < appOrder.appprice) {
            revert AppPriceTooHigh(appOrder.appprice, requestOrder.appmaxprice);
        }
        if (requestOrder.datasetmaxprice < datasetOrder.datasetprice) {
            revert DatasetPriceTooHigh(datasetOrder.datasetprice, requestOrder.datasetmaxprice);
        }
        if (requestOrder.workerpoolmaxprice < workerpoolOrder.workerpoolprice) {
            revert WorkerpoolPriceTooHigh(workerpoolOrder.workerpoolprice, requestOrder.workerpoolmaxprice);
        }
        tag = appOrder.tag | (datasetOrder.tag & ~TEE_FRAMEWORK_BITS) | requestOrder.tag;
        bytes32 missing = tag & ~workerpoolOrder.tag;
        if (missing != 0) revert TagNotOffered(missing);
        if ((tag ^ appOrder.tag) & TEE_BIT != 0) revert AppNotTee(tag, appOrder.tag);
    }

    /// Checks 0x10–0x1b.
    function _checkRestrictions(
        LibOrders.AppOrder calldata appOrder,
        LibOrders.DatasetOrder calldata datasetOrder,
        LibOrders.WorkerpoolOrder calldata workerpoolOrder,
        LibOrders.RequestOrder calldata requestOrder
    ) private view {
        address app = appOrder.app;
        address dataset = datasetOrder.dataset;
        address workerpool = workerpoolOrder.workerpool;
        address requester = requestOrder.requester;
        if (requestOrder.app != app) revert AppMismatch(requestOrder.app, app);
        if (requestOrder.dataset != dataset) revert DatasetMismatch(requestOrder.dataset, dataset);
        address r = requestOrder.workerpool;
        if (!_allows(r, workerpool)) revert WorkerpoolNotAllowedByRequest(r, workerpool);
        r = appOrder.datasetrestrict;
        if (!_allows(r, dataset)) revert DatasetNotAllowedByApp(r, dataset);
        r = appOrder.workerpoolrestrict;
        if (!_allows(r, workerpool)) revert WorkerpoolNotAllowedByApp(r, workerpool);
        r = appOrder.requesterrestrict;
        if (!_allows(r, requester)) revert RequesterNotAllowedByApp(r, requester);
        r = datasetOrder.apprestrict;
        if (!_allows(r, app)) revert AppNotAllowedByDataset(r, app);
        r = datasetOrder.workerpoolrestrict;
        if (!_allows(r, workerpool)) revert WorkerpoolNotAllowedByDataset(r, workerpool);
        r = datasetOrder.requesterrestrict;
        if (!_allows(r, requester)) revert RequesterNotAllowedByDataset(r, requester);
        r = workerpoolOrder.apprestrict;
        if (!_allows(r, app)) revert AppNotAllowedByWorkerpool(r, app);
        r = workerpoolOrder.datasetrestrict;
        if (!_allows(r, dataset)) revert DatasetNotAllowedByWorkerpool(r, dataset);
        r = workerpoolOrder.requesterrestrict;
        if (!_allows(r, requester)) revert RequesterNotAllowedByWorkerpool(r, requester);
    }

    /// Whether `restriction` lets `account` in: no restriction, the account itself, or an
    /// ERC-734 identity contract that has the account as a group member.
    function _allows(address restriction, address account) private view returns (bool) {
        if (restriction == address(0) || restriction == account) return true;
        if (restriction.code.length == 0) return false;
        try IERC734(restriction).keyHasPurpose(bytes32(uint256(uint160(account))), GROUPMEMBER_PURPOSE) returns (
            bool member
        ) {
            return member;
        } catch {
            return false;
        }
    }

    /// Checks 0x20–0x50: the assets are registered and each order is its owner's.
    function _checkAuthenticity(
        Match memory m,
        LibOrders.AppOrder calldata appOrder,
        LibOrders.DatasetOrder calldata datasetOrder,
        LibOrders.WorkerpoolOrder calldata workerpoolOrder,
        LibOrders.RequestOrder calldata requestOrder
    ) private view {
        m.appHash = _toTypedDataHash(appOrder.hash());
        m.appOwner = _ownerOf(APP_REGISTRY, appOrder.app);
        if (m.appOwner == address(0)) revert AppNotRegistered(appOrder.app);
        if (!_checkOrderSignature(m.appOwner, m.appHash, appOrder.sign)) {
            revert InvalidAppOrderSignature(m.appOwner, m.appHash);
        }
        if (datasetOrder.dataset != address(0)) {
            m.datasetHash = _toTypedDataHash(datasetOrder.hash());
            m.datasetOwner = _ownerOf(DATASET_REGISTRY, datasetOrder.dataset);
            if (m.datasetOwner == address(0)) revert DatasetNotRegistered(datasetOrder.dataset);
            if (!_checkOrderSignature(m.datasetOwner, m.datasetHash, datasetOrder.sign)) {
                revert InvalidDatasetOrderSignature(m.datasetOwner, m.datasetHash);
            }
        }
        m.workerpoolHash = _toTypedDataHash(workerpoolOrder.hash());
        m.workerpoolOwner = _ownerOf(WORKERPOOL_REGISTRY, workerpoolOrder.workerpool);
        if (m.workerpoolOwner == address(0)) revert WorkerpoolNotRegistered(workerpoolOrder.workerpool);
        if (!_checkOrderSignature(m.workerpoolOwner, m.workerpoolHash, workerpoolOrder.sign)) {
            revert InvalidWorkerpoolOrderSignature(m.workerpoolOwner, m.workerpoolHash);
        }
        m.requestHash = _toTypedDataHash(requestOrder.hash());
        if (!_checkOrderSignature(requestOrder.requester, m.requestHash, requestOrder.sign)) {
            revert InvalidRequestOrderSignature(requestOrder.requester, m.requestHash);
        }
    }

    /// The owner of `asset` in `registry` (its token's owner), or in the registry's previous
    /// registries (the asset's own `owner()`); zero if it is registered nowhere.
    function _ownerOf(IERC721 registry, address asset) private view returns (address) {
        try registry.ownerOf(uint160(asset)) returns (address owner) {
            return owner;
        } catch {
            if (!IRegistry(address(registry)).isRegistered(asset)) return address(0);
            return IAssetOwner(asset).owner();
        }
    }

    /// The smallest volume left among the orders, capped so that task indices fit in 56 bits,
    /// and the first order that has none left.
    function _volume(
        Match memory m,
        LibOrders.AppOrder calldata appOrder,
        LibOrders.DatasetOrder calldata datasetOrder,
        LibOrders.WorkerpoolOrder calldata workerpoolOrder,
        LibOrders.RequestOrder calldata requestOrder
    ) private view returns (uint256 volume, bytes32 exhausted) {
        HubStorage.Layout storage $ = HubStorage.get();
        volume = type(uint256).max;
        (volume, exhausted) = _left(volume, exhausted, appOrder.volume, $.consumed[m.appHash], m.appHash);
        if (datasetOrder.dataset != address(0)) {
            (volume, exhausted) =
                _left(volume, exhausted, datasetOrder.volume, $.consumed[m.datasetHash], m.datasetHash);
        }
        (volume, exhausted) =
            _left(volume, exhausted, workerpoolOrder.volume, $.consumed[m.workerpoolHash], m.workerpoolHash);
        uint256 requestConsumed = $.consumed[m.requestHash];
        (volume, exhausted) = _left(volume, exhausted, requestOrder.volume, requestConsumed, m.requestHash);
        uint256 room = requestConsumed < MAX_TASKS ? MAX_TASKS - requestConsumed : 0;
        if (volume > room) {
            volume = room;
            if (room == 0) exhausted = m.requestHash;
        }
    }

    function _left(uint256 volume, bytes32 exhausted, uint256 orderVolume, uint256 consumed, bytes32 hash)
        private
        pure
        returns (uint256, bytes32)
    {
        uint256 left = orderVolume > consumed ? orderVolume - consumed : 0;
        if (left == 0 && exhausted == 0) exhausted = hash;
        return (left < volume ? left : volume, exhausted);
    }

    /// Writes the deal (spec §3.4), leaving the optional slots untouched when they are zero.
    function _record(
        DealRecord storage deal,
        Match memory m,
        LibOrders.AppOrder calldata appOrder,
        LibOrders.DatasetOrder calldata datasetOrder,
        LibOrders.WorkerpoolOrder calldata workerpoolOrder,
        LibOrders.RequestOrder calldata requestOrder
    ) private {
        address workerpool = workerpoolOrder.workerpool;
        uint256 workerpoolPrice = workerpoolOrder.workerpoolprice;
        uint256 trust = requestOrder.trust;
        if (trust > type(uint64).max) revert TrustTooLarge(trust);
        deal.app = appOrder.app;
        deal.appPrice = _amount(appOrder.appprice);
        deal.appOwner = m.appOwner;
        deal.workerpoolPrice = _amount(workerpoolPrice);
        deal.workerpool = workerpool;
        deal.workerStake = _amount(workerpoolPrice * IWorkerpoolPolicy(workerpool).m_workerStakeRatioPolicy() / 100);
        deal.workerpoolOwner = m.workerpoolOwner;
        deal.trust = trust == 0 ? 1 : uint64(trust);
        deal.tee = m.tag & TEE_BIT != 0;
        deal.requester = requestOrder.requester;
        deal.botFirst = uint56(m.botFirst);
        deal.startTime = uint40(block.timestamp);
        deal.beneficiary = requestOrder.beneficiary;
        deal.botSize = uint56(m.volume);
        // At most 100 (Workerpool.changePolicy).
        deal.schedulerRewardRatio = uint8(IWorkerpoolPolicy(workerpool).m_schedulerRewardRatioPolicy());
        deal.category = uint32(requestOrder.category);
        if (datasetOrder.dataset != address(0)) {
            deal.dataset = datasetOrder.dataset;
            deal.datasetPrice = _amount(datasetOrder.datasetprice);
            deal.datasetOwner = m.datasetOwner;
        }
        if (requestOrder.callback != address(0)) deal.callback = requestOrder.callback;
        if (m.sponsor != requestOrder.requester) deal.sponsor = m.sponsor;
        if (m.tag != 0) deal.tag = m.tag;
        if (bytes(requestOrder.params).length != 0) deal.params = requestOrder.params;
    }

    function _amount(uint256 amount) private pure returns (uint96) {
        if (amount > type(uint96).max) revert AmountTooLarge(amount);
        return uint96(amount);
    }
}
