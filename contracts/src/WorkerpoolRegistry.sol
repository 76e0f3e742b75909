// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Workerpool} from "./Workerpool.sol";
import {IRegistry, Registry} from "./Registry.sol";

/// The registry of workerpools.
contract WorkerpoolRegistry is Registry {
    constructor(IRegistry previous_)
        Registry(address(new Workerpool()), previous_, "iExec Workerpool Registry (V5)", "iExecWorkerpoolV5")
    {}

    /// Creates a workerpool owned by `workerpoolOwner`; reverts if this owner has created the same
    /// workerpool before.
    function createWorkerpool(address workerpoolOwner, string calldata workerpoolDescription)
        external
        returns (Workerpool)
    {
        return Workerpool(_mintCreate(workerpoolOwner, abi.encodeCall(Workerpool.initialize, (workerpoolDescription))));
    }

    /// The address `createWorkerpool` gives for these arguments.
    function predictWorkerpool(address workerpoolOwner, string calldata workerpoolDescription)
        external
        view
        returns (Workerpool)
    {
        return
            Workerpool(_mintPredict(workerpoolOwner, abi.encodeCall(Workerpool.initialize, (workerpoolDescription))));
    }
}
