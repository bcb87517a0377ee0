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

t.test('credentials in URL-valued settings are masked in the start-up log', async (t) => {
  const c = loadConfig({
    SCHEMA_REGISTRY_URL: 'https://svc:hunter2@registry.example:8081/apis/ccompat/v7',
    KAFKA_CONFIG_JSON: '{"sasl.oauthbearer.token.endpoint.url":"https://client:s3cr3t@idp.example/token","client.rack":"https://rack:s3cr3t@r1/"}',
  });
  const shown = describeConfig(c);
  t.equal(shown.SCHEMA_REGISTRY_URL, 'https://***@registry.example:8081/apis/ccompat/v7');
  t.same(shown.KAFKA_CONFIG_JSON, { 'sasl.oauthbearer.token.endpoint.url': '***', 'client.rack': 'https://***@r1/' }, 'a named secret hidden whole; a URL elsewhere loses its user-info');
  t.notMatch(JSON.stringify(shown), /hunter2|s3cr3t|svc:|client:/, 'no user-info anywhere');
  t.equal(c.SCHEMA_REGISTRY_URL, 'https://svc:hunter2@registry.example:8081/apis/ccompat/v7', 'the setting itself keeps them (basic auth)');
});

t.test('a configuration error does not echo credentials from a URL in the value', async (t) => {
  // V8 quotes the text (its start, when long) in JSON.parse errors: a URL given there is printed at exit.
  const err = t.throws(() => loadConfig({ KAFKA_CONFIG_JSON: 's://u:pw9@idp' })) as Error;
  t.match(err.message, /KAFKA_CONFIG_JSON.*s:\/\/\*\*\*@idp/);
  t.notMatch(err.message, /pw9/);
});

t.test('a compression codec the installed librdkafka cannot write is refused at start, naming what it can', async (t) => {
  const withoutZstd = ['none', 'gzip', 'snappy', 'lz4'];
  const err = t.throws(() => loadConfig({ KAFKA_COMPRESSION_TYPE: 'zstd' }, withoutZstd)) as Error;
  t.ok(err instanceof ConfigError);
  t.match(err.message, /KAFKA_COMPRESSION_TYPE=zstd/);
  t.match(err.message, /gzip, snappy, lz4/, 'names the codecs this build has');
  t.match(err.message, /libzstd-dev/, 'says how to get zstd');
  t.equal(loadConfig({ KAFKA_COMPRESSION_TYPE: 'lz4' }, withoutZstd).KAFKA_COMPRESSION_TYPE, 'lz4');
  t.equal(loadConfig({ KAFKA_COMPRESSION_TYPE: 'zstd' }, [...withoutZstd, 'zstd']).KAFKA_COMPRESSION_TYPE, 'zstd');
});

t.test('secured Kafka settings are checked at start, one clear line each', async (t) => {
  const err = t.throws(() => loadConfig({ KAFKA_SECURITY_PROTOCOL: 'sasl_ssl' })) as Error;
  t.match(err.message, /KAFKA_SASL_MECHANISM/);
  const scram = t.throws(() => loadConfig({ KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_PASSWORD_FILE: '/nonexistent/pw' })) as Error;
  t.match(scram.message, /set KAFKA_SASL_USERNAME/);
  t.match(scram.message, /KAFKA_SASL_PASSWORD_FILE=\/nonexistent\/pw: cannot be read \(ENOENT\)/);
  t.throws(() => loadConfig({ KAFKA_SSL_CA_LOCATION: '/etc/hostname' }), /needs KAFKA_SECURITY_PROTOCOL=ssl or sasl_ssl/);
  t.throws(() => loadConfig({ KAFKA_SECURITY_PROTOCOL: 'ssl', KAFKA_SSL_CERTIFICATE_LOCATION: '/etc/hostname' }), /both KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION/);
  t.throws(() => loadConfig({ KAFKA_SASL_MECHANISM: 'PLAIN' }), /needs KAFKA_SECURITY_PROTOCOL=sasl_ssl/);
  t.throws(() => loadConfig({ KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_MECHANISM: 'OAUTHBEARER' }), /KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL/);
  const ok = loadConfig({ KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: '/etc/hostname' });
  t.equal(ok.KAFKA_SECURITY_PROTOCOL, 'sasl_ssl');
  const described = JSON.stringify(describeConfig(ok));
  t.match(described, /"KAFKA_SASL_PASSWORD_FILE":"\/etc\/hostname"/, 'the path is shown');
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
