import { useEffect, useId, useState } from 'react';
import { useParley } from '../hooks/useParley';
import { Avatar } from './Avatar';
import { ConversationList } from './ConversationList';
import { IconChat, IconClose, IconGroup, IconSearch, IconSignOut } from './icons';
import { NotificationPrompt } from './NotificationSettings';
import { NewChatPanel, NewGroupPanel } from './NewConversation';
import { SearchResults } from './SearchResults';

type Mode = 'list' | 'new-chat' | 'new-group';

export function Sidebar({
  selectedId,
  onOpen,
  onSignOut,
}: {
  selectedId: string | null;
  onOpen: (conversationId: string, seq?: number) => void;
  onSignOut: () => void;
}) {
  const client = useParley();
  const me = client.me;
  const [mode, setMode] = useState<Mode>('list');
  const [archived, setArchived] = useState(false);
  const [query, setQuery] = useState('');
  const searchId = useId();

  useEffect(() => {
    if (mode === 'list') return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setMode('list');
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [mode]);

  const opened = (id: string) => {
    setMode('list');
    setArchived(client.conversations.get(id)?.archived ?? false);
    onOpen(id);
  };

  return (
    <aside className="pane sidebar" aria-label="Conversations">
      <header className="sidebar-head">
        {me && <Avatar id={me.id} name={me.displayName} size={36} />}
        <div className="me">
          <div className="me-name">{me?.displayName}</div>
          <div className="me-handle">@{me?.username}</div>
        </div>
        <button type="button" className="btn ghost small" onClick={onSignOut}>
          <IconSignOut width={16} height={16} />
          Sign out
        </button>
      </header>

      <NotificationPrompt />

      <div className="sidebar-actions">
        <button
          type="button"
          className={`btn ${mode === 'new-chat' ? 'active' : ''}`}
          aria-expanded={mode === 'new-chat'}
          onClick={() => setMode(mode === 'new-chat' ? 'list' : 'new-chat')}
        >
          <IconChat width={16} height={16} />
          New chat
        </button>
        <button
          type="button"
          className={`btn ${mode === 'new-group' ? 'active' : ''}`}
          aria-expanded={mode === 'new-group'}
          onClick={() => setMode(mode === 'new-group' ? 'list' : 'new-group')}
        >
          <IconGroup width={16} height={16} />
          New group
        </button>
      </div>

      {mode === 'new-chat' && <NewChatPanel onClose={() => setMode('list')} onOpened={opened} />}
      {mode === 'new-group' && <NewGroupPanel onClose={() => setMode('list')} onOpened={opened} />}

      {mode === 'list' && (
        <>
          <div className="search-box">
            <label htmlFor={searchId} className="sr-only">
              Search
            </label>
            <IconSearch className="search-icon" width={16} height={16} />
            <input
              id={searchId}
              type="text"
              placeholder="Search messages"
              autoComplete="off"
              value={query}
              onChange={(e) => setQuery(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Escape') setQuery('');
              }}
            />
            {query && (
              <button type="button" className="icon-btn clear-search" aria-label="Clear" title="Clear the search" onClick={() => setQuery('')}>
                <IconClose width={14} height={14} />
              </button>
            )}
          </div>
          {query.trim() ? (
            <SearchResults query={query.trim()} onOpen={onOpen} />
          ) : (
            <>
              <div className="list-head">
                <h2>{archived ? 'Archived' : 'Chats'}</h2>
                <button type="button" className="btn ghost small" onClick={() => setArchived(!archived)}>
                  {archived ? 'Inbox' : 'Archived'}
                </button>
              </div>
              <ConversationList archived={archived} selectedId={selectedId} onOpen={onOpen} />
            </>
          )}
        </>
      )}
    </aside>
  );
}
