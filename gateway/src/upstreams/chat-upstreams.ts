/**
 * Which chat-service instance a request goes to: the one place that choice is made. Today the
 * configured list (CHAT_URLS) and its first entry; balancing and instances announced over the bus
 * change this class, not its callers.
 */
export class ChatUpstreams {
  constructor(private readonly origins: readonly string[]) {}

  /** The instance for the next REST request, or undefined when no chat instance is known. */
  pick(): string | undefined {
    return this.origins[0];
  }

  /** Every known instance, for readiness checks. */
  all(): readonly string[] {
    return this.origins;
  }
}
