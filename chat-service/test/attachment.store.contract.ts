import { randomUUID } from 'node:crypto';
import type { AttachmentDocument, AttachmentStore } from '../src/store/attachment.store';

/** Opens a store on one database; calling it again opens another store on the same database. */
export type AttachmentStoreOpener = () => Promise<AttachmentStore>;

let clock = Date.UTC(2030, 0, 1);

function attachment(ownerId: string, overrides: Partial<AttachmentDocument> = {}): AttachmentDocument {
  clock += 1000;
  return {
    _id: randomUUID(),
    ownerId,
    name: 'file.bin',
    type: 'application/octet-stream',
    size: 10_000,
    createdAt: new Date(clock),
    ...overrides,
  };
}

const ref = (attachmentId: string, messageId: string, roomId = 'room-1') => ({
  _id: `${attachmentId}/${messageId}`,
  attachmentId,
  messageId,
  roomId,
});

/** The behaviour every AttachmentStore adapter must have (keyv's storageTestSuite). */
export function attachmentStoreContract(newDatabase: () => Promise<AttachmentStoreOpener>): void {
  let open: AttachmentStoreOpener;
  let store: AttachmentStore;
  const extra: AttachmentStore[] = [];

  beforeEach(async () => {
    open = await newDatabase();
    store = await open();
  });

  afterEach(async () => {
    await Promise.all([store, ...extra.splice(0)].map((each) => each.close()));
  });

  it('keeps attachments and finds those that exist', async () => {
    const a = attachment('u1', { width: 10, height: 20, thumbnailSize: 500, type: 'image/png' });
    await store.insert(a);
    expect(await store.find([a._id, 'missing'])).toEqual([a]);
    expect(await store.find([])).toEqual([]);
  });

  it('charges each owner their bytes and thumbnails, at least 4 KiB a file', async () => {
    await store.insert(attachment('u1', { size: 10_000, thumbnailSize: 1_000 }));
    await store.insert(attachment('u1', { size: 10 }));
    await store.insert(attachment('u2', { size: 99 }));
    expect(await store.usage('u1')).toBe(11_000 + 4096);
    expect(await store.usage('nobody')).toBe(0);
    expect((await store.ownedBy('u2')).map((document) => document.size)).toEqual([99]);
    await store.disown((await store.ownedBy('u1')).map((document) => document._id));
    expect(await store.ownedBy('u1')).toEqual([]);
    expect(await store.usage('u1')).toBe(0);
  });

  it('knows which messages and rooms use an attachment, and forgets a message’s uses', async () => {
    const [a, b] = [attachment('u1'), attachment('u1')];
    await store.insert(a);
    await store.insert(b);
    await store.addRefs([ref(a._id, 'm1', 'r1'), ref(b._id, 'm1', 'r1')]);
    await store.addRefs([ref(a._id, 'm2', 'r2'), ref(a._id, 'm2', 'r2')]);
    expect((await store.roomsOf(a._id)).sort()).toEqual(['r1', 'r2']);
    expect(await store.unreferenced([a._id, b._id, 'x'])).toEqual(['x']);
    expect((await store.removeRefsOf('m1')).sort()).toEqual([a._id, b._id].sort());
    expect(await store.unreferenced([a._id, b._id])).toEqual([b._id]);
    expect(await store.removeRefsOf('m1')).toEqual([]);
  });

  it('lists old unused uploads, oldest first, up to a limit', async () => {
    const old = [attachment('u1'), attachment('u1'), attachment('u1')];
    for (const document of old) await store.insert(document);
    const fresh = attachment('u1');
    await store.insert(fresh);
    await store.addRefs([ref(old[1]!._id, 'm1')]);
    const before = new Date(fresh.createdAt.getTime() - 1);
    expect((await store.staleUnreferenced(before, 10)).map((d) => d._id)).toEqual([old[0]!._id, old[2]!._id]);
    expect((await store.staleUnreferenced(before, 1)).map((d) => d._id)).toEqual([old[0]!._id]);
    expect(await store.remove(old[0]!._id)).toBe(true);
    expect(await store.remove(old[0]!._id)).toBe(false);
    expect((await store.staleUnreferenced(before, 10)).map((d) => d._id)).toEqual([old[2]!._id]);
  });

  it('makes one link secret that every store on the database shares', async () => {
    const second = await open();
    extra.push(second);
    const [mine, theirs] = await Promise.all([store.linkSecret(), second.linkSecret()]);
    expect(mine).toHaveLength(32);
    expect(theirs.equals(mine)).toBe(true);
    expect((await store.linkSecret()).equals(mine)).toBe(true);
  });
}
