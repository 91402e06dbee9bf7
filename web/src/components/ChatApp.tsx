import { useCallback, useEffect, useState } from 'react';
import { NotifyContext, useNotificationsSetup } from '../hooks/useNotifications';
import { useParley } from '../hooks/useParley';
import { clearDrafts } from './Composer';
import { ConnectionBanner } from './ConnectionBanner';
import { ConversationView } from './ConversationView';
import { IconChat } from './icons';
import { Sidebar } from './Sidebar';

/** A request to show a given message (a search hit); `nonce` tells two clicks on one hit apart. */
export interface JumpTarget {
  seq: number;
  nonce: number;
}

export function ChatApp({ onSignOut }: { onSignOut: () => void }) {
  const client = useParley();
  // Opening a conversation adds a history entry: the browser's Back (or a
  // phone's back gesture) returns to the list. A reload starts at the list.
  const [selectedId, setSelectedId] = useState<string | null>(() => {
    if (historyConversation(window.history.state)) window.history.replaceState(null, '');
    return null;
  });
  const [jump, setJump] = useState<JumpTarget | null>(null);

  const selected = selectedId ? client.conversations.get(selectedId) : undefined;

  // The open conversation went away (we left or were removed): back to the list.
  useEffect(() => {
    if (selectedId && !selected) setSelectedId(null);
  }, [selectedId, selected]);

  // Unread count in the tab title.
  let unread = 0;
  for (const c of client.conversations.values()) if (!c.archived) unread += c.unreadCount;
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Parley` : 'Parley';
  }, [unread]);
  useEffect(() => () => void (document.title = 'Parley'), []);

  useEffect(() => {
    const onPop = (e: PopStateEvent) => {
      setSelectedId(historyConversation(e.state));
      setJump(null);
    };
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const open = useCallback((conversationId: string, seq?: number) => {
    const state = { ...(window.history.state as object | null), parleyConversation: conversationId };
    if (historyConversation(window.history.state)) window.history.replaceState(state, '');
    else window.history.pushState(state, '');
    setSelectedId(conversationId);
    setJump(seq === undefined ? null : { seq, nonce: Date.now() });
  }, []);

  const back = useCallback(() => {
    if (historyConversation(window.history.state)) window.history.back(); // popstate clears the selection
    else setSelectedId(null);
    setJump(null);
  }, []);

  const notify = useNotificationsSetup(client, open);
  const { signOut: forgetPush } = notify;

  const signOut = useCallback(() => {
    if (historyConversation(window.history.state)) window.history.replaceState(null, '');
    clearDrafts();
    // This browser's push subscription first (it needs the token), then the
    // session itself: the token stops working on the server, not only here.
    void forgetPush()
      .catch(() => undefined)
      .then(() => client.logout())
      .catch(() => undefined);
    onSignOut();
  }, [onSignOut, forgetPush, client]);

  return (
    <NotifyContext.Provider value={notify}>
    <div className={`app ${selected ? 'has-selection' : 'no-selection'}`}>
      <ConnectionBanner />
      <Sidebar selectedId={selected ? selectedId : null} onOpen={open} onSignOut={signOut} />
      <main className="pane conversation-pane">
        {selected ? (
          <ConversationView key={selected.id} conversation={selected} jump={jump} onBack={back} />
        ) : (
          <div className="empty-state">
            <IconChat width={40} height={40} />
            <h2>No conversation selected</h2>
            <p className="muted">Pick a conversation on the left, or start one with “New chat”.</p>
          </div>
        )}
      </main>
    </div>
    </NotifyContext.Provider>
  );
}

function historyConversation(state: unknown): string | null {
  const id = (state as { parleyConversation?: unknown } | null)?.parleyConversation;
  return typeof id === 'string' ? id : null;
}
