/** Bounds that are part of the wire contract. */
export const LIMITS = {
  contentMax: 4000,
  usernameMin: 3,
  usernameMax: 32,
  passwordMin: 8,
  passwordMax: 128,
  displayNameMax: 64,
  titleMax: 200,
  clientIdMax: 128,
  idMax: 64,
  groupMembersMax: 1000,
  bodyBytesMax: 1024 * 1024,
  history: { min: 1, max: 100, default: 50 },
  sync: { min: 1, max: 1000, default: 100 },
  search: { min: 1, max: 100, default: 20 },
  users: { min: 1, max: 50, default: 20 },
  conversations: { min: 1, max: 500, default: 200 },
  searchQueryMax: 200,
  /** Distinct emoji one message may hold (contract v1.1). */
  reactionsPerMessage: 20,
  /** A reply's quote: the first this many code points of the target's content. */
  replyPreview: 100,
  /** Files one message may carry. */
  attachmentsPerMessage: 10,
} as const;
