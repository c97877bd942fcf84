// Preloaded (`node -r`) into a split-mode API process under test: loading ONNX Runtime there is a
// bug (DESIGN.md: "The API never imports onnxruntime"), so it fails loudly — at start-up when an
// import chain reaches it, or as the request's error when a lazy path does — instead of passing
// unnoticed because the model ran here rather than on a worker.
const Module = require('node:module');

const load = Module._load;
Module._load = function loadWithoutOnnxRuntime(request, parent, isMain) {
  if (/^onnxruntime-(node|common)(\/|$)/.test(request)) {
    const from = parent && parent.filename ? parent.filename : 'unknown';
    const message = `onnxruntime must not be loaded in an api-mode process (required by ${from})`;
    process.stderr.write(`${message}\n`);
    throw new Error(message);
  }
  return load.apply(this, arguments);
};
