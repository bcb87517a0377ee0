import t from 'tap';
import { loadConfig, describeConfig, ConfigError } from '../../src/config/load.js';

t.test('bad values fail fast naming each variable', async (t) => {
  const err = t.throws(() => loadConfig({ PORT: 'eighty', KAFKA_ACKS: 'most', MAX_BUFFER_SIZE_MB: '-1' })) as Error;
  t.ok(err instanceof ConfigError);
  t.match(err.message, /PORT/);
  t.match(err.message, /KAFKA_ACKS/);
  t.match(err.message, /MAX_BUFFER_SIZE_MB/);
  t.throws(() => loadConfig({ KAFKA_CONFIG_JSON: '[1]' }), /KAFKA_CONFIG_JSON/);
  t.throws(() => loadConfig({ KAFKA_ACKS: '1' }), /idempot/i, 'acks=1 with idempotence is refused');
  t.throws(() => loadConfig({ AUTH_MODE: 'api_key' }), /API_KEYS_FILE/, 'api_key mode without a keys file is refused');
  t.throws(() => loadConfig({ AUTH_MODE: 'basic' }), /AUTH_MODE/);
  t.equal(loadConfig({}).AUTH_MODE, 'none', 'off by default');
});

t.test('the spec defaults hold when nothing is set', async (t) => {
  const c = loadConfig({});
  t.equal(c.KAFKA_BOOTSTRAP_SERVERS, 'localhost:9092');
  t.equal(c.KAFKA_TOPIC, 'events');
  t.equal(c.DLQ_TOPIC, 'events-dlq');
  t.equal(c.BUFFER_DIR, './data/buffer');
  t.equal(c.MAX_BUFFER_SIZE_MB, 256, 'not the spec\'s 100: a 30-minute outage at 2,000 events/s needs ~162 MB');
  t.equal(c.KAFKA_MAX_RETRIES, 3);
  t.equal(c.KAFKA_COMPRESSION_TYPE, 'gzip');
  t.equal(c.KAFKA_ACKS, 'all');
  t.equal(c.PORT, 8000);
  t.ok(Object.isFrozen(c));
});

t.test('strings are coerced; PM2 instance is picked up; secrets are masked', async (t) => {
  const c = loadConfig({
    PORT: '9001',
    TEST_ENDPOINTS_ENABLED: 'false',
    NODE_APP_INSTANCE: '3',
    KAFKA_CONFIG_JSON: '{"sasl.password":"hunter2","security.protocol":"sasl_ssl"}',
  });
  t.equal(c.PORT, 9001);
  t.equal(c.TEST_ENDPOINTS_ENABLED, false);
  t.equal(c.INSTANCE_ID, '3');
  t.same(describeConfig(c).KAFKA_CONFIG_JSON, { 'sasl.password': '***', 'security.protocol': 'sasl_ssl' });
});

t.test('weak acks (a leader-only write answered 2xx) are refused unless ALLOW_WEAK_ACKS=true', async (t) => {
  for (const acks of ['1', '0']) {
    const err = t.throws(() => loadConfig({ KAFKA_ACKS: acks, KAFKA_IDEMPOTENT: 'false' }), `acks=${acks} refused`) as Error;
    t.match(err.message, /ALLOW_WEAK_ACKS/, 'the message names the way out');
    t.throws(() => loadConfig({ KAFKA_ACKS: acks }), /KAFKA_ACKS/, `acks=${acks} with idempotence refused too`);
    const c = loadConfig({ KAFKA_ACKS: acks, KAFKA_IDEMPOTENT: 'false', ALLOW_WEAK_ACKS: 'true' });
    t.equal(c.KAFKA_ACKS, acks);
    t.equal(c.ALLOW_WEAK_ACKS, true);
  }
  for (const acks of ['all', '-1']) t.equal(loadConfig({ KAFKA_ACKS: acks, KAFKA_IDEMPOTENT: 'false' }).KAFKA_ACKS, acks);
  t.equal(loadConfig({}).ALLOW_WEAK_ACKS, false, 'off by default');
});

t.test('production (NODE_ENV=production) has no test endpoint unless it asks for one', async (t) => {
  t.equal(loadConfig({ NODE_ENV: 'production' }).TEST_ENDPOINTS_ENABLED, false, 'off in production by default');
  t.equal(loadConfig({ NODE_ENV: 'production', TEST_ENDPOINTS_ENABLED: 'true' }).TEST_ENDPOINTS_ENABLED, true, 'on when set');
  t.equal(loadConfig({}).TEST_ENDPOINTS_ENABLED, true, 'on in development');
  t.equal(loadConfig({ NODE_ENV: 'development' }).TEST_ENDPOINTS_ENABLED, true);
});

t.test('the metrics token is never logged', async (t) => {
  t.equal(describeConfig(loadConfig({ METRICS_TOKEN: 's3cret-token' })).METRICS_TOKEN, '***');
  t.equal(describeConfig(loadConfig({})).METRICS_TOKEN, '', 'no token: nothing to mask');
});
