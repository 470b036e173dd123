# One Dockerfile, four stages:
#   build         npm ci, type-check, bundle dist/
#   runtime-deps  production node_modules fitted to the model: TF.js only when there is no model.onnx
#   lambda        the AWS Lambda image (serverless.yml builds it with --target lambda)
#   beanstalk     the HTTP server on port 8080; last, so it is what a plain `docker build` (and
#                 Elastic Beanstalk, building from a source bundle) produces
# Layers go from what changes least to what changes most: a code change rebuilds dist/ only, and a
# new model reinstalls nothing. Build arguments:
#   MODEL_DIR  the model folder the images serve, under the build context:
#              `docker build --build-arg MODEL_DIR=models/mine .`
#   TFJS, TFJS_NODE  auto (default), true or false; see scripts/install-runtime-deps.sh
ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json esbuild.config.cjs ./
COPY scripts/build.mjs ./scripts/
COPY lib ./lib
COPY handlers ./handlers
RUN npm run typecheck && npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime-deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY scripts/install-runtime-deps.sh ./scripts/
RUN sh scripts/install-runtime-deps.sh install
ARG MODEL_DIR=models/mobilenet_v2
ARG TFJS=auto
ARG TFJS_NODE=auto
COPY ${MODEL_DIR} ./${MODEL_DIR}
RUN MODEL_DIR="$MODEL_DIR" TFJS="$TFJS" TFJS_NODE="$TFJS_NODE" sh scripts/install-runtime-deps.sh fit

FROM public.ecr.aws/lambda/nodejs:${NODE_VERSION} AS lambda
ARG MODEL_DIR=models/mobilenet_v2
# glibc: allocations of 4 MiB and more (request bodies) get their own mappings, returned to the
# system when freed instead of fragmenting the heap (about 120 MB less peak RSS under load); and two
# malloc arenas instead of one per thread that allocates (the event loop, libuv's pool, libvips,
# the inference workers): with two tfjs-wasm workers 50 to 60 MB less RSS at rest and 70 to 100 MB
# less at peak, 20 MB less with onnx, at the same throughput.
ENV NODE_ENV=production MODEL_DIR=${MODEL_DIR} MALLOC_MMAP_THRESHOLD_=4194304 MALLOC_ARENA_MAX=2
COPY package.json ${LAMBDA_TASK_ROOT}/
COPY ${MODEL_DIR} ${LAMBDA_TASK_ROOT}/${MODEL_DIR}
COPY --from=runtime-deps /app/node_modules ${LAMBDA_TASK_ROOT}/node_modules
COPY --from=build /app/dist ${LAMBDA_TASK_ROOT}/dist
# serverless.yml sets the command per function (dist/predict.handler, dist/health.handler).
CMD ["dist/predict.handler"]

FROM node:${NODE_VERSION}-bookworm-slim AS beanstalk
WORKDIR /app
ARG MODEL_DIR=models/mobilenet_v2
# MALLOC_MMAP_THRESHOLD_, MALLOC_ARENA_MAX: see the lambda stage.
ENV NODE_ENV=production PORT=8080 MODEL_DIR=${MODEL_DIR} MALLOC_MMAP_THRESHOLD_=4194304 MALLOC_ARENA_MAX=2
COPY package.json ./
COPY ${MODEL_DIR} ./${MODEL_DIR}
COPY --from=runtime-deps /app/node_modules ./node_modules
COPY public ./public
COPY --from=build /app/dist ./dist
# uid 1000 is the image's unprivileged "node" user (numeric, so runtimes can verify it is not root).
USER 1000
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/health/ready`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node is PID 1 and handles SIGTERM itself: it drains requests in flight, then exits.
CMD ["node", "--enable-source-maps", "dist/server.mjs"]
