/** Every statement of the SQLite store, prepared once per connection. */
import type Database from 'better-sqlite3';
import { ATTACHMENT_COLS } from '../rows.js';

const USER_COLS = 'id, username, display_name, password_hash, created_at, last_seen_at, notification_previews';
const CONV_COLS = 'id, type, title, owner_id, last_seq, last_rev, created_at, last_activity_at, activity';
export const MSG_COLS =
  'id, conversation_id, seq, rev, sender_id, content, client_id, created_at, edited_at, deleted_at, reply_to_id, mentions, reactions, attachments';
const LIST_COLS = `c.id, c.type, c.title, c.owner_id, c.last_seq, c.last_rev, c.created_at, c.last_activity_at, c.activity,
  m.joined_at AS m_joined_at, m.delivered_seq AS m_delivered_seq, m.read_seq AS m_read_seq, m.archived AS m_archived,
  m.notify_level AS m_notify_level, m.muted_until AS m_muted_until`;

/** Every statement, prepared once. */
export function prepare(db: Database.Database) {
  return {
    ping: db.prepare('SELECT 1'),
    insertUser: db.prepare(
      `INSERT INTO users (username, username_key, display_name, display_key, password_hash, created_at)
       VALUES (?, ?, ?, ?, ?, ?) RETURNING ${USER_COLS}`,
    ),
    userById: db.prepare(`SELECT ${USER_COLS} FROM users WHERE id = ?`),
    usersByIds: db.prepare(`SELECT ${USER_COLS} FROM users WHERE id IN (SELECT value FROM json_each(?))`),
    userByUsername: db.prepare(`SELECT ${USER_COLS} FROM users WHERE username_key = ?`),
    searchUsers: db.prepare(
      `SELECT ${USER_COLS} FROM users WHERE id IN (
         SELECT id FROM users WHERE username_key >= @lo AND username_key < @hi
         UNION SELECT id FROM users WHERE display_key >= @lo AND display_key < @hi)
       ORDER BY username_key LIMIT @limit`,
    ),
    updateDisplayName: db.prepare(
      `UPDATE users SET display_name = ?, display_key = ? WHERE id = ? RETURNING ${USER_COLS}`,
    ),
    setLastSeen: db.prepare('UPDATE users SET last_seen_at = ? WHERE id = ?'),
    setNotificationPreviews: db.prepare(`UPDATE users SET notification_previews = ? WHERE id = ? RETURNING ${USER_COLS}`),
    savePushSubscription: db.prepare(
      `INSERT INTO push_subscriptions (user_id, session_id, endpoint, p256dh, auth, created_at) VALUES (@user, @session, @endpoint, @p256dh, @auth, @at)
       ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, session_id = excluded.session_id, p256dh = excluded.p256dh,
                                            auth = excluded.auth, created_at = excluded.created_at
       RETURNING *`,
    ),
    trimPushSubscriptions: db.prepare(
      `DELETE FROM push_subscriptions WHERE user_id = @user AND id NOT IN (
         SELECT id FROM push_subscriptions WHERE user_id = @user ORDER BY created_at DESC, id DESC LIMIT @keep)`,
    ),
    deletePushSubscription: db.prepare('DELETE FROM push_subscriptions WHERE user_id = ? AND endpoint = ?'),
    forgetPushEndpoint: db.prepare('DELETE FROM push_subscriptions WHERE endpoint = ?'),
    enqueuePush: db.prepare(
      `INSERT INTO notification_jobs (recipient_id, conversation_id, channel, first_seq, last_seq, due_at, direct)
       VALUES (@r, @c, @ch, @seq, @seq, @due, @direct)
       ON CONFLICT (recipient_id, conversation_id) WHERE channel = 1
       DO UPDATE SET last_seq = max(last_seq, excluded.last_seq), first_seq = min(first_seq, excluded.first_seq)`,
    ),
    enqueueWebhook: db.prepare(
      `INSERT INTO notification_jobs (recipient_id, conversation_id, channel, first_seq, last_seq, due_at, direct)
       VALUES (@r, @c, @ch, @seq, @seq, @due, @direct)
       ON CONFLICT (recipient_id, conversation_id, first_seq) WHERE channel = 0 DO NOTHING`,
    ),
    dueNotifications: db.prepare(
      `SELECT * FROM notification_jobs WHERE direct = @direct AND due_at <= @now AND (claimed_until IS NULL OR claimed_until < @now)
       ORDER BY due_at LIMIT @limit`,
    ),
    claimNotification: db.prepare('UPDATE notification_jobs SET claimed_until = @until WHERE id = @id'),
    finishNotification: db.prepare('DELETE FROM notification_jobs WHERE id = @id AND claimed_until = @claim AND last_seq <= @through'),
    continueNotification: db.prepare(
      `UPDATE notification_jobs SET first_seq = @through + 1, due_at = @due, claimed_until = NULL, attempts = 0
       WHERE id = @id AND claimed_until = @claim`,
    ),
    retryNotification: db.prepare(
      `UPDATE notification_jobs SET first_seq = @from, due_at = @due, claimed_until = NULL, attempts = attempts + 1
       WHERE id = @id AND claimed_until = @claim`,
    ),
    notificationBacklog: db.prepare('SELECT count(*) FROM notification_jobs').pluck(),
    pushSubscriptionsOf: db.prepare(
      `SELECT p.* FROM push_subscriptions p JOIN sessions s ON s.id = p.session_id
       WHERE p.user_id IN (SELECT value FROM json_each(?)) AND s.revoked_at IS NULL AND s.expires_at > ?
       ORDER BY p.user_id, p.id`,
    ),
    insertSession: db.prepare('INSERT INTO sessions (user_id, created_at, expires_at) VALUES (?, ?, ?)'),
    sessionUser: db.prepare(
      `SELECT ${USER_COLS.split(', ').map((c) => `u.${c}`).join(', ')} FROM sessions s JOIN users u ON u.id = s.user_id
       WHERE s.id = ? AND s.revoked_at IS NULL`,
    ),
    revokeSession: db.prepare('UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    // The newest row stays: SQLite gives a new row max(id) + 1, so no id comes back.
    pruneSessions: db.prepare('DELETE FROM sessions WHERE expires_at < ? AND id < (SELECT max(id) FROM sessions)'),
    revokeOtherSessions: db.prepare(
      'UPDATE sessions SET revoked_at = @at WHERE user_id = @u AND id != @keep AND revoked_at IS NULL RETURNING id',
    ),
    setPasswordHash: db.prepare('UPDATE users SET password_hash = ? WHERE id = ?'),

    insertConversation: db.prepare(
      `INSERT INTO conversations (type, title, owner_id, direct_key, created_at, last_activity_at, activity)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING ${CONV_COLS}`,
    ),
    conversationByDirectKey: db.prepare(`SELECT ${CONV_COLS} FROM conversations WHERE direct_key = ?`),
    conversationById: db.prepare(`SELECT ${CONV_COLS} FROM conversations WHERE id = ?`),
    conversationsByIds: db.prepare(
      `SELECT ${CONV_COLS} FROM conversations WHERE id IN (SELECT value FROM json_each(?))`,
    ),
    tickCeiling: db.prepare('SELECT value FROM ticks WHERE id = 1'),
    raiseTickCeiling: db.prepare('UPDATE ticks SET value = ? WHERE id = 1'),
    insertMember: db.prepare('INSERT INTO members (conversation_id, user_id, joined_at, joined_tick) VALUES (?, ?, ?, ?)'),
    insertMemberIfAbsent: db.prepare(
      `INSERT INTO members (conversation_id, user_id, joined_at, joined_tick, delivered_seq, read_seq)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    deleteMember: db.prepare('DELETE FROM members WHERE conversation_id = ? AND user_id = ?'),
    passOwnership: db.prepare(
      `UPDATE conversations SET owner_id = (
         SELECT user_id FROM members WHERE conversation_id = @c ORDER BY joined_tick LIMIT 1)
       WHERE id = @c AND owner_id = @u`,
    ),
    setArchived: db.prepare('UPDATE members SET archived = ? WHERE conversation_id = ? AND user_id = ?'),
    setNotifications: db.prepare('UPDATE members SET notify_level = ?, muted_until = ? WHERE conversation_id = ? AND user_id = ?'),
    quietMembers: db.prepare('SELECT * FROM members WHERE conversation_id = ? AND (notify_level <> 0 OR muted_until IS NOT NULL)'),
    members: db.prepare('SELECT * FROM members WHERE conversation_id = ? ORDER BY joined_tick'),
    membersOf: db.prepare(
      `SELECT * FROM members WHERE conversation_id IN (SELECT value FROM json_each(?))
       ORDER BY conversation_id, joined_tick`,
    ),
    membership: db.prepare('SELECT * FROM members WHERE conversation_id = ? AND user_id = ?'),
    isMember: db.prepare('SELECT 1 FROM members WHERE conversation_id = ? AND user_id = ?').pluck(),
    memberKeys: db.prepare('SELECT user_id FROM members WHERE conversation_id = ? ORDER BY joined_tick').pluck(),
    listConversations: db.prepare(
      `SELECT ${LIST_COLS} FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.user_id = @user AND m.archived = @archived AND c.activity < @before
       ORDER BY c.activity DESC LIMIT @limit`,
    ),
    updateTitle: db.prepare(`UPDATE conversations SET title = ? WHERE id = ? RETURNING ${CONV_COLS}`),

    messageByClientId: db.prepare(
      `SELECT ${MSG_COLS} FROM messages WHERE conversation_id = ? AND sender_id = ? AND client_id = ?`,
    ),
    bumpCounters: db.prepare(
      `UPDATE conversations SET last_seq = last_seq + 1, last_rev = last_rev + 1, last_activity_at = ?, activity = ?
       WHERE id = ? RETURNING last_seq, last_rev`,
    ),
    insertMessage: db.prepare(
      `INSERT INTO messages (conversation_id, seq, rev, sender_id, content, client_id, created_at, reply_to_id, mentions, attachments)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertAttachment: db.prepare(
      `INSERT INTO attachments (conversation_id, uploader_id, name, mime, size, width, height, blob_key, thumbnail_key, thumbnail_mime, created_at)
       VALUES (@conversation_id, @uploader_id, @name, @mime, @size, @width, @height, @blob_key, @thumbnail_key, @thumbnail_mime, @created_at)
       RETURNING ${ATTACHMENT_COLS}`,
    ),
    attachmentById: db.prepare(`SELECT ${ATTACHMENT_COLS} FROM attachments WHERE id = ?`),
    attachmentsByIds: db.prepare(`SELECT ${ATTACHMENT_COLS} FROM attachments WHERE id IN (SELECT value FROM json_each(?))`),
    bindAttachment: db.prepare('UPDATE attachments SET message_id = ? WHERE id = ?'),
    eraseAttachmentsOf: db.prepare(
      `INSERT OR IGNORE INTO erased_blobs (key)
       SELECT blob_key FROM attachments WHERE message_id = @m
       UNION ALL SELECT thumbnail_key FROM attachments WHERE message_id = @m AND thumbnail_key IS NOT NULL`,
    ),
    deleteAttachmentsOf: db.prepare('DELETE FROM attachments WHERE message_id = ?'),
    eraseUnsent: db.prepare(
      `INSERT OR IGNORE INTO erased_blobs (key)
       SELECT blob_key FROM attachments WHERE message_id IS NULL AND created_at < @before
       UNION ALL SELECT thumbnail_key FROM attachments WHERE message_id IS NULL AND created_at < @before AND thumbnail_key IS NOT NULL`,
    ),
    deleteUnsent: db.prepare('DELETE FROM attachments WHERE message_id IS NULL AND created_at < ?'),
    erasedBlobs: db.prepare('SELECT key FROM erased_blobs LIMIT ?').pluck(),
    forgetErased: db.prepare('DELETE FROM erased_blobs WHERE key IN (SELECT value FROM json_each(?))'),
    replyTargets: db.prepare('SELECT id, seq, sender_id, content, deleted_at FROM messages WHERE id IN (SELECT value FROM json_each(?))'),
    replyTarget: db.prepare('SELECT id, seq, sender_id, content, deleted_at FROM messages WHERE id = ? AND conversation_id = ?'),
    memberNames: db.prepare('SELECT u.id, u.username_key FROM members m JOIN users u ON u.id = m.user_id WHERE m.conversation_id = ?'),
    insertMention: db.prepare('INSERT OR IGNORE INTO message_mentions (user_id, conversation_id, seq) VALUES (?, ?, ?)'),
    clearMentions: db.prepare('DELETE FROM message_mentions WHERE conversation_id = ? AND seq = ? AND user_id IN (SELECT value FROM json_each(?))'),
    unreadMentions: db.prepare('SELECT count(*) FROM message_mentions WHERE user_id = ? AND conversation_id = ? AND seq > ?'),
    setReactions: db.prepare(`UPDATE messages SET reactions = ?, rev = ? WHERE id = ? RETURNING ${MSG_COLS}`),
    setMentions: db.prepare('UPDATE messages SET mentions = ? WHERE id = ?'),
    advanceOwnMarkers: db.prepare(
      `UPDATE members SET read_seq = max(read_seq, ?), delivered_seq = max(delivered_seq, ?)
       WHERE conversation_id = ? AND user_id = ?`,
    ),
    // lastSeq − marker − deleted after the marker: own messages are never
    // after one's read marker (sending moves it), so no per-message scan.
    unreadCount: db.prepare(
      `SELECT max(0, c.last_seq - @after - (
         SELECT count(*) FROM messages WHERE conversation_id = @c AND seq > @after AND deleted_at IS NOT NULL)) AS n
       FROM conversations c WHERE c.id = @c`,
    ),
    addToOutbox: db.prepare('INSERT INTO search_outbox (message_id) VALUES (?)'),
    pruneOutbox: db.prepare('DELETE FROM search_outbox WHERE id <= ?'),
    bumpRev: db.prepare('UPDATE conversations SET last_rev = last_rev + 1 WHERE id = ? RETURNING last_rev'),
    editMessage: db.prepare(
      `UPDATE messages SET content = ?, edited_at = ?, rev = ? WHERE id = ? RETURNING ${MSG_COLS}`,
    ),
    eraseMessage: db.prepare(
      `UPDATE messages SET content = '', deleted_at = ?, rev = ?, reply_to_id = NULL, mentions = NULL, reactions = NULL, attachments = NULL
       WHERE id = ? RETURNING ${MSG_COLS}`,
    ),
    memberMarkers: db.prepare(
      `SELECT m.delivered_seq, m.read_seq, c.last_seq FROM members m JOIN conversations c ON c.id = m.conversation_id
       WHERE m.conversation_id = ? AND m.user_id = ?`,
    ),
    setMarkers: db.prepare('UPDATE members SET delivered_seq = ?, read_seq = ? WHERE conversation_id = ? AND user_id = ?'),
    lastMove: db.prepare(
      `SELECT seq, opened_at FROM marker_moves WHERE conversation_id = ? AND user_id = ? AND type = ?
       ORDER BY seq DESC LIMIT 1`,
    ),
    extendMove: db.prepare(
      `UPDATE marker_moves SET seq = ?, at = ? WHERE conversation_id = ? AND user_id = ? AND type = ? AND seq = ?`,
    ),
    insertMove: db.prepare(
      'INSERT INTO marker_moves (conversation_id, user_id, type, seq, opened_at, at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    countMoves: db.prepare('SELECT count(*) FROM marker_moves WHERE conversation_id = ? AND user_id = ? AND type = ?').pluck(),
    allMoves: db.prepare(
      'SELECT seq, at, opened_at FROM marker_moves WHERE conversation_id = ? AND user_id = ? AND type = ? ORDER BY seq',
    ),
    deleteMove: db.prepare('DELETE FROM marker_moves WHERE conversation_id = ? AND user_id = ? AND type = ? AND seq = ?'),
    setMoveOpened: db.prepare(
      'UPDATE marker_moves SET opened_at = ? WHERE conversation_id = ? AND user_id = ? AND type = ? AND seq = ?',
    ),
    forgetMoves: db.prepare('DELETE FROM marker_moves WHERE conversation_id = ? AND user_id = ?'),
    ownMessageReaching: db.prepare(
      `SELECT created_at FROM messages WHERE conversation_id = @c AND seq >= @from AND seq <= @to AND sender_id = @u
       ORDER BY seq LIMIT 1`,
    ),
    moveReaching: db.prepare(
      `SELECT seq, at FROM marker_moves WHERE conversation_id = ? AND user_id = ? AND type = ? AND seq >= ?
       ORDER BY seq LIMIT 1`,
    ),
    contactsOf: db.prepare(
      `SELECT DISTINCT other.user_id FROM members mine JOIN members other ON other.conversation_id = mine.conversation_id
       WHERE mine.user_id = ? AND other.user_id != ?`,
    ),
    conversationRevs: db.prepare(
      `SELECT c.id, c.last_rev FROM members m JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = ?`,
    ),
    messageById: db.prepare(`SELECT ${MSG_COLS} FROM messages WHERE id = ?`),
    changesSince: db.prepare(
      `SELECT ${MSG_COLS} FROM messages WHERE conversation_id = ? AND rev > ? ORDER BY rev LIMIT ?`,
    ),
    messageBySeq: db.prepare(`SELECT ${MSG_COLS} FROM messages WHERE conversation_id = ? AND seq = ?`),
    historyLatest: db.prepare(
      `SELECT ${MSG_COLS} FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?`,
    ),
    historyBefore: db.prepare(
      `SELECT ${MSG_COLS} FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
    ),
    historyAfter: db.prepare(
      `SELECT ${MSG_COLS} FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?`,
    ),
  };
}
