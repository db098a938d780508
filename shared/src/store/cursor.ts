import { ValidationError } from '../errors';

/** An opaque page cursor: the sort key of the last item, base64url JSON. */
export function encodeCursor(values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/** The values inside a cursor from a client, or a ValidationError on `field` if it was tampered with. */
export function decodeCursor(cursor: string, length: number, field = 'cursor'): (string | number)[] {
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(values) &&
      values.length === length &&
      values.every((value) => typeof value === 'string' || typeof value === 'number')
    ) {
      return values as (string | number)[];
    }
  } catch {
    // Falls through to the validation error below: the cursor is not ours.
  }
  throw new ValidationError([{ path: field, message: 'is not a cursor this server issued' }]);
}
