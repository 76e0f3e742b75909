// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {RegistryEntry} from "./RegistryEntry.sol";

/// An application: a program reference, its checksum and, for confidential runs, its enclave
/// configuration.
contract App is RegistryEntry {
    string public m_appName;
    /// The kind of program, e.g. "DOCKER" or "WASM".
    string public m_appType;
    /// Where the program is: a multiaddr in binary form, or a URL as UTF-8 bytes.
    bytes public m_appMultiaddr;
    bytes32 public m_appChecksum;
    /// Enclave configuration / fingerprint (JSON), empty for standard runs.
    bytes public m_appMREnclave;

    function initialize(
        string calldata appName,
        string calldata appType,
        bytes calldata appMultiaddr,
        bytes32 appChecksum,
        bytes calldata appMREnclave
    ) external onlyRegistry initializer {
        m_appName = appName;
        m_appType = appType;
        m_appMultiaddr = appMultiaddr;
        m_appChecksum = appChecksum;
        m_appMREnclave = appMREnclave;
    }
}
