import type { FlaggedCallProducer } from '../../services/events';
import type { Config } from '../../services/common/config';
import { Metrics } from '../../services/common/metrics';
import type { Screening } from '../../services/screening';
import { runSip, type RunningSip } from '../../services/sip';
import type { RunningLogWorker } from '../../services/worker';
import { startCallPath, storedRecordWhere } from '../support/call-path';
import { quietLogger, testConfig } from '../support/config';
import { DrachtioTestServer } from '../support/drachtio-server/server';

export const VERDICT_KEY = 'verdict-key-0123456789abcdef';
export const NEXT_HOP = 'sip:pbx.example.de:5060';
export const IVR = 'sip:ivr.example.de:5070';

/** Source ranges of the test carriers (documentation ranges, RFC 5737). */
export const SOURCES = {
  national: { address: '192.0.2.10', port: 5060 },
  international: { address: '198.51.100.7', port: 5060 },
  tagging: { address: '203.0.113.5', port: 5060 },
  unknown: { address: '10.9.8.7', port: 5060 },
};

export const TEST_TRUNKS = {
  'carrier-de': {
    country: 'DE',
    international: false,
    identityHeaders: ['P-Asserted-Identity', 'From'],
    sources: ['192.0.2.0/25'],
  },
  'carrier-rpid': {
    country: 'DE',
    international: false,
    identityHeaders: ['Remote-Party-ID', 'P-Asserted-Identity', 'From'],
    sources: ['192.0.2.128/25'],
  },
  'carrier-intl': {
    country: 'DE',
    international: true,
    identityHeaders: ['P-Asserted-Identity', 'From'],
    sources: ['198.51.100.0/24'],
  },
  'carrier-tag': {
    country: 'DE',
    international: false,
    identityHeaders: ['P-Asserted-Identity', 'From'],
    sources: ['203.0.113.0/24'],
    mode: 'tag',
  },
  'carrier-us': {
    country: 'US',
    international: false,
    identityHeaders: ['P-Asserted-Identity', 'From'],
    header: { name: 'X-Trunk-Group', value: 'us-shaken' },
    expectIdentity: true,
    // the US carrier verifies calls (STIR/SHAKEN) and writes verstat onto P-Asserted-Identity
    verification: { header: 'P-Asserted-Identity' },
  },
};

export interface SipHarness {
  server: DrachtioTestServer;
  config: Config;
  metrics: Metrics;
  screening: Screening;
  sip: RunningSip;
  worker: RunningLogWorker;
  producer: FlaggedCallProducer;
  close(): Promise<void>;
}

/** The SIP front in-process against the drachtio wire-protocol test server, real Redis, a worker writing the log. */
export async function startSipHarness(overrides: Record<string, unknown> = {}): Promise<SipHarness> {
  const logger = quietLogger();
  const server = new DrachtioTestServer();
  await server.start();
  const config = testConfig({
    ...overrides,
    sip: {
      drachtioHost: '127.0.0.1',
      drachtioPort: server.port,
      drachtioSecret: server.secret,
      nextHop: NEXT_HOP,
      warningIvrUri: IVR,
      drainTimeoutMs: 5000,
      ...((overrides.sip as object) ?? {}),
    },
    trunks: (overrides.trunks as object | undefined) ?? TEST_TRUNKS,
    verdictHeader: { key: VERDICT_KEY, maxAgeSec: 30 },
  });
  const callPath = await startCallPath(config, logger, 'sip');
  const metrics = new Metrics('sip');
  const sip = runSip(config, logger, callPath.screening, callPath.producer, metrics);
  await server.waitRouted('invite');
  let closed = false;
  return {
    server,
    config,
    metrics,
    screening: callPath.screening,
    sip,
    worker: callPath.worker,
    producer: callPath.producer,
    close: async () => {
      if (closed) return;
      closed = true;
      await sip.close();
      await callPath.close();
      await server.stop();
    },
  };
}

/** The record of the call that came with this SIP Call-ID (the log's key is spoofguard's own). */
export const storedRow = (h: SipHarness, sipCallId: string, has: (row: Record<string, unknown>) => boolean) =>
  storedRecordWhere(h.worker.store, { sipCallId }, has);
