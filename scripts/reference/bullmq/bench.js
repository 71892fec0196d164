// BullMQ draining jobs, the reference issue 4 quotes ("23,600 no-op jobs/s, about 45 µs of worker
// CPU per job; 14,500 jobs/s with a simulated 20 ms call at concurrency 500"), measured here so
// that wacast's figures can be read against the same machine at the same time.
//
// Usage: REDIS_PORT=port [N=100000] node bench.js noop|sleep20
// Fills a queue with N jobs (not timed), then times one Worker from its start until every job
// completed. Prints `name value unit` lines, as scripts/bench.sh reads them.
'use strict';
const { Queue, Worker } = require('bullmq');

const mode = process.argv[2];
if (mode !== 'noop' && mode !== 'sleep20') {
  console.error('usage: REDIS_PORT=port [N=100000] node bench.js noop|sleep20');
  process.exit(2);
}
const port = Number(process.env.REDIS_PORT);
if (!port) {
  console.error('REDIS_PORT is not set');
  process.exit(2);
}
const N = Number(process.env.N || 100000);
// The settings: concurrency 500 for the 20 ms call; 100 drains no-op jobs fastest.
const concurrency = mode === 'sleep20' ? 500 : 100;
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const processor =
  mode === 'noop' ? async () => {} : () => new Promise((resolve) => setTimeout(resolve, 20));

(async () => {
  const name = `reference-${mode}-${process.pid}`;
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  const opts = { removeOnComplete: true, removeOnFail: true };
  for (let i = 0; i < N; i += 1000) {
    const jobs = [];
    for (let j = i; j < Math.min(N, i + 1000); j++) jobs.push({ name: 'j', data: { i: j }, opts });
    await queue.addBulk(jobs);
  }
  let finished = 0;
  let done;
  const all = new Promise((resolve) => (done = resolve));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const worker = new Worker(name, processor, { connection, concurrency });
  const count = () => {
    if (++finished === N) done();
  };
  worker.on('completed', count);
  worker.on('failed', count);
  await all;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  console.log(`bullmq_${mode}_jobs_per_s ${(N / seconds).toFixed(0)} jobs/s`);
  console.log(
    `bullmq_${mode}_worker_cpu_ms_per_1k_jobs ${((cpu.user + cpu.system) / N).toFixed(1)} ms`,
  );
  await worker.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  process.exit(0);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
