import type { Reaction } from '../parley';

/** "You", "You and bob", "You, bob and carol". */
export function listNames(names: string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** A message's reactions: one chip per emoji; pressed when mine; a click toggles mine. */
export function ReactionChips({
  reactions,
  meId,
  nameOf,
  onToggle,
}: {
  reactions: Reaction[];
  meId: string | undefined;
  nameOf: (userId: string) => string;
  onToggle: (emoji: string, mine: boolean) => void;
}) {
  if (reactions.length === 0) return null;
  return (
    <div className="reactions" role="group" aria-label="Reactions">
      {reactions.map((r) => {
        const mine = meId !== undefined && r.userIds.includes(meId);
        // "You" first, as chat apps list it.
        const ids = mine ? [meId, ...r.userIds.filter((id) => id !== meId)] : r.userIds;
        const who = listNames(ids.map(nameOf));
        return (
          <button
            key={r.emoji}
            type="button"
            className={`reaction ${mine ? 'mine' : ''}`}
            aria-pressed={mine}
            aria-label={`${r.emoji} ${r.count}: ${who}`}
            title={`${who} reacted with ${r.emoji}`}
            data-emoji={r.emoji}
            onClick={() => onToggle(r.emoji, mine)}
          >
            <span className="reaction-emoji" aria-hidden="true">
              {r.emoji}
            </span>
            <span className="reaction-count" aria-hidden="true">
              {r.count}
            </span>
          </button>
        );
      })}
    </div>
  );
}
