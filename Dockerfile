# strangler-proxy: build with dev dependencies, ship without them, run as non-root.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# npm ci runs the prepare script, which compiles src/ to dist/.
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund

# Node 24 is one of the versions CI runs the whole suite on (.ci/run).
FROM node:24-bookworm-slim
LABEL org.opencontainers.image.title="strangler-proxy" \
      org.opencontainers.image.description="A strangler-fig migration proxy: route by route, cohort by cohort, measured and safe." \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production \
    STRANGLER_CONFIG=/etc/strangler-proxy/routes.yaml \
    XDG_STATE_HOME=/var/lib
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY routes.yaml flags.yaml /etc/strangler-proxy/
# The flags backup lives in a directory only the proxy's user can read and write; so does
# the identity key the default routes.yaml creates (identity.token.createKey).
RUN mkdir -p /var/lib/strangler-proxy /etc/strangler-proxy/keys \
 && chown node:node /var/lib/strangler-proxy /etc/strangler-proxy/keys \
 && chmod 700 /var/lib/strangler-proxy /etc/strangler-proxy/keys
USER node
EXPOSE 8080 8081
# The admin port answers /healthz while the process runs.
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.ADMIN_PORT || 8081) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# No init process is needed: Node is PID 1 and installs its own SIGTERM, SIGINT and
# SIGHUP handlers (drain, reload), and its only children are its --workers processes,
# which node:cluster waits for itself; it never starts anything that could leave
# orphans for PID 1 to reap.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["start"]
