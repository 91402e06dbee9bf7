import { useCallback, useEffect, useRef, useState } from 'react';
import type { Attachment } from '../parley';
import { useParley } from './useParley';

/** A message carries at most this many files (contract v1.1). */
export const MAX_ATTACHMENTS = 10;

export interface Upload {
  key: string;
  name: string;
  size: number;
  sent: number;
  total: number;
  state: 'uploading' | 'done' | 'failed';
  attachment: Attachment | null;
  error: string | null;
}

let nextKey = 0;

/**
 * Files being attached to the next message of a conversation: each uploads at
 * once (with progress); remove() cancels an upload in flight or forgets a
 * finished one; take() hands the finished ones to a send.
 */
export function useUploads(conversationId: string) {
  const client = useParley();
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const controllers = useRef(new Map<string, AbortController>());
  const list = useRef<Upload[]>([]);
  list.current = uploads;

  const patch = useCallback((key: string, change: Partial<Upload>) => {
    setUploads((all) => all.map((u) => (u.key === key ? { ...u, ...change } : u)));
  }, []);

  const add = useCallback(
    (files: Iterable<File>) => {
      const room = MAX_ATTACHMENTS - list.current.length;
      const chosen = [...files];
      setNotice(chosen.length > room ? `A message can carry at most ${MAX_ATTACHMENTS} files.` : null);
      const added: Upload[] = [];
      for (const file of chosen.slice(0, Math.max(0, room))) {
        const key = `u${++nextKey}`;
        const controller = new AbortController();
        controllers.current.set(key, controller);
        added.push({ key, name: file.name || 'file', size: file.size, sent: 0, total: file.size, state: 'uploading', attachment: null, error: null });
        client
          .upload(conversationId, file, file.name || 'file', {
            signal: controller.signal,
            onProgress: (sent, total) => patch(key, { sent, total }),
          })
          .then(
            (attachment) => patch(key, { state: 'done', attachment, sent: file.size, total: file.size }),
            (err: unknown) => {
              if (controller.signal.aborted) return; // removed: already gone from the list
              patch(key, { state: 'failed', error: err instanceof Error ? err.message : String(err) });
            },
          )
          .finally(() => controllers.current.delete(key));
      }
      if (added.length === 0) return;
      list.current = [...list.current, ...added]; // a second add before the next render counts these
      setUploads((all) => [...all, ...added]);
    },
    [client, conversationId, patch],
  );

  const remove = useCallback((key: string) => {
    controllers.current.get(key)?.abort();
    controllers.current.delete(key);
    setUploads((all) => all.filter((x) => x.key !== key));
    setNotice(null);
  }, []);

  /** The finished uploads' ids, for a send; the list empties. */
  const take = useCallback((): string[] => {
    const ids = list.current.flatMap((u) => (u.attachment ? [u.attachment.id] : []));
    setUploads([]);
    setNotice(null);
    return ids;
  }, []);

  // Leaving the conversation cancels what is still uploading.
  useEffect(
    () => () => {
      for (const c of controllers.current.values()) c.abort();
    },
    [],
  );

  const busy = uploads.some((u) => u.state === 'uploading');
  const failed = uploads.some((u) => u.state === 'failed');
  return { uploads, notice, busy, failed, add, remove, take };
}

export type Uploads = ReturnType<typeof useUploads>;
