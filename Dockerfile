# Parley gateway image: build every workspace, then keep only what the server needs to run.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY protocol/package.json protocol/
COPY embedded-mongo/package.json embedded-mongo/
COPY embedded-mongo/bin embedded-mongo/bin
COPY realtime-adapter/package.json realtime-adapter/
COPY server/package.json server/
COPY client-sdk/package.json client-sdk/
COPY test/package.json test/
COPY bench/package.json bench/
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY protocol protocol
COPY embedded-mongo embedded-mongo
COPY realtime-adapter realtime-adapter
COPY server server
COPY client-sdk client-sdk
RUN npx tsc -b protocol embedded-mongo realtime-adapter server client-sdk \
 && npm run contract -w @parley/protocol \
 && npm run bundle -w @parley/client-sdk \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# Metrics on their own port, which is not EXPOSEd: publish only PORT.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 METRICS_PORT=9100
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/protocol/package.json protocol/
COPY --from=build /app/protocol/dist protocol/dist
COPY --from=build /app/embedded-mongo/package.json embedded-mongo/
COPY --from=build /app/embedded-mongo/bin embedded-mongo/bin
COPY --from=build /app/embedded-mongo/dist embedded-mongo/dist
COPY --from=build /app/realtime-adapter/package.json realtime-adapter/
COPY --from=build /app/realtime-adapter/dist realtime-adapter/dist
COPY --from=build /app/client-sdk/package.json client-sdk/
COPY --from=build /app/client-sdk/dist client-sdk/dist
COPY --from=build /app/server/package.json server/
COPY --from=build /app/server/dist server/dist
COPY --from=build /app/server/public server/public
USER node
EXPOSE 3000
# Liveness: /healthz answers while the process does. Not /readyz: a Redis or MongoDB outage would
# mark every gateway unhealthy at once (and get them restarted) while they still serve.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
CMD ["node", "server/dist/main.js"]
