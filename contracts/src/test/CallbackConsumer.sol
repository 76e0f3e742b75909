// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// For tests only: a result callback (EIP-1154 consumer) that, depending on `mode`, stores what
/// it receives, reverts, burns all the gas it is given, or returns a huge buffer.
contract CallbackConsumer {
    enum Mode {
        STORE,
        REVERT,
        BURN,
        RETURN_BOMB
    }

    Mode public mode;
    bytes32 public lastTask;
    bytes public lastResult;
    uint256 public calls;

    error Refused(bytes32 taskid);

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function receiveResult(bytes32 taskid, bytes calldata results) external {
        if (mode == Mode.REVERT) revert Refused(taskid);
        if (mode == Mode.BURN) {
            while (true) {
                calls += 1;
            }
        }
        if (mode == Mode.RETURN_BOMB) {
            assembly {
                return(0, 1000000)
            }
        }
        lastTask = taskid;
        lastResult = results;
        calls += 1;
    }
}
