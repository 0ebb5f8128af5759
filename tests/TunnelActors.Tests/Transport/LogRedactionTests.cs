using System.Net;
using Akka.Event;
using TunnelActors.Tests.Support;
using Xunit;
using TunnelActors.Observability;

namespace TunnelActors.Tests.Transport;

public sealed class LogRedactionTests
{
    [Fact]
    public void Redacted_addresses_are_stable_short_hashes_that_keep_the_port()
    {
        var display = new AddressDisplay(redact: true);
        var first = display.Show(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 5000));
        Assert.Matches("^anon-[0-9a-f]{8}:5000$", first);
        Assert.DoesNotContain("192.0.2.7", first);
        Assert.Equal(first, display.Show(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 5000)));
        // An IPv4 peer seen on a dual-stack socket is the same peer.
        Assert.Equal(first, display.Show(new IPEndPoint(IPAddress.Parse("192.0.2.7").MapToIPv6(), 5000)));
        Assert.NotEqual(first, display.Show(new IPEndPoint(IPAddress.Parse("192.0.2.8"), 5000)));
        Assert.Matches("^anon-[0-9a-f]{8}:443$", display.Show(new IPEndPoint(IPAddress.Parse("2001:db8::1"), 443)));
    }

    [Fact]
    public void Another_run_names_the_same_address_differently_so_names_cannot_be_looked_up()
    {
        var peer = new IPEndPoint(IPAddress.Parse("192.0.2.7"), 5000);
        Assert.NotEqual(new AddressDisplay(redact: true).Show(peer), new AddressDisplay(redact: true).Show(peer));
    }

    [Fact]
    public void Without_redaction_addresses_are_shown_plainly()
    {
        var display = new AddressDisplay(redact: false);
        Assert.Equal("192.0.2.7:5000", display.Show(new IPEndPoint(IPAddress.Parse("192.0.2.7").MapToIPv6(), 5000)));
        Assert.Equal("[2001:db8::1]:443", display.Show(new IPEndPoint(IPAddress.Parse("2001:db8::1"), 443)));
    }
}

public sealed class ThrottledLogTests
{
    private readonly ManualTime _time = new();
    private readonly CapturingLog _log = new();

    private ThrottledLog Throttled(bool redact = false) => new(LogLevel.WarningLevel, new AddressDisplay(redact), _time);

    private static IPEndPoint From(string address, int port = 1000) => new(IPAddress.Parse(address), port);

    [Fact]
    public void One_line_per_source_per_minute_then_the_count_of_what_was_left_out()
    {
        var throttled = Throttled();
        for (var i = 0; i < 1000; i++) throttled.Log(_log, From("192.0.2.1", 1000 + i), $"refused {i}");
        throttled.Log(_log, From("192.0.2.2"), "refused other");
        Assert.Equal(["refused 0", "refused other"], _log.Lines);

        _time.Advance(TimeSpan.FromSeconds(59));
        throttled.Log(_log, From("192.0.2.1"), "still within the minute");
        Assert.Equal(2, _log.Lines.Count);

        _time.Advance(TimeSpan.FromSeconds(2));
        throttled.Log(_log, From("192.0.2.1"), "next minute");
        Assert.Equal("next minute (1000 more like it from 192.0.2.1 in the minute before, not logged)", _log.Lines[^1]);
    }

    [Fact]
    public void Thousands_of_sources_give_at_most_a_minutes_allowance_of_lines()
    {
        var throttled = Throttled(redact: true);
        for (var i = 0; i < 10_000; i++)
            throttled.Log(_log, new IPEndPoint(new IPAddress(0x0A000000u + (uint)i), 1), "refused");
        Assert.Equal(ThrottledLog.MaxLinesPerWindow, _log.Lines.Count);

        _time.Advance(ThrottledLog.Window);
        throttled.Log(_log, From("198.51.100.1"), "refused");
        Assert.Equal(ThrottledLog.MaxLinesPerWindow + 1, _log.Lines.Count);
        Assert.Contains($"{10_000 - ThrottledLog.MaxLinesPerWindow} more like it from other sources", _log.Lines[^1]);
    }

    [Fact]
    public void A_redacted_count_names_the_source_by_its_hash()
    {
        var throttled = Throttled(redact: true);
        throttled.Log(_log, From("192.0.2.1"), "a");
        throttled.Log(_log, From("192.0.2.1"), "b");
        _time.Advance(ThrottledLog.Window);
        throttled.Log(_log, From("192.0.2.1"), "c");
        Assert.Matches(@"^c \(1 more like it from anon-[0-9a-f]{8} in the minute before, not logged\)$", _log.Lines[^1]);
    }
}
