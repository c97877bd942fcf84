import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('defaults to all-in-one on port 4000 with the embedded realm and database', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ mode: 'all-in-one', port: 4000, keycloakRealm: 'alliance', keycloakAudience: 'alliance-api' });
    expect(c.databaseUrl).toBeUndefined();
    expect(c.keycloakUrl).toBeUndefined();
  });

  it('reports every bad value at once, naming the variable and what it accepts', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', KEYCLOAK_URL: 'not a url', NODE_ENV: 'staging', BLOB_MAX_BYTES: '-1' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = error!.problems.join('\n');
    expect(text).toMatch(/PORT="eighty": expected an integer/);
    expect(text).toMatch(/DATABASE_URL="mysql:\/\/x": expected a URL starting with postgres:\/\//);
    expect(text).toMatch(/KEYCLOAK_URL="not a url"/);
    expect(text).toMatch(/NODE_ENV="staging": expected one of development, production, test/);
    expect(text).toMatch(/BLOB_MAX_BYTES/);
  });

  it('ONNX Runtime threads do not spin unless asked to; the switch is validated', () => {
    expect(loadConfig({}).inference.intraOpSpinning).toBe(false);
    expect(loadConfig({ ONNX_INTRA_OP_SPINNING: 'true' }).inference.intraOpSpinning).toBe(true);
    expect(() => loadConfig({ ONNX_INTRA_OP_SPINNING: 'yes' })).toThrow(/ONNX_INTRA_OP_SPINNING="yes": expected one of true, false/);
  });

  it('split mode requires an external database and Keycloak', () => {
    expect(() => loadConfig({}, 'api')).toThrow(/MODE=api needs DATABASE_URL[\s\S]*MODE=api needs KEYCLOAK_URL/);
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/db', KEYCLOAK_URL: 'http://kc:8080/' }, 'worker')).toMatchObject({
      mode: 'worker', keycloakUrl: 'http://kc:8080',
    });
  });

  it('split inference: loopback on a free port by default; listen addresses and secrets are validated', () => {
    expect(loadConfig({}).inference.split).toMatchObject({ listenHost: '127.0.0.1', listenPort: 0, forwardTimeoutMs: 60_000 });
    expect(loadConfig({}).inference.split.secret).toBeUndefined();
    expect(loadConfig({ INFERENCE_LISTEN: '0.0.0.0:7070' }).inference.split).toMatchObject({ listenHost: '0.0.0.0', listenPort: 7070 });
    expect(loadConfig({ INFERENCE_LISTEN: '[::1]:7070' }).inference.split).toMatchObject({ listenHost: '::1', listenPort: 7070 });
    expect(loadConfig({ INFERENCE_LISTEN: 'worker-3.internal:7070', INFERENCE_ADVERTISE_URL: 'http://worker-3.internal:7070/' }).inference.split)
      .toMatchObject({ listenHost: 'worker-3.internal', listenPort: 7070, advertiseUrl: 'http://worker-3.internal:7070' });
    let error: ConfigError | undefined;
    try {
      loadConfig({ INFERENCE_LISTEN: '7070', INFERENCE_SECRET: 'short' });
    } catch (err) {
      error = err as ConfigError;
    }
    const text = error!.problems.join('\n');
    expect(text).toMatch(/INFERENCE_LISTEN="7070": expected host:port/);
    expect(text).toMatch(/INFERENCE_SECRET: expected at least 16 characters/);
    expect(text).not.toMatch(/short/);
  });
});
