import { startPlatform, sleep } from './harness.js';
const t = await startPlatform();
try {
  await sleep(4000);
  console.log('services', t.platform.services());
  console.log(t.logs.join('\n'));
  const r = await t.cli('cluster', 'create', 'smk', '--plan', 'starter-512');
  console.log('create', r.code, r.stderr.slice(-300));
  const { connect } = await import('@nats-io/transport-node');
  const { sendCommand } = await import('@pgfleet/bus');
  const nc = await connect({ servers: t.platform.natsUrl });
  const show = JSON.parse((await t.cli('cluster', 'show', 'smk', '--json')).stdout);
  const rep = await sendCommand(nc, 'backup', 'RequestBackup', { clusterId: show.clusterId });
  console.log('reply', rep);
  await sleep(3000);
  const pg = (await import('pg')).default;
  const c = new pg.Client({ connectionString: t.platform.eventstoreUrl }); await c.connect();
  console.log((await c.query("select type, data from pgfleet_eventstore.events where stream_id like 'backups-%' order by 1")).rows);
  await c.end(); await nc.close();
  console.log(t.logs.join('\n'));
} finally { await t.cleanup(); }
