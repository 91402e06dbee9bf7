import { hue, initials } from '../format';
import { IconGroup } from './icons';

/** A round avatar with initials (decorative: names are always written next to it). */
export function Avatar({ id, name, group = false, size = 40 }: { id: string; name: string; group?: boolean; size?: number }) {
  const h = hue(id);
  return (
    <span
      className="avatar"
      aria-hidden="true"
      style={{ width: size, height: size, fontSize: size * 0.38, ['--avatar-hue' as string]: String(h) }}
    >
      {group ? <IconGroup width={size * 0.5} height={size * 0.5} /> : initials(name)}
    </span>
  );
}
