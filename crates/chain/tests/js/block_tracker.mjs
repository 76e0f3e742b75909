// MetaMask's block-tracker pattern with ethers 6 against `agora chain`: a wallet polls the head,
// remembers the last block it saw, and pins every "latest" read to that number, which is up to
// 20 s old. On automine every transaction is a block, so by the time the read arrives the
// pinned block is several blocks behind the head. Here the reads are pinned to a block 10
// blocks behind the head and must answer what they answered when that block was the head:
// balance, nonce, code, storage and a contract call.
//
//   node block_tracker.mjs RPC_URL
//
// Run by the Rust test `js_clients`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Contract, ContractFactory, JsonRpcProvider } from 'ethers';

const url = process.argv[2];
const provider = new JsonRpcProvider(url, undefined, { cacheTimeout: -1, polling: false });
const signer = await provider.getSigner(0);
const probe = JSON.parse(
  readFileSync(new URL('../fixtures/Probe.json', import.meta.url), 'utf8'),
);
const factory = new ContractFactory(probe.abi, probe.bytecode, signer);
const deployed = await factory.deploy();
await deployed.waitForDeployment();
const address = await deployed.getAddress();
const contract = new Contract(address, probe.abi, signer);
const payee = '0x00000000000000000000000000000000000000f1';

await (await signer.sendTransaction({ to: payee, value: 7n })).wait();
await (await contract.store(1n, 100n)).wait();

// What the wallet's block tracker saw last, and what reads at that block answer now.
const seen = await provider.getBlockNumber();
const read = async (blockTag) => ({
  balance: await provider.getBalance(payee, blockTag),
  nonce: await provider.getTransactionCount(signer.address, blockTag),
  code: await provider.getCode(address, blockTag),
  slot: await contract.values(1n, { blockTag }),
  owner: await contract.owner({ blockTag }),
});
const then = await read(seen);

// Ten more blocks, each changing what the reads see.
for (let i = 0; i < 5; i++) {
  await (await signer.sendTransaction({ to: payee, value: 1n })).wait();
  await (await contract.store(1n, 200n + BigInt(i))).wait();
}
const head = await provider.getBlockNumber();
assert.equal(head, seen + 10, 'ten blocks were mined');

const pinned = await read(seen);
assert.deepEqual(pinned, then, 'a read pinned 10 blocks back answers as it did then');
const now = await read('latest');
assert.equal(now.balance, then.balance + 5n);
assert.equal(now.slot, 204n);
assert.equal(pinned.slot, 100n);
// The same through the raw method MetaMask sends, with the block as a hex number.
const raw = await provider.send('eth_getBalance', [payee, `0x${seen.toString(16)}`]);
assert.equal(BigInt(raw), then.balance);
console.log(`block tracker: reads pinned to block ${seen} with the head at ${head}: ok`);
