import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { InputError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { RateLimiter, TokenRegistry } from './auth';
import { type Caller, NotFound, type Route, type RouteResult } from './route';

/**
 * The only module that imports fastify: serves the route table with one pipeline per request — token and
 * role (before the body is read), rate limit per token, one schema per input, the handler — and one central
 * error handler that turns every failure into a clear JSON answer.
 */
export interface HttpOptions {
  routes: readonly Route[];
  tokens: TokenRegistry;
  limiter: RateLimiter;
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

  for (const route of options.routes) {
    const needs = route.ops && options.publicOps ? 'public' : route.role;
    app.route({
      method: route.method,
      url: route.path,
      ...(route.textBody ? { bodyLimit: route.textBody.limitBytes } : {}),
      onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
        const auth = options.tokens.check(request.headers.authorization, needs);
        if (!auth.ok) {
          if (auth.status === 401) reply.header('www-authenticate', 'Bearer realm="spoofguard"');
          return reply.code(auth.status).send({ error: auth.message });
        }
        const wait = auth.caller.name ? options.limiter.take(auth.caller.name) : 0;
        if (wait > 0) {
          reply.header('retry-after', String(wait));
          return reply
            .code(429)
            .send({ error: `rate limit: at most ${options.limiter.perMinute} requests a minute; retry in ${wait} s` });
        }
        (request as FastifyRequest & { caller?: Caller }).caller = auth.caller;
      },
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const issues: Issue[] = [];
        const query = parse(route.query, request.query, 'query', issues);
        const params = parse(route.params, request.params, 'params', issues);
        const body = parse(route.body, request.body, 'body', issues);
        if (issues.length) throw new InvalidRequest(issues);
        const caller = (request as FastifyRequest & { caller?: Caller }).caller;
        return send(reply, await route.handler({ query, params, body, caller: caller ?? {} }));
      },
    });
  }

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
