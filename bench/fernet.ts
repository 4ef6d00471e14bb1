/**
 * Token benchmark: `node bench/fernet.ts [--seconds s] [--json]` issues and opens identity tokens
 * on one core through a real key repository (3 keys, so `keys()` and its reload check are
 * counted) and prints tokens/s for issue, open with the primary key and open with the oldest
 * key, plus the token length. Each phase runs for `--seconds` (default 1) after a warm-up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encrypt } from '../src/identity/token/fernet.ts';
import { FernetKeyRepository } from '../src/identity/token/key-repository.ts';
import {
  encodeTokenPayload,
  newAuditId,
  type TokenPayload,
} from '../src/identity/token/payload.ts';
import { TokenCodec } from '../src/identity/token/token-codec.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const seconds = Math.min(Math.max(Number(values.seconds) || 1, 0.1), 10);

/** Calls `step` in batches until `seconds` have passed; returns calls per second. */
function rate(step: (i: number) => void): number {
  const budget = BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  let calls = 0;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 1000; i++) step(calls + i);
    calls += 1000;
    elapsed = process.hrtime.bigint() - start;
  }
  return Math.round(calls / (Number(elapsed) / 1e9));
}

const dir = mkdtempSync(join(tmpdir(), 'tstack-bench-fernet-'));
try {
  const repo = new FernetKeyRepository(join(dir, 'keys'));
  repo.setup();
  repo.rotate();
  const codec = new TokenCodec(repo);
  const payload: TokenPayload = {
    userId: 'c4ca4238a0b923820dcc509a6f75849b',
    methods: ['password'],
    scope: { kind: 'project', projectId: 'c81e728d9d4c2f636f067f89cc14862c' },
    expiresAtMicros: (Math.floor(Date.now() / 1000) + 3600) * 1e6 + 123_456,
    issuedAtMicros: Math.floor(Date.now() / 1000) * 1e6 + 123_456,
    auditIds: [newAuditId()],
  };
  const tokens = Array.from({ length: 1024 }, () => codec.issue(payload).token);
  const oldest = repo.keys().at(-1);
  if (oldest === undefined) throw new Error('no keys');
  const nowSeconds = Date.now() / 1000;
  const oldTokens = Array.from({ length: 1024 }, () =>
    encrypt(encodeTokenPayload(payload), oldest, nowSeconds),
  );
  const sink: unknown[] = [];
  // Warm-up so the JIT has compiled the paths before they are timed.
  for (let i = 0; i < 20_000; i++) sink[i & 7] = codec.open(tokens[i & 1023] as string);

  const figures = {
    benchmark: 'fernet',
    seconds,
    token_length: tokens[0]?.length,
    issue_per_s: rate((i) => (sink[i & 7] = codec.issue(payload))),
    open_primary_per_s: rate((i) => (sink[i & 7] = codec.open(tokens[i & 1023] as string))),
    open_oldest_key_per_s: rate((i) => (sink[i & 7] = codec.open(oldTokens[i & 1023] as string))),
    node: process.version,
  };
  console.log(`fernet: project-scoped password token, ${repo.keys().length} keys, one core`);
  console.log(`  token length        ${figures.token_length} characters`);
  console.log(`  issue               ${figures.issue_per_s} tokens/s`);
  console.log(`  open (primary key)  ${figures.open_primary_per_s} tokens/s`);
  console.log(`  open (oldest key)   ${figures.open_oldest_key_per_s} tokens/s`);
  if (values.json) console.log(JSON.stringify(figures));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
