// A web page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) that
// talks to `agora chain` over HTTP as a dapp does: it reads the block number, sends a
// transaction from a dev account and waits for its receipt. The page is served from another
// loopback port than the node's, so every call is cross-origin and the browser sends a CORS
// preflight first.
//
//   node browser.mjs RPC_URL expect-ok|expect-blocked
//
// With expect-blocked (a node started with --no-cors), the page's first fetch must fail.
// Run by the Rust test `js_clients`.
import assert from 'node:assert/strict';
import http from 'node:http';
import { chromium } from 'playwright-core';

const [rpcUrl, expectation] = process.argv.slice(2);
assert.ok(['expect-ok', 'expect-blocked'].includes(expectation), 'expect-ok or expect-blocked');

// The page: plain fetch, no library, as the lowest layer of viem's http() or ethers' provider.
const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>agora chain from a page</title></head>
<body><pre id="log"></pre>
<script>
const RPC = ${JSON.stringify(rpcUrl)};
let id = 0;
async function rpc(method, params = []) {
  const response = await fetch(RPC, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
  });
  const answer = await response.json();
  if (answer.error) throw new Error(method + ': ' + answer.error.message);
  return answer.result;
}
async function main() {
  const before = BigInt(await rpc('eth_blockNumber'));
  const [from] = await rpc('eth_accounts');
  const to = '0x00000000000000000000000000000000000000ee';
  const hash = await rpc('eth_sendTransaction', [{ from, to, value: '0x2a' }]);
  let receipt = null;
  for (let i = 0; i < 100 && receipt === null; i++) {
    receipt = await rpc('eth_getTransactionReceipt', [hash]);
    if (receipt === null) await new Promise((r) => setTimeout(r, 50));
  }
  const balance = BigInt(await rpc('eth_getBalance', [to, 'latest']));
  return { before: before.toString(), hash, status: receipt && receipt.status,
           block: receipt && BigInt(receipt.blockNumber).toString(), balance: balance.toString() };
}
window.outcome = main().then((ok) => ({ ok }), (error) => ({ error: String(error) }));
</script></body></html>`;

const server = http.createServer((request, response) => {
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  response.end(page);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const pageUrl = `http://127.0.0.1:${server.address().port}/`;
assert.notEqual(new URL(pageUrl).origin, new URL(rpcUrl).origin, 'the page must be cross-origin');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const tab = await browser.newPage();
  const consoleErrors = [];
  tab.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  await tab.goto(pageUrl);
  const outcome = await tab.evaluate(() => window.outcome);
  if (expectation === 'expect-ok') {
    assert.ok(outcome.ok, `the page failed: ${outcome.error} ${consoleErrors.join(' | ')}`);
    const { before, hash, status, block, balance } = outcome.ok;
    assert.equal(status, '0x1', 'the transaction succeeded');
    assert.ok(BigInt(block) > BigInt(before), 'mined in a new block');
    assert.equal(balance, '42');
    console.log(`browser: block ${before}, sent ${hash}, mined in block ${block}: ok`);
  } else {
    assert.ok(outcome.error, `the page should have been blocked, got ${JSON.stringify(outcome)}`);
    assert.match(outcome.error, /Failed to fetch/);
    const cors = consoleErrors.some((text) => /CORS|Access-Control-Allow-Origin/.test(text));
    assert.ok(cors, `Chromium should name CORS: ${consoleErrors.join(' | ')}`);
    console.log(`browser: blocked by CORS as expected (${outcome.error})`);
  }
} finally {
  await browser.close();
  server.close();
}
