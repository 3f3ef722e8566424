// Conjunction ids for policy rules. A conjunction id names a rule's `conjunction(id,k/n)` flows, its
// `conj_id=<id>` action flow, the cookie object id of all of them (so a rule's packet counts are read by
// cookie) and the value loaded into reg5/reg6 for tracing. Ids must therefore stay with their rule for as long as
// the rule exists, and an id must not name two rules at once.
//
// Fresh ids are handed out first; released ids are reused only once the fresh range is exhausted, oldest
// release first. That keeps an id from being recycled soon after its rule went away, while flows, counters or a
// packet-in still in flight may carry it (Antrea's agent delays reuse for the same reason).

export type ConjunctionIdErrorCode = 'CONJUNCTION_IDS_EXHAUSTED' | 'INVALID_RANGE';

export class ConjunctionIdError extends Error {
  override readonly name = 'ConjunctionIdError';
  constructor(
    readonly code: ConjunctionIdErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ConjunctionIdAllocatorOptions {
  /** Lowest id handed out (default 1: id 0 would make the cookie look like a whole-category cookie). */
  firstId?: number;
  /** Highest id handed out (default 0xffffffff, the width of `conj_id` and of a cookie's object id). */
  lastId?: number;
}

export class ConjunctionIdAllocator {
  private readonly firstId: number;
  private readonly lastId: number;
  private nextFresh: number;
  private readonly byKey = new Map<string, number>();
  private readonly byId = new Map<number, string>();
  /** Released ids in release order (a FIFO); `releasedHead` indexes its first live entry. */
  private released: number[] = [];
  private releasedHead = 0;

  constructor(options: ConjunctionIdAllocatorOptions = {}) {
    this.firstId = options.firstId ?? 1;
    this.lastId = options.lastId ?? 0xffff_ffff;
    if (
      !Number.isInteger(this.firstId) ||
      !Number.isInteger(this.lastId) ||
      this.firstId < 0 ||
      this.lastId > 0xffff_ffff ||
      this.firstId > this.lastId
    ) {
      throw new ConjunctionIdError(
        'INVALID_RANGE',
        `conjunction id range ${this.firstId}..${this.lastId} is not a non-empty 32-bit range`,
      );
    }
    this.nextFresh = this.firstId;
  }

  /** The id of `key`, allocating one when the key has none. */
  allocate(key: string): number {
    const existing = this.byKey.get(key);
    if (existing !== undefined) return existing;
    const id = this.takeId();
    this.byKey.set(key, id);
    this.byId.set(id, key);
    return id;
  }

  idOf(key: string): number | undefined {
    return this.byKey.get(key);
  }

  keyOf(id: number): string | undefined {
    return this.byId.get(id);
  }

  /** Frees the id of `key`; returns it, or undefined when the key had none. */
  release(key: string): number | undefined {
    const id = this.byKey.get(key);
    if (id === undefined) return undefined;
    this.byKey.delete(key);
    this.byId.delete(id);
    this.released.push(id);
    return id;
  }

  /** Keys that currently hold an id, sorted. */
  keys(): string[] {
    return [...this.byKey.keys()].sort();
  }

  get size(): number {
    return this.byKey.size;
  }

  private takeId(): number {
    if (this.nextFresh <= this.lastId) return this.nextFresh++;
    if (this.releasedHead < this.released.length) {
      const id = this.released[this.releasedHead++] as number;
      // Drop the consumed prefix now and then so the queue does not grow without bound.
      if (this.releasedHead > 1024 && this.releasedHead * 2 > this.released.length) {
        this.released = this.released.slice(this.releasedHead);
        this.releasedHead = 0;
      }
      return id;
    }
    throw new ConjunctionIdError(
      'CONJUNCTION_IDS_EXHAUSTED',
      `all ${this.lastId - this.firstId + 1} conjunction ids are in use`,
    );
  }
}
