import { Type, type Static } from 'typebox';

/**
 * The error catalogue: every error the server reports, with its HTTP status
 * and a default sentence. Defined once; the HTTP and the socket transports
 * both encode from here.
 */
export const ERROR_CATALOGUE = {
  validation: { status: 400, message: 'The request is not valid.', retry: false },
  unauthorized: { status: 401, message: 'A valid token is required.', retry: false },
  forbidden: { status: 403, message: 'You may not do that.', retry: false },
  not_found: { status: 404, message: 'Not found.', retry: false },
  conflict: { status: 409, message: 'That conflicts with existing data.', retry: false },
  payload_too_large: { status: 413, message: 'The request body is too large.', retry: false },
  rate_limited: { status: 429, message: 'Too many requests; retry later.', retry: true },
  internal: { status: 500, message: 'Something went wrong on the server.', retry: true },
  unavailable: { status: 503, message: 'The service is unavailable; retry later.', retry: true },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;
export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

export const WireError = Type.Object({
  code: Type.Unsafe<ErrorCode>({ type: 'string', enum: ERROR_CODES }),
  message: Type.String(),
  data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type WireError = Static<typeof WireError>;

/** HTTP error body: `{"error":{"code","message","data"?}}`. */
export const ErrorBody = Type.Object({ error: WireError });
export type ErrorBody = Static<typeof ErrorBody>;

/** A failed socket acknowledgement: `{ok:false, error:{code, message, data?}}`. */
export const AckError = Type.Object({ ok: Type.Literal(false), error: WireError });
export type AckError = Static<typeof AckError>;
