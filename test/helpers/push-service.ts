/**
 * A local stand-in for a Web Push service (RFC 8030) over TLS, for tests of
 * the server's Web Push sender. Nothing reaches the internet and certificate
 * checks stay on: each service makes its own CA (node-forge), serves a
 * certificate for 127.0.0.1 / ::1 / localhost signed by it, and hands out an
 * `https.Agent` that trusts exactly that CA (`agent()`, or `ca` for your own).
 *
 * Subscriptions (`subscribe()`) look like a browser's
 * `PushSubscription.toJSON()`; their private halves (ECDH key, auth secret)
 * stay inside the service, found again by the endpoint's path, so a
 * subscription may go through JSON and a database and still be decrypted.
 *
 * Every POST to a subscription is recorded in `received` (whatever it was
 * answered): its headers, the decrypted body (RFC 8291, aes128gcm, via
 * http_ece) and the VAPID claims (RFC 8292), whose ES256 signature is
 * verified against `k` and whose `aud` must be this origin. A request that
 * cannot be understood (unknown subscription, bad VAPID, undecryptable body)
 * is answered 4xx and lands in `errors`; `waitFor()` then rejects with it.
 *
 * Answers: a per-subscription status from `answerFor()` wins, then a body
 * over `maxBodyBytes` (4096 by default, as RFC 8291 push services accept)
 * gets 413, then the statuses queued in `answers`, then 201 with a Location.
 */
import { createECDH, createPublicKey, generateKeyPair, randomBytes, randomUUID, verify, type ECDH } from 'node:crypto';
import { once } from 'node:events';
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import forge from 'node-forge';

/** http_ece 1.2 (no types published): only what is used here. */
interface HttpEce {
  decrypt(buffer: Buffer, params: { version: 'aes128gcm'; privateKey: ECDH; authSecret: Buffer }): Buffer;
}
// http_ece is web-push's own dependency: load the copy web-push uses.
const requireHere = createRequire(import.meta.url);
const ece = createRequire(requireHere.resolve('web-push'))('http_ece') as HttpEce;

export interface TestSubscription {
  /** https://127.0.0.1:<port>/push/<random id> */
  endpoint: string;
  expirationTime: null;
  /** base64url, as a browser's PushSubscription.toJSON() gives. */
  keys: { p256dh: string; auth: string };
}

export interface VapidClaims {
  /** The JWT's `aud`: checked to equal the service's origin. */
  audience: string;
  /** The JWT's `sub` (a mailto: or https: URL). */
  subject: string;
  /** `k`: the application server's public key, base64url (65-byte uncompressed P-256 point). */
  publicKey: string;
  /** The JWT's `exp`, in seconds since the epoch. */
  expires: number;
}

export interface PushedMessage {
  /** Which subscription it was sent to (matched by the URL path). */
  subscription: TestSubscription;
  /** As received (Node lower-cases names): ttl, urgency, topic, authorization, content-encoding… */
  headers: IncomingHttpHeaders;
  /** The decrypted body, JSON.parse'd; the raw text if not JSON; null for a push without payload. */
  payload: unknown;
  /** The decrypted bytes (empty for a push without payload). */
  raw: Buffer;
  /** Size of the request body as received (the aes128gcm record, header included). */
  encryptedBytes: number;
  vapid: VapidClaims;
  /** The status the service answered. */
  status: number;
}

interface Entry {
  sub: TestSubscription;
  ecdh: ECDH;
  authSecret: Buffer;
  /** If set, only pushes whose VAPID key is this one are accepted (else 403), as browsers subscribe with an applicationServerKey. */
  applicationServerKey?: string;
}

interface Waiter {
  n: number;
  resolve: (messages: PushedMessage[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const MAX_READ_BYTES = 1 << 20;

/** A rejected request: answered `status`, recorded in `errors`. */
class PushRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class PushService {
  /** Every push to a known subscription, in arrival order, whatever it was answered. */
  readonly received: PushedMessage[] = [];
  /** Requests the service could not accept (unknown subscription, bad VAPID, undecryptable body…). */
  readonly errors: Error[] = [];
  /** Status codes to answer next, in order (default 201). e.g. [410] or [500, 201] */
  answers: number[] = [];
  /** Bodies larger than this are answered 413 (still recorded). Infinity to accept any size. */
  maxBodyBytes = 4096;

  private readonly subs = new Map<string, Entry>();
  private readonly forever = new Map<string, number>();
  private readonly waiters = new Set<Waiter>();
  private closed = false;

  private constructor(
    private readonly server: https.Server,
    readonly origin: string,
    readonly ca: string,
  ) {}

  static async start(): Promise<PushService> {
    const { caPem, keyPem, certPem } = await makeCertificates();
    const server = https.createServer({ key: keyPem, cert: certPem });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const service = new PushService(server, `https://127.0.0.1:${port}`, caPem);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => service.handle(req, res));
    return service;
  }

  /** An Agent trusting exactly this service's CA (no keep-alive, so close() is prompt). */
  agent(): https.Agent {
    return new https.Agent({ ca: this.ca, keepAlive: false });
  }

  /** A fresh subscription: a P-256 key pair and a 16-byte auth secret. */
  subscribe(options: { applicationServerKey?: string } = {}): TestSubscription {
    const id = randomUUID();
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const authSecret = randomBytes(16);
    const sub: TestSubscription = {
      endpoint: `${this.origin}/push/${id}`,
      expirationTime: null,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: authSecret.toString('base64url') },
    };
    this.subs.set(id, { sub, ecdh, authSecret, applicationServerKey: options.applicationServerKey });
    return sub;
  }

  /** Answer every push to this subscription (or endpoint URL) with `status`, e.g. 404 or 410 for one that is gone. */
  answerFor(sub: TestSubscription | string, status: number): void {
    this.forever.set(idOf(typeof sub === 'string' ? sub : sub.endpoint), status);
  }

  /** Pushes received for one subscription (or endpoint URL). */
  receivedFor(sub: TestSubscription | string): PushedMessage[] {
    const endpoint = typeof sub === 'string' ? sub : sub.endpoint;
    return this.received.filter((m) => m.subscription.endpoint === endpoint);
  }

  /**
   * Resolves with `received` once it holds at least `n` pushes; rejects after
   * `timeoutMs`, at once if a request was rejected as malformed (see `errors`),
   * or when the service closes.
   */
  waitFor(n: number, timeoutMs = 10_000): Promise<PushedMessage[]> {
    if (this.errors.length > 0) return Promise.reject(this.errors[0]!);
    if (this.received.length >= n) return Promise.resolve([...this.received]);
    if (this.closed) return Promise.reject(new Error('PushService: closed'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        n,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(
            new Error(
              `PushService: waited ${timeoutMs} ms for ${n} push message(s), got ${this.received.length}` +
                (this.received.length ? ` (to ${this.received.map((m) => new URL(m.subscription.endpoint).pathname).join(', ')})` : ''),
            ),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.settle(new Error('PushService: closed while waiting'));
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private settle(error?: Error): void {
    for (const w of this.waiters) {
      if (error) w.reject(error);
      else if (this.received.length >= w.n) w.resolve([...this.received]);
      else continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size <= MAX_READ_BYTES) chunks.push(chunk);
      }
    } catch {
      return; // the sender went away mid-body: nothing to record
    }
    const body = Buffer.concat(chunks);
    try {
      const message = this.understand(req, body, size);
      this.received.push(message);
      this.settle();
      res.statusCode = message.status;
      if (message.status === 201) res.setHeader('Location', `${this.origin}/message/${randomUUID()}`);
      res.end();
    } catch (e) {
      const err = e instanceof PushRequestError ? e : new PushRequestError(400, String(e));
      err.message = `PushService: ${req.method} ${req.url}: ${err.message}`;
      this.errors.push(err);
      this.settle(err);
      res.statusCode = err.status;
      res.end(err.message);
    }
  }

  private understand(req: IncomingMessage, body: Buffer, size: number): PushedMessage {
    const match = /^\/push\/([^/?#]+)$/.exec(req.url ?? '');
    const entry = match ? this.subs.get(match[1]!) : undefined;
    if (req.method !== 'POST' || !match) throw new PushRequestError(404, 'not a push resource (POST /push/<id>)');
    if (!entry) throw new PushRequestError(404, 'unknown subscription');
    const vapid = verifyVapid(req.headers.authorization, this.origin);
    if (entry.applicationServerKey !== undefined && entry.applicationServerKey !== vapid.publicKey) {
      throw new PushRequestError(403, `VAPID key ${vapid.publicKey} is not the subscription's applicationServerKey`);
    }
    let raw: Buffer = Buffer.alloc(0);
    let payload: unknown = null;
    if (size > 0) {
      const encoding = req.headers['content-encoding'];
      if (encoding !== 'aes128gcm') throw new PushRequestError(415, `Content-Encoding ${encoding}: only aes128gcm is supported`);
      if (size > MAX_READ_BYTES) throw new PushRequestError(413, `body of ${size} bytes`);
      try {
        raw = ece.decrypt(body, { version: 'aes128gcm', privateKey: entry.ecdh, authSecret: entry.authSecret });
      } catch (e) {
        throw new PushRequestError(400, `cannot decrypt the body: ${(e as Error).message}`);
      }
      const text = raw.toString('utf8');
      try {
        payload = JSON.parse(text);
      } catch {
        payload = text;
      }
    }
    const id = match[1]!;
    const status = this.forever.get(id) ?? (size > this.maxBodyBytes ? 413 : (this.answers.shift() ?? 201));
    return { subscription: entry.sub, headers: req.headers, payload, raw, encryptedBytes: size, vapid, status };
  }
}

function idOf(endpoint: string): string {
  const id = /\/push\/([^/?#]+)$/.exec(new URL(endpoint).pathname)?.[1];
  if (!id) throw new Error(`PushService: not a test subscription endpoint: ${endpoint}`);
  return id;
}

/** Checks `Authorization: vapid t=<jwt>, k=<key>` (RFC 8292) and returns its claims. */
export function verifyVapid(authorization: string | undefined, origin: string): VapidClaims {
  const fail = (why: string): never => {
    throw new PushRequestError(401, `VAPID: ${why}`);
  };
  if (!authorization) return fail('no Authorization header');
  const m = /^vapid\s+(.*)$/i.exec(authorization);
  if (!m) return fail(`Authorization is not "vapid t=…, k=…": ${authorization}`);
  const params = new Map<string, string>();
  for (const part of m[1]!.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const token = params.get('t');
  const k = params.get('k');
  if (!token || !k) return fail('t= or k= missing');
  const point = Buffer.from(k, 'base64url');
  if (point.length !== 65 || point[0] !== 0x04) return fail('k is not an uncompressed P-256 point');
  const parts = token.split('.');
  if (parts.length !== 3) return fail('t is not a JWS compact serialization');
  const [h, p, s] = parts as [string, string, string];
  let header: { alg?: unknown };
  let claims: { aud?: unknown; sub?: unknown; exp?: unknown };
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  } catch {
    return fail('JWT header or claims are not JSON');
  }
  if (header.alg !== 'ES256') return fail(`alg is ${String(header.alg)}, not ES256`);
  const key = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
    format: 'jwk',
  });
  const signature = Buffer.from(s, 'base64url');
  const ok =
    signature.length === 64 && verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, signature);
  if (!ok) return fail('the JWT signature does not verify against k');
  if (claims.aud !== origin) return fail(`aud is ${String(claims.aud)}, not ${origin}`);
  const now = Date.now() / 1000;
  if (typeof claims.exp !== 'number' || claims.exp <= now) return fail(`exp ${String(claims.exp)} is missing or past`);
  if (claims.exp > now + 24 * 3600 + 60) return fail(`exp ${claims.exp} is more than 24 hours ahead`);
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) {
    return fail(`sub ${String(claims.sub)} is not a mailto: or https: URL`);
  }
  return { audience: claims.aud, subject: claims.sub, publicKey: k, expires: claims.exp };
}

/** A throwaway CA and a server certificate for 127.0.0.1, ::1 and localhost signed by it. */
async function makeCertificates(): Promise<{ caPem: string; keyPem: string; certPem: string }> {
  const pki = forge.pki;
  // RSA keys from node:crypto (native, off the main thread, both at once), then
  // handed to forge for the X.509 work.
  const rsa = async () => {
    const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    const key = pki.privateKeyFromPem(pem);
    return { pem, key, pub: pki.setRsaPublicKey(key.n, key.e) };
  };
  const [caKey, leafKey] = await Promise.all([rsa(), rsa()]);
  const serial = () => '01' + randomBytes(15).toString('hex'); // positive, non-zero
  const validity = (cert: forge.pki.Certificate) => {
    cert.validity.notBefore = new Date(Date.now() - 3600_000);
    cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  };

  const ca = pki.createCertificate();
  ca.publicKey = caKey.pub;
  ca.serialNumber = serial();
  validity(ca);
  const caName = [{ name: 'commonName', value: 'Parley test push service CA' }];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKey.key, forge.md.sha256.create());

  const leaf = pki.createCertificate();
  leaf.publicKey = leafKey.pub;
  leaf.serialNumber = serial();
  validity(leaf);
  leaf.setSubject([{ name: 'commonName', value: '127.0.0.1' }]);
  leaf.setIssuer(caName);
  leaf.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
        { type: 2, value: 'localhost' },
      ],
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  leaf.sign(caKey.key, forge.md.sha256.create());

  return { caPem: pki.certificateToPem(ca), keyPem: leafKey.pem, certPem: pki.certificateToPem(leaf) };
}
