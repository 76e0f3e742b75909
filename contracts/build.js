#!/usr/bin/env node
// Compiles contracts/src with the pinned solc from the workspace's node_modules (see the root
// package.json) and writes one artifact per deployable contract to contracts/out/<Name>.json:
// {"abi": [...], "bytecode": "0x...", "deployedBytecode": "0x..."}, the shape alloy's `sol!`
// macro reads.
//
//   node contracts/build.js           rebuild the artifacts (compiles twice, fails if the two differ)
//   node contracts/build.js --check   fail, naming the artifact, if a committed one is stale
//
// Source names are relative to contracts/src, so the checkout's location does not leak into the
// bytecode's metadata and every machine gets the same bytes.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const root = path.resolve(here, '..');
const src = path.join(here, 'src');
const out = path.join(here, 'out');
const solc = require(path.join(root, 'node_modules', 'solc'));

// The contracts that get an artifact (contracts/out/<Name>.json), as `<path under src>/<Name>`
// for the sources in subdirectories; the other contracts and interfaces are only imported.
const DEPLOYABLE = [
  'RLC',
  'AppRegistry',
  'DatasetRegistry',
  'WorkerpoolRegistry',
  'App',
  'Dataset',
  'Workerpool',
  'hub/Hub',
  'hub/HubMarket',
  'hub/HubViews',
  // For tests only (crates/contracts/tests): the hub with its escrow internals exposed.
  'test/EscrowHarness',
  // For tests only: an ERC-1271 contract signer.
  'test/ERC1271Signer',
  // For tests only: a result callback that stores, reverts, burns its gas or returns a bomb.
  'test/CallbackConsumer',
];

// The modules the hub serves through its fallback: their ABIs are part of the hub's.
const HUB_MODULES = ['hub/HubMarket', 'hub/HubViews'];
// EIP-170's limit on deployed code.
const CODE_SIZE_LIMIT = 24576;

function findImport(name) {
  const file = path.join(root, 'node_modules', name);
  if (!fs.existsSync(file)) return { error: `not found: ${name} (run npm ci in the workspace root)` };
  return { contents: fs.readFileSync(file, 'utf8') };
}

// Every .sol file under src, keyed by its path relative to src with '/' separators.
function readSources(dir, prefix, sources) {
  const entries = fs.readdirSync(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) readSources(file, `${prefix}${entry.name}/`, sources);
    else if (entry.name.endsWith('.sol')) {
      sources[prefix + entry.name] = { content: fs.readFileSync(file, 'utf8') };
    }
  }
  return sources;
}

function compile() {
  const sources = readSources(src, '', {});
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: 'prague',
      outputSelection: {
        '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const diagnostics = output.errors || [];
  for (const e of diagnostics) process.stderr.write(e.formattedMessage);
  if (diagnostics.some((e) => e.severity === 'error')) process.exit(1);
  // Warnings fail the build too: the sources stay warning-free.
  if (diagnostics.some((e) => e.severity === 'warning')) process.exit(1);

  const artifacts = {};
  for (const entry of DEPLOYABLE) {
    const name = path.posix.basename(entry);
    const contract = output.contracts[`${entry}.sol`]?.[name];
    if (!contract) {
      console.error(`${entry}.sol does not define contract ${name}`);
      process.exit(1);
    }
    const artifact = {
      abi: contract.abi,
      bytecode: '0x' + contract.evm.bytecode.object,
      deployedBytecode: '0x' + contract.evm.deployedBytecode.object,
    };
    const size = contract.evm.deployedBytecode.object.length / 2;
    if (size > CODE_SIZE_LIMIT) {
      console.error(`${name}: ${size} bytes of code, over the ${CODE_SIZE_LIMIT}-byte limit (EIP-170)`);
      process.exit(1);
    }
    artifact.abi = entry === 'hub/Hub' ? hubAbi(output) : artifact.abi;
    artifacts[`${name}.json`] = JSON.stringify(artifact, null, 2) + '\n';
  }
  return artifacts;
}

// What a client sees at the hub's address: the hub's own ABI plus its modules' (the hub's
// fallback delegatecalls them), each function, event and error once. Fails if two of them
// define a function with the same selector's signature, which the routing could not serve.
function hubAbi(output) {
  const parts = ['hub/Hub', ...HUB_MODULES].map((entry) => output.contracts[`${entry}.sol`][path.posix.basename(entry)].abi);
  const seen = new Map();
  const abi = [];
  for (const [i, part] of parts.entries()) {
    for (const item of part) {
      if (item.type === 'fallback' || item.type === 'constructor') {
        if (i === 0) abi.push(item);
        continue;
      }
      const key = `${item.type} ${item.name}(${(item.inputs || []).map((x) => x.type).join(',')})`;
      const previous = seen.get(key);
      if (previous !== undefined) {
        if (item.type === 'function') {
          console.error(`the hub and its modules both define ${key}`);
          process.exit(1);
        }
        continue;
      }
      seen.set(key, i);
      abi.push(item);
    }
  }
  return abi;
}

const check = process.argv.includes('--check');
const artifacts = compile();
if (!check) {
  const again = compile();
  for (const file of Object.keys(artifacts)) {
    if (artifacts[file] !== again[file]) {
      console.error(`${file}: two compilations gave different output`);
      process.exit(1);
    }
  }
}

const rebuild = 'run `node contracts/build.js` and commit contracts/out';
let stale = false;
fs.mkdirSync(out, { recursive: true });
for (const [file, text] of Object.entries(artifacts)) {
  const target = path.join(out, file);
  const old = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : null;
  if (old === text) continue;
  if (check) {
    console.error(`contracts/out/${file} is ${old === null ? 'missing' : 'stale'}: ${rebuild}`);
    stale = true;
  } else {
    fs.writeFileSync(target, text);
    console.error(`wrote contracts/out/${file}`);
  }
}
for (const file of fs.readdirSync(out).filter((f) => f.endsWith('.json'))) {
  if (file in artifacts) continue;
  if (check) {
    console.error(`contracts/out/${file} has no contract in contracts/src: ${rebuild}`);
    stale = true;
  } else {
    fs.rmSync(path.join(out, file));
    console.error(`removed contracts/out/${file}`);
  }
}
if (stale) process.exit(1);
