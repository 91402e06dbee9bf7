import type { Conversation, Message, User } from './parley';

const pad = (n: number) => String(n).padStart(2, '0');

/** 24-hour HH:MM in local time. */
export function clock(iso: string): string {
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function startOfDay(d: Date): number {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/** Whole days between the local day of `iso` and today (0 = today). */
export function daysAgo(iso: string, now = new Date()): number {
  return Math.round((startOfDay(now) - startOfDay(new Date(iso))) / 86_400_000);
}

/** The key of a local calendar day, for day separators. */
export function dayKey(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** "Today", "Yesterday", or a date. */
export function dayLabel(iso: string, now = new Date()): string {
  const ago = daysAgo(iso, now);
  if (ago === 0) return 'Today';
  if (ago === 1) return 'Yesterday';
  const d = new Date(iso);
  return d.toLocaleDateString(undefined, {
    weekday: ago < 7 ? 'long' : undefined,
    day: 'numeric',
    month: 'long',
    year: d.getFullYear() === now.getFullYear() ? undefined : 'numeric',
  });
}

/** A short time for the conversation list: HH:MM today, else "Yesterday", a weekday or a date. */
export function shortTime(iso: string, now = new Date()): string {
  const ago = daysAgo(iso, now);
  if (ago === 0) return clock(iso);
  if (ago === 1) return 'Yesterday';
  const d = new Date(iso);
  if (ago > 1 && ago < 7) return d.toLocaleDateString(undefined, { weekday: 'short' });
  return d.toLocaleDateString(undefined, {
    day: 'numeric',
    month: 'short',
    year: d.getFullYear() === now.getFullYear() ? undefined : '2-digit',
  });
}

export function fullTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'short' });
}

/** "last seen today at 14:05" and the like. */
export function lastSeen(iso: string | null): string {
  if (!iso) return 'offline';
  const ago = daysAgo(iso);
  if (ago === 0) return `last seen today at ${clock(iso)}`;
  if (ago === 1) return `last seen yesterday at ${clock(iso)}`;
  return `last seen ${new Date(iso).toLocaleDateString(undefined, { day: 'numeric', month: 'short' })}`;
}

/** The other member of a direct chat (or null for groups and self-chats). */
export function otherMember(c: Conversation, meId: string | undefined): User | null {
  if (c.type !== 'direct') return null;
  return c.members.find((u) => u.id !== meId) ?? null;
}

export function conversationTitle(c: Conversation, meId: string | undefined): string {
  if (c.type === 'group') return c.title?.trim() || c.members.map((u) => u.displayName).join(', ') || 'Group';
  return otherMember(c, meId)?.displayName ?? c.title ?? 'Just you';
}

export function memberName(c: Conversation | undefined, userId: string, meId?: string): string {
  if (userId === meId) return 'You';
  return c?.members.find((u) => u.id === userId)?.displayName ?? 'Someone';
}

/** A one-line preview of a message for the conversation list. */
export function preview(c: Conversation, m: Message | null, meId: string | undefined): string {
  if (!m) return c.type === 'group' ? 'Group created' : 'No messages yet';
  if (m.deletedAt) return 'Message deleted';
  let text = m.content.replace(/\s+/g, ' ').trim();
  if (!text && m.attachments.length > 0) {
    const images = m.attachments.every((a) => a.thumbnailUrl !== null);
    text = m.attachments.length === 1 ? `📎 ${m.attachments[0]!.name}` : `📎 ${m.attachments.length} ${images ? 'photos' : 'files'}`;
  }
  if (m.senderId === meId) return `You: ${text}`;
  if (c.type === 'group') return `${memberName(c, m.senderId, meId)}: ${text}`;
  return text;
}

/** Up to two letters for an avatar. */
export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0]!, parts[parts.length - 1]!].map((p) => Array.from(p)[0] ?? '') : Array.from(parts[0] ?? '?').slice(0, 2);
  return letters.join('').toUpperCase();
}

/** A stable hue per id, for avatars. */
export function hue(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % 360;
}

export interface Piece {
  text: string;
  mark: boolean;
}

/**
 * Splits `content` into plain and marked pieces. `ranges` are [start, end)
 * offsets in code points (not UTF-16 units), possibly overlapping or unsorted.
 */
export function highlightPieces(content: string, ranges: ReadonlyArray<readonly [number, number]>): Piece[] {
  const cps = Array.from(content);
  const sorted = ranges
    .map(([s, e]) => [Math.max(0, Math.min(s, cps.length)), Math.max(0, Math.min(e, cps.length))] as const)
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  const out: Piece[] = [];
  let at = 0;
  for (const [s, e] of merged) {
    if (s > at) out.push({ text: cps.slice(at, s).join(''), mark: false });
    out.push({ text: cps.slice(s, e).join(''), mark: true });
    at = e;
  }
  if (at < cps.length) out.push({ text: cps.slice(at).join(''), mark: false });
  return out;
}

/** Around the first highlight, so a hit deep in a long message stays visible in a one-line result. */
export function snippetAroundHit(content: string, ranges: ReadonlyArray<readonly [number, number]>, context = 40) {
  const cps = Array.from(content);
  const first = [...ranges].sort((a, b) => a[0] - b[0])[0];
  if (!first || first[0] <= context) return { content, ranges };
  const cut = first[0] - context;
  // Move the cut to a code-point boundary we already have; shift ranges by the same amount.
  return {
    content: '…' + cps.slice(cut).join(''),
    ranges: ranges.map(([s, e]) => [s - cut + 1, e - cut + 1] as const),
  };
}

export function codePointLength(s: string): number {
  return Array.from(s).length;
}

/** A file size for people: "812 B", "45 KB", "3.2 MB". */
export function humanSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = bytes / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
