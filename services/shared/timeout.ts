// A promise that rejects when `p` has not settled within `ms`: a Redis call on a request path
// must fail (an error frame, a 503) rather than hold a socket or an upgrade forever.
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
