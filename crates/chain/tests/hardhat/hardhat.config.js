// A Hardhat 2 project whose tests run unchanged against Hardhat's own network and against
// `agora chain` (`--network agora`, the node's URL in AGORA_RPC_URL, its dev accounts used as
// Hardhat's remote accounts). Run by crates/chain/tests/it/js_clients.rs.
const path = require("node:path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

require("@nomicfoundation/hardhat-chai-matchers");
require("@nomicfoundation/hardhat-ethers");

const solc = require("solc");

// Hardhat would download its compiler: use the workspace's pinned solcjs instead.
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async ({ solcVersion }) => {
  const longVersion = solc.version();
  if (!longVersion.startsWith(`${solcVersion}+`)) {
    throw new Error(`the workspace's solcjs is ${longVersion}, the project asks for ${solcVersion}`);
  }
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: solcVersion,
    longVersion,
  };
});

// Compiled artifacts go outside the source tree (a fresh folder per run from the Rust test).
const out = process.env.HARDHAT_OUT_DIR || path.join(require("node:os").tmpdir(), "agora-hardhat");

module.exports = {
  solidity: "0.8.37",
  paths: {
    cache: path.join(out, "cache"),
    artifacts: path.join(out, "artifacts"),
  },
  networks: {
    agora: {
      url: process.env.AGORA_RPC_URL || "http://127.0.0.1:8545",
    },
  },
  mocha: { timeout: 60000 },
};
