import { Readable } from 'node:stream';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { InputError } from '../common/errors';
import type { Logger } from '../common/logger';
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

export function createHttpServer(options: HttpOptions): FastifyInstance {
  const app = Fastify({ bodyLimit: options.bodyLimitBytes, logger: false, return503OnClosing: true });
  const textTypes = new Set(options.routes.flatMap((r) => r.textBody?.contentTypes ?? []));
  if (textTypes.size)
    app.addContentTypeParser([...textTypes], { parseAs: 'string' }, (_request, body, done) => done(null, body));

  // the limit per token: @fastify/rate-limit, counted after the token check has named the caller
  app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    max: options.rateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => callerOf(request)?.name ?? `ip:${request.ip}`,
    allowList: (request) => !callerOf(request)?.name,
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
        // counted per token once the token is known (preHandler), before the handler runs
        config: { rateLimit: {} },
        ...(route.textBody ? { bodyLimit: route.textBody.limitBytes } : {}),
        onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
          const auth = options.tokens.check(request.headers.authorization, needs);
          if (!auth.ok) {
            if (auth.status === 401) reply.header('www-authenticate', 'Bearer realm="spoofguard"');
            return reply.code(auth.status).send({ error: auth.message });
          }
          (request as FastifyRequest & { caller?: Caller }).caller = auth.caller;
        },
        handler: async (request: FastifyRequest, reply: FastifyReply) => {
          const issues: Issue[] = [];
          const query = parse(route.query, request.query, 'query', issues);
          const params = parse(route.params, request.params, 'params', issues);
          const body = parse(route.body, request.body, 'body', issues);
          if (issues.length) throw new InvalidRequest(issues);
          const caller = callerOf(request);
          return send(reply, await route.handler({ query, params, body, caller: caller ?? {} }));
        },
      });
    }
  });

  for (const [path, file] of options.staticFiles)
    app.get(path, async (_request, reply) =>
      reply.type(file.contentType).header('cache-control', 'no-cache').send(file.body),
    );

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
