import { createHash } from 'node:crypto';
import type { Caller, Role } from './route';

export interface TokenEntry {
  role: 'analyst' | 'admin';
  sha256: string;
}

export type AuthResult = { ok: true; caller: Caller } | { ok: false; status: 401 | 403; message: string };

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/**
 * Bearer tokens from config, kept only as SHA-256 hashes: a token is looked up by its hash (the look-up's
 * timing can tell at most something of the hash, never of the token). analyst < admin: an admin may do what
 * an analyst may.
 */
export class TokenRegistry {
  private readonly byHash = new Map<string, { name: string; role: 'analyst' | 'admin' }>();

  constructor(tokens: Readonly<Record<string, TokenEntry>>) {
    this.replace(tokens);
  }

  /** The tokens from now on (a reload): a revoked token is refused from its next request. */
  replace(tokens: Readonly<Record<string, TokenEntry>>): void {
    this.byHash.clear();
    for (const [name, entry] of Object.entries(tokens)) this.byHash.set(entry.sha256, { name, role: entry.role });
  }

  get size(): number {
    return this.byHash.size;
  }

  /**
   * Who may call: a public endpoint lets everyone through, and still names the caller of a valid token (rate
   * limits count per token, else per address); the others need a valid token of the role.
   */
  check(authorization: string | undefined, needs: Role): AuthResult {
    const token = /^Bearer\s+(\S{8,512})\s*$/i.exec(authorization ?? '')?.[1];
    const entry = token ? this.byHash.get(hashToken(token)) : undefined;
    if (needs === 'public') return { ok: true, caller: entry ? { name: entry.name, role: entry.role } : {} };
    if (!token) return { ok: false, status: 401, message: 'a bearer token is needed (Authorization: Bearer <token>)' };
    if (!entry) return { ok: false, status: 401, message: 'unknown token' };
    if (needs === 'admin' && entry.role !== 'admin')
      return { ok: false, status: 403, message: `this needs the admin role; token "${entry.name}" is ${entry.role}` };
    return { ok: true, caller: { name: entry.name, role: entry.role } };
  }
}
