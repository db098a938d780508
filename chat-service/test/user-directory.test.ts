import { MemoryBus, subjects } from '@chat/shared';
import { LogCapture } from '@chat/testing';
import { BusUserDirectory } from '../src/bus/user-directory.bus';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** users-service over the in-process bus, answering when the test lets it and recording what it was asked. */
function slowUsersService(bus: MemoryBus) {
  const asked: string[][] = [];
  const waiting: (() => void)[] = [];
  let failures = 0;
  bus.serve(subjects.getPublicUsers.subject, async (message) => {
    const { ids } = subjects.getPublicUsers.schema.parse(message.data);
    asked.push(ids);
    await new Promise<void>((resolve) => waiting.push(resolve));
    if (failures > 0) {
      failures -= 1;
      throw new Error('users-service failed');
    }
    return {
      users: ids.map((id) => ({
        id,
        username: `user-${id}`,
        name: null,
        avatarUrl: null,
        createdAt: '2026-01-01T00:00:00.000Z',
      })),
    };
  });
  return {
    asked,
    /** Answers every request waiting so far. */
    answer: () => waiting.splice(0).forEach((resolve) => resolve()),
    /** Resolves once `count` requests have arrived. */
    received: async (count: number) => {
      while (asked.length < count) await nextTurn();
    },
    failNext: () => (failures += 1),
  };
}

describe('BusUserDirectory', () => {
  let bus: MemoryBus;
  let directory: BusUserDirectory;
  let logs: LogCapture;

  beforeEach(async () => {
    logs = new LogCapture();
    const logger = logs.logger('user-directory-test');
    bus = new MemoryBus({ logger });
    directory = new BusUserDirectory(bus, logger);
    await directory.start();
  });

  afterEach(async () => {
    await directory.stop();
    await bus.close();
  });

  it('asks users-service once for an id asked for again while the first answer is on its way (a burst of sockets)', async () => {
    const users = slowUsersService(bus);
    const first = directory.get('u1');
    await users.received(1);
    const later = [directory.get('u1'), directory.find(['u1', 'u2'])];
    await users.received(2);
    expect(users.asked).toEqual([['u1'], ['u2']]);
    users.answer();
    const [one, again, both] = await Promise.all([first, ...later]);
    expect(one?.username).toBe('user-u1');
    expect(again).toEqual(one);
    expect([...(both as Map<string, unknown>).keys()].sort()).toEqual(['u1', 'u2']);
    expect((await directory.get('u2'))?.username).toBe('user-u2');
    expect(users.asked).toHaveLength(2);
  });

  it('asks again after a failed answer, rather than keeping the failure', async () => {
    const users = slowUsersService(bus);
    users.failNext();
    const failed = directory.get('u1');
    await users.received(1);
    users.answer();
    await expect(failed).rejects.toThrow();
    expect(logs.entries()).toContainEqual(expect.objectContaining({ message: 'bus responder failed' }));
    const retried = directory.get('u1');
    await users.received(2);
    users.answer();
    expect((await retried)?.username).toBe('user-u1');
    expect(users.asked).toEqual([['u1'], ['u1']]);
  });
});
