/**
 * The ARI call session's states, and the one table it moves through (call-session.ts).
 *
 * One inbound call is an explicit state machine whose legs live and die by what Asterisk reports:
 *
 *   screening ─┬─ allow ──► handed back to the dialplan (it dials the subscriber itself)   [cleanCalls: dialplan]
 *              │         └► dialing ──(answer)──► connected                                  [cleanCalls: stasis]
 *              ├─ warn ───► dialing ──(answer)──► warning ──(1, once the warning was heard)──► connected
 *              │                                      ├──(2 / 3 / no key after the choices twice)──► rejecting
 *              │                                      └──(caller hangs up)──► notifying
 *              └─ block ──► refused in the dialplan (608), or answered with an announcement (blocking)
 *   every path ──► ended, once every leg it owns is gone
 *
 * A leg is gone at the first of ChannelHangupRequest, StasisEnd and ChannelDestroyed: Asterisk sends a
 * channel that entered Stasis from the dialplan no ChannelDestroyed (it leaves the app at StasisEnd), while
 * the legs spoofguard originates get all three. The caller is answered only once the subscriber's leg is in
 * the bridge, so the caller's 200 OK comes with a media path. A call that takes longer than
 * ari.setupDeadlineSec to be bridged or ended goes back to the dialplan (fail open).
 */
export type SessionState =
  'screening' | 'dialing' | 'warning' | 'connected' | 'rejecting' | 'notifying' | 'blocking' | 'handed-back' | 'ended';

/** What moves a call from one state to another. */
export type SessionEvent =
  'adopted' | 'dial' | 'block' | 'warn' | 'connect' | 'reject' | 'caller-left' | 'leave-stasis' | 'end';

const SETUP_AND_TALK: readonly SessionState[] = [
  'screening',
  'dialing',
  'warning',
  'connected',
  'rejecting',
  'notifying',
  'blocking',
];

/**
 * The state machine as a table: each event, the states it may come in, the state it leads to. The session
 * moves only through it (move); docs/ARCHITECTURE.md draws it, and a test keeps the two in step.
 */
export const TRANSITIONS: Readonly<
  Record<SessionEvent, { from: readonly SessionState[]; to: SessionState; why: string }>
> = {
  adopted: { from: ['screening'], to: 'connected', why: 'a bridged call found after a restart of spoofguard' },
  dial: { from: ['screening'], to: 'dialing', why: 'allow (cleanCalls stasis) or warn: the subscriber is rung' },
  block: { from: ['screening'], to: 'blocking', why: 'block' },
  warn: { from: ['dialing'], to: 'warning', why: 'the subscriber answers a warned call' },
  connect: { from: ['dialing', 'warning'], to: 'connected', why: 'answered (clean), or 1 after the warning' },
  reject: { from: ['warning'], to: 'rejecting', why: '2, 3, no key twice, or the subscriber hangs up' },
  'caller-left': { from: ['warning'], to: 'notifying', why: 'the caller hangs up during the warning' },
  'leave-stasis': {
    from: SETUP_AND_TALK,
    to: 'handed-back',
    why: 'clean (cleanCalls dialplan), refused (608), failure, setup deadline, drain, overload',
  },
  end: { from: [...SETUP_AND_TALK, 'handed-back'], to: 'ended', why: 'every leg it owns is gone' },
};
