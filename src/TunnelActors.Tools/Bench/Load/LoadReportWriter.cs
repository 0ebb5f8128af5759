using System.Globalization;
using System.Text.Json;

namespace TunnelActors.Tools.Bench.Load;

/// <summary>
/// A load report as a human summary, or as one JSON line whose field names are those of udpbench's, so that
/// the same scripts read either.
/// </summary>
internal static class LoadReportWriter
{
    public const string Tool = "tunnelactors-bench";

    public static string Summary(LoadReport r)
    {
        var o = r.Options;
        var mode = o.ClosedLoop ? $"closed loop, window {o.Window}" : "datagrams/s, open loop";
        var c = r.Arrivals;
        return string.Create(CultureInfo.InvariantCulture, $"""
            tunnelactors bench load: target {o.Target}, {o.Size} B, {o.Peers} peer(s), rate {r.RateText} ({mode}), {r.MeasuredSeconds:0.00} s measured after {o.Warmup.TotalSeconds:0.#} s warm-up{(r.Interrupted ? ", INTERRUPTED" : "")}
              sent {r.Sent}  received {r.Received}  lost {r.Lost} ({r.LossPercent:0.0000} %)  duplicated {r.Duplicated}  reordered {r.Reordered}  corrupted {r.Corrupted}  misdelivered {r.Misdelivered}
              other: stale {c.Stale}  foreign source {c.ForeignSource}  tx fail {r.TxFail}  window expired {r.WindowExpired}  corrupted short/header/length/crc {c.Short}/{c.BadHeader}/{c.BadLength}/{c.BadChecksum}
              throughput: tx {r.TxPerSecond:0} datagrams/s  rx {r.RxPerSecond:0} datagrams/s  {r.Megabits:0.0} Mbit/s payload
              rtt µs (user-space receive time): p50 {r.RttMicroseconds.P50:0.0}  p90 {r.RttMicroseconds.P90:0.0}  p99 {r.RttMicroseconds.P99:0.0}  p99.9 {r.RttMicroseconds.P999:0.0}  max {r.RttMicroseconds.Max:0.0}  mean {r.RttMicroseconds.Mean:0.0}
            """);
    }

    public static string JsonLine(LoadReport r)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            var o = r.Options;
            json.WriteStartObject();
            json.WriteString("tool", Tool);
            json.WriteString("target", o.Target.ToString());
            json.WriteNumber("size", o.Size);
            json.WriteNumber("peers", o.Peers);
            json.WriteString("rate", r.RateText);
            json.WriteNumber("window", o.Window);
            json.WriteNumber("duration_s", Math.Round(r.MeasuredSeconds, 3));
            json.WriteNumber("warmup_s", Math.Round(o.Warmup.TotalSeconds, 3));
            json.WriteBoolean("interrupted", r.Interrupted);
            json.WriteNumber("sent", r.Sent);
            json.WriteNumber("received", r.Received);
            json.WriteNumber("lost", r.Lost);
            json.WriteNumber("loss_pct", Math.Round(r.LossPercent, 6));
            json.WriteNumber("duplicated", r.Duplicated);
            json.WriteNumber("reordered", r.Reordered);
            json.WriteNumber("corrupted", r.Corrupted);
            json.WriteNumber("misdelivered", r.Misdelivered);
            json.WriteNumber("stale", r.Arrivals.Stale);
            json.WriteNumber("foreign_src", r.Arrivals.ForeignSource);
            json.WriteNumber("tx_fail", r.TxFail);
            json.WriteNumber("window_expired", r.WindowExpired);
            json.WriteNumber("corrupt_short", r.Arrivals.Short);
            json.WriteNumber("corrupt_hdr", r.Arrivals.BadHeader);
            json.WriteNumber("corrupt_len", r.Arrivals.BadLength);
            json.WriteNumber("corrupt_crc", r.Arrivals.BadChecksum);
            json.WriteNumber("sent_all", r.SentAll);
            json.WriteNumber("received_all", r.ReceivedAll);
            json.WriteNumber("tx_pps", Math.Round(r.TxPerSecond, 1));
            json.WriteNumber("rx_pps", Math.Round(r.RxPerSecond, 1));
            json.WriteNumber("mbps", Math.Round(r.Megabits, 3));
            json.WriteString("rtt_stamp", "user");
            json.WriteStartObject("lat_us");
            var l = r.RttMicroseconds;
            json.WriteNumber("p50", Math.Round(l.P50, 2));
            json.WriteNumber("p90", Math.Round(l.P90, 2));
            json.WriteNumber("p99", Math.Round(l.P99, 2));
            json.WriteNumber("p999", Math.Round(l.P999, 2));
            json.WriteNumber("max", Math.Round(l.Max, 2));
            json.WriteNumber("mean", Math.Round(l.Mean, 2));
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
