import { z } from 'zod';

/** The ARI events spoofguard acts on, validated at the boundary (anything else is ignored). */
const channel = z.object({
  id: z.string(),
  name: z.string(),
  state: z.string(),
  caller: z.object({ name: z.string(), number: z.string() }),
  dialplan: z.object({ exten: z.string().optional() }).partial().optional(),
  /** When Asterisk created the channel ("2026-12-02T01:02:33.105+0000"): how long a call waited for us. */
  creationtime: z.string().optional(),
});
export type AriChannel = z.infer<typeof channel>;

export const ariEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('StasisStart'), args: z.array(z.string()).default([]), channel }),
  z.object({ type: z.literal('StasisEnd'), channel }),
  z.object({ type: z.literal('ChannelDtmfReceived'), digit: z.string(), channel }),
  z.object({ type: z.literal('ChannelHangupRequest'), cause: z.number().optional(), channel }),
  z.object({ type: z.literal('ChannelDestroyed'), cause: z.number(), cause_txt: z.string().optional(), channel }),
  z.object({ type: z.literal('ChannelStateChange'), channel }),
  z.object({
    type: z.literal('PlaybackFinished'),
    playback: z.object({ id: z.string(), state: z.string(), target_uri: z.string() }),
  }),
]);
export type AriEvent = z.infer<typeof ariEventSchema>;
export const HANDLED_EVENTS = ariEventSchema.options.map((o) => o.shape.type.value);
