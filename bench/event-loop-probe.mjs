// Preloaded into a server the bench starts (node --import), never part of the product: measures the
// event loop and the process, and answers the bench over the IPC channel with what happened since
// its previous question of the same kind. Plain JavaScript, because the server under test is the
// bundle in dist/, run by plain node.
import { PerformanceObserver, monitorEventLoopDelay, performance } from 'node:perf_hooks';

// The histogram records whole timer intervals, resolution included: an idle loop reads 1.0x ms at a
// resolution of 1 ms. The lag is what exceeds it.
const RESOLUTION_MS = 1;
const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
histogram.enable();
const lagMs = (nanoseconds) => Math.max(0, nanoseconds / 1e6 - RESOLUTION_MS);

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ['gc'] });
let since = { wall: performance.now(), cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), gcMs };

const answers = {
  'event-loop-lag'() {
    const eventLoopLag = {
      p50Ms: lagMs(histogram.percentile(50)),
      p99Ms: lagMs(histogram.percentile(99)),
      maxMs: lagMs(histogram.max),
      samples: histogram.count,
    };
    histogram.reset();
    return eventLoopLag;
  },
  /** CPU of every thread, the main thread's busy share, and garbage collection. */
  usage() {
    const now = { wall: performance.now(), cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), gcMs };
    const cpu = process.cpuUsage(since.cpu);
    const usage = {
      wallMs: now.wall - since.wall,
      cpuMs: (cpu.user + cpu.system) / 1000,
      eventLoopUtilization: performance.eventLoopUtilization(now.elu, since.elu).utilization,
      gcMs: now.gcMs - since.gcMs,
    };
    since = now;
    return usage;
  },
};

process.on('message', (kind) => {
  if (Object.hasOwn(answers, kind)) process.send?.({ kind, value: answers[kind]() });
});
// The IPC channel must not keep a server alive that has been told to stop.
process.channel?.unref();
