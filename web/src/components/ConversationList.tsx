import { conversationTitle, otherMember, preview, shortTime } from '../format';
import { useParley } from '../hooks/useParley';
import { mutedUntil } from '../notifications';
import { Avatar } from './Avatar';
import { MutedIcon, useRerenderAt } from './NotificationSettings';

export function ConversationList({
  archived,
  selectedId,
  onOpen,
}: {
  archived: boolean;
  selectedId: string | null;
  onOpen: (conversationId: string) => void;
}) {
  const client = useParley();
  const meId = client.me?.id;
  const list = client.conversationList(archived);
  useRerenderAt(list.map((c) => mutedUntil(c)));

  if (list.length === 0) {
    return (
      <p className="list-empty muted">
        {archived ? 'No archived conversations.' : 'No conversations yet. Start one with “New chat” or “New group”.'}
      </p>
    );
  }

  return (
    <ul className="conv-list">
      {list.map((c) => {
        const title = conversationTitle(c, meId);
        const other = otherMember(c, meId);
        const online = other ? (client.online.get(other.id) ?? other.online) : false;
        const when = c.lastMessage?.createdAt ?? c.createdAt;
        const last = c.lastMessage;
        return (
          <li key={c.id}>
            <button
              type="button"
              className={`conv-row ${c.id === selectedId ? 'selected' : ''} ${c.unreadCount > 0 ? 'unread' : ''}`}
              aria-current={c.id === selectedId ? 'true' : undefined}
              onClick={() => onOpen(c.id)}
            >
              <span className="avatar-wrap">
                <Avatar id={other?.id ?? c.id} name={title} group={c.type === 'group'} />
              </span>
              <span className="conv-main">
                <span className="conv-top">
                  <span className="conv-title">{title}</span>
                  {online && <span className="online-dot" role="img" aria-label="Online" title="Online" />}
                  <MutedIcon conversation={c} />
                  <time className="conv-time" dateTime={when}>
                    {shortTime(when)}
                  </time>
                </span>
                <span className="conv-bottom">
                  <span className={`conv-preview ${last?.deletedAt ? 'deleted' : ''}`}>{preview(c, last, meId)}</span>
                  {c.unreadMentions > 0 && (
                    <span className="badge mention-badge" title={`${c.unreadMentions} unread mention${c.unreadMentions === 1 ? '' : 's'}`}>
                      <span aria-hidden="true">@</span>
                      <span className="sr-only">
                        {c.unreadMentions} unread mention{c.unreadMentions === 1 ? '' : 's'},
                      </span>
                    </span>
                  )}
                  {c.unreadCount > 0 && (
                    <span className="badge">
                      {c.unreadCount > 99 ? '99+' : c.unreadCount}
                      <span className="sr-only"> unread</span>
                    </span>
                  )}
                </span>
              </span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}
