# syntax=docker/dockerfile:1.7
#
# One image for every lovsync service; the command picks the role:
#   docker build -t lovsync .
#   docker run lovsync                                   # lovsync serve --role all
#   docker run lovsync lovsync serve --role parser       # or sync | differ
#   docker run lovsync lovsync migrate                   # one-shot migration
#
# TypeScript runs through tsx (a production dependency of @lovsync/app), so there is no build step:
# the image is the locked production dependencies plus the sources. (Outside the image `pnpm install`
# also compiles the CLI with esbuild, a devDependency; --prod skips that and the bin falls back to tsx.)

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- deps: production dependencies only, exactly as locked ----------------------------------------
FROM ${NODE_IMAGE} AS deps
ENV PNPM_HOME=/pnpm CI=true
RUN npm install -g pnpm@12.4.2 && npm cache clean --force
WORKDIR /app
# Manifests first: this layer is rebuilt only when dependencies change, not on every source edit.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY apps/lovsync/package.json apps/lovsync/
COPY packages/shared/package.json packages/shared/
COPY services/sync/package.json services/sync/
COPY services/differ/package.json services/differ/
COPY services/parser/package.json services/parser/
COPY services/deliver/package.json services/deliver/
# The root `prepare` script runs this (it exits 0 without esbuild, as here).
COPY apps/lovsync/scripts apps/lovsync/scripts
# Test-only package: its manifest keeps the lockfile whole; --prod installs none of its (dev) dependencies.
COPY packages/testkit/package.json packages/testkit/
# --prod prunes the root devDependencies (vitest, eslint, typescript, playwright...) and every
# package's devDependencies; --frozen-lockfile fails the build if the lockfile is out of date.
RUN --mount=type=cache,id=lovsync-pnpm-store,target=/pnpm/store \
    pnpm install --frozen-lockfile --prod --store-dir /pnpm/store

# ---- runtime ------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# lbzip2: parallel bzip2 decoder (sync decompresses the Lovdata archives ~2.5x faster than bzip2).
# tini: PID 1 that forwards SIGTERM/SIGINT to node and reaps zombies (lbzip2 children).
RUN apt-get update \
 && apt-get install -y --no-install-recommends lbzip2 tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    HTTP_PORT=3000 \
    RAW_DATA_DIR=/data/raw
WORKDIR /app
# Everything under /app belongs to root and is read-only for the service user.
COPY --from=deps /app ./
COPY tsconfig.json ./
COPY packages/shared/src packages/shared/src
COPY packages/shared/drizzle packages/shared/drizzle
COPY apps/lovsync/bin apps/lovsync/bin
COPY apps/lovsync/src apps/lovsync/src
COPY services/sync/src services/sync/src
COPY services/differ/src services/differ/src
COPY services/parser/src services/parser/src
COPY services/deliver/src services/deliver/src
RUN printf '#!/bin/sh\nexec node /app/apps/lovsync/bin/lovsync.js "$@"\n' > /usr/local/bin/lovsync \
 && chmod 0755 /usr/local/bin/lovsync \
 && mkdir -p /data/raw \
 && chown -R node:node /data
# The node user of the official image (uid/gid 1000); Kubernetes manifests set runAsUser 1000.
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "apps/lovsync/bin/lovsync.js", "serve", "--role", "all"]
