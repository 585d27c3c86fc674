# One image for every spoofguard role: `docker run spoofguard <ari|sip|worker|console|serve>`.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary fits
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY services services
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY bin bin
COPY config config
COPY services/console/dashboard services/console/dashboard
# the Lua scripts are read from their files at start
COPY services/screening/lua services/screening/lua
RUN mkdir -p data && chown node:node data
USER node
# the SQLite log and the event spool live here: mount a volume
VOLUME ["/app/data"]
EXPOSE 8080 9464
ENTRYPOINT ["node", "bin/spoofguard.js"]
CMD ["serve"]
