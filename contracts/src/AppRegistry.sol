// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {App} from "./App.sol";
import {IRegistry, Registry} from "./Registry.sol";

/// The registry of apps.
contract AppRegistry is Registry {
    constructor(IRegistry previous_)
        Registry(address(new App()), previous_, "iExec Application Registry (V5)", "iExecAppsV5")
    {}

    /// Creates an app owned by `appOwner`; reverts if this owner has created the same app before.
    function createApp(
        address appOwner,
        string calldata appName,
        string calldata appType,
        bytes calldata appMultiaddr,
        bytes32 appChecksum,
        bytes calldata appMREnclave
    ) external returns (App) {
        return App(
            _mintCreate(appOwner, _initializer(appName, appType, appMultiaddr, appChecksum, appMREnclave))
        );
    }

    /// The address `createApp` gives for these arguments.
    function predictApp(
        address appOwner,
        string calldata appName,
        string calldata appType,
        bytes calldata appMultiaddr,
        bytes32 appChecksum,
        bytes calldata appMREnclave
    ) external view returns (App) {
        return App(
            _mintPredict(appOwner, _initializer(appName, appType, appMultiaddr, appChecksum, appMREnclave))
        );
    }

    function _initializer(
        string calldata appName,
        string calldata appType,
        bytes calldata appMultiaddr,
        bytes32 appChecksum,
        bytes calldata appMREnclave
    ) private pure returns (bytes memory) {
        return abi.encodeCall(App.initialize, (appName, appType, appMultiaddr, appChecksum, appMREnclave));
    }
}
