import { errorBodySchema, userPublicSchema, userSchema, type RouteDescription } from '@chat/shared';
import { listUsersQuery, signupBody, updateUserBody, userIdParams, userPageSchema } from './users.schemas';

const error = errorBodySchema;

/** The routes users-service serves, with their request and response schemas, for the OpenAPI document. */
export const usersRoutes: readonly RouteDescription[] = [
  {
    method: 'post',
    path: '/api/users',
    summary:
      'Sign up. 429 past SIGNUPS_PER_ADDRESS_PER_HOUR from one client address; 503 with Retry-After when too many signups wait for their password hash, having kept nothing (a retry does not meet USERNAME_TAKEN)',
    auth: false,
    body: signupBody,
    responses: { 201: userSchema, 409: error, 503: error },
  },
  {
    method: 'get',
    path: '/api/users',
    summary:
      'List users by username, optionally by username prefix `q`; `cursor` is the `nextCursor` of the previous page (any other value is 400)',
    auth: true,
    query: listUsersQuery,
    responses: { 200: userPageSchema },
  },
  {
    method: 'get',
    path: '/api/users/me',
    summary: 'The signed-in user',
    auth: true,
    responses: { 200: userSchema },
  },
  {
    method: 'get',
    path: '/api/users/{id}',
    summary: 'One user: the full view for yourself or an admin, else the public one',
    auth: true,
    params: userIdParams,
    responses: { 200: userSchema.or(userPublicSchema), 404: error },
  },
  {
    method: 'patch',
    path: '/api/users/{id}',
    summary:
      'Change a user (yourself, or anyone as an admin); a new password for yourself needs currentPassword (400 without it, 403 when wrong, 429 after 5 wrong ones in 15 minutes); a new password ends the user’s other sessions',
    auth: true,
    params: userIdParams,
    body: updateUserBody,
    responses: { 200: userSchema, 403: error, 404: error, 409: error },
  },
  {
    method: 'delete',
    path: '/api/users/{id}',
    summary: 'Delete a user (yourself, or anyone as an admin); their sessions end',
    auth: true,
    params: userIdParams,
    responses: { 204: null, 403: error, 404: error },
  },
];
