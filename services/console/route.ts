import type { z } from 'zod';

/**
 * The console's endpoints as data: method, path, who may call it, one schema per input, and a handler that
 * knows nothing of the HTTP library. The HTTP adapter serves them; the OpenAPI description is built from them.
 */
export type Role = 'public' | 'analyst' | 'admin';

export interface Caller {
  /** The token's name from config (undefined on public endpoints). */
  name?: string;
  role?: 'analyst' | 'admin';
}

export interface RouteInput<Q, P, B> {
  query: Q;
  params: P;
  body: B;
  caller: Caller;
}

export type RouteResult =
  | { status?: number; json: unknown }
  | { status?: number; text: string; contentType: string }
  | { status?: number; stream: AsyncIterable<string | Uint8Array>; contentType: string; filename?: string };

export interface Route<Q = unknown, P = unknown, B = unknown> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Fastify-style path with :params. */
  path: string;
  summary: string;
  role: Role;
  /** Ops endpoints (/metrics): public only when console.publicOps says so. */
  ops?: boolean;
  query?: z.ZodType<Q>;
  params?: z.ZodType<P>;
  body?: z.ZodType<B>;
  /** Body content types besides JSON (imports), and a larger body limit for them. */
  textBody?: { contentTypes: string[]; limitBytes: number };
  /** What a success returns, for the OpenAPI description. */
  responds: string;
  handler(input: RouteInput<Q, P, B>): Promise<RouteResult>;
}

/** Keeps each route's own input types while collecting routes of different shapes in one list. */
export const route = <Q, P, B>(r: Route<Q, P, B>): Route => r as unknown as Route;

export class NotFound extends Error {}
