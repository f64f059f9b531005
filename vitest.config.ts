import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // The engine tests spawn native work on every core; running files in parallel
    // on a 2-core machine only makes each slower.
    fileParallelism: false,
    testTimeout: 60_000,
    reporters: ["default"],
  },
});
