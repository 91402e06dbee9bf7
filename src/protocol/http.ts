import { Type, type Static } from 'typebox';
import { LIMITS } from './limits.js';
import { Conversation, Id, IsoTime, Message, NotificationLevel, User } from './models.js';

/**
 * Every string a client sends must be well-formed Unicode (no lone UTF-16
 * surrogate): what is stored is then exactly what was acknowledged. The
 * servers' validators know this keyword; it is ignored by others.
 */
const wellFormed = { wellFormed: true } as Record<string, unknown>;

/** Text with at least one non-space character, counted in code points. */
export const Text = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: '\\S', ...wellFormed });

/**
 * A name people see (display names, group titles): not blank, and no control
 * or text-direction characters, which could spoof what a client shows.
 */
export const NAME_PATTERN = '^(?=[\\s\\S]*\\S)[^\\u0000-\\u001F\\u007F-\\u009F\\u200E\\u200F\\u202A-\\u202E\\u2066-\\u2069]*$';
export const Name = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: NAME_PATTERN, ...wellFormed });

/** An identifier chosen by the client (e.g. clientId). */
export const ClientKey = (max: number) => Type.String({ minLength: 1, maxLength: max, ...wellFormed });

export const Username = Type.String({
  minLength: LIMITS.usernameMin,
  maxLength: LIMITS.usernameMax,
  pattern: '^[A-Za-z0-9_.\\-]+$',
  description: '3–32 of A-Z a-z 0-9 _ . -; unique ignoring case',
});
export const Password = Type.String({ minLength: LIMITS.passwordMin, maxLength: LIMITS.passwordMax, ...wellFormed });
export const DisplayName = Name(LIMITS.displayNameMax);

const limit = (r: { min: number; max: number; default: number }) =>
  Type.Integer({ minimum: r.min, maximum: r.max, default: r.default });

// ---- accounts ------------------------------------------------------------
export const RegisterBody = Type.Object({
  username: Username,
  password: Password,
  displayName: Type.Optional(DisplayName),
});
export type RegisterBody = Static<typeof RegisterBody>;

export const LoginBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 256 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
});
export type LoginBody = Static<typeof LoginBody>;

/** `currentPassword` is checked, not validated (a wrong one is `forbidden`); `newPassword` follows the registration rule. */
export const ChangePasswordBody = Type.Object({ currentPassword: Type.String({ minLength: 1, maxLength: 1024 }), newPassword: Password });
export type ChangePasswordBody = Static<typeof ChangePasswordBody>;

export const AuthResponse = Type.Object({ user: User, token: Type.String() });
export type AuthResponse = Static<typeof AuthResponse>;

export const UpdateMeBody = Type.Object({ displayName: DisplayName });
export type UpdateMeBody = Static<typeof UpdateMeBody>;

export const UsersQuery = Type.Object({
  q: Type.Optional(Type.String({ maxLength: LIMITS.usernameMax * 2 })),
  limit: limit(LIMITS.users),
});
export type UsersQuery = Static<typeof UsersQuery>;
export const UsersResponse = Type.Object({ users: Type.Array(User) });

// ---- conversations -------------------------------------------------------
export const CreateConversationBody = Type.Object({
  type: Type.Union([Type.Literal('direct'), Type.Literal('group')]),
  title: Type.Optional(Type.Union([Name(LIMITS.titleMax), Type.Null()])),
  memberIds: Type.Array(Id, { maxItems: LIMITS.groupMembersMax }),
});
export type CreateConversationBody = Static<typeof CreateConversationBody>;

export const ConversationsQuery = Type.Object({
  limit: limit(LIMITS.conversations),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  archived: Type.Optional(Type.Boolean()),
});
export type ConversationsQuery = Static<typeof ConversationsQuery>;
export const ConversationsResponse = Type.Object({
  conversations: Type.Array(Conversation),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export const ConversationParams = Type.Object({ id: Id });
export type ConversationParams = Static<typeof ConversationParams>;
export const MemberParams = Type.Object({ id: Id, userId: Id });
export type MemberParams = Static<typeof MemberParams>;

export const UpdateConversationBody = Type.Object({ title: Name(LIMITS.titleMax) });
export type UpdateConversationBody = Static<typeof UpdateConversationBody>;
/** `mutedUntil`: ISO-8601 with `Z` or an offset (checked by the domain), null or left out. */
export const NotificationsBody = Type.Object({
  level: NotificationLevel,
  mutedUntil: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
});
export type NotificationsBody = Static<typeof NotificationsBody>;
export const AddMemberBody = Type.Object({ userId: Id });
export type AddMemberBody = Static<typeof AddMemberBody>;

export const HistoryQuery = Type.Object({
  before: Type.Optional(Type.Integer({ minimum: 1 })),
  after: Type.Optional(Type.Integer({ minimum: 0 })),
  limit: limit(LIMITS.history),
});
export type HistoryQuery = Static<typeof HistoryQuery>;
export const HistoryResponse = Type.Object({ messages: Type.Array(Message), hasMore: Type.Boolean() });
export type HistoryResponse = Static<typeof HistoryResponse>;

export const MessageParams = Type.Object({ id: Id, messageId: Id });
export type MessageParams = Static<typeof MessageParams>;
const ReceiptEntry = Type.Object({ userId: Id, at: IsoTime });
export const ReceiptsResponse = Type.Object({ delivered: Type.Array(ReceiptEntry), read: Type.Array(ReceiptEntry) });
export type ReceiptsResponse = Static<typeof ReceiptsResponse>;

export const SearchQuery = Type.Object({
  q: Type.String({ minLength: 1, maxLength: LIMITS.searchQueryMax, ...wellFormed }),
  conversationId: Type.Optional(Id),
  limit: limit(LIMITS.search),
});
export type SearchQuery = Static<typeof SearchQuery>;
/** A message found, with the code-point ranges [start, end) of the matches in its content. */
export const SearchResult = Type.Object({
  ...Message.properties,
  highlights: Type.Array(Type.Tuple([Type.Integer({ minimum: 0 }), Type.Integer({ minimum: 0 })])),
});
export type SearchResult = Static<typeof SearchResult>;
export const SearchResponse = Type.Object({ results: Type.Array(SearchResult) });
export type SearchResponse = Static<typeof SearchResponse>;

export const HealthResponse = Type.Object({ status: Type.Literal('ok') });
