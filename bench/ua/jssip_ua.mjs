// JsSIP side of bench/bench_ua.py: N JsSIP UAs in this one Node process.
//
//   node bench/ua/jssip_ua.mjs '<json plan>'
//
// The plan (written by bench_ua.py) names the WebSocket URL, the domain, how
// many UAs (users user0001..), the warm-up user, the settle time and the timed
// rounds. Progress goes to stderr; the result is one JSON object on stdout.
// The phases are the same as bench/ua/websip_ua.py's, in the same order:
//
//   1. warm-up: two UAs register, one sends the other a MESSAGE, both stop, so
//      that lazily loaded code is in memory before the baseline;
//   2. baseline RSS (after gc), then N UAs start (at most `start_concurrency`
//      connecting at a time) and wait for "registered";
//   3. RSS again after gc and `settle_s` idle seconds: (rss1 - rss0) / N;
//   4. register rounds: every UA re-registers `register_rounds` times in a row,
//      all UAs at once; the wall time of each repeat is recorded;
//   5. message rounds: UA i sends `message_rounds` MESSAGEs in a row to UA i+1
//      (mod N) and waits for each 200. With N = 1 the target is an extra UA
//      (`peer_user`) started after the memory figure: a UA cannot message
//      itself through the proxy (the request comes back with the same From
//      tag, Call-ID and CSeq as its own client transaction: 482 Loop Detected,
//      RFC 3261 8.2.2.2).
//
// Node 20 has no global WebSocket: JsSIP's WebSocketInterface calls
// `new WebSocket(url, 'sip')` and uses onopen/onclose/onmessage/onerror, which
// the `ws` package's class provides. The subclass below only counts the SIP
// requests sent, by method, as bench_ua.py reports requests per operation.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const JsSIP = require('jssip');
const { WebSocket } = require('ws');

const plan = JSON.parse(process.argv[2]);
const sent = {};

class CountingWebSocket extends WebSocket {
  send(data, ...rest) {
    if (typeof data === 'string') {
      const sp = data.indexOf(' ');
      const first = sp > 0 ? data.slice(0, sp) : data;
      if (first !== 'SIP/2.0') sent[first] = (sent[first] || 0) + 1;
    }
    return super.send(data, ...rest);
  }
}
globalThis.WebSocket = CountingWebSocket;

const log = (msg) => process.stderr.write(`[jssip] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rss = () => process.memoryUsage().rss;
const userName = (i) => `user${String(i).padStart(4, '0')}`;
const aor = (i) => `sip:${userName(i)}@${plan.domain}`;

function gc() {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
}

function takeSent() {
  const out = { ...sent };
  for (const k of Object.keys(sent)) delete sent[k];
  return out;
}

function makeUA(index) {
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(plan.url)],
    uri: aor(index),
    password: `${userName(index)}pw`,
    register: true,
    register_expires: 600,
    connection_recovery_min_interval: 2,
    connection_recovery_max_interval: 30,
  });
  // Without a newMessage listener JsSIP answers MESSAGE with 405.
  ua.on('newMessage', () => {});
  ua.pending = null;
  ua.on('registered', () => settle(ua, null));
  ua.on('registrationFailed', (e) => settle(ua, `registrationFailed: ${e.cause}`));
  ua.on('disconnected', (e) => {
    if (e && e.error) settle(ua, 'disconnected');
  });
  return ua;
}

function settle(ua, error) {
  const p = ua.pending;
  ua.pending = null;
  if (p) (error ? p.reject(new Error(error)) : p.resolve());
}

function waitRegistered(ua, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ua.pending = null;
      reject(new Error('timeout waiting for registered'));
    }, timeoutMs);
    ua.pending = {
      resolve: () => { clearTimeout(timer); resolve(); },
      reject: (e) => { clearTimeout(timer); reject(e); },
    };
  });
}

async function startUA(ua) {
  const done = waitRegistered(ua, plan.timeout_s * 1000);
  ua.start();
  await done;
}

// A refresh: JsSIP emits "registered" only when it was not registered before,
// so the flag is cleared first; the REGISTER itself is JsSIP's own (a new
// RequestSender, hence the 401 round every time, as JsSIP always does).
async function reRegister(ua) {
  const done = waitRegistered(ua, plan.timeout_s * 1000);
  ua._registrator._registered = false;
  ua.register();
  await done;
}

function sendMessage(ua, target, body) {
  return new Promise((resolve, reject) => {
    ua.sendMessage(target, body, {
      contentType: 'text/plain',
      eventHandlers: {
        succeeded: () => resolve(),
        failed: (e) => reject(new Error(`MESSAGE failed: ${e.cause}${e.response ? ` (${e.response.status_code} ${e.response.reason_phrase})` : ""}`)),
      },
    });
  });
}

async function limited(items, concurrency, fn) {
  let next = 0;
  const errors = [];
  async function worker() {
    while (next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        errors.push(String(e && e.message ? e.message : e));
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return errors;
}

async function timedRounds(uas, rounds, op) {
  const t0 = process.hrtime.bigint();
  const errors = [];
  await Promise.all(uas.map(async (ua, i) => {
    for (let r = 0; r < rounds; r++) {
      try {
        await op(ua, i, r);
      } catch (e) {
        errors.push(String(e.message || e));
      }
    }
  }));
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  return { elapsed, ops: uas.length * rounds - errors.length, errors: errors.length, first_error: errors[0] || null };
}

async function main() {
  const n = plan.n;
  const result = {
    side: 'jssip',
    version: require('jssip/package.json').version,
    ws_version: require('ws/package.json').version,
    node: process.version,
    n,
  };

  // 1. warm-up
  const warm = makeUA(plan.warmup_user);
  const warmPeer = makeUA(plan.peer_user);
  await Promise.all([startUA(warm), startUA(warmPeer)]);
  await sendMessage(warm, aor(plan.peer_user), 'warm-up');
  warm.stop();
  warmPeer.stop();
  await sleep(300);
  takeSent();

  // 2. baseline, start N UAs
  gc();
  await sleep(plan.settle_s * 1000);
  gc();
  const rss0 = rss();
  const heap0 = process.memoryUsage().heapUsed;
  const indexes = Array.from({ length: n }, (_, i) => plan.first_user + i);
  const uas = new Array(n);
  const t0 = process.hrtime.bigint();
  const startErrors = await limited(indexes.map((idx, i) => [idx, i]), plan.start_concurrency, async ([idx, i]) => {
    uas[i] = makeUA(idx);
    await startUA(uas[i]);
  });
  result.start_s = Number(process.hrtime.bigint() - t0) / 1e9;
  result.start_errors = startErrors.length;
  if (startErrors.length) {
    result.first_error = startErrors[0];
    log(`${startErrors.length} UAs failed to register: ${startErrors[0]}`);
  }
  result.start_sent = takeSent();
  log(`${n - startErrors.length}/${n} registered in ${result.start_s.toFixed(2)} s`);

  // 3. idle memory
  gc();
  await sleep(plan.settle_s * 1000);
  gc();
  const rss1 = rss();
  result.rss_before = rss0;
  result.rss_after = rss1;
  result.heap_before = heap0;
  result.heap_after = process.memoryUsage().heapUsed;
  result.registered = n - startErrors.length;

  if (startErrors.length === 0) {
    // 4. register rounds
    result.register = [];
    for (let rep = 0; rep < plan.repeats && plan.register_rounds > 0; rep++) {
      const r = await timedRounds(uas, plan.register_rounds, (ua) => reRegister(ua));
      r.sent = takeSent();
      result.register.push(r);
      log(`register: ${r.ops} in ${r.elapsed.toFixed(3)} s (${(r.ops / r.elapsed).toFixed(0)}/s)`);
    }
    // 5. message rounds
    let peer = null;
    if (n === 1) {
      peer = makeUA(plan.peer_user);
      await startUA(peer);
      takeSent();
    }
    const target = (i) => aor(n === 1 ? plan.peer_user : plan.first_user + ((i + 1) % n));
    result.message = [];
    for (let rep = 0; rep < plan.repeats && plan.message_rounds > 0; rep++) {
      const r = await timedRounds(uas, plan.message_rounds, (ua, i, k) =>
        sendMessage(ua, target(i), `bench ${i} ${k}`));
      r.sent = takeSent();
      result.message.push(r);
      log(`message: ${r.ops} in ${r.elapsed.toFixed(3)} s (${(r.ops / r.elapsed).toFixed(0)}/s)`);
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // Closing the sockets is enough: Kamailio drops the bindings of a closed
  // WebSocket (usrloc handle_lost_tcp), and N graceful un-REGISTERs are not
  // part of any measurement.
  process.exit(0);
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ side: 'jssip', error: String(e && e.stack ? e.stack : e) })}\n`);
  process.exit(1);
});
