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
  const file = path.join(dataDir, 'jwt-secret');
  const existing = readSecret(file);
  if (existing !== null) return existing;

  fs.mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  const temp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(temp, 'w', 0o600);
  try {
    fs.writeSync(fd, secret + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    // link() fails if the file exists: when two processes race, the loser reads the winner's.
    fs.linkSync(temp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    fs.rmSync(temp, { force: true });
  }
  syncDir(dataDir);
  return readSecret(file) ?? secret;
}

function readSecret(file: string): string | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const secret = text.trim();
  if (secret.length < MIN_SECRET) {
    throw new ConfigError(
      `${file} holds no usable secret (fewer than ${MIN_SECRET} characters). ` +
        'Restore it from a backup, or delete it to generate a new one (every issued token then stops working).',
    );
  }
  return secret;
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
