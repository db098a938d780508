import { subjects, type Bus, type Logger, type Subscription } from '@chat/shared';

interface Instance {
  origin: string;
  /** From CHAT_URLS: kept when silent (it may not be on a bus at all), skipped only while announced draining. */
  configured: boolean;
  announced?: { sockets: number; draining: boolean; expiresAt: number };
  /** Sockets this gateway opened to it since its last announcement, which that count does not include yet. */
  openedSinceAnnouncement: number;
  /** Sockets this gateway holds open to it now. */
  open: number;
  /** Upgrades sent to it and not yet answered: counted as sockets, or a burst would all pick one instance. */
  upgrading: number;
  /** Refused a connection: skipped until then, so one dead instance does not eat every retry. */
  downUntil: number;
}

/** How long an instance that refused a connection is passed over. */
const DOWN_FOR_MS = 5_000;

/** Announced origins refused so far that were already logged (each is logged once, up to this many). */
const REFUSALS_LOGGED = 100;

/**
 * Which announced chat origins the gateway may send sockets to besides those in CHAT_URLS (CHAT_URL_ALLOW):
 * `*` for any, else patterns such as `http://chat-*:3003` or `http://10.0.1.*:3003`, where `*` stands for
 * one run of letters, digits and `-` within a host label (or any port). Sockets carry the user's token, so
 * an origin nobody configured is never trusted because something on the bus named it (issue 9, finding 7).
 */
export function originAllowlist(patterns: readonly string[]): (origin: string) => boolean {
  if (patterns.includes('*')) return () => true;
  const expressions = patterns.map((pattern) => {
    const match = /^(https?):\/\/([^/:]+|\[[^\]]+\])(?::(\d+|\*))?\/?$/i.exec(pattern);
    if (!match) throw new Error(`not an origin pattern: ${pattern}`);
    const [, scheme = '', host = '', port] = match;
    const hostExpression = host
      .toLowerCase()
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[a-z0-9-]*');
    const defaultPort = scheme.toLowerCase() === 'https' ? '443' : '80';
    const portExpression =
      port === undefined || port === defaultPort ? '' : port === '*' ? '(?::\\d+)?' : `:${port}`;
    return new RegExp(`^${scheme.toLowerCase()}://${hostExpression}${portExpression}$`);
  });
  return (origin) => expressions.some((expression) => expression.test(origin));
}

/**
 * Which chat-service instance a request or a socket goes to: the one place that choice is made.
 * Instances come from CHAT_URLS and from announcements on `chat.instances`; sockets go to the instance
 * with the fewest (its announced count plus what this gateway sent since, plus upgrades under way), never
 * to one that is draining (or went silent after announcing it), gone silent past its announcement's ttl,
 * or that just refused a connection.
 */
export class ChatUpstreams {
  private readonly instances = new Map<string, Instance>();
  private readonly refusalsLogged = new Set<string>();
  private turn = 0;

  /**
   * `configured` are the instances of CHAT_URLS; `allowAnnounced` says which other origins an announcement
   * may add (default none: announcements then only update the load and draining of configured ones).
   */
  constructor(
    configured: readonly string[],
    private readonly now: () => number = Date.now,
    private readonly allowAnnounced: (origin: string) => boolean = () => false,
  ) {
    for (const origin of configured) this.instances.set(origin, this.blank(origin, true));
  }

  /** Follows instance announcements on the bus until the subscription is stopped. */
  follow(bus: Bus, logger: Logger): Subscription {
    return bus.subscribe(subjects.chatInstances.subject, (message) => {
      const parsed = subjects.chatInstances.schema.safeParse(message.data);
      if (!parsed.success || !URL.canParse(parsed.data.url)) {
        logger.warn('ignored a malformed chat instance announcement');
        return;
      }
      const { url, sockets, draining, ttlMs } = parsed.data;
      const origin = new URL(url).origin;
      const known = this.instances.get(origin);
      if (!known?.configured && !this.allowAnnounced(origin)) {
        if (this.refusalsLogged.size < REFUSALS_LOGGED && !this.refusalsLogged.has(origin)) {
          this.refusalsLogged.add(origin);
          logger.warn(
            'ignored a chat instance announcement: its origin is not in CHAT_URLS or CHAT_URL_ALLOW',
            {
              origin,
            },
          );
        }
        return;
      }
      const instance = known ?? this.blank(origin, false);
      instance.announced = { sockets, draining, expiresAt: this.now() + ttlMs };
      instance.openedSinceAnnouncement = 0;
      this.instances.set(origin, instance);
    });
  }

  /** The instance for the next REST request (round robin over the usable ones), `except` ones already tried. */
  pick(except: ReadonlySet<string> = new Set()): string | undefined {
    const usable = this.usable().filter((instance) => !except.has(instance.origin));
    if (usable.length === 0) return undefined;
    return usable[this.turn++ % usable.length]!.origin;
  }

  /** The least loaded usable instance for a new socket, `except` ones already tried; or undefined. */
  pickForSocket(except: ReadonlySet<string> = new Set()): string | undefined {
    let best: Instance | undefined;
    for (const instance of this.usable()) {
      if (except.has(instance.origin)) continue;
      if (!best || this.load(instance) < this.load(best)) best = instance;
    }
    return best?.origin;
  }

  /** An upgrade went to `origin`; {@link upgradeEnded} must follow once it is answered or abandoned. */
  upgradeStarted(origin: string): void {
    const instance = this.instances.get(origin);
    if (instance) instance.upgrading += 1;
  }

  /** The upgrade to `origin` is over: `opened` when it became a socket, else refused or failed. */
  upgradeEnded(origin: string, opened: boolean): void {
    const instance = this.instances.get(origin);
    if (!instance) return;
    instance.upgrading = Math.max(0, instance.upgrading - 1);
    if (!opened) return;
    instance.open += 1;
    instance.openedSinceAnnouncement += 1;
  }

  socketClosed(origin: string): void {
    const instance = this.instances.get(origin);
    if (instance) instance.open = Math.max(0, instance.open - 1);
  }

  /** An instance refused a connection: pass it over for a few seconds. */
  markDown(origin: string): void {
    const instance = this.instances.get(origin);
    if (instance) instance.downUntil = this.now() + DOWN_FOR_MS;
  }

  /** Every instance that could take requests now or soon, for readiness checks. */
  all(): readonly string[] {
    return this.usable(true).map((instance) => instance.origin);
  }

  private usable(ignoreDown = false): Instance[] {
    const now = this.now();
    const usable: Instance[] = [];
    for (const instance of this.instances.values()) {
      const fresh = instance.announced !== undefined && instance.announced.expiresAt > now;
      if (!instance.configured && !fresh) {
        this.instances.delete(instance.origin);
        continue;
      }
      // Its last word was that it is shutting down: silence after that means gone, also for one from
      // CHAT_URLS, until it announces itself again.
      if (instance.announced?.draining) continue;
      if (!ignoreDown && instance.downUntil > now) continue;
      usable.push(instance);
    }
    return usable;
  }

  private load(instance: Instance): number {
    const fresh = instance.announced !== undefined && instance.announced.expiresAt > this.now();
    const sockets = fresh ? instance.announced!.sockets + instance.openedSinceAnnouncement : instance.open;
    return sockets + instance.upgrading;
  }

  private blank(origin: string, configured: boolean): Instance {
    return { origin, configured, openedSinceAnnouncement: 0, open: 0, upgrading: 0, downUntil: 0 };
  }
}
