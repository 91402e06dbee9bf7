import type { User } from '../parley';
import { Avatar } from './Avatar';

/** The listbox of the composer's @-autocomplete; the textarea keeps focus (aria-activedescendant). */
export function MentionSuggestions({
  id,
  optionId,
  people,
  active,
  onPick,
  onHover,
}: {
  id: string;
  optionId: (i: number) => string;
  people: User[];
  active: number;
  onPick: (u: User) => void;
  onHover: (i: number) => void;
}) {
  return (
    <ul id={id} className="mentions-list" role="listbox" aria-label="People to mention">
      {people.map((u, i) => (
        <li
          key={u.id}
          id={optionId(i)}
          role="option"
          aria-selected={i === active}
          className={`mention-option ${i === active ? 'active' : ''}`}
          // Keep the focus (and the caret) in the textarea.
          onMouseDown={(e) => e.preventDefault()}
          onMouseMove={() => i !== active && onHover(i)}
          onClick={() => onPick(u)}
        >
          <Avatar id={u.id} name={u.displayName} size={24} />
          <span className="mention-option-name">{u.displayName}</span>
          <span className="mention-option-handle">@{u.username}</span>
        </li>
      ))}
    </ul>
  );
}
