import { isIP } from 'node:net';
import type { Config } from './config';
import { ConfigError } from './errors';

/** Secrets that ship in this repository or in the servers' own samples: anyone can read them. */
const KNOWN_DEFAULTS = new Set(['change-me', 'change-me-drachtio', 'cymru', 'asterisk', 'secret', 'password']);

/** Whether a host is the local host (loopback): a name that resolves elsewhere counts as elsewhere. */
export const isLoopback = (host: string): boolean => {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
};

/**
 * Refuses to start a role whose peer is reached with a secret everyone knows, unless the peer is on this
 * machine: an ARI password or drachtio-server admin secret from a sample lets anyone who reaches the port
 * place calls. One line says which setting and why.
 */
export function refuseKnownDefaultSecrets(config: Config, roles: readonly string[]): void {
  const problems: string[] = [];
  if (roles.includes('ari') && KNOWN_DEFAULTS.has(config.ari.password)) {
    const host = new URL(config.ari.url).hostname;
    if (!isLoopback(host))
      problems.push(
        `ari.password is a published default and Asterisk (${host}) is not on loopback: set a secret of your own in ari.conf and SPOOFGUARD_ARI_PASSWORD`,
      );
  }
  if (roles.includes('sip') && KNOWN_DEFAULTS.has(config.sip.drachtioSecret) && !isLoopback(config.sip.drachtioHost))
    problems.push(
      `sip.drachtioSecret is a published default and drachtio-server (${config.sip.drachtioHost}) is not on loopback: set a secret of your own in drachtio.conf.xml and SPOOFGUARD_SIP_DRACHTIO_SECRET`,
    );
  if (problems.length) throw new ConfigError(`refusing to start: ${problems.join('; ')}`);
}
