/**
 * The simulated AWS's time: a VirtualClock, on which a 30-minute rollout takes as long as its
 * computation. It is a core Clock, so the driver runs on it unchanged.
 */
import type { Clock } from "../core/clock";

interface Scheduled {
  readonly at: number;
  /** Tie-break: events due at the same time run in the order they were scheduled. */
  readonly seq: number;
  readonly run: () => void;
  /** A sleeper: after it, let the code it wakes run before the next event. */
  readonly wakesCode: boolean;
}

/**
 * A discrete-event clock. The world schedules events with `at`/`after`; code under test waits
 * with `sleep`. Time only moves when everything that can run has run (every pending promise
 * chain is parked on a sleep): then the earliest event fires, and `now` jumps to its time.
 */
export class VirtualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly queue: Scheduled[] = [];
  private ticking = false;
  /** Work under way outside the queue (an SDK call mid-retry, a Lambda invocation). */
  private busy = 0;
  /** Sleepers in the queue. Time only moves toward one: with nobody waiting, the world rests. */
  private sleepers = 0;
  /** Events run so far: a position in the run finer than time (many steps share an instant). */
  private fired = 0;
  /** What `between` has scheduled, by position. */
  private readonly betweens: { readonly after: number; readonly run: () => void }[] = [];
  private stopped = false;

  constructor(startMs: number) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  /** Runs `run` at virtual time `at` (not before now). */
  at(at: number, run: () => void): void {
    this.schedule(at, run, false);
  }

  after(ms: number, run: () => void): void {
    this.at(this.time + ms, run);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.schedule(this.time + Math.max(0, ms), resolve, true));
  }

  private schedule(at: number, run: () => void, wakesCode: boolean): void {
    if (this.stopped) return;
    push(this.queue, { at: Math.max(at, this.time), seq: this.seq++, run, wakesCode });
    if (wakesCode) this.sleepers++;
    this.wake();
  }

  /**
   * Holds time still until `work` settles: an SDK call waits out its retry back-off on a real
   * timer, and a Lambda handler awaits several calls, all at one virtual instant.
   */
  track<T>(work: Promise<T>): Promise<T> {
    this.busy++;
    const done = () => {
      this.busy--;
      this.wake();
    };
    work.then(done, done);
    return work;
  }

  /** How many events have run: where the run is, as `between` takes it. */
  get events(): number {
    return this.fired;
  }

  /**
   * Runs `run` once `count` events have run, between two turns of the clock, where a signal
   * handler runs (the driver's code and the world's between two events run as one turn, with no
   * other task in between): so that a Ctrl-C recorded at `events` is replayed where it happened.
   */
  between(count: number, run: () => void): void {
    this.betweens.push({ after: count, run });
    this.wake();
  }

  /**
   * Ends the simulation: every event still due is dropped and time stands still from now on, so
   * work left running in the background (a `watch --simulate`'s apply) does not keep the
   * process busy after the command is done. Sleepers are never woken.
   */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.sleepers = 0;
  }

  /** Events still due (for tests and the bench). */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Advances while nothing else can run. setImmediate lets every microtask (resolved promises
   * of the driver and the clients) settle before time moves; world events then run in a batch
   * up to the next sleeper, whose code gets its turn before anything later happens.
   */
  private wake(): void {
    if (this.ticking) return;
    this.ticking = true;
    setImmediate(() => {
      this.ticking = false;
      const due = this.betweens.findIndex((b) => b.after <= this.fired);
      if (due >= 0) {
        // A turn of its own, as a signal handler's: what it sets off runs before the next event.
        this.betweens.splice(due, 1)[0].run();
        this.wake();
        return;
      }
      if (this.busy > 0) return; // woken again when the work settles
      while (this.sleepers > 0) {
        const next = pop(this.queue)!;
        this.time = next.at;
        if (next.wakesCode) this.sleepers--;
        this.fired++;
        next.run();
        if (next.wakesCode || this.busy > 0) break;
      }
      if (this.sleepers > 0) this.wake();
    });
  }
}

// A binary heap on (at, seq): a world of thousands of instances keeps thousands of events due.
function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function push(heap: Scheduled[], item: Scheduled): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(heap[i], heap[parent])) break;
    [heap[i], heap[parent]] = [heap[parent], heap[i]];
    i = parent;
  }
}

function pop(heap: Scheduled[]): Scheduled | undefined {
  if (heap.length === 0) return undefined;
  const top = heap[0];
  const last = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && before(heap[left], heap[least])) least = left;
      if (right < heap.length && before(heap[right], heap[least])) least = right;
      if (least === i) break;
      [heap[i], heap[least]] = [heap[least], heap[i]];
      i = least;
    }
  }
  return top;
}
