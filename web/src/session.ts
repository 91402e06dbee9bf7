import type { User } from './parley';

const TOKEN_KEY = 'parley.token';
const USER_KEY = 'parley.user';

export interface Session {
  token: string;
  user: User | null;
}

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: the session lasts as long as the page
  }
}

export function loadSession(): Session | null {
  const s = storage();
  const token = s?.getItem(TOKEN_KEY);
  if (!token) return null;
  let user: User | null = null;
  try {
    user = JSON.parse(s?.getItem(USER_KEY) ?? 'null') as User | null;
  } catch {
    user = null;
  }
  return { token, user };
}

export function saveSession(session: Session): void {
  const s = storage();
  s?.setItem(TOKEN_KEY, session.token);
  if (session.user) s?.setItem(USER_KEY, JSON.stringify(session.user));
}

export function clearSession(): void {
  const s = storage();
  s?.removeItem(TOKEN_KEY);
  s?.removeItem(USER_KEY);
}
