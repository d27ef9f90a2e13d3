# syntax=docker/dockerfile:1
#
# One multi-stage file for the three AuroraChat images; pick one with --target:
#   docker build --target users     -t aurorachat-users .
#   docker build --target chat      -t aurorachat-chat .
#   docker build --target ingestion -t aurorachat-ingestion .
# (images.sh does exactly this.) The build stage compiles TypeScript to dist/ and compiles the
# native modules (better-sqlite3; bcrypt ships prebuilt binaries); the runtime images hold only
# compiled JavaScript, production node_modules and the browser client, and run as `node`.
# The assistant (services/assistant/) has no image of its own: every image holds all of dist/, and
# the ingestion image runs it, in-process by default (ASSISTANT_ENABLED) or as its own process
# with `node dist/services/assistant/main.js` on PORT 9091 (k8s/base/45-assistant.yaml).

# Node 22 LTS (Node 20 reached end of life in April 2026), pinned to a minor release: patch
# releases (security fixes) arrive with a rebuild; for byte-for-byte rebuilds pin a digest
# (node:22.23-bookworm-slim@sha256:…). test/deploy/images.test.ts checks the form.
ARG NODE_IMAGE=node:22.23-bookworm-slim

# ---- build: dev dependencies, tsc, then drop dev dependencies ----------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Toolchain for native modules whose prebuilt binary cannot be downloaded (better-sqlite3).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
# The client SDK (sdk/): the services import its wire definitions (ids, room names, frame types).
COPY sdk ./sdk
COPY services ./services
# tsc to dist/services/<name>/main.js, Lua scripts copied beside their modules.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime: what every service image shares ---------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    LOG_PRETTY=false \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY frontend ./frontend
# frontend/sdk is a link to ../sdk/src: the browser loads the SDK from /sdk/.
COPY sdk/src ./sdk/src
# Code is owned by root and read-only to the app; only .data (the embedded SQLite store, used
# when MONGO_URL is unset) is writable by the `node` user (uid 1000) the services run as.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
# Exec-form CMDs below: node itself is PID 1 (no shell in between), so SIGTERM reaches its
# handler and starts the graceful drain (services/shared/lifecycle.ts). Compose adds
# `init: true` (tini) to reap zombies; Kubernetes sends SIGTERM to PID 1 after preStop.
STOPSIGNAL SIGTERM

# ---- users: REST API, browser client, /config.json (port 4000) ----------------------------
FROM runtime AS users
ENV PORT=4000
# Uploads with FILE_STORAGE=disk (FILES_DIR; docker-compose.yml mounts the `files` volume here):
# a new named volume takes this directory's owner, so `node` can write to it.
USER root
RUN mkdir -p /data/files && chown node:node /data/files
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/services/users/main.js"]

# ---- chat: WebSocket replicas at /ws (port 8080) ------------------------------------------
FROM runtime AS chat
ENV PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/services/chat/main.js"]

# ---- ingestion: stream -> store workers; health and metrics only (port 9090) --------------
# Also the assistant's image (command above, PORT=9091): the health check follows PORT.
FROM runtime AS ingestion
ENV PORT=9090
EXPOSE 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||9090)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/services/ingestion/main.js"]
