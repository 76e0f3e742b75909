// viem against `agora chain`: its test client (snapshot and revert, setBalance, mine,
// impersonation) and a nonce manager sending 50 transactions at once, 20 times in a row.
// Run by the Rust test `js_clients` with the node's HTTP URL as the only argument.
import assert from 'node:assert/strict';
import {
  createPublicClient,
  createTestClient,
  createWalletClient,
  http,
  parseEther,
} from 'viem';
import { nonceManager, privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';

const url = process.argv[2];
const transport = http(url);
const chain = foundry;
const test = createTestClient({ chain, mode: 'anvil', transport });
const client = createPublicClient({ chain, transport });
const who = '0x00000000000000000000000000000000000000ab';
const to = '0x00000000000000000000000000000000000000cd';

// Snapshot, change, revert.
const start = await client.getBlockNumber({ cacheTime: 0 });
const id = await test.snapshot();
await test.setBalance({ address: who, value: parseEther('5') });
assert.equal(await client.getBalance({ address: who }), parseEther('5'));
await test.mine({ blocks: 3 });
assert.equal(await client.getBlockNumber({ cacheTime: 0 }), start + 3n);
await test.revert({ id });
assert.equal(await client.getBalance({ address: who }), 0n);
assert.equal(await client.getBlockNumber({ cacheTime: 0 }), start);

// Impersonation: a JSON-RPC account the node signs for.
await test.setBalance({ address: who, value: parseEther('1') });
await test.impersonateAccount({ address: who });
const impersonated = createWalletClient({ chain, transport, account: who });
const sent = await impersonated.sendTransaction({ to, value: 1n });
const receipt = await client.waitForTransactionReceipt({ hash: sent });
assert.equal(receipt.status, 'success');
assert.equal(receipt.from.toLowerCase(), who);
await test.stopImpersonatingAccount({ address: who });

// A nonce manager: 50 parallel sends, 20 rounds, no failure.
const account = privateKeyToAccount(
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  { nonceManager },
);
const wallet = createWalletClient({ chain, transport, account });
const before = await client.getBalance({ address: to });
for (let round = 0; round < 20; round++) {
  const hashes = await Promise.all(
    Array.from({ length: 50 }, () => wallet.sendTransaction({ to, value: 1n })),
  );
  const receipts = await Promise.all(
    hashes.map((hash) => client.waitForTransactionReceipt({ hash, pollingInterval: 20 })),
  );
  assert.ok(receipts.every((r) => r.status === 'success'), `round ${round}`);
}
assert.equal(await client.getBalance({ address: to }), before + 1000n);
console.log('viem: test client and 20 x 50 parallel sends: ok');
