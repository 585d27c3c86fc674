import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Every place where spoofguard steps into drachtio-srf's internals, in one file, for the one version they were
 * written against (package.json pins it exactly). checkSrfInternals() runs at start: if an upgrade moved any of
 * them, the SIP front refuses to start with a line naming what is missing, instead of misbehaving on calls.
 * Each of them is a fix for a problem reported upstream's way (see the comments where they are used).
 */
export const SRF_VERSION = '5.0.29';

/** The part of drachtio-srf's agent the adapter steps in front of: every message from drachtio-server passes here. */
export interface AgentInternals {
  _onMsg(socket: unknown, wireMessage: string): void;
  sendMessage(socket: unknown, message: string, options: { stackTxnId: string }): void;
  /** Connections to drachtio-server (one here): empty while it is away. */
  mapServer: Map<unknown, unknown>;
  /** The connection's wire protocol: its pending reconnect and whether it is closing. */
  wp: {
    closing: boolean;
    socket?: { destroy(): void };
    reconnectVars: { retryTimer: NodeJS.Timeout | null };
  };
}

/** drachtio-srf's application object: it makes the agent (`_init`) and keeps it once connecting (`client`). */
export interface SrfApp {
  _init(): AgentInternals;
  client?: AgentInternals;
}

const srfRequire = (): NodeJS.Require => createRequire(require.resolve('drachtio-srf'));

/** What of drachtio-srf the patches need, looked up in the installed package (or the one a test passes). */
export interface SrfModules {
  version: string;
  proto: { _init?: unknown };
  agentPrototype: Record<string, unknown>;
  srfPrototype: Record<string, unknown>;
  statusTexts: unknown;
}

export function installedSrf(): SrfModules {
  const req = srfRequire();
  const root = dirname(require.resolve('drachtio-srf/package.json'));
  return {
    version: (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version,
    proto: req('./proto') as { _init?: unknown },
    agentPrototype: (req('./drachtio-agent') as { prototype: Record<string, unknown> }).prototype,
    srfPrototype: (req('./srf') as { prototype: Record<string, unknown> }).prototype,
    statusTexts: req('sip-status'),
  };
}

/** Throws, naming each, when the internals the patches use are not where drachtio-srf SRF_VERSION had them. */
export function checkSrfInternals(srf: SrfModules = installedSrf()): void {
  const missing: string[] = [];
  if (srf.version !== SRF_VERSION) missing.push(`version ${SRF_VERSION} (installed: ${srf.version})`);
  if (typeof srf.proto._init !== 'function') missing.push('app._init (lib/proto.js)');
  for (const name of ['_onMsg', 'sendMessage'])
    if (typeof srf.agentPrototype[name] !== 'function') missing.push(`DrachtioAgent#${name}`);
  for (const name of ['findDialogById', 'unregisterForMessages'])
    if (typeof srf.srfPrototype[name] !== 'function') missing.push(`Srf#${name}`);
  if (typeof srf.statusTexts !== 'object' || srf.statusTexts === null) missing.push("its status table ('sip-status')");
  if (missing.length)
    throw new Error(
      `drachtio-srf is not the version the SIP front's patches were written for: ${missing.join(', ')} (services/sip/srf-patches.ts)`,
    );
}

/** drachtio-srf 5.0.29's status table (sip-status) lacks 608; without a reason phrase res.send(608) throws. */
export function addStatusTexts(): void {
  const statusTexts = srfRequire()('sip-status') as Record<number, string>;
  statusTexts[608] ??= 'Rejected';
}

/**
 * Puts `wrap` in front of every message drachtio-srf's agent reads from drachtio-server: the agent is made by
 * `app._init`, and its `_onMsg` is what its wire protocol calls for each message.
 */
export function interceptAgentMessages(
  app: SrfApp,
  wrap: (
    agent: AgentInternals,
    pass: (socket: unknown, wire: string) => void,
  ) => (socket: unknown, wire: string) => void,
): void {
  const init = app._init;
  app._init = function (this: unknown) {
    const agent = init.call(this);
    const onMsg = agent._onMsg;
    agent._onMsg = wrap(agent, (socket, wire) => onMsg.call(agent, socket, wire));
    return agent;
  };
}

/**
 * Stops drachtio-srf retrying a connection to a drachtio-server that is away: its disconnect() asserts on the
 * missing connection before it stops retrying, and the pending retry kept the process alive after SIGTERM.
 */
export function stopReconnecting(agent: AgentInternals): void {
  const wp = agent.wp;
  wp.closing = true;
  if (wp.reconnectVars.retryTimer) clearTimeout(wp.reconnectVars.retryTimer);
  wp.reconnectVars.retryTimer = null;
  wp.socket?.destroy();
}
