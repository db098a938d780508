import { errorBodySchema, userPublicSchema, userSchema, type RouteDescription } from '@chat/shared';
import { listUsersQuery, signupBody, updateUserBody, userPageSchema } from './users.schemas';

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
    responses: { 201: userSchema, 400: error, 409: error, 413: error, 429: error, 503: error },
  },
  {
    method: 'get',
    path: '/api/users',
    summary: 'List users by username, optionally by username prefix `q`',
    auth: true,
    query: listUsersQuery,
    responses: { 200: userPageSchema, 400: error, 401: error },
  },
  {
    method: 'get',
    path: '/api/users/me',
    summary: 'The signed-in user',
    auth: true,
    responses: { 200: userSchema, 401: error },
  },
  {
    method: 'get',
    path: '/api/users/{id}',
    summary: 'One user: the full view for yourself or an admin, else the public one',
    auth: true,
    responses: { 200: userSchema.or(userPublicSchema), 400: error, 401: error, 404: error },
  },
  {
    method: 'patch',
    path: '/api/users/{id}',
    summary:
      'Change a user (yourself, or anyone as an admin); a new password needs currentPassword for yourself (429 after 5 wrong ones in 15 minutes) and ends the user’s other sessions',
    auth: true,
    body: updateUserBody,
    responses: {
      200: userSchema,
      400: error,
      401: error,
      403: error,
      404: error,
      409: error,
      413: error,
      429: error,
    },
  },
  {
    method: 'delete',
    path: '/api/users/{id}',
    summary: 'Delete a user (yourself, or anyone as an admin); their sessions end',
    auth: true,
    responses: { 204: null, 400: error, 401: error, 403: error, 404: error },
  },
];
