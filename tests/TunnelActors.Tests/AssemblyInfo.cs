using Xunit;

// Tests run one at a time: the end-to-end and process tests measure real sockets on a 2-core machine, and
// xunit's parallel runner would otherwise starve their continuations behind CPU-bound tests.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
