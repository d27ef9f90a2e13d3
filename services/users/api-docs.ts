// GET /api/openapi.json (the OpenAPI document, openapi.ts) and GET /api/docs (the same rendered as
// one HTML page: every route's method, path, summary, auth, parameters, body fields with their
// rules, and answers). Public and cacheable: the API's description is no secret and changes only
// with a deploy. The page is built once, on the server, from escaped text: no script at all (the
// CSP allows none inline anyway), and its one stylesheet is the client's (/css/api-docs.css).
import { Router } from 'express';
import { methodNotAllowed } from './errors.js';
import { openApiDocument } from './openapi.js';

type Json = Record<string, unknown>;

/** Revalidated (ETag) after five minutes: a deploy shows within that. */
const CACHE_CONTROL = 'public, max-age=300';

export function apiDocsRouter(document: Json = openApiDocument()): Router {
  const json = JSON.stringify(document);
  const html = renderApiDocs(document);
  const router = Router();
  router
    .route('/api/openapi.json')
    .get((_req, res) => {
      res.set('Cache-Control', CACHE_CONTROL).type('application/json').send(json);
    })
    .all(methodNotAllowed(['GET', 'HEAD']));
  router
    .route('/api/docs')
    .get((_req, res) => {
      res.set('Cache-Control', CACHE_CONTROL).type('html').send(html);
    })
    .all(methodNotAllowed(['GET', 'HEAD']));
  return router;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** Text with `code` spans (the descriptions use Markdown backticks), escaped. */
const prose = (s: unknown): string => escapeHtml(s ?? '').replace(/`([^`]+)`/g, '<code>$1</code>');

const anchor = (prefix: string, name: string) => `${prefix}-${name.replace(/[^A-Za-z0-9_-]+/g, '-')}`;
const COMPONENT_REF = '#/components/schemas/';

/**
 * What a JSON Schema allows, in words: its type and every rule on it. An object shows its fields
 * with their rules `depth` levels down, then only their names.
 */
export function schemaRules(schema: Json | undefined, depth = 0): string {
  if (schema === undefined || Object.keys(schema).length === 0) return 'any';
  if (typeof schema.$ref === 'string' && schema.$ref.startsWith(COMPONENT_REF)) {
    const name = schema.$ref.slice(COMPONENT_REF.length);
    return `<a href="#${anchor('schema', name)}">${escapeHtml(name)}</a>`;
  }
  const alternatives = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  if (alternatives) return alternatives.map((alt) => schemaRules(alt, depth)).join(' <em>or</em> ');
  const parts: string[] = [];
  if ('const' in schema) parts.push(`exactly <code>${escapeHtml(JSON.stringify(schema.const))}</code>`);
  else if (Array.isArray(schema.enum)) parts.push(`one of ${schema.enum.map((v) => `<code>${escapeHtml(JSON.stringify(v))}</code>`).join(', ')}`);
  else if (schema.type === 'array') {
    const items = schemaRules(schema.items as Json | undefined, depth);
    parts.push(`array of ${items.includes(';') ? `(${items})` : items}`);
  } else if (schema.type === 'object') parts.push(schema.properties ? `object {${fields(schema, depth)}}` : 'object');
  else if (schema.type !== undefined) parts.push(escapeHtml([schema.type].flat().join(' or ')));
  const range = (min: unknown, max: unknown, unit: string) => {
    if (min === undefined && max === undefined) return;
    if (min !== undefined && max !== undefined) parts.push(`${escapeHtml(min)}–${escapeHtml(max)} ${unit}`);
    else parts.push(min !== undefined ? `at least ${escapeHtml(min)} ${unit}` : `at most ${escapeHtml(max)} ${unit}`);
  };
  range(schema.minLength, schema.maxLength, 'characters');
  range(schema.minItems, schema.maxItems, 'items');
  // zod's integers carry the safe-integer bounds: no rule worth reading
  const bound = (v: unknown) => (typeof v === 'number' && Math.abs(v) >= Number.MAX_SAFE_INTEGER ? undefined : v);
  range(bound(schema.minimum), bound(schema.maximum), '(inclusive)');
  if (typeof schema.pattern === 'string') parts.push(`matching <code>${escapeHtml(schema.pattern)}</code>`);
  if (typeof schema.format === 'string') parts.push(`format ${escapeHtml(schema.format)}`);
  if (schema.additionalProperties === false) parts.push('no other fields');
  if ('default' in schema) parts.push(`default <code>${escapeHtml(JSON.stringify(schema.default))}</code>`);
  return parts.join('; ') || 'any';
}

/** An object's fields: with their rules while `depth` > 0, else their names; optional ones marked `?`. */
function fields(schema: Json, depth: number): string {
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(schema.properties as Record<string, Json>)
    .map(([name, field]) => {
      const key = `<code>${escapeHtml(name)}${required.has(name) ? '' : '?'}</code>`;
      return depth > 0 ? `${key}: ${schemaRules(field, depth - 1)}` : key;
    })
    .join(', ');
}

/** A table of an object schema's fields (or one per alternative of a oneOf / anyOf). */
function fieldsTable(schema: Json | undefined): string {
  if (!schema) return '';
  const alternatives = (schema.oneOf ?? schema.anyOf) as Json[] | undefined;
  if (alternatives && !schema.properties) {
    return alternatives.map((alt, i) => `<p>${i === 0 ? 'One of these' : '<em>or</em>'}:</p>${fieldsTable(alt)}`).join('');
  }
  if (schema.type !== 'object' || !schema.properties) return `<p>${schemaRules(schema)}</p>`;
  const required = new Set((schema.required ?? []) as string[]);
  const rows = Object.entries(schema.properties as Record<string, Json>).map(
    ([name, field]) =>
      `<tr><td><code>${escapeHtml(name)}</code></td><td>${required.has(name) ? 'required' : 'optional'}</td><td>${schemaRules(field)}</td><td>${prose(field.description)}</td></tr>`,
  );
  const note = [schema.description ? prose(schema.description) : '', schema.additionalProperties === false ? 'No other fields.' : ''].filter(Boolean).join(' ');
  return `${note ? `<p>${note}</p>` : ''}<table><thead><tr><th>field</th><th></th><th>type and rules</th><th>meaning</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function parametersTable(parameters: Json[]): string {
  const rows = parameters.map(
    (p) =>
      `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required ? 'required' : 'optional'}</td><td>${schemaRules(p.schema as Json)}</td><td>${prose(p.description)}</td></tr>`,
  );
  return `<table><thead><tr><th>name</th><th>in</th><th></th><th>type and rules</th><th>meaning</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function bodySection(body: Json | undefined): string {
  if (!body) return '';
  const content = (body.content ?? {}) as Record<string, Json>;
  const parts = Object.entries(content).map(([type, media]) => `<p>As <code>${escapeHtml(type)}</code>. ${prose(body.description)}</p>${media.schema ? fieldsTable(media.schema as Json) : ''}`);
  return `<h4>Request body</h4>${parts.join('')}`;
}

function responsesTable(responses: Record<string, Json>): string {
  const rows = Object.entries(responses).map(([status, r]) => {
    const content = Object.entries((r.content ?? {}) as Record<string, Json>);
    const body = content.map(([type, media]) => (media.schema ? schemaRules(media.schema as Json, 2) : `<code>${escapeHtml(type)}</code>`)).join(', ');
    return `<tr><td>${escapeHtml(status)}</td><td>${prose(r.description)}</td><td>${body}</td></tr>`;
  });
  return `<h4>Responses</h4><table><thead><tr><th>status</th><th>when</th><th>body</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

interface Operation {
  method: string;
  path: string;
  op: Json;
}

function operationSection({ method, path, op }: Operation): string {
  const bearer = Array.isArray(op.security) && op.security.length > 0;
  const parameters = (op.parameters ?? []) as Json[];
  return [
    `<article id="${escapeHtml(op.operationId)}">`,
    `<h3><span class="method">${escapeHtml(method.toUpperCase())}</span> <code>${escapeHtml(path)}</code></h3>`,
    `<p>${prose(op.summary)}</p>`,
    `<p><strong>Auth:</strong> ${bearer ? 'signed in: <code>Authorization: Bearer &lt;access token&gt;</code>, charged to your request budget' : 'none'}</p>`,
    parameters.length > 0 ? `<h4>Parameters</h4>${parametersTable(parameters)}` : '',
    bodySection(op.requestBody as Json | undefined),
    responsesTable(op.responses as Record<string, Json>),
    '</article>',
  ].join('\n');
}

/** The whole page: contents by tag, one section per operation, then the named schemas. */
export function renderApiDocs(document: Json): string {
  const info = document.info as Json;
  const byTag = new Map<string, Operation[]>();
  for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = String((op.tags as string[] | undefined)?.[0] ?? 'Other');
      byTag.set(tag, [...(byTag.get(tag) ?? []), { method, path, op }]);
    }
  }
  const contents = [...byTag]
    .map(
      ([tag, ops]) =>
        `<li><a href="#${anchor('tag', tag)}">${escapeHtml(tag)}</a><ul>${ops
          .map((o) => `<li><a href="#${escapeHtml(o.op.operationId)}"><code>${escapeHtml(o.method.toUpperCase())} ${escapeHtml(o.path)}</code></a> ${prose(o.op.summary)}</li>`)
          .join('')}</ul></li>`,
    )
    .join('');
  const sections = [...byTag].map(([tag, ops]) => `<section id="${anchor('tag', tag)}"><h2>${escapeHtml(tag)}</h2>\n${ops.map(operationSection).join('\n')}</section>`);
  const schemas = Object.entries(((document.components as Json).schemas ?? {}) as Record<string, Json>).map(
    ([name, schema]) => `<article id="${anchor('schema', name)}"><h3>${escapeHtml(name)}</h3>${fieldsTable(schema)}</article>`,
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(info.title)}</title>
<link rel="stylesheet" href="/css/api-docs.css">
</head>
<body>
<header>
<h1>${escapeHtml(info.title)}</h1>
<p>${prose(info.description)}</p>
<p>The same as OpenAPI ${escapeHtml(document.openapi)}: <a href="/api/openapi.json">/api/openapi.json</a>.</p>
</header>
<nav aria-label="Routes"><h2>Routes</h2><ul>${contents}</ul></nav>
<main>
${sections.join('\n')}
<section id="schemas"><h2>Schemas</h2>
${schemas.join('\n')}
</section>
</main>
</body>
</html>
`;
}
