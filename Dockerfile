# Build stage: the WebAssembly core, the TypeScript and the client, then the package as npm
# publishes it (npm pack: the `files` of package.json, nothing else).
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Scripts off: `prepare` would build before the sources are here, and the build needs none of
# the dependencies' install scripts (esbuild runs from its platform package).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY asconfig.json tsconfig.json tsconfig.build.json README.md ./
COPY assembly ./assembly
COPY server ./server
COPY client ./client
COPY cli ./cli
COPY bench ./bench
COPY test/helpers ./test/helpers
COPY models ./models
RUN npm run build \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mkdir /pkg && tar -xzf /tmp/churn-intervention-*.tgz -C /pkg --strip-components=1

# Runtime stage: the packed package and its production dependencies only. It runs as the base
# image's `node` user, by number so that Kubernetes' runAsNonRoot can check it; the code is
# root's and read-only to that user, the data directory is the user's.
# test/container.test.ts runs this CMD from the same contents (see the README).
FROM node:24-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 MODELS_DIR=/app/models DATA_DIR=/data \
    API_KEYS_FILE=/run/secrets/api-keys.json
WORKDIR /app
COPY --from=build /pkg ./
COPY package-lock.json ./
# Optional dependencies are off for the @types/* that @trpc/server's optional peers would bring;
# typescript is its and @trpc/client's peer, for types only: nothing loads it at run time.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/typescript \
 && npm cache clean --force
RUN mkdir -p /data && chown 1000:1000 /data
USER 1000:1000
VOLUME ["/data"]
EXPOSE 3000
# Healthy once the bundle has loaded; the server listens at once, so a slow load is not a failure.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/health/ready`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself as PID 1, no npm or shell in between: SIGTERM reaches the server, which drains and exits 0.
# The node flags are npm start's (README, Configuration: the young generation).
CMD ["node", "--max-semi-space-size=32", "dist/cli/main.js", "serve"]
