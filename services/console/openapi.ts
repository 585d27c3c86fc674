import { z } from 'zod';
import type { Route } from './route';

/** JSON Schema of an input as clients send it (refinements and transforms are the server's business). */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  try {
    const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    delete out.$schema;
    return out;
  } catch {
    return {};
  }
}

const openApiPath = (path: string): string => path.replace(/:(\w+)/g, '{$1}');

/** The OpenAPI 3.1 description of the route table (served at /openapi.json). */
export function openApiDocument(routes: readonly Route[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters: Record<string, unknown>[] = [];
    for (const [where, schema] of [
      ['path', route.params],
      ['query', route.query],
    ] as const) {
      if (!schema) continue;
      const described = jsonSchema(schema);
      const properties = (described.properties ?? {}) as Record<string, unknown>;
      const required = new Set((described.required ?? []) as string[]);
      for (const [name, property] of Object.entries(properties))
        parameters.push({ name, in: where, required: where === 'path' || required.has(name), schema: property });
    }
    const content: Record<string, unknown> = {};
    if (route.body) content['application/json'] = { schema: jsonSchema(route.body) };
    for (const type of route.textBody?.contentTypes ?? []) content[type] = { schema: { type: 'string' } };
    const protectedRoute = route.role !== 'public';
    paths[openApiPath(route.path)] ??= {};
    paths[openApiPath(route.path)][route.method.toLowerCase()] = {
      summary: route.summary,
      ...(protectedRoute ? { security: [{ bearer: [] }], 'x-role': route.role } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(Object.keys(content).length ? { requestBody: { required: true, content } } : {}),
      responses: {
        200: { description: route.responds },
        ...(route.query || route.params || route.body
          ? { 400: { description: 'invalid request: what and where' } }
          : {}),
        ...(protectedRoute
          ? {
              401: { description: 'no or unknown token' },
              ...(route.role === 'admin' ? { 403: { description: 'the token is not an admin token' } } : {}),
              429: { description: 'rate limit per token' },
            }
          : {}),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'spoofguard console',
      version,
      description: 'Flagged calls for analysts; lists, subscribers and reports for admins. Roles: analyst, admin.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
