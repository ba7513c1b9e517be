using System.Globalization;
using System.Text;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cli.Output;

/// <summary>A <see cref="KernelProfile"/> as a Markdown table per training step: each op, all ops, and the time outside them.</summary>
internal static class ProfileTable
{
    /// <summary>
    /// The table of <paramref name="profile"/> over <paramref name="steps"/> profiled steps on <paramref name="device"/>.
    /// </summary>
    public static string Markdown(KernelProfile profile, long steps, string device)
    {
        var text = new StringBuilder();
        double perStep = 1.0 / Math.Max(1, steps), step = profile.Elapsed.TotalMilliseconds * perStep;
        string timing = profile.TimedOnDevice
            ? "every op timed on the device, by events on its stream before and after it"
            : "every op between two synchronizations";
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"\nWhere a step's time goes ({steps} steps profiled on {device}; {timing}; validation and checkpoints left out):\n"));
        text.AppendLine("| op | family | calls/step | ms/step | share |");
        text.AppendLine("|---|---|---:|---:|---:|");
        foreach (KernelProfileEntry entry in profile.Entries)
            Row(text, entry.Op, entry.Family, entry.Calls / (double)Math.Max(1, steps), entry.Time.TotalMilliseconds * perStep, step);
        double inOps = profile.InOps.TotalMilliseconds * perStep;
        Row(text, "**all ops**", "", profile.Entries.Sum(e => e.Calls) / (double)Math.Max(1, steps), inOps, step);
        Row(text, profile.TimedOnDevice ? "**outside ops** (copies, waits, the device waiting for the host)"
            : "**outside ops** (host work, copies, waits)", "", null, step - inOps, step);
        Row(text, "**step**", "", null, step, step);
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"\nHost waits for the device per step (synchronizations and copies to or from the host): " +
            $"{profile.HostWaits / (double)Math.Max(1, steps):0.#}"));
        return text.ToString();
    }

    private static void Row(StringBuilder text, string op, string family, double? calls, double milliseconds, double step) =>
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| {op} | {family} | {(calls is double c ? c.ToString("0.#", CultureInfo.InvariantCulture) : "")} | " +
            $"{milliseconds:0.000} | {100 * milliseconds / Math.Max(step, 1e-9):0.0}% |");
}
