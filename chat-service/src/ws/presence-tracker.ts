/** A user's presence changed as everyone sees it: they are now online somewhere, or nowhere. */
export interface PresenceChange {
  userId: string;
  status: 'online' | 'offline';
}

interface InstanceState {
  users: Set<string>;
  lastSeen: number;
  ttlMs: number;
}

/**
 * Who is online, from what every chat instance says it holds. A user is online while at least one live
 * instance holds a socket of theirs; an instance is live while its heartbeats are younger than its TTL
 * (this instance always is). Every method answers the changes it caused, so callers notify exactly on
 * the transitions between online somewhere and online nowhere; an instance taking over a user from
 * another (a reconnect elsewhere) is no change at all.
 */
export class PresenceTracker {
  private readonly instances = new Map<string, InstanceState>();
  private readonly holders = new Map<string, Set<string>>();

  constructor(
    private readonly selfId: string,
    private readonly defaultTtlMs: number,
  ) {}

  isOnline(userId: string): boolean {
    return this.holders.has(userId);
  }

  onlineUserIds(): string[] {
    return [...this.holders.keys()];
  }

  /** The users `instanceId` holds, as last heard. */
  heldBy(instanceId: string): string[] {
    return [...(this.instances.get(instanceId)?.users ?? [])];
  }

  online(instanceId: string, userId: string, now: number): PresenceChange[] {
    const instance = this.touch(instanceId, now);
    return this.add(instance, instanceId, userId);
  }

  offline(instanceId: string, userId: string, now: number): PresenceChange[] {
    const instance = this.touch(instanceId, now);
    return this.remove(instance, instanceId, userId);
  }

  /** `instanceId` holds exactly `userIds` now. */
  heartbeat(instanceId: string, userIds: readonly string[], ttlMs: number, now: number): PresenceChange[] {
    const instance = this.touch(instanceId, now);
    instance.ttlMs = ttlMs;
    const next = new Set(userIds);
    const changes: PresenceChange[] = [];
    for (const userId of [...instance.users])
      if (!next.has(userId)) changes.push(...this.remove(instance, instanceId, userId));
    for (const userId of next) changes.push(...this.add(instance, instanceId, userId));
    return changes;
  }

  /** Forgets every other instance not heard from within its TTL, with its users. */
  expire(now: number): PresenceChange[] {
    const changes: PresenceChange[] = [];
    for (const [instanceId, instance] of this.instances) {
      if (instanceId === this.selfId || now - instance.lastSeen <= instance.ttlMs) continue;
      for (const userId of [...instance.users]) changes.push(...this.remove(instance, instanceId, userId));
      this.instances.delete(instanceId);
    }
    return changes;
  }

  private touch(instanceId: string, now: number): InstanceState {
    let instance = this.instances.get(instanceId);
    if (!instance) {
      instance = { users: new Set(), lastSeen: now, ttlMs: this.defaultTtlMs };
      this.instances.set(instanceId, instance);
    }
    instance.lastSeen = now;
    return instance;
  }

  private add(instance: InstanceState, instanceId: string, userId: string): PresenceChange[] {
    if (instance.users.has(userId)) return [];
    instance.users.add(userId);
    const holders = this.holders.get(userId);
    if (holders) {
      holders.add(instanceId);
      return [];
    }
    this.holders.set(userId, new Set([instanceId]));
    return [{ userId, status: 'online' }];
  }

  private remove(instance: InstanceState, instanceId: string, userId: string): PresenceChange[] {
    if (!instance.users.delete(userId)) return [];
    const holders = this.holders.get(userId);
    holders?.delete(instanceId);
    if (holders && holders.size > 0) return [];
    this.holders.delete(userId);
    return [{ userId, status: 'offline' }];
  }
}
