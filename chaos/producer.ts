/**
 * One call-handling process of the chaos run: screening + FlaggedCall producer, as the SIP front uses them,
 * at a steady rate of calls from brand numbers. Every call it flags is written to a ledger (one JSON line
 * before each emit, one with what became of it), which the run compares with the log at the end.
 * Env: the spoofguard config variables, CHAOS_LEDGER (file), CHAOS_RATE (calls/s), CHAOS_ROLE, CHAOS_NAME.
 * SIGTERM: stops making calls, ends the calls in progress (their outcomes), closes the producer (replaying
 * its spool), prints its emit counters and exits.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { loadConfig } from '../services/common/config';
import { createLogger } from '../services/common/logger';
import { Metrics } from '../services/common/metrics';
import { openProducer } from '../services/events';
import type { Outcome } from '../services/domain/outcomes';
import { type FlaggedCallEvent, flaggedEvent, outcomeEvent } from '../services/events/flagged-call';
import { openScreening } from '../services/screening';
import { seedEntries } from '../services/screening/seed';

const OUTCOMES: Outcome[] = ['accepted', 'rejected', 'reported', 'caller-hung-up', 'unanswered'];
/** Every tenth call reuses this SIP Call-ID: the log must still keep a record per call. */
const REUSED_SIP_CALL_ID = 'reused-by-the-network@chaos.example';

export interface LedgerLine {
  /** spoofguard's call id (the log's key) */
  c: string;
  k: FlaggedCallEvent['kind'];
  /** 'emitting' before the emit, then its result */
  r: 'emitting' | 'queued' | 'spooled' | 'invalid' | 'lost';
  /** the SIP Call-ID */
  s?: string;
  /** the caller as screened */
  raw?: string;
  o?: Outcome;
  p: string;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const ledger = process.env.CHAOS_LEDGER as string;
  const rate = Number(process.env.CHAOS_RATE ?? 20);
  const name = process.env.CHAOS_NAME ?? `p${process.pid}`;
  const logger = createLogger({ level: config.log.level, name: `chaos-${name}` });
  const metrics = new Metrics('chaos');
  const screening = await openScreening(config, logger);
  const events = openProducer(
    config,
    logger,
    process.env.CHAOS_ROLE ?? 'sip',
    metrics.observeEvent,
    metrics.observeEmit,
  );
  const numbers = seedEntries(screening.brands).map((e) => e.value);
  const write = (line: Omit<LedgerLine, 'p'>): void =>
    appendFileSync(ledger, `${JSON.stringify({ ...line, p: name })}\n`);
  const emit = async (event: FlaggedCallEvent, extra: Partial<LedgerLine>): Promise<void> => {
    write({ c: event.callId, k: event.kind, r: 'emitting', ...extra });
    const result = await events.producer.emit(event);
    write({ c: event.callId, k: event.kind, r: result, ...extra });
  };

  let calls = 0;
  let allowed = 0;
  const inProgress = new Map<string, { end: () => Promise<void>; timer: NodeJS.Timeout }>();
  const running = new Set<Promise<void>>();
  const track = (p: Promise<void>): void => {
    running.add(p);
    void p.finally(() => running.delete(p));
  };

  const call = async (): Promise<void> => {
    calls++;
    const number = numbers[calls % numbers.length];
    const sipCallId = calls % 10 === 0 ? REUSED_SIP_CALL_ID : `${randomUUID()}@chaos.example`;
    const receivedAt = Date.now();
    const verdict = await screening.engine.screen({
      from: `"Amazon Kundenservice" <sip:${number}@carrier.example;user=phone>`,
      to: `sip:+4930${String(100000 + (calls % 900000))}@spoofguard.example`,
      callId: sipCallId,
    });
    if (verdict.verdict === 'allow') {
      allowed++; // screening failed open (Redis away): nothing is flagged, as on a real call
      return;
    }
    const head = { callId: `sip:${randomUUID()}`, sipCallId, source: 'sip' as const, receivedAt };
    await emit(flaggedEvent({ ...head, called: verdict.called, trunk: verdict.trunk }, verdict), {
      s: sipCallId,
      raw: verdict.caller.raw,
    });
    const outcome = OUTCOMES[calls % OUTCOMES.length];
    const end = async (): Promise<void> => {
      inProgress.delete(head.callId);
      await emit(outcomeEvent(head, outcome, { ringMs: 1200, talkMs: Date.now() - receivedAt }), { o: outcome });
    };
    // calls last 0.5–4 s: some are in progress through every fault
    const timer = setTimeout(() => track(end()), 500 + (calls % 8) * 500);
    inProgress.set(head.callId, { end, timer });
  };

  const ticker = setInterval(() => track(call()), 1000 / rate);
  process.stdout.write('chaos producer started\n');

  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  clearInterval(ticker);
  await Promise.all([...running]);
  for (const { end, timer } of [...inProgress.values()]) {
    clearTimeout(timer);
    track(end());
  }
  await Promise.all([...running]);
  await events.close();
  await screening.close();
  const emitted = (await metrics.registry.getSingleMetric('spoofguard_events_emitted_total')?.get())?.values ?? [];
  process.stdout.write(
    `${JSON.stringify({
      done: name,
      calls,
      allowed,
      results: events.producer.results,
      metric: Object.fromEntries(emitted.map((v) => [v.labels.result, v.value])),
    })}\n`,
  );
  process.exit(0);
}

main().catch((err: Error) => {
  process.stderr.write(`chaos producer failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
