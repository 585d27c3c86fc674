import { z } from 'zod';
import { E164 } from '../common/e164';
import { OUTCOMES, type Outcome } from '../domain/outcomes';
import { REASON_CODES, RENAMED_REASON_CODES, STIR_RESULTS, type StirResultLabel } from '../domain/reason-codes';

/**
 * A FlaggedCall event (version 1): what the ARI app or the SIP front tells the analysts' log about a warned
 * or blocked call. A call yields a "flagged" event when it is screened and an "outcome" event when it
 * ends; the log merges both into one record, in whichever order they arrive.
 */
export const SOURCES = ['ari', 'sip', 'kamailio'] as const;
export const EVENT_KINDS = ['flagged', 'outcome'] as const;

const ms = z.number().int().min(0).max(86_400_000);
const isoTime = z.iso.datetime({ offset: true });

export const flaggedCallEventSchema = z
  .strictObject({
    v: z.literal(1),
    kind: z.enum(EVENT_KINDS),
    /** The log's key, made by spoofguard: ari:<ari.nodeId or Asterisk's entity id>: + the Asterisk channel id, or sip: + a random UUID (never the caller's Call-ID). */
    callId: z.string().regex(/^[\w.@:+\-/]{1,200}$/, 'letters, digits and . @ : + - / _, at most 200'),
    source: z.enum(SOURCES),
    /** The caller's SIP Call-ID, as received (a search field: the log's key is spoofguard's own callId). */
    sipCallId: z.string().max(256).optional(),
    /** The Asterisk channel the ARI app handled. */
    channelId: z.string().max(128).optional(),
    receivedAt: isoTime,
    caller: z
      .strictObject({
        raw: z.string().max(512),
        e164: z.string().regex(E164).optional(),
        kind: z.enum(['number', 'anonymous', 'unparseable']),
        displayName: z.string().max(256).optional(),
      })
      .optional(),
    called: z.string().max(64).optional(),
    trunk: z.string().max(64).optional(),
    verdict: z.enum(['allow', 'warn', 'block']).optional(),
    score: z.number().min(0).max(100).optional(),
    reasons: z
      .array(
        z.preprocess((code) => (typeof code === 'string' && RENAMED_REASON_CODES[code]) || code, z.enum(REASON_CODES)),
      )
      .max(32)
      .optional(),
    /** Our own STIR/SHAKEN check (trunks with `stir: verify`): result, why it failed, the signer's origid. */
    stir: z
      .strictObject({
        result: z.enum(STIR_RESULTS),
        detail: z.string().max(200).optional(),
        origid: z.string().max(64).optional(),
      })
      .optional(),
    brand: z.string().max(40).optional(),
    degraded: z.boolean().optional(),
    outcome: z.enum(OUTCOMES).optional(),
    timings: z.strictObject({ ringMs: ms.optional(), warningMs: ms.optional(), talkMs: ms.optional() }).optional(),
    endedAt: isoTime.optional(),
  })
  .superRefine((event, ctx) => {
    if (event.kind === 'flagged' && (event.verdict === undefined || event.caller === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a flagged event carries caller and verdict' });
    }
    if (event.kind === 'outcome' && event.outcome === undefined) {
      ctx.addIssue({ code: 'custom', path: ['outcome'], message: 'an outcome event carries the outcome' });
    }
  });

export type FlaggedCallEvent = z.infer<typeof flaggedCallEventSchema>;

/** What a flagged event needs from a verdict (structurally a screening Verdict). */
export interface FlaggedVerdict {
  verdict: 'allow' | 'warn' | 'block';
  score: number;
  brand?: string;
  reasons: { code: (typeof REASON_CODES)[number]; suppressed?: boolean }[];
  caller: { raw: string; kind: 'number' | 'anonymous' | 'unparseable'; e164?: string; displayName?: string };
  degraded: boolean;
  stir?: { result: StirResultLabel; detail?: string; origid?: string };
}

/** Which call an event is about, as the part that saw it knows it. */
interface EventCall {
  callId: string;
  source: (typeof SOURCES)[number];
  /** When the call came in (epoch ms). */
  receivedAt: number;
  sipCallId?: string;
  channelId?: string;
}

const eventHead = <K extends 'flagged' | 'outcome'>(kind: K, call: EventCall) => ({
  v: 1 as const,
  kind,
  callId: call.callId,
  source: call.source,
  ...(call.sipCallId ? { sipCallId: call.sipCallId.slice(0, 256) } : {}),
  ...(call.channelId ? { channelId: call.channelId.slice(0, 128) } : {}),
  receivedAt: new Date(call.receivedAt).toISOString(),
});

/** The "flagged" event of a call, from its verdict: the same shape whichever part (ARI app, SIP front) saw it. */
export function flaggedEvent(
  call: EventCall & { called?: string; trunk?: string },
  v: FlaggedVerdict,
): FlaggedCallEvent {
  return {
    ...eventHead('flagged', call),
    caller: {
      raw: v.caller.raw.slice(0, 512),
      kind: v.caller.kind,
      // a longer "number" (a national number read with a country code) is no E.164: it stays in raw
      ...(v.caller.e164 && E164.test(v.caller.e164) ? { e164: v.caller.e164 } : {}),
      ...(v.caller.displayName ? { displayName: v.caller.displayName.slice(0, 256) } : {}),
    },
    ...(call.called ? { called: call.called.slice(0, 64) } : {}),
    ...(call.trunk ? { trunk: call.trunk.slice(0, 64) } : {}),
    verdict: v.verdict,
    score: v.score,
    reasons: v.reasons.filter((r) => !r.suppressed).map((r) => r.code),
    ...(v.brand ? { brand: v.brand } : {}),
    degraded: v.degraded,
    ...(v.stir ? { stir: v.stir } : {}),
  };
}

/** The "outcome" event of a call; timings left undefined are left out, the others clamped to whole ms. */
export function outcomeEvent(
  call: EventCall,
  outcome: Outcome,
  timings: { ringMs?: number; warningMs?: number; talkMs?: number },
  endedAt = Date.now(),
): FlaggedCallEvent {
  const clamp = (ms: number) => Math.min(86_400_000, Math.max(0, Math.round(ms)));
  return {
    ...eventHead('outcome', call),
    outcome,
    timings: Object.fromEntries(
      Object.entries(timings)
        .filter(([, ms]) => ms !== undefined)
        .map(([k, ms]) => [k, clamp(ms as number)]),
    ),
    endedAt: new Date(endedAt).toISOString(),
  };
}

/** The job id: a replayed or repeated event cannot become a second job (BullMQ ids may hold no ':'). */
export const jobIdOf = (event: Pick<FlaggedCallEvent, 'callId' | 'kind'>): string =>
  `${event.kind}.${event.callId.replace(/%/g, '%25').replace(/:/g, '%3A')}`;

export function describeInvalid(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`)
    .join('; ');
}
