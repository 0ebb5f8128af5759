using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using TunnelActors.Hosting;
using Xunit;

namespace TunnelActors.Tests.Hosting;

/// <summary>
/// Akka's log events reach Serilog on the logging thread, to the very end: a stopping side's last lines (its totals, the
/// sessions the shutdown ended) are logged by the last actors to stop, after which Akka used to stop its logger actor
/// and drop what was still queued for it.
/// </summary>
public sealed class SerilogEventLoggerTests
{
    private sealed class Collect : ILogEventSink
    {
        public ConcurrentQueue<Serilog.Events.LogEvent> Events { get; } = new();

        public void Emit(Serilog.Events.LogEvent logEvent) => Events.Enqueue(logEvent);
    }

    /// <summary>Logs its last words as it stops, the way <c>TunnelSupervisor</c> logs a side's totals.</summary>
    private sealed class LastWords(int count) : UntypedActor
    {
        protected override void OnReceive(object message)
        {
            var log = Context.GetLogger();
            log.Debug("not at INFO");
            log.Warning("a warning about {0} with {1}", "this", 42);
            log.Error(new InvalidOperationException("broken"), "an error");
            Sender.Tell(message);
        }

        protected override void PostStop()
        {
            var log = Context.GetLogger();
            for (var i = 0; i < count; i++) log.Info("last words {0}", i);
        }
    }

    [Fact]
    public async Task What_the_last_actor_logs_as_the_system_terminates_is_all_written_with_its_level_and_values()
    {
        const int count = 5_000;
        var previous = Log.Logger;
        var sink = new Collect();
        Log.Logger = new LoggerConfiguration().MinimumLevel.Debug().WriteTo.Sink(sink).CreateLogger();
        try
        {
            var system = ActorSystem.Create("last-words", SerilogEventLogger.Configuration("INFO"));
            var actor = system.ActorOf(Props.Create(() => new LastWords(count)), "last");
            await actor.Ask<string>("speak", TimeSpan.FromSeconds(10));
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(30));

            var words = sink.Events.Where(e => e.MessageTemplate.Text == "last words {0}").ToList();
            Assert.Equal(Enumerable.Range(0, count).Select(i => $"last words {i}"), words.Select(e => e.RenderMessage()));
            Assert.All(words, e => Assert.Equal(LogEventLevel.Information, e.Level));
            Assert.Equal("\"akka://last-words/user/last\"", words[0].Properties["LogSource"].ToString());

            Assert.DoesNotContain(sink.Events, e => e.MessageTemplate.Text == "not at INFO");
            var warning = Assert.Single(sink.Events, e => e.Level == LogEventLevel.Warning && e.MessageTemplate.Text.StartsWith("a warning"));
            Assert.Equal("a warning about \"this\" with 42", warning.RenderMessage());
            var error = Assert.Single(sink.Events, e => e.Level == LogEventLevel.Error && e.RenderMessage() == "an error");
            Assert.Equal("broken", error.Exception?.Message);
        }
        finally
        {
            Log.Logger = previous;
        }
    }
}
