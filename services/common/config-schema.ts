import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * One config schema for the whole service. Each leaf says what it is (doc), how it is checked (format),
 * and which environment variable overrides it (env, derived from the path unless given). Defaults live in
 * config/default.yaml so that operators read them where they change them.
 */
export interface Setting<T extends z.ZodType = z.ZodType> {
  readonly doc: string;
  readonly format: T;
  readonly env?: string;
  /** Secrets are never printed by `spoofguard config` or the generated reference. */
  readonly secret?: boolean;
}

const setting = <T extends z.ZodType>(s: Setting<T>): Setting<T> => s;

const identityHeader = z.enum(['P-Asserted-Identity', 'Remote-Party-ID', 'From']);
/** An IP address or CIDR range ("192.0.2.0/24", "2001:db8::/32"); undefined when it is neither. */
export function parseAddressRange(
  text: string,
): { address: string; type: 'ipv4' | 'ipv6'; prefix?: number } | undefined {
  const [address = '', bits, ...rest] = text.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return undefined;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (bits === undefined) return { address, type };
  const prefix = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) return undefined;
  return { address, type, prefix };
}

/** Text that goes into a SIP header as it is: no CR, LF or other control character can end the header early. */
const headerText = (max: number) =>
  z
    .string()
    .max(max)
    .refine(
      // eslint-disable-next-line no-control-regex
      (s) => !/[\u0000-\u001f\u007f]/.test(s),
      'no CR, LF or other control characters (it goes into a SIP header)',
    );

const countryCode = z.string().regex(/^[A-Z]{2}$/, 'a two-letter ISO country code such as DE');

export const trunkSchema = z.strictObject({
  country: countryCode,
  international: z.boolean(),
  identityHeaders: z.array(identityHeader).min(1),
  /** Addresses or CIDR ranges the trunk's INVITEs come from (SIP front). */
  sources: z
    .array(
      z.string().refine((s) => parseAddressRange(s) !== undefined, 'an IP address or CIDR range such as 192.0.2.0/24'),
    )
    .default([]),
  /** SIP front: a header that must also match (e.g. a carrier's trunk-group parameter). */
  header: z
    .strictObject({ name: z.string().regex(/^[A-Za-z0-9-]{1,64}$/), value: z.string().min(1).max(256) })
    .optional(),
  /** Calls on this trunk normally carry a STIR/SHAKEN Identity header or a verstat: its absence is a signal. */
  expectIdentity: z.boolean().default(false),
  /**
   * The trunk's own network runs a STIR/SHAKEN verification service that puts its result (verstat) on this
   * header. Without it every verstat is self-asserted by the caller and ignored (shown as ignored).
   */
  verification: z.strictObject({ header: identityHeader }).optional(),
  /**
   * STIR/SHAKEN: `verify` checks the call's Identity headers (RFC 8224/8225/8588) here, against the trust
   * anchors of `stir.*`; the result is one of the verdict's reasons. `off` reads no Identity header.
   */
  stir: z.enum(['off', 'verify']).default('off'),
  /** The network always sends its first identity header: one that is present but unreadable is suspicious. */
  identityAlwaysSent: z.boolean().default(false),
  mode: z.enum(['route', 'tag']).default('route'),
  /**
   * SIP front: proxied calls stay in the dialog (Record-Route), so ACK, re-INVITE and BYE pass through
   * drachtio-server as they came. false only for a trunk whose peers route in-dialog requests end to end.
   */
  recordRoute: z.boolean().default(true),
  tagPrefix: headerText(40).default('Betrugsverdacht: '),
});
export type TrunkConfig = z.infer<typeof trunkSchema>;

export const configSpec = {
  log: {
    level: setting({
      doc: 'Log level of the structured (pino) log.',
      format: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    }),
  },
  redis: {
    url: setting({
      doc: 'Redis URL: redis://host:6379 (rediss:// for TLS), redis+sentinel://host1:26379,host2:26379/<master name>, or redis+cluster://host1:6379,host2:6379. Lists, queue and reports live here.',
      format: z
        .string()
        .regex(
          /^rediss?(\+(sentinel|cluster))?:\/\//,
          'a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL',
        ),
      env: 'REDIS_URL',
      secret: true,
    }),
    keyPrefix: setting({
      doc: 'Prefix of every Redis key spoofguard writes; lets several deployments share one Redis.',
      format: z.string().regex(/^[A-Za-z0-9:_-]{1,32}$/, '1-32 characters of A-Z a-z 0-9 : _ -'),
    }),
    connectTimeoutMs: setting({
      doc: 'How long a Redis connection attempt may take before it is retried.',
      format: z.number().int().min(100).max(60000),
    }),
  },
  screening: {
    reportsKeepDays: setting({
      doc: "Subscribers' reports (key 3) of a caller are forgotten this many days after its last one; each subscriber counts once per caller.",
      format: z.number().int().min(1).max(3650),
    }),
    budgetMs: setting({
      doc: 'Time budget of the Redis look-up of one screening; past it the call is allowed (fail open) and marked degraded.',
      format: z.number().int().min(1).max(5000),
    }),
    localIndexMaxAgeMs: setting({
      doc: 'Calls from numbers on no list are screened in process, without a Redis round trip, while the lists cached in process were confirmed current within this long (change notices, look-ups, a poll); 0 sends every screening to Redis.',
      format: z.number().int().min(0).max(60000),
    }),
    warnThreshold: setting({
      doc: 'Score (0-100) from which a call is warned about.',
      format: z.number().min(0).max(100),
    }),
    blockThreshold: setting({
      doc: 'Score (0-100) from which a call is blocked; must be above warnThreshold.',
      format: z.number().min(0).max(101),
    }),
    defaultTrunk: setting({
      doc: 'Trunk used when a call names no trunk or an unknown one: make it the most cautious.',
      format: z.string().min(1),
    }),
    brandsDir: setting({
      doc: 'Folder of brand data files (*.yaml), relative to the package root or absolute.',
      format: z.string().min(1),
    }),
    rulesFile: setting({
      doc: 'Rules-as-data file (scores, emergency numbers, reason texts), relative to the package root or absolute.',
      format: z.string().min(1),
    }),
  },
  stir: {
    trustAnchors: setting({
      doc: 'STIR/SHAKEN trust anchors: PEM files (or folders of *.pem) with the STI-CA root certificates the STI-PA lists. A signing certificate is accepted only on a chain to one of them. Relative paths are from the package root.',
      format: z.array(z.string().min(1)).max(64),
      env: 'SPOOFGUARD_STIR_TRUST_ANCHORS',
    }),
    maxSkewSeconds: setting({
      doc: 'A PASSporT’s iat may be at most this many seconds before or after the call (RFC 8224 suggests 60).',
      format: z.number().int().min(1).max(3600),
    }),
    callBudgetMs: setting({
      doc: 'How long a screening waits for its STIR/SHAKEN check: a certificate not cached yet goes on being fetched in the background for the next calls, and this call is stir-unverifiable (never passed; its other reasons still count). Keep it well below kamailio.budgetMs: past that budget Kamailio relays the call unscreened, and a caller chooses where its x5u points.',
      format: z.number().int().min(1).max(5000),
    }),
    fetchTimeoutMs: setting({
      doc: 'Time budget of fetching a signing certificate (x5u), redirects included, in the background of the calls; a fetch that ran out is stir-unverifiable, never passed.',
      format: z.number().int().min(50).max(10000),
    }),
    maxCertificateBytes: setting({
      doc: 'A certificate response larger than this is refused unread (stir-failed, certificate).',
      format: z.number().int().min(1024).max(1048576),
    }),
    cacheMaxSeconds: setting({
      doc: 'Fetched certificates are cached, in process and in Redis for every process, as long as their Cache-Control allows and at most this long.',
      format: z.number().int().min(0).max(86400),
    }),
    fetchCa: setting({
      doc: 'Extra PEM files of CAs trusted for the HTTPS of certificate repositories (a private repository); the public web PKI is trusted anyway.',
      format: z.array(z.string().min(1)).max(16),
    }),
    allowNetworks: setting({
      doc: 'Address ranges (CIDR) an x5u may point to although they are loopback, private, link-local or otherwise not public: a carrier’s own certificate repository. Empty by default: every such x5u is refused (SSRF).',
      format: z
        .array(z.string().refine((s) => parseAddressRange(s) !== undefined, 'an IP address or CIDR range'))
        .max(64),
    }),
  },
  queue: {
    name: setting({
      doc: 'BullMQ queue of flagged-call events.',
      format: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    }),
    prefix: setting({
      doc: 'BullMQ key prefix. Keep the {braces} on Redis Cluster: they keep all of a queue’s keys in one slot.',
      format: z.string().regex(/^[A-Za-z0-9:{}_-]{1,32}$/),
    }),
    emitBudgetMs: setting({
      doc: 'How long emitting an event may wait for Redis before the event goes to the local spool file.',
      format: z.number().int().min(1).max(1000),
    }),
    attempts: setting({
      doc: 'How often the worker tries to store an event before it goes to the failed set.',
      format: z.number().int().min(1).max(100),
    }),
    backoffMs: setting({
      doc: 'First retry delay; each further retry waits twice as long.',
      format: z.number().int().min(10).max(3600000),
    }),
    failedKeep: setting({
      doc: 'How many failed jobs are kept for inspection and retry (older ones are dropped).',
      format: z.number().int().min(10).max(1000000),
    }),
    replicasToAck: setting({
      doc: 'Redis replicas that must hold an event before it counts as queued (Redis WAIT, one for all events sent at once). Redis replicates after it answers, so a failover (Sentinel) loses the writes its replica had not got yet: with 1 or more, an event not confirmed within queue.emitBudgetMs goes to the spool as well (the log stores it once). 0: the primary’s answer is enough. Not with redis+cluster://.',
      format: z.number().int().min(0).max(5),
    }),
    spoolDir: setting({
      doc: 'Folder of the local spool files that keep events while Redis is unreachable (relative to the package root or absolute).',
      format: z.string().min(1),
    }),
  },
  worker: {
    concurrency: setting({
      doc: 'Jobs the worker holds at once; they are written to the log in batches.',
      format: z.number().int().min(1).max(5000),
    }),
    batchSize: setting({
      doc: 'Most events written to the log in one transaction.',
      format: z.number().int().min(1).max(5000),
    }),
    batchWaitMs: setting({
      doc: 'How long a batch waits to fill before it is written anyway.',
      format: z.number().int().min(0).max(10000),
    }),
    writeTimeoutMs: setting({
      doc: 'Longest the worker waits for the log store to take a batch: past it the jobs retry with backoff (the writes are idempotent), so a silently hung database holds no slot.',
      format: z.number().int().min(100).max(600000),
    }),
    lockDurationMs: setting({
      doc: 'How long a job stays locked to a worker that stopped answering before another worker takes it over.',
      format: z.number().int().min(500).max(600000),
    }),
    stalledIntervalMs: setting({
      doc: 'How often the worker looks for jobs of crashed workers.',
      format: z.number().int().min(500).max(600000),
    }),
  },
  flaggedLog: {
    statementTimeoutMs: setting({
      doc: 'PostgreSQL: the server cancels a statement running longer than this (statement_timeout), and the client gives up on one unanswered a second later (query_timeout).',
      format: z.number().int().min(100).max(3600000),
    }),
    databaseUrl: setting({
      doc: 'PostgreSQL URL (postgres://…) of the flagged-call log; empty for the SQLite file.',
      format: z.union([z.literal(''), z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// URL or empty')]),
      env: 'DATABASE_URL',
      secret: true,
    }),
    sqlitePath: setting({
      doc: 'SQLite file of the flagged-call log when no databaseUrl is set (relative to the package root or absolute).',
      format: z.string().min(1),
    }),
    retentionDays: setting({
      doc: 'Flagged calls older than this many days are purged.',
      format: z.number().int().min(1).max(3650),
    }),
    retentionEveryMs: setting({
      doc: 'How often the retention purge runs (a BullMQ job scheduler).',
      format: z.number().int().min(1000).max(86400000),
    }),
    calledNumbers: setting({
      doc: 'How called numbers (the subscriber’s personal data) are stored: pseudonymised (keyed HMAC) or plain.',
      format: z.enum(['pseudonymised', 'plain']),
    }),
    pseudonymKey: setting({
      doc: 'Key of the HMAC that pseudonymises called numbers; at least 16 characters. Empty: a random key is made once and kept in <data>/pseudonym.key (set one key for every box that shares a log).',
      format: z.string().refine((s) => s === '' || s.length >= 16, 'empty or at least 16 characters'),
      secret: true,
    }),
  },
  verdictHeader: {
    key: setting({
      doc: 'Shared key of the HMAC that signs X-Spoofguard-Verdict (SIP front) and verifies it (ARI app); at least 16 characters. Empty: headers are neither signed nor trusted.',
      format: z.string().refine((s) => s === '' || s.length >= 16, 'empty or at least 16 characters'),
      secret: true,
    }),
    keyId: setting({
      doc: 'Id of verdictHeader.key, sent in each header (kid) so that the ARI app picks the key: rotate by moving the old key and id to previousKey / previousKeyId and setting a new key and id, on every SIP front and ARI app.',
      format: z.string().regex(/^[A-Za-z0-9_-]{1,16}$/, '1 to 16 letters, digits, - or _'),
    }),
    previousKey: setting({
      doc: 'The key before verdictHeader.key, still accepted (never used to sign) while a rotation rolls out; empty when none.',
      format: z.string().refine((s) => s === '' || s.length >= 16, 'empty or at least 16 characters'),
      secret: true,
    }),
    previousKeyId: setting({
      doc: 'Id of verdictHeader.previousKey.',
      format: z.string().regex(/^[A-Za-z0-9_-]{1,16}$/, '1 to 16 letters, digits, - or _'),
    }),
    maxAgeSec: setting({
      doc: 'A verdict header older (or further in the future) than this is not trusted; a header is spent on first use, and its nonce kept in Redis this long.',
      format: z.number().int().min(1).max(3600),
    }),
  },
  sip: {
    enabled: setting({
      doc: '`spoofguard serve` also runs the SIP front.',
      format: z.boolean(),
    }),
    drachtioHost: setting({
      doc: 'drachtio-server control address (its admin port, 9022 by default).',
      format: z.string().min(1).max(253),
    }),
    drachtioPort: setting({
      doc: 'drachtio-server control port.',
      format: z.number().int().min(1).max(65535),
    }),
    drachtioSecret: setting({
      doc: 'Shared secret of drachtio-server (drachtio.conf.xml <admin secret>).',
      format: z.string().min(1).max(256),
      secret: true,
    }),
    nextHop: setting({
      doc: 'Where clean calls go (stateful proxy): a SIP URI such as sip:pbx.example.net:5060.',
      format: z.string().regex(/^sips?:\S+$/, 'a sip: or sips: URI'),
    }),
    warningIvrUri: setting({
      doc: 'Where warned calls go: the Asterisk warning IVR, which reads X-Spoofguard-Verdict. Empty: warned calls go to nextHop.',
      format: z.string().regex(/^(sips?:\S+)?$/, 'empty or a sip: or sips: URI'),
    }),
    blockStatus: setting({
      doc: 'Response to blocked calls: 608 Rejected (RFC 8688) or 603 Decline for peers that do not know 608.',
      format: z.number().refine((status) => status === 608 || status === 603, '608 or 603'),
    }),
    blockCallInfo: setting({
      doc: 'Call-Info header value on 608 responses, telling a wrongly blocked caller where to complain, e.g. <https://example.net/blocked>;purpose=jwscard. Empty: none.',
      format: headerText(512),
    }),
    maxMessageBytes: setting({
      doc: 'INVITEs larger than this are answered 513 Message Too Large.',
      format: z.number().int().min(1024).max(65535),
    }),
    drainTimeoutMs: setting({
      doc: 'On SIGTERM, how long calls the SIP front is still handling may take to end before it disconnects.',
      format: z.number().int().min(0).max(600000),
    }),
    maxCallsInSetup: setting({
      doc: 'INVITEs being screened at once; one beyond this (the app is overloaded) is proxied to sip.nextHop at once, unscreened, and counted in spoofguard_sip_unscreened_total{reason="overload"}: load is shed, never by leaving calls unanswered.',
      format: z.number().int().min(1).max(100000),
    }),
    setupTimeoutSec: setting({
      doc: 'Longest wait for a proxied or bridged call’s final answer (above timer C, 180 s): past it the app stops waiting, logs it and forgets the call, so one lost answer cannot pin a call (or a drain) forever.',
      format: z.number().int().min(1).max(3600),
    }),
    maxCallSec: setting({
      doc: 'Longest a call the SIP front bridges (B2BUA: tag mode, forged headers removed) may last: then both legs get a BYE. One lost BYE can then hold its dialogs (and a drain) no longer than this.',
      format: z.number().int().min(1).max(86400),
    }),
    sessionExpiresSec: setting({
      doc: 'Session timers (RFC 4028) on bridged calls, per leg: the interval asked of the callee (with Supported: timer) and the most granted to a caller that supports or asks for timers (less than 90 s gets 422). drachtio-server runs them from the terms in each leg’s 2xx: it refreshes where we refresh, and where a peer stops refreshing it sends a BYE and the other leg is ended too. 0 turns them off; else 90 to 86400.',
      format: z
        .number()
        .int()
        .refine((s) => s === 0 || (s >= 90 && s <= 86400), '0, or 90 to 86400'),
    }),
  },
  kamailio: {
    enabled: setting({
      doc: '`spoofguard serve` also runs the Kamailio front (`spoofguard kamailio`): the screening brain of the carrier’s own Kamailio, asked over its evapi module (kamailio/kamailio.cfg). Routing (next hop, warning IVR, block status, Call-Info) is sip.*, shared with the drachtio front.',
      format: z.boolean(),
    }),
    endpoints: setting({
      doc: 'The evapi listening addresses (host:port, Kamailio’s SG_EVAPI_BIND) this process connects to: one per Kamailio. Each is kept connected, and reconnected after a loss. Several spoofguards may connect to one Kamailio: it deals the INVITEs out round robin.',
      format: z
        .array(z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):\d{1,5}$/, 'host:port ([v6 address]:port)'))
        .min(1)
        .max(64),
      env: 'SPOOFGUARD_KAMAILIO_ENDPOINTS',
    }),
    budgetMs: setting({
      doc: 'Kamailio’s wait for an answer (SG_BUDGET_MS in kamailio.cfg): an INVITE that waited longer than half of it at spoofguard before its screening began is not screened (its answer would likely meet Kamailio’s timer; Kamailio passes it on unscreened when the budget ends), and an answer that took longer than all of it is counted late.',
      format: z.number().int().min(10).max(5000),
    }),
    reconnectMs: setting({
      doc: 'Wait before reconnecting to a Kamailio that closed the link or could not be reached (then doubled on each failure, up to 1 s).',
      format: z.number().int().min(10).max(1000),
    }),
    maxMessageBytes: setting({
      doc: 'A message from Kamailio larger than this is discarded unread (logged and counted; Kamailio passes that INVITE on unscreened when its budget ends). Kamailio’s own SG_MAX_BYTES caps the INVITEs it asks about.',
      format: z.number().int().min(1024).max(1048576),
    }),
  },
  selfService: {
    expectCallMinutes: setting({
      doc: 'How long *71 ("I expect a call from the brand") lets the brand’s calls through to the subscriber unwarned. The confirmation prompt says two hours: change its text in config/prompts/*.yaml (npm run prompts) with this.',
      format: z.number().int().min(1).max(1440),
    }),
    brand: setting({
      doc: 'The brand *71 and *72 are about (its listed numbers and names), unless the dialplan names another.',
      format: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/),
    }),
    subscribers: setting({
      doc: 'Whose phone each PJSIP endpoint is: endpoint name → the subscriber’s E.164 number. The dialplan passes ${CHANNEL(endpoint)}, which Asterisk sets from the authenticated endpoint, never from what the phone sends; a feature code from an endpoint not listed here changes nothing.',
      format: z.record(
        z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
        z.string().regex(/^\+[1-9]\d{1,14}$/, 'an E.164 number such as +4930901820'),
      ),
    }),
  },
  ari: {
    url: setting({
      doc: 'Asterisk ARI base URL (http.conf), without /ari.',
      format: z.string().regex(/^https?:\/\//, 'an http:// or https:// URL'),
    }),
    username: setting({ doc: 'ARI user (ari.conf).', format: z.string().min(1) }),
    password: setting({ doc: 'ARI password (ari.conf).', format: z.string().min(1), secret: true }),
    nodeId: setting({
      doc: "Names this Asterisk in the flagged-call log's call ids (ari:<nodeId>:<channel id>), which must be unique across every Asterisk that shares a log. Empty: Asterisk's entity id (asterisk.conf entityid; by default a MAC address of its box: set entityid where boxes may share one, as containers can).",
      format: z.string().regex(/^[A-Za-z0-9:._-]{0,64}$/, 'letters, digits, :, ., _ or -'),
    }),
    app: setting({
      doc: 'Stasis application name the dialplan sends calls to.',
      format: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    }),
    subscriberEndpoint: setting({
      doc: 'Dial string of the called subscriber; {to} is the called number as the dialplan passed it.',
      format: z.string().includes('{to}'),
    }),
    dialTimeoutSec: setting({
      doc: 'How long the subscriber’s phone rings before the call counts as unanswered.',
      format: z.number().int().min(1).max(300),
    }),
    digitTimeoutMs: setting({
      doc: 'How long the subscriber has to press 1, 2 or 3 after the choices were read; then they are read once more, then the call is rejected.',
      format: z.number().int().min(100).max(60000),
    }),
    cleanCalls: setting({
      doc: 'Clean calls: handed straight back to the dialplan, which dials the subscriber itself (dialplan: cheap for Asterisk, keeps FreePBX follow-me, ring groups and CDRs), or dialled and bridged by spoofguard (stasis).',
      format: z.enum(['dialplan', 'stasis']),
    }),
    refuseContext: setting({
      doc: 'Dialplan context (extension s) a blocked call is sent to when blockAnswer is false; asterisk/extensions.conf’s [spoofguard-refuse] answers 608 Rejected.',
      format: z.string().regex(/^[A-Za-z0-9_.-]{1,80}$/),
    }),
    setupDeadlineSec: setting({
      doc: 'Longest a call may take from arriving until it is bridged or ended (ringing, warning, choices); past it the subscriber’s leg is hung up and the caller handed back to the dialplan (fail open), logged as failed.',
      format: z.number().int().min(1).max(3600),
    }),
    maxCallSec: setting({
      doc: 'Longest a call bridged by spoofguard may last; then both sides are hung up.',
      format: z.number().int().min(60).max(86400),
    }),
    maxCallsInSetup: setting({
      doc: 'Calls being screened, rung or warned at once; a call beyond this (or while ARI requests queue up) goes back to the dialplan unscreened at once, counted in spoofguard_ari_handed_back_total{reason="overload"}.',
      format: z.number().int().min(1).max(100000),
    }),
    maxLagMs: setting({
      doc: 'A call that reaches the app this much later than calls usually do (Asterisk or the app falling behind) goes back to the dialplan unscreened at once, counted as overload.',
      format: z.number().int().min(100).max(60000),
    }),
    overloadBypassSec: setting({
      doc: 'While the app is overloaded it sets the Asterisk global SPOOFGUARD_BYPASS_UNTIL to now + this many seconds (renewed while the overload lasts): the dialplan then sends new calls straight to Dial(), unscreened, without the cost of Stasis (asterisk/extensions.conf), counted in spoofguard_ari_handed_back_total{reason="bypassed"}. 0: never; overloaded calls are then only handed back one by one.',
      format: z.number().int().min(0).max(60),
    }),
    reconcileEverySec: setting({
      doc: 'How often the app compares its calls with what Asterisk has (besides after every reconnect), releasing what requests that timed out left behind; 0: only after reconnects.',
      format: z.number().int().min(0).max(3600),
    }),
    drainTimeoutMs: setting({
      doc: 'On SIGTERM: how long calls in progress may take to end. Calls not yet bridged are then handed back to the dialplan; bridged calls stay up in Asterisk and the next spoofguard to connect adopts them.',
      format: z.number().int().min(0).max(600000),
    }),
    warnedNamePrefix: setting({
      doc: 'Put before the caller name on the subscriber’s display for a warned call; {brand} is the brand’s name.',
      format: z.string().max(40),
    }),
    defaultLanguage: setting({
      doc: 'Language of the prompts when the subscriber set none.',
      format: z.enum(['de', 'en']),
    }),
    rejectWith: setting({
      doc: 'What the caller of a rejected warned call gets: a busy signal or a neutral announcement.',
      format: z.enum(['busy', 'announcement']),
    }),
    blockAnswer: setting({
      doc: 'Blocked calls: answer and play an announcement (true) or refuse them through refuseContext (false: 608 Rejected).',
      format: z.boolean(),
    }),
    requestTimeoutMs: setting({
      doc: 'Every ARI request gives up after this long.',
      format: z.number().int().min(100).max(60000),
    }),
    maxInFlight: setting({
      doc: 'Most ARI requests in flight at once (Asterisk’s http.conf sessionlimit is 100 by default).',
      format: z.number().int().min(1).max(1000),
    }),
  },
  reports: {
    networkName: setting({
      doc: 'Who sends the abuse reports to the brands (your network or company, as the brand’s abuse desk should read it); it opens each report.',
      format: z.string().min(1).max(120),
    }),
    from: setting({
      doc: 'Sender address of the abuse reports (From:); the brand’s desk answers to it.',
      format: z.string().regex(/^[^\s@<>"]+@[^\s@<>"]+$/, 'an e-mail address such as fraud-desk@carrier.example'),
    }),
    smtpHost: setting({
      doc: 'SMTP relay the abuse reports are sent through; empty: no relay, a report is downloaded as an .eml file to send yourself.',
      format: z.string().max(253),
    }),
    smtpPort: setting({
      doc: 'SMTP relay port (587 for submission with STARTTLS).',
      format: z.number().int().min(1).max(65535),
    }),
    smtpStartTls: setting({
      doc: 'Require STARTTLS on the relay (the message never goes in clear); false only for a relay on the same host.',
      format: z.boolean(),
    }),
    smtpTls: setting({ doc: 'Implicit TLS from the first byte (port 465) instead of STARTTLS.', format: z.boolean() }),
    smtpUser: setting({ doc: 'SMTP relay user; empty: no authentication.', format: z.string().max(256) }),
    smtpPassword: setting({ doc: 'SMTP relay password.', format: z.string().max(256), secret: true }),
    smtpCaFile: setting({
      doc: 'PEM file of a CA trusted for the relay’s TLS beside the public ones (a relay with a private CA); empty: none.',
      format: z.string().max(1024),
    }),
    maxCalls: setting({
      doc: 'Most calls one report may hold; narrow the filter (the period) for more.',
      format: z.number().int().min(1).max(100000),
    }),
    digest: setting({
      doc: 'Reports sent by themselves, per brand: daily or weekly, of the flagged calls not reported yet (the worker runs them as a repeatable job). Needs the SMTP relay.',
      format: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/), z.enum(['off', 'daily', 'weekly'])),
    }),
  },
  console: {
    host: setting({
      doc: 'Address the console (HTTP API and dashboard) listens on.',
      format: z.string().min(1).max(253),
    }),
    port: setting({
      doc: 'Port of the console.',
      format: z.number().int().min(0).max(65535),
    }),
    tokens: setting({
      doc: 'API tokens by name: role (analyst reads the log; admin also changes lists) and the SHA-256 of the token (hex). Only hashes are stored: `spoofguard console token` makes a token and its line.',
      format: z.record(
        z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/),
        z.strictObject({
          role: z.enum(['analyst', 'admin']),
          sha256: z.string().regex(/^[0-9a-f]{64}$/, 'the SHA-256 of the token, 64 hex digits'),
        }),
      ),
      env: 'SPOOFGUARD_CONSOLE_TOKENS',
      secret: true,
    }),
    rateLimitPerMinute: setting({
      doc: 'Requests per minute one token may make; more get 429 with Retry-After.',
      format: z.number().int().min(1).max(1_000_000),
    }),
    anonymousRateLimitPerMinute: setting({
      doc: 'Requests per minute one address may make without a valid token (health checks, metrics with publicOps, the dashboard files, wrong tokens); more get 429.',
      format: z.number().int().min(1).max(1_000_000),
    }),
    bodyLimitBytes: setting({
      doc: 'Largest JSON request body.',
      format: z
        .number()
        .int()
        .min(1024)
        .max(100 * 1024 * 1024),
    }),
    importLimitBytes: setting({
      doc: 'Largest list import (CSV or JSON) sent to the import endpoint.',
      format: z
        .number()
        .int()
        .min(1024)
        .max(1024 * 1024 * 1024),
    }),
    publicOps: setting({
      doc: 'Serve /metrics without a token (health checks are always open).',
      format: z.boolean(),
    }),
  },
  ops: {
    host: setting({
      doc: 'Address of the health and metrics endpoint of a role run alone (ari, sip, worker).',
      format: z.string().min(1).max(253),
    }),
    port: setting({
      doc: 'Port of that endpoint (/health/live, /health/ready, /metrics); 0: none. Roles on one host need one port each.',
      format: z.number().int().min(0).max(65535),
    }),
  },
  trunks: setting({
    doc: 'Trunks by id: country, whether international, identity headers to trust in order (identityAlwaysSent), the header its own STIR/SHAKEN verification service writes verstat on (verification), source addresses (CIDR), mode (route or tag), and whether the SIP front stays in proxied dialogs (recordRoute, default true).',
    format: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), trunkSchema),
    env: 'SPOOFGUARD_TRUNKS',
  }),
} as const;

type SpecNode = Setting | { readonly [key: string]: SpecNode };
type ConfigOf<T> = T extends Setting<infer Z> ? z.output<Z> : { -readonly [K in keyof T]: ConfigOf<T[K]> };
export type Config = ConfigOf<typeof configSpec>;

export function isSetting(node: SpecNode): node is Setting {
  return typeof (node as Setting).doc === 'string' && (node as Setting).format instanceof z.ZodType;
}

export interface SettingEntry {
  path: string;
  env: string;
  setting: Setting;
}

/** Flattens the spec into one entry per key, with its environment variable. */
export function listSettings(node: SpecNode = configSpec, path: string[] = []): SettingEntry[] {
  if (isSetting(node)) {
    const env =
      node.env ?? ['SPOOFGUARD', ...path.map((p) => p.replace(/([a-z])([A-Z])/g, '$1_$2'))].join('_').toUpperCase();
    return [{ path: path.join('.'), env, setting: node }];
  }
  return Object.entries(node).flatMap(([key, child]) => listSettings(child, [...path, key]));
}
