import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@pgfleet/postgres';
import { createHaproxyGateways, type GatewaySpec } from './haproxyProcess.js';

/*
 * Real HAProxy in front of plain TCP "nodes" that greet every connection with their name (so a
 * client knows at once where the gateway sent it, or that it found no server: the gateway closes)
 * and echo what they receive (so a held session proves it is still open).
 */

let home: string;
const gateways = () => createHaproxyGateways({ home });
const servers: Server[] = [];
const sockets = new Set<Socket>();
const NODES = ['a', 'b', 'c'] as const;
const nodePorts = new Map<string, number>();
const nodeServers = new Map<string, Server>();

const listen = async (server: Server, port = 0): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  servers.push(server);
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
};

async function startNode(name: string, port = 0): Promise<number> {
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.write(`${name}\n`);
    s.pipe(s);
  });
  nodeServers.set(name, server);
  return listen(server, port);
}

/** Where a new connection to `port` lands: the node's name, or 'closed' when the gateway found no server. */
function landsOn(port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    let data = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      data += d;
      if (data.includes('\n')) {
        c.destroy();
        resolve(data.trim());
      }
    });
    c.on('close', () => resolve(data.trim() || 'closed'));
    c.on('error', () => resolve('closed'));
  });
}

interface Held {
  /** The node the session reached. */
  node: string;
  /** Settled when the session is cut. */
  cut: Promise<void>;
  /** A round trip to the node: true when it echoed, false when the session was cut instead. */
  alive(): Promise<boolean>;
  end(): void;
}

/** A session held open through the gateway. */
async function hold(port: number): Promise<Held> {
  const c = connect(port, '127.0.0.1');
  c.setEncoding('utf8');
  c.on('error', () => undefined);
  let data = '';
  let closed = false;
  const listeners = new Set<() => void>();
  c.on('data', (d: string) => {
    data += d;
    for (const l of listeners) l();
  });
  const cut = new Promise<void>((resolve) =>
    c.on('close', () => {
      closed = true;
      for (const l of listeners) l();
      resolve();
    }),
  );
  const until = (cond: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!cond()) return;
        listeners.delete(check);
        resolve();
      };
      listeners.add(check);
      check();
    });
  await until(() => data.includes('\n') || closed);
  const node = closed && !data ? 'closed' : data.trim();
  let pings = 0;
  const alive = async () => {
    const token = `ping-${++pings}`;
    if (!closed) c.write(token);
    await until(() => data.includes(token) || closed);
    return data.includes(token);
  };
  return { node, cut, alive, end: () => c.destroy() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

/** Each of `count` new connections to `port`, in order. */
async function spread(port: number, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(await landsOn(port));
  return out;
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'pgfleet-gwha-'));
  for (const n of NODES) nodePorts.set(n, await startNode(n));
});

afterAll(async () => {
  for (const c of ['ha1', 'ha2']) {
    await gateways()
      .remove(c, 'gw1')
      .catch(() => undefined);
  }
  for (const s of sockets) s.destroy();
  await Promise.allSettled(servers.map((s) => new Promise((r) => s.close(r))));
  await rm(home, { recursive: true, force: true });
});

async function specFor(clusterId: string, over: Partial<GatewaySpec> = {}): Promise<GatewaySpec> {
  return {
    clusterId,
    gatewayId: 'gw1',
    binds: [{ host: '127.0.0.1', port: await freePort() }],
    nodes: NODES.map((nodeId) => ({ nodeId, host: '127.0.0.1', port: nodePorts.get(nodeId)! })),
    leaderNodeId: 'a',
    readOnly: { binds: [{ host: '127.0.0.1', port: await freePort() }], nodeIds: ['b', 'c'] },
    check: { intervalMs: 500, fall: 2, rise: 1 },
    ...over,
  };
}

describe('the read-only endpoint and the routes switched at runtime (real HAProxy)', () => {
  let spec: GatewaySpec;
  const rw = () => spec.binds[0]!.port;
  const ro = () => spec.readOnly!.binds[0]!.port;

  it('serves the followers round robin on its own port; the write port reaches the leader only', async () => {
    spec = await specFor('ha1');
    expect((await gateways().start(spec)).action).toBe('started');
    expect(await spread(rw(), 4)).toEqual(['a', 'a', 'a', 'a']);
    const reads = await spread(ro(), 6);
    expect(new Set(reads)).toEqual(new Set(['b', 'c']));
    // Round robin: never the same follower twice in a row.
    for (let i = 1; i < reads.length; i++) expect(reads[i]).not.toBe(reads[i - 1]);
  });

  it(
    'fencing the leader with nobody promoted yet: its sessions are cut, new sessions find no writable ' +
      'server, reads carry on',
    async () => {
      const api = gateways().runtimeApi('ha1', 'gw1');
      const onLeader = await hold(rw());
      const onFollower = await hold(ro());
      expect(onLeader.node).toBe('a');
      const { commands } = await api.route({ readOnly: ['b', 'c'] });
      expect(commands).toEqual(['set server be_pg/a state maint', 'shutdown sessions server be_pg/a']);
      await onLeader.cut;
      expect(await landsOn(rw())).toBe('closed');
      expect(await onFollower.alive()).toBe(true);
      expect(['b', 'c']).toContain(await landsOn(ro()));
      onFollower.end();
      // Applying the same routes again sends nothing.
      expect((await api.route({ readOnly: ['b', 'c'] })).commands).toEqual([]);
    },
  );

  it(
    'the new leader b leaves the read-only endpoint (its read sessions cut) ' + 'and takes the writes; a stays out',
    async () => {
      const api = gateways().runtimeApi('ha1', 'gw1');
      const reads = [await hold(ro()), await hold(ro())];
      const onB = reads.find((r) => r.node === 'b')!;
      const onC = reads.find((r) => r.node === 'c')!;
      await api.route({ leader: 'b', readOnly: ['c'] });
      await onB.cut;
      expect(await onC.alive()).toBe(true);
      expect(await spread(rw(), 3)).toEqual(['b', 'b', 'b']);
      expect(await spread(ro(), 3)).toEqual(['c', 'c', 'c']);
      onC.end();
    },
  );

  it('a reload to the config of these routes keeps them: the fenced a is enabled nowhere', async () => {
    spec = { ...spec, leaderNodeId: 'b', readOnly: { ...spec.readOnly!, nodeIds: ['c'] } };
    expect((await gateways().start(spec)).action).toBe('reloaded');
    const api = gateways().runtimeApi('ha1', 'gw1');
    expect((await api.route({ leader: 'b', readOnly: ['c'] })).commands).toEqual([]);
    const ready = (await api.allServersState())
      .filter((s) => s.admin === 'ready')
      .map((s) => `${s.backend}/${s.server}`);
    expect(ready.sort()).toEqual(['be_pg/b', 'be_ro/c']);
    expect(await spread(rw(), 2)).toEqual(['b', 'b']);
    expect(await spread(ro(), 2)).toEqual(['c', 'c']);
  });

  it(
    'statesAtRuntime: a config that only enables other servers is switched on the running process, without a ' +
      'reload (a structural change still reloads: below)',
    async () => {
      const before = await gateways().status('ha1', 'gw1');
      const onB = await hold(rw());
      const onC = await hold(ro());
      expect([onB.node, onC.node]).toEqual(['b', 'c']);
      // A switchover to c: b serves reads, c takes writes.
      spec = { ...spec, leaderNodeId: 'c', readOnly: { ...spec.readOnly!, nodeIds: ['a', 'b'] } };
      expect(await gateways().start(spec, { statesAtRuntime: true })).toEqual({ pid: before.pid, action: 'rerouted' });
      await onB.cut;
      await onC.cut;
      expect(await gateways().status('ha1', 'gw1')).toMatchObject({ pid: before.pid, drainingPids: [] });
      expect(await spread(rw(), 2)).toEqual(['c', 'c']);
      expect(new Set(await spread(ro(), 4))).toEqual(new Set(['a', 'b']));
      // The written config is the one served: starting it again changes nothing, a restart starts right.
      expect((await gateways().start(spec, { statesAtRuntime: true })).action).toBe('unchanged');
      await gateways().kill9('ha1', 'gw1');
      expect((await gateways().start(spec, { statesAtRuntime: true })).action).toBe('started');
      expect(await spread(rw(), 2)).toEqual(['c', 'c']);
      expect(new Set(await spread(ro(), 4))).toEqual(new Set(['a', 'b']));
      // Back to leader b, reads on c (a fenced): switched at runtime again.
      spec = { ...spec, leaderNodeId: 'b', readOnly: { ...spec.readOnly!, nodeIds: ['c'] } };
      expect((await gateways().start(spec, { statesAtRuntime: true })).action).toBe('rerouted');
      expect(await spread(rw(), 2)).toEqual(['b', 'b']);
      expect(await spread(ro(), 2)).toEqual(['c', 'c']);
    },
  );

  it(
    'stopDraining cuts the sessions a process replaced by a reload still serves; ' + 'the serving one is kept',
    async () => {
      const old = await hold(rw());
      expect(old.node).toBe('b');
      const before = await gateways().status('ha1', 'gw1');
      spec = { ...spec, hardStopAfterMs: 3_600_000 }; // a structural change: a seamless reload, even so
      expect((await gateways().start(spec, { statesAtRuntime: true })).action).toBe('reloaded');
      const reloaded = await gateways().status('ha1', 'gw1');
      expect(reloaded.drainingPids).toEqual([before.pid]);
      expect(await old.alive()).toBe(true); // the replaced process still serves it
      expect(await gateways().stopDraining('ha1', 'gw1')).toEqual([before.pid]);
      await old.cut;
      expect(await gateways().status('ha1', 'gw1')).toMatchObject({
        state: 'running',
        pid: reloaded.pid,
        drainingPids: [],
      });
      expect(await landsOn(rw())).toBe('b');
      expect(await gateways().stopDraining('ha1', 'gw1')).toEqual([]);
    },
  );

  it(
    'a follower that stops answering: new reads land on the other one at once, ' + 'before its check marks it down',
    async () => {
      await gateways()
        .runtimeApi('ha1', 'gw1')
        .route({ leader: 'b', readOnly: ['a', 'c'] });
      expect(new Set(await spread(ro(), 4))).toEqual(new Set(['a', 'c']));
      await new Promise((r) => nodeServers.get('c')!.close(r)); // c refuses connections from now on
      expect(await spread(ro(), 6)).toEqual(['a', 'a', 'a', 'a', 'a', 'a']);
      await startNode('c', nodePorts.get('c'));
      await waitFor(async () => (await spread(ro(), 2)).includes('c'));
    },
  );
});

describe('HAProxy asks the HA agent about every server (real HAProxy, a tiny TCP agent)', () => {
  let spec: GatewaySpec;
  let agent: Server;
  let agentPort: number;
  /** Questions received, and the answer per question (`up` unless set; `silent`: no answer at all). */
  const asked = new Set<string>();
  const answers = new Map<string, string>();
  const rw = () => spec.binds[0]!.port;
  const ro = () => spec.readOnly!.binds[0]!.port;

  const startAgent = async (port = 0) => {
    agent = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
      let line = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        line += d;
        if (!line.includes('\n')) return;
        const question = line.split('\n')[0]!;
        asked.add(question);
        const answer = answers.get(question) ?? 'up';
        if (answer !== 'silent') s.end(`${answer}\n`);
      });
    });
    return listen(agent, port);
  };

  /** The agent stops listening (connections refused) and drops the questions it had not answered. */
  const stopAgent = async () => {
    const closed = new Promise((r) => agent.close(r));
    for (const s of sockets) if (s.localPort === agentPort) s.destroy();
    await closed;
  };

  /** HAProxy's last agent check status of one server (`show stat`: L7OK, L7STS, L4CON, L7TOUT...). */
  const agentStatus = async (backend: string, server: string): Promise<string> => {
    const text = await gateways().runtimeApi('ha2', 'gw1').command('show stat');
    const [header, ...rows] = text.split('\n');
    const cols = header!.replace(/^# /, '').split(',');
    const row = rows.map((r) => r.split(',')).find((f) => f[0] === backend && f[1] === server);
    return (row?.[cols.indexOf('agent_status')] ?? '').replace(/^\* /, '');
  };

  it(
    'asks `{clusterId} {nodeId} rw` on the write backend and `... ro` on the read-only one, ' + 'for every server',
    async () => {
      agentPort = await startAgent();
      spec = await specFor('ha2', { agent: { host: '127.0.0.1', port: agentPort } });
      await gateways().start(spec);
      const all = NODES.flatMap((n) => [`ha2 ${n} rw`, `ha2 ${n} ro`]);
      await waitFor(() => all.every((q) => asked.has(q)));
      expect([...asked].filter((q) => !all.includes(q))).toEqual([]);
      expect(await spread(rw(), 2)).toEqual(['a', 'a']);
    },
  );

  it(
    'the agent answering down for the leader takes it out of rotation within about a second and shuts its ' +
      'sessions; up brings it back',
    async () => {
      const held = await hold(rw());
      expect(held.node).toBe('a');
      const t0 = Date.now();
      answers.set('ha2 a rw', 'down');
      await held.cut;
      const cutAfter = Date.now() - t0;
      expect(await landsOn(rw())).toBe('closed');
      expect(await agentStatus('be_pg', 'a')).toBe('L7STS');
      // The read-only endpoint asks its own question: the followers still serve reads.
      expect(new Set(await spread(ro(), 4))).toEqual(new Set(['b', 'c']));
      console.log(`agent "down" for the leader: its session cut after ${cutAfter} ms`);

      const t1 = Date.now();
      answers.set('ha2 a rw', 'up');
      await waitFor(async () => (await landsOn(rw())) === 'a');
      console.log(`agent "up" again: the leader takes new sessions after ${Date.now() - t1} ms`);
    },
  );

  it('an agent that answers nothing, or cannot be reached, changes nothing', async () => {
    for (const n of NODES) for (const mode of ['rw', 'ro']) answers.set(`ha2 ${n} ${mode}`, 'silent');
    await waitFor(async () => (await agentStatus('be_pg', 'a')) === 'L7TOUT');
    expect(await spread(rw(), 2)).toEqual(['a', 'a']);
    expect(new Set(await spread(ro(), 4))).toEqual(new Set(['b', 'c']));

    const held = await hold(rw());
    await stopAgent();
    await waitFor(async () => (await agentStatus('be_pg', 'a')) === 'L4CON');
    expect(await held.alive()).toBe(true);
    expect(await spread(rw(), 2)).toEqual(['a', 'a']);
    expect(new Set(await spread(ro(), 4))).toEqual(new Set(['b', 'c']));
    held.end();
  });

  it('an agent that answered down and then cannot be reached leaves the server down (only "up" lifts it)', async () => {
    answers.clear();
    answers.set('ha2 a rw', 'down');
    await startAgent(agentPort);
    await waitFor(async () => (await landsOn(rw())) === 'closed');
    await stopAgent();
    await waitFor(async () => (await agentStatus('be_pg', 'a')) === 'L4CON');
    expect(await landsOn(rw())).toBe('closed');
    answers.set('ha2 a rw', 'up');
    await startAgent(agentPort);
    await waitFor(async () => (await landsOn(rw())) === 'a');
  });

  it('routing writes to a server its agent last called down (a promoted standby) lifts it at once', async () => {
    answers.set('ha2 b rw', 'down');
    await waitFor(async () => (await agentStatus('be_pg', 'b')) === 'L7STS');
    // No further agent answer can lift it: only the route's own `agent up` can.
    await stopAgent();
    await waitFor(async () => (await agentStatus('be_pg', 'b')) === 'L4CON');
    const { commands } = await gateways()
      .runtimeApi('ha2', 'gw1')
      .route({ leader: 'b', readOnly: ['c'] });
    expect(commands).toContain('set server be_pg/b agent up');
    await waitFor(async () => (await landsOn(rw())) === 'b');
  });
});
