import { uploadBodies } from '@chat/media';
import { errorBodySchema, type RouteDescription } from '@chat/shared';
import {
  attachmentIdParams,
  attachmentSchema,
  fileBody,
  signedLinkQuery,
  uploadQuery,
} from './attachments.schemas';

const error = errorBodySchema;

/** The `/api/attachments` routes chat-service serves, for the OpenAPI document. */
export const attachmentRoutes: readonly RouteDescription[] = [
  {
    method: 'post',
    path: '/api/attachments',
    summary:
      'Upload a file: the body is the file (`?name=` its name), or `multipart/form-data` with one `file` part. Its type is decided from its content. Images (PNG, JPEG, GIF, WebP) are decoded (400 past IMAGE_MAX_PIXELS), stored re-encoded without EXIF or other metadata, and get a WebP thumbnail; anything else is a download only. 413 past ATTACHMENT_MAX_BYTES and 403 LIMIT_REACHED past ATTACHMENT_QUOTA_BYTES, both while the body streams, nothing kept. Send it with `send.attachmentIds` within ATTACHMENT_UNREFERENCED_TTL_SECONDS or it is removed',
    auth: true,
    query: uploadQuery,
    upload: uploadBodies,
    responses: { 201: attachmentSchema, 403: error },
  },
  {
    method: 'get',
    path: '/api/attachments/{id}',
    summary:
      'An attachment with fresh signed links: for its uploader and members of a room where a message carries it; 404 for everyone else',
    auth: true,
    params: attachmentIdParams,
    responses: { 200: attachmentSchema, 404: error },
  },
  {
    method: 'get',
    path: '/api/attachments/{id}/content',
    summary:
      'The file behind a signed link (`url`; no access token): images inline with their type, anything else `application/octet-stream` with `Content-Disposition: attachment`; always `X-Content-Type-Options: nosniff`, cacheable until the link expires. 403 for a link that is not valid or has expired',
    auth: false,
    mediaType: 'application/octet-stream',
    params: attachmentIdParams,
    query: signedLinkQuery,
    responses: { 200: fileBody, 403: error, 404: error },
  },
  {
    method: 'get',
    path: '/api/attachments/{id}/thumbnail',
    summary:
      'An image’s thumbnail behind a signed link (`thumbnailUrl`): WebP, at most 320 pixels on its longest side. 403 for a link that is not valid or has expired',
    auth: false,
    mediaType: 'image/webp',
    params: attachmentIdParams,
    query: signedLinkQuery,
    responses: { 200: fileBody, 403: error, 404: error },
  },
];
