/**
 * @chat/chat-service: rooms, direct messages, history, presence and typing over a WebSocket server, with
 * fan-out between chat instances over NATS.
 */
export { createApp, type ChatApp, type ChatAppDeps } from './app';
export { chatConfigShape, loadChatConfig, type ChatConfig } from './config';
export { chatRoutes } from './http/rooms.routes';
export { attachmentRoutes } from './http/attachments.routes';
export {
  createRoomBody,
  historyQuery,
  inviteBody,
  messagePageSchema,
  publicRoomPageSchema,
  publicRoomsQuery,
  roomIdParams,
  roomListSchema,
  userIdParams,
} from './http/rooms.schemas';
export { type SocketStats } from './ws/socket-server';
export { SOCKET_PATH } from './ws/upgrade';
export {
  instancesSubject,
  presenceHeartbeatSubject,
  presenceSubject,
  presenceSyncSubject,
  roomSubject,
  userSubject,
  type InstanceAnnouncement,
} from './bus/chat.subjects';
