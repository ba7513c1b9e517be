using System.Globalization;
using System.Text.RegularExpressions;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// Retargets a PTX module that ILGPU wrote. ILGPU 1.5.3 targets the lowest architecture with the device's capabilities
/// (<c>.target sm_80</c> on an H100 or H200) and knows no architecture-specific target, so a kernel with Hopper's warpgroup
/// instructions (<see cref="Kernels.Wgmma"/>), which assemble only for <c>sm_90a</c> at PTX ISA 8.0 or later, needs its
/// module's <c>.target</c> and <c>.version</c> lines rewritten; the rest of the module is PTX that any later ISA reads.
/// </summary>
internal static partial class PtxTarget
{
    /// <summary>The module targeting <c>sm_90a</c>, at PTX ISA 8.0 where it declared an earlier one.</summary>
    /// <exception cref="InvalidOperationException">The module has no <c>.version</c> or <c>.target</c> line.</exception>
    public static string Hopper(string ptx)
    {
        var version = Version().Match(ptx);
        var target = Target().Match(ptx);
        if (!version.Success || !target.Success)
            throw new InvalidOperationException("A PTX module without a .version or .target line cannot be retargeted.");
        int major = int.Parse(version.Groups["major"].Value, CultureInfo.InvariantCulture);
        string retargeted = Target().Replace(ptx, ".target sm_90a${rest}", 1);
        return major >= 8 ? retargeted : Version().Replace(retargeted, ".version 8.0", 1);
    }

    [GeneratedRegex(@"^\.version\s+(?<major>\d+)\.(?<minor>\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex Version();

    [GeneratedRegex(@"^\.target\s+sm_\d+[a-z]?(?<rest>[^\n]*?)\s*$", RegexOptions.Multiline)]
    private static partial Regex Target();
}
