// One seeded PRNG for every test, fuzzer and benchmark that needs reproducible randomness: the
// same seed always yields the same sequence, so a failure names an input that replays.

export type Rng = () => number;

/** mulberry32: small, fast, good enough to spread inputs and data (not for anything secret). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
