using Akka.Actor;
using Akka.Event;
using Akka.IO;

namespace TunnelActors.Observability;

/// <summary>
/// The side's dead letters, in place of Akka's own listener (<c>akka.log-dead-letters = off</c>). A datagram that
/// reaches an actor that has just stopped (a session that ended while its socket's shard still routed its peer to
/// it) is counted as <see cref="DropReason.Undelivered"/>, like every other datagram the side loses. The first
/// <see cref="LoggedLetters"/> dead letters are logged, as Akka would, but never with a datagram's content (its
/// sender is a peer's address, which <c>tunnel.log.redact-addresses</c> keeps out of the log), and with no
/// message content at all when addresses are redacted. Once the side shuts down (<see cref="SideStopping"/>) they
/// are only counted: messages to actors that stopped before their senders are what a shutdown makes (Akka's
/// <c>log-dead-letters-during-shutdown = off</c>), and logged they read like faults in every stop's log.
/// </summary>
public sealed class DeadLetterCount : ReceiveActor
{
    public const string Name = "dead-letters";

    public const int LoggedLetters = 10;

    /// <summary>The side has begun to shut down.</summary>
    public sealed class SideStopping
    {
        public static readonly SideStopping Instance = new();
        private SideStopping() { }
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TrafficCounters _counters;
    private int _logged;

    public DeadLetterCount(TrafficCounters counters, AddressDisplay addresses)
    {
        _counters = counters;
        Receive<AllDeadLetters>(letter =>
        {
            Count(letter);
            if (letter is SuppressedDeadLetter || _logged >= LoggedLetters) return;
            _logged++;
            var content = letter.Message is Udp.Received || addresses.Redacts ? "" : $" Message content: {letter.Message}";
            _log.Info("Message [{0}] from {1} to {2} was not delivered ({3} of the first {4} logged).{5}",
                letter.Message.GetType().Name, letter.Sender, letter.Recipient, _logged, LoggedLetters, content);
        });
        Receive<SideStopping>(_ => Become(Stopping));
    }

    private void Stopping()
    {
        Receive<AllDeadLetters>(Count);
        Receive<SideStopping>(_ => { });
    }

    private void Count(AllDeadLetters letter)
    {
        if (letter.Message is Udp.Received) _counters.CountDrop(DropReason.Undelivered);
    }

    public static Props Props(TrafficCounters counters, AddressDisplay addresses) =>
        Akka.Actor.Props.Create(() => new DeadLetterCount(counters, addresses));

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(AllDeadLetters));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
