import type { Parameters } from 'fast-check';

/**
 * How hard the fuzz tests push. By default every property runs a fixed,
 * small number of times from a fixed seed, so the folder takes well under a
 * minute and a failure is the same on every machine; fast-check prints the
 * seed and the path of a failing case. To search longer or elsewhere:
 *
 *   FUZZ_RUNS=2000 FUZZ_SEED=$RANDOM npx vitest run --project sqlite test/fuzz/
 *
 * FUZZ_RUNS replaces every property's default number of runs; FUZZ_SEED the
 * seed; FUZZ_PATH (with the seed of the failure) replays one failing case.
 * FUZZ_LOG=error shows the server's own log (an `internal` answer says
 * nothing on the wire; the log says what threw).
 */
export const DEFAULT_SEED = 17; // issue #17

function integerFromEnv(name: string): number | undefined {
  const raw = process.env[name]?.trim();
  if (!raw) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be a whole number, not '${raw}'`);
  return n;
}

const runs = integerFromEnv('FUZZ_RUNS');
const seed = integerFromEnv('FUZZ_SEED') ?? DEFAULT_SEED;
const path = process.env.FUZZ_PATH?.trim() || undefined;

/** The server's log level during fuzzing: silent unless FUZZ_LOG asks. */
export const FUZZ_LOG_LEVEL = (process.env.FUZZ_LOG?.trim() || 'silent') as 'silent' | 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** What a fuzz test gets: its fast-check parameters and its vitest time limit. */
export interface FuzzBudget<T> {
  params: Parameters<T>;
  timeoutMs: number;
}

/** Time left after the property for the checks that follow it (health, history) and the report. */
const MARGIN_MS = 15_000;

/**
 * The budget of a property whose default is `defaultRuns` runs in at most
 * `defaultMs` (the time grows with FUZZ_RUNS). fast-check stops looking
 * `MARGIN_MS` before the test's limit: a failure found by then is still
 * reported with its (partly) shrunk counterexample, where vitest would only
 * say "timed out", and a slow machine runs fewer cases instead of failing.
 */
export function fuzzBudget<T>(defaultRuns: number, defaultMs: number): FuzzBudget<T> {
  const timeoutMs = Math.max(defaultMs, Math.ceil((defaultMs * (runs ?? defaultRuns)) / defaultRuns));
  return {
    params: { numRuns: runs ?? defaultRuns, seed, path, endOnFailure: path !== undefined, interruptAfterTimeLimit: timeoutMs - MARGIN_MS },
    timeoutMs,
  };
}
