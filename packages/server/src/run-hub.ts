// Live run channels: every event of a run this server drives is numbered and kept until the run
// ends (and a while after), so a stream that connects late, or reconnects with Last-Event-ID,
// sees every event exactly once and in order — nothing is lost between start and subscribe.
import type { RunEvent } from '@aifactory/execution';

/** A run event with its position in the channel (the SSE id). */
export interface NumberedEvent {
  id: number;
  event: RunEvent;
}

/** Where a live run is. */
export type ChannelState = 'running' | 'held' | 'completed' | 'failed';

type Subscriber = (numbered: NumberedEvent) => void;

/** One run's events as this server saw them. */
export class RunChannel {
  readonly runId: string;
  readonly events: NumberedEvent[] = [];
  state: ChannelState = 'running';
  readonly #subscribers = new Set<Subscriber>();
  readonly #onPush: ((event: RunEvent) => void) | undefined;

  constructor(runId: string, onPush?: (event: RunEvent) => void) {
    this.runId = runId;
    this.#onPush = onPush;
  }

  /** Appends an event and hands it to every subscriber. */
  push(event: RunEvent): void {
    const numbered = { id: this.events.length + 1, event };
    this.events.push(numbered);
    if (event.type === 'run.held') this.state = 'held';
    else if (event.type === 'run.completed') this.state = 'completed';
    else if (event.type === 'run.failed') this.state = 'failed';
    else if (event.type === 'approval.applied') this.state = 'running';
    for (const subscriber of this.#subscribers) subscriber(numbered);
    this.#onPush?.(event);
  }

  /** Replays events after `afterId`, then follows live ones (those after `afterId` too: a channel fed from the store may not have reached it yet) until unsubscribed. */
  subscribe(afterId: number, subscriber: Subscriber): () => void {
    for (const numbered of this.events.slice(Math.max(0, afterId))) subscriber(numbered);
    const live: Subscriber = (numbered) => {
      if (numbered.id > afterId) subscriber(numbered);
    };
    this.#subscribers.add(live);
    return () => this.#subscribers.delete(live);
  }

  /** How many streams read this channel now. */
  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** Whether the run has ended. */
  get ended(): boolean {
    return this.state === 'completed' || this.state === 'failed';
  }
}

/** Channels of the runs this process drives; ended ones are dropped after `retainMs`. */
export class RunHub {
  readonly #channels = new Map<string, RunChannel>();
  readonly #retainMs: number;
  readonly #watchers = new Set<(event: RunEvent) => void>();

  constructor(options: { retainMs?: number } = {}) {
    this.#retainMs = options.retainMs ?? 5 * 60_000;
  }

  /** The channel of `runId`, created on first use. */
  open(runId: string): RunChannel {
    let channel = this.#channels.get(runId);
    if (!channel) {
      channel = new RunChannel(runId, (event) => {
        for (const watcher of this.#watchers) watcher(event);
      });
      this.#channels.set(runId, channel);
    }
    return channel;
  }

  /** Follows every event of every run this process drives (the approvals stream listens for holds and votes); returns the unsubscribe. */
  watch(watcher: (event: RunEvent) => void): () => void {
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  /** The channel of a run this process has seen, if any. */
  get(runId: string): RunChannel | undefined {
    return this.#channels.get(runId);
  }

  /** Called when a run's drive settles: ended channels are kept for late readers, then dropped. */
  settle(channel: RunChannel): void {
    if (!channel.ended) return;
    const timer = setTimeout(() => {
      if (this.#channels.get(channel.runId) === channel) this.#channels.delete(channel.runId);
    }, this.#retainMs);
    timer.unref();
  }

  /** Forgets a channel. */
  remove(runId: string): void {
    this.#channels.delete(runId);
  }

  /** How many channels are kept (memory checks in load tests). */
  get size(): number {
    return this.#channels.size;
  }

  /** Drops every channel (shutdown). */
  clear(): void {
    this.#channels.clear();
  }
}
