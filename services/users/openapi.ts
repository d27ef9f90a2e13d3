// The OpenAPI 3.1 document of the users service, generated from the route table (api-routes.ts)
// and the zod schemas the routes validate with (z.toJSONSchema: JSON Schema 2020-12, which is
// OpenAPI 3.1's own). Every operation lists its error codes, grouped by status, with the one
// error envelope.
import { z } from 'zod';
import { API_ROUTES, type Answer, type ApiRoute, type RawBody } from './api-routes.js';
import { ERROR_STATUS, type ErrorCode } from './errors.js';
import { errorEnvelope } from './schemas/responses.js';

type Json = Record<string, unknown>;

/** Errors every signed-in route may answer (bearer-auth.ts, user-budget.ts). */
const BEARER_ERRORS: ErrorCode[] = ['unauthorized', 'token_expired', 'too_many_requests', 'unavailable'];
/** Errors of every JSON body (express.json, validation.ts jsonObjectBody). */
const JSON_BODY_ERRORS: ErrorCode[] = ['invalid_json', 'invalid_body', 'unsupported_media_type', 'payload_too_large'];

/** `/api/rooms/:room` -> `/api/rooms/{room}` */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

const isRaw = (body: ApiRoute['body']): body is RawBody => typeof body === 'object' && body !== null && 'raw' in body;

/**
 * Turns zod schemas into JSON Schema, keeping one copy of each named schema (`.meta({ id })`)
 * for components.schemas and pointing every use at it.
 */
class SchemaCollector {
  readonly components: Record<string, Json> = {};

  convert(schema: z.ZodType): Json {
    // "input": what is accepted, before trimming and defaults. Answers are plain objects (no
    // transforms), so it describes them too — without the `additionalProperties: false` zod's
    // output side would promise for them.
    const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Json;
    delete json.$schema;
    const defs = (json.$defs ?? {}) as Record<string, Json>;
    delete json.$defs;
    for (const [id, def] of Object.entries(defs)) this.keep(id, relink(def));
    const top = relink(json);
    // a named schema used at the top: a reference to its component
    if (typeof top.id === 'string') {
      const id = top.id;
      delete top.id;
      this.keep(id, top);
      return { $ref: `#/components/schemas/${id}` };
    }
    return top;
  }

  private keep(id: string, def: Json): void {
    delete def.id;
    const known = this.components[id];
    if (known !== undefined && JSON.stringify(known) !== JSON.stringify(def)) {
      throw new Error(`two different schemas are named ${id} (a .meta({ id }) copied by .extend()?)`);
    }
    this.components[id] = def;
  }
}

/** `#/$defs/X` (zod's) -> `#/components/schemas/X`, everywhere in `json`. */
function relink(json: Json): Json {
  return JSON.parse(JSON.stringify(json).replaceAll('"#/$defs/', '"#/components/schemas/')) as Json;
}

function parameters(route: ApiRoute, schemas: SchemaCollector): Json[] {
  const out: Json[] = [];
  for (const [where, schema] of [['path', route.params], ['query', route.query]] as const) {
    if (!schema) continue;
    const json = schemas.convert(schema);
    const required = new Set((json.required ?? []) as string[]);
    for (const [name, property] of Object.entries((json.properties ?? {}) as Record<string, Json>)) {
      const { description, ...rest } = property;
      out.push({ name, in: where, required: where === 'path' || required.has(name), ...(description !== undefined && { description }), schema: rest });
    }
  }
  return out;
}

function requestBody(route: ApiRoute, schemas: SchemaCollector): Json | undefined {
  const body = route.body;
  if (body === undefined) return undefined;
  if (isRaw(body)) return { required: true, description: body.description, content: { [body.raw]: {} } };
  return { required: true, content: { 'application/json': { schema: schemas.convert(body) } } };
}

function answer(a: Answer, schemas: SchemaCollector): Json {
  if (a.schema) return { description: a.description, content: { 'application/json': { schema: schemas.convert(a.schema) } } };
  return { description: a.description, ...(a.type !== undefined && { content: { [a.type]: {} } }) };
}

/** The route's error codes: its own, its auth's and its body's, by status. */
export function errorCodesOf(route: ApiRoute): Map<number, ErrorCode[]> {
  const codes = new Set<ErrorCode>([
    ...(route.auth === 'bearer' ? BEARER_ERRORS : []),
    ...(route.body !== undefined && !isRaw(route.body) ? JSON_BODY_ERRORS : []),
    ...(route.errors ?? []),
  ]);
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes].sort()) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return new Map([...byStatus].sort(([a], [b]) => a - b));
}

function responses(route: ApiRoute, schemas: SchemaCollector): Json {
  const out: Json = {};
  for (const [status, a] of Object.entries(route.responses)) out[status] = answer(a, schemas);
  const error = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };
  for (const [status, codes] of errorCodesOf(route)) {
    const listed = codes.map((c) => `\`${c}\``).join(', ');
    const mine = out[status] as Json | undefined;
    out[status] = mine
      ? { ...mine, description: `${String(mine.description)}; or an error: ${listed}`, 'x-error-codes': codes }
      : { description: `error: ${listed}`, content: error, 'x-error-codes': codes };
  }
  out.default = { description: 'any other error (`internal`, `method_not_allowed`…): the same envelope', content: error };
  return out;
}

/** `post /api/rooms/:room/members` -> `postApiRoomsRoomMembers` */
function operationId(route: ApiRoute): string {
  const words = route.path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return route.method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('') || route.method + 'Root';
}

export function openApiDocument(routes: readonly ApiRoute[] = API_ROUTES): Json {
  const schemas = new SchemaCollector();
  schemas.convert(errorEnvelope);
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    const params = parameters(route, schemas);
    const body = requestBody(route, schemas);
    (paths[path] ??= {})[route.method] = {
      operationId: operationId(route),
      summary: route.summary,
      tags: [route.tag],
      security: route.auth === 'bearer' ? [{ bearer: [] }] : [],
      ...(params.length > 0 && { parameters: params }),
      ...(body && { requestBody: body }),
      responses: responses(route, schemas),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'AuroraChat REST API (users service)',
      version: '1',
      description:
        'Accounts, rooms, history, files, search and attention over HTTP. The live part is the WebSocket protocol of the chat replicas (docs/PROTOCOL.md); the prose for every route is docs/REST.md. Errors are always `{"error":{"code","message"}}`: branch on `code`.',
    },
    servers: [{ url: '/', description: 'the users service (port 4000 by default)' }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: schemas.components,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'the `token` of POST /api/auth/login or /api/auth/refresh' },
      },
    },
  };
}
