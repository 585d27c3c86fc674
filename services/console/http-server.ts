import { Readable } from 'node:stream';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { InputError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { AuditEntry } from '../flagged-log/log-store';
import type { TokenRegistry } from './auth';
import { type Caller, NotFound, type Route, type RouteResult } from './route';

/**
 * The only module that imports fastify (and its rate-limit plugin): serves the route table with one pipeline
 * per request — token and role (before the body is read), rate limit per token, one schema per input, the
 * handler — and one central error handler that turns every failure into a clear JSON answer.
 */
export interface HttpOptions {
  routes: readonly Route[];
  tokens: TokenRegistry;
  /** Requests a minute per token (ops endpoints without a token are not limited). */
  rateLimitPerMinute: number;
  bodyLimitBytes: number;
  publicOps: boolean;
  /** Writes one admin action (who, what, when, on what, how many) to the audit trail. */
  audit(entry: AuditEntry): Promise<void>;
  /** Requests a minute from one address without a valid token (health checks, probes, token guessing). */
  anonymousRateLimitPerMinute: number;
  /** Files served as they are (the dashboard): path → content. */
  staticFiles: ReadonlyMap<string, { contentType: string; body: string | Buffer }>;
  logger: Logger;
}

interface Issue {
  where: string;
  message: string;
}

class InvalidRequest extends Error {
  constructor(readonly issues: Issue[]) {
    super('invalid request');
  }
}

function parse<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string, issues: Issue[]): T {
  if (!schema) return undefined as T;
  const result = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (result.success) return result.data;
  for (const issue of result.error.issues)
    issues.push({ where: [where, ...issue.path.map(String)].join('.'), message: issue.message });
  return undefined as T;
}

const callerOf = (request: FastifyRequest): Caller | undefined =>
  (request as FastifyRequest & { caller?: Caller }).caller;

function send(reply: FastifyReply, result: RouteResult): FastifyReply {
  reply.code(result.status ?? 200);
  if ('json' in result) return reply.send(result.json);
  reply.type(result.contentType);
  if ('text' in result) return reply.send(result.text);
  if (result.filename) reply.header('content-disposition', `attachment; filename="${result.filename}"`);
  // a stream: fastify writes it with backpressure, a chunk at a time
  return reply.send(Readable.from(result.stream));
}

/** How many entries an admin action touched, as its answer says. */
function countOf(result: RouteResult): number | undefined {
  if (!('json' in result) || typeof result.json !== 'object' || result.json === null) return undefined;
  const json = result.json as Record<string, unknown>;
  for (const field of ['added', 'imported', 'count', 'deleted'])
    if (typeof json[field] === 'number') return json[field];
  return json.removed === true || json.ok === true || typeof json.version === 'number' ? 1 : undefined;
}

/** Security headers of every answer: the dashboard loads only its own files and is never framed. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

export function createHttpServer(options: HttpOptions): FastifyInstance {
  const recordAudit = async (
    route: Route,
    caller: Caller | undefined,
    params: unknown,
    query: unknown,
    result: RouteResult,
  ): Promise<void> => {
    const target = params && Object.keys(params).length ? JSON.stringify(params).slice(0, 200) : undefined;
    const detail = query && Object.keys(query).length ? JSON.stringify(query).slice(0, 300) : undefined;
    const count = countOf(result);
    const entry: AuditEntry = {
      at: Date.now(),
      actor: caller?.name ?? '(unknown)',
      action: `${route.method} ${route.path}`,
      ...(target ? { target } : {}),
      ...(count !== undefined ? { count } : {}),
      ...(detail ? { detail } : {}),
    };
    options.logger.info({ audit: entry }, 'admin action');
    // the action is done: an audit trail that cannot be written is an error to see, not a reason to deny it
    await options
      .audit(entry)
      .catch((err: Error) =>
        options.logger.error({ err: err.message, audit: entry }, 'audit record not written: the action was done'),
      );
  };

  const app = Fastify({ bodyLimit: options.bodyLimitBytes, logger: false, return503OnClosing: true });
  const textTypes = new Set(options.routes.flatMap((r) => r.textBody?.contentTypes ?? []));
  if (textTypes.size)
    app.addContentTypeParser([...textTypes], { parseAs: 'string' }, (_request, body, done) => done(null, body));

  // every request is counted before its body is read or its handler runs: per token for a valid one, else per
  // address (a request without a valid token, /health/ready included, pings Redis and the database: it must not
  // be free). The route's own onRequest hook has named the caller by then: the limit's hook is appended after it.
  const keyOf = (request: FastifyRequest): string => {
    const name = callerOf(request)?.name;
    return name ? `token:${name}` : `ip:${request.ip}`;
  };

  app.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    max: (_request, key) =>
      key.startsWith('token:') ? options.rateLimitPerMinute : options.anonymousRateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: keyOf,
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new Error(`rate limit: at most ${context.max} requests a minute; retry in ${Math.ceil(context.ttl / 1000)} s`),
        { statusCode: 429 },
      ),
  });
  // the routes load after the plugin, so its hook sees each of them
  app.register(async (routes) => {
    for (const route of options.routes) {
      const needs = route.ops && options.publicOps ? 'public' : route.role;
      routes.route({
        method: route.method,
        url: route.path,
        ...(route.textBody ? { bodyLimit: route.textBody.limitBytes } : {}),
        // the token is checked first; a refusal is answered once the rate limit (the next onRequest hook) has
        // counted the request, and before any body is read
        onRequest: async (request: FastifyRequest) => {
          const auth = options.tokens.check(request.headers.authorization, needs);
          if (auth.ok) (request as FastifyRequest & { caller?: Caller }).caller = auth.caller;
          else (request as FastifyRequest & { refused?: typeof auth }).refused = auth;
        },
        preParsing: async (request: FastifyRequest, reply: FastifyReply, payload) => {
          const refused = (request as FastifyRequest & { refused?: { status: 401 | 403; message: string } }).refused;
          if (!refused) return payload;
          if (refused.status === 401) reply.header('www-authenticate', 'Bearer realm="spoofguard"');
          return reply.code(refused.status).send({ error: refused.message });
        },
        handler: async (request: FastifyRequest, reply: FastifyReply) => {
          const issues: Issue[] = [];
          const query = parse(route.query, request.query, 'query', issues);
          const params = parse(route.params, request.params, 'params', issues);
          const body = parse(route.body, request.body, 'body', issues);
          if (issues.length) throw new InvalidRequest(issues);
          const caller = callerOf(request);
          const result = await route.handler({ query, params, body, caller: caller ?? {} });
          if (route.role === 'admin' && route.method !== 'GET') await recordAudit(route, caller, params, query, result);
          return send(reply, result);
        },
      });
    }
  });

  for (const [path, file] of options.staticFiles)
    app.get(path, async (_request, reply) =>
      reply.type(file.contentType).header('cache-control', 'no-cache').send(file.body),
    );

  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    return payload;
  });

  app.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send({ error: `no such endpoint: ${request.method} ${request.url.split('?')[0]}` }),
  );

  app.setErrorHandler(async (err: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (err instanceof InvalidRequest) return reply.code(400).send({ error: 'invalid request', issues: err.issues });
    if (err instanceof NotFound) return reply.code(404).send({ error: err.message });
    if (err instanceof InputError || (err instanceof RangeError && err.message === 'invalid cursor'))
      return reply.code(400).send({ error: err.message });
    // fastify's own: body too large (413), unsupported media type (415), malformed JSON (400)
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
      return reply.code(err.statusCode).send({ error: err.message });
    options.logger.error({ err: err.message, method: request.method, url: request.url }, 'console request failed');
    return reply.code(500).send({ error: 'internal error (logged)' });
  });
  return app;
}
