/** The gateway's REST API as the pages use it (docs/openapi.json); same origin, JSON in and out. */

import type { Announcement, Attachment, FieldIssue, Member, Room, User, UserPublic } from '@chat/protocol';

export type { User };

/** `POST /api/auth/refresh`: a new token pair (the contract promises no user with it). */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds. */
  expiresIn: number;
}

export interface LoginResult extends TokenPair {
  user: User;
}

/** An error answer in the contract's shape, or a network failure (`status` 0, code `NETWORK`). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldIssue[] = [],
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** Every call gives up after this long, so a hung upstream surfaces as an error rather than a frozen form. */
const TIMEOUT_MS = 15_000;

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  token?: string;
}

const NETWORK_MESSAGE = 'The server cannot be reached. Check your connection and try again.';

/** The ApiError an answer that is not 2xx stands for, from its status, error body and `Retry-After`. */
function answerError(status: number, body: unknown, retryAfterHeader: string | null): ApiError {
  const error = (body as { error?: { code?: string; message?: string; details?: FieldIssue[] } } | undefined)
    ?.error;
  const retryAfter = Number(retryAfterHeader);
  return new ApiError(
    status,
    error?.code ?? 'HTTP_ERROR',
    error?.message ?? `The server answered ${status}.`,
    Array.isArray(error?.details) ? error.details : [],
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
  );
}

/** Calls `path` on the gateway; resolves with the parsed body (undefined for 204), rejects with ApiError. */
export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', NETWORK_MESSAGE);
  }
  if (response.status === 204) return undefined as T;
  const body: unknown = await response.json().catch(() => undefined);
  if (response.ok) return body as T;
  throw answerError(response.status, body, response.headers.get('retry-after'));
}

export interface UploadOptions {
  method: 'POST' | 'PUT';
  token: string;
  /** Told the share of the body sent so far, 0 to 1. */
  onProgress: (share: number) => void;
  signal: AbortSignal;
}

/**
 * Sends `file` as the raw body of `path` (its type as `Content-Type`), with upload progress, which only
 * XMLHttpRequest reports; resolves with the parsed answer, rejects with ApiError (code `ABORTED` when
 * `signal` ended it). No timeout: a large file on a slow line takes as long as it takes, and progress shows it.
 */
export function upload<T>(path: string, file: Blob, options: UploadOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(options.method, path);
    xhr.responseType = 'json';
    xhr.setRequestHeader('accept', 'application/json');
    xhr.setRequestHeader('authorization', `Bearer ${options.token}`);
    xhr.setRequestHeader('content-type', file.type || 'application/octet-stream');
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) options.onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response as T);
      else reject(answerError(xhr.status, xhr.response, xhr.getResponseHeader('retry-after')));
    };
    // A refused upload (over the size cap) may be cut off before its answer is read: a network error here.
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', NETWORK_MESSAGE));
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'The upload was cancelled.'));
    options.signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}

/** `POST /api/attachments?name=`: one file, as its raw bytes. */
export const uploadAttachment = (file: File, options: Omit<UploadOptions, 'method'>) =>
  upload<Attachment>(`/api/attachments?${new URLSearchParams({ name: file.name }).toString()}`, file, {
    ...options,
    method: 'POST',
  });

/** `PUT /api/users/me/avatar`: the user's picture. */
export const uploadAvatar = (file: File, options: Omit<UploadOptions, 'method'>) =>
  upload<unknown>('/api/users/me/avatar', file, { ...options, method: 'PUT' });

export interface SignupInput {
  username: string;
  password: string;
  name?: string;
  email?: string;
}

export const signup = (input: SignupInput) => request<User>('/api/users', { method: 'POST', body: input });

export const login = (username: string, password: string) =>
  request<LoginResult>('/api/auth/login', { method: 'POST', body: { username, password } });

export const refreshTokens = (refreshToken: string) =>
  request<TokenPair>('/api/auth/refresh', { method: 'POST', body: { refreshToken } });

export const logout = (token: string) => request<void>('/api/auth/logout', { method: 'POST', token });

/** `PATCH /api/users/:id`: `null` clears name, email or phone; a new password needs the current one. */
export interface UserChange {
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  password?: string;
  currentPassword?: string;
}

/** Calls that need the user's access token; `token` refreshes it first when it is about to expire. */
export function authedApi(call: <T>(path: string, options?: RequestOptions) => Promise<T>) {
  return {
    me: () => call<User>('/api/users/me'),
    rooms: () => call<{ items: Room[] }>('/api/rooms'),
    createRoom: (name: string, kind: 'public' | 'private') =>
      call<Room>('/api/rooms', { method: 'POST', body: { name, kind } }),
    joinRoom: (roomId: string) =>
      call<Room>(`/api/rooms/${encodeURIComponent(roomId)}/members`, { method: 'POST' }),
    leaveRoom: (roomId: string) =>
      call<void>(`/api/rooms/${encodeURIComponent(roomId)}/members/me`, { method: 'DELETE' }),
    invite: (roomId: string, userId: string) =>
      call<unknown>(`/api/rooms/${encodeURIComponent(roomId)}/invitations`, {
        method: 'POST',
        body: { userId },
      }),
    members: (roomId: string, cursor: string | undefined) =>
      call<{ items: Member[]; nextCursor: string | null }>(
        `/api/rooms/${encodeURIComponent(roomId)}/members?${new URLSearchParams({
          limit: '100',
          ...(cursor ? { cursor } : {}),
        }).toString()}`,
      ),
    direct: (userId: string) => call<Room>(`/api/direct/${encodeURIComponent(userId)}`, { method: 'POST' }),
    users: (q: string) =>
      call<{ items: UserPublic[]; nextCursor: string | null }>(
        `/api/users?${new URLSearchParams({ q, limit: '20' }).toString()}`,
      ),
    user: (userId: string) => call<UserPublic>(`/api/users/${encodeURIComponent(userId)}`),
    updateRoom: (roomId: string, change: { name?: string; topic?: string | null }) =>
      call<Room>(`/api/rooms/${encodeURIComponent(roomId)}`, { method: 'PATCH', body: change }),
    deleteRoom: (roomId: string) =>
      call<void>(`/api/rooms/${encodeURIComponent(roomId)}`, { method: 'DELETE' }),
    setRole: (roomId: string, userId: string, role: 'moderator' | 'member') =>
      call<Member>(`/api/rooms/${encodeURIComponent(roomId)}/members/${encodeURIComponent(userId)}/role`, {
        method: 'PUT',
        body: { role },
      }),
    removeMember: (roomId: string, userId: string) =>
      call<void>(`/api/rooms/${encodeURIComponent(roomId)}/members/${encodeURIComponent(userId)}`, {
        method: 'DELETE',
      }),
    ban: (roomId: string, userId: string) =>
      call<void>(`/api/rooms/${encodeURIComponent(roomId)}/bans`, { method: 'POST', body: { userId } }),
    blocks: () => call<{ items: Array<{ user: UserPublic; createdAt: string }> }>('/api/users/me/blocks'),
    block: (userId: string) =>
      call<void>(`/api/users/me/blocks/${encodeURIComponent(userId)}`, { method: 'PUT' }),
    unblock: (userId: string) =>
      call<void>(`/api/users/me/blocks/${encodeURIComponent(userId)}`, { method: 'DELETE' }),
    announce: (text: string) => call<Announcement>('/api/announcements', { method: 'POST', body: { text } }),
    updateUser: (userId: string, change: UserChange) =>
      call<User>(`/api/users/${encodeURIComponent(userId)}`, { method: 'PATCH', body: change }),
    deleteUser: (userId: string) =>
      call<void>(`/api/users/${encodeURIComponent(userId)}`, { method: 'DELETE' }),
    removeAvatar: () => call<unknown>('/api/users/me/avatar', { method: 'DELETE' }),
  };
}

export type AuthedApi = ReturnType<typeof authedApi>;
