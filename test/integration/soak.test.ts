import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RSS_MARGIN, runSoak } from '../../bench/soak.ts';

// The short form of `npm run soak`: the same mix and checks, fewer requests.
test('a short soak: every answer as documented, ready throughout, no tensor leak, RSS within margin', async (t) => {
  const report = await runSoak({ requests: 300, concurrency: 12 });
  t.diagnostic(
    `${report.requests} requests in ${report.seconds.toFixed(1)} s; statuses ${JSON.stringify(report.statuses)}`,
  );
  t.diagnostic(
    `RSS ${report.rssAfterWarmUpMb.toFixed(0)} -> ${report.rssAtEndMb.toFixed(0)} MB; ` +
      `tensors ${report.tensorsAfterWarmUp} -> ${report.tensorsAtEnd}`,
  );
  assert.deepEqual(report.unexpected, []);
  for (const [kind, { sent, asExpected }] of Object.entries(report.byKind)) assert.equal(asExpected, sent, kind);
  assert.ok(Object.keys(report.byKind).length >= 10, 'every kind of request was sent');
  assert.equal(report.healthFailures, 0);
  assert.ok(report.healthChecks > 10);
  assert.equal(typeof report.tensorsAtEnd, 'number');
  assert.equal(report.tensorsAtEnd, report.tensorsAfterWarmUp);
  assert.ok(
    report.rssAtEndMb <= report.rssAfterWarmUpMb * (1 + RSS_MARGIN),
    `${report.rssAtEndMb} vs ${report.rssAfterWarmUpMb}`,
  );
  assert.ok(report.passed);
});
