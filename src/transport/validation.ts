import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { TSchema } from 'typebox';
import { NAME_PATTERN } from '../protocol/http.js';

/**
 * Two Ajv instances for the same TypeBox schemas: a strict one for bodies and
 * socket payloads (a number is not a string), and a coercing one for query
 * strings and path parameters (where everything arrives as text).
 */
const common = { allErrors: false, strict: false, useDefaults: true } as const;
export const strictAjv = new Ajv({ ...common, coerceTypes: false });
export const coercingAjv = new Ajv({ ...common, coerceTypes: true });

/** A lone UTF-16 surrogate: text that cannot be stored as it was sent. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
for (const ajv of [strictAjv, coercingAjv]) {
  ajv.addKeyword({
    keyword: 'wellFormed',
    type: 'string',
    schemaType: 'boolean',
    validate: (on: boolean, data: string) => !on || !LONE_SURROGATE.test(data),
  });
}

/** A sentence that names the field and what is wrong with it. */
export function describeErrors(errors: readonly ErrorObject[] | null | undefined, root = 'payload'): string {
  const e = errors?.[0];
  if (!e) return `${root} is not valid`;
  let field = e.instancePath ? e.instancePath.slice(1).replaceAll('/', '.') : root;
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    field = e.instancePath ? `${field}.${missing}` : missing;
    return `${field} is required`;
  }
  if (e.keyword === 'pattern') {
    const pattern = (e.params as { pattern: string }).pattern;
    if (pattern === '\\S') return `${field} must not be blank`;
    if (pattern === NAME_PATTERN) return `${field} must not be blank, nor hold control or text-direction characters`;
    return `${field} has characters that are not allowed`;
  }
  if (e.keyword === 'wellFormed') return `${field} must be well-formed Unicode (no lone surrogate)`;
  if (e.keyword === 'additionalProperties') {
    return `${field} has an unknown property '${(e.params as { additionalProperty: string }).additionalProperty}'`;
  }
  return `${field} ${e.message ?? 'is not valid'}`;
}

/** A checker for socket payloads: null when valid, else a sentence naming the field. */
export function payloadChecker(schema: TSchema): (value: unknown) => string | null {
  const validate: ValidateFunction = strictAjv.compile(schema);
  return (value) => (validate(value) ? null : describeErrors(validate.errors));
}
