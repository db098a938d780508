import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Attachment, Message } from '@chat/protocol';

/**
 * Signed, expiring links to attachments (contract v1.1: they work in `<img src>`, where no access token can
 * be sent). A link is the attachment's path with `exp` (seconds since the epoch) and `sig`, an HMAC-SHA256
 * of both under a secret every instance shares. Expiry is rounded up to a whole window of `ttlSeconds`,
 * then one more: links made within one window are identical, so the browser's cache keeps serving them,
 * and each is valid for between one and two windows.
 */
export class AttachmentLinks {
  constructor(
    private readonly secret: Buffer,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** `path` with `exp` and `sig`. */
  sign(path: string): string {
    const window = Math.floor(this.now() / 1000 / this.ttlSeconds);
    const exp = (window + 2) * this.ttlSeconds;
    return `${path}?exp=${exp}&sig=${this.signature(path, exp)}`;
  }

  /**
   * Seconds the link to `path` with this `exp` and `sig` stays valid; undefined when it is forged, altered,
   * for another path, or expired.
   */
  remaining(path: string, exp: number, sig: string): number | undefined {
    const expected = Buffer.from(this.signature(path, exp));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const left = exp - Math.floor(this.now() / 1000);
    return left > 0 ? left : undefined;
  }

  /** The attachment with its paths signed. */
  attachment(attachment: Attachment): Attachment {
    return {
      ...attachment,
      url: this.sign(attachment.url),
      ...(attachment.thumbnailUrl === undefined ? {} : { thumbnailUrl: this.sign(attachment.thumbnailUrl) }),
    };
  }

  /** The message with every attachment's paths signed (the same message when it has none). */
  readonly message = (message: Message): Message =>
    message.attachments.length === 0
      ? message
      : { ...message, attachments: message.attachments.map((attachment) => this.attachment(attachment)) };

  private signature(path: string, exp: number): string {
    return createHmac('sha256', this.secret).update(`${path}\n${exp}`).digest('base64url');
  }
}
