import { errorBodySchema, type RouteDescription } from '@chat/shared';
import { roomSchema } from '@chat/protocol';
import {
  createRoomBody,
  historyQuery,
  inviteBody,
  messagePageSchema,
  publicRoomPageSchema,
  publicRoomsQuery,
  roomListSchema,
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
    responses: { 200: roomListSchema, 401: error },
  },
  {
    method: 'get',
    path: '/api/rooms/public',
    summary:
      'The public room directory, a page at a time, ordered by name in any case; `q` is a name prefix, `cursor` the `nextCursor` of the previous page (null on the last one)',
    auth: true,
    query: publicRoomsQuery,
    responses: { 200: publicRoomPageSchema, 400: error, 401: error },
  },
  {
    method: 'post',
    path: '/api/rooms',
    summary:
      'Create a public or private room; you are its owner and first member. A public room’s name is unique among public rooms in any case (409 ROOM_NAME_TAKEN); a private room’s name need not be unique',
    auth: true,
    body: createRoomBody,
    responses: { 201: roomSchema, 400: error, 401: error, 409: error, 413: error },
  },
  {
    method: 'post',
    path: '/api/rooms/{id}/members',
    summary: 'Join a public room (or confirm a membership you have); 403 for a private room',
    auth: true,
    responses: { 200: roomSchema, 400: error, 401: error, 403: error, 404: error },
  },
  {
    method: 'delete',
    path: '/api/rooms/{id}/members/me',
    summary: 'Leave a room (nothing changes if you were not in it)',
    auth: true,
    responses: { 204: null, 400: error, 401: error, 404: error },
  },
  {
    method: 'post',
    path: '/api/rooms/{id}/invitations',
    summary: 'Add a user to a public or private room you belong to; they get `room.invited`',
    auth: true,
    body: inviteBody,
    responses: { 201: roomSchema, 400: error, 401: error, 403: error, 404: error, 413: error },
  },
  {
    method: 'post',
    path: '/api/direct/{userId}',
    summary: 'The direct room between you and a user, the same one every time',
    auth: true,
    responses: { 200: roomSchema, 400: error, 401: error, 404: error },
  },
  {
    method: 'get',
    path: '/api/rooms/{id}/messages',
    summary: 'A page of history, oldest first, for members only; `before`/`after` are message ids',
    auth: true,
    query: historyQuery,
    responses: { 200: messagePageSchema, 400: error, 401: error, 403: error, 404: error },
  },
];
