# Build stage: compile the WebAssembly core and the TypeScript.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY asconfig.json tsconfig.json tsconfig.build.json ./
COPY assembly ./assembly
COPY server ./server
COPY client ./client
COPY bench ./bench
COPY test/helpers ./test/helpers
RUN npm ci && npm prune --omit=dev

# Runtime stage: the built service, production dependencies and the default bundle.
FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 MODELS_DIR=/app/models DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY models ./models
VOLUME ["/data"]
EXPOSE 3000
USER node
CMD ["node", "dist/cli/main.js", "serve"]
