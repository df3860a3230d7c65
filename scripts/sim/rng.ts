/** A seeded random source (mulberry32): the same seed gives the same run. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** `base` give or take `jitter` (a fraction, e.g. 0.2 for +-20%). */
  around(base: number, jitter: number): number {
    return Math.round(base * (1 + jitter * (2 * this.next() - 1)));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  /** A lower-case hex string of `length` digits (ids). */
  hex(length: number): string {
    let out = "";
    while (out.length < length) out += Math.floor(this.next() * 16).toString(16);
    return out;
  }
}
