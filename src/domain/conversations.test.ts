import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../protocol/errors.js';
import type { ConversationKind } from '../store/store.js';
import { checkCanAddMember, checkCanRemoveMember, checkMember, checkNewConversation } from './conversations.js';
import { DomainError } from './errors.js';
import type { ConversationMembers } from './membership.js';

/** Members in join order, longest-standing first. */
function conv(type: ConversationKind, ownerId: string | null, memberIds: string[]): ConversationMembers {
  return { id: 'c1', type, ownerId, members: new Set(memberIds) };
}

function codeOf(fn: () => unknown): ErrorCode | 'no error' {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return (e as DomainError).code;
  }
  return 'no error';
}

describe('checkNewConversation', () => {
  it('direct: the creator and exactly one other user, no title', () => {
    expect(checkNewConversation('u1', { type: 'direct', memberIds: ['u2'] })).toEqual({ memberIds: ['u1', 'u2'], title: null });
    expect(checkNewConversation('u1', { type: 'direct', memberIds: ['u2'], title: 'ignored' })).toEqual({
      memberIds: ['u1', 'u2'],
      title: null,
    });
  });

  it('direct: refuses nobody, oneself, several users or the same user twice', () => {
    expect(codeOf(() => checkNewConversation('u1', { type: 'direct', memberIds: [] }))).toBe('validation');
    expect(codeOf(() => checkNewConversation('u1', { type: 'direct', memberIds: ['u1'] }))).toBe('validation');
    expect(codeOf(() => checkNewConversation('u1', { type: 'direct', memberIds: ['u2', 'u3'] }))).toBe('validation');
    expect(codeOf(() => checkNewConversation('u1', { type: 'direct', memberIds: ['u2', 'u2'] }))).toBe('validation');
    expect(codeOf(() => checkNewConversation('u1', { type: 'direct', memberIds: ['u2', 'u1'] }))).toBe('validation');
  });

  it('direct: the error names memberIds', () => {
    expect(() => checkNewConversation('u1', { type: 'direct', memberIds: [] })).toThrow(/memberIds/);
  });

  it('group: the creator first, then the others once each in the given order, title trimmed', () => {
    expect(checkNewConversation('u1', { type: 'group', title: '  Team  ', memberIds: ['u3', 'u2', 'u3', 'u1', 'u4'] })).toEqual({
      memberIds: ['u1', 'u3', 'u2', 'u4'],
      title: 'Team',
    });
  });

  it('group: the creator alone is a group', () => {
    expect(checkNewConversation('u1', { type: 'group', title: 'Notes', memberIds: [] })).toEqual({ memberIds: ['u1'], title: 'Notes' });
  });

  it('group: refuses a missing, null, empty or blank title, naming it', () => {
    for (const title of [undefined, null, '', '   \t ']) {
      expect(codeOf(() => checkNewConversation('u1', { type: 'group', title, memberIds: ['u2'] })), String(title)).toBe('validation');
    }
    expect(() => checkNewConversation('u1', { type: 'group', title: ' ', memberIds: ['u2'] })).toThrow(/title/);
  });
});

describe('checkMember', () => {
  it('returns the conversation to a member', () => {
    const c = conv('group', 'u1', ['u1', 'u2']);
    expect(checkMember(c, 'u2')).toBe(c);
  });

  it('is not_found for no conversation and forbidden for a non-member', () => {
    expect(codeOf(() => checkMember(null, 'u1'))).toBe('not_found');
    expect(codeOf(() => checkMember(conv('group', 'u1', ['u1', 'u2']), 'u3'))).toBe('forbidden');
    expect(codeOf(() => checkMember(conv('group', null, []), 'u1'))).toBe('forbidden');
  });
});

describe('checkCanAddMember', () => {
  it('allows a group and refuses a direct conversation', () => {
    expect(codeOf(() => checkCanAddMember(conv('group', 'u1', ['u1'])))).toBe('no error');
    expect(codeOf(() => checkCanAddMember(conv('direct', null, ['u1', 'u2'])))).toBe('validation');
  });
});

describe('checkCanRemoveMember', () => {
  const g = conv('group', 'u1', ['u1', 'u2', 'u3']);

  it('lets anyone leave and the owner remove others', () => {
    expect(codeOf(() => checkCanRemoveMember(g, 'u2', 'u2'))).toBe('no error');
    expect(codeOf(() => checkCanRemoveMember(g, 'u1', 'u1'))).toBe('no error');
    expect(codeOf(() => checkCanRemoveMember(g, 'u1', 'u3'))).toBe('no error');
  });

  it('forbids a non-owner removing someone else', () => {
    expect(codeOf(() => checkCanRemoveMember(g, 'u2', 'u3'))).toBe('forbidden');
    expect(codeOf(() => checkCanRemoveMember(g, 'u2', 'u1'))).toBe('forbidden');
  });

  it('is not_found when the target is not a member', () => {
    expect(codeOf(() => checkCanRemoveMember(g, 'u1', 'u9'))).toBe('not_found');
  });

  it('refuses any removal from a direct conversation', () => {
    const d = conv('direct', null, ['u1', 'u2']);
    expect(codeOf(() => checkCanRemoveMember(d, 'u1', 'u1'))).toBe('validation');
    expect(codeOf(() => checkCanRemoveMember(d, 'u1', 'u2'))).toBe('validation');
  });
});

