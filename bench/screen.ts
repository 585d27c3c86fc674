/**
 * npm run bench:screen: screenings/s and latency of the engine alone and end to end with Redis,
 * at 10k and 1M listed numbers, and Redis bytes per listed number. Uses its own key prefix and cleans up.
 * Options (env): BENCH_SIZES=10000,1000000  BENCH_SECONDS=5  BENCH_CONCURRENCY=64  BENCH_LOCAL_INDEX=0,2000
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import IORedis from 'ioredis';
import { loadConfig } from '../services/common/config';
import { createRedis, redisReady } from '../services/common/redis';
import { createLogger } from '../services/common/logger';
import { loadRuleSet, openListAdmin, openScreening } from '../services/screening';
import type { ListEntry } from '../services/screening/list-entry';
import { normalizeCaller, parseCache } from '../services/screening/normalize';
import { NameMatcher } from '../services/screening/name-folding';
import { seedEntries } from '../services/screening/seed';
import type { ScreeningRequest } from '../services/screening/verdict';
import { fmt, report, summarize } from './stats';

const sizes = (process.env.BENCH_SIZES ?? '10000,1000000').split(',').map(Number);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64);
/** localIndexMaxAgeMs of each measured run: 0 = every screening asks Redis (before the index), 2000 = the default. */
const modes = (process.env.BENCH_LOCAL_INDEX ?? '0,2000').split(',').map(Number);
const prefix = `bench${randomBytes(3).toString('hex')}:`;
const config = loadConfig({ overrides: { log: { level: 'warn' }, redis: { keyPrefix: prefix } } });
const logger = createLogger({ level: 'warn' });

// Listed numbers: realistic German and US numbers (12-13 digits), spread at random.
const listedNumber = (i: number): string =>
  i % 2 ? String(4915100000000 + ((i * 7919) % 899999999)) : String(12065550000 + ((i * 104729) % 3999999999));

/**
 * A stream of calls: half from never-seen numbers (fresh each time, so no cache helps them), half from a hot
 * set (listed numbers hit again, spoofed brand numbers, repeat callers), in several header formats.
 */
let fresh = 0;
function nextRequest(i: number, listed: number): ScreeningRequest {
  const kind = i % 8;
  if (kind === 0)
    return { from: `+${listedNumber(((i * 31) % 2000) % listed)}`, to: '+4930901820', trunk: 'de-national' };
  if (kind === 1)
    return {
      from: `"Erika Mustermann" <sip:+4930${1000 + (i % 1000)}@sbc.example.de;user=phone>`,
      to: '+4930901820',
      trunk: 'de-national',
    };
  if (kind === 2)
    return { from: '"Amazon" <sip:+18882804331@carrier.example.net>', to: '+4930901821', trunk: 'de-international' };
  if (kind === 3) return { from: `0171${1000000 + (i % 1000)}`, name: 'Max Muster', trunk: 'de-national' };
  if (kind === 4) return { from: `+${listedNumber(fresh++ % listed)}`, to: '+4930901820', trunk: 'de-national' };
  if (kind === 5)
    return { from: `<sip:+4989${10000000 + fresh++}@sbc.example.de>`, to: '+4930901820', trunk: 'de-national' };
  if (kind === 6) return { from: `0${1520000000 + fresh++}`, to: '+4930901822', trunk: 'de-national' };
  return {
    from: `+1${2125550000 + (((fresh++ % 4000000) * 997) % 7000000)}`,
    name: 'WIRELESS CALLER',
    trunk: 'de-international',
  };
}

function engineAlone(): void {
  const { rules } = loadRuleSet(config);
  const names = new NameMatcher(
    seedEntries(loadRuleSet(config).brands)
      .filter((e) => e.kind === 'name')
      .map((e) => ({ ...e, pattern: e.value, match: e.match ?? 'word' })),
  );
  const trunk = { id: 'de-national', ...config.trunks['de-national'] };
  const run = (n: number, samples?: number[]): void => {
    for (let i = 0; i < n; i++) {
      const t0 = samples ? performance.now() : 0;
      const r = nextRequest(i, 1000);
      const caller = normalizeCaller(r.from, trunk, r.name);
      rules.evaluate({
        caller,
        calledDigits: '4930901820',
        displayNames: caller.displayName ? [caller.displayName] : [],
        trunk,
        names,
        lookup: { version: 1, names },
      });
      if (samples) samples.push(performance.now() - t0);
    }
  };
  run(20000);
  const n = 200000;
  const started = performance.now();
  run(n);
  const elapsed = performance.now() - started;
  const samples: number[] = [];
  run(50000, samples);
  const s = summarize(samples);
  report('engine alone (normalise + rules, no Redis)', [
    ['number-parse cache hit rate', hitRate()],
    ['screenings/s (1 core)', Math.round(n / (elapsed / 1000)).toLocaleString('en')],
    ['latency p50 / p99', `${fmt(s.p50)} / ${fmt(s.p99)}`],
  ]);
}

function hitRate(): string {
  const rate = (100 * parseCache.hits) / (parseCache.hits + parseCache.misses);
  parseCache.resetCounters();
  return `${rate.toFixed(0)} %`;
}

async function endToEnd(listed: number): Promise<void> {
  const admin = await openListAdmin(config, logger);
  const raw = new IORedis(config.redis.url);
  const before = Number(/used_memory:(\d+)/.exec(await raw.info('memory'))?.[1]);
  const entries: ListEntry[] = Array.from({ length: listed }, (_, i) => ({
    kind: 'number',
    value: listedNumber(i),
    brand: 'bench',
    source: 'bench',
    origin: 'import',
    addedAt: 0,
  }));
  const importStart = performance.now();
  await admin.admin.import([...seedEntries(admin.brands), ...entries], {
    replace: { kinds: ['number', 'name', 'prefix'] },
  });
  const importMs = performance.now() - importStart;
  const state = await admin.admin.state();
  const after = Number(/used_memory:(\d+)/.exec(await raw.info('memory'))?.[1]);
  let keyBytes = 0;
  const pipeline = raw.pipeline();
  for (let b = 0; b < state.buckets; b++) pipeline.memory('USAGE', `{${prefix}lists}:n:${state.gen}:${b}`);
  for (const [, bytes] of (await pipeline.exec()) ?? []) keyBytes += Number(bytes ?? 0);

  report(`lists, ${listed.toLocaleString('en')} listed numbers`, [
    ['import time', `${(importMs / 1000).toFixed(1)} s`],
    ['Redis bytes / number (bucket keys)', (keyBytes / listed).toFixed(2)],
    ['Redis bytes / number (used_memory Δ)', ((after - before) / listed).toFixed(2)],
    ['buckets', `${state.buckets.toLocaleString('en')} (~${Math.round(listed / state.buckets)} numbers each)`],
  ]);
  // before: every screening asks Redis; after: calls from numbers on no list are answered by the local index
  for (const maxAgeMs of modes) await measure(listed, maxAgeMs, raw);
  await admin.close();
  // clean up this prefix
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `{${prefix}*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length) await raw.unlink(...keys);
  } while (cursor !== '0');
  raw.disconnect();
}

async function measure(listed: number, localIndexMaxAgeMs: number, raw: IORedis): Promise<void> {
  const indexStart = performance.now();
  const screening = await openScreening(
    loadConfig({
      overrides: { log: { level: 'warn' }, redis: { keyPrefix: prefix }, screening: { localIndexMaxAgeMs } },
    }),
    logger,
  );
  const indexed = await screening.store.whenIndexed(120000);
  const indexMs = performance.now() - indexStart;
  const indexBytes = screening.store.indexBytes;
  // the floor: one bare HGET round trip on a connection made like the call path's, one in flight, taken
  // alternately with the screenings so that both see the same moments of the Redis server's jitter
  const floorClient = createRedis(config.redis, 'call-path', 'spoofguard-bench-floor');
  await redisReady(floorClient);
  const floorKey = `{${prefix}lists}:state`;
  // sequential: the latency one call sees on an idle engine
  const seq: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < 20000; i++) {
    let t0 = performance.now();
    await screening.engine.screen(nextRequest(i, listed));
    seq.push(performance.now() - t0);
    t0 = performance.now();
    await floorClient.hget(floorKey, 'version');
    floor.push(performance.now() - t0);
  }
  floorClient.disconnect();
  // concurrent: throughput of one process with many calls in flight
  const lat: number[] = [];
  let done = 0;
  let degraded = 0;
  const redisCpu = async (): Promise<number> => {
    const info = await raw.info('cpu');
    return Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
  };
  const localBefore = screening.engine.localScreenings;
  const cachedBefore = screening.store.cachedAnswers;
  const redisCpuBefore = await redisCpu();
  const cpuBefore = process.cpuUsage();
  const deadline = performance.now() + seconds * 1000;
  const startedAt = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        // calls arrive as I/O, each in its own turn of the event loop (a call answered in process must not chain
        // the next in microtasks, starving the other slots' Redis replies); each slot takes the next call of the mix
        await new Promise((r) => setImmediate(r));
        const t0 = performance.now();
        const v = await screening.engine.screen(nextRequest(next++, listed));
        lat.push(performance.now() - t0);
        if (v.degraded) degraded++;
        done++;
      }
    }),
  );
  const rate = done / ((performance.now() - startedAt) / 1000);
  const cpu = process.cpuUsage(cpuBefore);
  const nodeCpuUs = (cpu.user + cpu.system) / done;
  const redisCpuUs = (((await redisCpu()) - redisCpuBefore) * 1e6) / done;
  const local = screening.engine.localScreenings - localBefore;
  const s = summarize(seq);
  const f = summarize(floor);
  const c = summarize(lat);
  report(
    `end to end with Redis, ${listed.toLocaleString('en')} listed numbers, ${
      indexed ? `local number index (max age ${localIndexMaxAgeMs} ms)` : 'every screening asks Redis (index off)'
    }`,
    [
      ...(indexed
        ? ([
            ['index ready after', `${(indexMs / 1000).toFixed(2)} s`],
            ['process bytes / number (index)', (indexBytes / listed).toFixed(2)],
          ] as [string, string][])
        : []),
      ['latency p50 / p99, 1 in flight', `${fmt(s.p50)} / ${fmt(s.p99)}`],
      ['floor: bare HGET p50 / p99', `${fmt(f.p50)} / ${fmt(f.p99)}`],
      ['p99 screening / p99 HGET', `${(s.p99 / f.p99).toFixed(2)}× (target ≤ 1.3×)`],
      [`screenings/s, ${concurrency} in flight`, Math.round(rate).toLocaleString('en')],
      [`latency p50 / p99, ${concurrency} in flight`, `${fmt(c.p50)} / ${fmt(c.p99)}`],
      ['allowed in process (local index)', `${((100 * local) / done).toFixed(1)} %`],
      [
        'answered from cached answers',
        `${((100 * (screening.store.cachedAnswers - cachedBefore)) / done).toFixed(1)} %`,
      ],
      ['CPU a screening: node / Redis', `${nodeCpuUs.toFixed(0)} µs / ${redisCpuUs.toFixed(0)} µs`],
      ['degraded screenings', String(degraded)],
      ['number-parse cache hit rate', hitRate()],
    ],
  );
  await screening.close();
}

async function main(): Promise<void> {
  console.log(`spoofguard bench:screen — node ${process.version}, Redis ${config.redis.url}, ${seconds} s a run`);
  engineAlone();
  for (const size of sizes) await endToEnd(size);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
