# Multi-stage build: node-rdkafka compiles librdkafka in the build stage; the runtime
# stage has only the built app and its production dependencies, and runs as non-root.
FROM node:20-bookworm AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ libssl-dev libsasl2-dev libzstd-dev \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
COPY tsconfig.json ecosystem.config.js ./
COPY src src
COPY workers workers
COPY kafka kafka
COPY schema-registry schema-registry
COPY test test
COPY bench bench
COPY native native
COPY schemas schemas
# npm ci runs the package's install script (build:native): it needs native/ and src/schema/event.ts
# (the C envelope check is generated from it), so the sources are in place first.
# .npmrc points node-gyp at the local Node headers (no header download at build time).
RUN npm ci --no-audit --no-fund
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libssl3 libsasl2-2 libzstd1 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production PORT=8000 BUFFER_DIR=/var/lib/collector/buffer
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
# The native addons (dedup table, batch producer, codec, quota buckets): dist/ finds them at native/*/build/Release.
COPY --from=build /app/native native
# The example payload schemas (SCHEMA_DIR=schemas); mount your own folder over /app/schemas.
COPY --from=build /app/schemas schemas
COPY --from=build /app/package.json /app/ecosystem.config.js ./
RUN mkdir -p /var/lib/collector/buffer && chown -R node:node /var/lib/collector
USER node
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD curl -fsS http://127.0.0.1:8000/api/v1/health || exit 1
# pm2-runtime: the PM2 cluster in the foreground (SIGTERM → SIGINT to each process → drain).
CMD ["node_modules/.bin/pm2-runtime", "start", "ecosystem.config.js"]
