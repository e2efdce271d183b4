'use strict';
/*
 * JsSIP side of bench/bench_parser.py. Started as a child process:
 *
 *   node bench/parser/jssip_bench.js CORPUS_DIR
 *
 * It loads every CORPUS_DIR/*.sip file as a JS string (what a WebSocket text
 * frame hands to JsSIP: UTF-8 already decoded), then answers one JSON command
 * per stdin line with one JSON line on stdout:
 *
 *   {"cmd": "info"}                          -> {"version": "3.13.8", "files": [...]}
 *   {"cmd": "time", "mode": "a", "n": 100}   -> {"elapsed": seconds, "messages": count, "sink": int}
 *   {"cmd": "values"}                        -> {"values": {file: canonical values}}
 *   {"cmd": "quit"}
 *
 * "time" parses the whole corpus n times: mode "a" reads what a UA needs on
 * every message, mode "b" calls parseHeader() on every header (see
 * bench/README.md). Only the time spent in the loop is measured.
 */
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const Parser = require('jssip/lib/Parser');
const Grammar = require('jssip/lib/Grammar');
const jssipVersion = require('jssip/package.json').version;

const corpusDir = process.argv[2];
if (!corpusDir) {
  process.stderr.write('usage: node jssip_bench.js CORPUS_DIR\n');
  process.exit(2);
}
const files = fs.readdirSync(corpusDir).filter((f) => f.endsWith('.sip')).sort();
const corpus = files.map((f) => fs.readFileSync(path.join(corpusDir, f), 'utf8'));

// Parser.parseMessage(data, ua) only stores `ua` on an IncomingRequest; no
// other property is touched while parsing, so an empty object is enough.
const UA_STUB = {};

// JsSIP's Grammar has a start rule for some header names only (parseHeader()
// throws a TypeError for the others, e.g. Allow, User-Agent, Min-SE). Which
// ones is found once per name, outside the timed loop.
const ruleCache = new Map();
function hasRule(name) {
  let ok = ruleCache.get(name);
  if (ok === undefined) {
    try {
      Grammar.parse('', name.replace(/-/g, '_'));
      ok = true;
    } catch (e) {
      ok = false;
    }
    ruleCache.set(name, ok);
  }
  return ok;
}
for (const data of corpus) {
  const m = Parser.parseMessage(data, UA_STUB);
  if (m) {
    for (const name of Object.keys(m.headers)) hasRule(name);
  }
}

// Mode (a): framing plus the headers a UA needs on every message. JsSIP parses
// Via (top), From, To, Call-ID, CSeq, Contact, Content-Length eagerly inside
// parseMessage(); reading them here costs (almost) nothing more.
function modeA(data) {
  const m = Parser.parseMessage(data, UA_STUB);
  if (!m) return 0;
  let s = 0;
  if (m.ruri) s += m.ruri.host.length;
  else s += m.status_code;
  const via = m.via;
  s += via.branch.length + via.host.length;
  s += m.from.uri.host.length + (m.from_tag ? m.from_tag.length : 0);
  s += m.to.uri.host.length + (m.to_tag ? m.to_tag.length : 0);
  s += m.call_id.length + m.cseq + m.method.length;
  const nContacts = m.getHeaders('contact').length;
  for (let i = 0; i < nContacts; i++) {
    const c = m.parseHeader('contact', i);
    if (c) s += c.uri.host.length;
  }
  const cl = m.parseHeader('content-length');
  if (cl !== undefined) s += cl;
  return s;
}

// Mode (b): every header that JsSIP's grammar can parse, every index.
function modeB(data) {
  const m = Parser.parseMessage(data, UA_STUB);
  if (!m) return 0;
  let s = m.ruri ? m.ruri.host.length : m.status_code;
  const headers = m.headers;
  for (const name in headers) {
    if (!hasRule(name)) continue;
    // parseHeader() deletes a header that fails to parse: re-read the length.
    for (let i = 0; i < headers[name].length; i++) {
      if (m.parseHeader(name, i) !== undefined) s += 1;
    }
  }
  return s;
}

function time(mode, n) {
  const fn = mode === 'a' ? modeA : modeB;
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < corpus.length; i++) sink += fn(corpus[i]);
  }
  const t1 = process.hrtime.bigint();
  return { elapsed: Number(t1 - t0) / 1e9, messages: n * corpus.length, sink };
}

// ---- canonical values (see bench/corpus/expected.json "_about") ----------
const nul = (v) => (v === undefined ? null : v);

function uriValues(u, withParams = true) {
  const out = { scheme: nul(u.scheme), user: nul(u.user), host: nul(u.host), port: nul(u.port) };
  if (withParams) {
    const params = {};
    for (const k of Object.keys(u._parameters || {})) params[k] = nul(u._parameters[k]);
    out.params = params;
  }
  return out;
}

function nameAddrValues(na) {
  return { display_name: nul(na.display_name), uri: uriValues(na.uri, false), tag: nul(na.getParam('tag')) };
}

function contactValues(na) {
  const params = {};
  for (const k of Object.keys(na._parameters || {})) params[k] = nul(na._parameters[k]);
  return { display_name: nul(na.display_name), uri: uriValues(na.uri), params };
}

function section(fn) {
  try {
    const v = fn();
    return v === undefined ? null : v;
  } catch (e) {
    return { __error__: String(e && e.message ? e.message : e) };
  }
}

// Every value of a header as JsSIP exposes it: one entry per stored header
// (Contact and Record-Route are split at commas by parseMessage(); others are
// not), each parsed with parseHeader(); undefined (a parse error) -> error.
function listValues(m, name, conv) {
  const out = [];
  const n = m.getHeaders(name).length;
  for (let i = 0; i < n; i++) {
    const p = m.parseHeader(name, i);
    out.push(p === undefined ? { __error__: `parseHeader('${name}', ${i}) failed` } : section(() => conv(p)));
  }
  return out;
}

function values(data) {
  const m = Parser.parseMessage(data, UA_STUB);
  if (!m) return { __error__: 'parseMessage() returned undefined' };
  const v = {};
  if (m.ruri) {
    v.kind = 'request';
    v.method = m.method;
    v.ruri = section(() => uriValues(m.ruri));
  } else {
    v.kind = 'response';
    v.status = m.status_code;
    v.reason = m.reason_phrase;
  }
  v.via_count = section(() => m.getHeaders('via').length);
  v.via = section(() => {
    const via = m.via;
    let rport = nul(via.rport);
    return {
      transport: via.transport,
      host: via.host,
      port: nul(via.port),
      branch: nul(via.branch),
      rport,
      received: nul(via.received),
    };
  });
  v.from = section(() => nameAddrValues(m.from));
  v.to = section(() => nameAddrValues(m.to));
  v.call_id = m.call_id;
  v.cseq = section(() => ({ seq: m.cseq, method: m.method }));
  v.contacts = section(() => listValues(m, 'contact', contactValues));
  v.content_length = section(() => m.parseHeader('content-length'));
  const routeConv = (p) => uriValues(p.uri);
  v.route = section(() => listValues(m, 'route', routeConv));
  v.record_route = section(() => listValues(m, 'record-route', routeConv));
  v.www_authenticate = section(() =>
    listValues(m, 'www-authenticate', (p) => ({
      scheme: nul(p.scheme),
      realm: nul(p.realm),
      nonce: nul(p.nonce),
      opaque: nul(p.opaque),
      algorithm: nul(p.algorithm),
      qop: nul(p.qop),
    }))
  );
  v.body_len = Buffer.byteLength(m.body || '', 'utf8');
  return v;
}

function handle(cmd) {
  switch (cmd.cmd) {
    case 'info':
      return { version: jssipVersion, node: process.version, files };
    case 'time':
      return time(cmd.mode, cmd.n);
    case 'values': {
      const out = {};
      files.forEach((f, i) => {
        out[f] = section(() => values(corpus[i]));
      });
      return { values: out };
    }
    default:
      return { error: `unknown command ${JSON.stringify(cmd.cmd)}` };
  }
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  if (cmd.cmd === 'quit') {
    rl.close();
    return;
  }
  let out;
  try {
    out = handle(cmd);
  } catch (e) {
    out = { error: String(e && e.stack ? e.stack : e) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
});
