using System.Runtime.InteropServices;

namespace TunnelActors.Tools.Bench;

/// <summary>
/// SIGINT and SIGTERM as a cancellation instead of the default termination, so that a bench command can print
/// its totals and exit 0. (System.CommandLine handles neither unless configured to, and does not by default.)
/// </summary>
internal sealed class TerminationSignals : IDisposable
{
    private readonly CancellationTokenSource _signalled;
    private readonly PosixSignalRegistration _interrupt;
    private readonly PosixSignalRegistration _terminate;

    public TerminationSignals(CancellationToken alsoCancelledBy)
    {
        _signalled = CancellationTokenSource.CreateLinkedTokenSource(alsoCancelledBy);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    public CancellationToken Token => _signalled.Token;

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        _ = _signalled.CancelAsync(); // the command winds down on the thread pool, not on the signal handler's thread
    }

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        _signalled.Dispose();
    }
}
