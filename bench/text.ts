/**
 * Message text for the benchmarks: words from a 20,000-word vocabulary with a
 * Zipf-like distribution (rank r has weight 1/r), some Japanese lines and a
 * few URLs, so that full-text indexing does the work real chat text makes it do.
 */
import { rng } from './lib.js';

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'to', 'vi', 'ze', 'po', 'an', 'el', 'is', 'or', 'un', 'ba', 'de', 'fi', 'go', 'hu'];

/** The vocabulary, most frequent word first; the same on every run. */
export const VOCAB: readonly string[] = (() => {
  const random = rng(42);
  const words: string[] = [];
  for (let i = 0; words.length < 20_000; i++) {
    const n = 2 + Math.floor(random() * 3);
    let w = '';
    for (let k = 0; k < n; k++) w += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
    words.push(w + (i % 7 === 0 ? String(i % 100) : ''));
  }
  return words;
})();

export const CJK: readonly string[] = ['東京都に行きます', '京都で会いましょう', '明日は雨です', '会議は午後三時から', '新しい版を出しました'];

export interface SentenceOptions {
  /** Aim for this many bytes on average (uniform over half to one and a half times it); default: 5–19 words. */
  bytes?: number;
}

/** A deterministic sentence generator: 5 % Japanese, 2 % with a URL, the rest Zipf words. */
export function sentences(seed: number, options: SentenceOptions = {}): () => string {
  const random = rng(seed);
  const zipfWord = (): string => {
    const r = Math.floor(Math.exp(random() * Math.log(VOCAB.length)));
    return VOCAB[Math.min(VOCAB.length - 1, r - 1)] as string;
  };
  return () => {
    if (random() < 0.05) return CJK[Math.floor(random() * CJK.length)] as string;
    const words: string[] = [];
    if (options.bytes) {
      const target = options.bytes * (0.5 + random());
      for (let length = -1; length < target; ) {
        const w = zipfWord();
        words.push(w);
        length += w.length + 1;
      }
    } else {
      const n = 5 + Math.floor(random() * 15);
      for (let i = 0; i < n; i++) words.push(zipfWord());
    }
    if (random() < 0.02) words.push('see https://example.com/docs/v2/guide.html');
    return words.join(' ');
  };
}
