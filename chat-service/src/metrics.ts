import { processCounter, summedGauge } from '@chat/shared';

/**
 * chat-service's metrics on the process registry (README, "Operations"), served at `/metrics` with the
 * process's own. Defined once per process, so several chat apps in one process (tests) share them.
 */
export const chatMetrics = {
  /** Events queued to sockets: one per socket an event is pushed to (fan-out, presence, notices). */
  deliveries: processCounter(
    'chat_deliveries_total',
    'Events queued to sockets, one per socket an event went to.',
  ),
  /** Messages newly stored (a resend of a stored `clientMsgId` is not counted again). */
  messages: processCounter('chat_messages_total', 'Messages stored.'),
  /**
   * Adds the open sockets of one chat app to `chat_sockets`, read at each scrape; returns the function that
   * takes them away (on stop).
   */
  countSockets: summedGauge('chat_sockets', 'Open authenticated sockets on the chat apps of this process.'),
};
