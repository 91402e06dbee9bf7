import { createContext, useCallback, useContext, useSyncExternalStore } from 'react';
import type { ParleyClient } from '../parley';

export const ClientContext = createContext<ParleyClient | null>(null);

/**
 * The signed-in session's client; re-renders the caller whenever the client
 * announces a change (read state from its fields).
 */
export function useParley(): ParleyClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useParley outside a signed-in session');
  const subscribe = useCallback((listener: () => void) => client.subscribe(listener), [client]);
  useSyncExternalStore(subscribe, () => client.version);
  return client;
}
