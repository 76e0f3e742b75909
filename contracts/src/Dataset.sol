// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {RegistryEntry} from "./RegistryEntry.sol";

/// A dataset: where its (encrypted) file is and its checksum.
contract Dataset is RegistryEntry {
    string public m_datasetName;
    /// Where the file is: a multiaddr in binary form, or a URL as UTF-8 bytes.
    bytes public m_datasetMultiaddr;
    /// sha256 of the encrypted file.
    bytes32 public m_datasetChecksum;

    function initialize(string calldata datasetName, bytes calldata datasetMultiaddr, bytes32 datasetChecksum)
        external
        onlyRegistry
        initializer
    {
        m_datasetName = datasetName;
        m_datasetMultiaddr = datasetMultiaddr;
        m_datasetChecksum = datasetChecksum;
    }
}
