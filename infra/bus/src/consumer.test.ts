import { describe, expect, it } from 'vitest';
import { nanos } from '@nats-io/transport-node';
import { durableConsumerConfig } from './consumer.js';

describe('durableConsumerConfig', () => {
  it('is a durable, explicit-ack consumer with bounded redelivery and a backoff', () => {
    const config = durableConsumerConfig({
      durable: 'billing',
      filterSubjects: ['pgfleet.events.cluster.>'],
      maxDeliver: 7,
      ackWaitsMs: [1000, 4000],
    });
    expect(config).toMatchObject({
      durable_name: 'billing',
      ack_policy: 'explicit',
      deliver_policy: 'all',
      filter_subject: 'pgfleet.events.cluster.>',
      max_deliver: 7,
      ack_wait: nanos(1000),
      backoff: [nanos(1000), nanos(4000)],
    });
  });

  it('keeps max_deliver above the backoff length (a server rule) and starts at a time when asked', () => {
    const since = new Date('2025-01-02T03:04:05Z');
    const config = durableConsumerConfig({ durable: 'x', maxDeliver: 1, ackWaitsMs: [1, 2, 3], optStartTime: since });
    expect(config.max_deliver).toBe(4);
    expect(config).toMatchObject({
      deliver_policy: 'by_start_time',
      opt_start_time: since.toISOString(),
      filter_subject: 'pgfleet.events.>',
    });
  });
});
