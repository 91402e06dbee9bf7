/**
 * PostgreSQL's text cannot hold U+0000, which a message (or a clientId) may
 * contain. Such strings are stored with an escape: U+FFFF (a noncharacter)
 * followed by '0' stands for U+0000, and a doubled U+FFFF for itself. Strings
 * with neither character (nearly all) are stored as they are.
 */
const NEEDS_ESCAPE = /[\u0000\uffff]/;

export function toDbText(s: string): string;
export function toDbText(s: string | null): string | null;
export function toDbText(s: string | null): string | null {
  if (s === null || !NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[\u0000\uffff]/g, (c) => (c === '\u0000' ? '\uffff0' : '\uffff\uffff'));
}

export function fromDbText(s: string): string;
export function fromDbText(s: string | null): string | null;
export function fromDbText(s: string | null): string | null {
  if (s === null || !s.includes('\uffff')) return s;
  return s.replace(/\uffff([\uffff0])/g, (_, c: string) => (c === '0' ? '\u0000' : '\uffff'));
}
