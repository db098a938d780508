import { ATTACHMENTS_PER_MESSAGE, type Attachment } from '@chat/protocol';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { Dialog } from '../components/dialog';
import { formatSize } from '../format';
import type { ChatStore } from './chat-store';

/** Inline pictures fit in this box (the server's thumbnails are at most 320 on their longest side). */
const BOX_WIDTH = 320;
const BOX_HEIGHT = 280;

type InlineImage = Attachment & { width: number; height: number; thumbnailUrl: string };

/** Shown inline only what the server decoded as an image (it alone gives width, height and a thumbnail). */
function isInlineImage(attachment: Attachment): attachment is InlineImage {
  return Boolean(attachment.thumbnailUrl && attachment.width && attachment.height);
}

/** The image's size on screen: inside the box, never enlarged, so its space is kept before it loads. */
function fitted({ width, height }: { width: number; height: number }) {
  const scale = Math.min(1, BOX_WIDTH / width, BOX_HEIGHT / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** "PDF", "ZIP": a file's extension for its icon, or "FILE". */
function extensionOf(name: string): string {
  return /\.([a-z0-9]{1,4})$/i.exec(name)?.[1]?.toUpperCase() ?? 'FILE';
}

function FileIcon({ name }: { name: string }) {
  return (
    <span class="file-icon" aria-hidden="true">
      {extensionOf(name)}
    </span>
  );
}

/** A message's files: pictures as thumbnails that open full size, anything else as a download card. */
export function Attachments({ attachments }: { attachments: readonly Attachment[] }) {
  const [viewing, setViewing] = useState<InlineImage>();
  return (
    <>
      <ul class="attachments" aria-label="Attachments">
        {attachments.map((attachment) => (
          <li key={attachment.id}>
            {isInlineImage(attachment) ? (
              <button
                type="button"
                class="image-attachment"
                aria-label={`Open ${attachment.name}`}
                onClick={() => setViewing(attachment)}
              >
                <img src={attachment.thumbnailUrl} alt={attachment.name} {...fitted(attachment)} />
              </button>
            ) : (
              <a class="file-card" href={attachment.url} download={attachment.name}>
                <FileIcon name={attachment.name} />
                <span class="file-info">
                  <span class="file-name">{attachment.name}</span>
                  <span class="muted">{formatSize(attachment.size)}</span>
                </span>
                <span class="file-download" aria-hidden="true">
                  ↓
                </span>
                <span class="visually-hidden">Download</span>
              </a>
            )}
          </li>
        ))}
      </ul>
      {viewing && (
        <Dialog
          title={viewing.name}
          variant="viewer"
          onClose={() => setViewing(undefined)}
          actions={
            <a class="button-link" href={viewing.url} download={viewing.name}>
              Download
            </a>
          }
        >
          <img
            class="full-image"
            src={viewing.url}
            alt={viewing.name}
            width={viewing.width}
            height={viewing.height}
          />
        </Dialog>
      )}
    </>
  );
}

/** A file on its way up for the next message: its progress, then its attachment, or what went wrong. */
export interface Upload {
  key: string;
  file: File;
  /** The share sent so far, 0 to 1. */
  progress: number;
  attachment?: Attachment;
  error?: string;
}

/** What went wrong, in plain words. */
function uploadError(error: unknown): string {
  if (!(error instanceof ApiError) || error.status === 0)
    return 'The upload did not go through. Check your connection.';
  if (error.code === 'PAYLOAD_TOO_LARGE') return 'This file is too large to send.';
  if (error.code === 'LIMIT_REACHED') return 'You have used all the space your files may take.';
  return error.message;
}

/**
 * The composer's files: each uploads as soon as it is added (by the button, a drop or a paste), with its
 * progress; a failed one can be tried again. Leaving the room cancels what is still on its way.
 */
export function useUploads(store: ChatStore) {
  const [uploads, setUploads] = useState<readonly Upload[]>([]);
  const [notice, setNotice] = useState('');
  const controllers = useRef(new Map<string, AbortController>());
  const nextKey = useRef(1);

  useEffect(
    () => () => {
      for (const controller of controllers.current.values()) controller.abort();
    },
    [],
  );

  const update = (key: string, patch: Partial<Upload>) =>
    setUploads((list) => list.map((item) => (item.key === key ? { ...item, ...patch } : item)));

  function start({ key, file }: Upload) {
    const controller = new AbortController();
    controllers.current.set(key, controller);
    store
      .uploadAttachment(file, (progress) => update(key, { progress }), controller.signal)
      .then(
        (attachment) => {
          update(key, { attachment, progress: 1 });
          setNotice(`${file.name} uploaded.`);
        },
        (error: unknown) => {
          if (controller.signal.aborted) return;
          update(key, { error: uploadError(error) });
          setNotice(`${file.name} could not be uploaded.`);
        },
      )
      .finally(() => controllers.current.delete(key));
  }

  function add(files: readonly File[]) {
    const room = ATTACHMENTS_PER_MESSAGE - uploads.length;
    if (files.length > room)
      setNotice(`A message carries at most ${ATTACHMENTS_PER_MESSAGE} files; the rest were left out.`);
    const added = files
      .slice(0, Math.max(0, room))
      .map((file): Upload => ({ key: `upload-${nextKey.current++}`, file, progress: 0 }));
    setUploads((list) => [...list, ...added]);
    added.forEach(start);
  }

  function retry(key: string) {
    const item = uploads.find((upload) => upload.key === key);
    if (!item) return;
    const { error: _error, ...again } = item;
    setUploads((list) => list.map((upload) => (upload.key === key ? { ...again, progress: 0 } : upload)));
    start(again);
  }

  function remove(key: string) {
    controllers.current.get(key)?.abort();
    setUploads((list) => list.filter((upload) => upload.key !== key));
  }

  /** The uploaded files, taken for a message: the chips go. */
  function take(): Attachment[] {
    setUploads([]);
    return uploads.flatMap((item) => (item.attachment ? [item.attachment] : []));
  }

  const ready = uploads.every((item) => item.attachment);
  return { uploads, notice, ready, add, retry, remove, take };
}

export type Uploads = ReturnType<typeof useUploads>;

/** The chips above the composer: each file's name, size and progress, Retry when it failed, and Remove. */
export function UploadList({ uploads }: { uploads: Uploads }) {
  return (
    <>
      <p class="visually-hidden" role="status">
        {uploads.notice}
      </p>
      {uploads.uploads.length > 0 && (
        <ul class="uploads" aria-label="Files to send">
          {uploads.uploads.map((item) => {
            const { name, size } = item.file;
            const percent = Math.round(item.progress * 100);
            return (
              <li key={item.key} class={item.error ? 'upload failed-upload' : 'upload'}>
                {item.attachment && isInlineImage(item.attachment) ? (
                  <img class="upload-preview" src={item.attachment.thumbnailUrl} alt="" />
                ) : (
                  <FileIcon name={name} />
                )}
                <span class="file-info">
                  <span class="file-name" title={name}>
                    {name}
                  </span>
                  {item.error ? (
                    <span class="failed">{item.error}</span>
                  ) : (
                    <span class="muted">
                      {formatSize(size)}
                      {!item.attachment && ` · ${percent}%`}
                    </span>
                  )}
                  {!item.attachment && !item.error && (
                    <progress max={100} value={percent} aria-label={`Uploading ${name}`} />
                  )}
                </span>
                {item.error && (
                  <button
                    type="button"
                    class="small"
                    aria-label={`Retry ${name}`}
                    onClick={() => uploads.retry(item.key)}
                  >
                    Retry
                  </button>
                )}
                <button
                  type="button"
                  class="icon"
                  aria-label={`Remove ${name}`}
                  title="Remove"
                  onClick={() => uploads.remove(item.key)}
                >
                  ×
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </>
  );
}
