import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from './config.js';

const MIN_SECRET = 32;

/**
 * The token-signing secret: JWT_SECRET when set; otherwise one generated on
 * first start and kept in DATA_DIR/jwt-secret (mode 0600), so tokens survive
 * a restart. The file is written whole or not at all (temp file, fsync,
 * link), so a crash cannot leave it empty; a damaged file stops the start
 * with a clear message rather than silently signing with a weak key.
 */
export function resolveJwtSecret(configured: string, dataDir: string): string {
  if (configured) return configured;
  return generatedOnce(path.join(dataDir, 'jwt-secret'), () => randomBytes(48).toString('base64url'), (text, file) => {
    const secret = text.trim();
    if (secret.length < MIN_SECRET) {
      throw new ConfigError(
        `${file} holds no usable secret (fewer than ${MIN_SECRET} characters). ` +
          'Restore it from a backup, or delete it to generate a new one (every issued token then stops working).',
      );
    }
    return secret;
  });
}

/**
 * A value kept in `file` (mode 0600): read when it exists (`parse` judges
 * it, throwing ConfigError on a damaged one); otherwise made by `make`,
 * written whole or not at all (temp file, fsync, link: when two processes
 * race, the loser reads the winner's) and read back.
 */
export function generatedOnce<T>(file: string, make: () => string, parse: (text: string, file: string) => T): T {
  const existing = readText(file);
  if (existing !== null) return parse(existing, file);
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(temp, 'w', 0o600);
  try {
    fs.writeSync(fd, make() + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(temp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    fs.rmSync(temp, { force: true });
  }
  syncDir(dir);
  return parse(readText(file) ?? '', file);
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function syncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some file systems cannot fsync a directory; the file itself is synced.
  }
}
