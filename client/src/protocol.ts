/** The socket protocol's shapes as a client sees them (api-contract.md, "WebSocket"). */

export interface UserPublic {
  id: string;
  username: string;
  name: string | null;
  createdAt: string;
}

export interface Room {
  id: string;
  name: string;
  kind: 'public' | 'private' | 'direct';
  memberCount: number;
  createdBy: string;
  createdAt: string;
}

export interface Message {
  id: string;
  roomId: string;
  seq: number;
  sender: { id: string; username: string };
  text: string;
  clientMsgId?: string;
  createdAt: string;
}

export type ServerEvent =
  | { type: 'hello'; user: UserPublic; sessionId: string; rooms: Room[]; online: UserPublic[] }
  | { type: 'joined'; ref?: string; roomId: string; missed: Message[]; hasMore: boolean }
  | { type: 'left'; ref?: string; roomId: string }
  | { type: 'ack'; ref?: string; message: Message }
  | { type: 'message'; message: Message }
  | { type: 'typing'; roomId: string; user: UserPublic; active: boolean }
  | { type: 'pong'; ref?: string }
  | { type: 'presence'; user: UserPublic; status: 'online' | 'offline' }
  | { type: 'member.joined' | 'member.left'; roomId: string; user: UserPublic }
  | { type: 'room.invited'; room: Room }
  | { type: 'session.expiring'; expiresAt: string }
  | { type: 'error'; ref?: string; code: string; message: string };

export type ClientFrame =
  | { type: 'join'; roomId: string; since?: string; ref?: string }
  | { type: 'leave'; roomId: string; ref?: string }
  | { type: 'send'; roomId: string; text: string; clientMsgId: string; ref?: string }
  | { type: 'typing'; roomId: string; active: boolean; ref?: string }
  | { type: 'ping'; ref?: string }
  | { type: 'refresh'; token: string; ref?: string };

/** Close codes the server uses; the ones after which reconnecting with the same token cannot help. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  restarting: 1012,
  /** The client fell too far behind on reading; reconnecting after a backoff is right. */
  tryAgainLater: 1013,
  sessionEnded: 4001,
  forbidden: 4003,
} as const;

export const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  CloseCode.policy,
  CloseCode.tooBig,
  CloseCode.sessionEnded,
  CloseCode.forbidden,
]);
