/**
 * The minimal drachtio-srf app bench:sip:real compares spoofguard with: one Redis look-up of the caller's
 * number per INVITE, then a stateful proxy to the next hop, record-routed as spoofguard's (the same SIP work
 * on drachtio-server). Nothing else: no normalisation, no rules, no events, no metrics.
 * Env: DRACHTIO_PORT, DRACHTIO_SECRET, REDIS_URL, NEXT_HOP.
 */
import Srf from 'drachtio-srf';
import IORedis from 'ioredis';

const srf = new Srf();
const redis = new IORedis(process.env.REDIS_URL as string);
const nextHop = process.env.NEXT_HOP as string;

srf.invite((req, res) => {
  const from = req.get('From') ?? '';
  const number = /sips?:([^@;>]+)/.exec(from)?.[1] ?? '';
  const called = /sips?:([^@;>]+)/.exec(req.uri)?.[1] ?? '';
  redis
    .hget('minimal:numbers', number)
    .then(() => srf.proxyRequest(req, [nextHop.replace(/^sip:/, `sip:${called}@`)], { remainInDialog: true }))
    .catch(() => res.send(500));
});
srf.on('connect', () => process.send?.('connected'));
srf.on('error', () => undefined);
void srf.connect({
  host: '127.0.0.1',
  port: Number(process.env.DRACHTIO_PORT),
  secret: process.env.DRACHTIO_SECRET as string,
} as Srf.SrfConfig);
// a profiler run (--cpu-prof) writes its profile on a clean exit
process.on('SIGTERM', () => process.exit(0));
