import { PacketType } from 'socket.io-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorBody } from '../../src/protocol/errors.js';
import { connect } from '../helpers/client.js';
import { expectShape } from '../helpers/shapes.js';
import { createWorld, type World } from './world.js';

/**
 * What the fuzzers found, each as its smallest case, so that it stays
 * fixed whatever seed the fuzzers run with.
 */

let world: World;
beforeAll(async () => {
  world = await createWorld();
});
afterAll(() => world?.server.close());

/** A raw HTTP answer is the catalogue's: JSON `{error:{code, message}}` with the code's status. */
async function expectCatalogueError(res: Response, status: number, code: string): Promise<void> {
  const text = await res.text();
  expect({ status: res.status, contentType: res.headers.get('content-type'), text }).toMatchObject({ status, contentType: expect.stringMatching(/^application\/json/) });
  const body = JSON.parse(text) as ErrorBody;
  expectShape(ErrorBody, body);
  expect(body.error.code).toBe(code);
}

describe('found by fuzzing', () => {
  it('answers a packet with an ack id and no event name (`21`) with one validation ack, not silence', async () => {
    const s = await connect(world.url, world.me.token);
    try {
      const answer = new Promise<unknown[]>((resolve) => {
        s.socket.io.on('packet', (p: { type: number; id?: number; data?: unknown }) => {
          if (p.type === PacketType.ACK && p.id === 1) resolve(p.data as unknown[]);
        });
      });
      s.socket.io.engine.write(`${PacketType.EVENT}1`);
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no ack within 5 s')), 5000));
      const [ack] = await Promise.race([answer, timeout]);
      expect(ack).toMatchObject({ ok: false, error: { code: 'validation' } });
    } finally {
      s.close();
    }
  });

  it("answers a request Node's HTTP parser refuses (an unknown method) with the catalogue's body", async () => {
    await expectCatalogueError(await fetch(`${world.url}/api/users/me`, { method: 'FUZZ' }), 400, 'validation');
  });

  it("answers a URL that does not percent-decode with the catalogue's body", async () => {
    await expectCatalogueError(await fetch(`${world.url}/api/conversations/%E0%A4%A`, { headers: { authorization: `Bearer ${world.me.token}` } }), 400, 'validation');
  });

  it('answers a path parameter over the router bound (100 characters) with validation, like any over-long id', async () => {
    const long = 'x'.repeat(101);
    await expectCatalogueError(await fetch(`${world.url}/api/conversations/${long}`, { headers: { authorization: `Bearer ${world.me.token}` } }), 400, 'validation');
  });
});
