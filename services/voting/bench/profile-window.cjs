// Preloaded (`--require`) into a service process by ingest.bench.ts with BENCH_PROFILE_WINDOW=<dir>:
// the first SIGUSR2 starts the inspector's sampling CPU profiler (main thread), the second writes
// <dir>/<service>-<pid>.cpuprofile. So the profile covers only the bench's batched window.
const { Session } = require('node:inspector');
const { writeFileSync } = require('node:fs');
const { join, basename, dirname } = require('node:path');
const dir = process.env.BENCH_PROFILE_WINDOW;
const name = basename(dirname(dirname(process.argv[1] ?? 'x/x/x')));
let session;
process.on('SIGUSR2', () => {
  if (!session) {
    session = new Session();
    session.connect();
    session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 250 }, () => session.post('Profiler.start')));
    return;
  }
  session.post('Profiler.stop', (err, r) => {
    if (!err) writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(r.profile));
    session.disconnect();
    session = undefined;
  });
});
