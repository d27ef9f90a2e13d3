// Request input is checked by zod schemas (schemas/*.ts), the same ones the OpenAPI document is
// generated from (openapi.ts), so what the docs say a route takes is what it accepts. This
// module is the bridge to our error table: every rule of a schema names its ErrorCode and its
// message with `rule()`, and `parse()` turns the first failing rule into that ApiError (a 400
// whose message names the field and the rule). Nothing is coerced silently: bad input is refused.
//
// The code travels inside the zod issue's message as `<code>\t<message>`: a zod error map can
// only give an issue its message, and this keeps the schemas plain zod that z.toJSONSchema reads.
import type { Request } from 'express';
import { z } from 'zod';
import { ApiError, ERROR_STATUS, type ErrorCode } from './errors.js';

/** The error param of a zod schema or check: this code and message when it fails. */
export function rule(code: ErrorCode, message: string | ((input: unknown) => string)): { error: (issue: { input?: unknown }) => string } {
  return { error: (issue) => `${code}\t${typeof message === 'string' ? message : message(issue.input)}` };
}

/** `value` as `schema` parses it, or the ApiError of the rule that refused it. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw apiErrorOf(result.error.issues);
}

function apiErrorOf(issues: readonly z.core.$ZodIssue[]): ApiError {
  // A rule of the whole body (a field it does not take, "one of these") is reported before any
  // field's: a typo in a name must read as that, not as the field it meant missing.
  const issue = issues.find((i) => i.path.length === 0) ?? issues[0];
  if (!issue) return new ApiError('invalid_body', 'the request is not valid');
  const tab = issue.message.indexOf('\t');
  const code = issue.message.slice(0, Math.max(tab, 0));
  if (tab > 0 && code in ERROR_STATUS) return new ApiError(code as ErrorCode, issue.message.slice(tab + 1));
  // a check written without rule(): still a 400 that names the field
  const where = issue.path.map(String).join('.') || 'the body';
  return new ApiError('invalid_field', `${where}: ${issue.message}`);
}

/** The parsed JSON body as an object; express.json leaves it undefined for other types. */
export function jsonObjectBody(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === undefined) {
    if (req.headers['content-type'] && !req.is('application/json')) {
      throw new ApiError('unsupported_media_type', 'request body must be application/json');
    }
    throw new ApiError('invalid_body', 'request body must be a JSON object');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError('invalid_body', 'request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** The JSON object body of `req` as `schema` parses it. */
export function parseBody<S extends z.ZodType>(req: Request, schema: S): z.output<S> {
  return parse(schema, jsonObjectBody(req));
}

/**
 * A query-string value: a string, given at most once (`?a=1&a=2` arrives as an array). Chain the
 * parameter's own rules after it; `missing` is the rule for a required one that is absent.
 */
export function queryString(name: string, missing: ReturnType<typeof rule> = rule('invalid_field', `${name} is required`)) {
  const repeated = rule('invalid_field', `${name} must be given once, as a string`);
  return z.string({ error: (issue) => (issue.input === undefined ? missing : repeated).error(issue) });
}
