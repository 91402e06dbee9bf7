import { useId, useMemo, useState } from 'react';
import { mentionQuery } from '../mentions';
import type { User } from '../parley';

const MAX_SUGGESTIONS = 8;

/**
 * The composer's @-autocomplete (the ARIA combobox pattern): which members
 * match what follows the `@` at the caret, which is active, and the
 * textarea's attributes. Escape closes it until the caret leaves that `@`.
 */
export function useMentionAutocomplete(members: User[], meId: string | undefined) {
  const [query, setQuery] = useState<{ at: number; query: string } | null>(null);
  const [active, setActive] = useState(0);
  const [dismissedAt, setDismissedAt] = useState<number | null>(null);
  const id = useId();

  const matches = useMemo(() => {
    if (!query) return [];
    const q = query.query.toLowerCase();
    const scored: { u: User; rank: number }[] = [];
    for (const u of members) {
      if (u.id === meId) continue;
      const name = u.username.toLowerCase();
      const shown = u.displayName.toLowerCase();
      const rank = name.startsWith(q) ? 0 : shown.startsWith(q) || shown.includes(` ${q}`) ? 1 : name.includes(q) || shown.includes(q) ? 2 : -1;
      if (rank >= 0) scored.push({ u, rank });
    }
    scored.sort((a, b) => a.rank - b.rank || a.u.username.localeCompare(b.u.username));
    return scored.slice(0, MAX_SUGGESTIONS).map((s) => s.u);
  }, [query, members, meId]);

  const open = query !== null && query.at !== dismissedAt && matches.length > 0;
  const current = Math.min(active, Math.max(0, matches.length - 1));
  const listId = `${id}-mentions`;
  const optionId = (i: number) => `${id}-mention-${i}`;

  /** After every change of the text or the caret. */
  function update(text: string, caret: number) {
    const q = mentionQuery(text, caret);
    if (q?.at !== query?.at || q?.query !== query?.query) setActive(0);
    if (q?.at !== dismissedAt) setDismissedAt(null);
    setQuery(q);
  }

  /** The text with the mention at the caret completed as `@username `, and the caret after it. */
  function complete(text: string, caret: number, u: User): { text: string; caret: number } {
    const at = query?.at ?? caret;
    const insert = `@${u.username} `;
    const rest = text.slice(caret).replace(/^[A-Za-z0-9_.-]*/, ''); // the rest of a name typed before the caret moved
    setQuery(null);
    return { text: text.slice(0, at) + insert + rest.replace(/^ /, ''), caret: at + insert.length };
  }

  /** Keys while open: answers whether it took the key. `pick` gets the chosen member. */
  function onKey(key: string, pick: (u: User) => void): boolean {
    if (!open) return false;
    if (key === 'ArrowDown') setActive((current + 1) % matches.length);
    else if (key === 'ArrowUp') setActive((current - 1 + matches.length) % matches.length);
    else if (key === 'Enter' || key === 'Tab') pick(matches[current]!);
    else if (key === 'Escape') setDismissedAt(query?.at ?? null);
    else return false;
    return true;
  }

  const inputProps = {
    role: 'combobox',
    'aria-autocomplete': 'list' as const,
    'aria-expanded': open,
    'aria-controls': open ? listId : undefined,
    'aria-activedescendant': open ? optionId(current) : undefined,
  };

  return { open, matches, active: current, setActive, listId, optionId, update, complete, onKey, inputProps };
}
