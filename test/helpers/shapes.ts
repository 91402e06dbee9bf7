import { Ajv } from 'ajv';
import { expect } from 'vitest';
import type { TSchema } from 'typebox';
import { AckError, ErrorBody } from '../../src/protocol/errors.js';
import { Conversation, Message, User } from '../../src/protocol/models.js';
import type { HttpResult } from './client.js';

/**
 * Checks what the server sends against the same TypeBox schemas it is built
 * from, closed: every object must have exactly the documented properties.
 */
const ajv = new Ajv({ allErrors: true, strict: false });
// Times are ISO-8601 UTC as Date#toISOString writes them.
ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = closed(v);
  if (out.type === 'object' && out.properties) out.additionalProperties = false;
  return out;
}

const validators = new Map<TSchema, ReturnType<typeof ajv.compile>>();
export function expectShape(schema: TSchema, value: unknown): void {
  let validate = validators.get(schema);
  if (!validate) validators.set(schema, (validate = ajv.compile(closed(schema) as object)));
  expect(validate(value), `${JSON.stringify(value)}\n${ajv.errorsText(validate.errors)}`).toBe(true);
}

export const expectUser = (u: unknown) => expectShape(User, u);
export const expectMessage = (m: unknown) => expectShape(Message, m);
export const expectConversation = (c: unknown) => expectShape(Conversation, c);

/** An HTTP error: the status, a JSON body of exactly {error:{code, message}}, a non-empty message. */
export function expectError(r: HttpResult, status: number, code: string): void {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  expectShape(ErrorBody, r.body);
  expect(r.body.error.message.trim()).not.toBe('');
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
}

/** A failed ack: exactly {ok:false, error:{code, message, data?}}, with this code and a sentence. */
export function expectAckError(ack: unknown, code: string): void {
  expectShape(AckError, ack);
  const error = (ack as { error: { code: string; message: string } }).error;
  expect(error.code, JSON.stringify(ack)).toBe(code);
  expect(error.message).toMatch(/\S/);
}
