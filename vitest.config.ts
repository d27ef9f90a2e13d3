import { defineConfig } from 'vitest/config';

// Test files start real redis-servers and service processes; on 2-core machines running
// them one file at a time is what keeps timing-sensitive tests honest.
export default defineConfig({
  test: {
    include: ['services/**/*.test.ts', 'sdk/**/*.test.ts', 'test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
