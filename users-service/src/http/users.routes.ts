import { uploadBodies } from '@chat/media';
import { errorBodySchema, userPublicSchema, userSchema, type RouteDescription } from '@chat/shared';
import {
  avatarBody,
  avatarQuery,
  listUsersQuery,
  signupBody,
  updateUserBody,
  userIdParams,
  userPageSchema,
} from './users.schemas';

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
    summary: 'Delete a user (yourself, or anyone as an admin); their sessions end and their avatar goes',
    auth: true,
    params: userIdParams,
    responses: { 204: null, 403: error, 404: error },
  },
  {
    method: 'put',
    path: '/api/users/me/avatar',
    summary:
      'Set your avatar: the body is the image, or `multipart/form-data` with one `file` part; its type is decided from its content. PNG, JPEG, GIF and WebP are taken (anything else is 415), decoded (400 when it does not decode or declares more than IMAGE_MAX_PIXELS) and kept as a square WebP without EXIF or other metadata; the previous one goes. 413 past AVATAR_MAX_BYTES while the body streams, nothing kept; 429 past AVATAR_UPLOADS_PER_HOUR. Answers you with the new `avatarUrl`',
    auth: true,
    upload: uploadBodies,
    responses: { 200: userSchema },
  },
  {
    method: 'delete',
    path: '/api/users/me/avatar',
    summary: 'Remove your avatar (`avatarUrl` becomes null); 204 also when you had none',
    auth: true,
    responses: { 204: null },
  },
  {
    method: 'get',
    path: '/api/users/{id}/avatar',
    summary:
      'A user’s avatar, as `avatarUrl` links it (no access token: avatars are public like the profile): a square WebP with `X-Content-Type-Options: nosniff`, cacheable for good (`public, max-age=31536000, immutable`), since a new picture has a new `v`. 404 once it was replaced or removed, or when the user is gone',
    auth: false,
    mediaType: 'image/webp',
    params: userIdParams,
    query: avatarQuery,
    responses: { 200: avatarBody, 404: error },
  },
];
