#!/usr/bin/env node
// A kill-switch listener in Node.js speaking the v1 profile (SPEC.md §4.2),
// tested by the conformance suite over stdin/stdout:
//
//   killswitch conform --cmd "node examples/node-v1/listener.js"
//
// Only Node's built-in modules: `crypto` verifies Ed25519, ES256 (raw r||s,
// dsaEncoding 'ieee-p1363') and RS256. Durable state is a journal of JSON
// lines in the state directory (one append per accepted command, replayed on
// restart): no SQLite. It offers the optional watchdog (SPEC.md §9) and honours
// revoked key ids (KS-070). Protocol reference: conformance/PROTOCOL.md.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const DOMAIN = Buffer.from('killswitch/v1\n', 'utf8');
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HALF_N = P256_N / 2n;
const MEMBERS = [
  'v', 'command_id', 'command_type', 'target_instance_id', 'target_asset_id', 'issued_by',
  'issued_at', 'expires_at', 'reason', 'cascade', 'grace_period_seconds', 'nonce', 'sequence',
  'key_id', 'signature_algorithm', 'signature',
];
const NON_EMPTY = [
  'command_id', 'target_instance_id', 'issued_by', 'nonce', 'key_id', 'signature_algorithm',
];
const ALGORITHMS = new Set(['Ed25519', 'ES256', 'RS256']);
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|([+-])(\d{2}):(\d{2}))$/;
const TWO_63 = 2 ** 63;

class Reject extends Error {
  constructor(reason, detail) {
    super(detail || reason);
    this.reason = reason;
  }
}

// -- canonical JSON (RFC 8785 for strings, booleans, null and safe integers) ------------

function jcs(obj) {
  const keys = Object.keys(obj).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + JSON.stringify(obj[k])).join(',') + '}';
}

// -- decoding (KS-060 .. KS-067) -------------------------------------------------------

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function codePoints(s) {
  let n = 0;
  for (const _ of s) n++; // eslint-disable-line no-unused-vars
  return n;
}

function parseTime(text, name) {
  const m = typeof text === 'string' && TIMESTAMP.exec(text);
  if (!m) throw new Reject('MALFORMED', `${name} is not an RFC 3339 timestamp with a zone`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const monthDays = [31, (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28,
    31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > monthDays[month - 1]
      || hour > 23 || minute > 59 || second > 59) {
    throw new Reject('MALFORMED', `${name} is not a valid date and time`);
  }
  let offset = 0;
  if (m[8] !== 'Z') {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) throw new Reject('MALFORMED', `${name} has an invalid offset`);
    offset = (m[9] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC: it maps years 0-99 to 1900-1999
  date.setUTCHours(hour, minute, second, 0);
  const fraction = m[7] ? Number('0' + m[7]) : 0;
  return date.getTime() / 1000 + fraction - offset;
}

function isInteger(value) {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < TWO_63;
}

function decode(raw, maxBytes) {
  if (raw.length > maxBytes) throw new Reject('MALFORMED', `${raw.length} bytes exceeds ${maxBytes}`);
  let text;
  let obj;
  try {
    text = utf8.decode(raw);
    obj = JSON.parse(text);
  } catch (e) {
    throw new Reject('MALFORMED', 'not UTF-8 JSON');
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new Reject('MALFORMED', 'not a JSON object');
  }
  const keys = Object.keys(obj);
  if (keys.length !== MEMBERS.length || !MEMBERS.every((k) => Object.hasOwn(obj, k))) {
    throw new Reject('MALFORMED', 'v1 needs exactly its 16 members');
  }
  if (obj.v !== 1) throw new Reject('MALFORMED', 'v must be 1');
  for (const name of [...NON_EMPTY, 'command_type', 'issued_at', 'expires_at', 'signature']) {
    const value = obj[name];
    if (typeof value !== 'string' || value.length === 0 || codePoints(value) > 1024) {
      throw new Reject('MALFORMED', `${name} must be a string of 1 to 1024 characters`);
    }
  }
  if (typeof obj.reason !== 'string' || codePoints(obj.reason) > 1024) {
    throw new Reject('MALFORMED', 'reason must be a string of at most 1024 characters');
  }
  const asset = obj.target_asset_id;
  if (asset !== null && (typeof asset !== 'string' || asset.length === 0 || codePoints(asset) > 1024)) {
    throw new Reject('MALFORMED', 'target_asset_id must be null or a non-empty string');
  }
  for (const key of keys) {
    if (typeof obj[key] === 'string' && !obj[key].isWellFormed()) {
      throw new Reject('MALFORMED', `${key} holds a lone surrogate`);
    }
  }
  if (typeof obj.cascade !== 'boolean') throw new Reject('MALFORMED', 'cascade must be a boolean');
  if (!isInteger(obj.grace_period_seconds) || !isInteger(obj.sequence)) {
    throw new Reject('MALFORMED', 'grace_period_seconds and sequence must be integers in [0, 2^63)');
  }
  if (!['TERMINATE', 'PAUSE', 'RESUME'].includes(obj.command_type)) {
    throw new Reject('MALFORMED', 'command_type must be TERMINATE, PAUSE or RESUME');
  }
  if (!/^(?:[0-9a-f]{2})+$/.test(obj.signature)) {
    throw new Reject('MALFORMED', 'signature must be lowercase hex');
  }
  // The wire must be the JCS form (KS-066): then the bytes we verify encode exactly
  // the values we act on (no duplicate members, no lossy numbers, no other spelling).
  if (jcs(obj) !== text) throw new Reject('MALFORMED', 'not the canonical (JCS) wire form');
  const issued = parseTime(obj.issued_at, 'issued_at');
  const expires = parseTime(obj.expires_at, 'expires_at');
  const signature = Buffer.from(obj.signature, 'hex');
  const unsigned = { ...obj };
  delete unsigned.signature;
  const signed = Buffer.concat([DOMAIN, Buffer.from(jcs(unsigned), 'utf8')]);
  return { command: obj, issued, expires, signature, signed };
}

// -- keys and signatures (KS-068, KS-069) ----------------------------------------------

function loadKey(entry) {
  const key = crypto.createPublicKey(entry.public_pem);
  const details = key.asymmetricKeyDetails || {};
  const ok = (entry.algorithm === 'Ed25519' && key.asymmetricKeyType === 'ed25519')
    || (entry.algorithm === 'ES256' && key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1')
    || (entry.algorithm === 'RS256' && key.asymmetricKeyType === 'rsa' && details.modulusLength >= 2048);
  if (!ok) throw new Error(`key ${entry.key_id} is not a valid ${entry.algorithm} key`);
  return { algorithm: entry.algorithm, key };
}

function verify(envelope, trusted) {
  const cmd = envelope.command;
  if (!ALGORITHMS.has(cmd.signature_algorithm)) throw new Reject('UNSUPPORTED_ALGORITHM');
  const entry = trusted.get(cmd.key_id);
  if (!entry) throw new Reject('UNKNOWN_KEY');
  if (entry.algorithm !== cmd.signature_algorithm) throw new Reject('UNSUPPORTED_ALGORITHM');
  const sig = envelope.signature;
  let valid = false;
  try {
    valid = checkSignature(entry, envelope, sig);
  } catch (e) {
    if (e instanceof Reject) throw e;
    valid = false; // e.g. an RSA signature of the wrong length
  }
  if (!valid) throw new Reject('BAD_SIGNATURE');
}

function checkSignature(entry, envelope, sig) {
  let valid;
  if (entry.algorithm === 'Ed25519') {
    valid = sig.length === 64 && crypto.verify(null, envelope.signed, entry.key, sig);
  } else if (entry.algorithm === 'ES256') {
    if (sig.length !== 64) throw new Reject('BAD_SIGNATURE');
    const r = BigInt('0x' + sig.subarray(0, 32).toString('hex'));
    const s = BigInt('0x' + sig.subarray(32).toString('hex'));
    if (r <= 0n || r >= P256_N || s <= 0n || s > HALF_N) throw new Reject('BAD_SIGNATURE');
    valid = crypto.verify('sha256', envelope.signed, { key: entry.key, dsaEncoding: 'ieee-p1363' }, sig);
  } else {
    valid = crypto.verify('sha256', envelope.signed,
      { key: entry.key, padding: crypto.constants.RSA_PKCS1_PADDING }, sig);
  }
  return valid;
}

// -- one agent: state table, replay store, watermark (§3, §7, §8) -----------------------

const TRANSITIONS = {
  RUNNING: { PAUSE: 'PAUSED', RESUME: 'NOT_PAUSED', TERMINATE: 'TERMINATING' },
  PAUSED: { PAUSE: 'PAUSED', RESUME: 'RUNNING', TERMINATE: 'TERMINATING' },
  TERMINATING: { PAUSE: 'ALREADY_TERMINATED', RESUME: 'ALREADY_TERMINATED', TERMINATE: 'ALREADY_TERMINATED' },
  TERMINATED: { PAUSE: 'ALREADY_TERMINATED', RESUME: 'ALREADY_TERMINATED', TERMINATE: 'ALREADY_TERMINATED' },
};
const STATES = new Set(['RUNNING', 'PAUSED', 'TERMINATING', 'TERMINATED']);

class Agent {
  constructor(id, startedAt) {
    this.id = id;
    this.record = { state: 'RUNNING', sequence: null, issued: null, hardKillAt: null };
    this.seen = new Map(); // command id or nonce -> drop_after
    this.nextDrop = Infinity; // the earliest drop_after in `seen`: no sweep before it
    // Watchdog (KS-182): counts from the listener's start, also after a restart; not journaled.
    this.lastHeard = startedAt;
  }

  prune(now) {
    if (now <= this.nextDrop) return; // nothing can be dropped yet: skip the sweep
    let next = Infinity;
    for (const [key, dropAfter] of this.seen) {
      if (dropAfter < now) this.seen.delete(key);
      else next = Math.min(next, dropAfter);
    }
    this.nextDrop = next;
  }

  isSeen(cmd) {
    return this.seen.has('i:' + cmd.command_id) || this.seen.has('n:' + cmd.nonce);
  }

  // Steps 10-12 for a verified, valid, fresh command. Returns the reason or null.
  apply(cmd, issued, now, dropAfter, policy, journal) {
    const rec = this.record;
    if (cmd.command_type !== 'TERMINATE' && rec.sequence !== null && cmd.sequence <= rec.sequence) {
      return 'STALE';
    }
    const next = TRANSITIONS[rec.state][cmd.command_type];
    const watermark = {
      sequence: rec.sequence === null ? cmd.sequence : Math.max(rec.sequence, cmd.sequence),
      issued: rec.issued === null ? issued : Math.max(rec.issued, issued),
    };
    if (!STATES.has(next)) {
      if (next === 'NOT_PAUSED') { // recorded with its watermark (KS-141, KS-163)
        this.commit(cmd, dropAfter, { ...rec, ...watermark }, journal);
      }
      return next;
    }
    let hardKillAt = rec.hardKillAt;
    if (cmd.command_type === 'TERMINATE') {
      hardKillAt = now + Math.min(cmd.grace_period_seconds, policy.max_grace_s);
    }
    this.commit(cmd, dropAfter, { state: next, ...watermark, hardKillAt }, journal);
    return null;
  }

  commit(cmd, dropAfter, record, journal) {
    journal.append({ a: this.id, id: cmd.command_id, n: cmd.nonce, d: dropAfter, r: record });
    this.remember(cmd.command_id, cmd.nonce, dropAfter);
    this.record = record;
  }

  observed() {
    return { state: this.record.state, hard_kill_at: this.record.hardKillAt };
  }

  remember(id, nonce, dropAfter) {
    this.seen.set('i:' + id, dropAfter);
    this.seen.set('n:' + nonce, dropAfter);
    this.nextDrop = Math.min(this.nextDrop, dropAfter);
  }

  tick(now, policy, journal) {
    const rec = this.record;
    const timeout = policy.watchdog_timeout_s;
    if (timeout != null && rec.state === 'RUNNING' && now - this.lastHeard >= timeout) {
      this.record = { ...rec, state: 'PAUSED' }; // KS-181: silence for T halts
      journal.append({ a: this.id, r: this.record });
    }
    if (rec.state === 'TERMINATING' && rec.hardKillAt !== null && now >= rec.hardKillAt) {
      this.record = { ...rec, state: 'TERMINATED' };
      journal.append({ a: this.id, r: this.record });
    }
  }
}

// -- durable journal: one JSON line per change, replayed on restart -----------------------

class Journal {
  constructor(dir) {
    this.file = path.join(dir, 'journal.jsonl');
    this.fd = fs.openSync(this.file, 'a');
  }

  append(entry) {
    fs.writeSync(this.fd, JSON.stringify(entry) + '\n');
  }

  static load(dir, agents) {
    const file = path.join(dir, 'journal.jsonl');
    if (!fs.existsSync(file)) return;
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch (e) {
        continue; // a torn last line: that acceptance was never reported
      }
      const agent = agents.get(entry.a);
      if (!agent) continue;
      if (entry.id !== undefined) agent.remember(entry.id, entry.n, entry.d);
      agent.record = entry.r;
    }
  }

  close() {
    fs.closeSync(this.fd);
  }
}

// -- the listener: decision order of SPEC.md §6 -------------------------------------------

class Listener {
  // startedAt: when this listener starts (the watchdog's first last_heard).
  constructor(config, startedAt) {
    this.config = config;
    this.policy = config.policy;
    this.now = startedAt; // the latest time the harness told us
    // A revoked id is never trusted, even when a key is still listed under it (KS-070).
    const revoked = new Set(config.revoked_key_ids || []);
    this.trusted = new Map();
    for (const entry of config.trusted_keys) {
      if (!revoked.has(entry.key_id)) this.trusted.set(entry.key_id, loadKey(entry));
    }
    this.children = new Map();
    this.agents = new Map([[config.instance_id, new Agent(config.instance_id, startedAt)]]);
    for (const [parent, child] of config.hierarchy) {
      if (!this.children.has(parent)) this.children.set(parent, []);
      this.children.get(parent).push(child);
      for (const id of [parent, child]) {
        if (!this.agents.has(id)) this.agents.set(id, new Agent(id, startedAt));
      }
    }
    Journal.load(config.state_dir, this.agents);
    this.journal = new Journal(config.state_dir);
  }

  close() {
    this.journal.close();
  }

  agent(id) {
    const agent = this.agents.get(id || this.config.instance_id);
    if (!agent) throw new Error(`unknown agent ${id}`);
    return agent;
  }

  deliver(raw, now, to) {
    const agent = this.agent(to);
    this.advance(now); // a deadline due by now fires before the bytes are looked at
    try {
      const envelope = decode(raw, this.policy.max_message_bytes);
      verify(envelope, this.trusted);
      const cmd = envelope.command;
      const { issued, expires } = envelope;
      const policy = this.policy;
      const assetOk = cmd.target_asset_id === null || cmd.target_asset_id === this.config.asset_id;
      const instanceOk = cmd.target_instance_id === agent.id
        || (cmd.target_instance_id === '*' && policy.allow_wildcard);
      if (!assetOk || !instanceOk) throw new Reject('NOT_FOR_THIS_AGENT');
      if (expires <= issued) throw new Reject('MALFORMED', 'expires_at is not after issued_at');
      if (expires - issued > policy.max_lifetime_s) throw new Reject('LIFETIME_TOO_LONG');
      if (issued - policy.clock_skew_s > now) throw new Reject('NOT_YET_VALID');
      if (now >= expires + policy.clock_skew_s) throw new Reject('EXPIRED');
      agent.prune(now);
      if (agent.isSeen(cmd)) throw new Reject('REPLAY');
      // Fresh and authentic (steps 1-9 passed): only now may it feed the watchdog
      // (KS-183), whatever ordering and the state table decide next.
      agent.lastHeard = now;
      const reason = agent.apply(cmd, issued, now, expires + policy.clock_skew_s, policy, this.journal);
      if (reason) throw new Reject(reason);
      if (cmd.cascade) this.cascade(agent.id, cmd, issued, expires, now);
      return { accepted: true, reason: null, ...agent.observed() };
    } catch (e) {
      const reason = e instanceof Reject ? e.reason : 'MALFORMED';
      return { accepted: false, reason, ...agent.observed() };
    }
  }

  // Agent-side cascade (KS-201, KS-206): children before their parent, through
  // replay, ordering and the state table of each child.
  cascade(target, cmd, issued, expires, now) {
    const order = [];
    const visit = (id) => {
      for (const child of this.children.get(id) || []) {
        visit(child);
        order.push(child);
      }
    };
    visit(target);
    const dropAfter = Math.max(now, expires + this.policy.clock_skew_s);
    for (const id of order) {
      const child = this.agents.get(id);
      if (!child.isSeen(cmd)) child.apply(cmd, issued, now, dropAfter, this.policy, this.journal);
    }
  }

  advance(now) {
    this.now = Math.max(this.now, now);
    for (const agent of this.agents.values()) agent.tick(now, this.policy, this.journal);
  }
}

// -- the protocol loop -------------------------------------------------------------------

const CAPABILITIES = {
  name: 'node-v1 example listener',
  clock: 'injected',
  profiles: ['v1'],
  algorithms: ['Ed25519', 'ES256', 'RS256'],
  features: ['pause', 'cascade', 'watchdog'],
  transports: ['sse', 'poll', 'file'],
  reasons: true,
};

let listener = null;

function handle(msg) {
  switch (msg.type) {
    case 'describe':
      return { type: 'describe_ok', capabilities: CAPABILITIES };
    case 'init':
      if (listener) listener.close();
      listener = new Listener(msg.config, msg.config.start_time);
      return { type: 'init_ok' };
    case 'deliver': {
      const raw = Buffer.from(msg.raw_b64, 'base64');
      return { type: 'deliver_ok', ...listener.deliver(raw, msg.now, msg.to) };
    }
    case 'state':
      return { type: 'state_ok', state: listener.agent(msg.agent).record.state };
    case 'advance':
      listener.advance(msg.now);
      return { type: 'advance_ok' };
    case 'restart': {
      // As if the process died: drop everything in memory, reload from disk. The
      // new listener starts now, the latest time we were told.
      const { config, now } = listener;
      listener.close();
      listener = new Listener(config, now);
      return { type: 'restart_ok' };
    }
    default:
      throw new Error(`unknown message type ${msg.type}`);
  }
}

const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on('line', (line) => {
  if (!line.trim()) return;
  let msg = {};
  let reply;
  try {
    msg = JSON.parse(line);
    reply = handle(msg);
  } catch (e) {
    process.stderr.write(`error: ${e.stack || e}\n`);
    reply = { type: 'error', text: String(e.message || e) };
  }
  process.stdout.write(JSON.stringify({ ...reply, in_reply_to: msg.id }) + '\n');
});
