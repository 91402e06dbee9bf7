/**
 * Thumbnails of big photos (issue #18: "a 20-megapixel JPEG thumbnails in
 * under a second on one core"): a 5472 × 3648 JPEG of noise (the worst case
 * for a decoder: nothing compresses) with EXIF orientation 6, made into its
 * thumbnail by the server's Thumbnailer, one at a time; then the same photo
 * re-encoded without its EXIF (what an upload of it also costs). Reports
 * wall time and the process's CPU time per image; run it under
 * `taskset -c 0` to hold it to one core.
 *
 *   npx tsx bench/thumbnail.ts [--runs 5] [--size smoke]
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { Thumbnailer } from '../src/media/thumbnails.js';
import { machine, numberArg, printRow, printTarget, stringArg, summarize } from './lib.js';

const smoke = stringArg('size', 'full') === 'smoke';
const runs = numberArg('runs', smoke ? 1 : 5);
const [width, height] = smoke ? [640, 480] : [5472, 3648];

console.log(`# thumbnail on ${machine()}: ${width} × ${height} JPEG of noise, orientation 6, ${runs} runs, cores allowed: ${os.availableParallelism()}`);
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'parley-thumb-'));
try {
  const noise = Buffer.alloc(width * height * 3);
  for (let i = 0; i < noise.length; i += 4) noise.writeUInt32LE((Math.random() * 0xffffffff) >>> 0, i);
  const file = path.join(dir, 'photo.jpg');
  await sharp(noise, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).withExif({ IFD0: { Orientation: '6' } }).toFile(file);
  const bytes = (await fs.stat(file)).size;
  const thumbs = new Thumbnailer();
  const wall: number[] = [];
  const cpu: number[] = [];
  let made = 0;
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const t = await thumbs.make(file, 'image/jpeg');
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    if (t) made++;
  }
  const w = summarize(wall);
  const c = summarize(cpu);
  printRow('thumbnail 20 MP', { megapixels: Math.round((width * height) / 1e5) / 10, fileBytes: bytes, made, wallP50: w.p50, wallMax: w.max, cpuP50: c.p50, cpuMax: c.max });
  if (!smoke) printTarget('thumbnail 20 MP', 'under 1 s on one core (wall, taskset -c 0)', w.max, w.max < 1000);

  const stripWall: number[] = [];
  const stripCpu: number[] = [];
  let stripped = 0;
  for (let i = 0; i < runs; i++) {
    const out = path.join(dir, `stripped-${i}.jpg`);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const size = await thumbs.stripMetadata(file, 'image/jpeg', out);
    stripWall.push(performance.now() - t0);
    const c1 = process.cpuUsage(c0);
    stripCpu.push((c1.user + c1.system) / 1000);
    if (size !== null) stripped++;
    await fs.rm(out, { force: true });
  }
  const sw = summarize(stripWall);
  const sc = summarize(stripCpu);
  printRow('EXIF strip 20 MP', { stripped, wallP50: sw.p50, wallMax: sw.max, cpuP50: sc.p50, cpuMax: sc.max });
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
