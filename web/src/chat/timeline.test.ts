import type { Message } from '@chat/protocol';
import { buildTimeline, dayLabel, linkify, splitMentions, type MemberNotice } from './timeline';

function message(seq: number, sender: string, createdAt: string): Message {
  return {
    id: `m${seq}`,
    roomId: 'r1',
    seq,
    sender: { id: sender, username: sender },
    text: `#${seq}`,
    createdAt,
  } as Message;
}

const now = new Date('2026-03-04T15:00:00');
const local = (text: string) => new Date(text).toISOString();

describe('the timeline', () => {
  it('puts a separator where the day changes and groups a sender’s messages a few minutes apart', () => {
    const items = buildTimeline(
      [
        message(1, 'ann', local('2026-03-02T09:00:00')),
        message(2, 'ann', local('2026-03-03T23:59:00')),
        message(3, 'ann', local('2026-03-04T00:01:00')),
        message(4, 'ann', local('2026-03-04T00:03:00')),
        message(5, 'bob', local('2026-03-04T00:04:00')),
        message(6, 'bob', local('2026-03-04T00:20:00')),
      ],
      [],
      now,
    );
    expect(
      items.map((item) =>
        item.kind === 'message'
          ? `${item.message.seq}${item.continued ? '+' : ''}`
          : item.kind === 'day'
            ? item.label
            : '',
      ),
    ).toEqual([
      dayLabel(new Date('2026-03-02T09:00:00'), now),
      '1',
      'Yesterday',
      '2',
      'Today',
      '3',
      '4+',
      '5',
      '6',
    ]);
  });

  it('puts member notices after the message that was newest then, and a notice breaks a group', () => {
    const notice: MemberNotice = {
      id: 'n1',
      kind: 'joined',
      username: 'cid',
      at: local('2026-03-04T10:01:00'),
      afterSeq: 1,
    };
    const items = buildTimeline(
      [message(1, 'ann', local('2026-03-04T10:00:00')), message(2, 'ann', local('2026-03-04T10:02:00'))],
      [notice],
      now,
    );
    expect(items.map((item) => item.key)).toEqual([expect.stringMatching(/^day-/), 'm1', 'n1', 'm2']);
    expect(items[3]).toMatchObject({ continued: false });
  });

  it('names days in words', () => {
    expect(dayLabel(new Date('2026-03-04T01:00:00'), now)).toBe('Today');
    expect(dayLabel(new Date('2026-03-03T23:00:00'), now)).toBe('Yesterday');
    expect(dayLabel(new Date('2025-12-24T12:00:00'), now)).toMatch(/2025/);
  });
});

describe('links in message text', () => {
  it('links http and https addresses, without the punctuation after them', () => {
    expect(linkify('see https://example.com/a?b=1, or http://x.test.')).toEqual([
      { text: 'see ' },
      { text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { text: ', or ' },
      { text: 'http://x.test', href: 'http://x.test' },
      { text: '.' },
    ]);
  });

  it('never links another scheme', () => {
    expect(linkify('javascript:alert(1) data:text/html,<b>x</b>')).toEqual([
      { text: 'javascript:alert(1) data:text/html,<b>x</b>' },
    ]);
  });

  it('puts "new messages" before the first message from someone else after the read position', () => {
    const at = local('2026-03-04T10:00:00');
    const items = buildTimeline(
      [
        message(1, 'bob', at),
        message(2, 'ann', at),
        message(3, 'ann', at),
        message(4, 'bob', at),
        message(5, 'bob', at),
      ],
      [],
      now,
      { seq: 1, me: 'ann' },
    );
    expect(
      items.map((item) =>
        item.kind === 'message' ? `${item.message.seq}${item.continued ? '+' : ''}` : item.kind,
      ),
    ).toEqual(['day', '1', '2', '3+', 'new', '4', '5+']);
    expect(
      buildTimeline([message(1, 'bob', at)], [], now, { seq: 1, me: 'ann' }).map((item) => item.kind),
    ).toEqual(['day', 'message']);
  });

  it('finds mentions of the room’s members only, and marks the reader’s own', () => {
    const names = new Set(['ann', 'bob.lee']);
    expect(splitMentions('hi @Ann and @bob.lee. not @carl or me@ann', names, 'ann')).toEqual([
      { text: 'hi ' },
      { text: '@Ann', mention: 'me' },
      { text: ' and ' },
      { text: '@bob.lee', mention: 'other' },
      { text: '. not @carl or me@ann' },
    ]);
  });
});
