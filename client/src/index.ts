/** @chat/client: a typed client for the chat socket protocol, for browsers and Node. */
export {
  ChatClient,
  ChatError,
  newClientMsgId,
  type ChatClientOptions,
  type ClientEvents,
  type ConnectionState,
  type NetworkEvents,
  type SocketLike,
} from './chat-client';
export { Emitter } from './emitter';
