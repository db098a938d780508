import { errorBodySchema, type RouteDescription } from '@chat/shared';
import { announcementSchema, memberSchema, messageSchema, roomSchema } from '@chat/protocol';
import {
  announcementBody,
  announcementPageSchema,
  banBody,
  blockListSchema,
  memberPageSchema,
  memberParams,
  pageQuery,
  roleBody,
  updateRoomBody,
  createRoomBody,
  editBody,
  historyQuery,
  inviteBody,
  messageParams,
  messagePageSchema,
  publicRoomPageSchema,
  publicRoomsQuery,
  reactionParams,
  roomIdParams,
  roomListSchema,
  userIdParams,
} from './rooms.schemas';

const error = errorBodySchema;

/** The routes chat-service serves, with their request and response schemas, for the OpenAPI document. */
export const chatRoutes: readonly RouteDescription[] = [
  {
    method: 'get',
    path: '/api/rooms',
    summary:
      'The rooms you belong to plus every public room, oldest first (as in v1); `GET /api/rooms/public` pages through the public ones',
    auth: true,
    responses: { 200: roomListSchema },
  },
  {
    method: 'get',
    path: '/api/rooms/public',
    summary:
      'The public room directory, a page at a time, ordered by name in any case; `q` is a name prefix, `cursor` the `nextCursor` of the previous page (null on the last one; any other value is 400)',
    auth: true,
    query: publicRoomsQuery,
    responses: { 200: publicRoomPageSchema },
  },
  {
    method: 'post',
    path: '/api/rooms',
    summary:
      'Create a public or private room; you are its owner and first member. A public room’s name is unique among public rooms in any case (409 ROOM_NAME_TAKEN); a private room’s name need not be unique. 403 LIMIT_REACHED when you belong to ROOMS_PER_USER rooms',
    auth: true,
    body: createRoomBody,
    responses: { 201: roomSchema, 403: error, 409: error },
  },
  {
    method: 'post',
    path: '/api/rooms/{id}/members',
    summary:
      'Join a public room (or confirm a membership you have); 403 FORBIDDEN for a private room, 403 LIMIT_REACHED when you belong to ROOMS_PER_USER rooms',
    auth: true,
    params: roomIdParams,
    responses: { 200: roomSchema, 403: error, 404: error },
  },
  {
    method: 'delete',
    path: '/api/rooms/{id}/members/me',
    summary: 'Leave a room (nothing changes if you were not in it)',
    auth: true,
    params: roomIdParams,
    responses: { 204: null, 404: error },
  },
  {
    method: 'post',
    path: '/api/rooms/{id}/invitations',
    summary:
      'Add a user to a public or private room you belong to; they get `room.invited`. 403 FORBIDDEN when you are not a member or the room is direct, 403 LIMIT_REACHED when they belong to ROOMS_PER_USER rooms, 429 past INVITATIONS_PER_MINUTE',
    auth: true,
    params: roomIdParams,
    body: inviteBody,
    responses: { 201: roomSchema, 403: error, 404: error },
  },
  {
    method: 'post',
    path: '/api/direct/{userId}',
    summary:
      'The direct room between you and another user (400 for yourself), the same one every time. 403 LIMIT_REACHED when either of you belongs to ROOMS_PER_USER rooms and is not yet in it; 429 past INVITATIONS_PER_MINUTE when it adds them',
    auth: true,
    params: userIdParams,
    responses: { 200: roomSchema, 403: error, 404: error },
  },
  {
    method: 'get',
    path: '/api/rooms/{id}/messages',
    summary:
      'A page of history, oldest first, for members only; `before`/`after` are ids of messages in this room (any other id is 400)',
    auth: true,
    params: roomIdParams,
    query: historyQuery,
    responses: { 200: messagePageSchema, 403: error, 404: error },
  },
  {
    method: 'patch',
    path: '/api/rooms/{id}/messages/{messageId}',
    summary:
      'Edit your message (as the socket’s `edit`): its new state; every member’s sockets get `message.updated`. 403 for another’s message, a deleted one or past MESSAGE_EDIT_WINDOW_SECONDS',
    auth: true,
    params: messageParams,
    body: editBody,
    responses: { 200: messageSchema, 403: error, 404: error },
  },
  {
    method: 'delete',
    path: '/api/rooms/{id}/messages/{messageId}',
    summary:
      'Delete a message (yours, or any in a room you own or moderate, or as an admin; as the socket’s `delete`): it stays as a tombstone with empty text, which is answered',
    auth: true,
    params: messageParams,
    responses: { 200: messageSchema, 403: error, 404: error },
  },
  {
    method: 'put',
    path: '/api/rooms/{id}/messages/{messageId}/reactions/{emoji}',
    summary:
      'Add your reaction with this emoji (as the socket’s `react` with `on: true`; again changes nothing). 403 LIMIT_REACHED past REACTIONS_PER_USER_PER_MESSAGE of yours on the message',
    auth: true,
    params: reactionParams,
    responses: { 200: messageSchema, 403: error, 404: error },
  },
  {
    method: 'delete',
    path: '/api/rooms/{id}/messages/{messageId}/reactions/{emoji}',
    summary: 'Remove your reaction with this emoji (as the socket’s `react` with `on: false`)',
    auth: true,
    params: reactionParams,
    responses: { 200: messageSchema, 403: error, 404: error },
  },
  {
    method: 'get',
    path: '/api/rooms/{id}/members',
    summary:
      'The members of a room you belong to (or any, as an admin), by the time they joined, a page at a time; `cursor` is the `nextCursor` of the previous page (null on the last one; any other value is 400)',
    auth: true,
    params: roomIdParams,
    query: pageQuery,
    responses: { 200: memberPageSchema, 403: error, 404: error },
  },
  {
    method: 'patch',
    path: '/api/rooms/{id}',
    summary:
      'Rename a room or set its topic (null clears it): its owner or an admin; members get `room.updated`. A direct room keeps its name (403); a public name in use is 409 ROOM_NAME_TAKEN',
    auth: true,
    params: roomIdParams,
    body: updateRoomBody,
    responses: { 200: roomSchema, 403: error, 404: error, 409: error },
  },
  {
    method: 'delete',
    path: '/api/rooms/{id}',
    summary: 'Delete a room with its messages: its owner or an admin; members get `room.deleted`',
    auth: true,
    params: roomIdParams,
    responses: { 204: null, 403: error, 404: error },
  },
  {
    method: 'put',
    path: '/api/rooms/{id}/members/{userId}/role',
    summary: 'Make a member a moderator, or a member again: the owner or an admin; they get `room.updated`',
    auth: true,
    params: memberParams,
    body: roleBody,
    responses: { 200: memberSchema, 403: error, 404: error },
  },
  {
    method: 'delete',
    path: '/api/rooms/{id}/members/{userId}',
    summary:
      'Remove a member: the owner, a moderator (members only) or an admin; never the owner. Their sockets get `room.removed`, the others `member.left`',
    auth: true,
    params: memberParams,
    responses: { 204: null, 403: error, 404: error },
  },
  {
    method: 'post',
    path: '/api/rooms/{id}/bans',
    summary:
      'Ban a user (403 for yourself): removed as by `DELETE /api/rooms/{id}/members/{userId}`, and they can no longer join or be invited',
    auth: true,
    params: roomIdParams,
    body: banBody,
    responses: { 204: null, 403: error, 404: error },
  },
  {
    method: 'delete',
    path: '/api/rooms/{id}/bans/{userId}',
    summary: 'Lift a ban: the owner, a moderator or an admin',
    auth: true,
    params: memberParams,
    responses: { 204: null, 403: error, 404: error },
  },
  {
    method: 'get',
    path: '/api/users/me/blocks',
    summary: 'The users you blocked, oldest first',
    auth: true,
    responses: { 200: blockListSchema },
  },
  {
    method: 'put',
    path: '/api/users/me/blocks/{userId}',
    summary:
      'Block a user (403 for yourself): they cannot invite you or open a direct room with you, sends between you in a direct room are refused, and neither sees the other typing',
    auth: true,
    params: userIdParams,
    responses: { 204: null, 403: error, 404: error },
  },
  {
    method: 'delete',
    path: '/api/users/me/blocks/{userId}',
    summary: 'Unblock a user',
    auth: true,
    params: userIdParams,
    responses: { 204: null },
  },
  {
    method: 'post',
    path: '/api/announcements',
    summary:
      'Announce something to everyone (admins only): every connected socket gets `announcement`, and `hello` carries the latest 20',
    auth: true,
    body: announcementBody,
    responses: { 201: announcementSchema, 403: error },
  },
  {
    method: 'get',
    path: '/api/announcements',
    summary:
      'Announcements, newest first, a page at a time; `cursor` is the `nextCursor` of the previous page (null on the last one; any other value is 400)',
    auth: true,
    query: pageQuery,
    responses: { 200: announcementPageSchema },
  },
];
