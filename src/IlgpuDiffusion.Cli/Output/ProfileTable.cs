using System.Globalization;
using System.Text;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cli.Output;

/// <summary>
/// A <see cref="KernelProfile"/> as a Markdown table per unit of work (a training step, a generation): each op, all ops, and
/// the time outside them.
/// </summary>
internal static class ProfileTable
{
    /// <summary>
    /// The table of <paramref name="profile"/> over <paramref name="count"/> profiled <paramref name="unit"/>s ("step", "run")
    /// on <paramref name="device"/>, saying what the profile <paramref name="leftOut"/> if anything.
    /// </summary>
    public static string Markdown(KernelProfile profile, long count, string device, string unit, string? leftOut)
    {
        var text = new StringBuilder();
        double perUnit = 1.0 / Math.Max(1, count), total = profile.Elapsed.TotalMilliseconds * perUnit;
        string timing = profile.TimedOnDevice
            ? "every op timed on the device, by events on its stream before and after it"
            : "every op between two synchronizations";
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"\nWhere a {unit}'s time goes ({count} {unit}{(count == 1 ? "" : "s")} profiled on {device}; {timing}" +
            $"{(leftOut is null ? "" : $"; {leftOut} left out")}):\n"));
        text.AppendLine($"| op | family | calls/{unit} | ms/{unit} | share |");
        text.AppendLine("|---|---|---:|---:|---:|");
        foreach (KernelProfileEntry entry in profile.Entries)
            Row(text, entry.Op, entry.Family, entry.Calls * perUnit, entry.Time.TotalMilliseconds * perUnit, total);
        double inOps = profile.InOps.TotalMilliseconds * perUnit;
        Row(text, "**all ops**", "", profile.Entries.Sum(e => e.Calls) * perUnit, inOps, total);
        Row(text, profile.TimedOnDevice ? "**outside ops** (copies, waits, the device waiting for the host)"
            : "**outside ops** (host work, copies, waits)", "", null, total - inOps, total);
        Row(text, $"**{unit}**", "", null, total, total);
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"\nHost waits for the device per {unit} (synchronizations and copies to or from the host): " +
            $"{profile.HostWaits * perUnit:0.#}"));
        return text.ToString();
    }

    private static void Row(StringBuilder text, string op, string family, double? calls, double milliseconds, double total) =>
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| {op} | {family} | {(calls is double c ? c.ToString("0.#", CultureInfo.InvariantCulture) : "")} | " +
            $"{milliseconds:0.000} | {100 * milliseconds / Math.Max(total, 1e-9):0.0}% |");
}
