// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Dataset} from "./Dataset.sol";
import {IRegistry, Registry} from "./Registry.sol";

/// The registry of datasets.
contract DatasetRegistry is Registry {
    constructor(IRegistry previous_)
        Registry(address(new Dataset()), previous_, "iExec Dataset Registry (V5)", "iExecDatasetsV5")
    {}

    /// Creates a dataset owned by `datasetOwner`; reverts if this owner has created the same
    /// dataset before.
    function createDataset(
        address datasetOwner,
        string calldata datasetName,
        bytes calldata datasetMultiaddr,
        bytes32 datasetChecksum
    ) external returns (Dataset) {
        return Dataset(_mintCreate(datasetOwner, _initializer(datasetName, datasetMultiaddr, datasetChecksum)));
    }

    /// The address `createDataset` gives for these arguments.
    function predictDataset(
        address datasetOwner,
        string calldata datasetName,
        bytes calldata datasetMultiaddr,
        bytes32 datasetChecksum
    ) external view returns (Dataset) {
        return Dataset(_mintPredict(datasetOwner, _initializer(datasetName, datasetMultiaddr, datasetChecksum)));
    }

    function _initializer(string calldata datasetName, bytes calldata datasetMultiaddr, bytes32 datasetChecksum)
        private
        pure
        returns (bytes memory)
    {
        return abi.encodeCall(Dataset.initialize, (datasetName, datasetMultiaddr, datasetChecksum));
    }
}
