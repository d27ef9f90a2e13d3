// Preloaded into a measured server process by the capacity benchmark
// (NODE_OPTIONS="--expose-gc --import <this file>"): SIGUSR2 runs a full garbage collection, so
// "RSS per idle connection" can also be read without the garbage the handshakes left behind.
// Plain JavaScript: it is loaded before tsx is.
process.on('SIGUSR2', () => {
  globalThis.gc?.();
});
