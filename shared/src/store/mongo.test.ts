import { duplicateKeyField } from './mongo';

describe('duplicateKeyField', () => {
  it('names the index key of a MongoDB duplicate-key error', () => {
    expect(duplicateKeyField({ code: 11000, keyPattern: { usernameLower: 1 } })).toBe('usernameLower');
    expect(
      duplicateKeyField({
        code: 11000,
        message: 'E11000 duplicate key error collection: db.users index: emailLower_1 dup key',
      }),
    ).toBe('emailLower');
  });

  it('answers an empty name when the duplicate-key error does not say (FerretDB on insert)', () => {
    expect(
      duplicateKeyField({ code: 11000, message: 'E11000 duplicate key error collection: db.users' }),
    ).toBe('');
  });

  it("recognises FerretDB's unique violation on update, reported as InternalError", () => {
    const message =
      "[msg_findandmodify.go:196] constraint failed: UNIQUE constraint failed: index 'users_e40c292c_emailLower_1' (2067)";
    expect(duplicateKeyField({ code: 1, message })).toBe('emailLower');
  });

  it('answers undefined for other errors', () => {
    expect(duplicateKeyField({ code: 1, message: 'something else' })).toBeUndefined();
    expect(duplicateKeyField(new Error('boom'))).toBeUndefined();
    expect(duplicateKeyField(undefined)).toBeUndefined();
  });
});
