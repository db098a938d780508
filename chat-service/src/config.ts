import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { baseConfigShape, csv, loadConfig } from '@chat/shared';

const positiveMs = z.coerce.number().int().positive();

/** chat-service settings: the common ones plus the WebSocket edge, presence and draining. */
export const chatConfigShape = {
  ...baseConfigShape,
  PORT: baseConfigShape.PORT.default(3003),
  /** This instance's name in presence heartbeats and `chat.instances`; unique per process. */
  CHAT_INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"')
    .default(() => `chat-${randomUUID()}`),
  /** How the gateway reaches this instance; defaults to http://127.0.0.1:<bound port>. */
  PUBLIC_URL: z.url().optional(),
  /**
   * Origins (scheme://host[:port]) a browser may open a socket from. Empty: only the host the request
   * was addressed to. A request without an Origin header (not a browser) is always allowed.
   */
  WS_ALLOWED_ORIGINS: csv.default([]),
  /** How often the server pings each socket; a socket that did not answer the previous ping is dropped. */
  HEARTBEAT_INTERVAL_MS: positiveMs.default(5_000),
  /** Largest client frame; larger closes the socket with 1009. */
  WS_MAX_PAYLOAD_BYTES: z.coerce.number().int().min(1024).max(1_048_576).default(16_384),
  /** Sustained client frames per second per socket, and the burst above it. */
  WS_RATE_LIMIT_PER_SECOND: z.coerce.number().positive().default(20),
  WS_RATE_LIMIT_BURST: z.coerce.number().int().positive().default(40),
  /** Sockets one user may hold on this instance; the upgrade past it answers 403 LIMIT_REACHED. */
  WS_MAX_SOCKETS_PER_USER: z.coerce.number().int().min(1).default(20),
  /** Messages one user may send per second across all their sockets on this instance, and the burst. */
  MESSAGES_PER_USER_PER_SECOND: z.coerce.number().positive().default(10),
  MESSAGES_PER_USER_BURST: z.coerce.number().int().positive().default(30),
  /** Rooms one user may belong to: creating, joining or being invited past it answers 403 LIMIT_REACHED. */
  ROOMS_PER_USER: z.coerce.number().int().min(1).default(1000),
  /** Invitations (and direct rooms opened with someone new) one user may send per minute, per instance. */
  INVITATIONS_PER_MINUTE: z.coerce.number().int().min(1).default(60),
  /** How long after sending a message its sender may still edit it. */
  MESSAGE_EDIT_WINDOW_SECONDS: z.coerce.number().int().min(1).default(86_400),
  /** Reactions one user may have on one message; past it 403 LIMIT_REACHED. */
  REACTIONS_PER_USER_PER_MESSAGE: z.coerce.number().int().min(1).default(20),
  /**
   * Frames one socket may have accepted and not yet answered (a client's send window); past it a frame is
   * refused with RATE_LIMITED rather than queued.
   */
  WS_MAX_PENDING_FRAMES: z.coerce.number().int().min(1).max(10_000).default(256),
  /** Outbound bytes (queued + in the socket's buffer) one socket may hold before events are shed. */
  WS_MAX_BUFFERED_BYTES: z.coerce.number().int().min(16_384).default(1_048_576),
  /** How long a user's last socket may be gone before this instance announces them offline. */
  PRESENCE_GRACE_MS: z.coerce.number().int().min(0).default(3_000),
  /**
   * Rooms with more members than this carry no presence: its members hear of each other's presence only
   * through a smaller room they share (when all of a room's members come online, presence costs the square
   * of its size).
   */
  PRESENCE_MAX_ROOM_MEMBERS: z.coerce.number().int().min(2).default(1_000),
  /** An instance whose presence heartbeat is older than this is taken as gone, with its users. */
  PRESENCE_TTL_MS: positiveMs.default(15_000),
  /** How often this instance announces itself (url, load, draining) on `chat.instances`. */
  INSTANCE_ANNOUNCE_INTERVAL_MS: positiveMs.default(2_000),
  /** On shutdown, sockets close with 1012 spread over this long, so clients do not reconnect at once. */
  DRAIN_SPREAD_MS: z.coerce.number().int().min(0).default(3_000),
  /** Largest attachment; the byte past it is refused 413 while the upload streams. */
  ATTACHMENT_MAX_BYTES: z.coerce.number().int().min(1).default(10_485_760),
  /** Bytes one user's attachments may take together (each counts at least 4 KiB); past it 403 LIMIT_REACHED. */
  ATTACHMENT_QUOTA_BYTES: z.coerce.number().int().min(4096).default(104_857_600),
  /** Pixels an image may have, all frames together; more is refused before anything is decoded. */
  IMAGE_MAX_PIXELS: z.coerce.number().int().min(1).default(40_000_000),
  /** Attachment links are valid for one to two of these windows and identical within one (cacheable). */
  ATTACHMENT_LINK_TTL_SECONDS: z.coerce.number().int().min(60).default(43_200),
  /** An upload no message uses is removed once this old. */
  ATTACHMENT_UNREFERENCED_TTL_SECONDS: z.coerce.number().int().min(1).default(86_400),
  /** How often each instance looks for such uploads. */
  ATTACHMENT_SWEEP_INTERVAL_MS: positiveMs.default(600_000),
};

export type ChatConfig = Readonly<z.infer<z.ZodObject<typeof chatConfigShape>>>;

/** Parses chat-service settings from `env`; throws a ConfigError naming every bad one. */
export function loadChatConfig(env: Record<string, string | undefined>): ChatConfig {
  return loadConfig(chatConfigShape, env);
}
