/**
 * npm run bench:stir: what our own STIR/SHAKEN verification adds to a screening, with the signing certificate
 * cached (the common case: a carrier signs with one certificate for hours). 10,000 distinct signed calls
 * (caller, called number, iat and origid differ) are screened on a trunk with `stir: verify` and, in the same
 * run and taking turns in blocks, on the same trunk without it; beside them the minimal app doing the same
 * cryptographic work: jose's ES256 verification of each PASSporT with the key already at hand.
 * Then the throughput of one process, BENCH_CONCURRENCY calls in flight. Uses its own key prefix and cleans up.
 * Options (env): BENCH_CALLS=10000  BENCH_CONCURRENCY=64  BENCH_BLOCK=500 (calls per turn of each trunk; 1: call by call)
 */
import { createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import IORedis from 'ioredis';
import { compactVerify, decodeJwt, decodeProtectedHeader } from 'jose';
import { loadConfig } from '../services/common/config';
import { createLogger } from '../services/common/logger';
import { openListAdmin, openScreening } from '../services/screening';
import { seedEntries } from '../services/screening/seed';
import type { ScreeningRequest } from '../services/screening/verdict';
import { verifySignature } from '../services/stir/passport';
import { identityHeader, makePki, signPassport, startRepository, stirSettings } from '../test/support/stir-pki';
import { fmt, report, summarize } from './stats';

const calls = Number(process.env.BENCH_CALLS ?? 10000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64);
const TARGET_ADDED_P99_MS = 0.3;
const BLOCK = Number(process.env.BENCH_BLOCK ?? 500);

async function main(): Promise<void> {
  const pki = await makePki();
  const repo = await startRepository(pki);
  repo.routes.set('/sp.pem', { body: pki.chainPem, cacheControl: 'max-age=86400' });
  const x5u = `${repo.base}/sp.pem`;
  const prefix = `benchstir${randomBytes(3).toString('hex')}:`;
  const us = { country: 'US', international: false, identityHeaders: ['P-Asserted-Identity', 'From'] };
  const config = loadConfig({
    overrides: {
      log: { level: 'warn' },
      redis: { keyPrefix: prefix },
      trunks: { 'us-verify': { ...us, stir: 'verify' }, 'us-plain': us },
      stir: stirSettings(repo),
    },
  });
  const logger = createLogger({ level: 'warn' });
  const admin = await openListAdmin(config, logger);
  await admin.admin.import(seedEntries(admin.brands), { replace: { origin: 'seed' } });
  await admin.close();
  const screening = await openScreening(config, logger);
  await screening.store.whenIndexed();

  process.stdout.write(`signing ${calls} distinct PASSporTs … `);
  const now = Math.floor(Date.now() / 1000);
  const requests: { caller: string; called: string; identity: string; token: string }[] = [];
  for (let i = 0; i < calls; i++) {
    // callers on no list (most calls), every 20th one Amazon's own number
    const caller = i % 20 === 0 ? '18882804331' : String(12025550000 + ((i * 7919) % 9999999));
    const called = String(13125550000 + (i % 5000));
    const token = await signPassport(pki.leaf.keyPem, {
      orig: caller,
      dest: [called],
      x5u,
      iat: now - (i % 30),
      origid: randomUUID(),
    });
    requests.push({ caller, called, identity: identityHeader(token, x5u), token });
  }
  console.log('done');
  const request = (r: (typeof requests)[number], trunk: string): ScreeningRequest => ({
    from: `<sip:+${r.caller}@carrier.example>`,
    to: `+${r.called}`,
    trunk,
    identityValues: [r.identity],
    identityHeader: true,
  });

  // warm-up: the certificate is fetched and its chain checked once; the JIT sees both paths
  for (let i = 0; i < 500; i++) {
    await screening.engine.screen(request(requests[i], 'us-verify'));
    await screening.engine.screen(request(requests[i], 'us-plain'));
  }
  const passed = (await screening.engine.screen(request(requests[1], 'us-verify'))).stir?.result;
  if (passed !== 'passed-A') throw new Error(`the bench's PASSporTs do not verify: ${passed}`);

  // latency, one call at a time: the two trunks take turns in blocks of BLOCK calls (a process serves a stream
  // of calls; call-by-call alternation adds the cost of switching code paths to both, see BENCHMARKS.md)
  const plain: number[] = [];
  const verified: number[] = [];
  /** The check's own time within each screening on the verify trunk (Verdict.stirMs). */
  const checks: number[] = [];
  let notPassed = 0;
  for (let start = 0; start < calls; start += BLOCK) {
    const order = (start / BLOCK) % 2 ? (['us-plain', 'us-verify'] as const) : (['us-verify', 'us-plain'] as const);
    for (const trunk of order) {
      for (let i = start; i < Math.min(calls, start + BLOCK); i++) {
        const t0 = performance.now();
        const v = await screening.engine.screen(request(requests[i], trunk));
        const ms = performance.now() - t0;
        if (trunk === 'us-verify') {
          verified.push(ms);
          checks.push(v.stirMs ?? NaN);
          if (!v.stir?.result.startsWith('passed')) notPassed++;
        } else plain.push(ms);
      }
    }
  }
  // the minimal apps: the same PASSporTs checked with the key at hand and nothing else
  const key = createPublicKey(pki.leaf.pem);
  const minimal: number[] = [];
  const joseAsync: number[] = [];
  for (const r of requests) {
    const t0 = performance.now();
    decodeProtectedHeader(r.token);
    decodeJwt(r.token);
    verifySignature(r.token, key);
    minimal.push(performance.now() - t0);
  }
  for (const r of requests) {
    const t0 = performance.now();
    await compactVerify(r.token, key, { algorithms: ['ES256'] });
    joseAsync.push(performance.now() - t0);
  }
  const p = summarize(plain);
  const v = summarize(verified);
  const m = summarize(minimal);
  const j = summarize(joseAsync);
  const c = summarize(checks);
  const added = c.p99;
  report(
    `Latency per screening, ${calls} distinct signed calls, one at a time, turns of ${BLOCK} (certificate cached)`,
    [
      ['screening, trunk without stir', `p50 ${fmt(p.p50)}  p99 ${fmt(p.p99)}  max ${fmt(p.max)}`],
      ['screening, trunk with stir: verify', `p50 ${fmt(v.p50)}  p99 ${fmt(v.p99)}  max ${fmt(v.max)}`],
      [
        'added: the check within each screening',
        `p50 ${fmt(c.p50)}  p99 ${fmt(c.p99)}  target p99 ≤ ${TARGET_ADDED_P99_MS} ms: ${added <= TARGET_ADDED_P99_MS ? 'met' : 'MISSED'}`,
      ],
      ['difference of the trunks (p50, p99)', `${fmt(v.p50 - p.p50)}, ${fmt(v.p99 - p.p99)}`],
      ['minimal app: decode + ES256 verify (sync)', `p50 ${fmt(m.p50)}  p99 ${fmt(m.p99)}  max ${fmt(m.max)}`],
      ["jose's compactVerify (thread pool)", `p50 ${fmt(j.p50)}  p99 ${fmt(j.p99)}  max ${fmt(j.max)}`],
      ['the check over the minimal app (p50)', `${c.p50 - m.p50 >= 0 ? '+' : ''}${fmt(c.p50 - m.p50)}`],
      ['calls that did not pass', String(notPassed)],
    ],
  );

  // throughput of one process
  const rate = async (run: (i: number) => Promise<unknown>): Promise<number> => {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < calls) await run(next++);
      }),
    );
    return calls / ((performance.now() - t0) / 1000);
  };
  const plainRate = await rate((i) => screening.engine.screen(request(requests[i], 'us-plain')));
  const verifyRate = await rate((i) => screening.engine.screen(request(requests[i], 'us-verify')));
  const minimalRate = await rate(async (i) => {
    decodeProtectedHeader(requests[i].token);
    decodeJwt(requests[i].token);
    verifySignature(requests[i].token, key);
  });
  report(`Throughput of one process, ${concurrency} calls in flight`, [
    ['screenings/s, trunk without stir', plainRate.toFixed(0)],
    ['screenings/s, trunk with stir: verify', verifyRate.toFixed(0)],
    ['minimal app: decode + ES256 verify /s', minimalRate.toFixed(0)],
    ['certificate fetches (all of the run)', String(repo.hits.get('/sp.pem') ?? 0)],
  ]);

  await screening.close();
  await repo.close();
  const redis = new IORedis(config.redis.url);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}

main().catch((err: Error) => {
  console.error(`bench:stir failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
