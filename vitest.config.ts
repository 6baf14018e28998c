import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // In-process test servers would print an access line per request into the test output.
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? "off" },
    // The JSON report lets CI print a plain "N passed, N failed" line.
    reporters: ["default", "json"],
    outputFile: { json: "test-results/vitest.json" },
  },
});
