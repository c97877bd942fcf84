// Jest's node environment gives each test file its own realm, but onnxruntime-node's native
// addon creates output typed arrays in the host realm, and onnxruntime-common (loaded inside the
// sandbox) then rejects them with "A float32 tensor's data must be type of Float32Array".
// Sharing the host's typed-array constructors makes both sides agree. The default environment of
// every test file (jest.config.js): platform tests run models too.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Uint8Array', 'Uint8ClampedArray', 'Int8Array',
  'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array',
  'BigInt64Array', 'BigUint64Array',
];

class OnnxTestEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) {
      if (globalThis[name]) this.global[name] = globalThis[name];
    }
  }
}

module.exports = OnnxTestEnvironment;
